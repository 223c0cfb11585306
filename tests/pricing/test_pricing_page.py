"""The public /pricing page: the catalog's tables, plans, and the estimator (with and without htmx)."""

import pytest

pytestmark = pytest.mark.django_db


def test_a_logged_out_visitor_sees_every_table_with_credits_and_usd(client):
    response = client.get("/pricing")
    assert response.status_code == 200
    html = response.content.decode()
    for text in ("document.markdown", "healthcare.*", "per started 5-minute segment", "+2",
                 "0.0000872083", "0.00872083", "0.0059890856", "0.0299264", "USD 0.05",
                 "Custom fine-tuned models", "Example rates", "Examples", "Log in", "Sign up"):
        assert text in html, text
    # Plans come from billing.Plan, with the seeds' descriptive rows.
    for text in ("Starter", "Pro", "Enterprise", "USD 799 / month", "Up to 5", "SOC2, HIPAA, BAA", "In-VPC available"):
        assert text in html, text
    assert "creditback" not in html.lower()  # non-public plans stay off the page
    # Amounts read as every page shows them: 2 decimals, with the unit.
    assert 'USD 0.05 <span class="muted">· 5.23 credits</span>' in html and "5.232498" not in html


def test_the_estimator_works_without_javascript(client):
    html = client.get("/pricing", {"product": "document.invoice", "tier": "hi", "grounding": "on",
                                   "unit": "pages", "quantity": "1"}).content.decode()
    assert "document:grounding" in html
    assert "<strong data-estimate-total>6.00 credits</strong>" in html
    assert "<strong data-estimate-usd>USD 0.06</strong>" in html


def test_the_estimator_answers_htmx_with_only_the_breakdown(client):
    response = client.get("/pricing", {"product": "llm.llama-3-8b", "unit": "inference_seconds",
                                       "quantity": "600", "instance": "micro"}, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert "<html" not in html
    assert "5.23 credits" in html and "llm:micro" in html and "600 seconds" in html
    assert "HX-Request" in response["Vary"]


def _estimate(client, **params):
    return client.get("/pricing", params, HTTP_HX_REQUEST="true").content.decode()


@pytest.mark.parametrize("params, sentence", [
    ({"product": "document.markdown", "grounding": "on", "unit": "pages", "quantity": "1"},
     "Markdown extraction has no grounding option. Untick the grounding add-on."),
    ({"product": "document.x", "unit": "pages", "quantity": "1.5"},
     "Pages are counted whole: enter a whole number, for example 3."),
    ({"product": "nobody.knows", "unit": "pages", "quantity": "1"},
     "There is no price for nobody.knows. Pick a product from the list, or choose GPU seconds"),
    ({"product": "llm.llama-3-8b", "unit": "pages", "quantity": "2"},
     "llm.llama-3-8b is billed in inference seconds, not in pages: choose that unit."),
    ({"product": "someone/model", "unit": "gpu_seconds", "quantity": "60", "machine": "abacus"},
     "Choose a machine for GPU seconds from the list."),
    ({"product": "document.x", "unit": "pages", "quantity": "lots"},
     "Enter the number of pages as digits, for example 12."),
    ({"product": "", "unit": "pages", "quantity": "1"}, "Enter a product, for example document.invoice."),
    ({"product": "audio.call", "unit": "audio_seconds", "quantity": ""}, "Enter how many seconds of audio to price."),
])
def test_the_estimator_says_what_cannot_be_priced_in_the_forms_words(client, params, sentence):
    html = _estimate(client, **params)
    assert sentence in html
    # Not the API's field names and hints, which mean nothing on a form.
    for jargon in ("send grounding", "(grounding)", "quantity.", "param", "unknown_product", "{"):
        assert jargon not in html, jargon


def test_the_estimator_prints_amounts_as_the_pages_do(client):
    html = _estimate(client, product="document.invoice", tier="hi", unit="pages", quantity="1,234")
    assert "1,234 pages" in html and "4 credits / page" in html
    assert "<strong data-estimate-total>4,936.00 credits</strong>" in html
    assert "<strong data-estimate-usd>USD 49.36</strong>" in html
    assert "4936.000000" not in html and "$" not in html


def test_an_estimate_at_an_example_rate_says_so(client):
    html = _estimate(client, product="example.chat", unit="input_tokens", quantity="1000000")
    assert "Example rate" in html and "not a quote" in html
    assert "USD 0.20" in html
    assert "Example" not in _estimate(client, product="document.invoice", unit="pages", quantity="3")


def _form_values(html):
    """The estimator form as a browser would submit it: {name: value}."""
    import re

    form = html[html.index('class="estimator"'):html.index("</form>")]
    values = {}
    for name, value in re.findall(r'<input[^>]*name="(\w+)"[^>]*value="([^"]*)"', form):
        values[name] = value
    values["grounding"] = "checked" in re.search(r'<input id="est-grounding"[^>]*>', form).group(0)
    for name, select in re.findall(r'<select[^>]*name="(\w+)"[^>]*>(.*?)</select>', form, re.S):
        chosen = re.findall(r'<option value="([^"]*)" selected>', select)
        values[name] = chosen[0] if chosen else None
    return values


@pytest.mark.parametrize("chosen", [
    {"product": "audio.call", "tier": "hi", "unit": "audio_seconds", "quantity": "2.5",
     "instance": "sm", "machine": "h100"},
    {"product": "document.markdown", "tier": "lo", "grounding": "on", "unit": "pages",
     "quantity": "1,234", "instance": "xxl", "machine": "t4"},
    {"product": "", "tier": "auto", "unit": "images", "quantity": "", "instance": "micro",
     "machine": "l40s"},
])
def test_the_estimator_form_comes_back_with_exactly_what_was_chosen(client, chosen):
    html = client.get("/pricing", chosen).content.decode()
    expected = {**chosen, "grounding": chosen.get("grounding") == "on"}
    assert _form_values(html) == expected


def test_the_page_answers_the_questions_people_ask(client):
    html = client.get("/pricing").content.decode()
    for question in ("Can I upgrade or downgrade my plan anytime?", "What happens if I exceed my plan limits?",
                     "Why do custom models cost more?", "What payment methods do you accept?"):
        assert f"<h3>{question}</h3>" in html, question
    assert "A downgrade takes effect when the current cycle ends" in html
    assert "402 spend_limit_reached" in html
    assert "costs 6 credits (USD 0.06) rather than 1 to 4" in html
    assert "Credit and debit cards" in html


def test_a_12_minute_audio_estimate_is_3_segments(client):
    html = client.get("/pricing", {"product": "audio.call", "unit": "audio_seconds", "quantity": "720"},
                      HTTP_HX_REQUEST="true").content.decode()
    assert "<strong data-estimate-total>3.00 credits</strong>" in html and "3 started 5-minute segments" in html


def test_a_signed_in_user_sees_it_inside_the_app(client_for, owner, workspace):
    html = client_for(owner).get("/pricing").content.decode()
    assert 'aria-current="page"' in html and "Change your plan" in html


def _compare_costs(html):
    import re

    return re.findall(r"<td class=\"num\" data-compare-cost>(?:<strong>)?(USD [0-9.,]+)", html)


def test_ten_minutes_of_llm_inference_compared_with_the_seeds_figures(client):
    html = client.get("/pricing").content.decode()
    assert _compare_costs(html) == ["USD 0.05", "USD 0.16", "USD 1.09"]
    assert "GPT-4o (109,080 tokens at USD 10.00 per million)" in html
    assert "10 minutes × 60 seconds × USD 0.0000872083 per second" in html


def test_our_figure_in_the_comparison_is_priced_by_the_catalog_not_typed_in(client):
    from pricing.models import PriceRate

    micro = PriceRate.objects.get(price__product="llm.*", key="micro")
    micro.unit_price = micro.unit_price * 3  # staff change the rate: the page follows
    micro.save()
    costs = _compare_costs(client.get("/pricing").content.decode())
    assert costs == ["USD 0.16", "USD 0.16", "USD 1.09"]

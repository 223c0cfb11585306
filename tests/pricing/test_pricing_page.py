"""The public /pricing page: the catalog's tables, plans, and the estimator (with and without htmx)."""

import pytest

pytestmark = pytest.mark.django_db


def test_a_logged_out_visitor_sees_every_table_with_credits_and_usd(client):
    response = client.get("/pricing")
    assert response.status_code == 200
    html = response.content.decode()
    for text in ("document.markdown", "healthcare.*", "per started 5-minute segment", "+2",
                 "0.0000872083", "0.00872083", "0.0059890856", "0.0299264", "$0.05",
                 "Custom fine-tuned models", "Example rates", "Examples", "Log in", "Sign up"):
        assert text in html, text
    # Plans come from billing.Plan, with the seeds' descriptive rows.
    for text in ("Starter", "Pro", "Enterprise", "USD 799 / month", "Up to 5", "SOC2, HIPAA, BAA", "In-VPC available"):
        assert text in html, text
    assert "creditback" not in html.lower()  # non-public plans stay off the page


def test_the_estimator_works_without_javascript(client):
    html = client.get("/pricing", {"product": "document.invoice", "tier": "hi", "grounding": "on",
                                   "unit": "pages", "quantity": "1"}).content.decode()
    assert "document:grounding" in html
    assert "<strong data-estimate-total>6.000000</strong>" in html and "$0.060000" in html


def test_the_estimator_answers_htmx_with_only_the_breakdown(client):
    response = client.get("/pricing", {"product": "llm.llama-3-8b", "unit": "inference_seconds",
                                       "quantity": "600", "instance": "micro"}, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert "<html" not in html
    assert "5.232498" in html and "llm:micro" in html
    assert "HX-Request" in response["Vary"]


def test_the_estimator_explains_what_cannot_be_priced(client):
    html = client.get("/pricing", {"product": "document.markdown", "grounding": "on", "unit": "pages",
                                   "quantity": "1"}, HTTP_HX_REQUEST="true").content.decode()
    assert "does not support the grounding add-on" in html
    html = client.get("/pricing", {"product": "document.x", "unit": "pages", "quantity": "1.5"},
                      HTTP_HX_REQUEST="true").content.decode()
    assert "quantity.pages must be a whole number" in html
    html = client.get("/pricing", {"product": "nobody.knows", "unit": "pages", "quantity": "1"},
                      HTTP_HX_REQUEST="true").content.decode()
    assert "No price matches" in html


def test_a_12_minute_audio_estimate_is_3_segments(client):
    html = client.get("/pricing", {"product": "audio.call", "unit": "audio_seconds", "quantity": "720"},
                      HTTP_HX_REQUEST="true").content.decode()
    assert "<strong data-estimate-total>3.000000</strong>" in html


def test_a_signed_in_user_sees_it_inside_the_app(client_for, owner, workspace):
    html = client_for(owner).get("/pricing").content.decode()
    assert 'aria-current="page"' in html and "Change your plan" in html

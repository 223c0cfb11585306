"""One way to show each kind of value (config/values.py, `{% load values %}`): what a person
reads for credits, dollars, quantities, dates and times, on every page."""

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from django.template import Context, Template

from config.values import (
    cents, credits, credits_amount, credits_exact, credits_signed_exact, credits_signed, day, moment, number,
    period, quantities, quantity, usd, usd_exact,
)

MICRO = 1_000_000


def test_credits_on_pages_have_thousands_separators_two_places_and_their_unit():
    assert credits(1_253_221_234) == "1,253.22 credits"
    assert credits(1_253_225_000) == "1,253.23 credits"  # half up, never a float's guess
    assert credits(0) == "0.00 credits"
    assert credits_amount(-12_500_000) == "−12.50"
    assert credits_amount(1_000_000_000_000) == "1,000,000.00"


def test_a_movement_carries_its_direction():
    assert credits_signed(250 * MICRO) == "+250.00"
    assert credits_signed(-12_500_000) == "−12.50"
    assert credits_signed(4_000) == "0.00"  # what rounds to nothing shows no direction


def test_the_exact_value_keeps_every_micro_credit():
    assert credits_exact(52_325) == "0.052325 credits"
    assert credits_exact(1_253_221_234) == "1,253.221234 credits"
    assert credits_exact(-1) == "−0.000001 credits"
    assert credits_signed_exact(250 * MICRO) == "+250.000000" and credits_signed_exact(-52_325) == "−0.052325"


def test_dollars_to_the_cent_on_pages_and_below_it_only_in_a_receipt():
    assert usd(1_253_221_234) == "USD 12.53"
    assert usd(237_500_000) == "USD 2.38"
    assert usd(-5 * MICRO) == "−USD 0.05"
    assert usd_exact(52_325) == "USD 0.00052325"
    assert usd_exact(5 * MICRO) == "USD 0.05"
    assert cents(1_253) == "USD 12.53" and cents(250_000_00) == "USD 250,000.00"
    assert cents(-20_000) == "−USD 200.00"


@pytest.mark.parametrize("amount, unit, shown", [
    (1204, "pages", "1,204 pages"),
    (1, "pages", "1 page"),
    (18_420, "audio_seconds", "5 h 7 min of audio"),
    (18_450, "audio_seconds", "5 h 8 min of audio"),  # minutes rounded half up past an hour
    (95, "video_seconds", "1 min 35 s of video"),
    (Decimal("4.5"), "audio_second", "4.5 s of audio"),  # a price's unit reads the same
    (7_200, "gpu_seconds", "2 h of GPU time"),
    ("109080", "input_tokens", "109,080 input tokens"),
    (Decimal("3.50"), "megapixels", "3.5 megapixels"),
    (3, "galaxies", "3 galaxies"),  # a unit we do not know keeps its own name
])
def test_quantities_carry_their_unit_in_words(amount, unit, shown):
    assert quantity(amount, unit) == shown


def test_a_row_of_quantities_reads_as_one_line():
    assert quantities({"pages": "1204", "audio_seconds": "18420"}) == "1,204 pages, 5 h 7 min of audio"
    assert quantities({}) == "—"
    assert number(1204) == "1,204" and number(Decimal("0.5")) == "0.5"


def test_dates_and_times_read_the_same_everywhere_in_utc():
    assert day(date(2026, 11, 28)) == "28 Nov 2026"
    assert moment(datetime(2026, 11, 28, 16, 14, 59, tzinfo=timezone.utc)) == "28 Nov 2026, 16:14 UTC"
    new_york = timezone(timedelta(hours=-5))
    late_evening = datetime(2026, 11, 28, 21, 30, tzinfo=new_york)  # already the 29th in UTC
    assert day(late_evening) == "29 Nov 2026"
    assert moment(late_evening) == "29 Nov 2026, 02:30 UTC"


def test_nothing_shows_a_dash_not_an_error():
    assert credits(None) == usd(None) == day(None) == moment(None) == quantity(None, "pages") == "—"


def test_any_template_loads_them_by_one_name():
    html = Template("{% load values %}{{ m|credits }} · {{ m|usd }} · {{ d|day }}").render(
        Context({"m": 1_253_221_234, "d": date(2026, 11, 28)})
    )
    assert html == "1,253.22 credits · USD 12.53 · 28 Nov 2026"


def test_a_movement_to_the_micro_credit_carries_its_direction():
    from config.values import credits_signed_exact

    assert credits_signed_exact(8_004_360) == "+8.004360"
    assert credits_signed_exact(-1_500_000) == "\u22121.500000"
    assert credits_signed_exact(0) == "0.000000"


def test_a_period_ends_on_its_last_whole_day():
    html = Template("{% load values %}{{ a|period:b }}").render(Context({
        "a": datetime(2026, 3, 1, tzinfo=timezone.utc), "b": datetime(2026, 4, 1, tzinfo=timezone.utc),
    }))
    assert html == "1 Mar – 31 Mar 2026"  # the end is the next period's start
    assert period(datetime(2026, 12, 15, tzinfo=timezone.utc), datetime(2027, 1, 15, tzinfo=timezone.utc)) == (
        "15 Dec 2026 – 14 Jan 2027"
    )
    assert period(None, None) == "—"


@pytest.mark.django_db
def test_the_pricing_page_dates_a_scheduled_change_the_one_way(client):
    from pricing.models import Price

    Price.objects.create(product="image.*", unit="image", meter="image", scheme="tiered",
                         price_lo=Decimal(1), price_auto=Decimal(3), price_hi=Decimal(5),
                         grounding_price=Decimal(2), effective_from=datetime(2031, 1, 5, 9, 30, tzinfo=timezone.utc))
    page = client.get("/pricing").content.decode()
    assert "changes on 5 Jan 2031, 09:30 UTC." in page


@pytest.mark.django_db
def test_an_invitation_mail_says_when_it_expires_the_one_way(workspace, owner):
    from django.core import mail

    from teams.services import invitation_create

    invitation, _ = invitation_create(workspace=workspace, actor=owner, email="new@example.com", role="member",
                                      base_url="http://testserver")
    expires = invitation.expires_at.astimezone(timezone.utc)
    shown = f"expires on {expires.day} {expires:%b %Y}, {expires:%H:%M} UTC."
    message = mail.outbox[-1]
    assert shown in message.body and shown in message.alternatives[0][0]

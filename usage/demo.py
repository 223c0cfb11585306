"""This app's part of `manage.py seed_demo`: 90 days of realistic usage (idempotent).

Every event goes through the gateway's own path, usage_record_batch (parse, price, ledger),
back-dated one day at a time, so the demo's ledger, balances and roll-ups are exactly what
real traffic would have made. Event ids are fixed (a seeded random generator), so a second
run replays them and charges nothing.
"""

import random
from datetime import datetime, time, timedelta, timezone as dt_timezone

from django.utils import timezone

from apikeys.models import APIKey
from usage.rollup import rollup_run
from usage.services import usage_record_batch

DAYS = 90

# (weight, product, quantity maker, tiers, grounding allowed)
MIX = (
    (30, "document.invoice", lambda r: {"pages": r.randint(1, 4)}, ("lo", "auto", "auto", "hi"), True),
    (10, "document.markdown", lambda r: {"pages": r.randint(1, 3)}, ("lo", "auto"), False),
    (18, "image.receipt", lambda r: {"images": 1}, ("lo", "auto", "hi"), True),
    (6, "healthcare.claim", lambda r: {"pages": r.randint(1, 3)}, ("auto",), True),
    (8, "audio.call-summary", lambda r: {"audio_seconds": r.randint(30, 900)}, ("auto",), False),
    (2, "video.inspection", lambda r: {"video_seconds": r.randint(20, 400)}, ("lo",), False),
    (12, "llm.llama-3-8b", lambda r: {"inference_seconds": r.randint(20, 240), "instance": "micro"}, (None,), False),
    (4, "dedicated.whisper-large", lambda r: {"inference_seconds": r.randint(5, 60), "instance": "xs"}, (None,), False),
)


def _event(rng, day, n, key):
    weights = [m[0] for m in MIX]
    _, product, quantity, tiers, grounding_ok = rng.choices(MIX, weights=weights)[0]
    moment = datetime.combine(day, time(hour=rng.randint(7, 20), minute=rng.randint(0, 59)), tzinfo=dt_timezone.utc)
    body = {
        "id": f"demo_{day:%Y%m%d}_{n:03d}", "key_id": key.public_id, "product": product,
        "quantity": quantity(rng), "occurred_at": moment.isoformat().replace("+00:00", "Z"),
        "queue_seconds": str(rng.choice((0, 0, 0.2, 1.5))),
        "status_code": rng.choices((200, 400, 500), weights=(96, 3, 1))[0],
    }
    tier = rng.choice(tiers)
    if tier:
        body["tier"] = tier
    if grounding_ok and rng.random() < 0.15:
        body["grounding"] = True
    return body


def seed(demo, *, days=DAYS, now=None):
    """Write `days` days of usage for the demo workspace; returns the number of events sent."""
    now = now or timezone.now()
    keys = list(APIKey.objects.filter(workspace=demo.workspace).order_by("pk"))
    if not keys:
        return 0
    rng = random.Random(20261123)
    sent = 0
    for back in range(days - 1, -1, -1):
        day = (now - timedelta(days=back)).date()
        weekday_factor = 0.45 if day.weekday() >= 5 else 1.0
        growth = 0.6 + 0.8 * (days - back) / days  # a customer whose traffic grows
        count = max(1, int(rng.gauss(14, 4) * weekday_factor * growth))
        # The production key carries most traffic, then staging, then the notebook.
        batch = [_event(rng, day, n, rng.choices(keys, weights=[6, 3, 1][: len(keys)] or None)[0])
                 for n in range(count)]
        written_at = min(datetime.combine(day, time(21, 0), tzinfo=dt_timezone.utc), now)
        usage_record_batch(batch, now=written_at)
        sent += count
    rollup_run()
    return sent

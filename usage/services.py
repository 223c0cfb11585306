"""Recording gateway usage: the single call and the batch, and where errors become answers.

`usage_record(data)` records one event and `usage_record_batch(items)` up to 1000; both
return `UsageResult(status, body)` objects that the API writes out as they are. An event's
way in: usage.preparing (parse, key, price: nothing written), then usage.storage (written
and charged exactly once; PostgreSQL in usage.pgwrite). A refused event stays an ApiError
until here: the single call raises it, the batch puts it in its slot and still charges the
valid events in the same response. A database that fails (OperationalError) answers the
whole request 503 `service_unavailable` with Retry-After: nothing was written, and a retry
with the same ids charges each event once.
"""

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from django.db import InterfaceError, OperationalError
from django.utils import timezone

from apikeys.services import key_touch
from config.api import ApiError, InvalidRequest, reject_unknown_fields
from usage.preparing import (
    PreparedEvent,
    UsageResult,
    error_body,
    event_id_of,
    event_prepare,
)
from usage.storage import events_record

MAX_BATCH = 1000
RETRY_AFTER_SECONDS = 1
log = logging.getLogger("meterdesk.usage")

__all__ = ["MAX_BATCH", "UsageResult", "usage_body_parse", "usage_record", "usage_record_batch"]


class ServiceUnavailable(ApiError):
    status = 503
    code = "service_unavailable"


@contextmanager
def _database_failures_as_503() -> Iterator[None]:
    try:
        yield
    except (OperationalError, InterfaceError) as error:
        log.warning("Usage not recorded, the database failed: %s", error)
        raise ServiceUnavailable(
            "The usage store is unavailable; nothing was recorded. Retry with the same event "
            f"ids in {RETRY_AFTER_SECONDS} s: each event is charged once.",
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        ) from error


def usage_record(data: object, *, now: datetime | None = None) -> UsageResult:
    """Record one gateway event (a dict as received).

    400/401 are raised as ApiError (nothing recorded), 503 when the database fails;
    404 unknown_product and 409 idempotency_conflict come back as results.
    """
    prepared = event_prepare(index=0, raw=data, now=now or timezone.now())
    with _database_failures_as_503():
        events_record([prepared])
    if prepared.error is not None:
        raise prepared.error
    _key_touch(prepared)
    return prepared.result


def usage_record_batch(items: object, *, now: datetime | None = None) -> list[UsageResult]:
    """Record up to 1000 events; returns one UsageResult per item, in order.

    Every event is prepared before anything is written; an invalid one gets its own error
    in its slot and the valid ones are still charged. A batch may mix workspaces; an id
    repeated inside the batch gets the first occurrence's result (or 409 when its body
    differs).
    """
    if not isinstance(items, list) or not items:
        raise InvalidRequest("`events` must be a list of 1 to 1000 events.", "events")
    if len(items) > MAX_BATCH:
        raise InvalidRequest(f"A batch holds at most {MAX_BATCH} events; this one has {len(items)}.", "events")
    now = now or timezone.now()
    slots: list[PreparedEvent | UsageResult] = [
        _slot_prepare(index=i, raw=raw, now=now) for i, raw in enumerate(items)
    ]
    valid = [slot for slot in slots if isinstance(slot, PreparedEvent)]
    if valid:
        with _database_failures_as_503():
            events_record(valid)
    for p in {p.key.pk: p for p in valid}.values():
        _key_touch(p)
    return [_slot_result(slot) for slot in slots]


def _slot_prepare(*, index: int, raw: object, now: datetime) -> PreparedEvent | UsageResult:
    try:
        return event_prepare(index=index, raw=raw, now=now)
    except ApiError as error:
        return _slot_error(index=index, event_id=event_id_of(raw), error=error)
    except Exception:  # a fault of ours with this one event must not sink the others
        log.exception("Preparing event %s of a batch failed", index)
        error = ApiError("This event could not be recorded (a fault of ours, logged); "
                         "nothing was charged for it.", status=500, code="server_error")
        return _slot_error(index=index, event_id=event_id_of(raw), error=error)


def _slot_error(*, index: int, event_id: str | None, error: ApiError) -> UsageResult:
    body = error_body(error)
    if body["error"]["param"]:
        body["error"]["param"] = f"events[{index}].{body['error']['param']}"
    return UsageResult(error.status, {"id": event_id, **body})


def _slot_result(slot: PreparedEvent | UsageResult) -> UsageResult:
    if isinstance(slot, UsageResult):
        return slot
    if slot.error is not None:
        return _slot_error(index=slot.index, event_id=slot.event_id, error=slot.error)
    return slot.result


def _key_touch(prepared: PreparedEvent) -> None:
    # At most one write a minute per key (apikeys.services.key_touch).
    key_touch(prepared.key, timezone.now())


def usage_body_parse(data: dict) -> tuple[str, object]:
    """Split a POST body into ("single", event) or ("batch", events)."""
    if "events" in data:
        reject_unknown_fields(data, {"events"})
        return "batch", data["events"]
    return "single", data

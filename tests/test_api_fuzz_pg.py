"""Property: whatever JSON arrives, no JSON route answers 5xx and nothing refused moves money.

Valid events with values or keys anywhere in them swapped for arbitrary JSON values or
arbitrary strings (NUL, lone surrogates, any plane), and bodies of plain junk, sent to
authorize, usage (single and batch) and quote on PostgreSQL, where a NUL or an unencodable
string would reach the database.
"""

import itertools
import json
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, event, given, settings, strategies as st

from apikeys import keycache
from apikeys.ratelimit import ratelimit_reset_local
from apikeys.services import key_create, service_token_create
from billing.ledger import ledger_sum, workspace_balance
from billing.money import MICRO
from tests.factories import give_credits

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

# Any code point, surrogates and NUL included (hypothesis leaves surrogates out by default),
# and often an ordinary text with one hostile character in it.
HOSTILE = st.sampled_from(["\x00", "\ud800", "\udfff", "\x00", "\ud800", "\U0001f600", "\u200b", " ", "*"])
ANY_TEXT = st.one_of(
    st.text(st.characters(exclude_categories=()), max_size=30),
    st.builds("{}{}{}".format, st.text(max_size=8), HOSTILE, st.text(max_size=8)),
)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | ANY_TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(ANY_TEXT, inner, max_size=4),
    max_leaves=12,
)
TIERS = st.sampled_from(["lo", "auto", "hi"])
PRICED = st.one_of(  # a product and a quantity it is priced by
    st.fixed_dictionaries({"product": st.just("document.invoice"), "quantity": st.fixed_dictionaries(
        {"pages": st.integers(1, 20)})}),
    st.fixed_dictionaries({"product": st.just("audio.call"), "quantity": st.fixed_dictionaries(
        {"audio_seconds": st.decimals("0.5", "900", places=1).map(str)})}),
    st.fixed_dictionaries({"product": st.just("llm.llama"), "quantity": st.fixed_dictionaries(
        {"inference_seconds": st.decimals("0.001", "600", places=3).map(str),
         "instance": st.sampled_from(["micro", "xl", "MICRO"])})}),
    st.fixed_dictionaries({"product": st.just("gpu.job"), "quantity": st.fixed_dictionaries(
        {"gpu_seconds": st.integers(1, 60), "machine": st.sampled_from(["a100-80gb", "H100"])})}),
)
LINE = PRICED.flatmap(lambda priced: st.fixed_dictionaries(
    {k: st.just(v) for k, v in priced.items()}, optional={"tier": TIERS, "grounding": st.booleans()}))


def valid_event(key_id):
    return PRICED.flatmap(lambda priced: st.fixed_dictionaries(
        {"id": st.just("e"), "key_id": st.just(key_id), **{k: st.just(v) for k, v in priced.items()}},
        optional={  # (ids are made unique below)
            "tier": TIERS, "grounding": st.booleans(), "status_code": st.integers(100, 599),
            "queue_seconds": st.decimals("0", "100", places=2).map(str),
            "occurred_at": st.sampled_from([
                "2026-11-23T09:00:00Z", "0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00",
                "2026-11-23T09:00:00", "2026-02-30T00:00:00Z"]),
            "lines": st.lists(LINE, min_size=1, max_size=3),
            "metadata": st.dictionaries(st.text(min_size=1, max_size=8), st.text(max_size=8), max_size=3),
        },
    ))


def _places(value, path=()):
    """Every (path, is_key) where a value or a key could be swapped for a hostile one."""
    if isinstance(value, dict):
        for name, item in value.items():
            yield path + (name,), True
            yield path + (name,), False
            yield from _places(item, path + (name,))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield path + (index,), False
            yield from _places(item, path + (index,))


@st.composite
def hostile_events(draw, key_id):
    """A valid event with a few values or keys, anywhere in it, made hostile: most often
    its own text with a NUL, a lone surrogate... added, else any string or JSON value."""
    event = draw(valid_event(key_id))
    for _ in range(draw(st.sampled_from([1, 1, 1, 2, 3, 0]))):
        places = list(_places(event))
        texts = [(path, is_key) for path, is_key in places if is_key or isinstance(_at(event, path), str)]
        path, is_key = draw(st.sampled_from(texts if texts and draw(st.booleans()) else places))
        *parents, last = path
        holder = _at(event, parents)
        spoiled = st.builds("{}{}{}".format, st.text(max_size=2), st.just(last), HOSTILE)
        if is_key:
            holder[draw(spoiled | ANY_TEXT)] = holder.pop(last)
        elif isinstance(holder[last], str):
            old = holder[last]
            holder[last] = draw(st.builds("{}{}".format, st.just(old), HOSTILE) | spoiled | ANY_TEXT | JSON_VALUES)
        else:
            holder[last] = draw(ANY_TEXT | JSON_VALUES)
    return event


def _at(value, path):
    for step in path:
        value = value[step]
    return value


_serial = itertools.count()


def unique_ids(event):
    """A string id gets a unique prefix (its text stays arbitrary), so no two examples
    share one and every charge shown is a new charge."""
    if isinstance(event, dict) and isinstance(event.get("id"), str):
        event = {**event, "id": f"fz{next(_serial)}-{event['id']}"}
    return event


def charged_micro(result):
    return int(Decimal(result["charged"]) * MICRO)


@pytest.fixture
def setup(client, workspace, owner):
    keycache.cache_clear()
    ratelimit_reset_local()
    give_credits(workspace, 1_000_000)
    key, secret = key_create(workspace=workspace, user=owner, name="fuzz")
    token = service_token_create(name="fuzz")[1]

    def post(path, body, credential):
        raw = body if isinstance(body, bytes) else json.dumps(body)
        response = client.post(path, data=raw, content_type="application/json",
                               HTTP_AUTHORIZATION=f"Bearer {credential}")
        event(f"status {response.status_code}")  # --hypothesis-show-statistics shows the mix
        assert response.status_code < 500, (path, body, response.content[:500])
        assert response["Content-Type"] == "application/json"
        return response

    return {"post": post, "key": key, "secret": secret, "token": token, "workspace": workspace}


def balance(workspace):
    value = workspace_balance(workspace.pk)
    assert value == ledger_sum(workspace.pk)
    return value


EXAMPLES = settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))


@EXAMPLES
@given(data=st.data())
def test_usage_single_events(setup, data):
    events = hostile_events(setup["key"].public_id)
    body = unique_ids(data.draw(st.one_of(events, events, events, JSON_VALUES, st.binary(max_size=40))))
    before = balance(setup["workspace"])
    response = setup["post"]("/api/v1/gateway/usage", body, setup["token"])
    spent = before - balance(setup["workspace"])
    if response.status_code == 200:
        assert spent == charged_micro(response.json())
    else:
        assert spent == 0
        assert response.json()["error"]["code"]


@EXAMPLES
@given(data=st.data())
def test_usage_batches(setup, data):
    events = hostile_events(setup["key"].public_id)
    items = data.draw(st.lists(st.one_of(events, events, events, JSON_VALUES), min_size=1, max_size=6))
    body = {"events": [unique_ids(item) for item in items]}
    before = balance(setup["workspace"])
    response = setup["post"]("/api/v1/gateway/usage", body, setup["token"])
    spent = before - balance(setup["workspace"])
    if response.status_code != 200:
        assert spent == 0
        return
    results = response.json()["results"]
    assert len(results) == len(items)
    # Refused events (an error in their slot) moved nothing; the others exactly their charge.
    assert spent == sum(charged_micro(r) for r in results if "error" not in r)


@EXAMPLES
@given(data=st.data())
def test_quote(setup, data):
    body = data.draw(st.one_of(hostile_events("unused"), JSON_VALUES))
    if isinstance(body, dict):
        body.pop("id", None), body.pop("key_id", None)
    before = balance(setup["workspace"])
    setup["post"]("/api/v1/prices/quote", body, setup["secret"])
    assert balance(setup["workspace"]) == before


AUTHORIZE_BODIES = st.fixed_dictionaries(
        # SECRET becomes the key; SECRET~ the key less its last character (so a hostile one
        # added keeps the length of a key and reaches the hash).
        {"api_key": st.one_of(st.just("SECRET"), st.builds("SECRET{}".format, HOSTILE),
                              st.builds("SECRET~{}".format, HOSTILE), ANY_TEXT, JSON_VALUES)},
        optional={"unknown": JSON_VALUES})


@EXAMPLES
@given(body=st.one_of(AUTHORIZE_BODIES, AUTHORIZE_BODIES, JSON_VALUES, st.binary(max_size=40)))
def test_authorize(setup, body):
    if isinstance(body, dict) and isinstance(body.get("api_key"), str) and body["api_key"].startswith("SECRET"):
        secret = setup["secret"]
        body = {**body, "api_key": body["api_key"].replace("SECRET~", secret[:-1]).replace("SECRET", secret)}
    before = balance(setup["workspace"])
    response = setup["post"]("/api/v1/gateway/authorize", body, setup["token"])
    assert response.status_code in (200, 400, 401, 429)
    assert balance(setup["workspace"]) == before

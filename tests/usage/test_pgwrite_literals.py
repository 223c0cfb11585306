"""usage.pgwrite sends each column of a batch as one array literal: every value must come
back from PostgreSQL exactly as it went in, whatever characters a gateway put in it."""

from datetime import datetime, timezone

import pytest
from django.db import connection
from hypothesis import given, settings
from hypothesis import strategies as st

from usage.pgwrite import _ARRAY_LITERAL

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

# PostgreSQL text cannot hold NUL; everything else can reach us from a gateway.
texts = st.text(alphabet=st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)))


def _round_trip(kind, values):
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT unnest(%s::{kind}[])", [_ARRAY_LITERAL[kind](values)])
        return [row[0] for row in cursor.fetchall()]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(st.none(), texts, st.sampled_from(["NULL", "", " ", "{}", '"', "\\", "a,b"])),
                min_size=1, max_size=20))
def test_any_text_comes_back_unchanged(values):
    assert _round_trip("text", values) == values


@settings(max_examples=30, deadline=None)
@given(st.lists(st.one_of(st.none(), st.integers(min_value=-(2**63), max_value=2**63 - 1)), min_size=1))
def test_any_bigint_comes_back_unchanged(values):
    assert _round_trip("bigint", values) == values


def test_booleans_and_timestamps_come_back_unchanged():
    assert _round_trip("boolean", [True, False, None]) == [True, False, None]
    moments = [datetime(2026, 11, 23, 15, 4, 5, 123456, tzinfo=timezone.utc), None]
    assert _round_trip("timestamptz", moments) == moments

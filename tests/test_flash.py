"""refusal_flashed: the one way a page view turns a service's refusal into a message."""

import pytest
from django.contrib import messages
from django.contrib.messages import get_messages
from django.contrib.messages.storage.fallback import FallbackStorage
from django.contrib.sessions.backends.signed_cookies import SessionStore
from django.test import RequestFactory

from billing.services import BillingError
from config.flash import refusal_flashed
from teams.services import TeamError


def _request():
    request = RequestFactory().post("/")
    request.session = SessionStore()
    request._messages = FallbackStorage(request)
    return request


@pytest.mark.parametrize("error", [TeamError, BillingError])
def test_it_shows_the_refusal_and_skips_the_success_message(error):
    request = _request()
    def service():
        raise error("Only owners can do that.")

    with refusal_flashed(request) as outcome:
        service()
        messages.success(request, "Done.")
    assert outcome.refused
    assert [(m.level_tag, str(m)) for m in get_messages(request)] == [("error", "Only owners can do that.")]


def test_it_lets_a_bug_reach_the_error_page():
    with pytest.raises(KeyError), refusal_flashed(_request()):
        raise KeyError("plan")

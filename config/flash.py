"""How a page view shows a service's refusal: one context manager, one style for every view.

A view calls the service inside ``with refusal_flashed(request) as outcome:`` and writes its
success message on the next line; if the service refuses, the refusal's sentence is flashed
as an error instead, the rest of the block is skipped, and ``outcome.refused`` says so. The
view then redirects (to a different place on refusal, where that matters)::

    with refusal_flashed(request):
        services.invitation_resend(workspace=request.workspace, ...)
        messages.success(request, f"Sent a new invitation link to {invitation.email}.")
    return redirect("team")

Only ``Refusal`` (the base of ``TeamError``, ``BillingError``...) is caught: any other
exception is a bug and still reaches the error page and the logs.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from django.contrib import messages
from django.http import HttpRequest


class Refusal(Exception):
    """A change the service will not make; str(error) is a sentence the person can act on."""


@dataclass
class Outcome:
    refused: bool = False


@contextmanager
def refusal_flashed(request: HttpRequest) -> Iterator[Outcome]:
    outcome = Outcome()
    try:
        yield outcome
    except Refusal as error:
        outcome.refused = True
        messages.error(request, str(error))

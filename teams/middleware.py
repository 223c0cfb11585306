from django.utils.functional import SimpleLazyObject

from teams.selectors import current_membership


class CurrentWorkspaceMiddleware:
    """Sets request.membership and request.workspace (lazily) for logged-in users.

    The current workspace is remembered in the session; a user who no longer belongs to it
    falls back to their first workspace.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.membership = SimpleLazyObject(lambda: current_membership(request))
        request.workspace = SimpleLazyObject(
            lambda: request.membership.workspace if request.membership else None
        )
        return self.get_response(request)

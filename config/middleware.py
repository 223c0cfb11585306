import re
import uuid

from django.conf import settings

VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


class RequestIdMiddleware:
    """Every response carries X-Request-Id: the caller's when it is sane, else a new one."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get("X-Request-Id", "")
        request.id = incoming if VALID_REQUEST_ID.match(incoming) else f"req_{uuid.uuid4().hex}"
        response = self.get_response(request)
        response["X-Request-Id"] = request.id
        return response


class ContentSecurityPolicyMiddleware:
    """Django 5.2 has no CSP support of its own; one header is all we need."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", settings.CONTENT_SECURITY_POLICY)
        return response

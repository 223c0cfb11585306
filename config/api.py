"""The JSON conventions of API.md shared by every API route."""

from django.http import JsonResponse


def api_error(status, code, message, param=None, headers=None):
    response = JsonResponse(
        {"error": {"code": code, "message": message, "param": param}}, status=status
    )
    for name, value in (headers or {}).items():
        response[name] = value
    return response

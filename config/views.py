import sys

from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.db import connection
from django.http import HttpResponse, JsonResponse
from django.shortcuts import render
from django.template import loader
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from config.api import (
    DATABASE_UNAVAILABLE,
    RETRY_AFTER_SECONDS,
    api_error,
    database_unavailable_response,
)


@require_GET
@never_cache
def healthz(request):
    """200 when the database and the cache answer; 503 naming the one that does not."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception:
        return JsonResponse({"status": "error", "failing": "database"}, status=503)
    try:
        cache.set("healthz", "ok", 5)
        if cache.get("healthz") != "ok":
            raise RuntimeError("cache did not keep a value")
    except Exception:
        return JsonResponse({"status": "error", "failing": "cache"}, status=503)
    return JsonResponse({"status": "ok"})


def ping(request):
    """A trivial JSON answer without database or cache: the baseline of bench/authorize.py."""
    return JsonResponse({"status": "ok"})


@login_required
def dashboard(request):
    if not request.membership:  # a lazy object: never "is None", even when empty
        return render(request, "dashboard/no_workspace.html")
    from usage.dashboard import dashboard_context  # the usage app owns what the dashboard shows

    return render(request, "dashboard/index.html", dashboard_context(request.workspace))


def not_found(request, exception=None):
    if request.path.startswith("/api/"):
        return api_error(404, "not_found", "No such route or object.")
    return render(request, "errors/404.html", status=404)


def server_error(request):
    """Django's handler500, run inside the `except` of the failing request. An unavailable
    database is a 503 (with Retry-After) rather than a 500. The pages are rendered without
    the request's context, whose user and workspace would ask the database again."""
    if isinstance(sys.exc_info()[1], DATABASE_UNAVAILABLE):
        if request.path.startswith("/api/"):
            return database_unavailable_response()
        response = HttpResponse(loader.render_to_string("errors/503.html"), status=503)
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
    if request.path.startswith("/api/"):
        return api_error(500, "server_error", "Something went wrong on our side; it was logged.")
    return HttpResponse(loader.render_to_string("errors/500.html"), status=500)

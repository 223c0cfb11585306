import sys

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, JsonResponse
from django.shortcuts import render
from django.template import loader
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET

from config.api import (
    DATABASE_UNAVAILABLE,
    RETRY_AFTER_SECONDS,
    api_error,
    database_unavailable_response,
)
from config.health import degraded_counts, health_checks


@csrf_exempt  # an undeclared method is 405 (require_GET), not the CSRF check's 403
@require_GET
@never_cache
def healthz(request):
    """503 only when the database fails: without it nothing works. A cache or broker failure
    answers 200 "degraded" (authorize fails open, sign-in limits count in process memory),
    so a load balancer keeps the instance serving. `degraded` counts the decisions this
    process took without Redis (config.health)."""
    checks = health_checks()
    if checks["database"] != "ok":
        status, code = "error", 503
    else:
        status, code = ("ok" if set(checks.values()) == {"ok"} else "degraded"), 200
    return JsonResponse({"status": status, "checks": checks, "degraded": degraded_counts()}, status=code)


@csrf_exempt  # a documented route: any other method is 405 (require_GET), not the CSRF 403
@require_GET
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

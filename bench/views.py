"""The floor of a recorded request: the least any request that keeps something must do."""

from django.db import connection
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt


@csrf_exempt
def floor(request):
    """One single-row INSERT, committed (autocommit, so durably) before the answer: no
    credential, no parsing, no pricing, no idempotency, no ledger. A usage event does all
    of that and more, and under sync workers, where every request commits on its own, it
    cannot be faster than this on the same server."""
    # bench_floor is made by bench.common.database_prepare, in the bench database only.
    with connection.cursor() as cursor:
        cursor.execute("INSERT INTO bench_floor (n) VALUES (1)")
    return JsonResponse({"status": "ok"})

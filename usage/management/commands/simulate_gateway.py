"""Send realistic traffic through a running server's gateway API, like the inference gateway.

It makes a temporary customer key in the workspace and a temporary service token, then for
each request calls authorize and, when allowed, usage, over HTTP. Both credentials are
revoked at the end, also when interrupted.
"""

import json
import random
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from datetime import date
from decimal import Decimal

from django.core.management.base import BaseCommand, CommandError

from apikeys.models import ServiceToken
from apikeys.services import key_create, key_revoke, service_token_create, service_tokens_revoke
from teams.models import Membership, Role, Workspace
from usage.demo import _event


class Command(BaseCommand):
    help = "Send N realistic requests (authorize + usage) through a running server's gateway API."

    def add_arguments(self, parser):
        parser.add_argument("--workspace", required=True, help="The workspace slug.")
        parser.add_argument("--requests", type=int, required=True, help="How many requests to simulate.")
        parser.add_argument("--url", default="http://127.0.0.1:8000", help="The running server (default %(default)s).")

    def handle(self, *args, **options):
        workspace = Workspace.objects.filter(slug=options["workspace"]).first()
        if workspace is None:
            raise CommandError(f"No workspace with slug {options['workspace']!r}.")
        if options["requests"] < 1:
            raise CommandError("--requests must be at least 1.")
        owner = (
            Membership.objects.filter(workspace=workspace, role=Role.OWNER).select_related("user").first()
        )
        base = options["url"].rstrip("/")
        key, secret = key_create(workspace=workspace, user=owner.user if owner else None, name="simulate_gateway (temporary)")
        token, token_secret = service_token_create(name=f"simulate_gateway {uuid.uuid4().hex[:6]}")
        rng = random.Random()
        statuses, charged, latencies = Counter(), Decimal(0), []
        balance = None
        started = time.monotonic()
        try:
            for n in range(options["requests"]):
                status, body = self._post(base, "/api/v1/gateway/authorize", {"api_key": secret}, token_secret)
                if status != 200:
                    statuses[f"authorize {status} {body.get('error', {}).get('code', '')}".strip()] += 1
                    if status == 429:
                        time.sleep(min(5, int(body.get("retry_after", 1) or 1)))
                    continue
                event = _event(rng, date.today(), n, key)
                event["id"] = f"sim_{uuid.uuid4().hex[:16]}"
                event.pop("occurred_at")
                t0 = time.monotonic()
                status, body = self._post(base, "/api/v1/gateway/usage", event, token_secret)
                latencies.append(time.monotonic() - t0)
                statuses[f"usage {status}"] += 1
                if status == 200:
                    charged += Decimal(body["charged"])
                    balance = body["balance"]
        finally:
            key_revoke(key=key, actor=None)
            service_tokens_revoke(ServiceToken.objects.filter(pk=token.pk))
        elapsed = time.monotonic() - started
        latencies.sort()
        self.stdout.write(self.style.SUCCESS(f"Simulated {options['requests']} request(s) against {base} in {elapsed:.1f} s"))
        for outcome, count in sorted(statuses.items()):
            self.stdout.write(f"  {outcome:<40} {count}")
        self.stdout.write(f"  charged {charged} credits; balance now {balance or 'unknown'}")
        if latencies:
            p50 = latencies[len(latencies) // 2] * 1000
            p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000
            self.stdout.write(f"  usage latency p50 {p50:.1f} ms, p99 {p99:.1f} ms")
        self.stdout.write("  the temporary key and service token are revoked.")

    def _post(self, base, path, body, token):
        request = urllib.request.Request(
            base + path, data=json.dumps(body).encode(), method="POST",
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as error:
            try:
                return error.code, json.loads(error.read() or b"{}")
            except ValueError:
                return error.code, {}
        except urllib.error.URLError as error:
            raise CommandError(f"Cannot reach {base}: {error.reason}. Is the server running?")

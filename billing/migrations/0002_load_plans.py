"""The plans of the seeds (docs/design.md "Plans"), as data staff edit in the admin."""

from django.db import migrations

PLANS = [
    dict(
        code="starter", name="Starter", sort_order=1, price_cents=0, included_credits=0,
        one_time_credits=100, requests_per_minute=10, custom_models_allowed=0,
        overage_allowed=False, default_overage_limit=None, metadata_retention_days=30,
        billing_summary="Pay as you go: USD 0.01 per credit, billed on usage",
        support="Community (Discord)", compliance="Basic", deployments="Cloud only",
        service_level="Community support", data_retention="Basic logs (30 days)",
    ),
    dict(
        code="pro", name="Pro", sort_order=2, price_cents=79900, included_credits=100_000,
        one_time_credits=0, requests_per_minute=100, custom_models_allowed=5,
        overage_allowed=True, default_overage_limit=100_000, metadata_retention_days=0,
        billing_summary="Monthly subscription + overage at USD 0.01 per credit",
        support="Dedicated Slack", compliance="BAA", deployments="Cloud only",
        service_level="Standard support", data_retention="Zero data retention",
    ),
    dict(
        code="enterprise", name="Enterprise", sort_order=3, price_cents=0, price_is_custom=True,
        included_credits=0, one_time_credits=0, requests_per_minute=None,
        custom_models_allowed=None, overage_allowed=True, default_overage_limit=1_000_000,
        metadata_retention_days=0,
        billing_summary="Invoiced monthly, tier-based with volume discounts",
        support="Dedicated Slack + custom SLAs + priority support",
        compliance="SOC2, HIPAA, BAA", deployments="In-VPC available",
        service_level="Custom SLAs", data_retention="Zero data retention, in-VPC deployments",
    ),
    # Seed 003's credit-back subscriptions: pay USD N, get N x 100 credits each cycle.
    *[
        dict(
            code=f"creditback-{slug}", name=f"{label} (credit-back)", is_public=False,
            sort_order=10 + i, price_cents=cents, included_credits=cents,
            one_time_credits=0, requests_per_minute=100, custom_models_allowed=0,
            overage_allowed=False, default_overage_limit=None, metadata_retention_days=30,
            billing_summary=f"USD {cents // 100}/month, credited as {cents:,} credits",
            support="Discord", compliance="Basic", deployments="Cloud only",
            service_level="Community support", data_retention="Basic logs (30 days)",
        )
        for i, (slug, label, cents) in enumerate(
            [("personal", "Personal", 1900), ("pro", "Pro", 5900), ("business", "Business", 59900)]
        )
    ],
]


def load(apps, schema_editor):
    Plan = apps.get_model("billing", "Plan")
    for fields in PLANS:
        Plan.objects.update_or_create(code=fields["code"], defaults=fields)


def unload(apps, schema_editor):
    apps.get_model("billing", "Plan").objects.filter(code__in=[p["code"] for p in PLANS]).delete()


class Migration(migrations.Migration):
    dependencies = [("billing", "0001_initial")]
    operations = [migrations.RunPython(load, unload)]

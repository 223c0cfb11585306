"""The Celery app. Every periodic job is scheduled here, in one place."""

import os

from celery import Celery
from celery.schedules import crontab

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("meterdesk")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

app.conf.beat_schedule = {
    "close-billing-cycles": {
        "task": "billing.tasks.close_due_cycles",
        "schedule": crontab(minute=5),  # hourly: a cycle closes within the hour it ends
    },
    "card-expiry-reminders": {
        "task": "billing.tasks.cards_expiry_notify",
        "schedule": crontab(hour=9, minute=15),  # daily; each card's reminder is sent once
    },
    "usage-partitions": {
        "task": "usage.tasks.usage_partitions_ensure",
        "schedule": crontab(hour=3, minute=20),  # daily; three months ahead, so a missed day is harmless
    },
    "usage-spikes": {
        "task": "usage.tasks.usage_spikes_detect",
        "schedule": crontab(hour=0, minute=40),  # daily, for the UTC day that just ended
    },
    "rollup-usage": {
        "task": "usage.tasks.rollup_usage",
        "schedule": crontab(minute="*/10"),
    },
}

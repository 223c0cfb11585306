"""This app's part of `manage.py seed_demo` (idempotent)."""


def seed(demo):
    pass

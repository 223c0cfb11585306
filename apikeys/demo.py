"""This app's part of `manage.py seed_demo` (idempotent).

The demo owner, admin and member each get a key; usage's demo traffic is spread over
`APIKey.objects.filter(workspace=demo.workspace)`. The secrets are not printed: nobody
needs them (the demo's usage is written directly), and a new key can be made on the page.
"""

from apikeys.models import APIKey
from apikeys.services import key_create

DEMO_KEYS = (("owner", "Production"), ("admin", "Staging"), ("member", "Notebook experiments"))


def seed(demo):
    keys = []
    for role, name in DEMO_KEYS:
        user = getattr(demo, role)
        key = APIKey.objects.filter(workspace=demo.workspace, created_by=user, name=name).first()
        if key is None:
            key, _secret = key_create(workspace=demo.workspace, user=user, name=name)
        keys.append(key)
    return keys

"""Signals other apps listen to, so that teams never imports them (dependencies point one way).

Both change signals are sent inside the transaction that made the change: a receiver that
fails rolls the whole change back, so a member is never removed while their keys stay alive.
"""

from django.dispatch import Signal

# Sent with workspace=, owner= right after a workspace and its first owner are created.
workspace_created = Signal()

# Sent with workspace=, user=, actor= when a membership ends (removed or left).
member_removed = Signal()

# Sent with workspace=, user= before a removal is confirmed. Each receiver returns a list of
# sentences naming what the removal will do on its side ("API key “CI” (mdk_…) will be
# revoked"); the confirmation page lists them. Receivers must not change anything.
member_removal_consequences = Signal()

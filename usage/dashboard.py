"""What the dashboard at / shows for a workspace."""

from billing.selectors import spend_state


def dashboard_context(workspace):
    state = spend_state(workspace.id)
    return {"spend": state}

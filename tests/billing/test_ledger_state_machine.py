"""docs/ledger.md: balance == ledger sum after any sequence of grants, purchases, usage,
refunds, expiries and cycle closes (a hypothesis state machine)."""

from datetime import timedelta

from hypothesis import HealthCheck, settings as hsettings, strategies as st
from django.test import TestCase as DjangoTestCase
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test

from billing.closing import close_due_cycles
from billing.ledger import credits_charge, ledger_post, ledger_sum, workspace_balance
from billing.models import EntryKind
from billing.selectors import balance_summary
from tests.billing.helpers import start_on, utc
from tests.factories import UserFactory, WorkspaceFactory

amounts = st.integers(min_value=1, max_value=50_000 * 1_000_000)


class LedgerMachine(RuleBasedStateMachine):
    @initialize(plan=st.sampled_from(["starter", "pro"]))
    def setup(self, plan):
        owner = UserFactory()
        self.workspace = WorkspaceFactory(owner=owner, name="Machine")
        self.now = utc(2027, 1, 31)
        start_on(self.workspace, plan=plan, anchor_day=31, start=self.now)
        self.refs = 0
        self.included = 100_000 * 1_000_000 if plan == "pro" else 0
        self.expected = workspace_balance(self.workspace.pk)

    def _ref(self, kind):
        self.refs += 1
        return f"sm:{self.workspace.pk}:{kind}:{self.refs}"

    def _tick(self):
        self.now += timedelta(hours=7)

    @rule(amount=amounts)
    def grant(self, amount):
        self._tick()
        ledger_post(workspace=self.workspace, kind=EntryKind.INCLUDED_GRANT, amount_micro=amount,
                    reference=self._ref("grant"), at=self.now)
        self.expected += amount

    @rule(amount=amounts)
    def purchase(self, amount):
        self._tick()
        ledger_post(workspace=self.workspace, kind=EntryKind.PURCHASE, amount_micro=amount,
                    reference=self._ref("purchase"), at=self.now)
        self.expected += amount

    @rule(amount=amounts, replay=st.booleans())
    def usage(self, amount, replay):
        ref = self._ref("usage")
        self._tick()
        credits_charge(workspace=self.workspace, amount_micro=amount, reference=ref)
        if replay:  # a retried event moves nothing
            credits_charge(workspace=self.workspace, amount_micro=amount, reference=ref)
        self.expected -= amount

    @rule(amount=amounts, of_usage=st.booleans())
    def refund(self, amount, of_usage):
        signed = amount if of_usage else -amount
        ledger_post(workspace=self.workspace, kind=EntryKind.REFUND, amount_micro=signed, reference=self._ref("refund"))
        self.expected += signed

    @rule(amount=amounts)
    def expiry(self, amount):
        ledger_post(workspace=self.workspace, kind=EntryKind.EXPIRY, amount_micro=-amount, reference=self._ref("expiry"))
        self.expected -= amount

    @rule(days=st.integers(min_value=1, max_value=70))
    def cycle_close(self, days):
        self.now += timedelta(days=days)
        results = close_due_cycles(at=self.now)
        for result in results:
            if result.cycle.workspace_id != self.workspace.pk:
                continue  # earlier examples' workspaces share the job
            self.expected += result.settled_micro - result.expired_micro + self.included
            assert result.settled_micro == 0 or result.expired_micro == 0
        close_due_cycles(at=self.now)  # running it again changes nothing

    @invariant()
    def balance_is_the_ledger_sum(self):
        if not hasattr(self, "workspace"):
            return
        shown = workspace_balance(self.workspace.pk)
        assert shown == ledger_sum(self.workspace.pk) == self.expected
        summary = balance_summary(self.workspace, at=self.now)
        assert 0 <= summary.included_remaining_micro <= max(0, shown)
        assert summary.included_remaining_micro + summary.other_micro == max(0, shown)


class TestLedgerMachine(DjangoTestCase):
    """Each example makes its own workspace; the test's transaction is rolled back at the end."""

    def test_balance_equals_ledger_sum_after_every_step(self):
        run_state_machine_as_test(LedgerMachine, settings=hsettings(
            max_examples=30, stateful_step_count=15, deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ))

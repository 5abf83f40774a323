"""Log hygiene helpers of wallet/observability.py."""

from __future__ import annotations

from tests.support import Clock
from wallet.observability import TracebackBudget, one_line


def test_one_whole_traceback_per_kind_per_window():
    clock = Clock(100.0)
    budget = TracebackBudget(seconds=10.0, clock=clock)
    assert budget.whole("db") is True
    assert budget.whole("db") is False
    assert budget.whole("other") is True  # each kind has its own window
    clock.now += 9.9
    assert budget.whole("db") is False
    clock.now += 0.2
    assert budget.whole("db") is True
    assert budget.whole("db") is False


def test_one_line_keeps_the_type_and_the_first_line_only():
    error = RuntimeError("connection failed: server closed\n[SQL: SELECT secret_plan]\n(Background ...)")
    assert one_line(error) == "RuntimeError: connection failed: server closed"
    assert one_line(RuntimeError()) == "RuntimeError"

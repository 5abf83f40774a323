"""Faults, quick version: SIGKILLed gunicorn workers and a PostgreSQL restart under provider traffic.

    make test PYTEST_ARGS="tests/faults -s"                 # quick, figures printed
    .venv/bin/python -m wallet.pgserver throwaway -- .venv/bin/python scripts/faults.py --threads 6 --rounds 80 --kills 40 --db-restarts 4
"""

from __future__ import annotations

import pytest

from tests.faults.harness import Plan, run

pytestmark = pytest.mark.slow


def test_no_money_is_lost_or_doubled_when_workers_die_and_the_database_restarts() -> None:
    figures = run(Plan(threads=4, rounds=10, kills=8, db_restarts=1, workers=2))
    print(f"\nfaults: {figures}")
    assert figures["worker_kills"] == 8 and figures["db_restarts"] == 1

#!/usr/bin/env python3
"""Long fault run: provider traffic while gunicorn workers are SIGKILLed and PostgreSQL restarts.

    .venv/bin/python scripts/faults.py --threads 6 --rounds 80 --kills 40 --db-restarts 4

Starts its own PostgreSQL (initdb/pg_ctl) and gunicorn; prints the figures as
JSON and exits non-zero if anything was lost, doubled or answered 0 without
being committed (see tests/faults/harness.py for what is checked).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.faults.harness import Plan, run  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=6, help="game servers (one player each)")
    parser.add_argument("--rounds", type=int, default=60, help="rounds per game server")
    parser.add_argument("--kills", type=int, default=30, help="worker SIGKILLs")
    parser.add_argument("--db-restarts", type=int, default=3, help="PostgreSQL immediate stops and restarts")
    parser.add_argument("--workers", type=int, default=3, help="gunicorn workers")
    parser.add_argument("--deadline", type=float, default=900.0, help="seconds before giving up")
    args = parser.parse_args()
    figures = run(Plan(threads=args.threads, rounds=args.rounds, kills=args.kills, db_restarts=args.db_restarts,
                       workers=args.workers, deadline_s=args.deadline))
    print(json.dumps(figures, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())

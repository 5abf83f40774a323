"""The money rules' SQL: the current source of every stored function and view of the ledger.

`wallet/ledger/sql/` holds one readable file per concern; FILES is the order
they are installed in (helpers first). Migrations install a frozen copy of
these files (a new migration for every change, never an edit of an old one:
migrations/replaceable.py), and tests/integration/test_rulebook.py proves that
a database at head holds exactly what these files define.
"""

from __future__ import annotations

from pathlib import Path

SQL_DIR = Path(__file__).resolve().parent / "sql"

FILES = (
    "money.sql",              # wallet_minor_unit, wallet_to_minor, wallet_precision_error
    "answers.sql",            # wallet_answer and the shared descriptions
    "requests.sql",           # the request log: wallet_stored, wallet_remember, its day partitions
    "opening.sql",            # wallet_open: replay, locks, player
    "reference_entries.sql",  # the view of what a reference holds
    "post.sql",               # wallet_post: the only writer of the ledger
    "limits.sql",             # limits, self-exclusion, reality checks
    "check.sql",
    "balance.sql",
    "bet.sql",
    "result.sql",
    "reversal.sql",           # wallet_reverse: the rule of Refund and Cancel
    "refund.sql",
    "cancel.sql",
    "endround.sql",
    "prizes.sql",             # PromoWin, JackpotWin, BonusWin
    "sessions.sql",           # SessionExpired
    "adjust.sql",
)


def source(directory: Path = SQL_DIR, files: tuple[str, ...] = FILES) -> str:
    """The files' text, in installation order: one script of CREATE OR REPLACE statements."""
    return "\n".join((directory / name).read_text() for name in files)

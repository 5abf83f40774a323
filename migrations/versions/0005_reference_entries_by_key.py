"""PostgreSQL: the callbacks' reads go by key, whatever the statistics say.

PL/pgSQL plans a statement once per session and then keeps a generic plan, made
from the statistics of the moment. On a new database whose reversals table held
one row when it was analysed, two of 0004's statements got generic plans that
read whole indexes instead of looking up a key, and cost more with every
refund (measured in the bench: ~2,500 index entries read per Refund after
10,000 refunds, and twice the server's CPU):

* `wallet_reference_entries` joined reversals (and rounds, players) to a
  reference's entries: the join read the whole of reversals' primary key. Each
  joined column is now a scalar subquery on a key, which PostgreSQL can only run
  as a look-up by that key. Same columns, same rows: every entry has its player,
  and rounds and reversals are looked up by primary key (at most one row each).
* `wallet_refund`'s round refund (path 2) found the round's bets through the
  index on `kind` (every bet of the ledger, then filtered by round) and
  anti-joined them with the whole of reversals' key. It now reads the round's
  entries by the round's key, and each one's reversal by the bet's key.

tests/integration/test_functions.py plans them from such statistics and counts
the index entries read.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24
"""
from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BY_KEY = """
CREATE OR REPLACE VIEW wallet_reference_entries AS
SELECT t.reference, t.id, t.kind, t.amount, t.balance_after, t.currency, t.round_pk,
       (SELECT o.user_id FROM players o WHERE o.id = t.player_id) AS user_id,
       (SELECT rd.round_id FROM rounds rd WHERE rd.id = t.round_pk) AS round_id,
       (SELECT rv.refund_id FROM reversals rv WHERE rv.bet_id = t.id) AS reversed_by
FROM transactions t
"""

# wallet_refund's round refund (path 2) in 0004, and now. It had the same trap twice: its generic
# plan found the round's bets through the index on `kind` (every bet of the ledger, then filtered
# by round), and anti-joined them with the whole of reversals' primary key. It now reads the
# round's entries by the round's key, and each one's reversal by the bet's key.
ROUND_BETS_JOINED = """
      SELECT array_agg(t.id ORDER BY t.id), array_agg(-t.amount ORDER BY t.id), sum(-t.amount)
      INTO v_ids, v_amounts, v_total
      FROM transactions t LEFT JOIN reversals rv ON rv.bet_id = t.id
      WHERE t.round_pk = v_round.id AND t.kind = 'bet' AND rv.bet_id IS NULL;
"""
ROUND_BETS_BY_KEY = """
      -- By the round's key only (see the header): `kind` and the reversal are read per entry.
      SELECT array_agg(e.id ORDER BY e.id) FILTER (WHERE e.open),
             array_agg(-e.amount ORDER BY e.id) FILTER (WHERE e.open), sum(-e.amount) FILTER (WHERE e.open)
      INTO v_ids, v_amounts, v_total
      FROM (SELECT t.id, t.amount,
                   t.kind = 'bet' AND (SELECT rv.bet_id FROM reversals rv WHERE rv.bet_id = t.id) IS NULL AS open
            FROM transactions t WHERE t.round_pk = v_round.id) e;
"""


def _from_0004(name: str) -> str:
    """A statement of revision 0004 (frozen), made to replace what is there: the text to go back to,
    and the base of the new wallet_refund, whose only change is its round refund."""
    sql: str = getattr(op.get_context().script.get_revision("0004").module, name)
    return sql.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1).replace(
        "CREATE VIEW", "CREATE OR REPLACE VIEW", 1
    )


def refund_by_key() -> str:
    refund = _from_0004("REFUND")
    assert refund.count(ROUND_BETS_JOINED) == 1, "0004's round refund is not where 0005 expects it"
    return refund.replace(ROUND_BETS_JOINED, ROUND_BETS_BY_KEY)


def upgrade() -> None:
    op.execute(BY_KEY)
    op.execute(refund_by_key())


def downgrade() -> None:
    op.execute(_from_0004("REFUND"))
    op.execute(_from_0004("REFERENCE_ENTRIES"))

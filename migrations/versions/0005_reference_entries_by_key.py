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

# 0004's text, to go back to.
JOINED = """
CREATE OR REPLACE VIEW wallet_reference_entries AS
SELECT t.reference, t.id, t.kind, t.amount, t.balance_after, t.currency, t.round_pk, o.user_id, rd.round_id,
       rv.refund_id AS reversed_by
FROM transactions t
JOIN players o ON o.id = t.player_id
LEFT JOIN rounds rd ON rd.id = t.round_pk
LEFT JOIN reversals rv ON rv.bet_id = t.id
"""

# wallet_refund as in 0004 but for its round refund (path 2), which had the same trap twice: its
# generic plan found the round's bets through the index on `kind` (every bet of the ledger, then
# filtered by round), and anti-joined them with the whole of reversals' primary key. It now reads
# the round's entries by the round's key, and each one's reversal by the bet's key.
REFUND_BY_KEY = """CREATE OR REPLACE FUNCTION wallet_refund(
    p_uuid text, p_body_hash text, p_lock_key integer, p_user_id text, p_reference text,
    p_currency text, p_amount numeric, p_round_id text, p_session_id text, p_provider_id text,
    p_game_id text, p_game_name text, p_round_details text, p_bonus_code text, p_provider_ts text,
    p_now timestamptz, OUT o_error integer, OUT o_body text, OUT o_moved bigint, OUT o_currency text)
LANGUAGE plpgsql
SET enable_seqscan = off  -- index look-ups only, whatever the statistics say (see SEQSCAN above)
AS $$
DECLARE
  v_player players%ROWTYPE;
  v_known_player boolean;
  v_round rounds%ROWTYPE;
  v_has_round boolean := false;
  v_row record;
  -- the bet and the refund already under this reference (scalars: PL/pgSQL reads every
  -- variable of an expression, and an unassigned record cannot be read)
  v_has_bet boolean := false;
  v_bet_id bigint;
  v_bet_amount bigint;
  v_bet_round_pk bigint;
  v_bet_reversed_by bigint;
  v_has_earlier boolean := false;
  v_earlier_id bigint;
  v_earlier_amount bigint;
  v_earlier_balance bigint;
  v_earlier_currency text;
  v_has_win boolean := false;
  v_owner text;
  v_known_round text;
  v_given bigint;
  v_ids bigint[];
  v_amounts bigint[];
  v_total bigint;
  v_cancel bigint;
  v_tx bigint;
  v_balance bigint;
  v_description text;
BEGIN
  o_body := wallet_stored(p_uuid, p_body_hash, p_reference);
  IF o_body IS NOT NULL THEN  -- a uuid answered before: its answer again (or 5)
    o_error := (o_body::json ->> 'error')::integer;
    RETURN;
  END IF;

  -- Locks: the reference, then the player (services.py: reference -> player -> round).
  PERFORM pg_advisory_xact_lock(1470, p_lock_key);
  SELECT * INTO v_player FROM players WHERE user_id = p_user_id FOR UPDATE;
  v_known_player := FOUND;
  -- What the reference already holds (a new snapshot: it sees what the lock's last holder wrote).
  FOR v_row IN SELECT * FROM wallet_reference_entries e WHERE e.reference = p_reference LOOP
    IF v_row.kind = 'bet' THEN
      v_has_bet := true;
      v_bet_id := v_row.id; v_bet_amount := v_row.amount; v_bet_round_pk := v_row.round_pk;
      v_bet_reversed_by := v_row.reversed_by;
      v_known_round := v_row.round_id;  -- the bet's round first
      v_owner := coalesce(v_owner, v_row.user_id);
    ELSIF v_row.kind = 'refund' THEN
      v_has_earlier := true;
      v_earlier_id := v_row.id; v_earlier_amount := v_row.amount; v_earlier_balance := v_row.balance_after;
      v_earlier_currency := v_row.currency;
      v_owner := v_row.user_id;  -- the refund's owner first
      IF NOT v_has_bet THEN
        v_known_round := v_row.round_id;
      END IF;
    ELSIF v_row.kind = 'win' THEN
      v_has_win := true;
    END IF;
  END LOOP;

  -- Checks, in services.refund's order; a refusal writes nothing but its stored answer.
  IF v_owner IS NOT NULL AND v_owner <> p_user_id THEN
    o_error := 7; v_description := 'Reference belongs to another player';
  ELSIF v_has_win THEN
    o_error := 7; v_description := 'Reference already used by a result';
  ELSIF NOT v_known_player THEN
    o_error := 100; v_description := 'Player ' || p_user_id || ' not found';
  ELSIF p_currency IS NOT NULL AND p_currency <> v_player.currency THEN
    o_error := 2; v_description := 'Currency ' || p_currency || ' does not match the wallet''s ' || v_player.currency;
  ELSE
    IF p_amount IS NOT NULL THEN
      v_given := wallet_to_minor(p_amount, v_player.currency);
      IF v_given IS NULL THEN
        o_error := 10;
        v_description := 'Invalid amount: amount has more than ' || wallet_minor_unit(v_player.currency)
                         || ' decimal places for ' || v_player.currency;
      END IF;
    END IF;
    IF o_error IS NOT NULL THEN
      NULL;
    ELSIF v_has_bet AND v_given IS NOT NULL AND v_given <> -v_bet_amount THEN
      o_error := 10; v_description := 'Amount differs from the bet''s amount';
    ELSIF p_round_id IS NOT NULL AND v_known_round IS NOT NULL AND v_known_round <> p_round_id THEN
      o_error := 7; v_description := 'Reference already used in another round';
    ELSIF v_has_earlier AND NOT v_has_bet AND v_given IS NOT NULL AND v_given <> v_earlier_amount
          AND EXISTS (SELECT 1 FROM reversals rv WHERE rv.refund_id = v_earlier_id) THEN
      -- a round refund retransmitted with another amount (a refund of nothing stores no amount)
      o_error := 7; v_description := 'Reference already used by a refund of another amount';
    END IF;
  END IF;
  IF o_error IS NOT NULL THEN
    o_body := wallet_remember(p_uuid, 'refund', p_body_hash, o_error,
                              wallet_answer(o_error, v_description, p_reference), p_now);
    RETURN;
  END IF;

  o_error := 0;
  IF v_has_earlier THEN  -- a retransmission of this refund: answer as the first time
    o_body := wallet_remember(p_uuid, 'refund', p_body_hash, 0, wallet_answer(
      0,
      CASE WHEN v_earlier_amount <> 0 OR v_has_bet THEN 'Success'
           ELSE 'Success: no bet with this reference or round, nothing refunded' END,
      p_reference, v_earlier_id, v_earlier_currency, v_earlier_balance), p_now);
    RETURN;
  END IF;

  IF v_has_bet THEN  -- path 1: the bet with this reference
    SELECT * INTO v_round FROM rounds WHERE id = v_bet_round_pk FOR UPDATE;
    v_has_round := true;
    IF v_bet_reversed_by IS NOT NULL THEN  -- refunded already, by a round refund
      SELECT t.id, t.balance_after INTO v_tx, v_balance FROM transactions t WHERE t.id = v_bet_reversed_by;
      o_body := wallet_remember(p_uuid, 'refund', p_body_hash, 0,
                                wallet_answer(0, 'Success', p_reference, v_tx, v_player.currency, v_balance), p_now);
      RETURN;
    END IF;
    IF v_round.has_result OR v_round.status = 'ended' THEN
      o_error := 3; v_description := 'Round already settled; a bet with a result is not refundable';
    ELSE
      v_ids := ARRAY[v_bet_id]; v_amounts := ARRAY[-v_bet_amount]; v_total := -v_bet_amount;
    END IF;
  ELSIF p_round_id IS NOT NULL THEN  -- path 2: the player's round's bets not refunded yet
    SELECT * INTO v_round FROM rounds WHERE player_id = v_player.id AND round_id = p_round_id FOR UPDATE;
    v_has_round := FOUND;
    IF v_has_round THEN
      -- By the round's key only (see the header): `kind` and the reversal are read per entry.
      SELECT array_agg(e.id ORDER BY e.id) FILTER (WHERE e.open),
             array_agg(-e.amount ORDER BY e.id) FILTER (WHERE e.open), sum(-e.amount) FILTER (WHERE e.open)
      INTO v_ids, v_amounts, v_total
      FROM (SELECT t.id, t.amount,
                   t.kind = 'bet' AND (SELECT rv.bet_id FROM reversals rv WHERE rv.bet_id = t.id) IS NULL AS open
            FROM transactions t WHERE t.round_pk = v_round.id) e;
      IF v_ids IS NULL THEN
        NULL;
      ELSIF v_given IS NOT NULL AND v_given <> v_total THEN
        o_error := 10; v_description := 'Amount differs from the round''s bets';
      ELSIF v_round.has_result OR v_round.status = 'ended' THEN
        o_error := 3; v_description := 'Round already settled; not refundable';
      END IF;
    END IF;
  END IF;
  IF o_error <> 0 THEN
    o_body := wallet_remember(p_uuid, 'refund', p_body_hash, o_error,
                              wallet_answer(o_error, v_description, p_reference), p_now);
    RETURN;
  END IF;

  IF v_ids IS NOT NULL THEN  -- reverse the bets as one refund entry, and cancel the round
    v_balance := v_player.balance + v_total;
    v_tx := wallet_post(
      v_player.id, v_player.balance, 'refund', v_total, v_player.currency, p_reference, v_round.id,
      p_uuid, p_session_id, p_provider_id, p_game_id, p_game_name, p_round_details, p_bonus_code,
      p_provider_ts, NULL, v_ids, v_amounts,
      CASE WHEN v_round.status <> 'cancelled' THEN v_round.id END, p_now);
    o_body := wallet_answer(0, 'Success', p_reference, v_tx, v_player.currency, v_balance);
    o_moved := v_total;
  ELSE  -- path 3: nothing to reverse; record the refund so that a late Bet with it gets 3
    IF p_round_id IS NOT NULL AND NOT v_has_round THEN
      INSERT INTO rounds (round_id, player_id, game_id, status, has_result, created_at, updated_at)
      VALUES (p_round_id, v_player.id, p_game_id, 'cancelled', false, p_now, p_now)
      RETURNING * INTO v_round;
      v_has_round := true;
    ELSIF v_has_round AND v_round.status = 'open' AND NOT v_round.has_result THEN
      v_cancel := v_round.id;
    END IF;
    v_balance := v_player.balance;
    v_tx := wallet_post(
      v_player.id, v_player.balance, 'refund', 0, v_player.currency, p_reference,
      CASE WHEN v_has_round THEN v_round.id END,
      p_uuid, p_session_id, p_provider_id, p_game_id, p_game_name, p_round_details, p_bonus_code,
      p_provider_ts, 'no matching bet: nothing refunded', NULL, NULL, v_cancel, p_now);
    o_body := wallet_answer(0, 'Success: no bet with this reference or round, nothing refunded',
                            p_reference, v_tx, v_player.currency, v_balance);
    o_moved := 0;
  END IF;
  o_currency := v_player.currency;
  o_body := wallet_remember(p_uuid, 'refund', p_body_hash, 0, o_body, p_now);
END
$$
"""

# 0004's wallet_refund, to go back to.
REFUND_JOINED = """CREATE OR REPLACE FUNCTION wallet_refund(
    p_uuid text, p_body_hash text, p_lock_key integer, p_user_id text, p_reference text,
    p_currency text, p_amount numeric, p_round_id text, p_session_id text, p_provider_id text,
    p_game_id text, p_game_name text, p_round_details text, p_bonus_code text, p_provider_ts text,
    p_now timestamptz, OUT o_error integer, OUT o_body text, OUT o_moved bigint, OUT o_currency text)
LANGUAGE plpgsql
SET enable_seqscan = off  -- index look-ups only, whatever the statistics say (see SEQSCAN above)
AS $$
DECLARE
  v_player players%ROWTYPE;
  v_known_player boolean;
  v_round rounds%ROWTYPE;
  v_has_round boolean := false;
  v_row record;
  -- the bet and the refund already under this reference (scalars: PL/pgSQL reads every
  -- variable of an expression, and an unassigned record cannot be read)
  v_has_bet boolean := false;
  v_bet_id bigint;
  v_bet_amount bigint;
  v_bet_round_pk bigint;
  v_bet_reversed_by bigint;
  v_has_earlier boolean := false;
  v_earlier_id bigint;
  v_earlier_amount bigint;
  v_earlier_balance bigint;
  v_earlier_currency text;
  v_has_win boolean := false;
  v_owner text;
  v_known_round text;
  v_given bigint;
  v_ids bigint[];
  v_amounts bigint[];
  v_total bigint;
  v_cancel bigint;
  v_tx bigint;
  v_balance bigint;
  v_description text;
BEGIN
  o_body := wallet_stored(p_uuid, p_body_hash, p_reference);
  IF o_body IS NOT NULL THEN  -- a uuid answered before: its answer again (or 5)
    o_error := (o_body::json ->> 'error')::integer;
    RETURN;
  END IF;

  -- Locks: the reference, then the player (services.py: reference -> player -> round).
  PERFORM pg_advisory_xact_lock(1470, p_lock_key);
  SELECT * INTO v_player FROM players WHERE user_id = p_user_id FOR UPDATE;
  v_known_player := FOUND;
  -- What the reference already holds (a new snapshot: it sees what the lock's last holder wrote).
  FOR v_row IN SELECT * FROM wallet_reference_entries e WHERE e.reference = p_reference LOOP
    IF v_row.kind = 'bet' THEN
      v_has_bet := true;
      v_bet_id := v_row.id; v_bet_amount := v_row.amount; v_bet_round_pk := v_row.round_pk;
      v_bet_reversed_by := v_row.reversed_by;
      v_known_round := v_row.round_id;  -- the bet's round first
      v_owner := coalesce(v_owner, v_row.user_id);
    ELSIF v_row.kind = 'refund' THEN
      v_has_earlier := true;
      v_earlier_id := v_row.id; v_earlier_amount := v_row.amount; v_earlier_balance := v_row.balance_after;
      v_earlier_currency := v_row.currency;
      v_owner := v_row.user_id;  -- the refund's owner first
      IF NOT v_has_bet THEN
        v_known_round := v_row.round_id;
      END IF;
    ELSIF v_row.kind = 'win' THEN
      v_has_win := true;
    END IF;
  END LOOP;

  -- Checks, in services.refund's order; a refusal writes nothing but its stored answer.
  IF v_owner IS NOT NULL AND v_owner <> p_user_id THEN
    o_error := 7; v_description := 'Reference belongs to another player';
  ELSIF v_has_win THEN
    o_error := 7; v_description := 'Reference already used by a result';
  ELSIF NOT v_known_player THEN
    o_error := 100; v_description := 'Player ' || p_user_id || ' not found';
  ELSIF p_currency IS NOT NULL AND p_currency <> v_player.currency THEN
    o_error := 2; v_description := 'Currency ' || p_currency || ' does not match the wallet''s ' || v_player.currency;
  ELSE
    IF p_amount IS NOT NULL THEN
      v_given := wallet_to_minor(p_amount, v_player.currency);
      IF v_given IS NULL THEN
        o_error := 10;
        v_description := 'Invalid amount: amount has more than ' || wallet_minor_unit(v_player.currency)
                         || ' decimal places for ' || v_player.currency;
      END IF;
    END IF;
    IF o_error IS NOT NULL THEN
      NULL;
    ELSIF v_has_bet AND v_given IS NOT NULL AND v_given <> -v_bet_amount THEN
      o_error := 10; v_description := 'Amount differs from the bet''s amount';
    ELSIF p_round_id IS NOT NULL AND v_known_round IS NOT NULL AND v_known_round <> p_round_id THEN
      o_error := 7; v_description := 'Reference already used in another round';
    ELSIF v_has_earlier AND NOT v_has_bet AND v_given IS NOT NULL AND v_given <> v_earlier_amount
          AND EXISTS (SELECT 1 FROM reversals rv WHERE rv.refund_id = v_earlier_id) THEN
      -- a round refund retransmitted with another amount (a refund of nothing stores no amount)
      o_error := 7; v_description := 'Reference already used by a refund of another amount';
    END IF;
  END IF;
  IF o_error IS NOT NULL THEN
    o_body := wallet_remember(p_uuid, 'refund', p_body_hash, o_error,
                              wallet_answer(o_error, v_description, p_reference), p_now);
    RETURN;
  END IF;

  o_error := 0;
  IF v_has_earlier THEN  -- a retransmission of this refund: answer as the first time
    o_body := wallet_remember(p_uuid, 'refund', p_body_hash, 0, wallet_answer(
      0,
      CASE WHEN v_earlier_amount <> 0 OR v_has_bet THEN 'Success'
           ELSE 'Success: no bet with this reference or round, nothing refunded' END,
      p_reference, v_earlier_id, v_earlier_currency, v_earlier_balance), p_now);
    RETURN;
  END IF;

  IF v_has_bet THEN  -- path 1: the bet with this reference
    SELECT * INTO v_round FROM rounds WHERE id = v_bet_round_pk FOR UPDATE;
    v_has_round := true;
    IF v_bet_reversed_by IS NOT NULL THEN  -- refunded already, by a round refund
      SELECT t.id, t.balance_after INTO v_tx, v_balance FROM transactions t WHERE t.id = v_bet_reversed_by;
      o_body := wallet_remember(p_uuid, 'refund', p_body_hash, 0,
                                wallet_answer(0, 'Success', p_reference, v_tx, v_player.currency, v_balance), p_now);
      RETURN;
    END IF;
    IF v_round.has_result OR v_round.status = 'ended' THEN
      o_error := 3; v_description := 'Round already settled; a bet with a result is not refundable';
    ELSE
      v_ids := ARRAY[v_bet_id]; v_amounts := ARRAY[-v_bet_amount]; v_total := -v_bet_amount;
    END IF;
  ELSIF p_round_id IS NOT NULL THEN  -- path 2: the player's round's bets not refunded yet
    SELECT * INTO v_round FROM rounds WHERE player_id = v_player.id AND round_id = p_round_id FOR UPDATE;
    v_has_round := FOUND;
    IF v_has_round THEN
      SELECT array_agg(t.id ORDER BY t.id), array_agg(-t.amount ORDER BY t.id), sum(-t.amount)
      INTO v_ids, v_amounts, v_total
      FROM transactions t LEFT JOIN reversals rv ON rv.bet_id = t.id
      WHERE t.round_pk = v_round.id AND t.kind = 'bet' AND rv.bet_id IS NULL;
      IF v_ids IS NULL THEN
        NULL;
      ELSIF v_given IS NOT NULL AND v_given <> v_total THEN
        o_error := 10; v_description := 'Amount differs from the round''s bets';
      ELSIF v_round.has_result OR v_round.status = 'ended' THEN
        o_error := 3; v_description := 'Round already settled; not refundable';
      END IF;
    END IF;
  END IF;
  IF o_error <> 0 THEN
    o_body := wallet_remember(p_uuid, 'refund', p_body_hash, o_error,
                              wallet_answer(o_error, v_description, p_reference), p_now);
    RETURN;
  END IF;

  IF v_ids IS NOT NULL THEN  -- reverse the bets as one refund entry, and cancel the round
    v_balance := v_player.balance + v_total;
    v_tx := wallet_post(
      v_player.id, v_player.balance, 'refund', v_total, v_player.currency, p_reference, v_round.id,
      p_uuid, p_session_id, p_provider_id, p_game_id, p_game_name, p_round_details, p_bonus_code,
      p_provider_ts, NULL, v_ids, v_amounts,
      CASE WHEN v_round.status <> 'cancelled' THEN v_round.id END, p_now);
    o_body := wallet_answer(0, 'Success', p_reference, v_tx, v_player.currency, v_balance);
    o_moved := v_total;
  ELSE  -- path 3: nothing to reverse; record the refund so that a late Bet with it gets 3
    IF p_round_id IS NOT NULL AND NOT v_has_round THEN
      INSERT INTO rounds (round_id, player_id, game_id, status, has_result, created_at, updated_at)
      VALUES (p_round_id, v_player.id, p_game_id, 'cancelled', false, p_now, p_now)
      RETURNING * INTO v_round;
      v_has_round := true;
    ELSIF v_has_round AND v_round.status = 'open' AND NOT v_round.has_result THEN
      v_cancel := v_round.id;
    END IF;
    v_balance := v_player.balance;
    v_tx := wallet_post(
      v_player.id, v_player.balance, 'refund', 0, v_player.currency, p_reference,
      CASE WHEN v_has_round THEN v_round.id END,
      p_uuid, p_session_id, p_provider_id, p_game_id, p_game_name, p_round_details, p_bonus_code,
      p_provider_ts, 'no matching bet: nothing refunded', NULL, NULL, v_cancel, p_now);
    o_body := wallet_answer(0, 'Success: no bet with this reference or round, nothing refunded',
                            p_reference, v_tx, v_player.currency, v_balance);
    o_moved := 0;
  END IF;
  o_currency := v_player.currency;
  o_body := wallet_remember(p_uuid, 'refund', p_body_hash, 0, o_body, p_now);
END
$$
"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(BY_KEY)
        op.execute(REFUND_BY_KEY)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(REFUND_JOINED)
        op.execute(JOINED)

"""PostgreSQL: Bet, Result and Refund as stored functions, one round trip per callback.

`wallet_bet(...)`, `wallet_result(...)` and `wallet_refund(...)` do on the
server what wallet/ledger/services.py `bet`, `result` and `refund` do from
Python (the SQLite path), in the same order and with the same answers: the uuid's stored answer,
the reference's advisory lock, the player's row lock, the reads, the checks,
then the writes, the answer's JSON and its row in `requests`, all in the one
implicit transaction of one `SELECT` sent in autocommit. They share a view of
what a reference already holds (`wallet_reference_entries`) and a few helpers. The service calls
them from wallet/ledger/functions.py; docs/performance.md says why, and the
model test (tests/model) holds both implementations to one model of the
protocol.

This revision is a frozen copy: a later change to a function is a new revision
(CREATE OR REPLACE), never an edit of this file.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24
"""
from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Helpers are PL/pgSQL, not SQL functions: PL/pgSQL keeps its plans for the session, while a
# SQL function called from PL/pgSQL is parsed and planned again on every call (measured: a third
# of the server's CPU per Bet).

# ISO 4217 minor units, as wallet/money.py had them at this revision
# (tests/integration/test_functions.py checks that the two agree).
MINOR_UNIT = """
CREATE FUNCTION wallet_minor_unit(p_currency text) RETURNS integer
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
BEGIN
  RETURN CASE
    WHEN p_currency IN ('BIF', 'CLP', 'DJF', 'GNF', 'ISK', 'JPY', 'KMF', 'KRW', 'PYG', 'RWF', 'UGX', 'UYI',
                        'VND', 'VUV', 'XAF', 'XOF', 'XPF') THEN 0
    WHEN p_currency IN ('BHD', 'IQD', 'JOD', 'KWD', 'LYD', 'OMR', 'TND') THEN 3
    WHEN p_currency IN ('CLF', 'UYW') THEN 4
    WHEN p_currency IN (
      'AED', 'AFN', 'ALL', 'AMD', 'ANG', 'AOA', 'ARS', 'AUD', 'AWG', 'AZN', 'BAM', 'BBD', 'BDT', 'BGN',
      'BMD', 'BND', 'BOB', 'BOV', 'BRL', 'BSD', 'BTN', 'BWP', 'BYN', 'BZD', 'CAD', 'CDF', 'CHE', 'CHF',
      'CHW', 'CNY', 'COP', 'COU', 'CRC', 'CUC', 'CUP', 'CVE', 'CZK', 'DKK', 'DOP', 'DZD', 'EGP', 'ERN',
      'ETB', 'EUR', 'FJD', 'FKP', 'GBP', 'GEL', 'GHS', 'GIP', 'GMD', 'GTQ', 'GYD', 'HKD', 'HNL', 'HTG',
      'HUF', 'IDR', 'ILS', 'INR', 'IRR', 'JMD', 'KES', 'KGS', 'KHR', 'KPW', 'KYD', 'KZT', 'LAK', 'LBP',
      'LKR', 'LRD', 'LSL', 'MAD', 'MDL', 'MGA', 'MKD', 'MMK', 'MNT', 'MOP', 'MRU', 'MUR', 'MVR', 'MWK',
      'MXN', 'MXV', 'MYR', 'MZN', 'NAD', 'NGN', 'NIO', 'NOK', 'NPR', 'NZD', 'PAB', 'PEN', 'PGK', 'PHP',
      'PKR', 'PLN', 'QAR', 'RON', 'RSD', 'RUB', 'SAR', 'SBD', 'SCR', 'SDG', 'SEK', 'SGD', 'SHP', 'SLE',
      'SLL', 'SOS', 'SRD', 'SSP', 'STN', 'SVC', 'SYP', 'SZL', 'THB', 'TJS', 'TMT', 'TOP', 'TRY', 'TTD',
      'TWD', 'TZS', 'UAH', 'USD', 'USN', 'UYU', 'UZS', 'VED', 'VES', 'WST', 'XCD', 'XCG', 'YER', 'ZAR',
      'ZMW', 'ZWG', 'ZWL') THEN 2
  END;
END
$$
"""

# Integer minor units of a provider amount in `p_currency`; NULL when it has finer precision.
TO_MINOR = """
CREATE FUNCTION wallet_to_minor(p_amount numeric, p_currency text) RETURNS bigint
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
  v_scaled numeric := p_amount * (10::numeric ^ wallet_minor_unit(p_currency));
BEGIN
  IF v_scaled = trunc(v_scaled) THEN
    RETURN v_scaled::bigint;
  END IF;
  RETURN NULL;
END
$$
"""

# A callback answer, as wallet.ledger.outcomes.Answer writes it: error, description, then
# reference (Refund), then transactionId, currency and cash with the currency's exact digits.
ANSWER = """
CREATE FUNCTION wallet_answer(p_error integer, p_description text, p_reference text,
                              p_tx_id bigint DEFAULT NULL, p_currency text DEFAULT NULL,
                              p_balance bigint DEFAULT NULL) RETURNS text
LANGUAGE plpgsql STABLE PARALLEL SAFE AS $$
BEGIN
  RETURN '{"error":' || p_error || ',"description":' || to_json(p_description)::text
    || CASE WHEN p_reference IS NULL THEN '' ELSE ',"reference":' || to_json(p_reference)::text END
    || CASE WHEN p_tx_id IS NULL THEN '' ELSE
         ',"transactionId":"' || p_tx_id || '","currency":' || to_json(p_currency)::text
         || ',"cash":' || round(p_balance::numeric / (10::numeric ^ wallet_minor_unit(p_currency)),
                                wallet_minor_unit(p_currency))::text
       END
    || '}';
END
$$
"""

# The answer stored under a uuid, for a request with body hash `p_body_hash`: the answer
# itself, or 5 when the uuid was used for another request; NULL for a new uuid. Helpers
# return one value, so that callers assign their result (a "simple expression" for PL/pgSQL)
# instead of running a SELECT through the executor.
STORED = """
CREATE FUNCTION wallet_stored(p_uuid text, p_body_hash text, p_reference text) RETURNS text
LANGUAGE plpgsql STABLE AS $$
DECLARE
  v_hash text;
  v_response text;
BEGIN
  SELECT r.body_hash, r.response INTO v_hash, v_response FROM requests r WHERE r.uuid = p_uuid;
  IF NOT FOUND THEN
    RETURN NULL;
  ELSIF v_hash = p_body_hash THEN
    RETURN v_response;
  END IF;
  RETURN wallet_answer(5, 'uuid already used for a different request', p_reference);
END
$$
"""

# Store a final answer under its uuid (100, "retry", never is) and return it. A concurrent
# transaction that stored one first makes this one fail with SQLSTATE WL409, which rolls back
# everything it did: the caller then sends the stored answer (wallet/ledger/functions.py).
REMEMBER = """
CREATE FUNCTION wallet_remember(p_uuid text, p_method text, p_body_hash text, p_error integer, p_body text,
                                p_now timestamptz)
RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
  IF p_error = 100 THEN
    RETURN p_body;
  END IF;
  INSERT INTO requests (uuid, method, body_hash, response, created_at)
  VALUES (p_uuid, p_method, p_body_hash, p_body, p_now)
  ON CONFLICT (uuid) DO NOTHING;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'uuid already answered by a concurrent request' USING ERRCODE = 'WL409';
  END IF;
  RETURN p_body;
END
$$
"""

# What a provider reference already holds: each entry under it with its owner, its round's id
# and the refund that reversed it (services._PRIOR on SQLite). A view, so that the three
# functions share one join; PostgreSQL expands it into each statement's plan (and drops the
# reversals join where a function does not read `reversed_by`).
REFERENCE_ENTRIES = """
CREATE VIEW wallet_reference_entries AS
SELECT t.reference, t.id, t.kind, t.amount, t.balance_after, t.currency, t.round_pk, o.user_id, rd.round_id,
       rv.refund_id AS reversed_by
FROM transactions t
JOIN players o ON o.id = t.player_id
LEFT JOIN rounds rd ON rd.id = t.round_pk
LEFT JOIN reversals rv ON rv.bet_id = t.id
"""

# Append one ledger entry and move the balance with it; for a refund, link the bets it reverses
# and cancel the round. The same writes as services._post.
POST = """
CREATE FUNCTION wallet_post(
    p_player_id bigint, p_balance bigint, p_kind text, p_amount bigint, p_currency text,
    p_reference text, p_round_pk bigint, p_uuid text, p_session_id text, p_provider_id text,
    p_game_id text, p_game_name text, p_round_details text, p_bonus_code text, p_provider_ts text,
    p_note text, p_bet_ids bigint[], p_bet_amounts bigint[], p_cancel_round bigint, p_now timestamptz)
RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
  v_id bigint;
BEGIN
  IF p_amount <> 0 THEN
    UPDATE players SET balance = p_balance + p_amount, updated_at = p_now WHERE id = p_player_id;
  END IF;
  IF p_cancel_round IS NOT NULL THEN
    UPDATE rounds SET status = 'cancelled', updated_at = p_now WHERE id = p_cancel_round;
  END IF;
  INSERT INTO transactions (kind, reference, player_id, round_pk, amount, balance_after, currency,
                            request_uuid, session_id, provider_id, game_id, game_name, round_details,
                            bonus_code, provider_ts, note, created_at)
  VALUES (p_kind, p_reference, p_player_id, p_round_pk, p_amount, p_balance + p_amount, p_currency,
          p_uuid, p_session_id, p_provider_id, p_game_id, p_game_name, p_round_details,
          p_bonus_code, p_provider_ts, p_note, p_now)
  RETURNING id INTO v_id;
  IF p_bet_ids IS NOT NULL THEN
    INSERT INTO reversals (bet_id, refund_id, amount)
    SELECT b.bet_id, v_id, b.amount FROM unnest(p_bet_ids, p_bet_amounts) AS b (bet_id, amount);
  END IF;
  RETURN v_id;
END
$$
"""

# SEQSCAN: PL/pgSQL plans a statement once per session and may then keep a generic plan.
# Planned while a table is small or not yet analysed (a new database, the first callbacks
# after a deploy), that plan is a sequential scan, and it stays one as the table grows until
# an ANALYZE invalidates it (measured: a new database under load spent 1.7 ms of server CPU
# per Bet instead of 0.3). Every statement here is a look-up by an indexed key, so the
# entry points run with enable_seqscan off (their helpers run inside them): the plan is an
# index scan from the first call, at any table size.

# Refund (PROTOCOL.md section 3), rule for rule as services.refund. Every answer echoes the
# reference. Outputs: the provider error code, the answer's JSON, and the amount of the
# ledger entry written (NULL when none was), for metrics.
REFUND = """
CREATE FUNCTION wallet_refund(
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

# Bet (PROTOCOL.md section 2), rule for rule as services.bet. Same outputs as wallet_refund.
BET = """
CREATE FUNCTION wallet_bet(
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
  v_has_round boolean;
  v_row record;
  v_has_bet boolean := false;  -- scalars, not a record: see wallet_refund
  v_bet_id bigint;
  v_bet_amount bigint;
  v_bet_balance bigint;
  v_bet_currency text;
  v_bet_user_id text;
  v_bet_round_id text;
  v_bet_reversed_by bigint;
  v_has_prior boolean := false;
  v_has_refund boolean := false;
  v_has_win boolean := false;
  v_stake bigint;
  v_tx bigint;
  v_balance bigint;
  v_description text;
BEGIN
  o_body := wallet_stored(p_uuid, p_body_hash, NULL);
  IF o_body IS NOT NULL THEN
    o_error := (o_body::json ->> 'error')::integer;
    RETURN;
  END IF;

  PERFORM pg_advisory_xact_lock(1470, p_lock_key);
  SELECT * INTO v_player FROM players WHERE user_id = p_user_id FOR UPDATE;
  v_known_player := FOUND;
  FOR v_row IN SELECT * FROM wallet_reference_entries e WHERE e.reference = p_reference LOOP
    v_has_prior := true;
    IF v_row.kind = 'bet' THEN
      v_has_bet := true;
      v_bet_id := v_row.id; v_bet_amount := v_row.amount; v_bet_balance := v_row.balance_after;
      v_bet_currency := v_row.currency; v_bet_user_id := v_row.user_id; v_bet_round_id := v_row.round_id;
      v_bet_reversed_by := v_row.reversed_by;
    ELSIF v_row.kind = 'refund' THEN
      v_has_refund := true;
    ELSIF v_row.kind = 'win' THEN
      v_has_win := true;
    END IF;
  END LOOP;

  IF NOT v_known_player THEN
    IF v_has_prior THEN
      o_error := 7; v_description := 'Reference belongs to another player';
    ELSE
      o_error := 100; v_description := 'Player ' || p_user_id || ' not found';
    END IF;
  ELSIF p_currency IS NOT NULL AND p_currency <> v_player.currency THEN
    o_error := 2; v_description := 'Currency ' || p_currency || ' does not match the wallet''s ' || v_player.currency;
  ELSE
    v_stake := wallet_to_minor(p_amount, v_player.currency);
    IF v_stake IS NULL THEN
      o_error := 10;
      v_description := 'Invalid amount: amount has more than ' || wallet_minor_unit(v_player.currency)
                       || ' decimal places for ' || v_player.currency;
    ELSIF v_has_win THEN
      o_error := 7; v_description := 'Reference already used by a result';
    ELSIF v_has_bet AND (v_bet_user_id <> p_user_id OR v_bet_amount <> -v_stake
                         OR v_bet_round_id IS DISTINCT FROM p_round_id) THEN
      o_error := 7; v_description := 'Reference already used by a different bet';
    ELSIF v_has_refund OR (v_has_bet AND v_bet_reversed_by IS NOT NULL) THEN
      o_error := 3; v_description := 'Reference already refunded';
    ELSIF v_has_bet THEN  -- a retransmission: answer as the first time, move nothing
      o_error := 0;
      o_body := wallet_remember(p_uuid, 'bet', p_body_hash, 0,
                                wallet_answer(0, 'Success', NULL, v_bet_id, v_bet_currency, v_bet_balance), p_now);
      RETURN;
    ELSIF v_player.status = 'frozen' THEN
      o_error := 6; v_description := 'Player is frozen';
    ELSE
      SELECT * INTO v_round FROM rounds WHERE player_id = v_player.id AND round_id = p_round_id FOR UPDATE;
      v_has_round := FOUND;
      IF v_has_round AND v_round.status = 'cancelled' THEN
        o_error := 3; v_description := 'Round is cancelled';
      ELSIF v_has_round AND v_round.status = 'ended' THEN
        o_error := 3; v_description := 'Round has ended';
      ELSIF v_player.balance < v_stake THEN
        o_error := 1; v_description := 'Insufficient balance';
      END IF;
    END IF;
  END IF;
  IF o_error IS NOT NULL THEN
    o_body := wallet_remember(p_uuid, 'bet', p_body_hash, o_error, wallet_answer(o_error, v_description, NULL), p_now);
    RETURN;
  END IF;

  IF NOT v_has_round THEN
    -- The player's row lock serialises every writer of the player's rounds, so the round cannot
    -- appear meanwhile; if it did, the unique key would refuse it and the provider retry (100).
    INSERT INTO rounds (round_id, player_id, game_id, status, has_result, created_at, updated_at)
    VALUES (p_round_id, v_player.id, p_game_id, 'open', false, p_now, p_now)
    RETURNING * INTO v_round;
  END IF;
  v_balance := v_player.balance - v_stake;
  v_tx := wallet_post(
    v_player.id, v_player.balance, 'bet', -v_stake, v_player.currency, p_reference, v_round.id,
    p_uuid, p_session_id, p_provider_id, p_game_id, p_game_name, p_round_details, p_bonus_code,
    p_provider_ts, NULL, NULL, NULL, NULL, p_now);
  o_error := 0;
  o_body := wallet_answer(0, 'Success', NULL, v_tx, v_player.currency, v_balance);
  o_moved := -v_stake;
  o_currency := v_player.currency;
  o_body := wallet_remember(p_uuid, 'bet', p_body_hash, 0, o_body, p_now);
END
$$
"""

# Result (PROTOCOL.md section 2), rule for rule as services.result. Paid to frozen players too.
RESULT = """
CREATE FUNCTION wallet_result(
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
  v_has_round boolean;
  v_row record;
  v_has_prior boolean := false;
  v_has_bet_or_refund boolean := false;
  v_has_win boolean := false;  -- scalars, not a record: see wallet_refund
  v_win_id bigint;
  v_win_amount bigint;
  v_win_balance bigint;
  v_win_currency text;
  v_win_user_id text;
  v_win_round_id text;
  v_amount bigint;
  v_tx bigint;
  v_balance bigint;
  v_description text;
BEGIN
  o_body := wallet_stored(p_uuid, p_body_hash, NULL);
  IF o_body IS NOT NULL THEN
    o_error := (o_body::json ->> 'error')::integer;
    RETURN;
  END IF;

  PERFORM pg_advisory_xact_lock(1470, p_lock_key);
  SELECT * INTO v_player FROM players WHERE user_id = p_user_id FOR UPDATE;
  v_known_player := FOUND;
  FOR v_row IN
    SELECT e.id, e.kind, e.amount, e.balance_after, e.currency, e.user_id, e.round_id
    FROM wallet_reference_entries e WHERE e.reference = p_reference
  LOOP
    v_has_prior := true;
    IF v_row.kind IN ('bet', 'refund') THEN
      v_has_bet_or_refund := true;
    ELSIF v_row.kind = 'win' THEN
      v_has_win := true;
      v_win_id := v_row.id; v_win_amount := v_row.amount; v_win_balance := v_row.balance_after;
      v_win_currency := v_row.currency; v_win_user_id := v_row.user_id; v_win_round_id := v_row.round_id;
    END IF;
  END LOOP;

  IF NOT v_known_player THEN
    IF v_has_prior THEN
      o_error := 7; v_description := 'Reference belongs to another player';
    ELSE
      o_error := 100; v_description := 'Player ' || p_user_id || ' not found';
    END IF;
  ELSIF p_currency IS NOT NULL AND p_currency <> v_player.currency THEN
    o_error := 2; v_description := 'Currency ' || p_currency || ' does not match the wallet''s ' || v_player.currency;
  ELSE
    v_amount := wallet_to_minor(p_amount, v_player.currency);
    IF v_amount IS NULL THEN
      o_error := 10;
      v_description := 'Invalid amount: amount has more than ' || wallet_minor_unit(v_player.currency)
                       || ' decimal places for ' || v_player.currency;
    ELSIF v_has_bet_or_refund THEN
      o_error := 7; v_description := 'Reference already used by a bet';
    ELSIF v_has_win AND (v_win_user_id <> p_user_id OR v_win_amount <> v_amount
                         OR v_win_round_id IS DISTINCT FROM p_round_id) THEN
      o_error := 7; v_description := 'Reference already used by a different result';
    ELSIF v_has_win THEN  -- a retransmission: answer as the first time, move nothing
      o_error := 0;
      o_body := wallet_remember(p_uuid, 'result', p_body_hash, 0,
                                wallet_answer(0, 'Success', NULL, v_win_id, v_win_currency, v_win_balance), p_now);
      RETURN;
    ELSE
      SELECT * INTO v_round FROM rounds WHERE player_id = v_player.id AND round_id = p_round_id FOR UPDATE;
      v_has_round := FOUND;
      IF v_has_round AND v_round.status = 'cancelled' THEN
        o_error := 3; v_description := 'Round is cancelled';
      END IF;
    END IF;
  END IF;
  IF o_error IS NOT NULL THEN
    o_body := wallet_remember(p_uuid, 'result', p_body_hash, o_error,
                              wallet_answer(o_error, v_description, NULL), p_now);
    RETURN;
  END IF;

  IF NOT v_has_round THEN  -- a Result for a round never seen: it opens it, settled (see wallet_bet)
    INSERT INTO rounds (round_id, player_id, game_id, status, has_result, created_at, updated_at)
    VALUES (p_round_id, v_player.id, p_game_id, 'open', true, p_now, p_now)
    RETURNING * INTO v_round;
  ELSIF NOT v_round.has_result THEN
    UPDATE rounds SET has_result = true, updated_at = p_now WHERE id = v_round.id;
  END IF;
  v_balance := v_player.balance + v_amount;
  v_tx := wallet_post(
    v_player.id, v_player.balance, 'win', v_amount, v_player.currency, p_reference, v_round.id,
    p_uuid, p_session_id, p_provider_id, p_game_id, p_game_name, p_round_details, p_bonus_code,
    p_provider_ts, NULL, NULL, NULL, NULL, p_now);
  o_error := 0;
  o_body := wallet_answer(0, 'Success', NULL, v_tx, v_player.currency, v_balance);
  o_moved := v_amount;
  o_currency := v_player.currency;
  o_body := wallet_remember(p_uuid, 'result', p_body_hash, 0, o_body, p_now);
END
$$
"""

STATEMENTS = (REFERENCE_ENTRIES, MINOR_UNIT, TO_MINOR, ANSWER, STORED, REMEMBER, POST, REFUND, BET, RESULT)
SIGNATURES = (
    "wallet_result(text, text, integer, text, text, text, numeric, text, text, text, text, text, text, text, "
    "text, timestamptz)",
    "wallet_bet(text, text, integer, text, text, text, numeric, text, text, text, text, text, text, text, text, "
    "timestamptz)",
    "wallet_refund(text, text, integer, text, text, text, numeric, text, text, text, text, text, text, text, text, "
    "timestamptz)",
    "wallet_post(bigint, bigint, text, bigint, text, text, bigint, text, text, text, text, text, text, text, "
    "text, text, bigint[], bigint[], bigint, timestamptz)",
    "wallet_remember(text, text, text, integer, text, timestamptz)",
    "wallet_stored(text, text, text)",
    "wallet_answer(integer, text, text, bigint, text, bigint)",
    "wallet_to_minor(numeric, text)",
    "wallet_minor_unit(text)",
)


def upgrade() -> None:
    for statement in STATEMENTS:
        op.execute(statement)


def downgrade() -> None:
    for signature in SIGNATURES:
        op.execute(f"DROP FUNCTION {signature}")
    op.execute("DROP VIEW wallet_reference_entries")

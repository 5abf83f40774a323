-- An admin adjustment: a signed manual credit or debit (deposit, withdrawal,
-- correction), idempotent by its reference. (docs/admin.md, "Adjustments")
--
-- Outcomes, which the admin API turns into HTTP statuses:
--   created (201), repeated (200: the same adjustment again, nothing moved),
--   not_found (404), invalid (422: zero, or too precise for the currency),
--   conflict (409: the reference holds another adjustment, or the balance
--   would go below zero).
-- The reference is locked first, in a namespace of its own ('adjustment:'), so
-- that two requests racing with one reference for different players get
-- created and conflict, never a unique-constraint error.
CREATE OR REPLACE FUNCTION wallet_adjust(
    p_user_id text, p_reference text, p_amount numeric, p_reason text, p_now timestamptz,
    OUT o_outcome text, OUT o_description text, OUT o_id bigint)
LANGUAGE plpgsql
SET enable_seqscan = off
AS $$
DECLARE
  v_player players;
  v_minor bigint;
  v_earlier transactions;
BEGIN
  PERFORM pg_advisory_xact_lock(1470, hashtext('adjustment:' || p_reference));
  SELECT * INTO v_player FROM players WHERE user_id = p_user_id FOR UPDATE;
  IF NOT FOUND THEN
    o_outcome := 'not_found'; o_description := 'player ' || p_user_id || ' not found';
    RETURN;
  END IF;
  v_minor := sign(p_amount) * wallet_to_minor(abs(p_amount), v_player.currency);
  IF v_minor IS NULL THEN
    o_outcome := 'invalid';
    o_description := 'amount has more than ' || wallet_minor_unit(v_player.currency)
                     || ' decimal places for ' || v_player.currency;
    RETURN;
  ELSIF v_minor = 0 THEN
    o_outcome := 'invalid'; o_description := 'amount must not be zero';
    RETURN;
  END IF;
  SELECT * INTO v_earlier FROM transactions WHERE reference = p_reference AND kind = 'adjustment';
  IF FOUND THEN
    IF v_earlier.player_id <> v_player.id OR v_earlier.amount <> v_minor OR v_earlier.note IS DISTINCT FROM p_reason THEN
      o_outcome := 'conflict'; o_description := 'adjustment ' || p_reference || ' already exists with other content';
    ELSE
      o_outcome := 'repeated'; o_description := 'adjustment ' || p_reference || ' already posted; nothing moved';
      o_id := v_earlier.id;
    END IF;
    RETURN;
  END IF;
  IF v_player.balance::numeric + v_minor < 0 THEN
    o_outcome := 'conflict'; o_description := 'adjustment would take the balance below zero';
    RETURN;
  ELSIF v_player.balance::numeric + v_minor > 9223372036854775807 THEN
    o_outcome := 'invalid'; o_description := 'adjustment would take the balance beyond what the wallet can hold';
    RETURN;
  END IF;
  o_id := wallet_post(
    v_player.id, v_player.balance, 'adjustment', v_minor, v_player.currency, p_reference, NULL,
    NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, p_reason, NULL, NULL, NULL, p_now);
  o_outcome := 'created'; o_description := 'adjustment ' || p_reference || ' posted';
END
$$;

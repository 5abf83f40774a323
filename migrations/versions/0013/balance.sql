-- Balance: the player's cash. (docs/protocol.md, "Balance")
-- Outputs and SET enable_seqscan: see check.sql.
CREATE OR REPLACE FUNCTION wallet_balance(
    p_uuid text, p_body_hash text, p_user_id text, p_currency text, p_now timestamptz,
    OUT o_error integer, OUT o_body text, OUT o_moved bigint, OUT o_currency text)
LANGUAGE plpgsql
SET enable_seqscan = off
AS $$
DECLARE
  v_open record;
  v_player players;
BEGIN
  SELECT * INTO v_open FROM wallet_open(p_uuid, p_body_hash, NULL, NULL, p_user_id, false);
  IF v_open.o_stored IS NOT NULL THEN
    o_error := v_open.o_error; o_body := v_open.o_stored;
    RETURN;
  END IF;
  v_player := v_open.o_player;

  IF v_player.id IS NULL THEN
    o_error := 100;
    o_body := wallet_answer(o_error, wallet_unknown_player(p_user_id), NULL);
  ELSIF p_currency IS NOT NULL AND p_currency <> v_player.currency THEN
    o_error := 2;
    o_body := wallet_answer(o_error, wallet_currency_error(p_currency, v_player.currency), NULL);
  ELSE
    o_error := 0;
    o_body := wallet_answer(0, 'Success', NULL, NULL, v_player.currency, v_player.balance);
  END IF;
  o_body := wallet_remember(p_uuid, 'balance', p_user_id, NULL, p_body_hash, o_error, o_body, p_now);
END
$$;

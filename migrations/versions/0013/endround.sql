-- EndRound: the round is over. Moves no money; repeatable. (docs/protocol.md, "EndRound")
--
-- An open round becomes ended (its bets are then settled: a Refund of them
-- answers 3); a cancelled round stays cancelled; a round never seen is recorded
-- as ended, so that a late Bet in it answers 3. Paid-out state is never undone.
-- No reference, so no reference lock: the player's row lock serialises it with
-- every other writer of the player's rounds. Outputs: see check.sql.
CREATE OR REPLACE FUNCTION wallet_endround(
    p_uuid text, p_body_hash text, p_user_id text, p_currency text, p_round_id text, p_game_id text,
    p_now timestamptz,
    OUT o_error integer, OUT o_body text, OUT o_moved bigint, OUT o_currency text)
LANGUAGE plpgsql
SET enable_seqscan = off
AS $$
DECLARE
  v_open record;
  v_player players;
  v_round rounds;
BEGIN
  SELECT * INTO v_open FROM wallet_open(p_uuid, p_body_hash, NULL, NULL, p_user_id, true);
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
    SELECT * INTO v_round FROM rounds WHERE player_id = v_player.id AND round_id = p_round_id FOR UPDATE;
    IF NOT FOUND THEN
      INSERT INTO rounds (round_id, player_id, game_id, status, has_result, created_at, updated_at)
      VALUES (p_round_id, v_player.id, p_game_id, 'ended', false, p_now, p_now);
    ELSIF v_round.status = 'open' THEN
      UPDATE rounds SET status = 'ended', updated_at = p_now WHERE id = v_round.id;
    END IF;
    o_error := 0;
    o_body := wallet_answer(0, 'Success', NULL, NULL, v_player.currency, v_player.balance);
  END IF;
  o_body := wallet_remember(p_uuid, 'endround', p_user_id, NULL, p_body_hash, o_error, o_body, p_now);
END
$$;

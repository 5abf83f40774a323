-- SessionExpired: the provider closed a game session. (docs/protocol.md, "SessionExpired")
--
-- Recorded in `sessions` (a session never seen before is recorded, expired);
-- repeatable. A later Bet in that session is refused (bet.sql); everything else
-- in it (Check, Balance, Result, Refund, Cancel, EndRound, prizes) goes on as
-- usual: the money of a round already played is the player's. The player's row
-- lock serialises it with the player's Bets. Outputs and SET enable_seqscan:
-- see check.sql.
CREATE OR REPLACE FUNCTION wallet_sessionexpired(
    p_uuid text, p_body_hash text, p_user_id text, p_session_id text, p_now timestamptz,
    OUT o_error integer, OUT o_body text, OUT o_moved bigint, OUT o_currency text)
LANGUAGE plpgsql
SET enable_seqscan = off
AS $$
DECLARE
  v_open record;
  v_player players;
  v_description text;
BEGIN
  SELECT * INTO v_open FROM wallet_open(p_uuid, p_body_hash, NULL, NULL, p_user_id, true);
  IF v_open.o_stored IS NOT NULL THEN
    o_error := v_open.o_error; o_body := v_open.o_stored;
    RETURN;
  END IF;
  v_player := v_open.o_player;

  IF v_player.id IS NULL THEN
    o_error := 100; v_description := wallet_unknown_player(p_user_id);
  ELSE
    INSERT INTO sessions (player_id, session_id, created_at, expired_at)
    VALUES (v_player.id, p_session_id, p_now, p_now)
    ON CONFLICT (player_id, session_id) DO UPDATE SET expired_at = coalesce(sessions.expired_at, p_now);
    o_error := 0; v_description := 'Success';
  END IF;
  o_body := wallet_remember(p_uuid, 'sessionexpired', p_user_id, NULL, p_body_hash, o_error,
                            wallet_answer(o_error, v_description, NULL), p_now);
END
$$;

-- Check: may this player bet now? (docs/protocol.md, "Check")
-- 6 for a frozen or self-excluded player, 50 when a period limit is used up.
--
-- Every callback function has the same outputs: the provider error code, the
-- answer's JSON (stored under the uuid unless it is 100), and the signed amount
-- of the ledger entry written with its currency (NULL when none was), which
-- the service counts in its metrics.
--
-- SET enable_seqscan = off, here and on every callback: PL/pgSQL plans a
-- statement once per session and may then keep a generic plan. Planned while a
-- table is small or not yet analysed (a new database, the first callbacks after
-- a deploy), that plan is a sequential scan, and it stays one as the table
-- grows (measured: 1.7 ms of server CPU per Bet instead of 0.3). Every
-- statement of these functions is a look-up by an indexed key.
CREATE OR REPLACE FUNCTION wallet_check(
    p_uuid text, p_body_hash text, p_user_id text, p_currency text, p_now timestamptz,
    OUT o_error integer, OUT o_body text, OUT o_moved bigint, OUT o_currency text)
LANGUAGE plpgsql
SET enable_seqscan = off
AS $$
DECLARE
  v_open record;
  v_player players;
  v_limits record;
  v_description text;
BEGIN
  SELECT * INTO v_open FROM wallet_open(p_uuid, p_body_hash, NULL, NULL, p_user_id, false);
  IF v_open.o_stored IS NOT NULL THEN
    o_error := v_open.o_error; o_body := v_open.o_stored;
    RETURN;
  END IF;
  v_player := v_open.o_player;

  IF v_player.id IS NULL THEN
    o_error := 100; v_description := wallet_unknown_player(p_user_id);
  ELSIF p_currency IS NOT NULL AND p_currency <> v_player.currency THEN
    o_error := 2; v_description := wallet_currency_error(p_currency, v_player.currency);
  ELSIF v_player.status = 'frozen' THEN
    o_error := 6; v_description := 'Player is frozen';
  ELSIF v_player.excluded_until > p_now THEN
    o_error := 6; v_description := 'Player is self-excluded';
  ELSE  -- a period limit already used up: the smallest stake would break it (limits.sql)
    SELECT * INTO v_limits FROM wallet_limit_refusal(v_player.id, 1, true, p_now);
    o_error := v_limits.o_error; v_description := coalesce(v_limits.o_description, 'Success');
  END IF;
  o_body := wallet_remember(p_uuid, 'check', p_user_id, NULL, p_body_hash, o_error,
                            wallet_answer(o_error, v_description, NULL), p_now);
END
$$;

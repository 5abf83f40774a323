-- Bet: debit the stake, once per reference. (docs/protocol.md, "Bet")
--
-- Never for a refunded or cancelled reference (a Refund or Cancel that arrived
-- first blocks its late Bet with 3), never for a frozen or self-excluded player,
-- never in a cancelled or ended round or an expired session, never in a disabled
-- game or beyond the player's limits (limits.sql), never below zero. The first
-- Bet of a session records the session (sessions.sql), the first Bet of a game
-- records the game, enabled.
-- Retransmissions of a bet (same reference, same content, any uuid) move
-- nothing and answer as the first did. Outputs and SET enable_seqscan: see
-- check.sql; locks: see opening.sql.
CREATE OR REPLACE FUNCTION wallet_bet(
    p_uuid text, p_body_hash text, p_user_id text, p_reference text, p_currency text, p_amount numeric,
    p_round_id text, p_session_id text, p_provider_id text, p_game_id text, p_game_name text,
    p_round_details text, p_bonus_code text, p_provider_ts text, p_now timestamptz,
    OUT o_error integer, OUT o_body text, OUT o_moved bigint, OUT o_currency text)
LANGUAGE plpgsql
SET enable_seqscan = off
AS $$
DECLARE
  v_open record;
  v_player players;
  v_round rounds;
  v_has_round boolean;
  v_row record;
  -- what the reference already holds (scalars: PL/pgSQL reads every variable of an
  -- expression, and an unassigned record cannot be read)
  v_has_prior boolean := false;
  v_has_bet boolean := false;
  v_bet_id bigint;
  v_bet_amount bigint;
  v_bet_balance bigint;
  v_bet_currency text;
  v_bet_user_id text;
  v_bet_round_id text;
  v_bet_reversed_by bigint;
  v_has_refund boolean := false;
  v_has_win boolean := false;
  v_has_prize boolean := false;
  v_session sessions;
  v_game games;
  v_limits record;
  v_stake bigint;
  v_tx bigint;
  v_description text;
BEGIN
  SELECT * INTO v_open FROM wallet_open(p_uuid, p_body_hash, NULL, p_reference, p_user_id, true);
  IF v_open.o_stored IS NOT NULL THEN
    o_error := v_open.o_error; o_body := v_open.o_stored;
    RETURN;
  END IF;
  v_player := v_open.o_player;

  FOR v_row IN SELECT * FROM wallet_reference_entries e WHERE e.reference = p_reference LOOP
    v_has_prior := v_has_prior OR v_row.kind <> 'adjustment';  -- staff references are not the provider's
    IF v_row.kind = 'bet' THEN
      v_has_bet := true;
      v_bet_id := v_row.id; v_bet_amount := v_row.amount; v_bet_balance := v_row.balance_after;
      v_bet_currency := v_row.currency; v_bet_user_id := v_row.user_id; v_bet_round_id := v_row.round_id;
      v_bet_reversed_by := v_row.reversed_by;
    ELSIF v_row.kind IN ('refund', 'cancel') THEN
      v_has_refund := true;
    ELSIF v_row.kind = 'win' THEN
      v_has_win := true;
    ELSIF v_row.kind <> 'adjustment' THEN
      v_has_prize := true;
    END IF;
  END LOOP;

  -- Checks, in order; a refusal writes nothing but its stored answer.
  IF v_player.id IS NULL THEN
    IF v_has_prior THEN
      o_error := 7; v_description := 'Reference belongs to another player';
    ELSE
      o_error := 100; v_description := wallet_unknown_player(p_user_id);
    END IF;
  ELSIF p_currency IS NOT NULL AND p_currency <> v_player.currency THEN
    o_error := 2; v_description := wallet_currency_error(p_currency, v_player.currency);
  ELSE
    v_stake := wallet_to_minor(p_amount, v_player.currency);
    IF v_stake IS NULL THEN
      o_error := 10; v_description := wallet_precision_error(v_player.currency);
    ELSIF v_has_win THEN
      o_error := 7; v_description := 'Reference already used by a result';
    ELSIF v_has_prize THEN
      o_error := 7; v_description := 'Reference already used by a prize';
    ELSIF v_has_bet AND (v_bet_user_id <> p_user_id OR v_bet_amount <> -v_stake
                         OR v_bet_round_id IS DISTINCT FROM p_round_id) THEN
      o_error := 7; v_description := 'Reference already used by a different bet';
    ELSIF v_has_refund OR (v_has_bet AND v_bet_reversed_by IS NOT NULL) THEN
      o_error := 3; v_description := 'Reference already refunded';
    ELSIF v_has_bet THEN  -- a retransmission: answer as the first time, move nothing
      o_error := 0;
      o_body := wallet_remember(p_uuid, 'bet', p_user_id, p_reference, p_body_hash, 0,
                                wallet_answer(0, 'Success', NULL, v_bet_id, v_bet_currency, v_bet_balance), p_now);
      RETURN;
    ELSIF v_player.status = 'frozen' THEN
      o_error := 6; v_description := 'Player is frozen';
    ELSIF v_player.excluded_until > p_now THEN
      o_error := 6; v_description := 'Player is self-excluded';
    END IF;
  END IF;
  IF o_error IS NULL THEN  -- the round
    SELECT * INTO v_round FROM rounds WHERE player_id = v_player.id AND round_id = p_round_id FOR UPDATE;
    v_has_round := FOUND;
    IF v_has_round AND v_round.status = 'cancelled' THEN
      o_error := 3; v_description := 'Round is cancelled';
    ELSIF v_has_round AND v_round.status = 'ended' THEN
      o_error := 3; v_description := 'Round has ended';
    END IF;
  END IF;
  IF o_error IS NULL THEN  -- the session
    SELECT * INTO v_session FROM sessions WHERE player_id = v_player.id AND session_id = p_session_id;
    IF v_session.expired_at IS NOT NULL THEN
      o_error := 55; v_description := 'Session expired';  -- 3 in the 2024 table (answers.sql)
    END IF;
  END IF;
  IF o_error IS NULL THEN  -- the operator's controls, in their order: 8, 310, 50, 210 (limits.sql)
    SELECT * INTO v_game FROM games WHERE game_id = p_game_id;
    IF v_game.enabled = false THEN
      o_error := 8; v_description := 'Game is disabled';
    ELSE
      SELECT * INTO v_limits FROM wallet_limit_refusal(v_player.id, v_stake, false, p_now);
      IF v_limits.o_error <> 0 THEN
        o_error := v_limits.o_error; v_description := v_limits.o_description;
      ELSIF v_limits.o_reality_minutes IS NOT NULL AND v_session.id IS NOT NULL
            AND p_now >= coalesce(v_session.reality_check_at, v_session.first_bet_at)
                         + make_interval(mins => v_limits.o_reality_minutes::integer) THEN
        -- the player is told how long they have played; the next Bet proceeds
        o_error := 210; v_description := 'Reality check: ' || v_limits.o_reality_minutes || ' minutes of play';
        UPDATE sessions SET reality_check_at = p_now WHERE id = v_session.id;
      END IF;
    END IF;
  END IF;
  IF o_error IS NULL AND v_player.balance < v_stake THEN  -- and the money, last
    o_error := 1; v_description := 'Insufficient balance';
  END IF;
  IF o_error IS NOT NULL THEN
    o_body := wallet_remember(p_uuid, 'bet', p_user_id, p_reference, p_body_hash, o_error,
                              wallet_answer(o_error, v_description, NULL), p_now);
    RETURN;
  END IF;

  IF NOT v_has_round THEN
    -- The player's row lock serialises every writer of the player's rounds, so the round
    -- cannot appear meanwhile; if it did, the unique key would refuse it and the provider
    -- retry (100).
    INSERT INTO rounds (round_id, player_id, game_id, status, has_result, created_at, updated_at)
    VALUES (p_round_id, v_player.id, p_game_id, 'open', false, p_now, p_now)
    RETURNING * INTO v_round;
  END IF;
  IF v_session.id IS NULL THEN  -- the session's first Bet
    INSERT INTO sessions (player_id, session_id, created_at, first_bet_at)
    VALUES (v_player.id, p_session_id, p_now, p_now);
  ELSIF v_session.first_bet_at IS NULL THEN
    UPDATE sessions SET first_bet_at = p_now WHERE id = v_session.id;
  END IF;
  IF v_game.game_id IS NULL THEN  -- the game's first Bet records it, enabled
    INSERT INTO games (game_id, game_name, enabled, first_seen_at, updated_at)
    VALUES (p_game_id, p_game_name, true, p_now, p_now)
    ON CONFLICT (game_id) DO NOTHING;  -- another player's first Bet of it may have just recorded it
  END IF;
  v_tx := wallet_post(
    v_player.id, v_player.balance, 'bet', -v_stake, v_player.currency, p_reference, v_round.id,
    p_uuid, p_session_id, p_provider_id, p_game_id, p_game_name, p_round_details, p_bonus_code,
    p_provider_ts, NULL, NULL, NULL, NULL, p_now);
  o_error := 0;
  o_moved := -v_stake;
  o_currency := v_player.currency;
  o_body := wallet_remember(p_uuid, 'bet', p_user_id, p_reference, p_body_hash, 0,
                            wallet_answer(0, 'Success', NULL, v_tx, v_player.currency, v_player.balance - v_stake),
                            p_now);
END
$$;

-- Result: credit a win (0 = the round was lost). (docs/protocol.md, "Result")
--
-- Paid to frozen players and whatever the session (an Auto-Closing Result has
-- none): the money is the player's. A Result for a cancelled round is refused
-- (3); one for a round never seen opens it, settled. Once a round has a Result
-- its bets are no longer refundable.
--
-- A promo win may ride on a Result (p_promo_amount > 0): a second entry, of kind
-- 'promo', under its own reference p_promo_reference, in the same transaction;
-- the answer's cash includes both. A later PromoWin with that reference and
-- amount is a retransmission of it (prizes.sql). Outputs and SET enable_seqscan:
-- see check.sql; and o_promo, the promo entry's amount when there is one.
CREATE OR REPLACE FUNCTION wallet_result(
    p_uuid text, p_body_hash text, p_user_id text, p_reference text, p_currency text, p_amount numeric,
    p_round_id text, p_session_id text, p_provider_id text, p_game_id text, p_game_name text,
    p_round_details text, p_bonus_code text, p_provider_ts text, p_promo_amount numeric,
    p_promo_reference text, p_promo_campaign_id text, p_promo_campaign_type text, p_now timestamptz,
    OUT o_error integer, OUT o_body text, OUT o_moved bigint, OUT o_currency text, OUT o_promo bigint)
LANGUAGE plpgsql
SET enable_seqscan = off
AS $$
DECLARE
  v_open record;
  v_player players;
  v_round rounds;
  v_has_round boolean;
  v_row record;
  v_has_prior boolean := false;
  v_has_bet_or_refund boolean := false;
  v_has_prize boolean := false;
  v_has_win boolean := false;  -- scalars, not a record: see bet.sql
  v_win_id bigint;
  v_win_amount bigint;
  v_win_balance bigint;
  v_win_currency text;
  v_win_user_id text;
  v_win_round_id text;
  v_amount bigint;
  v_promo bigint := 0;
  v_tx bigint;
  v_description text;
BEGIN
  SELECT * INTO v_open
  FROM wallet_open(p_uuid, p_body_hash, NULL, p_reference, p_user_id, true,
                   CASE WHEN p_promo_amount > 0 THEN p_promo_reference END);
  IF v_open.o_stored IS NOT NULL THEN
    o_error := v_open.o_error; o_body := v_open.o_stored;
    RETURN;
  END IF;
  v_player := v_open.o_player;

  FOR v_row IN
    SELECT e.id, e.kind, e.amount, e.balance_after, e.currency, e.user_id, e.round_id
    FROM wallet_reference_entries e WHERE e.reference = p_reference
  LOOP
    v_has_prior := v_has_prior OR v_row.kind <> 'adjustment';  -- staff references are not the provider's
    IF v_row.kind IN ('bet', 'refund', 'cancel') THEN
      v_has_bet_or_refund := true;
    ELSIF v_row.kind = 'win' THEN
      v_has_win := true;
      v_win_id := v_row.id; v_win_amount := v_row.amount; v_win_balance := v_row.balance_after;
      v_win_currency := v_row.currency; v_win_user_id := v_row.user_id; v_win_round_id := v_row.round_id;
    ELSIF v_row.kind <> 'adjustment' THEN
      v_has_prize := true;
    END IF;
  END LOOP;

  IF v_player.id IS NULL THEN
    IF v_has_prior THEN
      o_error := 7; v_description := 'Reference belongs to another player';
    ELSE
      o_error := 100; v_description := wallet_unknown_player(p_user_id);
    END IF;
  ELSIF p_currency IS NOT NULL AND p_currency <> v_player.currency THEN
    o_error := 2; v_description := wallet_currency_error(p_currency, v_player.currency);
  ELSE
    v_amount := wallet_to_minor(p_amount, v_player.currency);
    IF v_amount IS NULL THEN
      o_error := 10; v_description := wallet_precision_error(v_player.currency);
    ELSIF v_has_bet_or_refund THEN
      o_error := 7; v_description := 'Reference already used by a bet';
    ELSIF v_has_prize THEN
      o_error := 7; v_description := 'Reference already used by a prize';
    ELSIF v_has_win AND (v_win_user_id <> p_user_id OR v_win_amount <> v_amount
                         OR v_win_round_id IS DISTINCT FROM p_round_id) THEN
      o_error := 7; v_description := 'Reference already used by a different result';
    ELSIF v_has_win THEN  -- a retransmission: answer as the first time, move nothing
      o_error := 0;
      o_body := wallet_remember(p_uuid, 'result', p_user_id, p_reference, p_body_hash, 0,
                                wallet_answer(0, 'Success', NULL, v_win_id, v_win_currency, v_win_balance), p_now);
      RETURN;
    ELSE
      SELECT * INTO v_round FROM rounds WHERE player_id = v_player.id AND round_id = p_round_id FOR UPDATE;
      v_has_round := FOUND;
      IF v_has_round AND v_round.status = 'cancelled' THEN
        o_error := 3; v_description := 'Round is cancelled';
      ELSIF p_promo_amount > 0 THEN
        v_promo := wallet_to_minor(p_promo_amount, v_player.currency);
        IF v_promo IS NULL THEN
          o_error := 10; v_description := wallet_precision_error(v_player.currency);
        ELSIF p_promo_reference = p_reference
              OR EXISTS (SELECT 1 FROM transactions t WHERE t.reference = p_promo_reference
                         AND t.kind <> 'adjustment') THEN  -- staff references are a namespace of their own
          o_error := 7; v_description := 'Promo win reference already used';
        END IF;
      END IF;
    END IF;
  END IF;
  IF o_error IS NOT NULL THEN
    o_body := wallet_remember(p_uuid, 'result', p_user_id, p_reference, p_body_hash, o_error,
                              wallet_answer(o_error, v_description, NULL), p_now);
    RETURN;
  END IF;

  IF NOT v_has_round THEN  -- a Result for a round never seen: it opens it, settled (see bet.sql)
    INSERT INTO rounds (round_id, player_id, game_id, status, has_result, created_at, updated_at)
    VALUES (p_round_id, v_player.id, p_game_id, 'open', true, p_now, p_now)
    RETURNING * INTO v_round;
  ELSIF NOT v_round.has_result THEN
    UPDATE rounds SET has_result = true, updated_at = p_now WHERE id = v_round.id;
  END IF;
  IF v_promo > 0 THEN  -- first, so that the win's balance_after (its answer's cash) includes it
    PERFORM wallet_post(
      v_player.id, v_player.balance, 'promo', v_promo, v_player.currency, p_promo_reference, v_round.id,
      p_uuid, p_session_id, p_provider_id, p_game_id, p_game_name, NULL, NULL,
      p_provider_ts, NULL, NULL, NULL, NULL, p_now, p_promo_campaign_id, p_promo_campaign_type, NULL, v_promo);
  END IF;
  v_tx := wallet_post(
    v_player.id, v_player.balance + v_promo, 'win', v_amount, v_player.currency, p_reference, v_round.id,
    p_uuid, p_session_id, p_provider_id, p_game_id, p_game_name, p_round_details, p_bonus_code,
    p_provider_ts, NULL, NULL, NULL, NULL, p_now);
  o_error := 0;
  o_moved := v_amount;
  o_promo := nullif(v_promo, 0);
  o_currency := v_player.currency;
  o_body := wallet_remember(p_uuid, 'result', p_user_id, p_reference, p_body_hash, 0,
                            wallet_answer(0, 'Success', NULL, v_tx, v_player.currency,
                                          v_player.balance + v_promo + v_amount),
                            p_now);
END
$$;

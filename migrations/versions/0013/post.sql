-- Append one ledger entry and move the player's balance with it.
--
-- The only writer of `transactions`. Entries are never updated or deleted; a
-- refund is a new entry, linked to each bet it reverses through `reversals`,
-- whose primary key (the bet) makes the database itself refuse a second
-- reversal of one bet. `p_cancel_round` marks the round cancelled in the same
-- transaction. The caller holds the player's row lock and passes its balance.
-- The last five arguments describe wins outside a round's Result (prizes.sql):
-- the campaign of a promo win, the jackpot of a jackpot win, the amount the
-- provider announced (a bonus win recorded without being credited has amount 0),
-- and the roundId a prize named without being linked to a round (PromoWin).
-- A bet, a Result's win, a refund or a cancel that moves money is added to the
-- player's period totals (limits.sql) of the periods that hold it; a player
-- without a loss or wager limit has no such row, and the update finds nothing.
CREATE OR REPLACE FUNCTION wallet_post(
    p_player_id bigint, p_balance bigint, p_kind text, p_amount bigint, p_currency text,
    p_reference text, p_round_pk bigint, p_uuid text, p_session_id text, p_provider_id text,
    p_game_id text, p_game_name text, p_round_details text, p_bonus_code text, p_provider_ts text,
    p_note text, p_bet_ids bigint[], p_bet_amounts bigint[], p_cancel_round bigint, p_now timestamptz,
    p_campaign_id text DEFAULT NULL, p_campaign_type text DEFAULT NULL, p_jackpot_id text DEFAULT NULL,
    p_announced bigint DEFAULT NULL, p_given_round_id text DEFAULT NULL)
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
                            bonus_code, provider_ts, note, created_at, campaign_id, campaign_type,
                            jackpot_id, announced_amount, given_round_id)
  VALUES (p_kind, p_reference, p_player_id, p_round_pk, p_amount, p_balance + p_amount, p_currency,
          p_uuid, p_session_id, p_provider_id, p_game_id, p_game_name, p_round_details,
          p_bonus_code, p_provider_ts, p_note, p_now, p_campaign_id, p_campaign_type,
          p_jackpot_id, p_announced, p_given_round_id)
  RETURNING id INTO v_id;
  IF p_bet_ids IS NOT NULL THEN
    INSERT INTO reversals (bet_id, refund_id, amount)
    SELECT b.bet_id, v_id, b.amount FROM unnest(p_bet_ids, p_bet_amounts) AS b (bet_id, amount);
  END IF;
  IF p_amount <> 0 AND p_kind IN ('bet', 'win', 'refund', 'cancel') THEN
    UPDATE player_period_totals t
    SET bets = CASE WHEN p_kind = 'bet' THEN wallet_period_add(t.bets, t.starts_at, t.ends_at, p_now, -p_amount)
                    ELSE t.bets END,
        wins = CASE WHEN p_kind = 'win' THEN wallet_period_add(t.wins, t.starts_at, t.ends_at, p_now, p_amount)
                    ELSE t.wins END,
        reversed = CASE WHEN p_kind IN ('refund', 'cancel')
                        THEN wallet_period_add(t.reversed, t.starts_at, t.ends_at, p_now, p_amount)
                        ELSE t.reversed END
    WHERE t.player_id = p_player_id;
  END IF;
  RETURN v_id;
END
$$;

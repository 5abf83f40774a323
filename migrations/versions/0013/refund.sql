-- Refund: reverse a bet, or a round's bets, exactly once. (docs/protocol.md, "Refund")
-- The rule is wallet_reverse (reversal.sql), which Cancel shares.
CREATE OR REPLACE FUNCTION wallet_refund(
    p_uuid text, p_body_hash text, p_user_id text, p_reference text, p_currency text, p_amount numeric,
    p_round_id text, p_session_id text, p_provider_id text, p_game_id text, p_game_name text,
    p_round_details text, p_bonus_code text, p_provider_ts text, p_now timestamptz,
    OUT o_error integer, OUT o_body text, OUT o_moved bigint, OUT o_currency text)
LANGUAGE plpgsql
SET enable_seqscan = off
AS $$
BEGIN
  SELECT * INTO o_error, o_body, o_moved, o_currency
  FROM wallet_reverse('refund', p_uuid, p_body_hash, p_user_id, p_reference, p_currency, p_amount, p_round_id,
                      p_session_id, p_provider_id, p_game_id, p_game_name, p_round_details, p_bonus_code,
                      p_provider_ts, p_now);
END
$$;

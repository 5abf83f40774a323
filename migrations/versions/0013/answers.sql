-- The JSON answer of a callback, written once here for every method.
--
-- Keys in the provider's order: error, description, then reference (Refund,
-- Cancel), transactionId, currency and cash. `cash` is a JSON number carrying
-- exactly the currency's minor-unit digits (99899.99, 1500 for JPY, 1.250 for
-- KWD), which is why it is built as text rather than through a JSON encoder that
-- would drop trailing zeros.
--
-- Error codes: the functions decide in the provider's 2024 table, plus 55 for "a
-- Bet in an expired session" (which the 2024 table answers as 3). The table the
-- operator chose (WALLET_ERROR_CODES) reaches the database as the session setting
-- `wallet.error_codes`, a JSON object from decided code to answered code, set by
-- the service on every connection it opens (wallet/callbacks/codes.py holds the
-- tables, once). The answer is stored as sent: a replay gives it again as it was
-- first given, whatever the setting is by then.
CREATE OR REPLACE FUNCTION wallet_answer(p_error integer, p_description text, p_reference text,
                                         p_tx_id bigint DEFAULT NULL, p_currency text DEFAULT NULL,
                                         p_balance bigint DEFAULT NULL) RETURNS text
LANGUAGE plpgsql STABLE PARALLEL SAFE AS $$
DECLARE
  v_codes text := current_setting('wallet.error_codes', true);
BEGIN
  IF v_codes <> '' THEN
    p_error := coalesce((v_codes::jsonb ->> p_error::text)::integer, p_error);
  END IF;
  RETURN '{"error":' || p_error || ',"description":' || to_json(p_description)::text
    || CASE WHEN p_reference IS NULL THEN '' ELSE ',"reference":' || to_json(p_reference)::text END
    || CASE WHEN p_tx_id IS NULL THEN '' ELSE ',"transactionId":"' || p_tx_id || '"' END
    || CASE WHEN p_currency IS NULL THEN '' ELSE
         ',"currency":' || to_json(p_currency)::text
         || ',"cash":' || round(p_balance::numeric / (10::numeric ^ wallet_minor_unit(p_currency)),
                                wallet_minor_unit(p_currency))::text
       END
    || '}';
END
$$;

-- The description of "the wallet does not know this player". The provider's table
-- files it under 100 (retry): the player may be created by the operator meanwhile.
CREATE OR REPLACE FUNCTION wallet_unknown_player(p_user_id text) RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
BEGIN
  RETURN 'Player ' || p_user_id || ' not found';
END
$$;

-- The description of a request in another currency than the player's wallet (2).
CREATE OR REPLACE FUNCTION wallet_currency_error(p_given text, p_wallet text) RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
BEGIN
  RETURN 'Currency ' || p_given || ' does not match the wallet''s ' || p_wallet;
END
$$;

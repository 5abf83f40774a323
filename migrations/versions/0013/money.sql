-- Money in the database: integer minor units of the player's currency (ISO 4217).
--
-- The wallet stores every amount as a bigint count of minor units (cents, yen,
-- fils), so sums are exact. The provider sends decimals; these two functions are
-- the only place that turns one into the other.
--
-- Helpers are PL/pgSQL, not SQL functions: PL/pgSQL keeps its plans for the
-- session, while a SQL function called from PL/pgSQL is parsed and planned again
-- on every call (measured: a third of the server's CPU per Bet).

-- Digits after the decimal point in `p_currency`; NULL for a code the wallet cannot
-- hold. wallet/money.py has the same table for the admin side's parsing, and
-- tests/integration/test_functions.py checks that the two agree.
CREATE OR REPLACE FUNCTION wallet_minor_unit(p_currency text) RETURNS integer
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
BEGIN
  RETURN CASE
    WHEN p_currency IN ('BIF', 'CLP', 'DJF', 'GNF', 'ISK', 'JPY', 'KMF', 'KRW', 'PYG', 'RWF', 'UGX', 'UYI',
                        'VND', 'VUV', 'XAF', 'XOF', 'XPF') THEN 0
    WHEN p_currency IN ('BHD', 'IQD', 'JOD', 'KWD', 'LYD', 'OMR', 'TND') THEN 3
    WHEN p_currency IN ('CLF', 'UYW') THEN 4
    WHEN p_currency IN (
      'AED', 'AFN', 'ALL', 'AMD', 'ANG', 'AOA', 'ARS', 'AUD', 'AWG', 'AZN', 'BAM', 'BBD', 'BDT', 'BGN',
      'BMD', 'BND', 'BOB', 'BOV', 'BRL', 'BSD', 'BTN', 'BWP', 'BYN', 'BZD', 'CAD', 'CDF', 'CHE', 'CHF',
      'CHW', 'CNY', 'COP', 'COU', 'CRC', 'CUC', 'CUP', 'CVE', 'CZK', 'DKK', 'DOP', 'DZD', 'EGP', 'ERN',
      'ETB', 'EUR', 'FJD', 'FKP', 'GBP', 'GEL', 'GHS', 'GIP', 'GMD', 'GTQ', 'GYD', 'HKD', 'HNL', 'HTG',
      'HUF', 'IDR', 'ILS', 'INR', 'IRR', 'JMD', 'KES', 'KGS', 'KHR', 'KPW', 'KYD', 'KZT', 'LAK', 'LBP',
      'LKR', 'LRD', 'LSL', 'MAD', 'MDL', 'MGA', 'MKD', 'MMK', 'MNT', 'MOP', 'MRU', 'MUR', 'MVR', 'MWK',
      'MXN', 'MXV', 'MYR', 'MZN', 'NAD', 'NGN', 'NIO', 'NOK', 'NPR', 'NZD', 'PAB', 'PEN', 'PGK', 'PHP',
      'PKR', 'PLN', 'QAR', 'RON', 'RSD', 'RUB', 'SAR', 'SBD', 'SCR', 'SDG', 'SEK', 'SGD', 'SHP', 'SLE',
      'SLL', 'SOS', 'SRD', 'SSP', 'STN', 'SVC', 'SYP', 'SZL', 'THB', 'TJS', 'TMT', 'TOP', 'TRY', 'TTD',
      'TWD', 'TZS', 'UAH', 'USD', 'USN', 'UYU', 'UZS', 'VED', 'VES', 'WST', 'XCD', 'XCG', 'YER', 'ZAR',
      'ZMW', 'ZWG', 'ZWL') THEN 2
  END;
END
$$;

-- Integer minor units of a provider amount in `p_currency`; NULL when the amount has
-- finer precision than the currency (the caller answers 10 "Invalid amount").
CREATE OR REPLACE FUNCTION wallet_to_minor(p_amount numeric, p_currency text) RETURNS bigint
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
  v_scaled numeric := p_amount * (10::numeric ^ wallet_minor_unit(p_currency));
BEGIN
  IF v_scaled = trunc(v_scaled) THEN
    RETURN v_scaled::bigint;
  END IF;
  RETURN NULL;
END
$$;

-- The description of an amount too precise for the player's currency.
CREATE OR REPLACE FUNCTION wallet_precision_error(p_currency text) RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
BEGIN
  RETURN 'Invalid amount: amount has more than ' || wallet_minor_unit(p_currency)
         || ' decimal places for ' || p_currency;
END
$$;

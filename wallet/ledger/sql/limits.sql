-- Responsible gambling: the player's limits, self-exclusion and reality checks.
-- (docs/protocol.md, "Operator controls"; docs/responsible-gambling.md)
--
-- Limits apply to Bet only (and Check says when one is used up); nothing here
-- ever refuses a win, a refund or a cancel. They are read under the player's row
-- lock, in the Bet's own transaction, so concurrent Bets on any number of hosts
-- can never overshoot a limit together.
--
-- One row per (player, limit) in `player_limits`: the value in force (NULL: no
-- limit) and, for a loosening that waits out the cooling-off period, the pending
-- value and when it takes effect. Amounts are minor units; `reality_check` is in
-- minutes. Periods are calendar periods in the operator's time zone (the session
-- setting `wallet.timezone`, from WALLET_TIMEZONE; weeks start on Monday).

-- The value of a limit at p_now: the pending one once its time has come.
-- (SQL, so that the planner inlines it into the queries that call it.)
CREATE OR REPLACE FUNCTION wallet_limit_value(p_limit player_limits, p_now timestamptz) RETURNS bigint
LANGUAGE sql STABLE AS $$
  SELECT CASE WHEN (p_limit).pending_at IS NOT NULL AND (p_limit).pending_at <= p_now
              THEN (p_limit).pending_value ELSE (p_limit).value END
$$;

-- p_sums with p_amount added to the periods (1 day, 2 week, 3 month) whose span
-- [p_from[i], p_to[i]) holds p_at; a period not computed yet (NULL) stays NULL.
-- wallet_post keeps a limited player's totals with it.
CREATE OR REPLACE FUNCTION wallet_period_add(p_sums bigint[], p_from timestamptz[], p_to timestamptz[],
                                             p_at timestamptz, p_amount bigint) RETURNS bigint[]
LANGUAGE sql IMMUTABLE AS $$
  SELECT ARRAY[p_sums[1] + CASE WHEN p_at >= p_from[1] AND p_at < p_to[1] THEN p_amount ELSE 0 END,
               p_sums[2] + CASE WHEN p_at >= p_from[2] AND p_at < p_to[2] THEN p_amount ELSE 0 END,
               p_sums[3] + CASE WHEN p_at >= p_from[3] AND p_at < p_to[3] THEN p_amount ELSE 0 END]
$$;

-- Would a stake of p_stake break one of the player's limits? 310 (above the maximum bet),
-- 50 (a loss or wager limit of the day, week or month; reaching it exactly is allowed), or
-- 0. o_reality_minutes: the player's reality-check interval, for the caller (bet.sql).
-- p_check: Check's question ("is a period limit used up?"): no maximum bet, and a stake of
-- one minor unit, so that a limit reached exactly counts as used up.
--
-- Net loss of a period = its bets - its Results' wins - its refunds and cancels; wagered =
-- its bets - its refunds and cancels. Each entry counts in the period of its own time,
-- whether or not the limit existed then. The totals of the player's current day, week and
-- month are one row of `player_period_totals` (per time zone), read only when the player
-- has a loss or wager limit. A period the row does not hold yet (the first Bet of a day, a
-- week, a month) is summed from the player's entries of the period (a partial index on
-- player and time) and stored: the Bet holds the player's row lock, which every writer of
-- the player's entries also takes, so no entry can be written between the sum and the
-- store, and wallet_post adds every later entry to it. Check holds no lock: it sums a
-- missing period and stores nothing.
CREATE OR REPLACE FUNCTION wallet_limit_refusal(p_player_id bigint, p_stake bigint, p_check boolean,
                                                p_now timestamptz,
                                                OUT o_error integer, OUT o_description text,
                                                OUT o_reality_minutes integer)
LANGUAGE plpgsql AS $$
DECLARE
  v_max_bet bigint;
  v_loss bigint[];     -- day, week, month
  v_wager bigint[];
  v_periods text[] := ARRAY['day', 'week', 'month'];
  v_tz text := coalesce(nullif(current_setting('wallet.timezone', true), ''), 'UTC');
  v_totals player_period_totals;
  v_from timestamptz[] := ARRAY[NULL, NULL, NULL]::timestamptz[];
  v_to timestamptz[] := ARRAY[NULL, NULL, NULL]::timestamptz[];
  v_bets bigint[] := ARRAY[NULL, NULL, NULL]::bigint[];
  v_wins bigint[] := ARRAY[NULL, NULL, NULL]::bigint[];
  v_reversed bigint[] := ARRAY[NULL, NULL, NULL]::bigint[];
  v_sum_bets bigint;
  v_sum_wins bigint;
  v_sum_reversed bigint;
  v_changed boolean := false;
  v_local timestamp;
  v_start timestamptz;
  i integer;
BEGIN
  o_error := 0;
  SELECT max(v.value) FILTER (WHERE v.name = 'max_bet'),
         ARRAY[max(v.value) FILTER (WHERE v.name = 'loss_day'), max(v.value) FILTER (WHERE v.name = 'loss_week'),
               max(v.value) FILTER (WHERE v.name = 'loss_month')],
         ARRAY[max(v.value) FILTER (WHERE v.name = 'wager_day'), max(v.value) FILTER (WHERE v.name = 'wager_week'),
               max(v.value) FILTER (WHERE v.name = 'wager_month')],
         max(v.value) FILTER (WHERE v.name = 'reality_check')
  INTO v_max_bet, v_loss, v_wager, o_reality_minutes
  FROM (SELECT l.name, wallet_limit_value(l, p_now) AS value FROM player_limits l
        WHERE l.player_id = p_player_id) v;

  IF NOT p_check AND v_max_bet IS NOT NULL AND p_stake > v_max_bet THEN
    o_error := 310; o_description := 'Bet above the player''s maximum bet';
    RETURN;
  END IF;
  IF coalesce(v_loss[1], v_loss[2], v_loss[3], v_wager[1], v_wager[2], v_wager[3]) IS NULL THEN
    RETURN;
  END IF;

  SELECT * INTO v_totals FROM player_period_totals t WHERE t.player_id = p_player_id AND t.zone = v_tz;
  IF FOUND THEN
    v_from := v_totals.starts_at; v_to := v_totals.ends_at;
    v_bets := v_totals.bets; v_wins := v_totals.wins; v_reversed := v_totals.reversed;
  END IF;
  FOR i IN 1..3 LOOP
    CONTINUE WHEN v_loss[i] IS NULL AND v_wager[i] IS NULL;
    -- The calendar period holding p_now in the operator's zone (weeks start on Monday).
    v_local := date_trunc(v_periods[i], p_now AT TIME ZONE v_tz);
    v_start := v_local AT TIME ZONE v_tz;
    IF v_from[i] IS DISTINCT FROM v_start OR v_bets[i] IS NULL THEN
      v_from[i] := v_start;
      v_to[i] := (v_local + ('1 ' || v_periods[i])::interval) AT TIME ZONE v_tz;
      -- The kinds and the non-zero amounts are the partial index's own predicate: the entries
      -- that move a period's totals. No other query states it, so no other query takes it.
      SELECT coalesce(sum(-t.amount) FILTER (WHERE t.kind = 'bet'), 0),
             coalesce(sum(t.amount) FILTER (WHERE t.kind = 'win'), 0),
             coalesce(sum(t.amount) FILTER (WHERE t.kind IN ('refund', 'cancel')), 0)
      INTO v_sum_bets, v_sum_wins, v_sum_reversed
      FROM transactions t
      WHERE t.player_id = p_player_id AND t.kind IN ('bet', 'win', 'refund', 'cancel') AND t.amount <> 0
        AND t.created_at >= v_from[i] AND t.created_at < v_to[i];
      v_bets[i] := v_sum_bets; v_wins[i] := v_sum_wins; v_reversed[i] := v_sum_reversed;
      v_changed := true;
    END IF;
    IF v_loss[i] IS NOT NULL AND v_bets[i] - v_wins[i] - v_reversed[i] + p_stake > v_loss[i] THEN
      o_error := 50; o_description := 'Bet limit reached: loss limit of the ' || v_periods[i];
      EXIT;
    ELSIF v_wager[i] IS NOT NULL AND v_bets[i] - v_reversed[i] + p_stake > v_wager[i] THEN
      o_error := 50; o_description := 'Bet limit reached: wager limit of the ' || v_periods[i];
      EXIT;
    END IF;
  END LOOP;
  IF v_changed AND NOT p_check THEN
    INSERT INTO player_period_totals AS t (player_id, zone, starts_at, ends_at, bets, wins, reversed)
    VALUES (p_player_id, v_tz, v_from, v_to, v_bets, v_wins, v_reversed)
    ON CONFLICT (player_id, zone) DO UPDATE
    SET starts_at = excluded.starts_at, ends_at = excluded.ends_at, bets = excluded.bets,
        wins = excluded.wins, reversed = excluded.reversed;
  END IF;
END
$$;

-- Staff set one limit (p_name) of a player to p_value (minor units or minutes; NULL removes it).
-- Tightening (lower, or a new limit) takes effect at once; loosening (higher, or removed) only
-- after p_cooling, shown as pending until then; a new change replaces a pending one. The
-- reality-check interval is not a limit to cool off: it changes at once. Returns the limit
-- as it now stands.
CREATE OR REPLACE FUNCTION wallet_set_limit(p_player_id bigint, p_name text, p_value bigint,
                                            p_cooling interval, p_now timestamptz)
RETURNS player_limits
LANGUAGE plpgsql AS $$
DECLARE
  v_limit player_limits;
  v_current bigint;
BEGIN
  SELECT * INTO v_limit FROM player_limits WHERE player_id = p_player_id AND name = p_name FOR UPDATE;
  IF NOT FOUND THEN
    INSERT INTO player_limits (player_id, name, value, pending_value, pending_at, updated_at)
    VALUES (p_player_id, p_name, NULL, NULL, NULL, p_now)
    RETURNING * INTO v_limit;
  END IF;
  v_current := wallet_limit_value(v_limit, p_now);
  IF p_name = 'reality_check' OR (p_value IS NOT NULL AND (v_current IS NULL OR p_value <= v_current)) THEN
    UPDATE player_limits SET value = p_value, pending_value = NULL, pending_at = NULL, updated_at = p_now
    WHERE player_id = p_player_id AND name = p_name RETURNING * INTO v_limit;
  ELSIF v_current IS NULL AND p_value IS NULL THEN  -- no limit in force, none wanted
    UPDATE player_limits SET value = NULL, pending_value = NULL, pending_at = NULL, updated_at = p_now
    WHERE player_id = p_player_id AND name = p_name RETURNING * INTO v_limit;
  ELSE  -- loosening: the value in force stays until the cooling-off period is over
    UPDATE player_limits SET value = v_current, pending_value = p_value, pending_at = p_now + p_cooling,
                             updated_at = p_now
    WHERE player_id = p_player_id AND name = p_name RETURNING * INTO v_limit;
  END IF;
  RETURN v_limit;
END
$$;

-- Self-exclusion until p_until: set or extended at any time, never shortened or removed
-- before it ends. Outcomes: 'set', 'unchanged', 'invalid' (not in the future),
-- 'conflict' (it would shorten an exclusion in force).
CREATE OR REPLACE FUNCTION wallet_set_exclusion(p_player_id bigint, p_until timestamptz, p_now timestamptz,
                                                OUT o_outcome text, OUT o_description text)
LANGUAGE plpgsql AS $$
DECLARE
  v_player players;
BEGIN
  SELECT * INTO v_player FROM players WHERE id = p_player_id FOR UPDATE;
  IF p_until IS NULL OR p_until <= p_now THEN
    o_outcome := 'invalid'; o_description := 'excludedUntil must be in the future';
  ELSIF v_player.excluded_until > p_now AND p_until < v_player.excluded_until THEN
    o_outcome := 'conflict';
    o_description := 'a self-exclusion may be extended, never shortened: it runs until '
                     || to_char(v_player.excluded_until AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"');
  ELSIF v_player.excluded_until = p_until THEN
    o_outcome := 'unchanged'; o_description := 'the self-exclusion already runs until then';
  ELSE
    UPDATE players SET excluded_until = p_until, updated_at = p_now WHERE id = p_player_id;
    o_outcome := 'set'; o_description := 'self-excluded until the given time';
  END IF;
END
$$;

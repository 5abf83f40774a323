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
CREATE OR REPLACE FUNCTION wallet_limit_value(p_limit player_limits, p_now timestamptz) RETURNS bigint
LANGUAGE plpgsql STABLE AS $$
BEGIN
  IF p_limit.pending_at IS NOT NULL AND p_limit.pending_at <= p_now THEN
    RETURN p_limit.pending_value;
  END IF;
  RETURN p_limit.value;
END
$$;

-- Would a stake of p_stake break one of the player's limits? 310 (above the maximum bet),
-- 50 (a loss or wager limit of the day, week or month; reaching it exactly is allowed), or
-- 0. o_reality_minutes: the player's reality-check interval, for the caller (bet.sql).
-- p_check: Check's question ("is a period limit used up?"): no maximum bet, and a stake of
-- one minor unit, so that a limit reached exactly counts as used up.
--
-- Net loss of a period = its bets - its Results' wins - its refunds and cancels; wagered =
-- its bets - its refunds and cancels. Each entry counts in the period of its own time,
-- whether or not the limit existed then. A period's totals are one row of
-- `player_period_totals`, read only for the periods the player has a limit of. The first
-- Bet of a period that finds no row computes it from the player's entries of the period (a
-- partial index on player and time) and stores it: it holds the player's row lock, which
-- every writer of the player's entries also takes, so no entry can be written between the
-- sum and the insert, and wallet_post adds every later entry to it. Check holds no lock:
-- it computes a missing row and stores nothing.
CREATE OR REPLACE FUNCTION wallet_limit_refusal(p_player_id bigint, p_stake bigint, p_check boolean,
                                                p_now timestamptz,
                                                OUT o_error integer, OUT o_description text,
                                                OUT o_reality_minutes integer)
LANGUAGE plpgsql AS $$
DECLARE
  v_limit player_limits;
  v_value bigint;
  v_max_bet bigint;
  v_loss bigint[] := ARRAY[NULL, NULL, NULL]::bigint[];   -- day, week, month
  v_wager bigint[] := ARRAY[NULL, NULL, NULL]::bigint[];
  v_periods text[] := ARRAY['day', 'week', 'month'];
  v_tz text := coalesce(nullif(current_setting('wallet.timezone', true), ''), 'UTC');
  v_local timestamp;
  v_start timestamptz;
  v_end timestamptz;
  v_totals player_period_totals;
  i integer;
BEGIN
  o_error := 0;
  FOR v_limit IN SELECT * FROM player_limits WHERE player_id = p_player_id LOOP
    v_value := wallet_limit_value(v_limit, p_now);
    CASE v_limit.name
      WHEN 'max_bet' THEN v_max_bet := v_value;
      WHEN 'loss_day' THEN v_loss[1] := v_value;
      WHEN 'loss_week' THEN v_loss[2] := v_value;
      WHEN 'loss_month' THEN v_loss[3] := v_value;
      WHEN 'wager_day' THEN v_wager[1] := v_value;
      WHEN 'wager_week' THEN v_wager[2] := v_value;
      WHEN 'wager_month' THEN v_wager[3] := v_value;
      WHEN 'reality_check' THEN o_reality_minutes := v_value;
    END CASE;
  END LOOP;

  IF NOT p_check AND v_max_bet IS NOT NULL AND p_stake > v_max_bet THEN
    o_error := 310; o_description := 'Bet above the player''s maximum bet';
    RETURN;
  END IF;

  FOR i IN 1..3 LOOP
    CONTINUE WHEN v_loss[i] IS NULL AND v_wager[i] IS NULL;
    -- The calendar period holding p_now in the operator's zone (weeks start on Monday).
    v_local := date_trunc(v_periods[i], p_now AT TIME ZONE v_tz);
    v_start := v_local AT TIME ZONE v_tz;
    v_end := (v_local + ('1 ' || v_periods[i])::interval) AT TIME ZONE v_tz;
    SELECT * INTO v_totals FROM player_period_totals t
    WHERE t.player_id = p_player_id AND t.period = v_periods[i] AND t.zone = v_tz AND t.starts_at = v_start;
    IF NOT FOUND THEN
      -- The kinds and the non-zero amounts are the partial index's own predicate: the entries
      -- that move a period's totals. No other query states it, so no other query takes it.
      SELECT p_player_id, v_tz, v_periods[i], v_start, v_end,
             coalesce(sum(-t.amount) FILTER (WHERE t.kind = 'bet'), 0),
             coalesce(sum(t.amount) FILTER (WHERE t.kind = 'win'), 0),
             coalesce(sum(t.amount) FILTER (WHERE t.kind IN ('refund', 'cancel')), 0)
      INTO v_totals
      FROM transactions t
      WHERE t.player_id = p_player_id AND t.kind IN ('bet', 'win', 'refund', 'cancel') AND t.amount <> 0
        AND t.created_at >= v_start AND t.created_at < v_end;
      IF NOT p_check THEN
        -- Rows of ended periods are never read again: the new one replaces them.
        DELETE FROM player_period_totals WHERE player_id = p_player_id AND ends_at <= p_now;
        INSERT INTO player_period_totals VALUES (v_totals.*);
      END IF;
    END IF;
    IF v_loss[i] IS NOT NULL AND v_totals.bets - v_totals.wins - v_totals.reversed + p_stake > v_loss[i] THEN
      o_error := 50; o_description := 'Bet limit reached: loss limit of the ' || v_periods[i];
      RETURN;
    ELSIF v_wager[i] IS NOT NULL AND v_totals.bets - v_totals.reversed + p_stake > v_wager[i] THEN
      o_error := 50; o_description := 'Bet limit reached: wager limit of the ' || v_periods[i];
      RETURN;
    END IF;
  END LOOP;
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

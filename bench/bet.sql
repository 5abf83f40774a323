-- The wallet's Bet as the database alone runs it: pgbench calls wallet_bet() (wallet/ledger/sql/bet.sql)
-- the way a worker does, one prepared statement per callback (bench/run.sh, phases `bet-limits-db-on`
-- and `bet-limits-db-off`: the same Bets with every limit set on every bench player and without).
--
--   pgbench -n -M prepared -c C -j J -T SECONDS -f bench/bet.sql -D k=0 -D players=N -D run=RUN DATABASE
--
-- Every transaction stakes 1.00 USD for a bench player (bench-p1..N, seed.py) in a round, under a
-- reference and a uuid of its own (RUN-client-k): always a new, accepted bet.
\set k :k + 1
\set p random(1, :players)
SELECT o_error FROM wallet_bet(:run || '-' || :client_id || '-' || :k, 'pgbench', 'bench-p' || :p, :run || '-' || :client_id || '-' || :k, 'USD', 1.00, :run || '-' || :client_id || '-' || :k, 's-' || :p, 'LuckyMonaco', 'Im_60_tumblefortune', 'tumblefortune', NULL, NULL, '2026-11-24T10:00:00Z', now());

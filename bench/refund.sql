-- The wallet's Refund as the database alone runs it: pgbench calls wallet_refund()
-- (wallet/ledger/sql/refund.sql) the way a worker does, one prepared statement per callback, with no HTTP and no
-- Python in the way (bench/run.sh, phase `refund-db-alone`; bench/README.md).
--
--   pgbench -n -M prepared -c C -j J -T SECONDS -f bench/refund.sql \
--           -D k=0 -D clients=C -D players=N -D prefix=PREFIX -D run=RUN DATABASE
--
-- Every transaction refunds a different open bet made by `bench/seed.py bets PREFIX 1 COUNT`:
-- client c (0-based) takes bets i = 1 + c + C*(k-1), k = 1, 2, ..., so no two share one. Bet i
-- belongs to bench-p(i mod N + 1) and is 1.00 USD, as seed.py makes it. The uuid is new on every
-- call (RUN-c-k).
-- Variables: k counts this client's transactions (pgbench keeps a client's variables from one
-- transaction to the next); the others are constants given with -D.
\set k :k + 1
\set i 1 + :client_id + :clients * (:k - 1)
\set p :i % :players + 1
SELECT o_error FROM wallet_refund(:run || '-' || :client_id || '-' || :k, 'pgbench', 'bench-p' || :p, :prefix || '-' || :i, 'USD', 1.00, NULL, 's-' || :p, 'LuckyMonaco', 'Im_60_tumblefortune', 'tumblefortune', NULL, NULL, '2026-11-24T10:00:05Z', now());

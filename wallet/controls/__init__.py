"""Operator controls (docs/protocol.md, "Operator controls"; docs/responsible-gambling.md): the game
catalogue, player limits, self-exclusion and reality checks, as staff read and change them.

The rules themselves (codes 8, 50, 210, 310 and 6) are decided in PostgreSQL, in the Bet's and
Check's stored functions under the player's row lock (wallet/ledger/sql/limits.sql, bet.sql,
check.sql). `service` is what the admin API, the CLI and the support pages call to read and change
the data those functions read: it never decides a refusal itself.
"""

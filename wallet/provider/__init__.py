"""Operator -> provider: the one HTTP client (client.py), the calls and their records (calls.py),
CancelRound (service.py), stale rounds and their sweep (sweeper.py), the models, and a sandbox Lucky
Monaco (sandbox.py). The admin API and CLI (wallet/admin) use this package; it never imports them."""

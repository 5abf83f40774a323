"""Operator -> provider: the CancelRound client, its stored record, and a sandbox Lucky Monaco."""

"""Signatures and the caller allow-list (no database)."""

from __future__ import annotations

import ipaddress

from config import Settings
from wallet.callbacks.auth import client_ip, refusal, sign, signature_ok

PROXY = (ipaddress.ip_network("10.0.0.0/24"),)


def test_signature_is_hex_hmac_sha256_of_the_raw_body():
    # RFC 4231 test case 2
    assert sign("Jefe", b"what do ya want for nothing?") == (
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    )
    assert signature_ok("Jefe", b"what do ya want for nothing?", sign("Jefe", b"what do ya want for nothing?").upper())
    assert not signature_ok("Jefe", b"what do ya want for nothing!", sign("Jefe", b"what do ya want for nothing?"))
    assert not signature_ok("Jefe", b"x", None) and not signature_ok("Jefe", b"x", "") and not signature_ok("Jefe", b"x", "é")


def test_forwarded_for_is_ignored_from_an_untrusted_peer():
    assert str(client_ip("203.0.113.9", "10.9.9.9", PROXY)) == "203.0.113.9"


def test_forwarded_for_is_followed_through_trusted_proxies_only():
    assert str(client_ip("10.0.0.2", "198.51.100.7, 10.0.0.3", PROXY)) == "198.51.100.7"
    # a client cannot smuggle an address in front of its real one
    assert str(client_ip("10.0.0.2", "10.0.0.77, 198.51.100.7", PROXY)) == "198.51.100.7"
    assert client_ip("10.0.0.2", "garbage", PROXY) is None
    assert str(client_ip("::ffff:10.0.0.2", "198.51.100.7", PROXY)) == "198.51.100.7"


def test_allow_list_refuses_other_networks():
    s = Settings(allowed_networks=(ipaddress.ip_network("198.51.100.0/24"),), trusted_proxies=PROXY)
    assert refusal(s, "198.51.100.7", None) is None
    assert refusal(s, "203.0.113.9", None) is not None
    assert refusal(s, "203.0.113.9", "198.51.100.7") is not None  # spoofed header, untrusted peer
    assert refusal(s, "10.0.0.2", "198.51.100.7") is None
    assert refusal(Settings(), "203.0.113.9", None) is None  # no allow-list configured

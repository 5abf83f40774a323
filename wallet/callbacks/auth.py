"""Who may call the wallet: HMAC-SHA256 body signatures and an allow-list of provider networks."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress

from config import Network, Settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def sign(secret: str, body: bytes) -> str:
    """The X-Signature value for `body`: hex HMAC-SHA256 keyed by the callback secret."""
    return hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def signature_ok(secret: str, body: bytes, given: str | None) -> bool:
    """Constant-time comparison of the given signature with the expected one."""
    if not given:
        return False
    expected = sign(secret, body)
    return hmac.compare_digest(expected.encode("ascii"), given.strip().lower().encode("ascii", "replace"))


def _ip(raw: str | None) -> IPAddress | None:
    if not raw:
        return None
    try:
        ip = ipaddress.ip_address(raw.strip())
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def _inside(ip: IPAddress, networks: tuple[Network, ...]) -> bool:
    return any(ip.version == net.version and ip in net for net in networks)


def client_ip(remote_addr: str | None, forwarded_for: str | None, trusted: tuple[Network, ...]) -> IPAddress | None:
    """The caller's address. X-Forwarded-For is believed only hop by hop from trusted proxies.

    Walking the header from the right, each hop appended by a trusted proxy is
    skipped; the first address not in a trusted network is the client. A
    header from an untrusted peer is ignored entirely (it could be spoofed).
    """
    ip = _ip(remote_addr)
    if ip is None or not _inside(ip, trusted) or not forwarded_for:
        return ip
    for hop in reversed([h for h in forwarded_for.split(",") if h.strip()]):
        hop_ip = _ip(hop)
        if hop_ip is None:
            return None
        ip = hop_ip
        if not _inside(ip, trusted):
            return ip
    return ip


def refusal(settings: Settings, remote_addr: str | None, forwarded_for: str | None) -> str | None:
    """Why the caller's address is refused, or None (checked before the body is read)."""
    if not settings.allowed_networks:
        return None
    ip = client_ip(remote_addr, forwarded_for, settings.trusted_proxies)
    if ip is None or not _inside(ip, settings.allowed_networks):
        return "Caller address not allowed"
    return None

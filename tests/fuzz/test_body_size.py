"""Bodies over WALLET_MAX_BODY_BYTES are refused without being read (docs/protocol.md), through
real gunicorn: the client announces far more than it sends, so a server that tried to read (or
buffer) the body would wait for bytes that never come and the socket read below would time out.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from decimal import Decimal
from urllib.parse import urlparse

import pytest

from tests.support import HttpWallet, callback_body, fresh_database, gunicorn, unique

LIMIT = 2048
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module", params=[1, 4], ids=["sync", "gthread"])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    env = {"WALLET_DATABASE_URL": fresh_database(), "WALLET_MAX_BODY_BYTES": str(LIMIT)}
    with gunicorn(env, workers=1, threads=request.param) as base:
        yield base


@pytest.fixture
def player(server: str) -> str:
    user = unique("size")
    HttpWallet(server).open_player(user)
    return user


def exchange(base: str, head: str, body: bytes) -> tuple[int, dict[str, str], bytes, socket.socket]:
    """Send a request head and part of a body; read one response (bounded by the socket timeout)."""
    port = urlparse(base).port
    sock = socket.create_connection(("127.0.0.1", port), timeout=20)
    sock.sendall(head.encode("ascii") + body)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)  # socket.timeout here = the server is waiting for the body
        assert chunk, "connection closed without an answer"
        data += chunk
    raw_head, rest = data.split(b"\r\n\r\n", 1)
    lines = raw_head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:])}
    while len(rest) < int(headers.get("content-length", "0")):
        chunk = sock.recv(65536)
        assert chunk
        rest += chunk
    return status, headers, rest, sock


def balance(base: str, user: str) -> Decimal:
    r = HttpWallet(base).admin("GET", f"/players/{user}")
    return Decimal(str(r.json()["balance"]))


def test_announced_huge_body_is_refused_before_it_is_read(server: str, player: str) -> None:
    head = ("POST /V4/Bet HTTP/1.1\r\nHost: wallet\r\nContent-Type: application/json\r\n"
            f"Content-Length: {1024 ** 3}\r\n\r\n")
    status, _, body, sock = exchange(server, head, b'{"uuid": "' + b"x" * 100)
    answer = json.loads(body)
    assert status == 200 and answer["error"] == 7 and "too large" in answer["description"], answer
    # The connection is not kept for a next request either: the server must not go on to drain 1 GiB.
    assert sock.recv(65536) == b""
    sock.close()
    assert balance(server, player) == Decimal("1000.00")


def test_chunked_body_over_the_limit_is_refused_after_reading_at_most_the_limit(server: str, player: str) -> None:
    head = ("POST /V4/Bet HTTP/1.1\r\nHost: wallet\r\nContent-Type: application/json\r\n"
            "Transfer-Encoding: chunked\r\n\r\n")
    chunk = b"x" * (LIMIT * 2)
    # one chunk twice the limit and no final chunk: only a server that stops at the limit can answer
    status, _, body, sock = exchange(server, head, f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
    sock.close()
    answer = json.loads(body)
    assert status == 200 and answer["error"] == 7, answer
    assert balance(server, player) == Decimal("1000.00")


def test_a_bet_just_under_the_limit_is_served(server: str, player: str) -> None:
    body = callback_body("Bet", userId=player, amount="1.00", roundDetails="")
    body["roundDetails"] = "p" * (LIMIT - len(json.dumps(body)) - 1)
    raw = json.dumps(body).encode()
    assert len(raw) < LIMIT
    head = (f"POST /V4/Bet HTTP/1.1\r\nHost: wallet\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(raw)}\r\nConnection: close\r\n\r\n")
    status, _, answer_raw, sock = exchange(server, head, raw)
    sock.close()
    answer = json.loads(answer_raw)
    assert status == 200 and answer["error"] == 0, answer
    assert balance(server, player) == Decimal("999.00")

"""gunicorn with the project's config serves through wallet.gunicorn_worker: real sockets, one worker."""

from __future__ import annotations

import json
import socket
import time

import requests

from tests.support import HttpWallet, callback_body, fresh_database, gunicorn


def _raw_request(base: str, method: str, body: dict[str, object], trailing: bytes = b"") -> socket.socket:
    host, port = base.removeprefix("http://").split(":")
    data = json.dumps(body).encode()
    sock = socket.create_connection((host, int(port)), timeout=10)
    sock.sendall(
        f"POST /V4/{method} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n".encode()
        + data + trailing
    )
    return sock


def _read_to_eof(sock: socket.socket) -> bytes:
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def test_the_answer_and_the_close_reach_a_client_that_keeps_its_end_open_and_the_worker_goes_on(tmp_path):
    """gunicorn's own sync worker waits up to 2 s for each client's close before its next request;
    this one sends its FIN and serves the next one at once (the timeouts below are under 2 s)."""
    url = fresh_database()
    with gunicorn({"WALLET_DATABASE_URL": url}, workers=1) as base:
        wallet = HttpWallet(base)
        wallet.open_player("worker-player", deposit="10.00")
        holders = []
        for n in range(3):  # three clients in a row that read their answer and never close
            sock = _raw_request(base, "Balance", callback_body("Balance", userId="worker-player"))
            sock.settimeout(1.5)
            answer = _read_to_eof(sock)  # returns: the server closed its end without waiting for ours
            assert answer.startswith(b"HTTP/1.1 200 ") and b"Connection: close" in answer, answer
            assert json.loads(answer.split(b"\r\n\r\n", 1)[1])["cash"] == 10.0, (n, answer)
            holders.append(sock)
        r = requests.post(f"{base}/V4/Balance", json=callback_body("Balance", userId="worker-player"), timeout=1.5)
        assert r.status_code == 200 and r.json()["error"] == 0, r.text
        for sock in holders:
            sock.close()


def test_a_client_that_sends_after_its_answer_gets_no_reset(tmp_path):
    """The graceful close of RFC 9112 9.6, kept: after its answer the worker still reads (and drops)
    what the client sends, until the client closes; a socket closed outright would answer such
    bytes with a reset, which can cut a slower client's answer short on a real network."""
    url = fresh_database()
    with gunicorn({"WALLET_DATABASE_URL": url}, workers=1) as base:
        HttpWallet(base).open_player("late-player", deposit="10.00")
        sock = _raw_request(base, "Balance", callback_body("Balance", userId="late-player"))
        with sock:
            answer = _read_to_eof(sock)
            assert answer.startswith(b"HTTP/1.1 200 "), answer
            for _ in range(5):  # a reset would fail the second send at the latest
                sock.sendall(b"POST /V4/Balance HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}")
                time.sleep(0.05)
            assert sock.recv(16) == b""  # still the clean end of stream, no ECONNRESET

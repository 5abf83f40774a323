"""The worker's graceful close without the wait (wallet/gunicorn_worker.py), on real loopback TCP sockets."""

from __future__ import annotations

import select
import socket
from collections.abc import Iterator
from contextlib import contextmanager

from tests.support import Clock
from wallet.gunicorn_worker import Lingering


@contextmanager
def connected() -> Iterator[tuple[socket.socket, socket.socket]]:
    """(server side, client side) of one loopback TCP connection."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        client = socket.create_connection(listener.getsockname())
        server, _ = listener.accept()
    client.settimeout(5)
    try:
        yield server, client
    finally:
        server.close()
        client.close()


def reap_until_closed(lingering: Lingering, *servers: socket.socket) -> None:
    """Reap as the clients' bytes and FINs cross loopback (asynchronously), until `servers` are closed."""
    for _ in range(50):
        waiting = [s for s in servers if s.fileno() != -1]
        if not waiting:
            return
        select.select(waiting, [], [], 0.1)
        lingering.reap()


def test_a_client_that_has_closed_already_is_closed_at_once():
    lingering = Lingering()
    with connected() as (server, client):
        server.sendall(b"answer")
        client.shutdown(socket.SHUT_WR)
        assert client.recv(16) == b"answer"
        lingering.close(server)
        assert server.fileno() == -1 and len(lingering) == 0
        assert client.recv(16) == b""  # our FIN


def test_the_fin_goes_out_at_once_and_the_socket_waits_for_the_clients_close_without_blocking():
    lingering = Lingering()
    with connected() as (server, client):
        server.sendall(b"answer")
        lingering.close(server)  # returns although the client has not closed
        assert len(lingering) == 1 and server.fileno() != -1
        assert client.recv(16) == b"answer"
        assert client.recv(16) == b""  # the FIN: the client knows the answer is whole
        lingering.reap()
        assert len(lingering) == 1  # nothing from the client yet: still open, so no reset can hit it
        client.sendall(b"late bytes the server never reads")  # e.g. a pipelined request
        client.shutdown(socket.SHUT_WR)
        reap_until_closed(lingering, server)
        assert len(lingering) == 0 and server.fileno() == -1


def test_a_client_that_never_closes_is_closed_at_the_deadline():
    clock = Clock(1000.0)
    lingering = Lingering(seconds=2.0, clock=clock)
    with connected() as (server, client):
        lingering.close(server)
        clock.now += 1.9
        lingering.reap()
        assert len(lingering) == 1
        clock.now += 0.2
        lingering.reap()
        assert len(lingering) == 0 and server.fileno() == -1
        assert client.recv(16) == b""


def test_a_client_that_keeps_sending_is_closed_after_the_drain_limit():
    lingering = Lingering(max_drain=10)
    with connected() as (server, client):
        client.sendall(b"x" * 64)  # already waiting when the answer is done
        select.select([server], [], [], 5)
        lingering.close(server)
        assert server.fileno() == -1 and len(lingering) == 0


def test_several_parked_sockets_are_each_closed_on_their_own_clients_close():
    lingering = Lingering()
    with connected() as (s1, c1), connected() as (s2, c2), connected() as (s3, c3):
        for s in (s1, s2, s3):
            lingering.close(s)
        assert len(lingering) == 3
        c2.close()
        reap_until_closed(lingering, s2)
        assert len(lingering) == 2 and s2.fileno() == -1 and s1.fileno() != -1 and s3.fileno() != -1
        c1.close()
        c3.close()
        reap_until_closed(lingering, s1, s3)
        assert len(lingering) == 0 and s1.fileno() == -1 and s3.fileno() == -1


def test_past_the_limit_the_oldest_parked_socket_is_closed():
    """Clients that never close cannot use up the worker's file descriptors."""
    lingering = Lingering(max_parked=2)
    with connected() as (s1, c1), connected() as (s2, c2), connected() as (s3, c3):
        for s in (s1, s2, s3):
            lingering.close(s)
        assert len(lingering) == 2 and s1.fileno() == -1 and s2.fileno() != -1 and s3.fileno() != -1
        assert c1.recv(16) == b""


def test_a_socket_with_a_timeout_is_not_waited_on_either():
    lingering = Lingering()
    with connected() as (server, client):
        server.settimeout(30)  # with a timeout, Python polls before recv: MSG_DONTWAIT alone would wait 30 s
        lingering.close(server)  # returns at once
        assert len(lingering) == 1 and client.recv(16) == b""

"""gunicorn's sync worker, without waiting on each client to close its end.

`worker_class` in config/gunicorn.conf.py. gunicorn 27's sync worker answers with
`Connection: close` and then closes gracefully (RFC 9112 section 9.6): it sends its
FIN and reads what the client still sends until the client's FIN, then closes, so
that unread bytes never make the kernel answer with a reset that could truncate the
answer. It waits for that FIN right there, blocked in `recv`: measured on the
benchmark (docs/performance.md), a third of each worker's wall time went to waiting
for the client's close, with connections queued in the listen backlog meanwhile,
and every request cost the worker an extra sleep and wake-up.

This worker keeps the graceful close and drops the wait: after the answer it sends
its FIN (`shutdown(SHUT_WR)`) and parks the socket; between requests, and while it
waits for a connection, it reads parked sockets that have something to read, closes
each one at the client's FIN, and closes one whose client has sent neither FIN nor
64 KiB after 2 seconds, as gunicorn would (and, past 256 parked sockets, the
oldest, so that clients that never close cannot use up the file descriptors).
Everything else (HTTP parsing, the WSGI environ, error answers, timeouts,
max_requests) is gunicorn's own.

`handle` is SyncWorker.handle of gunicorn 27.0.1 (MIT licence) with its last line
changed; requirements.txt pins that version. tests/unit/test_gunicorn_worker.py and
tests/e2e/test_gunicorn_worker.py hold the behaviour: the FIN goes out at once, the
next request is not held up by a client that keeps its end open, and a client that
sends after its answer gets no reset.
"""

from __future__ import annotations

import errno
import select
import socket
import ssl
import time
from typing import Any, Callable

from gunicorn import http
from gunicorn import sock as gsock
from gunicorn import util
from gunicorn.workers.sync import SyncWorker

LINGER_SECONDS = 2.0  # gunicorn.util.close_graceful's timeout
MAX_DRAIN = 65536  # and the most it reads before closing anyway
REAP_EVERY = 8  # parked sockets before a reaping pass while busy (one poll() per pass)
IDLE_REAP_SECONDS = 0.05  # how often an idle worker looks at its parked sockets
MAX_PARKED = 256  # file descriptors: past this, the oldest parked socket is closed (clients that never close)


class Lingering:
    """Sockets whose answer is sent (and our FIN with it), each waiting for its client's close."""

    def __init__(self, seconds: float = LINGER_SECONDS, max_drain: int = MAX_DRAIN,
                 max_parked: int = MAX_PARKED, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self.max_drain = max_drain
        self.max_parked = max_parked
        self.clock = clock
        self._parked: dict[int, list[Any]] = {}  # fd -> [socket, deadline, bytes drained]; oldest first
        self._poller = select.poll()

    def __len__(self) -> int:
        return len(self._parked)

    def close(self, sock: socket.socket) -> None:
        """Send our FIN now; close `sock` at once if its client is done, else park it."""
        try:
            sock.shutdown(socket.SHUT_WR)
        except OSError:  # not connected any more: nothing to wait for
            sock.close()
            return
        if sock.gettimeout() is not None:  # a socket with a timeout would wait in recv despite MSG_DONTWAIT
            sock.setblocking(False)
        parked = [sock, self.clock() + self.seconds, 0]
        if self._drain(parked):
            return
        if len(self._parked) >= self.max_parked:  # clients that do not close must not use up the fds
            self.reap()
            if len(self._parked) >= self.max_parked:
                oldest = next(iter(self._parked))
                self._parked[oldest][0].close()
                self._unpark(oldest)
        fd = sock.fileno()
        self._parked[fd] = parked
        self._poller.register(fd, select.POLLIN)

    def reap(self) -> None:
        """Close the parked sockets whose client closed (or sent too much), then those past their deadline."""
        for fd, _event in self._poller.poll(0):
            parked = self._parked.get(fd)
            if parked is not None and self._drain(parked):
                self._unpark(fd)
        now = self.clock()
        while self._parked:
            fd, parked = next(iter(self._parked.items()))
            if parked[1] > now:
                break
            self._unpark(fd)
            parked[0].close()

    def _drain(self, parked: list[Any]) -> bool:
        """Read what the client sent, without waiting; True (and the socket closed) when done with it."""
        sock = parked[0]
        while True:
            try:
                data = sock.recv(4096, socket.MSG_DONTWAIT)
            except BlockingIOError:
                return False
            except OSError:  # reset by the client: done
                data = b""
            if data:
                parked[2] += len(data)
                if parked[2] < self.max_drain:
                    continue
            sock.close()
            return True

    def _unpark(self, fd: int) -> None:
        del self._parked[fd]
        self._poller.unregister(fd)


class WalletSyncWorker(SyncWorker):  # type: ignore[misc]
    """SyncWorker whose graceful close does not block the worker (module docstring)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lingering = Lingering()

    # ------------------------------------------------------------ serving (gunicorn's, one line changed)
    def handle(self, listener: Any, client: socket.socket, addr: Any) -> None:
        req = None
        try:
            if self.cfg.is_ssl:
                client = gsock.ssl_wrap_socket(client, self.cfg)
            parser = http.get_parser(self.cfg, client, addr)
            req = next(parser)
            self.handle_request(listener, req, client, addr)
        except http.errors.NoMoreData as e:
            self.log.debug("Ignored premature client disconnection. %s", e)
        except StopIteration as e:
            self.log.debug("Closing connection. %s", e)
        except ssl.SSLError as e:
            if e.args[0] == ssl.SSL_ERROR_EOF:
                self.log.debug("ssl connection closed")
                client.close()
            else:
                self.log.debug("Error processing SSL request.")
                self.handle_error(req, client, addr, e)
        except OSError as e:
            if e.errno not in (errno.EPIPE, errno.ECONNRESET, errno.ENOTCONN):
                self.log.exception("Socket error processing request.")
            else:
                if e.errno == errno.ECONNRESET:
                    self.log.debug("Ignoring connection reset")
                elif e.errno == errno.ENOTCONN:
                    self.log.debug("Ignoring socket not connected")
                else:
                    self.log.debug("Ignoring EPIPE")
        except BaseException as e:
            self.handle_error(req, client, addr, e)
        finally:
            if isinstance(client, ssl.SSLSocket):  # TLS (not used behind the proxy): gunicorn's own
                util.close_graceful(client)
            else:
                self.lingering.close(client)  # gunicorn: util.close_graceful(client), which waits

    def accept(self, listener: Any) -> None:
        super().accept(listener)
        if len(self.lingering) >= REAP_EVERY:
            self.lingering.reap()

    def wait(self, timeout: float) -> Any:
        if self.lingering:  # idle with sockets parked: look at them again soon
            self.lingering.reap()
            if self.lingering:
                timeout = min(timeout, IDLE_REAP_SECONDS)
        return super().wait(timeout)

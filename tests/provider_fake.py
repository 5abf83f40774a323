"""An independent fake of Lucky Monaco's operator API for the tests (deliberately not the project's
sandbox): a real HTTP server on a free port that records every body it receives and answers as
scripted. CancelRound refunds through the wallet like the provider does (2024: the named bet, by
its reference; 2025: the whole round, under a reference of its own), before answering."""

from __future__ import annotations

import json
import threading
import time
import uuid as uuidlib
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from flask import Flask
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

# (HTTP status, body: a dict sent as JSON, or bytes as they are, content type)
Reply = tuple[int, Any, str]
WalletCall = Callable[[str, dict[str, Any]], dict[str, Any]]


def in_process(app: Flask) -> WalletCall:
    """Callbacks into a wallet app in this process (a fresh test client per call: any thread may call)."""

    def call(method: str, body: dict[str, Any]) -> dict[str, Any]:
        full = {"providerId": "LuckyMonaco", "uuid": uuidlib.uuid4().hex, **body}
        r = app.test_client().post(f"/V4/{method}", data=json.dumps(full), content_type="application/json")
        return json.loads(r.get_data(), parse_float=Decimal)

    return call


class FakeProvider:
    """The provider's four endpoints. `statuses[roundId]` is what GetRoundStatus says (default
    `default_status`; a dict is sent as the whole answer); `replies[path]`, when set, answers that
    path instead (a Reply, or a callable of the body giving one); `cancel_delay` holds CancelRound."""

    def __init__(self, wallet: WalletCall | None = None) -> None:
        self.wallet = wallet
        self.received: list[tuple[str, Any]] = []
        self.statuses: dict[str, Any] = {}
        self.default_status: str = "InProgress"
        self.replies: dict[str, Reply | Callable[[Any], Reply]] = {}
        self.cancel_delay = 0.0
        self.send_refund = True
        self.refunds: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self._server = make_server("127.0.0.1", 0, self._wsgi, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> FakeProvider:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._server.shutdown()
        self._thread.join()

    def bodies(self, path: str) -> list[Any]:
        with self.lock:
            return [body for p, body in self.received if p == path]

    def _wsgi(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        raw = request.get_data()
        try:
            body: Any = json.loads(raw, parse_float=Decimal)
        except ValueError:
            body = raw
        with self.lock:
            self.received.append((request.path, body))
        status, payload, content_type = self._reply(request.path, body)
        data = payload if isinstance(payload, bytes) else json.dumps(payload, default=str).encode()
        return Response(data, status=status, content_type=content_type)(environ, start_response)

    def _reply(self, path: str, body: Any) -> Reply:
        scripted = self.replies.get(path)
        if scripted is not None:
            return scripted(body) if callable(scripted) else scripted
        if path == "/V4/CancelRound":
            return self._cancel(body)
        if path == "/history/GetRoundStatus":
            status = self.statuses.get(body.get("roundId"), self.default_status)
            if isinstance(status, dict):
                return 200, status, "application/json"
            return 200, {"error": 0, "description": "Success", "roundId": body.get("roundId"), "betAmount": 5.0,
                         "winAmount": 0, "roundStatus": status, "currency": "USD"}, "application/json"
        if path in ("/V4/CloseSession", "/V4/HealthCheck"):
            return 200, {"error": 0, "description": "Success"}, "application/json"
        return 404, {"error": "not found"}, "application/json"

    def _cancel(self, body: dict[str, Any]) -> Reply:
        if self.cancel_delay:
            time.sleep(self.cancel_delay)
        if "reference" in body:  # 2024: the bet named
            refund = {"userId": body["userId"], "reference": body["reference"], "roundId": body.get("roundId"),
                      "currency": body.get("currency"), "sessionId": body.get("sessionId")}
            echo = {"reference": body["reference"]}
        else:  # 2025: the round
            refund = {"userId": body["userId"], "reference": f"fake-cancel-{body['uuid']}", "roundId": body["roundId"]}
            echo = {"roundId": body["roundId"]}
        if self.send_refund and self.wallet is not None:
            answer = self.wallet("Refund", {k: v for k, v in refund.items() if v is not None})
            with self.lock:
                self.refunds.append(answer)
            return 200, {"error": answer["error"], "description": answer["description"], **echo}, "application/json"
        return 200, {"error": 0, "description": "Success", **echo}, "application/json"

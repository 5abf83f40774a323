"""The one HTTP client for every operator -> provider call (docs/protocol.md sections 4 and 11).

    CancelRound     POST <url>/V4/CancelRound           (2024 or 2025 body: LUCKY_MONACO_API_STYLE)
    GetRoundStatus  POST <url>/history/GetRoundStatus
    CloseSession    POST <url>/V4/CloseSession
    HealthCheck     POST <url>/V4/HealthCheck

It builds each body (the wire is its business), sends it with timeouts,
retries a bounded number of times with exponential back-off inside a total
time budget, and reads the answer. One call = one uuid: every retry sends the
very same bytes, so the provider can recognise a retransmission. The client
knows nothing of the database: it reports every attempt to a callback, which
stores it.

Why a loop here rather than urllib3's `Retry` under requests: a retry is
decided on the *content* as much as on the transport (a 200 whose body is an
HTML page or has an unknown roundStatus, an answer with error 100), and every
attempt must be recorded with its status, body and reason; `Retry` decides on
status codes and exceptions only and keeps no bodies. requests (with its
connection pool) carries each attempt; the adapter itself never retries.

The provider's token (`LUCKY_MONACO_TOKEN`) goes into the bodies that need
it and nowhere else: `redacted()` gives the body to store ("***" in its
place), and `scrub()` takes it out of anything the provider sends back.
"""

from __future__ import annotations

import time
import uuid as uuidlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

import requests
from requests.adapters import HTTPAdapter

from config import Settings
from wallet import clock as wallet_clock
from wallet.jsonutil import dumps, loads

# Seconds one call may take in all, attempts and back-off included; well below
# gunicorn's 30 s worker timeout, which would otherwise kill the admin request.
TOTAL_BUDGET = 20.0
# Back-off before attempt n+1 is backoff * 2**(n-1): 0.5 s, 1 s, 2 s ... (LUCKY_MONACO_BACKOFF).
BACKOFF = 0.5
CONNECT_TIMEOUT = 3.05
# Provider codes that say "temporary, ask again": 100 and 130 in its 2024 table, 998 and 997 in
# its 2025 one (docs/protocol.md section 6). No code of one table means something else in the other.
RETRY_CODES = frozenset({100, 130, 997, 998})
# Answers are a few dozen bytes; keep at most this much of anything else in the record.
MAX_STORED_ANSWER = 2000
SECRET_MASK = "***"

PATHS = {
    "CancelRound": "/V4/CancelRound",
    "GetRoundStatus": "/history/GetRoundStatus",
    "CloseSession": "/V4/CloseSession",
    "HealthCheck": "/V4/HealthCheck",
}
ROUND_STATUSES = ("InProgress", "Completed", "Canceled", "CompleteInProcess", "CancelInProcess")
_CANONICAL_STATUS = {s.lower(): s for s in ROUND_STATUSES}


class AnswerError(ValueError):
    """The provider's body is not an answer to the call."""


@dataclass(frozen=True)
class ProviderAnswer:
    """The provider's answer: `error`, `description`, and every other field as it sent them."""

    error: int
    description: str | None
    fields: dict[str, Any] = field(default_factory=dict)

    def get(self, name: str) -> Any:
        """A field by name, in any letter case (the provider's pages mix `roundId` and `roundid`)."""
        wanted = name.lower()
        return next((v for k, v in self.fields.items() if k.lower() == wanted), None)

    @property
    def reference(self) -> str | None:
        value = self.get("reference")
        return None if value is None else str(value)

    @property
    def round_status(self) -> str | None:
        """GetRoundStatus's roundStatus, spelt as in the provider's list (it may send any case)."""
        value = self.get("roundStatus")
        return _CANONICAL_STATUS.get(value.lower()) if isinstance(value, str) else None

    def as_dict(self) -> dict[str, Any]:
        return {"error": self.error, "description": self.description, **self.fields}


@dataclass(frozen=True)
class Attempt:
    """What one HTTP attempt did. `problem` says why it is not the provider's final word (None when it is)."""

    number: int
    started_at: datetime
    elapsed_ms: int
    http_status: int | None
    exception: str | None
    answer: str | None
    problem: str | None
    parsed: ProviderAnswer | None

    @property
    def final(self) -> bool:
        return self.problem is None and self.parsed is not None


def _error_code(raw: Any) -> int:
    """`error` as a JSON integer, a numeric string ("0"), or a number with nothing after the point."""
    if isinstance(raw, bool):
        raise AnswerError("error is not a number")
    if isinstance(raw, int):
        return raw
    if isinstance(raw, Decimal) and raw.is_finite() and raw == raw.to_integral_value():
        return int(raw)
    if isinstance(raw, str) and raw.strip().lstrip("-").isdigit():
        return int(raw.strip())
    raise AnswerError(f"error is not a number: {str(raw)[:40]!r}")


def _looks_like_html(raw: bytes) -> bool:
    head = raw.lstrip()[:200].lower()
    return head.startswith(b"<!doctype") or head.startswith(b"<html") or b"<body" in head


def parse_answer(raw: bytes | str, kind: str = "CancelRound") -> ProviderAnswer:
    """Read an answer. Field names in any case; `eroor` (the seed page's spelling) for `error`.

    A GetRoundStatus answer with error 0 must carry a roundStatus of the provider's list (any case):
    anything else is not an answer the wallet can act on.
    """
    data_bytes = raw.encode("utf-8") if isinstance(raw, str) else raw
    try:
        data = loads(data_bytes)
    except (ValueError, RecursionError) as exc:
        what = "an HTML page" if _looks_like_html(data_bytes) else "empty" if not data_bytes.strip() else "not JSON"
        raise AnswerError(f"answer is {what}") from exc
    if not isinstance(data, dict):
        raise AnswerError("answer is not a JSON object")
    folded = {str(k).lower(): k for k in data}
    key = folded.get("error") or folded.get("eroor")
    if key is None:
        raise AnswerError("answer has no error field")
    description = data.get(folded.get("description", ""))
    answer = ProviderAnswer(
        error=_error_code(data[key]),
        description=None if description is None else str(description),
        fields={k: v for k, v in data.items() if str(k).lower() not in ("error", "eroor", "description")},
    )
    if kind == "GetRoundStatus" and answer.error == 0 and answer.round_status is None:
        given = answer.get("roundStatus")
        raise AnswerError("answer has no roundStatus" if given is None
                          else f"unknown roundStatus {str(given)[:40]!r}")
    return answer


def new_uuid() -> str:
    return uuidlib.uuid4().hex


class ProviderClient:
    """POST to the provider with timeouts, bounded retries and exponential back-off; bodies of both styles."""

    def __init__(
        self,
        api_url: str,
        *,
        style: str = "2024",
        secure_login: str | None = None,
        token: str | None = None,
        provider_id: str = "LuckyMonaco",
        timeout: float = 5.0,
        attempts: int = 3,
        backoff: float = BACKOFF,
        total_budget: float = TOTAL_BUDGET,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.base = api_url.rstrip("/")
        self.style = style
        self.secure_login = secure_login
        self._token = token
        self.provider_id = provider_id
        self.timeout = timeout
        self.attempts = attempts
        self.backoff = backoff
        self.total_budget = total_budget
        if session is None:
            session = requests.Session()
            session.mount("http://", HTTPAdapter(max_retries=0))
            session.mount("https://", HTTPAdapter(max_retries=0))
        self.session = session
        self.sleep = sleep
        self.clock = clock

    def __repr__(self) -> str:  # never the token
        return f"ProviderClient({self.base!r}, style={self.style!r})"

    @classmethod
    def from_settings(cls, settings: Settings) -> ProviderClient:
        return cls(
            settings.provider_api_url,
            style=settings.provider_api_style,
            secure_login=settings.provider_secure_login,
            token=settings.provider_token,
            provider_id=settings.provider_id,
            timeout=settings.provider_timeout,
            attempts=settings.provider_attempts,
            backoff=settings.provider_backoff,
        )

    def close(self) -> None:
        self.session.close()

    # ----------------------------------------------------------------------- bodies

    def _credentials(self) -> dict[str, Any]:
        """secureLogin and token, each only when configured."""
        return {k: v for k, v in (("secureLogin", self.secure_login), ("token", self._token)) if v is not None}

    def cancel_round_body(self, uuid: str, bet: Mapping[str, Any]) -> dict[str, Any]:
        """CancelRound for the bet `bet` (its ledger row: provider_id, user_id, session_id, currency,
        game_id, game_name, reference, round_id). 2024: the seed page's fields plus roundId; 2025:
        keyed by round, with the partner login and token."""
        if self.style == "2025":
            body: dict[str, Any] = {"secureLogin": self.secure_login, "userId": bet["user_id"],
                                    "roundId": bet["round_id"], "token": self._token, "uuid": uuid}
            if bet.get("game_id"):
                body["gameId"] = bet["game_id"]
            return body
        return {
            "providerId": bet.get("provider_id") or self.provider_id,
            "userId": bet["user_id"],
            "sessionId": bet.get("session_id"),
            "currency": bet.get("currency"),
            "gameId": bet.get("game_id"),
            "gameName": bet.get("game_name"),
            "reference": bet["reference"],
            "uuid": uuid,
            "roundId": bet["round_id"],
        }

    def round_status_body(self, uuid: str, round_id: str) -> dict[str, Any]:
        creds = self._credentials()
        return {**({"secureLogin": creds["secureLogin"]} if "secureLogin" in creds else {}), "roundId": round_id,
                "uuid": uuid, **({"token": creds["token"]} if "token" in creds else {})}

    def close_session_body(self, uuid: str, user_id: str, game_id: str | None = None) -> dict[str, Any]:
        creds = self._credentials()
        body = {**({"secureLogin": creds["secureLogin"]} if "secureLogin" in creds else {}), "userId": user_id,
                **({"token": creds["token"]} if "token" in creds else {}), "uuid": uuid}
        if game_id:
            body["gameId"] = game_id
        return body

    def health_body(self, uuid: str) -> dict[str, Any]:
        return {**self._credentials(), "uuid": uuid}

    def redacted(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """The body as it may be stored and shown: the token replaced by "***"."""
        return {k: (SECRET_MASK if k == "token" and v is not None else v) for k, v in body.items()}

    def scrub(self, text: str | None) -> str | None:
        """`text` without the token (a provider echoing the request back must not put it in a record)."""
        if text is None or not self._token:
            return text
        return text.replace(self._token, SECRET_MASK)

    # ----------------------------------------------------------------------- sending

    def call(
        self,
        kind: str,
        body: dict[str, Any],
        on_attempt: Callable[[Attempt], None],
        *,
        attempts: int | None = None,
        deadline: float | None = None,
    ) -> ProviderAnswer | None:
        """Send `body` to `kind`'s path until the provider gives a final answer; None when it never did.

        `on_attempt` sees every attempt as soon as it ends (the caller stores it). `deadline` (this
        client's clock) ends the call sooner than its own budget (a sweep sharing one budget).
        """
        url = self.base + PATHS[kind]
        raw = dumps(body).encode("utf-8")
        end = self.clock() + self.total_budget
        if deadline is not None:
            end = min(end, deadline)
        limit = attempts or self.attempts
        for number in range(1, limit + 1):
            attempt = self._attempt(kind, url, number, raw, end - self.clock())
            on_attempt(attempt)
            if attempt.final:
                return attempt.parsed
            pause = self.backoff * 2 ** (number - 1)
            if number == limit or self.clock() + pause + 0.1 >= end:
                break
            self.sleep(pause)
        return None

    def _attempt(self, kind: str, url: str, number: int, raw: bytes, remaining: float) -> Attempt:
        started_at, started = wallet_clock.utcnow(), self.clock()
        read = max(0.1, min(self.timeout, remaining))
        status = exception = text = problem = None
        parsed = None
        try:
            response = self.session.post(
                url,
                data=raw,
                headers={"Content-Type": "application/json", "Accept": "application/json"},
                timeout=(min(CONNECT_TIMEOUT, read), read),
                allow_redirects=False,
            )
            status, content = response.status_code, response.content
            text = self.scrub(content[:MAX_STORED_ANSWER].decode("utf-8", "replace"))
            try:
                parsed = parse_answer(content, kind)
            except AnswerError as exc:
                problem = f"HTTP {status}, {exc}" if status != 200 else str(exc)
            else:
                if status != 200:
                    problem = f"HTTP {status}"
                elif parsed.error in RETRY_CODES:
                    problem = f"error {parsed.error} asks for a retry"
        except requests.Timeout as exc:
            exception = self.scrub(f"{type(exc).__name__}: {exc}"[:MAX_STORED_ANSWER])
            problem = f"no answer within {read:g} s"
        except requests.RequestException as exc:
            exception = self.scrub(f"{type(exc).__name__}: {exc}"[:MAX_STORED_ANSWER])
            problem = f"no answer: {type(exc).__name__}"
        elapsed_ms = int((self.clock() - started) * 1000)
        return Attempt(number, started_at, elapsed_ms, status, exception, text, problem, parsed)

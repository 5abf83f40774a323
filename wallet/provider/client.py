"""HTTP client for Lucky Monaco's CancelRound (PROTOCOL.md section 4).

One cancel = one uuid; every retry of it sends the very same body, so the
provider can recognise a retransmission. Attempts are bounded in number
(LUCKY_MONACO_ATTEMPTS) and in total time (TOTAL_BUDGET), because the admin
API waits for the answer inside a gunicorn worker. The client knows nothing of
the database: it reports every attempt to a callback, which stores it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import requests

from config import Settings
from wallet.jsonutil import dumps, loads

# Seconds one cancel may take in all, attempts and back-off included; well below
# gunicorn's 30 s worker timeout, which would otherwise kill the admin request.
TOTAL_BUDGET = 20.0
# Back-off before attempt n+1 is BACKOFF * 2**(n-1): 0.5 s, 1 s, 2 s ...
BACKOFF = 0.5
CONNECT_TIMEOUT = 3.05
# Provider codes that say "temporary, ask again" (PROTOCOL.md section 6).
RETRY_CODES = frozenset({100, 130})
# Answers are a few dozen bytes; keep at most this much of anything else in the record.
MAX_STORED_ANSWER = 2000


class AnswerError(ValueError):
    """The provider's body is not a CancelRound answer."""


@dataclass(frozen=True)
class ProviderAnswer:
    """`{error, description, reference}` as the provider sent it."""

    error: int
    description: str | None
    reference: str | None


@dataclass(frozen=True)
class Attempt:
    """What one HTTP attempt did; exactly one of http_status / exception says how it ended."""

    number: int
    started_at: datetime
    elapsed_ms: int
    http_status: int | None
    exception: str | None
    answer: str | None
    parsed: ProviderAnswer | None

    @property
    def final(self) -> bool:
        """An HTTP 200 with a well-formed answer that does not ask to be retried."""
        return self.parsed is not None and self.parsed.error not in RETRY_CODES


def _error_code(raw: Any) -> int:
    if isinstance(raw, bool):
        raise AnswerError("error must be an integer")
    if isinstance(raw, int):
        return raw
    if isinstance(raw, str) and raw.strip().lstrip("-").isdigit():
        return int(raw.strip())
    raise AnswerError(f"error must be an integer, got {raw!r}")


def parse_answer(raw: bytes | str) -> ProviderAnswer:
    """Read a CancelRound answer. Field names in any case; `eroor` (the seed page's spelling) for `error`."""
    try:
        data = loads(raw)
    except (ValueError, RecursionError) as exc:
        raise AnswerError("answer is not JSON") from exc
    if not isinstance(data, dict):
        raise AnswerError("answer is not a JSON object")
    folded = {str(k).lower(): v for k, v in data.items()}
    key = "error" if "error" in folded else "eroor" if "eroor" in folded else None
    if key is None:
        raise AnswerError("answer has no error field")
    description, reference = folded.get("description"), folded.get("reference")
    return ProviderAnswer(
        error=_error_code(folded[key]),
        description=None if description is None else str(description),
        reference=None if reference is None else str(reference),
    )


class ProviderClient:
    """POST /V4/CancelRound with timeouts, bounded retries and exponential back-off."""

    def __init__(
        self,
        api_url: str,
        *,
        timeout: float = 5.0,
        attempts: int = 3,
        total_budget: float = TOTAL_BUDGET,
        backoff: float = BACKOFF,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = api_url.rstrip("/") + "/V4/CancelRound"
        self.timeout = timeout
        self.attempts = attempts
        self.total_budget = total_budget
        self.backoff = backoff
        self.session = session or requests.Session()
        self.sleep = sleep
        self.clock = clock

    @classmethod
    def from_settings(cls, settings: Settings) -> ProviderClient:
        return cls(settings.provider_api_url, timeout=settings.provider_timeout, attempts=settings.provider_attempts)

    def cancel_round(self, body: dict[str, Any], on_attempt: Callable[[Attempt], None]) -> ProviderAnswer | None:
        """Send `body` until the provider gives a final answer; None when it never did.

        `on_attempt` sees every attempt as soon as it ends (the caller stores it).
        """
        raw = dumps(body).encode("utf-8")
        deadline = self.clock() + self.total_budget
        for number in range(1, self.attempts + 1):
            attempt = self._attempt(number, raw, deadline - self.clock())
            on_attempt(attempt)
            if attempt.final:
                return attempt.parsed
            pause = self.backoff * 2 ** (number - 1)
            if number == self.attempts or self.clock() + pause + 0.1 >= deadline:
                break
            self.sleep(pause)
        return None

    def _attempt(self, number: int, raw: bytes, remaining: float) -> Attempt:
        started_at, started = datetime.now(UTC), self.clock()
        read = max(0.1, min(self.timeout, remaining))
        status = exception = text = None
        parsed = None
        try:
            response = self.session.post(
                self.url,
                data=raw,
                headers={"Content-Type": "application/json"},
                timeout=(min(CONNECT_TIMEOUT, read), read),
                allow_redirects=False,
            )
            status, text = response.status_code, response.text[:MAX_STORED_ANSWER]
            if status == 200:
                parsed = parse_answer(response.content)
        except requests.RequestException as exc:
            exception = f"{type(exc).__name__}: {exc}"[:MAX_STORED_ANSWER]
        except AnswerError as exc:
            exception = f"AnswerError: {exc}"
        elapsed_ms = int((self.clock() - started) * 1000)
        return Attempt(number, started_at, elapsed_ms, status, exception, text, parsed)

"""Hostile input on the admin API: one test per class of input that once gave HTTP 500 (or was
silently rounded). Every refusal has its exact status, the usual `{"error", "description"}` JSON
body, and leaves the database exactly as it was: no input gets a 500 (docs/admin.md).

One seeded database for the module (tests/admin_scenario.py): a refusal must leave it as it was
whatever ran before, and the few accepted requests use references of their own.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from sqlalchemy.exc import DataError

from tests.admin_scenario import seed
from tests.conftest import Operator, Provider, _postgres_url, make_app
from tests.fuzz.admin_edges import ledger_state
from tests.site_helpers import site_client
from wallet.admin import queries
from wallet.admin.schemas import decimal_places
from wallet.limits import FREE_TEXT_LENGTH, IDENTIFIER_LENGTH, MAX_MINOR_DIGITS, OPERATOR_NAME_LENGTH
from wallet.money import minor_unit

JSON = "application/json"


@pytest.fixture(scope="module")
def app() -> Iterator[Flask]:
    """The app on a database emptied and seeded once for this module (overrides conftest's `app`)."""
    app = make_app(_postgres_url())
    client = app.test_client()
    app.config["SEEDED_IDS"] = seed(Provider(client), Operator(client))
    yield app
    app.extensions["wallet.engine"].dispose()


@pytest.fixture(scope="module")
def ids(app: Flask) -> dict[str, str]:
    return app.config["SEEDED_IDS"]


def refused(app: Flask, operator: Operator, status: int, verb: str, path: str, **kwargs: Any) -> dict[str, Any]:
    """Send one request; assert the exact status, the error shape, and that nothing changed."""
    before = ledger_state(app)
    r = operator.request(verb, path, **kwargs)
    body = r.get_data(as_text=True)
    assert r.status_code == status, (verb, path[:80], r.status_code, body[:300])
    assert r.mimetype == JSON, body[:300]
    answer = json.loads(body)
    assert isinstance(answer["error"], str) and answer["error"], answer
    assert isinstance(answer["description"], str) and answer["description"], answer
    assert ledger_state(app) == before
    return answer


def adjustment(amount: Any, reference: str = "adj-hostile", reason: str = "hostile test") -> str:
    """An adjustment body with `amount` written as given (raw JSON text when a str starting with '@')."""
    written = amount[1:] if isinstance(amount, str) and amount.startswith("@") else json.dumps(amount)
    return f'{{"amount": {written}, "reference": {json.dumps(reference)}, "reason": {json.dumps(reason)}}}'


# --------------------------------------------------------------------------- amounts


@pytest.mark.parametrize("amount", ["@NaN", "@Infinity", "@-Infinity", "NaN", "Infinity", "-Infinity",
                                    "nan", "inf", "sNaN"])
def test_nan_and_infinity_amounts_are_422(app, operator, ids, amount):
    answer = refused(app, operator, 422, "POST", "/players/p1/adjustments", data=adjustment(amount),
                     content_type=JSON)
    assert "amount" in answer["fields"]


@pytest.mark.parametrize("amount", ["@1e2", "@1E+2", "@-1e2", "@1.5e1", "@1e-2", "@1e400", "@1e-400", "1e2", "-1E2",
                                    "0x10", "+1.00", " 1.00", "1.00 ", "10.00\n", "1,00", "1_000", "١٢", "", "-",
                                    "1.", ".5", "--1", "@true", "@null", "@[1]", '@{"v": 1}'])
def test_amounts_that_are_not_plain_decimals_are_422(app, operator, ids, amount):
    answer = refused(app, operator, 422, "POST", "/players/p1/adjustments", data=adjustment(amount),
                     content_type=JSON)
    assert "amount" in answer["fields"] or "amount" in answer["description"]


@pytest.mark.parametrize("amount", ["@" + "9" * 30, "9" * 30, "-" + "9" * 30, "@1000000000000", "1000000000000.00",
                                    "@-1000000000000"])
def test_huge_amounts_are_422(app, operator, ids, amount):
    refused(app, operator, 422, "POST", "/players/p1/adjustments", data=adjustment(amount), content_type=JSON)


def test_an_integer_longer_than_python_reads_by_default_is_422(app, operator, ids):
    """5,001 digits: past Python's default int parsing limit (4,300), read exactly all the same, too large."""
    refused(app, operator, 422, "POST", "/players/p1/adjustments", data=adjustment("@1" + "0" * 5000),
            content_type=JSON)


@pytest.mark.parametrize("user, amount", [
    ("p1", "1.001"), ("p1", "@1.001"), ("p1", "-0.005"),
    ("p1", "1.00000000000000000000000000001"), ("p1", "@1.00000000000000000000000000001"),
    ("p1", "0.0000000000000000000000000000000000000001"), ("p1", "@1E-30"),
    ("p2", "1.5"), ("p2", "@0.1"),
])
def test_too_many_decimals_are_refused_never_rounded(app, operator, ids, user, amount):
    balance = operator.balance(user)
    refused(app, operator, 422, "POST", f"/players/{user}/adjustments", data=adjustment(amount), content_type=JSON)
    assert operator.balance(user) == balance


@pytest.mark.parametrize("amount, credited", [("1.000", "1.00"), ("@1.000", "1.00"), ("2.5000000000000000000000000",
                                                                                       "2.50"), ("-0.10", "-0.10")])
def test_trailing_zeros_are_exact_not_rounded(app, operator, ids, amount, credited):
    balance = operator.balance("p1")
    r = operator.request("POST", "/players/p1/adjustments", data=adjustment(amount, f"zeros-{amount}"),
                         content_type=JSON)
    assert r.status_code == 201, r.get_data(as_text=True)
    assert operator.balance("p1") == balance + Decimal(credited)


def test_the_edge_precision_limit_is_the_finest_currency():
    assert MAX_MINOR_DIGITS == max(minor_unit(c) for c in ("CLF", "UYW", "KWD", "USD", "JPY"))
    assert [decimal_places(Decimal(v)) for v in ("1", "1.500", "0.00000", "1E+5", "1E-30", "-0.0001")] \
        == [0, 1, 0, 0, 30, 4]


@pytest.mark.parametrize("amount", ["0", "0.00", "-0", "@0", "@-0", "@0.0", "@0E-999"])
def test_a_zero_adjustment_is_422(app, operator, ids, amount):
    refused(app, operator, 422, "POST", "/players/p1/adjustments", data=adjustment(amount), content_type=JSON)


# --------------------------------------------------------------------------- NUL and surrogates


PATHS_WITH_TEXT = [
    ("GET", "/players/{}"), ("PATCH", "/players/{}"), ("POST", "/players/{}/adjustments"),
    ("GET", "/players/{}/history"), ("GET", "/rounds/{}"), ("GET", "/transactions/by-reference/{}"),
    ("GET", "/cancels/{}"),
]


def _body_for(verb: str, path: str) -> dict[str, Any]:
    if verb == "PATCH":
        return {"json": {"status": "frozen", "reason": "test"}}
    if path.endswith("adjustments"):
        return {"json": {"amount": "1.00", "reference": "nul-test", "reason": "x"}}
    return {}


@pytest.mark.parametrize("verb, path", PATHS_WITH_TEXT)
@pytest.mark.parametrize("segment", ["a%00b", "%00", "p1%00"], ids=["inside", "alone", "after-a-real-id"])
def test_nul_in_a_path_segment_is_404(app, operator, ids, verb, path, segment):
    refused(app, operator, 404, verb, path.format(segment), **_body_for(verb, path))


@pytest.mark.parametrize("verb, path", PATHS_WITH_TEXT)
def test_invalid_utf8_in_a_path_segment_is_404(app, operator, ids, verb, path):
    """A lone surrogate cannot travel in a URL: its UTF-8 bytes (ED A0 80) are invalid, and are read
    as U+FFFD, which names nothing."""
    refused(app, operator, 404, verb, path.format("p%ED%A0%80"), **_body_for(verb, path))


@pytest.mark.parametrize("query", [
    "/transactions?userId=a%00b", "/transactions?roundId=%00", "/transactions?reference=x%00",
    "/transactions?reference=x%00&format=csv", "/transactions?cursor=%00", "/players/p1/history?cursor=dHg6%00",
    "/rounds/r1?userId=p1%00", "/cancels?reference=%00", "/cancels?cursor=1%00",
])
def test_nul_in_a_query_filter_is_422(app, operator, ids, query):
    refused(app, operator, 422, "GET", query)


@pytest.mark.parametrize("verb, path, body", [
    ("POST", "/players", '{"userId": "a\\u0000b", "currency": "USD"}'),
    ("POST", "/players", '{"userId": "a\\ud800b", "currency": "USD"}'),
    ("POST", "/players", '{"userId": "ok", "currency": "USD", "x\\u0000": 1}'),
    ("POST", "/players/p1/adjustments", '{"amount": "1.00", "reference": "r\\u0000", "reason": "x"}'),
    ("POST", "/players/p1/adjustments", '{"amount": "1.00", "reference": "r", "reason": "nul \\u0000 inside"}'),
    ("POST", "/players/p1/adjustments", '{"amount": "1.00", "reference": "r", "reason": "\\udc00"}'),
    ("POST", "/players/p1/adjustments", '{"amount": "1\\u0000", "reference": "r", "reason": "x"}'),
    ("PATCH", "/players/p1", '{"status": "frozen\\u0000"}'),
    ("POST", "/cancel-round", '{"reference": "b3", "requestedBy": "staff\\u0000"}'),
    ("POST", "/cancel-round", '{"reference": "b3\\ud800"}'),
])
def test_nul_or_a_lone_surrogate_in_a_body_is_422(app, operator, ids, verb, path, body):
    refused(app, operator, 422, verb, path, data=body, content_type=JSON)


def test_raw_surrogate_bytes_in_a_body_are_422(app, operator, ids):
    raw = b'{"amount": "1.00", "reference": "r", "reason": "\xed\xa0\x80"}'
    refused(app, operator, 422, "POST", "/players/p1/adjustments", data=raw, content_type=JSON)


# --------------------------------------------------------------------------- integers beyond 64 bits


@pytest.mark.parametrize("path", ["/transactions/9223372036854775808", "/transactions/" + "9" * 30,
                                  "/transactions/0", "/cancels/9223372036854775808", "/cancels/" + "9" * 30,
                                  "/cancels/0", "/cancels/-1", "/cancels/%D9%A3", "/cancels/1e3", "/cancels/%201"])
def test_ids_beyond_a_bigint_are_404(app, operator, ids, path):
    refused(app, operator, 404, "GET", path)


def test_the_largest_bigint_id_is_an_ordinary_404(app, operator, ids):
    refused(app, operator, 404, "GET", "/transactions/9223372036854775807")
    refused(app, operator, 404, "GET", "/cancels/9223372036854775807")


def _cursor(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


@pytest.mark.parametrize("path", [
    "/transactions?cursor=" + _cursor("tx:" + "9" * 30), "/transactions?cursor=" + _cursor("tx:9223372036854775808"),
    "/transactions?cursor=" + _cursor("tx:" + "1" * 5000)[:60], "/transactions?cursor=" + _cursor("tx:-1"),
    "/players/p1/history?cursor=" + _cursor("tx:" + "9" * 30), "/cancels?cursor=" + "9" * 30,
    "/cancels?cursor=9223372036854775808", "/cancels?cursor=-1", "/cancels?cursor=%D9%A3", "/cancels?cursor=1_000",
    "/transactions?limit=" + "9" * 30, "/cancels?limit=" + "9" * 30, "/players/p1/history?limit=-" + "9" * 30,
])
def test_cursors_and_limits_beyond_64_bits_are_422(app, operator, ids, path):
    refused(app, operator, 422, "GET", path)


def test_the_largest_cursor_still_pages(app, operator, ids):
    r = operator.request("GET", "/transactions?cursor=" + _cursor("tx:9223372036854775807"))
    assert r.status_code == 200 and r.get_json() == operator.request("GET", "/transactions").get_json()
    assert operator.request("GET", "/cancels?cursor=9223372036854775807").status_code == 200


# --------------------------------------------------------------------------- the calendar's edges


@pytest.mark.parametrize("query", [
    "from=0001-01-01T00:00:00%2B01:00", "to=0001-01-01T00:30:00%2B00:31", "to=9999-12-31T23:59:59-01:00",
    "from=9999-12-31T23:00:00-23:59", "from=0000-01-01T00:00:00Z", "to=10000-01-01T00:00:00Z",
    "from=2026-02-30T00:00:00Z", "from=2026-01-01T24:00:01Z",
])
def test_times_outside_the_calendar_are_422(app, operator, ids, query):
    answer = refused(app, operator, 422, "GET", f"/transactions?{query}")
    assert set(answer["fields"]) <= {"from", "to"}
    refused(app, operator, 422, "GET", f"/transactions?format=csv&{query}")


@pytest.mark.parametrize("query", [
    "from=0001-01-01T00:00:00Z", "to=9999-12-31T23:59:59.999999Z", "from=0001-01-01T01:00:00%2B01:00",
    "from=0001-01-01T00:00:00Z&to=9999-12-31T23:59:59.999999Z", "to=0001-01-01T00:00:00Z",
])
def test_times_at_the_calendar_edges_work(app, operator, ids, query):
    r = operator.request("GET", f"/transactions?{query}")
    assert r.status_code == 200, r.get_data(as_text=True)


@pytest.mark.parametrize("days, status", [
    ("from=9999-12-31&to=9999-12-31", 200), ("from=0001-01-01&to=0001-01-01", 200),
    ("from=9999-01-01&to=9999-12-31", 200), ("from=0001-01-01&to=9999-12-31", 422),
    ("from=0000-01-01&to=0001-01-01", 422), ("from=9999-12-31&to=10000-01-01", 422),
    ("from=2026-02-29&to=2026-03-01", 422), ("from=2026-01-02&to=2026-01-01", 422),
])
def test_reports_at_the_calendar_edges(app, operator, ids, days, status):
    if status == 200:
        r = operator.request("GET", f"/reports/daily?{days}")
        assert r.status_code == 200, r.get_data(as_text=True)
    else:
        refused(app, operator, status, "GET", f"/reports/daily?{days}")


# --------------------------------------------------------------------------- bodies


BODY_ENDPOINTS = [("POST", "/players"), ("PATCH", "/players/p1"), ("POST", "/players/p1/adjustments"),
                  ("POST", "/cancel-round")]


@pytest.mark.parametrize("verb, path", BODY_ENDPOINTS)
@pytest.mark.parametrize("raw", ["[" * 100_000 + "]" * 100_000, '{"a":' * 50_000 + "1" + "}" * 50_000],
                         ids=["deep-list", "deep-object"])
def test_deeply_nested_bodies_are_400(app, operator, ids, verb, path, raw):
    refused(app, operator, 400, verb, path, data=raw, content_type=JSON)


@pytest.mark.parametrize("verb, path", BODY_ENDPOINTS)
def test_bodies_nested_beyond_64_levels_are_422(app, operator, ids, verb, path):
    raw = '{"x":' + "[" * 64 + "]" * 64 + "}"
    refused(app, operator, 422, verb, path, data=raw, content_type=JSON)


@pytest.mark.parametrize("verb, path", BODY_ENDPOINTS)
@pytest.mark.parametrize("raw", ["[]", "[1]", '"text"', "1", "1.5", "null", "true", "NaN"])
def test_bodies_that_are_not_objects_are_422(app, operator, ids, verb, path, raw):
    answer = refused(app, operator, 422, verb, path, data=raw, content_type=JSON)
    assert "object" in answer["description"]


@pytest.mark.parametrize("verb, path", BODY_ENDPOINTS)
@pytest.mark.parametrize("raw", [b"nope", b"", b"{", b'{"a": 1,}', b"\xff\xfe\x00", b'{"a": "\xff"}', b"{'a': 1}"])
def test_bodies_that_are_not_json_are_400(app, operator, ids, verb, path, raw):
    refused(app, operator, 400, verb, path, data=raw, content_type=JSON)


@pytest.mark.parametrize("verb, path", BODY_ENDPOINTS)
@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded"])
def test_bodies_not_sent_as_json_are_400(app, operator, ids, verb, path, content_type):
    kwargs = {"data": '{"userId": "x", "currency": "USD"}'}
    if content_type:
        kwargs["content_type"] = content_type
    refused(app, operator, 400, verb, path, **kwargs)


def test_a_field_twice_with_different_values_is_422(app, operator, ids):
    refused(app, operator, 422, "POST", "/players", data='{"userId": "a", "userId": "b", "currency": "USD"}',
            content_type=JSON)


@pytest.mark.parametrize("verb, path, body", [
    ("POST", "/players", {"userId": "u" * (IDENTIFIER_LENGTH + 1), "currency": "USD"}),
    ("POST", "/players", {"userId": "u", "currency": "USDX"}),
    ("POST", "/players", {"userId": "u", "currency": "USD\n"}),
    ("POST", "/players", {"userId": "u", "currency": "usd"}),
    ("POST", "/players", {"userId": "   ", "currency": "USD"}),
    ("POST", "/players/p1/adjustments", {"amount": "1", "reference": "r" * (IDENTIFIER_LENGTH + 1), "reason": "x"}),
    ("POST", "/players/p1/adjustments", {"amount": "1", "reference": "r", "reason": "x" * (FREE_TEXT_LENGTH + 1)}),
    ("POST", "/players/p1/adjustments", {"amount": "1", "reference": "r", "reason": ""}),
    ("POST", "/players/p1/adjustments", {"amount": "1", "reference": "r", "reason": "x", "extra": 1}),
    ("POST", "/players/p1/adjustments", {"amount": "1", "reference": ["r"], "reason": "x"}),
    ("POST", "/cancel-round", {"reference": "b3", "requestedBy": "s" * (OPERATOR_NAME_LENGTH + 1)}),
    ("POST", "/cancel-round", {"reference": "b" * (IDENTIFIER_LENGTH + 1)}),
    ("POST", "/cancel-round", {"reference": "b3", "roundId": "r" * (IDENTIFIER_LENGTH + 1)}),
    ("PATCH", "/players/p1", {"status": "gone"}),
    ("PATCH", "/players/p1", {"status": None}),
])
def test_values_longer_than_their_column_or_invalid_are_422(app, operator, ids, verb, path, body):
    refused(app, operator, 422, verb, path, json=body)


@pytest.mark.parametrize("path", [
    "/transactions?userId=" + "u" * (IDENTIFIER_LENGTH + 1), "/transactions?roundId=" + "r" * (IDENTIFIER_LENGTH + 1),
    "/transactions?reference=" + "r" * (IDENTIFIER_LENGTH + 1), "/rounds/r1?userId=" + "u" * (IDENTIFIER_LENGTH + 1),
    "/cancels?reference=" + "r" * (IDENTIFIER_LENGTH + 1), "/transactions?cursor=" + "A" * 65,
])
def test_query_values_longer_than_their_column_are_422(app, operator, ids, path):
    refused(app, operator, 422, "GET", path)


@pytest.mark.parametrize("verb, path", [("GET", "/players/{}"), ("PATCH", "/players/{}"), ("GET", "/rounds/{}"),
                                        ("GET", "/transactions/by-reference/{}"), ("GET", "/players/{}/history")])
def test_path_segments_longer_than_their_column_are_404(app, operator, ids, verb, path):
    refused(app, operator, 404, verb, path.format("x" * (IDENTIFIER_LENGTH + 1)), **_body_for(verb, path))


# --------------------------------------------------------------------------- pagination


@pytest.mark.parametrize("path", ["/transactions", "/players/p1/history", "/cancels"])
@pytest.mark.parametrize("limit", ["0", "-1", "1001", "ten", "1.5", "1e3", "", "NaN", "%00"])
def test_limits_out_of_range_are_422(app, operator, ids, path, limit):
    refused(app, operator, 422, "GET", f"{path}?limit={limit}")


@pytest.mark.parametrize("path", ["/transactions", "/players/p1/history"])
@pytest.mark.parametrize("cursor", ["garbage", "%FF%FE", _cursor("xx:12"), _cursor("tx:"), _cursor("tx:1.5"),
                                    _cursor("tx:\u0663"), "====", "%C3%A9"])
def test_forged_cursors_are_422(app, operator, ids, path, cursor):
    refused(app, operator, 422, "GET", f"{path}?cursor={cursor}")


def test_unknown_query_parameters_are_422(app, operator, ids):
    refused(app, operator, 422, "GET", "/transactions?bogus=1")
    refused(app, operator, 422, "GET", "/players/p1/history?%00=1")


# --------------------------------------------------------------------------- HTTP errors and faults


def test_http_errors_keep_their_codes_with_the_json_shape(app, operator, ids):
    assert refused(app, operator, 404, "GET", "/no-such-thing")["error"] == "notfound"
    answer = refused(app, operator, 405, "DELETE", "/players/p1")
    assert answer["error"] == "methodnotallowed"
    r = operator.request("PUT", "/transactions")
    assert r.status_code == 405 and "GET" in r.headers["Allow"]


def test_a_body_over_the_limit_is_413(app, ids):
    small = make_app(app.config["WALLET_SETTINGS"].database_url, max_body_bytes=1024)
    before = ledger_state(app)
    r = Operator(small.test_client()).request("POST", "/players", data='{"userId": "' + "x" * 4096 + '"}',
                                              content_type=JSON)
    assert r.status_code == 413 and r.get_json()["error"] == "toolarge" and r.get_json()["description"]
    assert ledger_state(app) == before
    small.extensions["wallet.engine"].dispose()


def test_an_unreachable_database_is_503_with_retry_after():
    app = make_app("postgresql+psycopg://wallet@127.0.0.1:1/nowhere?connect_timeout=2")
    operator = Operator(app.test_client())
    for verb, path, kwargs in [("GET", "/reconciliation", {}), ("GET", "/players/p1", {}),
                               ("POST", "/players/p1/adjustments",
                                {"json": {"amount": "1.00", "reference": "r", "reason": "x"}}),
                               ("GET", "/transactions?format=csv", {})]:
        r = operator.request(verb, path, **kwargs)
        assert r.status_code == 503, (path, r.get_data(as_text=True))
        assert r.get_json()["error"] == "unavailable" and int(r.headers["Retry-After"]) > 0
    app.extensions["wallet.engine"].dispose()


def test_a_genuine_fault_is_a_logged_json_500(app, operator, ids, monkeypatch, caplog):
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("a bug")

    monkeypatch.setattr(queries, "reconciliation", broken)
    with caplog.at_level(logging.ERROR, logger="wallet.admin.errors"):
        r = operator.request("GET", "/reconciliation")
    assert r.status_code == 500 and r.get_json() == {"error": "internal",
                                                     "description": "internal error; it has been logged"}
    assert "a bug" not in r.get_data(as_text=True)
    assert any(record.exc_info and "a bug" in str(record.exc_info[1]) for record in caplog.records)


def test_a_database_refusal_past_the_edge_is_still_4xx_and_logged(app, operator, ids, monkeypatch, caplog):
    """The last resort: a check missing at the edge answers 422 (SQLSTATE class 22), never 500,
    and says so in the log (the fuzz tests fail on that line)."""
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise DataError("SELECT 1", {}, ValueError("value too long"))

    monkeypatch.setattr(queries, "get_player", refuse)
    with caplog.at_level(logging.WARNING, logger="wallet.admin.errors"):
        answer = refused(app, operator, 422, "GET", "/players/p1")
    assert answer["error"] == "invalid"
    assert any("missing" in record.getMessage() for record in caplog.records)


# --------------------------------------------------------------------------- the support page


@pytest.mark.parametrize("path, status", [
    ("/support/players/a%00b", 404), ("/support/rounds/%00", 404), ("/support/references/x%00", 404),
    ("/support/transactions/" + "9" * 30, 404), ("/support/players/" + "x" * 129, 404),
    ("/support/rounds/r1?userId=%00", 422), ("/support/players/p1?cursor=%00", 422),
    ("/support/players/p1?cursor=garbage", 422), ("/support/?by=transaction&q=%C2%B2", 404),
    ("/support/?by=transaction&q=" + "9" * 30, 404), ("/support/?by=player&q=a%00b", 422),
])
def test_the_support_page_refuses_the_same_input_without_a_500(app, client, ids, path, status):
    before = ledger_state(app)
    r = site_client(app, "viewer").get(path)
    assert r.status_code == status, (path, r.get_data(as_text=True)[:300])
    assert ledger_state(app) == before

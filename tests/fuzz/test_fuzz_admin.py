"""Hostile input on the admin API (hypothesis): every endpoint, driven through its path segments,
query strings, bodies and headers on the real database, never answers 5xx; every 4xx is a JSON
object with a non-empty `error` and `description`; a refused write changes nothing; no input
reaches the last-resort handler's "a check is missing at the edge" log line; and the ledger still
reconciles afterwards (docs/admin.md). The one 5xx allowed is the documented 502 `badgateway` of
GET /admin/rounds/<roundId>/provider-status (the provider gave no round status), with its callId.

Every route registered under /admin has a group here (the players', adjustments, transactions,
rounds, reports, cancels; the games and limits of the operator controls; the provider's status,
sessions, health and calls; stale rounds and sweeps; staff and tokens, adjustment approvals, the
audit trail), plus any method on any of those paths.
Provider calls go to a closed local port with a short timeout: each fails at once, recorded.

    make test PYTEST_ARGS="tests/fuzz"                               # quick: 50 examples a group
    WALLET_FUZZ_EXAMPLES=3000 make test PYTEST_ARGS="tests/fuzz"     # long run (also the callbacks')

tests/fuzz/test_schemathesis_admin.py is a second, independent fuzzer, driven by the OpenAPI
document.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import os
import re
import socket
from collections.abc import Iterator
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from urllib.parse import quote

import pytest
import simplejson
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import event

from tests.admin_scenario import seed
from tests.conftest import Operator, Provider
from tests.fuzz.admin_edges import EdgeLog, edge_log, ledger_state  # noqa: F401  (edge_log: a fixture)
from tests.support import ADMIN_TOKEN

EXAMPLES = int(os.environ.get("WALLET_FUZZ_EXAMPLES", "50"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                       HealthCheck.data_too_large, HealthCheck.filter_too_much])
READS = ("GET", "HEAD", "OPTIONS")
# The one path whose documented answer may be a 5xx: 502 when the provider gives no round status.
PROVIDER_STATUS = re.compile(r"/admin/rounds/[^/]+/provider-status")

USERS = ["p1", "p2", "nobody"]
ROUNDS = ["r1", "r2", "r3", "r4", "r5", "none"]
REFERENCES = ["b1", "b2", "b3", "w1", "ghost", "b5", "deposit-p1", "nope"]
GAMES = ["Im_60_tumblefortune", "tumblefortune", "nogame"]  # the seed's Bets name the first

# Text at the edges: NUL, lone surrogates, invalid UTF-8 once percent-encoded, bidi marks, astral
# planes, blanks, the column's length and one more, numbers that overflow 64 bits, path tricks.
HOSTILE_TEXT = [
    "\x00", "a\x00b", "\ud800", "x\udfff", "\u202eref\u202c", "\u200f", "\ufeff", "😀" * 3, "", " ", "\n",
    "Ω" * 200, "x" * 128, "x" * 129, "9" * 19, "9" * 30, "9223372036854775807", "9223372036854775808", "-1", "0",
    "1e3", "NaN", "Infinity", "٣", "²", "%00", "..", ".", "/", "a/b", "?", "#", "tx:1", "dHg6MQ", "null",
]
edge_text = st.one_of(
    st.text(max_size=30),
    st.sampled_from(HOSTILE_TEXT),
    # Every code point, NUL and lone surrogates included (hypothesis leaves surrogates out by default).
    st.text(st.characters(exclude_categories=()), max_size=8),
)
# A real id with something the database cannot store around it (the classes that once gave 500).
unstorable = st.builds(lambda before, bad, after: before + bad + after, st.sampled_from(["", "p1", "r1", "b1"]),
                       st.sampled_from(["\x00", "\ud800", "\udfff"]), st.sampled_from(["", "x"]))
segments = st.one_of(st.sampled_from(USERS + ROUNDS + REFERENCES), st.sampled_from(HOSTILE_TEXT), unstorable,
                     edge_text, st.integers(-(10**30), 10**30).map(str))
offsets = st.timedeltas(min_value=-timedelta(hours=23, minutes=59), max_value=timedelta(hours=23, minutes=59))
moments = st.one_of(
    st.datetimes(min_value=datetime.min, max_value=datetime.max, timezones=st.builds(timezone, offsets))
    .map(datetime.isoformat),
    st.datetimes(min_value=datetime.min, max_value=datetime.max).map(datetime.isoformat),
    st.dates(min_value=date.min, max_value=date.max).map(date.isoformat),
    st.sampled_from(["0000-01-01", "0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "10000-01-01",
                     "9999-12-31", "0001-01-01", "2026-02-30", "2026-01-01T24:00:00", "yesterday"]),
)
query_values = st.one_of(edge_text, unstorable, moments, st.sampled_from(USERS + ROUNDS + REFERENCES + [
    "bet", "win", "result", "refund", "adjustment", "open", "settled", "refunded", "applied", "unmatched", "posted",
    "json", "csv", "1", "1000", "1001", "100", "true", "false", "yes", "CancelRound", "GetRoundStatus", "CloseSession",
    "HealthCheck", "pending", "confirmed", "rejected", "failed", "0", "24", "876600", "876601", "-0", "nan", "inf",
    "1e308", "1e-400", "0x10", "cm91bmQ6MQ", "cm91bmQ6OTIyMzM3MjAzNjg1NDc3NTgwOA"]),
    st.integers(-(10**30), 10**30).map(str), st.floats().map(str))
amounts = st.one_of(
    st.decimals(allow_nan=True, allow_infinity=True),
    st.integers(0, 40).flatmap(lambda places: st.decimals(min_value=-(10**13), max_value=10**13, places=places)),
    st.integers(-(10**30), 10**30),
    st.sampled_from(["1.00", "-1.00", "1.001", "1.000", "1" + "0" * 5000, "10.00\n", " 1", "+1", "1e2", "-0", "0",
                     "1.00000000000000000000000000001", "NaN", "-Infinity", "0.0001", "-999999999999.99"]),
    st.decimals(allow_nan=False, allow_infinity=False).map(str),
)
numbers = st.one_of(st.integers(-(10**30), 10**30), st.sampled_from([10**400, 2**63, 2**64, -(2**63) - 1]),
                    st.decimals(allow_nan=True, allow_infinity=True))
json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), numbers, edge_text, amounts),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(edge_text, inner, max_size=3)),
    max_leaves=10,
)
# A limit: amounts as above, and the ones at a limit's own edges (no sign, the currency's digits,
# MAX_AMOUNT, exponents, non-finite Decimals and integers beyond 64 bits as JSON numbers).
limit_amounts = st.one_of(
    st.none(), amounts,
    st.sampled_from(["0", "0.00", "5.00", "100", "100.001", "100.0001", "100.00001", "0.5", "999999999999.9999",
                     "1000000000000", "1" + "0" * 30, "5.000000000000000000000000000001", "٣", "5.00 ", "+5",
                     "5,00", ".5", "5.", "00005.00", "inf", Decimal("NaN"), Decimal("sNaN"), Decimal("-Infinity"),
                     Decimal("1E+2"), Decimal("1E-30"), Decimal("-0"), Decimal("0E-1000"), Decimal("5.000000"),
                     Decimal("1E+400"), 10**400, 2**63, 2**64 + 1, -1, 0, True]),
)
period_limits = st.one_of(
    st.none(), json_values,
    st.dictionaries(st.one_of(st.sampled_from(["day", "week", "month"]), edge_text), limit_amounts, max_size=4),
)
minutes = st.one_of(st.none(), st.integers(-5, 20_000), numbers, json_values,
                    st.sampled_from([1, 60, 10080, 10081, 0, -1, 2**63, 10**400, True, "5", Decimal("5.0"),
                                     Decimal("NaN"), Decimal("5E+1")]))
# excludedUntil: any time (naive ones are refused), the calendar's first and last instants in every
# offset, days that do not exist, offsets out of range, and times far in the future.
excluded_untils = st.one_of(
    st.none(), moments, json_values,
    st.datetimes(min_value=datetime(2027, 1, 1), max_value=datetime.max, timezones=st.builds(timezone, offsets))
    .map(datetime.isoformat),
    st.sampled_from(["2099-12-31T23:59:59Z", "9999-12-31T23:59:59.999999Z", "9999-12-31T23:59:59.999999+00:00",
                     "9999-12-31T23:59:59+23:59", "9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00Z",
                     "0001-01-01T00:00:00-23:59", "0001-01-01T00:00:00+23:59", "2027-01-01T00:00:00+24:00",
                     "2027-02-29T00:00:00Z", "2028-02-29T00:00:00Z", "+10000-01-01T00:00:00Z",
                     "2027-01-01T00:00:00 Z", "2027-01-01", "2027-01-01T00:00:00+01", "2027-13-01T00:00:00Z",
                     "2027-01-01T00:00:60Z", "2027-01-01T00:00:00.0000000001Z", "2027-01-01T00:00:00\x00Z",
                     "２０２７-01-01T00:00:00Z", "2027-01-01T00:00:00z", "2027-W01-1T00:00:00Z", "now", 20270101]),
)


def long_texts(limit: int) -> st.SearchStrategy[Any]:
    """Free text with a column behind it: its length, one more, blanks, and anything."""
    return st.one_of(edge_text, json_values,
                     st.sampled_from(["fuzz", "x" * limit, "x" * (limit + 1), "Ω" * limit, "😀" * (limit + 1), "",
                                      " ", "\t", None, 1]))


reasons = long_texts(1024)
requesters = long_texts(256)
# olderThanHours: its range (0 to 876 600), just outside it, non-finite, and what is not a number.
hours = st.one_of(numbers, edge_text, st.floats(allow_nan=True, allow_infinity=True),
                  st.sampled_from([0, 0.0, -0.0, 24, 876600, 876600.0000001, 876601, -1, 1e-300, 5e-324, 1e308,
                                   "24", True, None, Decimal("1E+2"), Decimal("-0.0"), [24], {"h": 24}]))
flags = st.one_of(st.booleans(), json_values, st.sampled_from(["true", "false", 1, 0, "yes", None, [True]]))
page_limits = st.one_of(st.integers(-5, 1100), numbers, st.sampled_from([1, 500, 501, 1000, 1001, "5", True]))
identifiers = st.one_of(edge_text, json_values, st.integers(-(10**30), 10**30),
                        st.sampled_from(["x" * 128, "x" * 129, "", " ", "\x00", "p1\x00", 2**64]))
# The edge matrix: besides what hypothesis draws, each new group sends every hostile path segment in
# each of its path parameters, every hostile value in each query parameter, and each body field set
# to every edge value of its type (or left out), so that a missing check fails even the short run.
SEGMENT_EDGES = ["\x00", "a\x00b", "\ud800", "x" * 129, "Ω" * 129, "9" * 19, "9223372036854775808", "-1", "0", "٣",
                 " ", "a/b"]
QUERY_EDGES = ["\x00", "a\x00b", "\ud800", "x" * 129, "", "-1", "0", "9223372036854775808", "9" * 30, "nan", "inf",
               "1e308", "1e9", "٣", "cm91bmQ6OTIyMzM3MjAzNjg1NDc3NTgwOA"]
TEXT_EDGES = ["", " ", "\x00", "a\ud800", "x" * 1025, 2**63, None, {"a": [1]}]
AMOUNT_EDGES = [Decimal("NaN"), Decimal("Infinity"), Decimal("1E+400"), Decimal("1E-400"), "1" + "0" * 30, 10**30,
                2**63, "0.00001", "1.001", -1, "-0", "1e3", None, True]
INTEGER_EDGES = [0, -1, 2**63, 10**400, 1e308, Decimal("1.5"), Decimal("NaN"), "5", True, None]
HOUR_EDGES = [1e308, 1e9, 2**63, 10**400, -1, Decimal("NaN"), Decimal("1E+400"), "1e308", "inf", None, True]
TIME_EDGES = ["9999-12-31T23:59:59.999999+00:00", "9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+23:59",
              "0001-01-01T00:00:00Z", "2027-01-01T00:00:00", "10000-01-01T00:00:00Z", "2027-02-30T00:00:00Z", 2**63]
FLAG_EDGES = [None, 1, "true", 2**63, {}]
PERIOD_EDGES = [None, [], {"year": "1.00"}, "1.00", {"day": {"day": "1.00"}}]
OMIT = object()
auth_headers = st.one_of(
    st.just({"Authorization": f"Bearer {ADMIN_TOKEN}"}),
    st.just({"Authorization": f"Bearer {ADMIN_TOKEN}"}),
    st.just({"Authorization": f"Bearer {ADMIN_TOKEN}"}),
    st.sampled_from([{}, {"Authorization": "Bearer "}, {"Authorization": "Bearer wrong"},
                     {"Authorization": f"Basic {ADMIN_TOKEN}"}, {"Authorization": f"Bearer {ADMIN_TOKEN}\x00"}]),
    st.text(st.characters(min_codepoint=32, max_codepoint=255), max_size=40).map(lambda t: {"Authorization": t}),
)
accepts = st.sampled_from([None, "application/json", "text/csv", "text/csv;q=0.9, application/json;q=0.1",
                           "*/*;q=nan", "text/csv;q=1e400", "garbage;;;=", "", "text/*"])
content_types = st.sampled_from(["application/json", "application/json", "application/json", "text/plain",
                                 "application/json; charset=utf-16", "application/x-www-form-urlencoded", None])


def q(text: str) -> str:
    """Percent-encode text as its UTF-8 bytes (a lone surrogate becomes bytes that are not UTF-8)."""
    return quote(text.encode("utf-8", "surrogatepass"), safe="")


@st.composite
def query_strings(draw: st.DrawFn, keys: list[str]) -> str:
    names = st.one_of(st.sampled_from(keys or ["x"]), edge_text) if keys else edge_text
    pairs = draw(st.lists(st.tuples(names, query_values), max_size=5))
    return "&".join(f"{q(k)}={q(v)}" for k, v in pairs)


@st.composite
def bodies(draw: st.DrawFn, valid: dict[str, Any],
           values: dict[str, st.SearchStrategy[Any]] | None = None) -> tuple[bytes | str, str | None]:
    """(raw body, content type): a valid body with fields replaced, dropped or added; any JSON; deep
    nesting; or bytes. A field is replaced by a draw of `values[field]` (default: any JSON; for
    `amount`, amounts), or by any JSON one time in four."""
    values = {"amount": amounts, **(values or {})}
    content_type = draw(content_types)
    shape = draw(st.integers(0, 19))
    if shape == 0:
        return draw(st.binary(max_size=200)), content_type
    if shape == 1:
        depth = draw(st.sampled_from([63, 64, 65, 100, 5000, 200_000]))
        opener, closer = draw(st.sampled_from([("[", "]"), ('{"a":', "}")]))
        return opener * depth + "1" + closer * depth, content_type
    if shape == 2:
        return encode(draw(json_values)), content_type
    body = dict(valid)
    for name in draw(st.lists(st.sampled_from(sorted(valid)), max_size=len(valid), unique=True)) if valid else []:
        if draw(st.booleans()):
            special = values.get(name)
            body[name] = draw(special if special is not None and draw(st.integers(0, 3)) else json_values)
        else:
            body.pop(name)
    body.update(draw(st.dictionaries(edge_text, json_values, max_size=2)))
    raw = encode(body)
    if draw(st.integers(0, 9)) == 0 and body:  # the same field twice, with another value
        name = draw(st.sampled_from(sorted(body)))
        raw = raw[:-1] + f", {json.dumps(name)}: {encode(draw(json_values))}}}"
    return raw, content_type


def with_edges(valid: dict[str, Any], edges: dict[str, list[Any]]) -> Iterator[dict[str, Any]]:
    """`valid` with one field at a time set to each of its edge values, then left out; a dotted name
    ("lossLimit.day") is a field of a nested object."""
    for name, values in edges.items():
        outer, _, inner = name.partition(".")
        for value in [*values, OMIT]:
            body = copy.deepcopy(valid)
            target = body.setdefault(outer, {}) if inner else body
            if value is OMIT:
                target.pop(inner or outer, None)
            else:
                target[inner or outer] = value
            yield body


def encode(value: Any) -> str:
    """JSON text (Decimals as numbers, NaN/Infinity as JSON's extension; lone surrogates escaped)."""
    return simplejson.dumps(value, use_decimal=True, allow_nan=True)


@dataclasses.dataclass
class Admin:
    app: Flask
    client: Any
    edge_log: EdgeLog

    def send(self, verb: str, path: str, query: str = "", headers: dict[str, str] | None = None,
             body: tuple[bytes | str, str | None] | None = None, accept: str | None = None) -> Any:
        """One request, and every rule an answer must keep; the response."""
        headers = dict(headers if headers is not None else {"Authorization": f"Bearer {ADMIN_TOKEN}"})
        if accept is not None:
            headers["Accept"] = accept
        kwargs: dict[str, Any] = {"headers": headers, "query_string": query}
        if body is not None:
            kwargs["data"] = body[0]
            if body[1] is not None:
                kwargs["content_type"] = body[1]
        before = None if verb in READS else ledger_state(self.app)
        r = self.client.open(path, method=verb, **kwargs)
        raw = r.get_data()
        where = (verb, path[:120], query[:120], r.status_code, raw[:300])
        gateway = r.status_code == 502 and verb in ("GET", "HEAD") and PROVIDER_STATUS.fullmatch(path) is not None
        assert r.status_code < 500 or gateway, where
        if r.status_code >= 400 and verb != "HEAD":
            assert r.mimetype == "application/json", where
            answer = json.loads(raw)
            assert isinstance(answer, dict), where
            assert isinstance(answer.get("error"), str) and answer["error"], where
            assert isinstance(answer.get("description"), str) and answer["description"], where
            if gateway:  # the provider gave no round status: the call it made is recorded, and named
                assert answer["error"] == "badgateway" and str(answer.get("callId", "")).isdigit(), where
        elif r.mimetype == "application/json" and verb != "HEAD":
            json.loads(raw, parse_float=Decimal)
        if before is not None and r.status_code >= 400:
            assert ledger_state(self.app) == before, where
        assert not self.edge_log.records, self.edge_log.messages()
        return r

    def body_edges(self, verb: str, path: str, valid: dict[str, Any], edges: dict[str, list[Any]]) -> None:
        for body in with_edges(valid, edges):
            self.send(verb, path, body=as_json(body))

    def segment_edges(self, verb: str, *parts: str | None, body: dict[str, Any] | None = None) -> None:
        """Each hostile segment in the place of the None among `parts`."""
        for segment in SEGMENT_EDGES:
            path = path_of(*(segment if part is None else part for part in parts))
            self.send(verb, path, body=None if body is None else as_json(body))

    def query_edges(self, path: str, keys: list[str]) -> None:
        for key in keys:
            for value in QUERY_EDGES:
                self.send("GET", path, f"{q(key)}={q(value)}")


@pytest.fixture
def admin(app: Flask, client: Any, provider: Provider, operator: Operator, edge_log: EdgeLog) -> Iterator[Admin]:
    """The seeded ledger (tests/admin_scenario.py), every provider call (CancelRound, GetRoundStatus,
    CloseSession, HealthCheck) pointed at a closed port with one attempt and a short timeout (a call
    that gets through fails fast, recorded, instead of waiting for a provider), then a clean
    reconciliation. The wallet's database sessions run in the zone furthest east (UTC+14), as a
    server whose `timezone` is not UTC gives them: a time stored near the calendar's end must still
    read back there (9999-12-31T23:00Z is year 10000 in that zone)."""
    engine = app.extensions["wallet.engine"]

    @event.listens_for(engine, "connect")
    def far_east(dbapi_connection: Any, _record: Any) -> None:
        with dbapi_connection.cursor() as cursor:
            cursor.execute("SET TIME ZONE 'Pacific/Kiritimati'")
        dbapi_connection.commit()

    engine.dispose()  # no connection made before
    seed(provider, operator)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    app.config["WALLET_SETTINGS"] = dataclasses.replace(
        app.config["WALLET_SETTINGS"], provider_api_url=f"http://127.0.0.1:{closed}", provider_attempts=1,
        provider_timeout=0.5, provider_backoff=0.0)
    yield Admin(app, client, edge_log)
    reconciliation = operator.reconciliation()
    assert reconciliation["ok"] is True and reconciliation["mismatches"] == [], reconciliation


def path_of(*parts: str) -> str:
    return "/admin/" + "/".join(q(p) for p in parts)


def as_json(value: Any) -> tuple[str, str]:
    return encode(value), "application/json"


def test_player_endpoints(admin: Admin) -> None:
    @FUZZ
    @given(st.data())
    def run(data: st.DataObject) -> None:
        user = data.draw(segments)
        headers = data.draw(auth_headers)
        which = data.draw(st.sampled_from(["create", "get", "patch", "history"]))
        if which == "create":
            valid = {"userId": data.draw(st.one_of(st.sampled_from(USERS), edge_text)),
                     "currency": data.draw(st.sampled_from(["USD", "JPY", "KWD", "XYZ", "usd", "USD\n", ""]))}
            admin.send("POST", "/admin/players", headers=headers, body=data.draw(bodies(valid)))
        elif which == "get":
            admin.send("GET", path_of("players", user), headers=headers)
        elif which == "patch":
            valid = {"status": data.draw(st.sampled_from(["active", "frozen", "closed", "FROZEN"])), "reason": "fuzz"}
            admin.send("PATCH", path_of("players", user), headers=headers, body=data.draw(bodies(valid)))
        else:
            query = data.draw(query_strings(["limit", "cursor"]))
            admin.send("GET", path_of("players", user, "history"), query, headers)

    run()


def test_adjustments(admin: Admin) -> None:
    @FUZZ
    @given(segments, bodies({"amount": "1.00", "reference": "fuzz-adjustment", "reason": "fuzz"}), auth_headers)
    def run(user: str, body: tuple[bytes | str, str | None], headers: dict[str, str]) -> None:
        admin.send("POST", path_of("players", user, "adjustments"), headers=headers, body=body)

    run()


def test_transaction_endpoints(admin: Admin) -> None:
    keys = ["userId", "roundId", "reference", "type", "status", "from", "to", "limit", "cursor", "format"]

    @FUZZ
    @given(st.data())
    def run(data: st.DataObject) -> None:
        which = data.draw(st.sampled_from(["list", "one", "reference"]))
        headers = data.draw(auth_headers)
        if which == "list":
            admin.send("GET", "/admin/transactions", data.draw(query_strings(keys)), headers, accept=data.draw(accepts))
        elif which == "one":
            tx_id = data.draw(st.one_of(st.integers(0, 20).map(str), segments))
            admin.send("GET", path_of("transactions", tx_id), headers=headers)
        else:
            admin.send("GET", path_of("transactions", "by-reference", data.draw(segments)), headers=headers)

    run()


def test_rounds_reports_and_reconciliation(admin: Admin) -> None:
    @FUZZ
    @given(st.data())
    def run(data: st.DataObject) -> None:
        which = data.draw(st.sampled_from(["round", "report", "reconciliation"]))
        headers = data.draw(auth_headers)
        if which == "round":
            admin.send("GET", path_of("rounds", data.draw(segments)), data.draw(query_strings(["userId"])), headers)
        elif which == "report":
            admin.send("GET", "/admin/reports/daily", data.draw(query_strings(["from", "to"])), headers)
        else:
            admin.send("GET", "/admin/reconciliation", data.draw(query_strings([])), headers)

    run()


def test_cancel_endpoints(admin: Admin) -> None:
    admin.body_edges("POST", "/admin/cancel-round", {"roundId": "r3", "userId": "p1", "requestedBy": "edge",
                                                     "reason": "edge"},
                     {"roundId": TEXT_EDGES, "userId": TEXT_EDGES, "requestedBy": TEXT_EDGES, "reason": TEXT_EDGES})

    @FUZZ
    @given(st.data())
    def run(data: st.DataObject) -> None:
        which = data.draw(st.sampled_from(["cancel", "list", "one"]))
        headers = data.draw(auth_headers)
        if which == "cancel":
            if data.draw(st.booleans()):  # a bet by its reference
                valid = {"reference": data.draw(st.one_of(st.sampled_from(REFERENCES), edge_text)),
                         "roundId": data.draw(st.one_of(st.sampled_from(ROUNDS), edge_text)),
                         "requestedBy": data.draw(edge_text)}
            else:  # a round by roundId and userId (its earliest unrefunded bet)
                valid = {"roundId": data.draw(st.one_of(st.sampled_from(ROUNDS), edge_text)),
                         "userId": data.draw(st.one_of(st.sampled_from(USERS), edge_text)),
                         "requestedBy": "fuzz", "reason": "fuzz"}
            values = {"reference": identifiers, "roundId": identifiers, "userId": identifiers,
                      "requestedBy": requesters, "reason": reasons}
            admin.send("POST", "/admin/cancel-round", headers=headers, body=data.draw(bodies(valid, values)))
        elif which == "list":
            admin.send("GET", "/admin/cancels", data.draw(query_strings(["limit", "cursor", "reference"])), headers)
        else:
            admin.send("GET", path_of("cancels", data.draw(st.one_of(st.integers(0, 5).map(str), segments))),
                       headers=headers)

    run()


game_paths = st.one_of(
    st.sampled_from(GAMES).map(lambda game: [game]),
    segments.map(lambda segment: [segment]),
    st.lists(st.one_of(st.sampled_from(GAMES), segments), min_size=2, max_size=3),  # <path:gameId> takes slashes
)


def test_game_endpoints(admin: Admin) -> None:
    """The game catalogue: the list (?enabled), one game, enabling or disabling one with a reason."""
    game = path_of("games", GAMES[0])
    assert admin.send("PATCH", game, body=as_json({"enabled": False, "reason": "fuzz"})).status_code == 200
    assert admin.send("GET", "/admin/games", "enabled=false").get_json()["items"][0]["gameId"] == GAMES[0]
    assert admin.send("GET", path_of("games", "nogame")).status_code == 404
    admin.query_edges("/admin/games", ["enabled"])
    admin.segment_edges("GET", "games", None)
    admin.segment_edges("PATCH", "games", None, body={"enabled": True, "reason": "edge"})
    admin.body_edges("PATCH", game, {"enabled": True, "reason": "edge"}, {"enabled": FLAG_EDGES, "reason": TEXT_EDGES})

    @FUZZ
    @given(st.data())
    def run(data: st.DataObject) -> None:
        headers = data.draw(auth_headers)
        which = data.draw(st.sampled_from(["list", "get", "patch"]))
        if which == "list":
            admin.send("GET", "/admin/games", data.draw(query_strings(["enabled"])), headers)
            return
        path = path_of("games", *data.draw(game_paths))
        if which == "get":
            admin.send("GET", path, data.draw(query_strings([])), headers)
        else:
            valid = {"enabled": data.draw(st.booleans()), "reason": "fuzz"}
            body = data.draw(bodies(valid, {"enabled": flags, "reason": reasons}))
            admin.send("PATCH", path, headers=headers, body=body)

    run()


# A valid value of each field of PUT .../limits (a body takes some of them), and its hostile values.
VALID_LIMITS = {"maxBet": "5.00", "lossLimit": {"day": "50.00", "week": None}, "wagerLimit": {"month": "1000"},
                "realityCheckMinutes": 30, "excludedUntil": "2099-01-01T00:00:00Z"}
LIMIT_VALUES = {"maxBet": limit_amounts, "lossLimit": period_limits, "wagerLimit": period_limits,
                "realityCheckMinutes": minutes, "excludedUntil": excluded_untils, "reason": reasons}


def test_limit_endpoints(admin: Admin) -> None:
    """A player's limits and self-exclusion: read them, change some with a reason."""
    p1, p2 = path_of("players", "p1", "limits"), path_of("players", "p2", "limits")
    valid = {**VALID_LIMITS, "excludedUntil": None, "reason": "fuzz"}
    assert admin.send("PUT", p1, body=as_json(valid)).get_json()["maxBet"] == Decimal("5.00")
    assert admin.send("PUT", p2, body=as_json({"maxBet": "0.5", "reason": "fuzz"})).status_code == 422  # JPY
    assert admin.send("GET", p2).status_code == 200
    admin.segment_edges("GET", "players", None, "limits")
    admin.segment_edges("PUT", "players", None, "limits", body={"maxBet": "1.00", "reason": "edge"})
    edges = {"maxBet": AMOUNT_EDGES, "lossLimit": PERIOD_EDGES, "lossLimit.day": AMOUNT_EDGES,
             "wagerLimit": PERIOD_EDGES, "wagerLimit.month": AMOUNT_EDGES, "realityCheckMinutes": INTEGER_EDGES,
             "excludedUntil": TIME_EDGES, "reason": TEXT_EDGES}
    admin.body_edges("PUT", p1, {"maxBet": "4.00", "lossLimit": {"day": "40.00"}, "wagerLimit": {"month": "900"},
                                 "realityCheckMinutes": 20, "reason": "edge"}, edges)

    @FUZZ
    @given(st.data())
    def run(data: st.DataObject) -> None:
        headers = data.draw(auth_headers)
        user = data.draw(st.one_of(st.sampled_from(USERS), segments))
        if data.draw(st.integers(0, 3)) == 0:
            admin.send("GET", path_of("players", user, "limits"), data.draw(query_strings([])), headers)
            return
        valid = {name: value for name, value in VALID_LIMITS.items() if data.draw(st.booleans())}
        valid["reason"] = "fuzz"
        admin.send("PUT", path_of("players", user, "limits"), headers=headers,
                   body=data.draw(bodies(valid, LIMIT_VALUES)))

    run()


def test_provider_endpoints(admin: Admin) -> None:
    """GetRoundStatus, CloseSession, HealthCheck and the calls' record, the provider unreachable."""
    answer = admin.send("GET", path_of("rounds", "r3", "provider-status"), "userId=p1")
    assert answer.status_code == 502, answer.get_data(as_text=True)  # no status: the call is recorded
    assert admin.send("POST", path_of("players", "p1", "close-session")).get_json()["status"] == "failed"
    assert admin.send("GET", "/admin/provider/health").get_json()["up"] is False
    assert admin.send("GET", "/admin/provider/calls", "kind=GetRoundStatus").get_json()["items"]
    assert admin.send("GET", path_of("provider", "calls", answer.get_json()["callId"])).status_code == 200
    keys = ["limit", "cursor", "reference", "kind", "status", "userId", "roundId", "sweepId"]
    values = {"gameId": identifiers, "requestedBy": requesters, "reason": reasons}
    admin.query_edges("/admin/provider/calls", keys)
    admin.query_edges(path_of("rounds", "r3", "provider-status"), ["userId"])
    admin.segment_edges("GET", "rounds", None, "provider-status")
    admin.segment_edges("POST", "players", None, "close-session", body={"reason": "edge"})
    admin.segment_edges("GET", "provider", "calls", None)
    admin.body_edges("POST", path_of("players", "p1", "close-session"),
                     {"gameId": GAMES[0], "requestedBy": "edge", "reason": "edge"},
                     {"gameId": TEXT_EDGES, "requestedBy": TEXT_EDGES, "reason": TEXT_EDGES})

    @FUZZ
    @given(st.data())
    def run(data: st.DataObject) -> None:
        headers = data.draw(auth_headers)
        which = data.draw(st.sampled_from(["status", "close", "health", "calls", "call"]))
        if which == "status":
            round_id = data.draw(st.one_of(st.sampled_from(ROUNDS), segments))
            admin.send("GET", path_of("rounds", round_id, "provider-status"), data.draw(query_strings(["userId"])),
                       headers)
        elif which == "close":
            valid = {"gameId": data.draw(st.sampled_from(GAMES)), "requestedBy": "fuzz", "reason": "fuzz"}
            body = data.draw(st.one_of(st.none(), bodies(valid, values)))
            admin.send("POST", path_of("players", data.draw(segments), "close-session"), headers=headers, body=body)
        elif which == "health":
            admin.send("GET", "/admin/provider/health", data.draw(query_strings([])), headers)
        elif which == "calls":
            admin.send("GET", "/admin/provider/calls", data.draw(query_strings(keys)), headers)
        else:
            call_id = data.draw(st.one_of(st.integers(0, 30).map(str), segments))
            admin.send("GET", path_of("provider", "calls", call_id), headers=headers)

    run()


def test_stale_rounds_and_sweeps(admin: Admin) -> None:
    """Stale rounds, sweeps (dry runs and real ones: the provider silent, nothing is cancelled), the
    sweeps' record."""
    assert {i["roundId"] for i in admin.send("GET", "/admin/stale-rounds", "olderThanHours=0").get_json()["items"]} \
        == {"r3", "r5"}
    for dry_run in (True, False):
        answer = admin.send("POST", "/admin/stale-rounds/sweep",
                            body=as_json({"olderThanHours": 0, "dryRun": dry_run, "reason": "fuzz"}))
        assert {i["outcome"] for i in answer.get_json()["rounds"]} == {"unknown-at-provider"}, answer.get_json()
        assert admin.send("GET", answer.headers["Location"]).get_json()["dryRun"] is dry_run
    assert len(admin.send("GET", "/admin/stale-rounds/sweeps").get_json()["items"]) == 2
    values = {"olderThanHours": hours, "dryRun": flags, "limit": page_limits, "requestedBy": requesters,
              "reason": reasons}
    admin.query_edges("/admin/stale-rounds", ["olderThanHours", "userId", "limit", "cursor"])
    admin.query_edges("/admin/stale-rounds/sweeps", ["limit", "cursor"])
    admin.segment_edges("GET", "stale-rounds", "sweeps", None)
    admin.body_edges("POST", "/admin/stale-rounds/sweep",
                     {"olderThanHours": 0, "dryRun": True, "limit": 1, "requestedBy": "edge", "reason": "edge"},
                     {"olderThanHours": HOUR_EDGES, "dryRun": FLAG_EDGES, "limit": INTEGER_EDGES,
                      "requestedBy": TEXT_EDGES, "reason": TEXT_EDGES})

    @FUZZ
    @given(st.data())
    def run(data: st.DataObject) -> None:
        headers = data.draw(auth_headers)
        which = data.draw(st.sampled_from(["list", "sweep", "sweeps", "one"]))
        if which == "list":
            admin.send("GET", "/admin/stale-rounds", data.draw(query_strings(["olderThanHours", "userId", "limit",
                                                                              "cursor"])), headers)
        elif which == "sweep":
            valid = {"olderThanHours": data.draw(st.sampled_from([0, 0.5, 24])), "dryRun": data.draw(st.booleans()),
                     "limit": data.draw(st.sampled_from([1, 2, 500])), "requestedBy": "fuzz", "reason": "fuzz"}
            valid = {name: value for name, value in valid.items() if data.draw(st.integers(0, 3))}
            body = data.draw(st.one_of(st.none(), bodies(valid, values)))
            admin.send("POST", "/admin/stale-rounds/sweep", data.draw(query_strings([])), headers, body)
        elif which == "sweeps":
            admin.send("GET", "/admin/stale-rounds/sweeps", data.draw(query_strings(["limit", "cursor"])), headers)
        else:
            sweep_id = data.draw(st.one_of(st.integers(0, 30).map(str), segments))
            admin.send("GET", path_of("stale-rounds", "sweeps", sweep_id), headers=headers)

    run()


STAFF_NAMES = ["fuzz-staff", "nobody"]


def test_staff_adjustment_requests_and_audit_endpoints(admin: Admin) -> None:
    """Staff accounts and tokens, four-eyes decisions, the audit trail (bootstrap is an admin)."""
    created = admin.send("POST", "/admin/staff", body=as_json({"userName": "fuzz-staff", "role": "viewer"}))
    assert created.status_code == 201 and created.get_json()["token"]
    admin.segment_edges("GET", "staff", None)
    admin.segment_edges("PATCH", "staff", None, body={"active": True})
    admin.segment_edges("POST", "staff", None, "tokens")
    admin.segment_edges("DELETE", "staff", "fuzz-staff", "tokens", None)
    admin.segment_edges("GET", "adjustments", None)
    admin.segment_edges("POST", "adjustments", None, "approve")
    admin.segment_edges("POST", "adjustments", None, "reject")
    admin.body_edges("POST", "/admin/staff", {"userName": "edge-staff", "role": "viewer", "password": "a long one"},
                     {"userName": TEXT_EDGES, "role": TEXT_EDGES, "password": TEXT_EDGES, "reason": TEXT_EDGES})
    admin.body_edges("PATCH", path_of("staff", "fuzz-staff"), {"role": "viewer"},
                     {"role": TEXT_EDGES, "active": FLAG_EDGES, "reason": TEXT_EDGES})
    admin.query_edges("/admin/audit", ["actor", "action", "target", "from", "to", "limit", "cursor", "format"])
    admin.query_edges("/admin/adjustments", ["status", "limit", "cursor"])

    @FUZZ
    @given(st.data())
    def run(data: st.DataObject) -> None:
        headers = data.draw(auth_headers)
        which = data.draw(st.sampled_from(["create", "patch", "token", "revoke", "decide", "audit"]))
        name = data.draw(st.one_of(st.sampled_from(STAFF_NAMES), segments))
        if which == "create":
            valid = {"userName": data.draw(st.one_of(st.sampled_from(STAFF_NAMES), edge_text)),
                     "role": data.draw(st.sampled_from(["viewer", "admin", "root", "", "Viewer"]))}
            admin.send("POST", "/admin/staff", headers=headers, body=data.draw(bodies(valid)))
        elif which == "patch":
            valid = {"role": "viewer", "active": data.draw(st.booleans())}
            admin.send("PATCH", path_of("staff", name), headers=headers,
                       body=data.draw(bodies(valid, {"active": flags, "reason": reasons})))
        elif which == "token":
            admin.send("POST", path_of("staff", name, "tokens"), headers=headers)
        elif which == "revoke":
            admin.send("DELETE", path_of("staff", name, "tokens", data.draw(segments)), headers=headers)
        elif which == "decide":
            verb = data.draw(st.sampled_from(["approve", "reject"]))
            admin.send("POST", path_of("adjustments", data.draw(segments), verb), headers=headers,
                       body=data.draw(st.one_of(st.none(), bodies({"reason": "fuzz"}, {"reason": reasons}))))
        else:
            query = data.draw(query_strings(["actor", "action", "target", "from", "to", "limit", "cursor", "format"]))
            admin.send("GET", "/admin/audit", query, headers, accept=data.draw(accepts))

    run()


def test_any_method_on_any_admin_path(admin: Admin) -> None:
    """Unknown paths, wrong methods, bodies where none is expected: HTTP errors keep their code, in JSON."""
    routes = st.sampled_from([("players",), ("players", None), ("players", None, "adjustments"),
                              ("players", None, "history"), ("transactions",), ("transactions", None),
                              ("transactions", "by-reference", None), ("rounds", None), ("reports", "daily"),
                              ("reconciliation",), ("cancel-round",), ("cancels",), ("cancels", None),
                              ("games",), ("games", None), ("players", None, "limits"),
                              ("players", None, "close-session"), ("rounds", None, "provider-status"),
                              ("provider", "health"), ("provider", "calls"), ("provider", "calls", None),
                              ("stale-rounds",), ("stale-rounds", "sweep"), ("stale-rounds", "sweeps"),
                              ("stale-rounds", "sweeps", None), ("staff",), ("staff", None),
                              ("staff", None, "tokens"), ("staff", None, "tokens", None), ("adjustments",),
                              ("adjustments", None), ("adjustments", None, "approve"),
                              ("adjustments", None, "reject"), ("audit",)])
    paths = st.one_of(
        st.lists(segments, min_size=0, max_size=4),
        st.tuples(routes, segments).map(lambda pair: [part or pair[1] for part in pair[0]]),
    )

    @FUZZ
    @given(st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]),
           paths, st.one_of(st.none(), bodies({"x": 1})), query_strings([]), auth_headers)
    def run(verb: str, parts: list[str], body: tuple[bytes | str, str | None] | None, query: str,
            headers: dict[str, str]) -> None:
        admin.send(verb, path_of(*parts), query, headers, body)

    run()


def test_known_edges_of_the_calendar_as_filters(admin: Admin) -> None:
    """The calendar's first and last instants, in every zone offset, as transaction filters and as
    the end of a self-exclusion (then read back)."""
    @FUZZ
    @given(st.sampled_from([datetime.min, datetime.max]), offsets, st.sampled_from(["from", "to"]))
    def run(moment: datetime, offset: timedelta, key: str) -> None:
        text = moment.replace(tzinfo=timezone(offset)).isoformat()
        admin.send("GET", "/admin/transactions", f"{key}={q(text)}")
        admin.send("GET", "/admin/transactions", f"{key}={q(text)}&format=csv")
        admin.send("PUT", path_of("players", "p2", "limits"), body=as_json({"excludedUntil": text, "reason": "edge"}))
        admin.send("GET", path_of("players", "p2", "limits"))
        admin.send("GET", path_of("players", "p2"))

    run()

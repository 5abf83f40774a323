"""A second, independent fuzzer for the admin API: schemathesis, driven by the app's own OpenAPI
document (/openapi.json, wallet/admin/openapi.py), against the WSGI app on the real database with
the admin bearer token. Every operation under /admin gets examples valid by the document and
examples that break it (schemathesis' positive and negative modes); no answer may be a server
error (schemathesis' `not_a_server_error`), and each must be a status the document declares for
the operation, with the declared content type (`status_code_conformance`,
`content_type_conformance`): the document says what the API does.

Also, as in test_fuzz_admin.py, no request may reach the last resort's "a check is missing at the
edge" log line (wallet/admin/blueprint.py).

Bounded for `make test`: 5 examples per operation and mode, no shrinking, a 5 s deadline per
example (a few seconds in all). Schemathesis' own pytest integration is not used (schemathesis
4.32's `parametrize` reads `request.node._nodeid`, which pytest 9 no longer has): each operation
and mode is a test of its own, driven by schemathesis' hypothesis strategy for that operation.
WALLET_FUZZ_EXAMPLES sets the examples per operation and mode for a long run:

    WALLET_FUZZ_EXAMPLES=500 make test PYTEST_ARGS="tests/fuzz/test_schemathesis_admin.py"
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import content_type_conformance, not_a_server_error, status_code_conformance

from tests.admin_scenario import seed
from tests.conftest import Operator, Provider, _postgres_url, make_app
from tests.fuzz.admin_edges import EdgeLog, edge_log  # noqa: F401  (edge_log: a fixture)
from tests.support import ADMIN_TOKEN
from wallet.admin.openapi import build_spec

EXAMPLES = int(os.environ.get("WALLET_FUZZ_EXAMPLES", "5"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance]
BOUNDED = settings(max_examples=EXAMPLES, deadline=5000, phases=[Phase.explicit, Phase.generate], database=None,
                   suppress_health_check=list(HealthCheck))
# Operations whose documented answer, when the provider (here: nothing listening) gives none, is 502:
# no fault of the wallet, so not_a_server_error does not apply; a 500 still fails status_code_conformance.
GATEWAY_OPERATIONS = {("GET", "/admin/rounds/{roundId}/provider-status")}
ADMIN_OPERATIONS = sorted((verb.upper(), path) for path, operations in build_spec()["paths"].items()
                          if path.startswith("/admin/") for verb in operations)


@pytest.fixture(scope="module")
def app() -> Iterator[Flask]:
    """One app for the module (overrides conftest's `app`) on a database emptied and seeded once
    (tests/admin_scenario.py); CancelRound pointed at a closed port (a cancel that gets through
    fails fast instead of waiting for a provider)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    app = make_app(_postgres_url(), provider_api_url=f"http://127.0.0.1:{closed}", provider_attempts=1)
    client = app.test_client()
    seed(Provider(client), Operator(client))
    yield app
    app.extensions["wallet.engine"].dispose()


@pytest.fixture(scope="module")
def admin_schema(app: Flask) -> Any:
    """The document as the app serves it."""
    return schemathesis.openapi.from_wsgi("/openapi.json", app)


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=["valid", "invalid"])
@pytest.mark.parametrize("verb, path", ADMIN_OPERATIONS)
def test_admin_operation_never_answers_a_server_error(admin_schema: Any, edge_log: EdgeLog, verb: str, path: str,
                                                      mode: GenerationMode) -> None:
    operation = admin_schema[path][verb]

    @BOUNDED
    @given(operation.as_strategy(generation_mode=mode))
    def run(case: schemathesis.Case) -> None:
        checks = [c for c in CHECKS if c is not not_a_server_error] if (verb, path) in GATEWAY_OPERATIONS else CHECKS
        case.call_and_validate(headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, checks=checks)
        # Nothing reached the last resort: every refusal came from a check at the edge.
        assert not edge_log.records, edge_log.messages()

    run()


def test_the_document_covers_every_admin_route(app: Flask, admin_schema: Any) -> None:
    """Every /admin rule of the app is an operation of the document, and schemathesis loads each."""
    converters = {"<int:tx_id>": "{transactionId}", "<path:reference>": "{reference}", "<user_id>": "{userId}",
                  "<round_id>": "{roundId}", "<cancel_id>": "{cancelId}", "<call_id>": "{callId}",
                  "<sweep_id>": "{sweepId}", "<path:game_id>": "{gameId}", "<user_name>": "{userName}",
                  "<token_id>": "{tokenId}", "<request_id>": "{adjustmentId}"}
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/admin"):
            path = rule.rule
            for flask_part, openapi_part in converters.items():
                path = path.replace(flask_part, openapi_part)
            for verb in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
                assert (verb, path) in ADMIN_OPERATIONS, (verb, path)
                assert admin_schema[path][verb].method.upper() == verb

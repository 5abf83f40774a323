"""Admin API for what happened (docs/admin.md, "Request log" and "Rounds"):

    GET /admin/requests   every callback the wallet answered, refused ones included, newest first
    GET /admin/rounds     rounds by status, player and opening time, newest first

Its own blueprint, behind the same bearer check and error shape as the rest of /admin
(wallet.admin.blueprint.guard); read from the read replica when one is configured
(wallet.admin.reads). Keyset-paginated (`limit`, `cursor`), or the whole match as CSV
(`format=csv` or Accept: text/csv), as GET /admin/transactions.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from flask import Blueprint, Response, jsonify, request

from wallet.admin import export, history, reads
from wallet.admin.blueprint import guard, wants_csv
from wallet.admin.history_schemas import RequestQuery, RoundsQuery

bp = guard(Blueprint("history_admin", __name__))


def _listing(values: dict[str, Any], make_filter: Callable[..., Any], page: Callable[..., Any],
             rows: Callable[..., Iterator[dict[str, Any]]], columns: tuple[str, ...], name: str) -> Response:
    limit, cursor, fmt = values.pop("limit"), values.pop("cursor"), values.pop("format")
    f = make_filter(**values)
    if wants_csv(fmt):
        return export.download(rows, f, columns, name)
    items, next_cursor = reads.replica(page, f, limit, cursor)
    return jsonify(items=items, nextCursor=next_cursor)


@bp.get("/requests")
def list_requests() -> Response:
    return _listing(RequestQuery().load(request.args), history.RequestFilter, history.requests_page,
                    history.iter_requests, history.REQUEST_COLUMNS, "requests")


@bp.get("/rounds")
def list_rounds() -> Response:
    return _listing(RoundsQuery().load(request.args), history.RoundFilter, history.rounds_page,
                    history.iter_rounds, history.ROUND_COLUMNS, "rounds")

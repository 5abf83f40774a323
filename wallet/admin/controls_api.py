"""Admin API for the operator controls (docs/protocol.md, "Operator controls"):

    GET   /admin/games                          the game catalogue (?enabled=true|false)
    GET   /admin/games/<gameId>                 one game
    PATCH /admin/games/<gameId>                 {"enabled", "reason"}: enable or disable it (8)
    GET   /admin/players/<userId>/limits        the limits in force, pending loosenings, self-exclusion
    PUT   /admin/players/<userId>/limits        change some of them, with a reason

Its own blueprint, behind the same bearer check and error shape as the rest of /admin
(wallet.admin.blueprint.guard). Handlers parse (wallet/admin/controls_schemas.py), call one
function of wallet.controls.service, and shape the answer; the CLI and the support pages call the
same functions.
"""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify, request

from wallet.admin.blueprint import current_actor, engine, guard, json_body, requires
from wallet.admin.reads import replica
from wallet.admin.controls_schemas import GamePatch, GamesQuery, LimitsPut, limit_changes
from wallet.controls import service

bp = guard(Blueprint("controls_admin", __name__))


@bp.get("/games")
def list_games() -> Response:
    values = GamesQuery().load(request.args)
    return jsonify(items=replica(service.list_games, values["enabled"]))


@bp.get("/games/<path:game_id>")
def get_game(game_id: str) -> Response:
    return jsonify(replica(service.get_game, game_id))


@bp.patch("/games/<path:game_id>")
@requires("game.toggle")
def patch_game(game_id: str) -> Response:
    values = json_body(GamePatch())
    _, game = service.set_game_enabled(engine(), game_id, values["enabled"], reason=values["reason"],
                                       actor=current_actor())
    return jsonify(game)


@bp.get("/players/<user_id>/limits")
def get_limits(user_id: str) -> Response:
    return jsonify(replica(service.get_limits, user_id))


@bp.put("/players/<user_id>/limits")
@requires("player.controls")
def put_limits(user_id: str) -> Response:
    """Fields given change, fields absent stay, null removes; answers the limits as GET does."""
    values = json_body(LimitsPut())
    limits, excluded_until = limit_changes(values)
    outcome = service.set_limits(engine(), current_app.config["WALLET_SETTINGS"], user_id, limits,
                                 excluded_until=excluded_until, reason=values["reason"], actor=current_actor())
    return jsonify(outcome.limits)

"""A small ledger with one entry of every status, shared by the admin tests."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from tests.conftest import Operator, Provider


def seed(provider: Provider, operator: Operator) -> dict[str, str]:
    """Two players (USD, JPY); a settled, a refunded and an open bet; a win; an unmatched refund.

    Returns the wallet ids of the interesting entries by name.
    """
    operator.open_player("p1", "USD", "1000.00")
    operator.open_player("p2", "JPY", "5000")
    ids = {
        "settled_bet": provider.call("Bet", userId="p1", reference="b1", roundId="r1", amount="10.00")["transactionId"],
        "win": provider.call("Result", userId="p1", reference="w1", roundId="r1", amount="25.00")["transactionId"],
        "refunded_bet": provider.call("Bet", userId="p1", reference="b2", roundId="r2", amount="5.00")["transactionId"],
        "refund": provider.call("Refund", userId="p1", reference="b2")["transactionId"],
        "open_bet": provider.call("Bet", userId="p1", reference="b3", roundId="r3", amount="2.50")["transactionId"],
        "unmatched_refund": provider.call("Refund", userId="p1", reference="ghost", roundId="r4")["transactionId"],
        "jpy_bet": provider.call("Bet", userId="p2", reference="b5", roundId="r5", amount="100",
                                 currency="JPY")["transactionId"],
    }
    assert len(set(ids.values())) == len(ids)
    return ids


def get(operator: Operator, path: str, **params: Any) -> Any:
    """GET an admin path, assert 200, decode with exact decimals."""
    r = operator.request("GET", path, **({"query_string": params} if params else {}))
    assert r.status_code == 200, r.get_data(as_text=True)
    return json.loads(r.get_data(), parse_float=Decimal)


def ids_of(page: dict[str, Any]) -> list[str]:
    return [item["transactionId"] for item in page["items"]]

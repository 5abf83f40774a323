"""The parsed form of a provider callback, as the schema layer hands it to the services."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True, slots=True)
class CallbackRequest:
    method: str
    uuid: str
    user_id: str
    body_hash: str
    currency: str | None = None
    session_id: str | None = None
    provider_id: str | None = None
    game_id: str | None = None
    game_name: str | None = None
    round_id: str | None = None
    reference: str | None = None
    amount: Decimal | None = None
    timestamp: str | None = None
    round_details: str | None = None
    bonus_code: str | None = None
    # Prizes (PromoWin, JackpotWin, BonusWin) and a Result's promo win.
    campaign_id: str | None = None
    campaign_type: str | None = None
    jackpot_id: str | None = None
    details: str | None = None
    promo_amount: Decimal | None = None
    promo_reference: str | None = None
    promo_campaign_id: str | None = None
    promo_campaign_type: str | None = None

"""Rolls of a portfolio's hedges: the held legs read from the book, the candidates priced from
the chain (:mod:`strategies.rolls`), the signed confirmation of one of them, and the one
transaction that closes the old legs and opens the new ones as ledger trades.

A confirmation is used once, as an adoption's (:mod:`strategies.confirmation`): a second POST
of the same token writes nothing and gets the first roll back.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from market.calendar import market_date
from marketdata import snapshot
from strategies import confirmation, rolls
from strategies.models import HedgeRoll
from strategies.services import InvalidInput, Market, NotFound, holding_shares, parse_expiry

ROLL_SALT = "strategies.roll"


def held_legs(portfolio: Any, symbol: str) -> list[rolls.HeldLeg]:
    """The open option positions of ``symbol`` in the portfolio (none without a portfolio)."""
    if portfolio is None:
        return []
    from portfolio.models import Position

    rows = (
        portfolio.open_positions()
        .filter(symbol=symbol, kind=Position.Kind.OPTION)
        .values_list("right", "strike", "expiry", "quantity", "style")
    )
    return [
        rolls.HeldLeg(right, float(strike), expiry, float(qty), style)
        for right, strike, expiry, qty, style in rows
        if strike is not None and expiry is not None and qty
    ]


def rolls_payload(
    mk: Market,
    portfolio: Any,
    *,
    expiry: str | date | None = None,
    mode: str = "ask_bid",
    limit: int | None = None,
    to_expiry: date | None = None,
    rank: str = rolls.DEFAULT_RANKING,
) -> dict[str, Any]:
    """Every held hedge expiry (or the one asked for) with its roll candidates, ranked (only
    those into ``to_expiry`` when given)."""
    symbol = mk.ctx.symbol
    held = held_legs(portfolio, symbol)
    today = market_date(mk.ctx.as_of)
    hedges = rolls.hedge_expiries(held, today)
    if expiry not in (None, ""):
        chosen = parse_expiry(expiry, hedges, "expiry") if hedges else None
        if chosen is None:
            raise InvalidInput("expiry", "expiry: no hedge is held in that expiry")
        hedges = [chosen]
    if to_expiry is not None and to_expiry not in mk.solved.chain.expiries:
        raise InvalidInput("to_expiry", "to_expiry: not a listed expiry")
    quotes = rolls.Quotes.of(mk.solved.chain)
    shares = holding_shares(portfolio, symbol)
    out = []
    for e in hedges:  # one block per held hedge expiry (a handful), candidates vectorised
        block = rolls.roll_candidates(
            held, e, quotes, spot=mk.ctx.spot, shares=shares, today=today, mode=mode, rank=rank
        )
        if to_expiry is not None:
            block["candidates"] = [
                c for c in block["candidates"] if c["to_expiry"] == to_expiry.isoformat()
            ]
        block["count"] = len(block["candidates"])
        if limit:
            block["candidates"] = block["candidates"][:limit]
        out.append(block)
    return {
        "inputs": snapshot.chain_block(mk.ctx),
        "portfolio": {"id": portfolio.pk, "name": portfolio.name} if portfolio else None,
        "symbol": symbol,
        "holding_shares": shares,
        "price_mode": mode,
        "pricing": "close and open: buy at the ask, sell at the bid"
        if mode == "ask_bid"
        else "every leg at the mid quote",
        "ranking": {"method": rank, "description": rolls.RANKINGS[rank]},
        "strike_shifts_pct": [s * 100 for s in rolls.SHIFTS],
        "filters": {
            "expiry": hedges[0].isoformat() if expiry not in (None, "") and hedges else None,
            "to_expiry": to_expiry.isoformat() if to_expiry else None,
        },
        "hedges": out,
    }


def find_roll(mk: Market, portfolio: Any, cid: str, mode: str) -> dict[str, Any]:
    """The candidate with id ``cid`` priced on the current chain (its block's legs included)."""
    head = cid.split(":", 1)[0]
    try:
        from_s, to_s = head.split(">", 1)
        from_expiry, to_expiry = date.fromisoformat(from_s), date.fromisoformat(to_s)
    except ValueError:
        raise InvalidInput("candidate", "candidate: malformed roll id") from None
    if to_expiry not in mk.solved.chain.expiries:
        raise NotFound("candidate", "candidate: its new expiry is no longer listed")
    held = held_legs(portfolio, mk.ctx.symbol)
    if from_expiry not in rolls.hedge_expiries(held, market_date(mk.ctx.as_of)):
        raise NotFound("candidate", "candidate: no hedge is held in its expiry any more")
    block = rolls_payload(mk, portfolio, expiry=from_expiry, mode=mode)["hedges"][0]
    for cand in block["candidates"]:
        if cand["id"] == cid:
            return {**cand, "from_expiry": block["from_expiry"]}
    raise NotFound("candidate", "candidate: not among the current roll candidates")


def sign_roll(mk: Market, portfolio_id: int, cand: dict[str, Any]) -> str:
    """Tamper-proof token of exactly the roll the confirmation shows."""
    payload = {
        "symbol": mk.ctx.symbol,
        "portfolio": portfolio_id,
        "candidate": cand["id"],
        "from_expiry": cand["from_expiry"],
        "to_expiry": cand["to_expiry"],
        "debit": cand["debit"],
        "spot": mk.ctx.spot,
        "as_of": mk.ctx.as_of.isoformat(),
        "legs": [
            {k: lg[k] for k in ("action", "right", "strike", "expiry", "quantity", "price")}
            for lg in cand["legs"]
        ],
    }
    return confirmation.sign(payload, ROLL_SALT)


def read_roll(token: str) -> dict[str, Any]:
    return confirmation.read(token, ROLL_SALT, "roll")


Rolled = confirmation.Used[HedgeRoll]


def roll(user: Any, data: dict[str, Any]) -> Rolled:
    """Close the signed old legs and open the new ones, once per confirmation."""
    return confirmation.use_once(user, data, HedgeRoll, lambda pf: _roll(user, pf, data))


def _roll(user: Any, portfolio: Any, data: dict[str, Any]) -> HedgeRoll:
    from portfolio.models import Position, Trade

    held = {(lg.right, lg.strike, lg.expiry): lg for lg in held_legs(portfolio, data["symbol"])}
    styles: dict[tuple[str, float, date], str] = {}
    for lg in data["legs"]:
        if lg["action"] != "close":
            continue
        key = (lg["right"], float(lg["strike"]), date.fromisoformat(lg["expiry"]))
        now = held.get(key)
        if now is None or now.quantity != -float(lg["quantity"]):
            raise InvalidInput(
                "token",
                "the book changed since this roll was quoted: review the roll again",
                "conflict",
            )
        styles[key] = now.style

    def style(lg: dict[str, Any]) -> str:
        if lg["action"] != "close":
            return Position.Style.AMERICAN
        contract = (lg["right"], float(lg["strike"]), date.fromisoformat(lg["expiry"]))
        return styles.get(contract, Position.Style.AMERICAN)

    trades = confirmation.record_legs(
        portfolio,
        user,
        data,
        action=lambda lg: Trade.Action.CLOSE if lg["action"] == "close" else Trade.Action.OPEN,
        style=style,
        source=Trade.Source.ROLL,
        note=f"roll {data['from_expiry']} → {data['to_expiry']}",
        reason=f"roll {data['candidate']}",
    )
    record = HedgeRoll.objects.create(
        portfolio=portfolio,
        rolled_by=user if getattr(user, "is_authenticated", False) else None,
        symbol=data["symbol"],
        candidate_id=data["candidate"][:300],
        from_expiry=date.fromisoformat(data["from_expiry"]),
        to_expiry=date.fromisoformat(data["to_expiry"]),
        spot=data["spot"],
        quote_as_of=data["as_of"],
        legs=data["legs"],
        debit=float(data["debit"]),
        confirmation=data["nonce"],
    )
    record.trades.set(trades)
    return record

"""One tick of alerts for one symbol: metrics once per portfolio, every rule in one pass, and
state changes stored so that no notification is repeated or lost.

Called by the publisher once per tick (``portfolio/publisher.py``), never per request.

Exactly once per crossing: an evaluator reads each rule's ``version``; a fire is one
transaction that updates the rule *only if its version is still the one read* (compare and
set), creates the :class:`AlertEvent` under the unique key ``(rule, crossing)`` and queues its
deliveries. A second evaluator working from the same reading (a publisher that lost its lease
mid-tick, a restart replaying a tick) finds the version moved and writes nothing; an evaluator
that dies before committing leaves the rule armed, so the next tick fires it: not lost.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from alerts import evaluation as ev
from alerts import notify
from alerts.metrics import metrics_row, unavailable
from alerts.models import AlertDelivery, AlertEvent, AlertRule
from alerts.secrets import mask_url
from portfolio.models import Position, Trade

logger = logging.getLogger(__name__)

# Value, time and error of a rule that did not change state are written at most this often.
STATUS_EVERY = timedelta(seconds=60)

ValueFn = Callable[[Any, str], dict[str, Any]]


@dataclass
class TickResult:
    symbol: str
    rules: int = 0
    fired: list[int] = field(default_factory=list)  # ids of the events created
    rearmed: int = 0
    skipped: int = 0  # transitions another evaluator had already made


def _value(portfolio: Any, symbol: str) -> dict[str, Any]:
    from portfolio.services import value_portfolio

    return value_portfolio(portfolio, symbol, with_scenarios=False)


def portfolio_metrics(
    portfolios: Sequence[Any], symbol: str, value: ValueFn = _value
) -> tuple[np.ndarray, np.ndarray]:
    """(values, reasons), one row per portfolio, each valued once from one market snapshot."""
    from market.errors import MarketDataError
    from marketdata import snapshot

    values = np.full((len(portfolios), len(ev.METRICS)), np.nan)
    reasons = np.zeros((len(portfolios), len(ev.METRICS)), dtype=np.int64)
    try:
        snap = snapshot.load(symbol)
    except MarketDataError:
        values[:], reasons[:] = unavailable(ev.NO_MARKET)
        return values, reasons
    for i, portfolio in enumerate(portfolios):
        try:
            row = metrics_row(value(portfolio, symbol), has_chain=snap.chain is not None)
        except Exception:  # one bad book must not silence everyone's alerts
            logger.warning("alerts: could not value portfolio %s", portfolio.pk, exc_info=True)
            row = unavailable(ev.VALUATION_FAILED)
        values[i], reasons[i] = row
    return values, reasons


def iv_rank_metric(symbol: str, today: date | None = None) -> tuple[float, int]:
    """(IV rank 0–100, reason code) of ``symbol`` from the stored IV history.

    The same for every portfolio of the symbol, and independent of the live quote: it is
    computed from the stored daily IV30s (``marketdata.ivrecord.rank_for``), so a stale quote
    does not block it, but a history without a day in the last 5, with fewer than 20 days in
    the year, or that has not moved, gives no value: the rule waits, never guesses.
    """
    from market.calendar import market_date
    from market.ivhistory import MIN_OBSERVATIONS
    from marketdata import ivrecord

    today = today or market_date()
    rank = ivrecord.rank_for(symbol, today)
    if rank.rank is not None:
        return float(rank.rank), ev.OK
    if rank.as_of is None:
        return math.nan, ev.NO_IV_HISTORY
    if (today - rank.as_of).days > ivrecord.MAX_AGE_DAYS:
        return math.nan, ev.IV_HISTORY_OLD
    if rank.observations < MIN_OBSERVATIONS:
        return math.nan, ev.IV_HISTORY_SHORT
    return math.nan, ev.IV_FLAT


def all_metrics(
    portfolios: Sequence[Any], symbol: str, value: ValueFn = _value, today: date | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`portfolio_metrics` with the symbol's IV rank filled in for every portfolio."""
    values, reasons = portfolio_metrics(portfolios, symbol, value)
    iv, why = iv_rank_metric(symbol, today)
    col = ev.METRIC_INDEX["iv_rank"]
    values[:, col], reasons[:, col] = iv, why
    return values, reasons


def rule_arrays(rules: Sequence[AlertRule], row_of: dict[int, int]) -> ev.RuleArrays:
    return ev.RuleArrays(
        portfolio=np.array([row_of[r.portfolio_id] for r in rules], dtype=np.int64),
        metric=np.array([ev.METRIC_INDEX[r.kind] for r in rules], dtype=np.int64),
        op=np.array([ev.OPS[r.op] for r in rules], dtype=np.int64),
        level=np.array([r.level for r in rules], dtype=float),
        upper=np.array([r.upper if r.upper is not None else np.nan for r in rules], dtype=float),
        band=np.array([r.reset_band for r in rules], dtype=float),
        armed=np.array([r.state == AlertRule.State.ARMED for r in rules], dtype=bool),
    )


def evaluate_symbol(
    symbol: str,
    *,
    now: datetime | None = None,
    rules: Sequence[AlertRule] | None = None,
    value: ValueFn = _value,
) -> TickResult:
    """Evaluate every enabled rule of ``symbol`` and store what changed."""
    now = now or timezone.now()
    if rules is None:
        rules = list(
            AlertRule.objects.filter(symbol=symbol, enabled=True).select_related("portfolio")
        )
    result = TickResult(symbol=symbol, rules=len(rules))
    if not rules:
        return result
    bell: set[int | None] = set()
    events = [r for r in rules if r.is_event]
    rules = [r for r in rules if not r.is_event]
    if events:
        _evaluate_events(symbol, events, now, result, bell)
    if rules:
        _evaluate_metrics(symbol, rules, now, result, bell, value)
    if bell:
        notify.announce(bell)
    return result


def _evaluate_metrics(
    symbol: str,
    rules: Sequence[AlertRule],
    now: datetime,
    result: TickResult,
    bell: set[int | None],
    value: ValueFn,
) -> None:
    portfolios: dict[int, Any] = {}
    for r in rules:
        portfolios.setdefault(r.portfolio_id, r.portfolio)
    row_of = {pid: i for i, pid in enumerate(portfolios)}
    from market.calendar import market_date

    values, reasons = all_metrics(list(portfolios.values()), symbol, value, market_date(now))
    out = ev.evaluate(rule_arrays(rules, row_of), values, reasons)

    for i in np.flatnonzero(out.fire).tolist():
        rule = rules[i]
        event = _fire(rule, float(out.value[i]), _numbers(values[row_of[rule.portfolio_id]]), now)
        if event is None:
            result.skipped += 1
        else:
            result.fired.append(event.pk)
            if event.in_app:
                bell.add(rule.portfolio.owner_id)
    for i in np.flatnonzero(out.rearm).tolist():
        if _rearm(rules[i], float(out.value[i]), now):
            result.rearmed += 1
        else:
            result.skipped += 1
    _store_status(rules, out, now, changed=out.fire | out.rearm)


# --- event rules: an option position expired, assigned or exercised -------------------------

EVENT_MAX_AGE_DAYS = 30
EVENT_ACTIONS: dict[str, tuple[str, ...]] = {
    AlertRule.Op.EXPIRED: (Trade.Action.EXPIRY,),
    AlertRule.Op.ASSIGNED: (Trade.Action.ASSIGNMENT,),
    AlertRule.Op.EXERCISED: (Trade.Action.EXERCISE,),
    AlertRule.Op.ANY: (Trade.Action.EXPIRY, Trade.Action.ASSIGNMENT, Trade.Action.EXERCISE),
}
WORDS: dict[str, str] = {
    Trade.Action.EXPIRY: "expired",
    Trade.Action.ASSIGNMENT: "assigned",
    Trade.Action.EXERCISE: "exercised",
}


def _evaluate_events(
    symbol: str,
    rules: Sequence[AlertRule],
    now: datetime,
    result: TickResult,
    bell: set[int | None],
) -> None:
    """Each new expiry, assignment or exercise trade of the rule's portfolio and symbol fires
    the rule once, oldest first. One query for all of the symbol's event rules.

    The rule's ``last_trade_id`` is the cursor: a fire moves it to the trade's id in the same
    compare-and-set transaction that writes the event, so a restart continues after the last
    notified trade (nothing lost) and a second evaluator with the same reading writes nothing
    (nothing repeated). Trades dated more than :data:`EVENT_MAX_AGE_DAYS` ago (a broker
    history imported today) are history, not news: they do not notify.
    """
    from market.calendar import market_date

    cursor = {r.pk: r.last_trade_id or 0 for r in rules}
    trades = list(
        Trade.objects.filter(
            portfolio_id__in={r.portfolio_id for r in rules},
            symbol=symbol,
            kind=Position.Kind.OPTION,
            action__in=EVENT_ACTIONS[AlertRule.Op.ANY],
            pk__gt=min(cursor.values()),
            traded_on__gte=market_date(now) - timedelta(days=EVENT_MAX_AGE_DAYS),
        ).order_by("pk")[:1000]
    )
    fired: set[int] = set()
    for rule in rules:
        wanted = EVENT_ACTIONS.get(rule.op, ())
        for trade in trades:
            if trade.portfolio_id != rule.portfolio_id or trade.pk <= (rule.last_trade_id or 0):
                continue
            if trade.action not in wanted:  # not this rule's kind of event
                continue
            event = _fire_event(rule, trade, now)
            if event is None:  # another evaluator moved the rule: it continues from there
                result.skipped += 1
                break
            result.fired.append(event.pk)
            fired.add(rule.pk)
            if event.in_app:
                bell.add(rule.portfolio.owner_id)
    idle = [r for r in rules if r.pk not in fired]
    due = [
        r for r in idle if r.last_evaluated_at is None or now - r.last_evaluated_at >= STATUS_EVERY
    ]
    for r in due:
        r.last_evaluated_at, r.last_error = now, ""
    if due:
        AlertRule.objects.bulk_update(due, ["last_evaluated_at", "last_error"])


def event_message(rule: AlertRule, trade: Trade) -> str:
    word = WORDS.get(trade.action, trade.action)
    contracts = abs(trade.quantity).normalize()
    text = f"{trade.instrument} {word}: {contracts:f} contract(s) on {trade.traded_on}"
    return f"{text} — {trade.note}" if trade.note else text


def _fire_event(rule: AlertRule, trade: Trade, now: datetime) -> AlertEvent | None:
    """Move the rule's cursor to ``trade`` and record the event and its deliveries: one
    transaction, conditional on the version read; None when another evaluator was first."""
    contracts = float(abs(trade.quantity))
    numbers = {
        "trade_id": float(trade.pk),
        "contracts": contracts,
        "strike": float(trade.strike) if trade.strike is not None else None,
        "price": float(trade.price),
    }
    message = event_message(rule, trade)
    return _record(rule, now, contracts, numbers, message, last_trade_id=trade.pk)


def _numbers(row: np.ndarray) -> dict[str, float | None]:
    return {
        name: (None if np.isnan(row[j]) else round(float(row[j]), 6))
        for j, name in enumerate(ev.METRICS)
    }


def message_for(rule: AlertRule, value: float) -> str:
    return f"{rule.describe()} — now {value:,.4g}"


def _fire(
    rule: AlertRule, value: float, numbers: dict[str, float | None], now: datetime
) -> AlertEvent | None:
    """Disarm the rule and record its event and deliveries, atomically; None if already done."""
    message = message_for(rule, value)
    return _record(rule, now, value, numbers, message, state=AlertRule.State.FIRED)


def _record(
    rule: AlertRule,
    now: datetime,
    value: float,
    numbers: dict[str, float | None],
    message: str,
    **changes: Any,
) -> AlertEvent | None:
    """The rule's next crossing (with ``changes`` to the rule), its event and deliveries: one
    transaction, conditional on the rule's version as read; None when another evaluator (a
    second publisher, a restart mid-tick) recorded this crossing first."""
    crossing = rule.crossing + 1
    try:
        with transaction.atomic():
            moved = AlertRule.objects.filter(pk=rule.pk, version=rule.version).update(
                crossing=crossing,
                version=F("version") + 1,
                last_value=value,
                last_evaluated_at=now,
                last_fired_at=now,
                last_error="",
                **changes,
            )
            if not moved:
                return None
            event = AlertEvent.objects.create(
                portfolio_id=rule.portfolio_id,
                rule=rule,
                crossing=crossing,
                rule_text=rule.describe()[:200],
                symbol=rule.symbol,
                kind=rule.kind,
                value=value,
                numbers=numbers,
                message=message[:300],
                fired_at=now,
                in_app=rule.notify_in_app,
            )
            AlertDelivery.objects.bulk_create(_deliveries(rule, event, now))
    except IntegrityError:  # another evaluator recorded this crossing first
        return None
    rule.crossing, rule.version = crossing, rule.version + 1
    for name, new in changes.items():
        setattr(rule, name, new)
    return event


def _deliveries(rule: AlertRule, event: AlertEvent, now: datetime) -> list[AlertDelivery]:
    out = []
    if rule.email:
        out.append(
            AlertDelivery(
                event=event,
                channel=AlertDelivery.Channel.EMAIL,
                destination=rule.email,
                target=rule.email[:200],
                next_attempt_at=now,
            )
        )
    for url in rule.apprise_url_list:
        out.append(
            AlertDelivery(
                event=event,
                channel=AlertDelivery.Channel.APPRISE,
                destination=url,
                target=mask_url(url)[:200],
                next_attempt_at=now,
            )
        )
    return out


def _rearm(rule: AlertRule, value: float, now: datetime) -> bool:
    moved = AlertRule.objects.filter(pk=rule.pk, version=rule.version).update(
        state=AlertRule.State.ARMED,
        version=F("version") + 1,
        last_value=value,
        last_evaluated_at=now,
        last_error="",
    )
    if moved:
        rule.state, rule.version = AlertRule.State.ARMED, rule.version + 1
    return bool(moved)


def _store_status(
    rules: Sequence[AlertRule], out: ev.Outcome, now: datetime, changed: np.ndarray
) -> None:
    """Last value, time and reason of rules without a transition: on change, or once a minute."""
    dirty = []
    for i, rule in enumerate(rules):
        if changed[i]:
            continue
        error = ev.REASONS.get(int(out.reason[i]), "cannot be evaluated")
        v = float(out.value[i])
        value = None if np.isnan(v) else v
        due = rule.last_evaluated_at is None or now - rule.last_evaluated_at >= STATUS_EVERY
        if due or error != rule.last_error:
            rule.last_error = error
            rule.last_evaluated_at = now
            if value is not None:
                rule.last_value = value
            dirty.append(rule)
    if dirty:  # fields no transition touches: safe to write whatever the version
        AlertRule.objects.bulk_update(dirty, ["last_error", "last_evaluated_at", "last_value"])


def symbols_with_rules() -> list[str]:
    return sorted(
        AlertRule.objects.filter(enabled=True).values_list("symbol", flat=True).distinct()
    )


def evaluate_all(symbols: Iterable[str] | None = None) -> list[TickResult]:
    """One tick: every symbol that has enabled rules (each symbol's failure is contained)."""
    results = []
    for symbol in symbols if symbols is not None else symbols_with_rules():
        try:
            results.append(evaluate_symbol(symbol))
        except Exception:
            logger.exception("alerts: evaluating %s failed", symbol)
    return results

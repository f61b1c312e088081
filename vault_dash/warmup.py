"""Start-up warm-up: what the first page of a fresh process would otherwise pay for.

``deploy/serve.py`` calls :func:`warm_up` after the migrations and before daphne listens, so the
health check passes only when the process is ready to answer quickly: the default symbol's
quote and chain are fetched and their implied vols solved (the snapshot every page prices
from), and the page templates are compiled into the cached loader.

The market part is best effort and bounded: a provider that is down or slow must never keep the
server from starting (the pages then say the data is unavailable, as they would later on). It
runs in a daemon thread and start-up waits at most ``timeout_s`` for it.
"""

from __future__ import annotations

import logging
import threading
import time

from django.conf import settings
from django.template import TemplateDoesNotExist
from django.template.loader import get_template

logger = logging.getLogger("vault_dash")

PAGE_TEMPLATES = (
    "base.html",
    "portfolio/dashboard.html",
    "portfolio/_kpis.html",
    "strategies/chain.html",
    "strategies/strategies.html",
    "registration/login.html",
)


def compile_templates(names: tuple[str, ...] = PAGE_TEMPLATES) -> int:
    """Compile ``names`` (and what they extend and include) into the template cache."""
    compiled = 0
    for name in names:
        try:
            get_template(name)
        except TemplateDoesNotExist:
            logger.warning("warm-up: template %s does not exist", name)
            continue
        compiled += 1
    return compiled


def warm_market(symbol: str) -> None:
    """The symbol's quote and chain from the provider, with the chain's IVs solved."""
    from marketdata import snapshot
    from strategies.services import load_market

    snapshot.load(symbol, chain=False)
    load_market(symbol)


def warm_up(symbol: str | None = None, timeout_s: float = 10.0) -> bool:
    """Warm the templates, then the market snapshot of ``symbol`` (default: DEFAULT_SYMBOL)
    for at most ``timeout_s`` seconds. True when everything was warmed in time."""
    start = time.perf_counter()
    compile_templates()
    symbol = symbol or str(settings.DEFAULT_SYMBOL)
    outcome: dict[str, BaseException | None] = {}

    def market() -> None:
        try:
            warm_market(symbol)
            outcome["error"] = None
        except Exception as exc:  # any provider failure: start anyway, say why
            outcome["error"] = exc

    thread = threading.Thread(target=market, name="warm-up", daemon=True)
    thread.start()
    thread.join(timeout_s)
    elapsed = time.perf_counter() - start
    if "error" not in outcome:
        logger.warning("warm-up: %s market data not ready after %.1f s; starting", symbol, elapsed)
        return False
    if outcome["error"] is not None:
        logger.warning(
            "warm-up: %s market data unavailable (%s); starting", symbol, outcome["error"]
        )
        return False
    logger.info("warm-up: templates and %s market data ready in %.2f s", symbol, elapsed)
    return True

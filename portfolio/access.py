"""Who may see and change which portfolio: the one rule behind every page, API and socket.

* :func:`may_view` — private data at all: anyone in the embedded default, where
  ``settings.LOGIN_REQUIRED`` is off; otherwise an active, logged-in user. Each surface answers
  a refusal its own way (a login redirect, a 401 JSON error, a closed socket).
* :func:`resolve_portfolio` — which portfolio a request means: an explicit id must be visible
  to the user (:meth:`PortfolioQuerySet.visible_to`); without one, the user's own first
  portfolio, else the shared demo.
* :meth:`Portfolio.can_edit <portfolio.models.Portfolio.can_edit>` — who may change it;
  :func:`editable` — the portfolio a form changes, or a 404; :func:`may_adopt` — who may
  adopt or roll hedges into it (owners, and anyone on the demo when no login is required).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpRequest, HttpResponse
from django_htmx.http import HttpResponseClientRedirect

from core.memo import LRU
from portfolio.models import Portfolio, data_version

RESOLVE_MEMO_SECONDS = 30.0
MAX_ID_DIGITS = 18  # ids beyond a signed 64-bit integer never exist
_NOT_FOUND = object()
_resolved = LRU(1024)


class PortfolioNotFound(Exception):
    """No such portfolio, or it belongs to someone else (indistinguishable on purpose)."""


class BadPortfolioId(ValueError):
    """A portfolio parameter that is not an id."""


def may_view(user: Any) -> bool:
    """Whether ``user`` may see portfolio and market data at all."""
    if not settings.LOGIN_REQUIRED:
        return True
    return bool(
        user is not None
        and getattr(user, "is_authenticated", False)
        and getattr(user, "is_active", False)
    )


def data_page(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """A page that shows portfolio or market data: the login form unless :func:`may_view`.

    An htmx panel refresh after the session ended gets the whole browser sent to the login
    form, instead of the login page swapped into a panel.
    """

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if may_view(request.user):
            return view(request, *args, **kwargs)
        login = redirect_to_login(request.get_full_path())
        if getattr(request, "htmx", False):
            return HttpResponseClientRedirect(login["Location"])
        return login

    return wrapped


def parse_portfolio_id(raw: Any) -> int | None:
    """A portfolio id from a query string or a message; ``None`` when absent.

    Raises :class:`BadPortfolioId` for anything but a plain decimal id.
    """
    if raw is None or raw == "":
        return None
    if isinstance(raw, bool) or not isinstance(raw, int | str):
        raise BadPortfolioId("portfolio must be an id")
    text = str(raw)
    if not text.isdigit() or len(text) > MAX_ID_DIGITS:
        raise BadPortfolioId("portfolio must be an id")
    return int(text)


def clear_memo() -> None:
    _resolved.clear()


def resolve_portfolio(user: Any, portfolio_id: int | None = None) -> Portfolio | None:
    """The portfolio ``user`` asked for, or their default one.

    An explicit id that does not exist or belongs to someone else raises
    :class:`PortfolioNotFound` (the same answer for both, so ids do not leak). Without an id:
    the user's first own portfolio, else the demo, else ``None``. Callers check
    :func:`may_view` first.

    Memoised per process for a few seconds under the shared data version (see
    :func:`portfolio.models.data_version`), which every portfolio/position write bumps: the hot
    API path then needs no query. The returned instance is shared: treat it as read-only.
    """
    uid = user.pk if getattr(user, "is_authenticated", False) else None
    version = data_version()
    key = (version, uid, portfolio_id)
    if version is not None:
        hit = _resolved.get(key)
        if hit is not None and time.monotonic() - hit[1] < RESOLVE_MEMO_SECONDS:
            if hit[0] is _NOT_FOUND:
                raise PortfolioNotFound(portfolio_id)
            return hit[0]
    try:
        found = _resolve(user, portfolio_id)
    except PortfolioNotFound:
        if version is not None:
            _resolved.put(key, (_NOT_FOUND, time.monotonic()))
        raise
    if version is not None:
        _resolved.put(key, (found, time.monotonic()))
    return found


def _resolve(user: Any, portfolio_id: int | None) -> Portfolio | None:
    visible = Portfolio.objects.visible_to(user)
    if portfolio_id is not None:
        found = visible.filter(pk=portfolio_id).first()
        if found is None:
            raise PortfolioNotFound(portfolio_id)
        return found
    if getattr(user, "is_authenticated", False):
        own = visible.filter(owner=user).order_by("name", "pk").first()
        if own is not None:
            return own
    return visible.filter(is_demo=True).order_by("pk").first()


def editable(user: Any, pk: int) -> Portfolio:
    """The portfolio ``pk`` if ``user`` may change it; 404 otherwise (so ids do not leak)."""
    portfolio = Portfolio.objects.visible_to(user).filter(pk=pk).first()
    if portfolio is None or not portfolio.can_edit(user):
        raise Http404("no such portfolio")
    return portfolio


def may_adopt(user: Any, portfolio: Portfolio) -> bool:
    """Adopting or rolling a hedge: owners, and in the embedded default (no login required)
    anyone on the ownerless demo, so hedges can be tried without an account."""
    if portfolio.can_edit(user):
        return True
    return bool(portfolio.owner_id is None and portfolio.is_demo and not settings.LOGIN_REQUIRED)

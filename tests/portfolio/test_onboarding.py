"""The first run: a new user creates a portfolio and adds a first position; the demo is labelled."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from portfolio.models import Portfolio
from tests.factories import DemoPortfolioFactory, PositionFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_welcome_needs_a_login(client):
    resp = client.get(reverse("portfolio:welcome"))
    assert resp.status_code == 302 and "/login/" in resp["Location"]


def test_create_a_portfolio_then_pick_a_put_from_the_live_chain(client, fake_market):
    user = UserFactory()
    client.force_login(user)
    resp = client.post(
        reverse("portfolio:welcome"), {"name": "Gold book", "default_symbol": " gld "}
    )
    pf = Portfolio.objects.get(owner=user)
    assert (pf.name, pf.default_symbol, pf.is_demo) == ("Gold book", "GLD", False)
    assert resp["Location"] == reverse("portfolio:start", args=[pf.pk])

    page = client.get(reverse("portfolio:start", args=[pf.pk]), {"right": "P"})
    body = page.content.decode()
    assert page.status_code == 200 and 'id="chain-rows"' in body
    links = re.findall(r'href="([^"]*kind=option[^"]*)"', body)
    assert links and all("right=P" in link for link in links)
    # Following a link pre-fills the trade form with that contract.
    form = client.get(links[0].replace("&amp;", "&")).context["form"]
    assert form.initial["kind"] == "option" and form.initial["right"] == "P"
    assert form.initial["expiry"] and form.initial["strike"]


def test_a_duplicate_name_or_a_bad_symbol_is_refused(client):
    user = UserFactory()
    client.force_login(user)
    Portfolio.objects.create(owner=user, name="Mine")
    resp = client.post(reverse("portfolio:welcome"), {"name": "Mine", "default_symbol": "G LD"})
    assert resp.status_code == 400
    assert set(resp.context["form"].errors) == {"name", "default_symbol"}


def test_start_page_of_someone_elses_portfolio_is_404(client):
    client.force_login(UserFactory())
    other = PositionFactory().portfolio
    assert client.get(reverse("portfolio:start", args=[other.pk])).status_code == 404


def test_a_user_without_a_portfolio_sees_the_demo_labelled(client, fake_market):
    PositionFactory(portfolio=DemoPortfolioFactory())
    client.force_login(UserFactory())
    body = client.get(reverse("portfolio:dashboard")).content.decode()
    assert 'id="demo-banner"' in body and "it is not yours" in body
    assert reverse("portfolio:welcome") in body


@pytest.mark.parametrize("login_required", [False, True])
def test_the_demo_banner_says_what_a_visitor_may_do_with_it(
    client, fake_market, settings, login_required
):
    """Without a required login anyone may adopt or roll hedges into the demo (the strategies
    pages offer it), so the banner must not call it read only; with one, it is read only."""
    settings.LOGIN_REQUIRED = login_required
    demo = DemoPortfolioFactory()
    PositionFactory(portfolio=demo)
    client.force_login(UserFactory())
    pages = [
        client.get(reverse("portfolio:dashboard")).content.decode(),
        client.get(reverse("portfolio:trades", args=[demo.pk])).content.decode(),
    ]
    for body in pages:
        assert "it is not yours" in body.lower()
        assert ("read only" in body) is login_required
        assert ("anyone may" in body) is not login_required

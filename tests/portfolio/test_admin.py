from __future__ import annotations

import pytest
from django.urls import reverse

from portfolio.models import Portfolio, PortfolioSnapshot, Position
from tests.factories import OptionPositionFactory, PositionFactory, SnapshotFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("model", [Portfolio, Position, PortfolioSnapshot])
def test_admin_pages_render(admin_client, model):
    pos = PositionFactory()
    OptionPositionFactory(portfolio=pos.portfolio)
    snap = SnapshotFactory(portfolio=pos.portfolio)
    obj = {Portfolio: pos.portfolio, Position: pos, PortfolioSnapshot: snap}[model]
    meta = model._meta
    changelist = reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist")
    resp = admin_client.get(changelist)
    assert resp.status_code == 200
    assert resp.context["cl"].result_count >= 1
    resp = admin_client.get(changelist, {"q": "GLD"})
    assert resp.status_code == 200
    change = reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[obj.pk])
    assert admin_client.get(change).status_code == 200
    add = reverse(f"admin:{meta.app_label}_{meta.model_name}_add")
    expected = 403 if model is PortfolioSnapshot else 200
    assert admin_client.get(add).status_code == expected


def test_portfolio_change_form_shows_inline_positions(admin_client):
    pos = PositionFactory()
    resp = admin_client.get(reverse("admin:portfolio_portfolio_change", args=[pos.portfolio.pk]))
    assert b"positions-TOTAL_FORMS" in resp.content


def test_position_changelist_filters(admin_client):
    OptionPositionFactory()
    url = reverse("admin:portfolio_position_changelist")
    for params in ({"kind__exact": "option"}, {"right__exact": "P"}, {"closed_on__isempty": "1"}):
        assert admin_client.get(url, params).status_code == 200

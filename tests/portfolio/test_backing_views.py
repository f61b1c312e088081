"""The gold-aware panel on the dashboard (only for symbols with a backing) and its admin."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

import pytest
from django.urls import reverse

from portfolio.models import CommodityBacking
from tests.portfolio.fakes import TODAY

pytestmark = pytest.mark.django_db
HX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def gld_backing():
    # Hand-friendly figures on the fake market's date: 0.1 oz a share on 6 April 2026 and a
    # 3.65 % fee, 0.01 % a day.
    return CommodityBacking.objects.update_or_create(
        symbol="GLD",
        defaults={
            "ounces_per_share": Decimal("0.1"),
            "as_of": TODAY,
            "annual_fee_pct": Decimal("3.65"),
            "enabled": True,
        },
    )[0]


def text_of(html: str, ident: str) -> str:
    m = re.search(rf'id="{ident}"[^>]*>(.*?)</dd>', html, re.S)
    assert m, ident
    return re.sub(r"<[^>]+>", "", m.group(1))


def test_the_defaults_exist_for_gld_and_iau():
    rows = {b.symbol: b for b in CommodityBacking.objects.all()}
    assert rows["GLD"].annual_fee_pct == Decimal("0.4000")
    assert rows["IAU"].annual_fee_pct == Decimal("0.2500")
    assert rows["GLD"].as_of == rows["IAU"].as_of == date(2026, 11, 30)


def test_dashboard_shows_ounces_implied_price_and_floor_per_ounce(
    client, fake_market, demo, gld_backing
):
    html = client.get(reverse("portfolio:dashboard")).content.decode()
    assert 'id="panel-backing"' in html
    # 1,000 shares × 0.1 oz; $200 spot / 0.1 oz.
    assert text_of(html, "backing-position-oz").startswith("100.00 oz")
    assert text_of(html, "backing-implied").startswith("$2,000.00/oz")
    # 2026-08-21 is 137 days on: 0.9999**137 = 1 - 137e-4 + 9316e-8 - 419220e-12 + 14043870e-16
    # = 0.98639274218 (binomial series), so the $180 floor a share is $180 / 0.098639274218
    # = $1,824.83 an ounce and the fee moved the gold price at the floor up by $24.83.
    oz_t = 0.1 * 0.98639274218
    backing_table = html.split('id="backing-expiries"', 1)[1]
    row = re.search(r'<tr data-expiry="2026-08-21">(.*?)</tr>', backing_table, re.S)
    assert row
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row.group(1), re.S)
    assert cells[1] == f"{oz_t:.6f}"
    assert cells[4] == f"${180 / oz_t:,.2f}" == "$1,824.83"
    assert cells[5] == "$1,824.83"
    assert cells[6] == f"+${180 / oz_t - 1800:,.2f}" == "+$24.83"


def test_the_live_panels_carry_it_too(client, fake_market, demo, gld_backing):
    html = client.get(reverse("portfolio:dashboard"), {"panel": "live"}, **HX).content.decode()
    assert 'id="panel-backing"' in html and 'hx-swap-oob="true"' in html


def test_hidden_for_a_symbol_without_backing_or_when_switched_off(
    client, fake_market, demo, gld_backing
):
    url = reverse("portfolio:dashboard")
    assert "panel-backing" not in client.get(url, {"symbol": "SLV"}).content.decode()
    gld_backing.enabled = False
    gld_backing.save()
    assert "panel-backing" not in client.get(url).content.decode()
    gld_backing.enabled = True
    gld_backing.save()  # the memoised page is dropped on a write
    assert "panel-backing" in client.get(url).content.decode()
    CommodityBacking.objects.filter(symbol="GLD").delete()
    assert "panel-backing" not in client.get(url).content.decode()


def test_admin_lists_filters_and_validates(admin_client):
    changelist = reverse("admin:portfolio_commoditybacking_changelist")
    page = admin_client.get(changelist)
    assert page.status_code == 200
    html = page.content.decode()
    assert "GLD" in html and "IAU" in html and "By enabled" in html
    assert admin_client.get(changelist, {"enabled__exact": "1"}).status_code == 200
    add = reverse("admin:portfolio_commoditybacking_add")
    bad = admin_client.post(
        add,
        {
            "symbol": "sgol",
            "commodity": "gold",
            "ounces_per_share": "-0.1",
            "as_of": "2026-11-30",
            "annual_fee_pct": "12",
        },
    )
    assert bad.status_code == 200  # the form again, with its errors; nothing saved
    errors = bad.content.decode()
    assert "upper-case ticker" in errors and "greater than or equal to" in errors
    assert "less than or equal to 10" in errors
    assert not CommodityBacking.objects.filter(symbol__iexact="SGOL").exists()
    good = admin_client.post(
        add,
        {
            "symbol": "SGOL",
            "commodity": "gold",
            "ounces_per_share": "0.0096",
            "as_of": "2026-11-30",
            "annual_fee_pct": "0.17",
            "enabled": "on",
        },
    )
    assert good.status_code == 302
    assert CommodityBacking.objects.get(symbol="SGOL").ounces_per_share == Decimal("0.0096")

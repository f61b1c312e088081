"""IBKR Flex import: executions, partial fills, an assignment and an expiry become trades; the
corporate action and the foreign-currency line are reported; a second import adds nothing.

Hand-computed (FIFO) from tests/portfolio/data/ibkr_flex_trades.xml:

* short 2 calls 200 sold @ 3.00 (fee 1.30): cost −598.70; assigned (closed at 0): +598.70
* long 2 puts 180 @ 3.50 (fee 1.30): cost 701.30; expired: −701.30
* shares: 100 @ 180 (+1) = 18,001; 60 @ 181 (+0.60) = 10,860.60; 40 @ 181.50 (+0.40) = 7,260.40;
  all 200 sold at the strike 200 on assignment: +1,999 + 1,139.40 + 739.60 = +3,878
* total realised +3,775.40, nothing left open.
"""

from __future__ import annotations

from decimal import Decimal as D
from pathlib import Path

import pytest

from portfolio import broker_ibkr, ledger
from portfolio.models import Position, Trade, TradeAudit
from tests.factories import PortfolioFactory

pytestmark = pytest.mark.django_db

FLEX = (Path(__file__).parent / "data" / "ibkr_flex_trades.xml").read_bytes()


def test_flex_file_becomes_the_ledger():
    pf = PortfolioFactory()
    result = broker_ibkr.import_flex(FLEX, pf, pf.owner)
    assert len(result.trades) == 8 and result.duplicates == 0
    actions = dict(Trade.objects.filter(portfolio=pf).values_list("external_id", "action"))
    assert actions["ibkr:1006"] == "assignment" and actions["ibkr:1008"] == "expiry"
    assert actions["ibkr:1007"] == "sell" and actions["ibkr:1001"] == "buy"
    partial = Trade.objects.get(external_id="ibkr:1002")
    assert partial.quantity == 60 and partial.fees == D("0.6") and "partial fill" in partial.note
    put = Trade.objects.get(external_id="ibkr:1004")
    assert (put.kind, put.symbol, put.strike, put.right, put.price) == (
        "option",
        "GLD",
        180,
        "P",
        D("3.5"),
    )
    assert ledger.realised_pnl(pf) == D("3775.40")
    assert not Position.objects.open().filter(portfolio=pf).exists()
    assert TradeAudit.objects.filter(portfolio=pf, reason="IBKR Flex import").count() == 8

    assert any("corporate action" in line and "SPLIT" in line for line in result.reported)
    assert any("EUR" in line for line in result.reported)
    assert len(result.reported) == 2  # the ORDER summary row is skipped silently, not counted


def test_importing_the_same_file_twice_adds_nothing():
    pf = PortfolioFactory()
    broker_ibkr.import_flex(FLEX, pf)
    count, audits = Trade.objects.count(), TradeAudit.objects.count()
    again = broker_ibkr.import_flex(FLEX, pf)
    assert again.trades == [] and again.duplicates == 8
    assert (Trade.objects.count(), TradeAudit.objects.count()) == (count, audits)
    assert ledger.realised_pnl(pf) == D("3775.40")


@pytest.mark.parametrize(
    "data",
    [
        b"not xml",
        b"<html/>",
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><FlexQueryResponse/>',
        b"x" * (broker_ibkr.MAX_BYTES + 1),
    ],
)
def test_unreadable_files_are_one_line_errors(data):
    pf = PortfolioFactory()
    with pytest.raises(broker_ibkr.BrokerFileError) as exc:
        broker_ibkr.import_flex(data, pf)
    assert "\n" not in str(exc.value)
    assert not Trade.objects.exists()


def test_upload_page_imports_and_lists_what_it_left_out(client):
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.urls import reverse

    pf = PortfolioFactory()
    client.force_login(pf.owner)
    url = reverse("portfolio:broker_import", args=[pf.pk])
    assert client.get(url).status_code == 200
    upload = SimpleUploadedFile("flex.xml", FLEX, content_type="text/xml")
    resp = client.post(url, {"file": upload, "format": "ibkr"})
    assert resp.status_code == 200
    body = resp.content.decode()
    assert "<strong>8</strong> trades imported" in body and "SPLIT" in body
    bad = SimpleUploadedFile("flex.xml", b"<nope", content_type="text/xml")
    resp = client.post(url, {"file": bad, "format": "ibkr"})
    assert resp.status_code == 400 and 'id="broker-errors"' in resp.content.decode()
    other = PortfolioFactory()
    assert client.get(reverse("portfolio:broker_import", args=[other.pk])).status_code == 404

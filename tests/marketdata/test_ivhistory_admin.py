"""The IV history's admin: list, filters, and the unique (symbol, date) held by the database."""

from __future__ import annotations

import re
from datetime import date

import pytest
from django.db import IntegrityError, transaction

from marketdata.models import IVObservation

pytestmark = pytest.mark.django_db


def obs(**kw):
    data = {
        "symbol": "GLD",
        "date": date(2026, 3, 4),
        "iv30": 0.18,
        "method": "m",
        "source": "live",
    }
    data.update(kw)
    return IVObservation.objects.create(**data)


def test_changelist_with_filters(admin_client):
    obs()
    obs(symbol="SLV", source="synthetic", iv30=0.31)
    r = admin_client.get("/admin/marketdata/ivobservation/", {"source": "synthetic"})
    assert r.status_code == 200
    rows = re.findall(r'<th class="field-symbol"><a [^>]*>([A-Z]+)</a>', r.content.decode())
    assert rows == ["SLV"]
    assert admin_client.get("/admin/marketdata/ivobservation/?q=GLD").status_code == 200


def test_one_observation_per_symbol_and_day_and_a_sane_value():
    obs()
    with pytest.raises(IntegrityError), transaction.atomic():
        obs(iv30=0.2)
    with pytest.raises(IntegrityError), transaction.atomic():
        obs(date=date(2026, 3, 5), iv30=-0.1)
    assert str(IVObservation.objects.get()) == "GLD 2026-03-04 IV30 18.00%"

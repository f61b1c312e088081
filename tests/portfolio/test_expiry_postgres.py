"""Two threads processing the same expiry at the same moment on PostgreSQL write it once.

A trigger holds the first expiry trade's INSERT for a second, so the second thread reaches the
portfolio while the first is still inside its transaction: it must wait on the portfolio lock,
then find nothing left to do (the unique external id would refuse a second write anyway).
"""

from __future__ import annotations

import psycopg
import pytest

from tests.support.postgres import pause_inserts
from tests.support.server import app_env, manage

pytestmark = [pytest.mark.slow, pytest.mark.services]

TRIGGER = pause_inserts("portfolio_trade", "NEW.source = 'expiry'", 1)

SETUP = """
from datetime import date, timedelta
from decimal import Decimal
from portfolio import ledger, expiry
from portfolio.models import Portfolio
from marketdata.service import get_market_service
today = date.today()
history = get_market_service().history("GLD", 30)
days = [d.astype(object) for d in history.dates if d.astype(object) < today - timedelta(days=1)]
day = days[-1]
close = expiry.history_close("GLD", day)
pf = Portfolio.objects.create(name="Race")
ledger.record_one(pf, None, action="buy", quantity=Decimal(3), price=Decimal("2"),
    traded_on=day - timedelta(days=30), symbol="GLD", kind="option", expiry=day,
    strike=Decimal(round(close) + 5), right="P")
print(pf.pk)
"""

RACE = """
import threading
from django.db import connection
from portfolio import expiry
barrier = threading.Barrier(2)
results = []
def run():
    barrier.wait()
    try:
        results.append(len(expiry.process_expiries()))
    finally:
        connection.close()
threads = [threading.Thread(target=run) for _ in range(2)]
for t in threads: t.start()
for t in threads: t.join()
print(sorted(results))
"""


def _manage(env: dict[str, str], *args: str) -> str:
    done = manage(env, *args, check=False, timeout=180)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_two_threads_at_once_write_the_expiry_once(scratch_db, tmp_path):
    env = app_env({"DATA_DIR": str(tmp_path), "DATABASE_URL": scratch_db})
    _manage(env, "migrate", "--noinput", "-v0")
    portfolio_id = int(_manage(env, "shell", "-c", SETUP).strip().splitlines()[-1])
    with psycopg.connect(scratch_db, autocommit=True) as conn:
        conn.execute(TRIGGER)

    assert _manage(env, "shell", "-c", RACE).strip().splitlines()[-1] == "[0, 1]"

    with psycopg.connect(scratch_db) as conn:
        trades = conn.execute(
            "SELECT action, quantity, price FROM portfolio_trade "
            "WHERE portfolio_id = %s AND source = 'expiry'",
            (portfolio_id,),
        ).fetchall()
        audits = conn.execute(
            "SELECT count(*) FROM portfolio_tradeaudit WHERE portfolio_id = %s "
            "AND reason LIKE 'expiry%%'",
            (portfolio_id,),
        ).fetchone()
        still_open = conn.execute(
            "SELECT count(*) FROM portfolio_position WHERE portfolio_id = %s AND closed_on IS NULL",
            (portfolio_id,),
        ).fetchone()
    assert len(trades) == 1
    action, quantity, price = trades[0]
    assert action == "expiry" and quantity == -3 and price > 0  # in the money: intrinsic
    assert audits == (1,) and still_open == (0,)

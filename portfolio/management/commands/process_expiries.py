"""Take expired options off every book (closed at intrinsic, or assigned/exercised)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from portfolio.expiry import process_expiries


class Command(BaseCommand):
    help = (
        "Close expired options at intrinsic value (or assign/exercise them, as each portfolio "
        "chooses) through the trade ledger. Safe to run twice or from two places at once."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        outcomes = process_expiries()
        for o in outcomes:
            price = "" if o.settlement is None else f" at close {o.settlement:.2f}"
            self.stdout.write(f"portfolio {o.portfolio_id}: {o.instrument} {o.result}{price}")
        waiting = sum(o.result == "no close" for o in outcomes)
        done = len(outcomes) - waiting
        self.stdout.write(
            self.style.SUCCESS(f"{done} expired option position(s) processed")
            + (f"; {waiting} wait for the expiry-day close" if waiting else "")
        )

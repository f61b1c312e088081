"""Vault Dashboard: a self-hosted dashboard for a position hedged with listed options."""

from __future__ import annotations

__version__ = "0.1.0"

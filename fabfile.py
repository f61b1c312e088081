"""`fab <task>` from the repository root; the tasks live in deploy/fabtasks.py.

fab --list
fab deploy --help
fab deploy --dry-run
"""

from __future__ import annotations

from deploy.fabtasks import bootstrap, deploy, health, logs, rollback, status, unlock

__all__ = ["bootstrap", "deploy", "health", "logs", "rollback", "status", "unlock"]

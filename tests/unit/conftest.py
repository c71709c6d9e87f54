"""Unit tests never touch the developer's Pulumi home: the send journal goes to a temporary
folder (restart_trigger.journal reads the variable when a journal is made)."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _private_send_journal(tmp_path, monkeypatch):
    monkeypatch.setenv("RESTART_TRIGGER_JOURNAL_DIR", str(tmp_path / "send-journal"))

"""Shared fixtures: one emulator process per session, reset before each test that uses it."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

# Make the repo root importable (``testbed``, ``emulator``) however pytest is started.
# Setting ``pythonpath = ["."]`` in pyproject.toml would make this unnecessary.
_REPO_ROOT = str(Path(__file__).resolve().parents[1])
if _REPO_ROOT not in sys.path:
    sys.path.insert(0, _REPO_ROOT)

from testbed.emulator import TEST_SEED, EmulatorProcess  # noqa: E402


@pytest.fixture(scope="session")
def _emulator_process() -> Iterator[EmulatorProcess]:
    with EmulatorProcess() as emu:
        yield emu


@pytest.fixture
def emulator(_emulator_process: EmulatorProcess) -> EmulatorProcess:
    """A running emulator with a clean world seeded with ``TEST_SEED``, no faults, no journal."""
    emu = _emulator_process
    emu.reset()
    emu.clear_faults()
    emu.clear_journal()
    emu.seed(TEST_SEED)
    return emu


@pytest.fixture
def emulator_url(emulator: EmulatorProcess) -> str:
    """``http://127.0.0.1:PORT`` of the running emulator."""
    return emulator.base_url

"""progress.Lines: a line per issued change and per status change, at most one per target
per quiet interval while nothing changes, every value escaped."""

from __future__ import annotations

from restart_trigger.lines import Lines, describe
from restart_trigger.targets import PAUSED, RUNNING, SUCCEEDED, ChangeStatus

RUN = ChangeStatus(RUNNING, "EDAS status 1 (executing)", batch="batch 1 of 3")


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def reporter():
    lines, clock = [], Clock()
    return Lines("orders", lines.append, clock=clock, quiet_interval=30), lines, clock


def test_a_line_when_the_change_id_is_issued_and_when_the_status_changes():
    progress, lines, clock = reporter()
    progress.issued("edas:app-1", "co-1")
    progress.observed("edas:app-1", RUN)
    clock.now = 5
    progress.observed(
        "edas:app-1", ChangeStatus(RUNNING, "EDAS status 1 (executing)", batch="batch 2 of 3")
    )
    progress.observed("edas:app-1", ChangeStatus(SUCCEEDED, "EDAS status 2 (success)"))
    assert lines == [
        "orders: edas:app-1 restart issued: change co-1",
        "orders: edas:app-1 change co-1: running, batch 1 of 3 (EDAS status 1 (executing))",
        "orders: edas:app-1 change co-1: running, batch 2 of 3 (EDAS status 1 (executing))",
        "orders: edas:app-1 change co-1: succeeded (EDAS status 2 (success))",
    ]


def test_while_nothing_changes_at_most_one_line_per_quiet_interval():
    progress, lines, clock = reporter()
    progress.issued("edas:app-1", "co-1")
    progress.observed("edas:app-1", RUN)
    for second in range(1, 95):
        clock.now = second
        progress.observed("edas:app-1", RUN)
    still = "orders: edas:app-1 change co-1: still running, batch 1 of 3 (EDAS status 1 (executing)"
    still += ")"
    assert lines[2:] == [f"{still}, for 30s", f"{still}, for 1m00s", f"{still}, for 1m30s"]


def test_a_wait_for_confirmation_is_said():
    paused = ChangeStatus(
        PAUSED, "EDAS status 8 (waiting for manual confirmation of the next batch)"
    )
    assert describe(paused).startswith("paused (EDAS status 8 (waiting for manual confirmation")


def test_server_texts_and_ids_are_escaped():
    progress, lines, _ = reporter()
    progress.issued("edas:app-1", "co-\x1b[2J")
    progress.observed("edas:app-1", ChangeStatus(RUNNING, "x\r\ny"))
    assert all("\x1b" not in line and "\r" not in line for line in lines)
    assert "co-\\x1b[2J" in lines[0]


def test_a_sink_that_fails_never_fails_the_rollout():
    def broken(_line):
        raise OSError("closed")

    progress = Lines("orders", broken)
    progress.issued("edas:app-1", "co-1")
    progress.not_started("edas:app-2", "not started")
    progress.warn("text")

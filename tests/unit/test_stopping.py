"""stopping: once asked to stop, no send begins; the sends in flight are waited for."""

from __future__ import annotations

import threading

import pytest

from restart_trigger.stopping import EngineGone, Stop


def test_a_send_in_flight_is_waited_for_and_a_new_one_is_refused():
    stop = Stop()
    entered, release = threading.Event(), threading.Event()

    def send():
        with stop.sending():
            entered.set()
            release.wait(5)

    worker = threading.Thread(target=send)
    worker.start()
    entered.wait(5)
    stop.request("engine gone")
    assert stop.in_flight() == 1
    assert stop.wait_idle(0.05) is False
    with pytest.raises(EngineGone, match="engine gone"), stop.sending():
        pass
    release.set()
    assert stop.wait_idle(5) is True
    worker.join(5)


def test_the_first_reason_is_kept():
    stop = Stop()
    stop.request("first")
    stop.request("second")
    assert stop.requested() and stop.reason == "first"

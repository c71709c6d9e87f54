"""widen(): more server threads inside `python -m pulumi.dynamic`, nothing anywhere else."""

from __future__ import annotations

import sys
import types
from concurrent.futures import ThreadPoolExecutor

from restart_trigger import provider_server


def fake_server_main(monkeypatch):
    main = types.ModuleType("__main__")
    main.__spec__ = types.SimpleNamespace(name="pulumi.dynamic.__main__")
    monkeypatch.setitem(sys.modules, "__main__", main)


def test_outside_the_provider_server_nothing_changes():
    pool = ThreadPoolExecutor(max_workers=4)
    try:
        assert provider_server.widen(64) == 0
        assert pool._max_workers == 4
    finally:
        pool.shutdown()


def test_inside_the_provider_server_the_default_pool_grows_and_named_pools_do_not(monkeypatch):
    fake_server_main(monkeypatch)
    server_pool = ThreadPoolExecutor(max_workers=4)
    named = ThreadPoolExecutor(max_workers=2, thread_name_prefix="restart")
    try:
        assert provider_server.widen(32) >= 1
        assert server_pool._max_workers == 32
        assert named._max_workers == 2
        # and it really runs more than 4 at a time now
        import threading

        gate, arrived = threading.Barrier(10, timeout=10), []
        futures = [server_pool.submit(lambda: arrived.append(gate.wait())) for _ in range(10)]
        for f in futures:
            f.result(timeout=10)
        assert len(arrived) == 10
    finally:
        server_pool.shutdown()
        named.shutdown()


def test_the_environment_can_turn_it_off(monkeypatch):
    fake_server_main(monkeypatch)
    monkeypatch.setenv("RESTART_TRIGGER_PROVIDER_WORKERS", "0")
    pool = ThreadPoolExecutor(max_workers=4)
    try:
        assert provider_server.widen() == 0
        assert pool._max_workers == 4
    finally:
        pool.shutdown()


def test_a_server_pool_of_another_shape_is_left_alone(monkeypatch):
    """If a future SDK's executor keeps its limit elsewhere (or not as an int), widen() does
    nothing and raises nothing: triggers still work, only with the SDK's threads."""
    fake_server_main(monkeypatch)

    class OtherExecutor(ThreadPoolExecutor):
        def __init__(self) -> None:
            super().__init__(max_workers=4)
            self._limit, self._max_workers = 4, None

    pool = OtherExecutor()
    try:
        provider_server.widen(64)  # other tests' pools may still be alive: count not checked
        assert pool._max_workers is None
    finally:
        pool._max_workers = 4
        pool.shutdown()


# -- the engine watch --------------------------------------------------------------------------


def test_the_engine_is_gone_when_this_process_was_reparented_or_its_address_refuses():
    from restart_trigger.provider_server import engine_gone

    assert engine_gone(10, "127.0.0.1:1", getppid=lambda: 10, refuses=lambda a: False) is None
    assert "exited" in engine_gone(10, None, getppid=lambda: 1)
    assert "refuses connections" in engine_gone(
        10, "127.0.0.1:1", getppid=lambda: 10, refuses=lambda a: True
    )
    assert engine_gone(10, "127.0.0.1:1", getppid=lambda: 10, refuses=None) is None


def test_a_closed_port_refuses_and_a_listening_one_does_not():
    import socket

    from restart_trigger.provider_server import refuses_connections

    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        address = f"127.0.0.1:{server.getsockname()[1]}"
        assert refuses_connections(address) is False
    assert refuses_connections(address) is True
    assert refuses_connections("not-an-address") is False


def test_the_watch_does_nothing_outside_the_dynamic_provider_server():
    from restart_trigger.provider_server import watch_engine

    assert watch_engine() is False


def test_the_watch_stops_the_rollout_and_exits_once_the_engine_refuses():
    import socket
    import threading

    from restart_trigger.provider_server import watch_engine
    from restart_trigger.stopping import Stop

    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        address = f"127.0.0.1:{server.getsockname()[1]}"  # bound, never listening: refused
    stop, exited = Stop(), threading.Event()
    assert watch_engine(
        stop=stop,
        interval=0.01,
        exit_process=lambda code: exited.set(),
        address=address,
        force=True,
    )
    assert exited.wait(10)
    assert stop.requested() and "refuses connections" in stop.reason

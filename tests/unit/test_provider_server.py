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

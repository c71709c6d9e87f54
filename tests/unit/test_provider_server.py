"""provider_server, the one reach into the dynamic-provider server: widen() gives more server
threads inside `python -m pulumi.dynamic` and nothing anywhere else; current_call /
fail_with_outputs answer the engine's Create/Update of a partly failed rollout with the
restarts that happened (ErrorResourceInitFailed), and do nothing at all where the server does
not look as expected; progress lines; the engine watch."""

from __future__ import annotations

import sys
import types
from concurrent.futures import ThreadPoolExecutor

import pytest

from restart_trigger import provider_server
from restart_trigger.provider_server import PartialStateUnsupported, ServerCall, current_call


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


# --- the call being served: a partly failed rollout answers with what happened --------------------


class Aborted(Exception):
    pass


class FakeContext:
    def __init__(self):
        self.status = None

    def abort_with_status(self, status):
        self.status = status
        raise Aborted


class DynamicResourceProviderServicer:
    """Shaped like pulumi.dynamic.__main__'s servicer: Create calls the provider directly."""

    def __init__(self, provider):
        self.provider = provider

    def Create(self, request, context):  # noqa: N802 - the gRPC method name
        return self.provider()

    def Update(self, request, context):  # noqa: N802
        return self.provider()


REQUEST = types.SimpleNamespace(
    urn="urn:pulumi:dev::proj::pulumi-python:dynamic/restart:RestartTrigger::orders"
)


def test_inside_the_server_the_call_being_served_is_found(monkeypatch):
    fake_server_main(monkeypatch)
    context = FakeContext()
    found = DynamicResourceProviderServicer(lambda: current_call()).Create(REQUEST, context)
    assert found == ServerCall(REQUEST.urn, context)
    found = DynamicResourceProviderServicer(lambda: current_call()).Update(REQUEST, context)
    assert found is not None and found.urn == REQUEST.urn


def test_outside_the_server_there_is_no_call():
    context = FakeContext()
    assert DynamicResourceProviderServicer(lambda: current_call()).Create(REQUEST, context) is None


def test_a_server_that_changed_shape_gives_no_call(monkeypatch):
    fake_server_main(monkeypatch)

    class OtherServer(DynamicResourceProviderServicer):
        pass

    assert OtherServer(lambda: current_call()).Create(REQUEST, FakeContext()) is None
    no_urn = types.SimpleNamespace()
    server = DynamicResourceProviderServicer(lambda: current_call())
    assert server.Create(no_urn, FakeContext()) is None
    assert server.Create(REQUEST, object()) is None  # a context without abort_with_status


def test_the_failure_carries_the_outputs_as_an_error_resource_init_failed_detail():
    status_pb2 = pytest.importorskip("google.rpc.status_pb2")
    from pulumi.runtime import rpc
    from pulumi.runtime.proto import provider_pb2

    context = FakeContext()
    outputs = {
        "hash": "sha256:bbb",
        "owed": ["edas:app-2"],
        "progress": {"edas:app-1": {"hash": "sha256:bbb"}},
    }
    with pytest.raises(Aborted):
        ServerCall(REQUEST.urn, context).fail_with_outputs("rt-1", outputs, "1 of 2 failed")
    ((name, trailer),) = context.status.trailing_metadata
    assert name == "grpc-status-details-bin"
    decoded = status_pb2.Status.FromString(trailer)
    assert (decoded.code, decoded.message) == (2, "1 of 2 failed")  # UNKNOWN, as the server's
    detail = provider_pb2.ErrorResourceInitFailed()
    assert decoded.details[0].Unpack(detail)
    assert (detail.id, list(detail.reasons)) == ("rt-1", ["1 of 2 failed"])
    assert rpc.deserialize_properties(detail.properties) == outputs


def test_a_context_that_cannot_abort_is_reported_before_anything_is_sent():
    with pytest.raises(PartialStateUnsupported):
        ServerCall(REQUEST.urn, object()).fail_with_outputs("rt-1", {}, "failed")


def test_the_trigger_name_is_the_urn_name():
    assert provider_server.trigger_name(REQUEST.urn, "rt-1") == "orders"
    assert provider_server.trigger_name(None, "rt-1") == "rt-1"


def test_the_engine_address_is_the_servers_first_argument():
    assert provider_server.engine_address(["main", "127.0.0.1:40123"]) == "127.0.0.1:40123"
    assert provider_server.engine_address(["main"]) is None
    assert provider_server.engine_address(["main", "--flag"]) is None


def test_progress_lines_go_to_stderr_when_there_is_no_engine(capsys):
    provider_server.engine_sink(None)("orders: edas:app-1 restart issued: change co-1")
    assert capsys.readouterr().err == "orders: edas:app-1 restart issued: change co-1\n"


def test_a_line_the_engine_does_not_take_still_reaches_stderr(capsys):
    # Nothing listens on this port: the engine log fails, the line is not lost.
    sink = provider_server.engine_sink(REQUEST.urn, "127.0.0.1:9")
    sink("orders: edas:app-1 restart issued: change co-1")
    assert "restart issued" in capsys.readouterr().err

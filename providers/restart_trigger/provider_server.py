"""The one place that reaches into Pulumi's Python dynamic-provider server, guarded.

Four things, each a no-op (the trigger still works, only less well) when the server stops
looking as expected: :func:`widen` (more than 4 operations at a time), :func:`current_call`
(answer a partly failed rollout with the restarts that happened, so state keeps them),
:func:`engine_sink` (progress lines on the trigger's row of ``pulumi up``) and
:func:`watch_engine` (stop, and exit, when the engine is gone).

Widening the pool: let the server run more than 4 operations at a time.

Pulumi starts dynamic providers as ``python -m pulumi.dynamic``, a gRPC server whose thread pool
has 4 workers. A RestartTrigger that waits for its change orders holds one worker for the whole
wait, so 50 single-target triggers whose restarts take T each would need about 50/4 x T, every
other trigger queued behind four waits.

The waits are I/O (sleeps between status calls), so more threads cost next to nothing. When the
provider is configured inside that server process, :func:`widen` raises the pool's worker limit
(``ThreadPoolExecutor`` starts threads lazily, up to its limit, on each submitted call). It
changes nothing anywhere else (the program process, tests, other hosts), never lowers a limit,
and if the server ever stops looking as expected it does nothing: triggers still work, only
slower. ``RESTART_TRIGGER_PROVIDER_WORKERS`` sets the limit (default 64; 0 or 4 turns it off).
"""

from __future__ import annotations

import asyncio
import gc
import os
import socket
import sys
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from restart_trigger.engine_rpc import init_failed_status, log_sink
from restart_trigger.stopping import STOP, Stop

DEFAULT_WORKERS = 64
_SERVER_MODULE = "pulumi.dynamic.__main__"


def in_dynamic_provider_server() -> bool:
    """True inside ``python -m pulumi.dynamic`` (the process the engine starts)."""
    spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    return getattr(spec, "name", None) == _SERVER_MODULE


def configured_workers(environ: Mapping[str, str] = os.environ) -> int:
    """``RESTART_TRIGGER_PROVIDER_WORKERS`` (a whole number), else ``DEFAULT_WORKERS``."""
    raw = environ.get("RESTART_TRIGGER_PROVIDER_WORKERS", "")
    return int(raw) if raw.strip().isdigit() else DEFAULT_WORKERS


def widen(workers: int | None = None) -> int:
    """Raise the server's worker limit to ``workers``; return how many pools were widened."""
    if workers is None:
        workers = configured_workers()
    if workers <= 0 or not in_dynamic_provider_server():
        return 0
    widened = 0
    for obj in gc.get_objects():
        # The server's pool is the only one made with the default thread-name prefix; ours
        # (and any other this package makes) are named.
        if (
            isinstance(obj, ThreadPoolExecutor)
            and getattr(obj, "_thread_name_prefix", "").startswith("ThreadPoolExecutor-")
            and isinstance(getattr(obj, "_max_workers", None), int)
            and obj._max_workers < workers
        ):
            obj._max_workers = workers
            widened += 1
    return widened


# -- the call being served: partial outputs and progress lines ----------------------------------
#
# Two more things a RestartTrigger needs that the Python dynamic-provider server does not
# expose, reached the same guarded way (each does nothing, and says so, if the server stops
# looking as expected):
#
# * A partly failed rollout must keep the restarts that happened. The provider protocol has
#   this (a Create/Update that fails with an ``ErrorResourceInitFailed`` detail carries the
#   resource's outputs, which the engine records with the error), but the Python server turns
#   every exception into a bare error. :func:`current_call` finds the gRPC call the server is
#   serving (its ``request`` and ``context``, locals of the server's ``Create``/``Update``,
#   which call the provider directly) so :meth:`ServerCall.fail_with_outputs` can answer it
#   with that detail itself.
# * Lines lines belong on the trigger's row of ``pulumi up``. The engine passes every
#   provider its address as the first argument; :func:`engine_sink` logs there under the
#   trigger's URN (``pulumirpc.Engine/Log``, ephemeral: shown while it waits, not repeated in
#   the diagnostics), and writes to stderr (which the CLI shows too) when it cannot.

_CALL_NAMES = ("Create", "Update", "Diff")  # Diff: its URN, for preview lines
_SERVER_CLASS = "DynamicResourceProviderServicer"


@dataclass(frozen=True)
class ServerCall:
    """The Create or Update call the dynamic-provider server is serving."""

    urn: str
    context: Any

    def fail_with_outputs(self, resource_id: str, outputs: Mapping[str, Any], reason: str) -> None:
        """End the call as failed, with ``outputs`` as the resource's state (never returns).

        Raises ``PartialStateUnsupported`` (before anything is sent) if the detail cannot be
        built; the caller then fails the usual way."""
        try:
            from pulumi.runtime import rpc

            loop = asyncio.new_event_loop()
            try:
                properties = loop.run_until_complete(rpc.serialize_properties(dict(outputs), {}))
            finally:
                loop.close()
            status = init_failed_status(resource_id, properties, reason)
            abort = self.context.abort_with_status
        except Exception as exc:  # noqa: BLE001 - any mismatch means: not supported here
            raise PartialStateUnsupported(f"{type(exc).__name__}: {exc}") from None
        abort(status)  # raises: the server answers the call with the status above
        raise PartialStateUnsupported("abort_with_status returned")  # pragma: no cover


class PartialStateUnsupported(Exception):
    """This server cannot answer a call with partial state (its internals changed)."""


def current_call(max_depth: int = 8) -> ServerCall | None:
    """The Create/Update call being served by ``python -m pulumi.dynamic`` on this thread, or
    None (another host, a test, or a server that no longer looks as expected)."""
    if not in_dynamic_provider_server():
        return None
    frame = sys._getframe(1)
    for _ in range(max_depth):
        if frame is None:
            return None
        if frame.f_code.co_name in _CALL_NAMES:
            server = frame.f_locals.get("self")
            request = frame.f_locals.get("request")
            context = frame.f_locals.get("context")
            urn = getattr(request, "urn", None)
            if (
                type(server).__name__ == _SERVER_CLASS
                and isinstance(urn, str)
                and callable(getattr(context, "abort_with_status", None))
            ):
                return ServerCall(urn, context)
            return None
        frame = frame.f_back
    return None


def engine_sink(urn: str | None, address: str | None = None) -> Callable[[str], None]:
    """A progress-line sink: the engine's log under ``urn`` (ephemeral), else stderr."""
    return log_sink(urn, address or engine_address())


def engine_address(argv: list[str] | None = None) -> str | None:
    """The engine's gRPC address the server was started with (``host:port``: the first
    argument that looks so; the engine puts logging flags before it), or None."""
    args = sys.argv if argv is None else argv
    if not in_dynamic_provider_server() and argv is None:
        return None
    for arg in args[1:]:
        host, _, port = arg.rpartition(":")
        if host and port.isdigit() and not arg.startswith("-"):
            return arg
    return None


def trigger_name(urn: str | None, fallback: str) -> str:
    """The resource name in a URN (``urn:pulumi:stack::project::type::name``)."""
    return urn.rsplit("::", 1)[-1] if urn and "::" in urn else fallback


# -- an engine that is gone -----------------------------------------------------------------
#
# Pulumi starts every plugin in a process group of its own, so a CLI killed with its group
# (``kill -9 -<pgid>``, what CI runners do to a cancelled job) leaves the provider running: it
# would go on with the rollout while the user runs ``pulumi cancel`` and the next ``up``. The
# watcher notices the engine is gone (this process was reparented, or the engine's address,
# the server's first argument, refuses connections), asks the runner to stop
# (``stopping.STOP``: no further target, no new send, waits end), lets the sends in flight
# answer (their change ids go to the send journal), and exits the process.
#
# The engine's ``Cancel`` call is not seen: the dynamic-provider server binds its own
# ``Cancel`` (which does nothing) when it registers the servicer, before our code runs. On
# Ctrl-C the CLI waits for the update, which goes on to its end (or its ``timeout``).

WATCH_INTERVAL = 0.5
"""Seconds between looks at the parent process (the address is tried every 4th look)."""

IDLE_BOUND = 120.0
"""At most this long, once the engine is gone, for the sends in flight to answer."""


def engine_gone(
    parent: int,
    address: str | None,
    *,
    getppid: Callable[[], int] = os.getppid,
    refuses: Callable[[str], bool] | None = None,
) -> str | None:
    """Why the engine is gone (its words), or None while it is there: this process has
    another parent than ``parent`` (the engine that started it exited), or ``address``
    refuses connections (``refuses``: None skips that look)."""
    if getppid() != parent:
        return "the Pulumi engine process exited"
    if address and refuses is not None and refuses(address):
        return f"the Pulumi engine at {address} refuses connections"
    return None


def refuses_connections(address: str, timeout: float = 2.0) -> bool:
    """Whether ``host:port`` refuses a TCP connection (a timeout proves nothing: False)."""
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=timeout):
            return False
    except ConnectionRefusedError:
        return True
    except (OSError, ValueError):
        return False


_watching = False
_watch_lock = threading.Lock()


def watch_engine(
    *,
    stop: Stop = STOP,
    interval: float = WATCH_INTERVAL,
    exit_process: Callable[[int], None] = os._exit,
    address: str | None = None,
    force: bool = False,
) -> bool:
    """Start (once per process) the thread that stops the rollout and exits when the engine
    is gone; True if it started. Only inside ``python -m pulumi.dynamic`` (``force``: in a
    test)."""
    global _watching
    if not (force or in_dynamic_provider_server()):
        return False
    with _watch_lock:
        if _watching and not force:
            return False
        _watching = True
    parent = os.getppid()
    address = address or engine_address()

    def watch() -> None:
        looks = 0
        while True:
            time.sleep(interval)
            looks += 1
            reason = engine_gone(
                parent, address, refuses=refuses_connections if looks % 4 == 0 else None
            )
            if reason is None:
                continue
            stop.request(reason)
            try:  # the CLI that read this pipe may be gone: a broken pipe must not stop the exit
                print(
                    f"restart-trigger: {reason}; starting no further restart, exiting once the "
                    f"{stop.in_flight()} send(s) in flight have answered",
                    file=sys.stderr,
                    flush=True,
                )
            except Exception:  # noqa: BLE001
                pass
            stop.wait_idle(IDLE_BOUND)
            exit_process(0)
            return

    threading.Thread(target=watch, name="restart-trigger-engine-watch", daemon=True).start()
    return True

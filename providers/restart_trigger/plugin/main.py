"""The ``pulumi-resource-alirestart`` executable (a console script of this package).

The engine execs it directly (no language host) with its own gRPC address as the first
argument, reads the port of our server from the first line of stdout, and talks to it. The
engine also passes the consuming program's runtime options as ``PULUMI_RUNTIME_*`` variables
(its ``virtualenv``, say): they are the program's, not ours, and nothing here reads them; the
script's own interpreter is the one pip installed it with.

The server has its own pool (``RESTART_TRIGGER_PROVIDER_WORKERS``, default 64: a waiting
trigger holds a thread for the whole wait), and stops its rollouts and exits when the engine
is gone (``provider_server.watch_engine``), as the dynamic provider does.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from restart_trigger.provider_server import DEFAULT_WORKERS, configured_workers, engine_address


def workers(environ: Mapping[str, str] = os.environ) -> int:
    """The server's pool size: ``RESTART_TRIGGER_PROVIDER_WORKERS`` (0: the default)."""
    return configured_workers(environ) or DEFAULT_WORKERS


def start_server(address: str | None) -> tuple[Any, int]:
    """The plugin's gRPC server on a loopback port, started: (server, port)."""
    import grpc
    from pulumi.runtime.proto import provider_pb2_grpc

    from restart_trigger.plugin.server import AliRestartProvider

    pool = ThreadPoolExecutor(max_workers=workers(), thread_name_prefix="alirestart-rpc")
    server = grpc.server(
        pool,
        options=[
            ("grpc.max_receive_message_length", 400 * 1024 * 1024),
            ("grpc.max_send_message_length", 400 * 1024 * 1024),
        ],
    )
    provider_pb2_grpc.add_ResourceProviderServicer_to_server(AliRestartProvider(address), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    return server, port


def serve(argv: list[str] | None = None) -> int:
    """Start the server, print its port (the engine reads it), and serve until stopped."""
    from restart_trigger.provider_server import watch_engine

    address = engine_address(sys.argv if argv is None else argv)
    server, port = start_server(address)
    print(port, flush=True)
    if address:
        watch_engine(address=address, force=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        server.stop(0)
    return 0


def main() -> None:
    sys.exit(serve())


if __name__ == "__main__":
    main()

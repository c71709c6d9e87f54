"""Command line: ``python -m emulator --host 127.0.0.1 --port 0 [--state F] [--seed F]
[--tls-cert F --tls-key F] [--imds-port N]``.

Prints the base URL as the first stdout line (``https://`` with TLS), then, with
``--imds-port``, ``imds http://HOST:PORT`` as the second; serves until SIGTERM/SIGINT, then
saves the state (if ``--state``) and exits 0.
"""

from __future__ import annotations

import argparse
import json
import signal
import ssl
import sys
import threading
from types import FrameType

from emulator.faults import FaultConfig, FaultInjector
from emulator.server import Emulator, EmulatorServer
from emulator.state import World


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(
        prog="python -m emulator", description="Local EDAS and Web+ OpenAPI emulator."
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default loopback)")
    parser.add_argument("--port", type=int, default=0, help="port to bind (0: pick a free one)")
    parser.add_argument("--state", help="JSON file to load state from and persist state to")
    parser.add_argument("--seed", help="seed JSON file merged into the state at start")
    parser.add_argument(
        "--faults",
        help="initial fault configuration: inline JSON, or @FILE to read it from a file",
    )
    parser.add_argument("--verbose", action="store_true", help="log every request to stderr")
    parser.add_argument("--tls-cert", help="PEM certificate (chain) file: serve HTTPS")
    parser.add_argument("--tls-key", help="PEM private key file of --tls-cert")
    parser.add_argument(
        "--imds-port",
        type=int,
        help="also serve the ECS metadata service alone on this plain-HTTP port (0: pick one)",
    )
    args = parser.parse_args(argv)
    if bool(args.tls_cert) != bool(args.tls_key):
        parser.error("--tls-cert and --tls-key go together")
    return args


def tls_context(cert: str, key: str) -> ssl.SSLContext:
    """A server-side TLS context (TLS 1.2 or later) for the certificate and key."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert, key)
    return context


def _load_json(text_or_file: str) -> dict:
    if text_or_file.startswith("@"):
        with open(text_or_file[1:], encoding="utf-8") as handle:
            return json.load(handle)
    return json.loads(text_or_file)


def main(argv: list[str] | None = None) -> int:
    """Run the emulator until a termination signal."""
    args = parse_args(argv)
    world = World(state_path=args.state)
    world.load()
    if args.seed:
        with open(args.seed, encoding="utf-8") as handle:
            world.merge_seed(json.load(handle))
    world.save()
    faults = FaultInjector(FaultConfig.from_dict(_load_json(args.faults)) if args.faults else None)
    emulator = Emulator(world, faults, verbose=args.verbose)
    context = tls_context(args.tls_cert, args.tls_key) if args.tls_cert else None
    server = EmulatorServer((args.host, args.port), emulator, ssl_context=context)
    imds_server = None
    if args.imds_port is not None:
        imds_server = EmulatorServer((args.host, args.imds_port), emulator, imds_only=True)

    def stop(signum: int, frame: FrameType | None) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(server.base_url, flush=True)
    if imds_server is not None:
        print(f"imds {imds_server.base_url}", flush=True)
        threading.Thread(
            target=imds_server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True
        ).start()
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        if imds_server is not None:
            imds_server.shutdown()
            imds_server.server_close()
        server.server_close()
        world.save()
    return 0


if __name__ == "__main__":
    sys.exit(main())

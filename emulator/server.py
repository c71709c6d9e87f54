"""The HTTP front door: routing, fault injection, signature checks, journaling.

One :class:`Emulator` object owns the world, the verifier, the fault injector and the
journal; :class:`EmulatorServer` is a stdlib ``ThreadingHTTPServer`` around it.
"""

from __future__ import annotations

import json
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

from emulator import edas, webplus
from emulator.admin import PREFIX as ADMIN_PREFIX
from emulator.admin import AdminApi
from emulator.context import CallContext
from emulator.errors import ApiError, EdasBusinessError, new_request_id
from emulator.faults import DROP_AFTER, FaultInjector
from emulator.journal import Journal
from emulator.signatures import ReceivedRequest, SignatureVerifier
from emulator.state import World

Handler = Callable[[CallContext], dict[str, Any]]

#: (method, path) -> (product, action, handler)
ROUTES: dict[tuple[str, str], tuple[str, str, Handler]] = {
    **{k: (edas.PRODUCT, a, h) for k, (a, h) in edas.ROUTES.items()},
    **{k: (webplus.PRODUCT, a, h) for k, (a, h) in webplus.ROUTES.items()},
}

API_VERSIONS = {edas.PRODUCT: "2017-08-01", webplus.PRODUCT: "2019-03-20"}


def product_for_path(path: str) -> str | None:
    """Which product a path belongs to, by prefix."""
    if path.startswith("/pop/v5/"):
        return edas.PRODUCT
    if path.startswith("/pop/v1/wam/"):
        return webplus.PRODUCT
    return None


@dataclass
class Reply:
    """An answer to send, or ``drop=True`` to close the connection without answering."""

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False


def parse_form(content_type: str | None, body: bytes) -> dict[str, str]:
    """Decode a form (or flat JSON object) body into string parameters."""
    if not body:
        return {}
    ctype = (content_type or "").split(";", 1)[0].strip().lower()
    text = body.decode("utf-8", errors="replace")
    if ctype == "application/x-www-form-urlencoded":
        return dict(parse_qsl(text, keep_blank_values=True))
    if ctype == "application/json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError:
            return {}
        if isinstance(data, dict):
            return {str(k): str(v) for k, v in data.items() if not isinstance(v, dict | list)}
    return {}


class Emulator:
    """Everything the HTTP layer needs, independent of sockets (easy to test directly)."""

    def __init__(
        self,
        world: World,
        faults: FaultInjector | None = None,
        journal: Journal | None = None,
        clock: Callable[[], float] = time.time,
        verbose: bool = False,
    ) -> None:
        self.world = world
        self.faults = faults or FaultInjector()
        self.journal = journal or Journal()
        self.clock = clock
        self.verbose = verbose
        self.verifier = SignatureVerifier(world.key_record, clock=clock)
        self.admin = AdminApi(world, self.faults, self.journal)

    def handle_product(self, req: ReceivedRequest, host: str) -> Reply:
        """Answer one product API request (everything outside the admin prefix)."""
        request_id = new_request_id()
        route = ROUTES.get((req.method, req.path))
        product = route[0] if route else product_for_path(req.path)
        action = route[1] if route else None
        query = req.query_dict()
        form = parse_form(req.header("Content-Type"), req.body)
        region = query.get("RegionId") or req.header("x-acs-region-id")
        entry: dict[str, Any] = {
            "time": time.time(),
            "method": req.method,
            "path": req.path,
            "product": product,
            "action": action,
            "query": query,
            "form": form,
            "access_key_id": SignatureVerifier.claimed_access_key_id(req),
            "signature": SignatureVerifier.detect_flavour(req),
            "region": region,
            "request_id": request_id,
            "applied": False,
        }

        def error_reply(error: ApiError, fault: str | None = None) -> Reply:
            self.journal.record(**entry, status=error.http_status, code=error.code, fault=fault)
            headers = {"x-acs-request-id": request_id, **error.headers}
            return Reply(error.http_status, error.body(request_id, host, product), headers)

        if route is None:
            return error_reply(
                ApiError(
                    404,
                    "InvalidAction.NotFound",
                    "Specified api is not found, please check your url and method.",
                )
            )
        decision = self.faults.before(action)
        if decision.sleep_s:
            time.sleep(decision.sleep_s)
        if decision.drop:
            self.journal.record(**entry, status=None, code=None, fault=decision.fault)
            return Reply(drop=True)
        if decision.error is not None:
            return error_reply(decision.error, decision.fault)

        try:
            caller = self.verifier.verify(req)
            version = req.header("x-acs-version")
            if version is not None and version != API_VERSIONS[product]:
                raise ApiError(400, "InvalidVersion", "Specified parameter Version is not valid.")
            ctx = CallContext(
                world=self.world,
                faults=self.faults,
                caller=caller,
                params={**query, **form},
                region=region,
                now=self.clock(),
            )
            body = route[2](ctx)
            status, code = 200, None
            entry["result_id"] = ctx.result_id
            entry["applied"] = ctx.result_id is not None
        except ApiError as error:
            return error_reply(error)
        except EdasBusinessError as error:
            body, status, code = error.body(request_id), 200, str(error.code)
        except Exception:  # noqa: BLE001 - the emulator must answer, not crash
            traceback.print_exc(file=sys.stderr)
            return error_reply(
                ApiError(500, "InternalError", "The emulator failed to process the request.")
            )
        body = {"RequestId": request_id, **body}
        if self.faults.drop_after(action):
            self.journal.record(**entry, status=status, code=code, fault=DROP_AFTER)
            return Reply(drop=True)
        self.journal.record(**entry, status=status, code=code, fault=None)
        return Reply(status, body, {"x-acs-request-id": request_id})


class _RequestHandler(BaseHTTPRequestHandler):
    """Turns HTTP requests into :class:`ReceivedRequest` objects and writes replies."""

    protocol_version = "HTTP/1.1"
    server_version = "restart-trigger-emulator"
    server: EmulatorServer

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _handle(self) -> None:
        emulator = self.server.emulator
        body = self._read_body()
        raw_path, _, raw_query = self.path.partition("?")
        if raw_path.startswith(ADMIN_PREFIX) or raw_path + "/" == ADMIN_PREFIX:
            result = emulator.admin.handle(self.command, raw_path, raw_query, body)
            self._send(Reply(result.status, result.body))
            return
        req = ReceivedRequest(
            method=self.command,
            path=raw_path,
            query=tuple(parse_qsl(raw_query, keep_blank_values=True)),
            headers=tuple(self.headers.items()),
            body=body,
        )
        reply = emulator.handle_product(req, self.headers.get("Host") or "")
        self._send(reply)

    def _send(self, reply: Reply) -> None:
        if reply.drop:
            self.close_connection = True
            return
        payload = json.dumps(reply.body, ensure_ascii=False).encode("utf-8")
        self.send_response(reply.status)
        self.send_header("Content-Type", "application/json;charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _handle  # noqa: N815

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        if self.server.emulator.verbose:
            sys.stderr.write(f"{self.address_string()} - {format % args}\n")


class EmulatorServer(ThreadingHTTPServer):
    """A threading HTTP server bound to one :class:`Emulator`."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], emulator: Emulator) -> None:
        self.emulator = emulator
        super().__init__(address, _RequestHandler)

    @property
    def base_url(self) -> str:
        """``http://HOST:PORT`` of the bound socket."""
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

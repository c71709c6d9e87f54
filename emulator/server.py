"""The HTTP front door: routing, fault injection, signature checks, journaling.

One :class:`Emulator` object owns the world, the verifier, the fault injector and the
journal; :class:`EmulatorServer` is a stdlib ``ThreadingHTTPServer`` around it.
"""

from __future__ import annotations

import json
import socket
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
from emulator.faults import APPLY_DELAY, DRIP, DROP_AFTER, Drip, FaultInjector
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
    """An answer to send, or ``drop=True`` to close the connection without answering.

    ``drip`` sends it byte by byte; ``close`` closes the connection after it (a held restart,
    whose client has most likely gone).
    """

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False
    drip: Drip | None = None
    close: bool = False


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

        params = {**query, **form}
        target = params.get("AppId") or params.get("EnvId")

        def answer(
            status: int,
            body: Any,
            code: str | None,
            fault: str | None,
            headers: dict[str, str] | None = None,
            close: bool = False,
        ) -> Reply:
            drip = None
            if fault is None and route is not None:
                drip = self.faults.drip(action, target)
                fault = DRIP if drip else None
            self.journal.record(**entry, status=status, code=code, fault=fault)
            headers = {"x-acs-request-id": request_id, **(headers or {})}
            return Reply(status, body, headers, drip=drip, close=close)

        def error_reply(error: ApiError, fault: str | None = None, close: bool = False) -> Reply:
            body = error.body(request_id, host, product)
            return answer(error.http_status, body, error.code, fault, error.headers, close)

        if route is None:
            return error_reply(
                ApiError(
                    404,
                    "InvalidAction.NotFound",
                    "Specified api is not found, please check your url and method.",
                )
            )
        decision = self.faults.before(action, target)
        if decision.sleep_s:
            time.sleep(decision.sleep_s)
        if decision.drop:
            self.journal.record(**entry, status=None, code=None, fault=decision.fault)
            return Reply(drop=True)
        if decision.error is not None:
            return error_reply(decision.error, decision.fault)

        fault = decision.fault  # None, or status_latency (already slept)
        held = False
        try:
            caller = self.verifier.verify(req)
            version = req.header("x-acs-version")
            if version is not None and version != API_VERSIONS[product]:
                raise ApiError(400, "InvalidVersion", "Specified parameter Version is not valid.")
            hold_s = 0.0 if fault else self.faults.apply_delay(action, target)
            if hold_s:
                # Accepted but not applied yet: nothing is sent and no lock is held meanwhile.
                fault, held = APPLY_DELAY, True
                time.sleep(hold_s)
            ctx = CallContext(
                world=self.world,
                faults=self.faults,
                caller=caller,
                params=params,
                region=region,
                now=self.clock(),
            )
            body = route[2](ctx)
            status, code = 200, None
            entry["result_id"] = ctx.result_id
            entry["applied"] = ctx.result_id is not None
        except ApiError as error:
            return error_reply(error, fault, close=held)
        except EdasBusinessError as error:
            body, status, code = error.body(request_id), 200, str(error.code)
        except Exception:  # noqa: BLE001 - the emulator must answer, not crash
            traceback.print_exc(file=sys.stderr)
            return error_reply(
                ApiError(500, "InternalError", "The emulator failed to process the request."),
                fault,
                close=held,
            )
        body = {"RequestId": request_id, **body}
        if fault is None and self.faults.drop_after(action, target):
            self.journal.record(**entry, status=status, code=code, fault=DROP_AFTER)
            return Reply(drop=True)
        return answer(status, body, code, fault, close=held)


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

    def handle(self) -> None:
        # A client that hangs up (a timed-out client, a drip it gave up on) is no error here.
        try:
            super().handle()
        except ConnectionError:
            self.close_connection = True

    def _head(self, reply: Reply, length: int) -> bytes:
        """Status line and headers, as ``send_response``/``send_header`` would write them."""
        self.log_request(reply.status)
        phrase = self.responses.get(reply.status, ("",))[0]
        lines = [
            f"{self.protocol_version} {reply.status} {phrase}",
            f"Server: {self.version_string()}",
            f"Date: {self.date_time_string()}",
            "Content-Type: application/json;charset=utf-8",
            f"Content-Length: {length}",
            *(f"{name}: {value}" for name, value in reply.headers.items()),
        ]
        if reply.close:
            lines.append("Connection: close")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", errors="replace")

    def _send(self, reply: Reply) -> None:
        if reply.drop:
            self.close_connection = True
            return
        if reply.close:
            self.close_connection = True
        payload = json.dumps(reply.body, ensure_ascii=False).encode("utf-8")
        head = self._head(reply, len(payload))
        try:
            if reply.drip is None:
                self.wfile.write(head + payload)
            else:
                self._drip(head, payload, reply.drip)
        except OSError:
            # The client has gone (it timed out while a restart was held, or gave up on a drip).
            self.close_connection = True

    def _drip(self, head: bytes, payload: bytes, drip: Drip) -> None:
        """Write one byte every ``drip.interval_s`` (the head at once unless ``drip.headers``)."""
        try:
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass
        data = head + payload
        if not drip.headers:
            self.wfile.write(head)
            data = payload
        for index in range(len(data)):
            time.sleep(drip.interval_s)
            self.wfile.write(data[index : index + 1])

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

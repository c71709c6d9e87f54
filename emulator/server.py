"""The HTTP front door: route, fault, verify, journal.

One :class:`Emulator` object owns the world, the verifier, the fault injector and the
journal; :class:`EmulatorServer` is a stdlib ``ThreadingHTTPServer`` around it. A product
request is handled in this order:

1. **route**: method and path name an operation; ``x-acs-version`` must be the product's API
   version and an ``x-acs-action``, if sent, that operation (:func:`check_route`);
2. **fault**: the injected faults that answer before processing;
3. **verify**: the signature, in a scheme the product accepts
   (:class:`~emulator.signatures.SignatureVerifier`), then the operation runs on the
   parameters read only where the official SDKs put them (:meth:`Route.params`);
4. **journal**: every answer, dropped connections included, gets one entry.

Two more services share the port: STS at ``/`` (RPC style, :mod:`emulator.sts`) and the ECS
instance metadata service under ``/latest/`` (:mod:`emulator.imds`), which an extra
plain-HTTP listener (``--imds-port``) can also serve alone. With a TLS context the server
speaks HTTPS (the handshake happens on the request's own thread).
"""

from __future__ import annotations

import json
import socket
import ssl
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from emulator import edas, imds, sae, sts, webplus
from emulator.admin import PREFIX as ADMIN_PREFIX
from emulator.admin import AdminApi
from emulator.clock import Clock, as_clock
from emulator.context import CallContext
from emulator.errors import (
    ApiError,
    EdasBusinessError,
    api_not_found,
    invalid_version,
    missing_parameter,
    new_request_id,
)
from emulator.faults import APPLY_DELAY, DRIP, DROP_AFTER, Drip, FaultInjector
from emulator.journal import Journal
from emulator.signatures import (
    FLAVOUR_RPC,
    FLAVOUR_V3,
    ReceivedRequest,
    RpcVerifier,
    SignatureVerifier,
    V3Verifier,
    incomplete_signature,
)
from emulator.state import World

Handler = Callable[[CallContext], dict[str, Any]]

API_VERSIONS = {
    edas.PRODUCT: "2017-08-01",
    webplus.PRODUCT: "2019-03-20",
    sae.PRODUCT: "2019-05-06",
}

#: Parameters an operation reads from the form body; every other one is read from the query.
#: As the official SDKs place them: alibabacloud-webplus20190320
#: ``restart_app_env_with_options`` puts EnvId and the batch settings in ``body`` (form) and
#: RegionId in ``query``; aliyun-python-sdk-webplus ``RestartAppEnvRequest.set_EnvId`` calls
#: ``add_body_params``. ResumeChange puts ChangeId in the form the same way
#: (``resume_change_with_options``, ``ResumeChangeRequest.set_ChangeId``). Every EDAS and SAE
#: operation and the Web+ status calls use query parameters only.
BODY_PARAMS: dict[str, frozenset[str]] = {
    "RestartAppEnv": frozenset(
        {"EnvId", "BatchSize", "BatchPercent", "BatchInterval", "PauseBetweenBatches"}
    ),
    "ResumeChange": frozenset({"ChangeId"}),
}


@dataclass(frozen=True)
class Route:
    """One operation: its product, action name, handler and where it reads parameters."""

    product: str
    action: str
    handler: Handler
    body_params: frozenset[str] = frozenset()

    def params(self, query: dict[str, str], form: dict[str, str]) -> dict[str, str]:
        """Each parameter from its one place: ``body_params`` from the form, others from the query.

        A parameter sent in the other place is not seen, as on the gateway.
        """
        from_query = {k: v for k, v in query.items() if k not in self.body_params}
        from_form = {k: v for k, v in form.items() if k in self.body_params}
        return {**from_query, **from_form}


def _routes(product: str, table: dict[tuple[str, str], tuple[str, Handler]]) -> dict:
    return {
        key: Route(product, action, handler, BODY_PARAMS.get(action, frozenset()))
        for key, (action, handler) in table.items()
    }


#: (method, path) -> Route
ROUTES: dict[tuple[str, str], Route] = {
    **_routes(edas.PRODUCT, edas.ROUTES),
    **_routes(webplus.PRODUCT, webplus.ROUTES),
    **_routes(sae.PRODUCT, sae.ROUTES),
}


def check_route(route: Route | None, req: ReceivedRequest) -> Route:
    """The operation the request names, or the gateway's error.

    Method and path must name an operation (404 ``InvalidAction.NotFound``);
    ``x-acs-version`` is required (400 ``MissingParameter``) and must be the product's API
    version (400 ``InvalidVersion``); an ``x-acs-action`` naming another operation is 404
    ``InvalidAction.NotFound``. (V3 also requires ``x-acs-action``: see the V3 verifier.)
    """
    if route is None:
        raise api_not_found()
    version = req.header("x-acs-version")
    if version is None or version.strip() == "":
        raise missing_parameter("Version")
    if version != API_VERSIONS[route.product]:
        raise invalid_version()
    action = req.header("x-acs-action")
    if action is not None and action != route.action:
        raise api_not_found()
    return route


def product_for_path(path: str) -> str | None:
    """Which product a path belongs to, by prefix."""
    if path.startswith("/pop/v5/"):
        return edas.PRODUCT
    if path.startswith("/pop/v1/wam/"):
        return webplus.PRODUCT
    if path.startswith("/pop/v1/sam/"):
        return sae.PRODUCT
    return None


@dataclass
class Reply:
    """An answer to send, or ``drop=True`` to close the connection without answering.

    ``drip`` sends it byte by byte; ``close`` closes the connection after it (a held restart,
    whose client has most likely gone). ``text`` (with ``content_type``) is sent as is instead
    of ``body`` as JSON (the metadata service answers plain text).
    """

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False
    drip: Drip | None = None
    close: bool = False
    text: str | None = None
    content_type: str = "application/json;charset=utf-8"


def parse_form(content_type: str | None, body: bytes) -> dict[str, str]:
    """Decode an ``application/x-www-form-urlencoded`` body; any other body has no form.

    The official SDKs send body parameters only as a form (tea ``do_roarequest_with_form``,
    aliyun-python-sdk-core ``add_body_params``), so a JSON body carries no parameter.
    """
    if not body:
        return {}
    ctype = (content_type or "").split(";", 1)[0].strip().lower()
    if ctype != "application/x-www-form-urlencoded":
        return {}
    return dict(parse_qsl(body.decode("utf-8", errors="replace"), keep_blank_values=True))


@dataclass
class _ProductCall:
    """One product request on its way through :meth:`Emulator.handle_product`.

    ``entry`` is its journal entry so far; ``routed`` turns true once the route is resolved
    (faults, drip included, apply only then); ``fault`` and ``held`` are what the fault step
    and an apply delay decided; ``body`` and ``code`` are the operation's answer.
    """

    req: ReceivedRequest
    host: str
    request_id: str
    route: Route | None
    product: str | None
    action: str | None
    params: dict[str, str]
    region: str | None
    target: str | None
    entry: dict[str, Any]
    routed: bool = False
    fault: str | None = None
    held: bool = False
    body: dict[str, Any] = field(default_factory=dict)
    code: str | None = None

    @classmethod
    def arrive(cls, req: ReceivedRequest, host: str) -> _ProductCall:
        """The request as it arrives: its route if any, parameters and journal entry."""
        request_id = new_request_id()
        route = ROUTES.get((req.method, req.path))
        product = route.product if route else product_for_path(req.path)
        action = route.action if route else None
        query = req.query_dict()
        form = parse_form(req.header("Content-Type"), req.body)
        params = route.params(query, form) if route else {}
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
        target = params.get("AppId") or params.get("EnvId")
        return cls(req, host, request_id, route, product, action, params, region, target, entry)


class Emulator:
    """Everything the HTTP layer needs, independent of sockets (easy to test directly)."""

    def __init__(
        self,
        world: World,
        faults: FaultInjector | None = None,
        journal: Journal | None = None,
        clock: Callable[[], float] | Clock = time.time,
        verbose: bool = False,
    ) -> None:
        self.world = world
        self.faults = faults or FaultInjector()
        self.journal = journal or Journal()
        self.clock = as_clock(clock)
        self.verbose = verbose
        self.verifier = SignatureVerifier(world.key_record, clock=self.clock)
        self.imds_tokens = imds.MetadataTokens()
        self.admin = AdminApi(
            world, self.faults, self.journal, clock=self.clock, on_reset=self.imds_tokens.clear
        )

    def handle_sts(self, req: ReceivedRequest, host: str) -> Reply:
        """Answer one STS request: route -> fault -> verify (not for OIDC) -> run -> journal.

        Faults apply only when the configuration's ``actions`` names the STS action.
        """
        request_id = new_request_id()
        query = req.query_dict()
        form = parse_form(req.header("Content-Type"), req.body)
        params = {**form, **query}
        scheme = FLAVOUR_V3 if V3Verifier.claims(req) else None
        if scheme is None and RpcVerifier.claims(params):
            scheme = FLAVOUR_RPC
        claimed_key = (
            SignatureVerifier.claimed_access_key_id(req)
            if scheme == FLAVOUR_V3
            else params.get("AccessKeyId")
        )
        entry: dict[str, Any] = {
            "time": time.time(),
            "method": req.method,
            "path": req.path,
            "product": sts.PRODUCT,
            "action": params.get("Action") or req.header("x-acs-action"),
            "query": query,
            "form": form,
            "access_key_id": claimed_key,
            "signature": scheme,
            "region": None,
            "request_id": request_id,
            "applied": False,
        }
        call = sts.StsCall(self.world, None, params, self.clock())

        def error_reply(error: ApiError, fault: str | None = None) -> Reply:
            self.journal.record(
                **entry, **call.journal, status=error.http_status, code=error.code, fault=fault
            )
            body = error.body(request_id, host, sts.PRODUCT)
            return Reply(error.http_status, body, {"x-acs-request-id": request_id, **error.headers})

        try:
            action = sts.route(req, params)
        except ApiError as error:
            return error_reply(error)
        actions = self.faults.config.actions
        if actions is not None and action in actions:
            decision = self.faults.before(action, params.get("RoleArn"))
            if decision.sleep_s:
                time.sleep(decision.sleep_s)
            if decision.drop:
                self.journal.record(**entry, status=None, code=None, fault=decision.fault)
                return Reply(drop=True)
            if decision.error is not None:
                return error_reply(decision.error, decision.fault)
        try:
            if action not in sts.ANONYMOUS_ACTIONS:
                if scheme == FLAVOUR_V3:
                    call.caller = self.verifier.verify(req, sts.PRODUCT)
                elif scheme == FLAVOUR_RPC:
                    call.caller = self.verifier.verify_rpc(req, params)
                elif req.header("Authorization") is not None:
                    call.caller = self.verifier.verify(req, sts.PRODUCT)  # refuses the scheme
                else:
                    raise incomplete_signature(
                        "The request is not signed: no Authorization header and no Signature."
                    )
            body = sts.HANDLERS[action](call)
        except ApiError as error:
            return error_reply(error)
        except Exception:  # noqa: BLE001 - the emulator must answer, not crash
            traceback.print_exc(file=sys.stderr)
            return error_reply(
                ApiError(500, "InternalError", "STS Server Internal Error happened.")
            )
        self.world.save()
        entry["applied"] = True
        self.journal.record(**entry, **call.journal, status=200, code=None, fault=None)
        return Reply(200, {"RequestId": request_id, **body}, {"x-acs-request-id": request_id})

    def handle_imds(self, req: ReceivedRequest) -> Reply:
        """Answer one instance-metadata request (never faulted, always journaled)."""
        arrived = time.time()
        answer = imds.handle(self.world, self.imds_tokens, req, self.clock())
        self.journal.record(
            time=arrived,
            method=req.method,
            path=req.path,
            product=imds.PRODUCT,
            action=answer.action,
            status=answer.status,
            code=answer.code,
            role_arn=answer.role_arn,
            role_session_name=None,
            issued_access_key_id=answer.issued_access_key_id,
            applied=answer.issued_access_key_id is not None,
            request_id=None,
        )
        return Reply(answer.status, text=answer.body, content_type=answer.content_type)

    def handle_product(self, req: ReceivedRequest, host: str) -> Reply:
        """Answer one product API request: route -> fault -> verify (+ run) -> journal.

        Each step answers (and journals) the request itself or returns ``None`` to go on.
        """
        call = _ProductCall.arrive(req, host)
        for step in (self._route, self._fault, self._verify_and_run):
            reply = step(call)
            if reply is not None:
                return reply
        return self._journal(call)

    def _route(self, call: _ProductCall) -> Reply | None:
        """1. Method, path, version and action name an operation, or the gateway's error."""
        try:
            call.route = check_route(call.route, call.req)
        except ApiError as error:
            return self._error_reply(call, error)
        call.routed = True
        return None

    def _fault(self, call: _ProductCall) -> Reply | None:
        """2. The injected faults that answer before processing (latency is only slept)."""
        decision = self.faults.before(call.action, call.target)
        if decision.sleep_s:
            time.sleep(decision.sleep_s)
        if decision.drop:
            self.journal.record(**call.entry, status=None, code=None, fault=decision.fault)
            return Reply(drop=True)
        if decision.error is not None:
            return self._error_reply(call, decision.error, decision.fault)
        call.fault = decision.fault  # None, or status_latency (already slept)
        return None

    def _verify_and_run(self, call: _ProductCall) -> Reply | None:
        """3. Verify the signature, hold an accepted restart if asked, run the operation."""
        assert call.route is not None  # resolved by _route
        try:
            caller = self.verifier.verify(call.req, call.route.product)
            hold_s = 0.0 if call.fault else self.faults.apply_delay(call.action, call.target)
            if hold_s:
                # Accepted but not applied yet: nothing is sent and no lock is held meanwhile.
                call.fault, call.held = APPLY_DELAY, True
                time.sleep(hold_s)
            ctx = CallContext(
                world=self.world,
                faults=self.faults,
                caller=caller,
                params=call.params,
                region=call.region,
                now=self.clock(),
            )
            call.body = call.route.handler(ctx)
            call.entry["result_id"] = ctx.result_id
            call.entry["applied"] = ctx.result_id is not None
        except ApiError as error:
            return self._error_reply(call, error, call.fault, close=call.held)
        except EdasBusinessError as error:
            call.body, call.code = error.body(call.request_id), str(error.code)
        except Exception:  # noqa: BLE001 - the emulator must answer, not crash
            traceback.print_exc(file=sys.stderr)
            error = ApiError(500, "InternalError", "The emulator failed to process the request.")
            return self._error_reply(call, error, call.fault, close=call.held)
        return None

    def _journal(self, call: _ProductCall) -> Reply:
        """4. Journal the operation's answer and send it, or drop the connection after it."""
        body = {"RequestId": call.request_id, **call.body}
        if call.fault is None and self.faults.drop_after(call.action, call.target):
            self.journal.record(**call.entry, status=200, code=call.code, fault=DROP_AFTER)
            return Reply(drop=True)
        return self._answer(call, 200, body, call.code, call.fault, close=call.held)

    def _error_reply(
        self, call: _ProductCall, error: ApiError, fault: str | None = None, close: bool = False
    ) -> Reply:
        """Journal and answer ``error`` in the gateway's error body."""
        body = error.body(call.request_id, call.host, call.product)
        return self._answer(call, error.http_status, body, error.code, fault, error.headers, close)

    def _answer(
        self,
        call: _ProductCall,
        status: int,
        body: Any,
        code: str | None,
        fault: str | None,
        headers: dict[str, str] | None = None,
        close: bool = False,
    ) -> Reply:
        """Journal one answer and build its reply, dripped if a drip fault fires."""
        drip = None
        if fault is None and call.routed:
            drip = self.faults.drip(call.action, call.target)
            fault = DRIP if drip else None
        self.journal.record(**call.entry, status=status, code=code, fault=fault)
        headers = {"x-acs-request-id": call.request_id, **(headers or {})}
        return Reply(status, body, headers, drip=drip, close=close)


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
        target = self.path
        if target.startswith(("http://", "https://")):
            # The absolute form a client sends to a proxy (RFC 9112 3.2.2): how a client that
            # hard-codes the metadata address (100.100.100.200) is pointed here.
            parts = urlsplit(target)
            target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        raw_path, _, raw_query = target.partition("?")
        req = ReceivedRequest(
            method=self.command,
            path=raw_path,
            query=tuple(parse_qsl(raw_query, keep_blank_values=True)),
            headers=tuple(self.headers.items()),
            body=body,
        )
        if raw_path.startswith(imds.PREFIX):
            self._send(emulator.handle_imds(req))
            return
        if self.server.imds_only:
            self._send(Reply(404, text="NotFound: no such metadata\n", content_type="text/plain"))
            return
        if raw_path.startswith(ADMIN_PREFIX) or raw_path + "/" == ADMIN_PREFIX:
            result = emulator.admin.handle(self.command, raw_path, raw_query, body)
            self._send(Reply(result.status, result.body))
            return
        if raw_path == "/":
            self._send(emulator.handle_sts(req, self.headers.get("Host") or ""))
            return
        reply = emulator.handle_product(req, self.headers.get("Host") or "")
        self._send(reply)

    def handle(self) -> None:
        # A client that hangs up (a timed-out client, a drip it gave up on, a TLS peer that
        # closes without close_notify) is no error here.
        try:
            super().handle()
        except (ConnectionError, ssl.SSLError):
            self.close_connection = True

    def _head(self, reply: Reply, length: int) -> bytes:
        """Status line and headers, as ``send_response``/``send_header`` would write them."""
        self.log_request(reply.status)
        phrase = self.responses.get(reply.status, ("",))[0]
        lines = [
            f"{self.protocol_version} {reply.status} {phrase}",
            f"Server: {self.version_string()}",
            f"Date: {self.date_time_string()}",
            f"Content-Type: {reply.content_type}",
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
        if reply.text is not None:
            payload = reply.text.encode("utf-8")
        else:
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


#: How long a TLS client may take over its handshake before the connection is dropped.
TLS_HANDSHAKE_TIMEOUT_S = 15.0


class EmulatorServer(ThreadingHTTPServer):
    """A threading HTTP(S) server bound to one :class:`Emulator`.

    With ``ssl_context`` it speaks HTTPS; with ``imds_only`` it serves only the metadata
    service (``/latest/``), as the extra plain-HTTP listener of ``--imds-port``.
    """

    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self,
        address: tuple[str, int],
        emulator: Emulator,
        ssl_context: ssl.SSLContext | None = None,
        imds_only: bool = False,
    ) -> None:
        self.emulator = emulator
        self.ssl_context = ssl_context
        self.imds_only = imds_only
        super().__init__(address, _RequestHandler)

    def finish_request(self, request: Any, client_address: Any) -> None:
        """Wrap the connection in TLS (on this request's thread), then handle it."""
        if self.ssl_context is None:
            super().finish_request(request, client_address)
            return
        try:
            request.settimeout(TLS_HANDSHAKE_TIMEOUT_S)
            tls = self.ssl_context.wrap_socket(request, server_side=True)
            tls.settimeout(None)
        except (ssl.SSLError, OSError):
            return  # a failed handshake (an untrusting client) is the client's business
        try:
            self.RequestHandlerClass(tls, client_address, self)
        finally:
            try:
                tls.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            tls.close()

    @property
    def base_url(self) -> str:
        """``http://HOST:PORT`` (``https://`` with TLS) of the bound socket."""
        host, port = self.server_address[:2]
        scheme = "https" if self.ssl_context is not None else "http"
        return f"{scheme}://{host}:{port}"

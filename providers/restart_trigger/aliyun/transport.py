"""One signed attempt: ``Transport.send`` sends one request and returns its JSON body or raises.

What lives here (and nowhere else):

* the headers every call carries (``x-acs-action``, ``x-acs-version``, ``accept:
  application/json``, ``accept-encoding: identity``, the user agent), where the region goes
  (``REGION_IN_QUERY``) and the form body encoding;
* which signer signs: the one given for the operation's product (the client's ``SIGNERS``);
* **the attempt's time limit**: an attempt lasts at most ``connect + read`` seconds of the
  configured ``timeout`` (35 s by default) and never past the caller's ``Deadline``, in all:
  connecting, sending, waiting for the status line and headers, and reading every byte of
  the body. No attempt starts once the deadline has passed (``DeadlineExceeded``,
  ``sent=False``). An attempt cut at the deadline is ``DeadlineExceeded`` (``sent=True`` once
  the connection was up); one cut at its own limit is a ``TransportError`` ``NoResponse``;
* **how the limit is kept**: the body is streamed and read piece by piece (``read1``), each
  read checking the limit; for the phases before the body (and a body that drips), one
  daemon *watchdog* thread holds a heap of (time limit, attempt) and shuts down the socket of
  an attempt still running at its limit, which wakes whatever read or write blocks on it.
  Each read also keeps urllib3's per-read timeout (``connect``/``read``, capped by the limit);
* **bounded connections**: at most ``max_connections`` attempts run at once per host (a
  semaphore whose wait counts against the limit), and ``new_session`` pools that many
  sockets per host (``pool_block=True``);
* **loopback stays loopback**: an ``http://localhost`` endpoint is connected to as
  ``127.0.0.1`` (no resolver or hosts file can send it elsewhere; the ``host`` header, which
  the V3 signature signs, is then ``127.0.0.1:port``), and loopback endpoints never go
  through a proxy from the environment;
* ``request_was_not_sent``: the rule urllib3/requests apply to retries (never resend what may
  have reached the server), which turns a ``requests`` failure into ``TransportError`` with
  ``sent`` set;
* reading the answer: HTTP >= 300 is an error built from its body, a body that is not a JSON
  object is ``InvalidResponseError``, an EDAS body ``Code`` other than 200, a Web+ body
  ``Code`` other than ``OK`` and an SAE body ``Code`` other than 200 or ``Success`` false
  (``SUCCESS_FLAG``) are errors although the HTTP status is 200.

**What is reached in urllib3/requests** (the watchdog must find the socket before a response
exists): ``DeadlineAdapter`` (a ``requests.adapters.HTTPAdapter``) replaces its pool
manager's ``pool_classes_by_scheme`` with subclasses of the same pools whose
``ConnectionCls`` is a subclass of the pool's own connection class, overriding ``connect()``
and ``request()`` to tell the watchdog which connection (``conn.sock``) the current attempt
uses. Every step is guarded (``install_watchdog``): when an attribute is missing or not the
expected kind, nothing is replaced and attempts fall back to per-read timeouts plus the
body's read loop; so does a session not made by ``new_session`` (tests' fake adapters).
``read1`` on ``response.raw`` (urllib3 >= 2) falls back to small ``read`` calls.

Retries, backoff and lost-answer recovery are the caller's (``client``, ``recovery``).
"""

from __future__ import annotations

import heapq
import http.client
import itertools
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import requests
import requests.adapters
import urllib3.connection
import urllib3.exceptions

from ..backoff import Deadline
from ..validation import logger
from .endpoints import is_loopback_host
from .errors import (
    AliyunError,
    DeadlineExceeded,
    TransportError,
    business_error_from_body,
    json_answer,
    scrub,
)

log = logger(__name__)

DEFAULT_TIMEOUT: tuple[float, float] = (5.0, 30.0)
"""(connect, read) timeout in seconds of each HTTP attempt; their sum (35 s) bounds the whole
attempt, and the caller's deadline bounds all three."""

DEFAULT_MAX_CONNECTIONS = 16
"""Attempts in flight (and pooled sockets) per host, shared by every thread of a client."""

_READ_SIZE = 65536
_FALLBACK_READ_SIZE = 1024


REGION_IN_QUERY = frozenset({"webplus"})
"""Products whose calls carry the region as the ``RegionId`` query parameter: every Web+
operation has one in its SDK (``request.region_id``, sent in the query, a POST's too), and no
Web+ SDK sends ``x-acs-region-id``; one Web+ endpoint serves several regions, so it is always
sent. The other products' calls carry the ``x-acs-region-id`` header."""


SUCCESS_FLAG = frozenset({"sae"})
"""Products whose bodies carry ``Success`` (alibabacloud-sae20190506's response models:
``Code``, ``Success``, ``ErrorCode``, ``Message``, ``TraceId``): a 200 whose ``Success`` is
false is a refusal even when its ``Code`` reads 200."""


@dataclass(frozen=True)
class Operation:
    """One API operation: product, action name, HTTP method, ROA path and API version."""

    product: str
    action: str
    method: str
    path: str
    version: str


# --- was the request sent? ------------------------------------------------------------------

_NOT_SENT_CAUSES = (
    urllib3.exceptions.NewConnectionError,
    urllib3.exceptions.ConnectTimeoutError,
    urllib3.exceptions.NameResolutionError,
    ConnectionRefusedError,
    socket.gaierror,
    ssl.SSLCertVerificationError,
)


def _causes(exc: BaseException) -> Iterable[BaseException]:
    seen: set[int] = set()
    stack = [exc]
    while stack:
        current = stack.pop()
        if id(current) in seen or len(seen) > 20:
            continue
        seen.add(id(current))
        yield current
        for arg in getattr(current, "args", ()):
            if isinstance(arg, BaseException):
                stack.append(arg)
        for attr in ("reason", "__cause__", "__context__"):
            nested = getattr(current, attr, None)
            if isinstance(nested, BaseException):
                stack.append(nested)


def request_was_not_sent(exc: requests.RequestException) -> bool:
    """True when ``exc`` proves the request never reached the server.

    Connect timeouts, refused connections, DNS failures and certificate verification failures
    happen before any request byte is written. Anything else (read timeout, reset or closed
    connection, other TLS errors) may have happened after the server received the request.
    """
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    if isinstance(exc, requests.exceptions.ConnectionError):
        return any(isinstance(cause, _NOT_SENT_CAUSES) for cause in _causes(exc))
    return False


_TRANSPORT_ERRORS = (
    requests.exceptions.ConnectionError,
    requests.exceptions.Timeout,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
)
"""Failures of the connection itself; any other ``requests`` error is a bug and propagates."""


# --- the watchdog ---------------------------------------------------------------------------


class _Attempt:
    """One HTTP attempt: when it must end, and which connection it uses (for the watchdog).

    ``attached``/``connected`` are written by the attempt's own thread: attached once the
    watchdog knows its connection, connected once that connection's socket is up (before
    that, nothing can have been sent). ``aborted``/``done`` are written under the watchdog's
    lock.
    """

    __slots__ = ("ends_at", "conn", "attached", "connected", "aborted", "done")

    def __init__(self, ends_at: float) -> None:
        self.ends_at = ends_at
        self.conn: Any = None
        self.attached = False
        self.connected = False
        self.aborted = False
        self.done = False

    def time_up(self) -> bool:
        return self.aborted or time.monotonic() >= self.ends_at

    def may_have_sent(self) -> bool:
        """False only when the watchdog saw the connection and it never came up."""
        return not self.attached or self.connected


_OWNER = "_restart_trigger_attempt"
_SHUT = "_restart_trigger_shut"


class _Watchdog:
    """One daemon thread shutting down the sockets of attempts still running at their limit."""

    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._heap: list[tuple[float, int, _Attempt]] = []
        self._seq = itertools.count()
        self._thread: threading.Thread | None = None

    def arm(self, attempt: _Attempt) -> None:
        with self._lock:
            heapq.heappush(self._heap, (attempt.ends_at, next(self._seq), attempt))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="restart-trigger-watchdog", daemon=True
                )
                self._thread.start()
            self._lock.notify()

    def disarm(self, attempt: _Attempt) -> None:
        with self._lock:
            attempt.done = True

    def attach(self, attempt: _Attempt, conn: Any) -> bool:
        """``attempt`` now uses ``conn``. True when an earlier attempt's abort shut ``conn``'s
        socket after it went back to the pool (the caller must reopen it)."""
        with self._lock:
            stale = bool(getattr(conn, _SHUT, False))
            setattr(conn, _SHUT, False)
            setattr(conn, _OWNER, attempt)
            attempt.conn = conn
            attempt.attached = True
            if attempt.aborted:
                self._shut(attempt)
            return stale

    def connected(self, attempt: _Attempt) -> None:
        with self._lock:
            attempt.connected = True
            if attempt.aborted:
                self._shut(attempt)

    def _run(self) -> None:
        while True:
            with self._lock:
                while self._heap and self._heap[0][2].done:
                    heapq.heappop(self._heap)
                if not self._heap:
                    self._lock.wait()
                    continue
                wait = self._heap[0][0] - time.monotonic()
                if wait > 0:
                    self._lock.wait(wait)
                    continue
                _, _, attempt = heapq.heappop(self._heap)
                attempt.aborted = True
                self._shut(attempt)

    @staticmethod
    def _shut(attempt: _Attempt) -> None:
        """Shut the socket of ``attempt``'s connection if the connection is still its own."""
        conn = attempt.conn
        if conn is None or getattr(conn, _OWNER, None) is not attempt:
            return
        sock = getattr(conn, "sock", None)
        if sock is None:
            return
        setattr(conn, _SHUT, True)
        try:
            if isinstance(sock, socket.socket):
                # The plain socket's shutdown: an SSLSocket's own drops its TLS object,
                # which the reading thread may be using.
                socket.socket.shutdown(sock, socket.SHUT_RDWR)
            else:
                sock.shutdown(socket.SHUT_RDWR)
        except Exception as exc:  # noqa: BLE001 - best effort; the per-read timeout remains
            log.debug("watchdog could not shut a socket: %r", exc)


_WATCHDOG = _Watchdog()
_local = threading.local()


def _current_attempt() -> _Attempt | None:
    return getattr(_local, "attempt", None)


@contextmanager
def _watching(attempt: _Attempt) -> Iterator[None]:
    """Make ``attempt`` the current thread's and arm the watchdog for it."""
    _local.attempt = attempt
    _WATCHDOG.arm(attempt)
    try:
        yield
    finally:
        _WATCHDOG.disarm(attempt)
        _local.attempt = None


class _WatchedConnection:
    """Mixed into a pool's own connection class: tells the watchdog which connection the
    current attempt uses, when it starts connecting and when it is up."""

    def connect(self) -> None:
        attempt = _current_attempt()
        if attempt is not None:
            _WATCHDOG.attach(attempt, self)
        super().connect()  # type: ignore[misc]
        if attempt is not None:
            _WATCHDOG.connected(attempt)

    def request(self, *args: Any, **kwargs: Any) -> Any:
        attempt = _current_attempt()
        if attempt is not None:
            if _WATCHDOG.attach(attempt, self):
                self.close()  # type: ignore[attr-defined]  # reopened by connect()
            if getattr(self, "sock", None) is not None:
                _WATCHDOG.connected(attempt)
        return super().request(*args, **kwargs)  # type: ignore[misc]


_watched_pools: dict[type, type] = {}
_watched_lock = threading.Lock()


def _watched_pool(pool_cls: Any) -> type | None:
    """The subclass of ``pool_cls`` whose connections tell the watchdog, or None if
    ``pool_cls`` does not look like a urllib3 pool with a ``ConnectionCls``."""
    conn_cls = getattr(pool_cls, "ConnectionCls", None)
    if not (isinstance(pool_cls, type) and isinstance(conn_cls, type)):
        return None
    if issubclass(conn_cls, _WatchedConnection):
        return pool_cls
    if conn_cls is getattr(urllib3.connection, "DummyConnection", None):
        return None
    if not all(callable(getattr(conn_cls, name, None)) for name in ("connect", "request", "close")):
        return None
    with _watched_lock:
        watched = _watched_pools.get(pool_cls)
        if watched is None:
            conn = type(f"Watched{conn_cls.__name__}", (_WatchedConnection, conn_cls), {})
            watched = type(f"Watched{pool_cls.__name__}", (pool_cls,), {"ConnectionCls": conn})
            _watched_pools[pool_cls] = watched
        return watched


def install_watchdog(manager: Any) -> bool:
    """Make the pools ``manager`` (a urllib3 ``PoolManager``) creates from now on tell the
    watchdog about their connections. Returns whether both http and https are watched; when
    urllib3 does not look as expected, changes nothing (or only the scheme that does) and
    attempts keep per-read timeouts."""
    classes = getattr(manager, "pool_classes_by_scheme", None)
    if not isinstance(classes, Mapping):
        log.debug("no pool_classes_by_scheme on %r; per-read timeouts only", manager)
        return False
    replaced = dict(classes)
    watched = 0
    for scheme in ("http", "https"):
        pool = _watched_pool(classes.get(scheme))
        if pool is None:
            log.debug("cannot watch %s pools of %r; per-read timeouts only", scheme, manager)
            continue
        replaced[scheme] = pool
        watched += 1
    try:
        manager.pool_classes_by_scheme = replaced
    except (AttributeError, TypeError):
        return False
    return watched == 2


class DeadlineAdapter(requests.adapters.HTTPAdapter):
    """An ``HTTPAdapter`` whose connections the watchdog can abort (see the module doc)."""

    watched = False

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.watched = install_watchdog(self.poolmanager)

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        install_watchdog(manager)
        return manager


def new_session(max_connections: int = DEFAULT_MAX_CONNECTIONS) -> requests.Session:
    """A ``requests.Session`` with a ``DeadlineAdapter`` for http and https, pooling at most
    ``max_connections`` sockets per host (``pool_block=True``: more threads wait their turn)."""
    _check_max_connections(max_connections)
    session = requests.Session()
    for prefix in ("https://", "http://"):
        session.mount(
            prefix,
            DeadlineAdapter(pool_maxsize=max_connections, pool_block=True),
        )
    return session


def _check_max_connections(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"max_connections must be a positive integer, got {value!r}")
    return value


# --- endpoints as connected to --------------------------------------------------------------


def connect_url(endpoint: str) -> str:
    """The URL actually connected to for ``endpoint``: ``localhost`` becomes ``127.0.0.1``."""
    parts = urlsplit(endpoint)
    if (parts.hostname or "").lower() != "localhost":
        return endpoint
    netloc = "127.0.0.1" if parts.port is None else f"127.0.0.1:{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


_NO_PROXY: dict[str, None] = {"http": None, "https": None, "all": None}
"""``proxies`` for loopback endpoints: requests drops these keys, the environment's too."""


# --- the transport --------------------------------------------------------------------------


class _TimeUp(Exception):
    """The attempt's limit came while its body was being read."""


_BODY_ERRORS = (
    urllib3.exceptions.HTTPError,
    http.client.HTTPException,
    requests.exceptions.RequestException,
    OSError,
    _TimeUp,
)
"""Failures while reading a body (from ``response.raw``: urllib3's, not requests' types)."""


class Transport:
    """Sends one signed request per ``send`` call.

    Args:
        session: the ``requests.Session`` to send with (its owner closes it); one from
            ``new_session`` lets the watchdog bound the phases before the body too.
        signers: ``{product: requests.auth.AuthBase}``, the signer of each product's
            requests (``AcsV3Auth``, ``AcsRoaSha1Auth``); it runs once per attempt, so each
            attempt gets a fresh date and nonce.
        endpoints: ``{product: "scheme://host[:port]"}`` for every product an operation names.
        region: sent as ``RegionId`` (``REGION_IN_QUERY`` products) or ``x-acs-region-id``.
        user_agent: the ``user-agent`` header.
        secrets: values scrubbed from every error message (the AccessKey secret, the token),
            or a callable giving them (a credentials provider's change as it renews them).
        timeout: ``(connect, read)`` seconds: each is urllib3's per-phase timeout, and their
            sum bounds the whole attempt; the deadline caps all three.
        max_connections: attempts in flight at once per host.
    """

    def __init__(
        self,
        *,
        session: requests.Session,
        signers: Mapping[str, requests.auth.AuthBase],
        endpoints: Mapping[str, str],
        region: str,
        user_agent: str,
        secrets: Iterable[str] | Callable[[], Iterable[str]] = (),
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
    ) -> None:
        self.session = session
        self.signers = dict(signers)
        self.endpoints = dict(endpoints)
        unsigned = sorted(set(self.endpoints) - set(self.signers))
        if unsigned:
            raise ValueError(f"no signer for {', '.join(unsigned)}")
        self.region = region
        self.user_agent = user_agent
        self._secrets = secrets if callable(secrets) else tuple(secrets)
        self.timeout = timeout
        self.max_connections = _check_max_connections(max_connections)
        self._connect = {product: connect_url(url) for product, url in self.endpoints.items()}
        self._proxies = {
            product: _NO_PROXY if is_loopback_host(urlsplit(url).hostname or "") else None
            for product, url in self._connect.items()
        }
        self._slots = {
            url: threading.BoundedSemaphore(self.max_connections)
            for url in set(self._connect.values())
        }

    @property
    def secrets(self) -> tuple[str, ...]:
        """The values scrubbed from error texts, as of now."""
        found = self._secrets() if callable(self._secrets) else self._secrets
        return tuple(found)

    def __repr__(self) -> str:
        return f"Transport(region={self.region!r}, endpoints={self.endpoints!r})"

    def _prepare_credentials(self, op: Operation, deadline: Deadline) -> None:
        """Let the operation's signer renew its credentials, if due, before the attempt: a
        refresh is bounded by ``deadline`` and its failure (``CredentialsUnavailable``, an
        ``AuthError``: nothing was sent) names the operation."""
        prepare = getattr(self.signers[op.product], "prepare", None)
        if not callable(prepare):
            return
        try:
            prepare(deadline)
        except AliyunError as err:
            if err.operation is None:
                err.operation = op.action
            raise

    def send(
        self,
        op: Operation,
        query: Mapping[str, str],
        form: Mapping[str, str] | None = None,
        *,
        deadline: Deadline,
    ) -> dict:
        """Send ``op`` once and return its JSON body, or raise an ``AliyunError`` subclass.

        ``query`` goes in the URL, ``form`` (if any) in an url-encoded body. Raises
        ``DeadlineExceeded`` without sending when ``deadline`` has already passed, and when
        the attempt is cut at the deadline (see the module doc).
        """
        self._limit(op, deadline)  # nothing starts once the deadline has passed
        self._prepare_credentials(op, deadline)
        headers = {
            "x-acs-action": op.action,
            "x-acs-version": op.version,
            "accept": "application/json",
            "accept-encoding": "identity",
            "user-agent": self.user_agent,
        }
        if op.product in REGION_IN_QUERY:
            query = {"RegionId": self.region, **query}
        else:
            headers["x-acs-region-id"] = self.region
        body = None
        if form:
            body = urlencode(sorted(form.items())).encode("utf-8")
            headers["content-type"] = "application/x-www-form-urlencoded"
        base = self._connect[op.product]
        slot = self._slots[base]
        if not slot.acquire(timeout=deadline.remaining()):
            raise DeadlineExceeded(
                f"the deadline of {deadline.seconds:g}s passed while {op.action} waited for one "
                f"of the {self.max_connections} connections to {op.product}; nothing was sent",
                operation=op.action,
            )
        try:
            limit, by_deadline = self._limit(op, deadline)
            attempt = _Attempt(time.monotonic() + limit)
            with _watching(attempt):
                status, reason, response_headers, content = self._exchange(
                    op, base + op.path, query, body, headers, attempt, limit, by_deadline, deadline
                )
        finally:
            slot.release()
        return self._parse(op, status, reason, response_headers, content)

    def _limit(self, op: Operation, deadline: Deadline) -> tuple[float, bool]:
        """The attempt's time limit (its own, or the time left) and whether the deadline set
        it; raises ``DeadlineExceeded`` (nothing sent) when no time is left."""
        remaining = deadline.remaining()
        if remaining <= 0:
            raise DeadlineExceeded(
                f"the deadline of {deadline.seconds:g}s passed before {op.action} could be "
                "sent; nothing was sent",
                operation=op.action,
            )
        own = sum(self.timeout)
        return (remaining, True) if remaining <= own else (own, False)

    def _exchange(
        self,
        op: Operation,
        url: str,
        query: Mapping[str, str],
        body: bytes | None,
        headers: Mapping[str, str],
        attempt: _Attempt,
        limit: float,
        by_deadline: bool,
        deadline: Deadline,
    ) -> tuple[int, str, Mapping[str, str], bytes]:
        connect, read = self.timeout
        try:
            response = self.session.request(
                op.method,
                url,
                params=sorted(query.items()) or None,
                data=body,
                headers=dict(headers),
                auth=self.signers[op.product],
                timeout=(min(connect, limit), min(read, limit)),
                allow_redirects=False,
                stream=True,
                proxies=self._proxies[op.product],
            )
        except _TRANSPORT_ERRORS as exc:
            raise self._lost(op, exc, attempt, limit, by_deadline, deadline) from None
        try:
            content, complete = _read_body(response, attempt)
        except _BODY_ERRORS as exc:
            raise self._lost(
                op, exc, attempt, limit, by_deadline, deadline, answered=True
            ) from None
        except ValueError as exc:  # reading a socket the watchdog shut down
            if not attempt.aborted:
                raise
            raise self._lost(
                op, exc, attempt, limit, by_deadline, deadline, answered=True
            ) from None
        finally:
            if response.raw is not None:  # a fake adapter's response has none to close
                response.close()
        _WATCHDOG.disarm(attempt)
        if attempt.aborted and not complete:
            raise self._lost(
                op, _TimeUp(), attempt, limit, by_deadline, deadline, answered=True
            ) from None
        return response.status_code, response.reason or "", response.headers, content

    def _lost(
        self,
        op: Operation,
        exc: BaseException,
        attempt: _Attempt,
        limit: float,
        by_deadline: bool,
        deadline: Deadline,
        *,
        answered: bool = False,
    ) -> TransportError:
        """The ``TransportError`` for an attempt that ended without a usable answer."""
        detail = scrub(f"{type(exc).__name__}: {exc}", self.secrets)
        not_sent = not answered and (
            (isinstance(exc, requests.RequestException) and request_was_not_sent(exc))
            or not attempt.may_have_sent()
        )
        if not attempt.time_up():
            return TransportError(
                "ConnectionNotEstablished" if not_sent else "NoResponse",
                detail,
                sent=not not_sent,
                operation=op.action,
            )
        if not_sent:
            what = "before the connection was up; nothing was sent"
        elif answered:
            what = "while its answer was being read; the request was received"
        else:
            what = "before its answer came; the request may have been received"
        if by_deadline:
            return DeadlineExceeded(
                f"the deadline of {deadline.seconds:g}s passed during {op.action}, {what} "
                f"({detail})",
                operation=op.action,
                sent=not not_sent,
            )
        return TransportError(
            "ConnectionNotEstablished" if not_sent else "NoResponse",
            f"{op.action} had no complete answer within its {limit:g}s, {what} ({detail})",
            sent=not not_sent,
            operation=op.action,
        )

    def _parse(
        self,
        op: Operation,
        status: int,
        reason: str,
        headers: Mapping[str, str],
        content: bytes,
    ) -> dict:
        header_request_id = headers.get("x-acs-request-id")
        log.debug(
            "%s %s -> HTTP %s (request id %s)", op.product, op.action, status, header_request_id
        )
        data = json_answer(
            status, reason, headers, content, operation=op.action, secrets=self.secrets
        )
        code = data.get("Code", data.get("code"))
        failed = op.product in SUCCESS_FLAG and data.get("Success", data.get("success")) is False
        if code is not None:
            text = str(code).strip()
            ok = text == "200" if op.product == "edas" else text.upper() in ("OK", "200")
            failed = failed or not ok
        if failed:
            raise business_error_from_body(status, data, operation=op.action, secrets=self.secrets)
        return data


def _read_body(response: requests.Response, attempt: _Attempt) -> tuple[bytes, bool]:
    """Read the whole body, checking the attempt's limit before each read.

    Returns the body and whether it is known complete (it ended cleanly and was framed by a
    ``content-length`` or chunked encoding, so a socket shut at the limit could not have
    passed for its end). A response without a readable ``raw`` (a fake adapter's) gives its
    ``content``.
    """
    raw = response.raw
    if raw is None or not callable(getattr(raw, "read", None)):
        return response.content or b"", True
    read1 = getattr(raw, "read1", None)
    chunks: list[bytes] = []
    while True:
        if attempt.time_up():
            raise _TimeUp("the attempt's time limit came while the body was being read")
        chunk = read1(_READ_SIZE) if callable(read1) else raw.read(_FALLBACK_READ_SIZE)
        if not chunk:
            break
        chunks.append(chunk)
    framed = "content-length" in response.headers or "chunked" in (
        response.headers.get("transfer-encoding", "").lower()
    )
    return b"".join(chunks), framed

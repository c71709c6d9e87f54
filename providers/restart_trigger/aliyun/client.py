"""``AliyunClient``: signed calls under one deadline, generic over the kinds of target.

It knows products (their endpoints and signers: ``SIGNERS``) and how a call is made, not what
any operation means: each kind of target (``restart_trigger.targets``) holds its operations,
builds their parameters (``params``) and reads their answers, and calls

* ``read(op, query)``: an idempotent operation, retried on throttling, 5xx and transport
  failures with ``read_backoff`` (``READ_BACKOFF`` by default);
* ``request_restart(op, ident, changes, ...)``: a restart, through
  ``recovery.send_until_known`` with ``restart_backoff`` (``RESTART_BACKOFF``): before each
  send, a snapshot of the target's changes (the kind's ``ChangeList``; one read, retried like
  any read; the caller's credentials need that permission too); after a lost answer, only a
  new restart that was not in the snapshot is adopted, and nothing is resent while the
  outcome is unknown;
* ``find_earlier_restart(changes, ident, ...)``: the same lookup for a restart an earlier
  update sent.

The caller's ``deadline`` (the trigger's timeout) bounds every call's retries and waits;
without one, each call gets its own ``Deadline(DEFAULT_CALL_SECONDS)``. Every HTTP attempt is
bounded in all (connect, send, headers, body) by its own limit and the deadline, and at most
``max_connections`` run at once per host (``transport.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import requests

from restart_trigger import __version__

from ..backoff import Backoff, Deadline
from .auth import AcsRoaSha1Auth, AcsV3Auth
from .credential_types import CredentialsSource
from .endpoints import resolve_endpoints, validate_region
from .errors import AliyunError
from .params import id_set, require_id
from .recovery import DEFAULT_SETTLE_WINDOW, ChangeList, RestartResult, send_until_known
from .recovery import find_earlier_restart as recovery_find_earlier_restart
from .retryable import wait_before_retry
from .transport import (
    DEFAULT_MAX_CONNECTIONS,
    DEFAULT_TIMEOUT,
    Operation,
    Transport,
    new_session,
)

__all__ = ["SIGNERS", "AliyunClient", "Operation", "RestartResult"]


SIGNERS: Mapping[str, Callable[[CredentialsSource], requests.auth.AuthBase]] = {
    "edas": AcsV3Auth,
    "webplus": AcsRoaSha1Auth,
    "sae": AcsV3Auth,
}
"""Which signature scheme each product's requests carry, as its current official SDK signs
them: alibabacloud-edas20170801 signs V3 (ACS3-HMAC-SHA256, tea's default);
alibabacloud-webplus20190320 signs every call with ROA HMAC-SHA1 (tea's ``do_roarequest``),
as aliyun-python-sdk-webplus did, and Web+'s documentation names only HMAC-SHA1;
alibabacloud-sae20190506 (2.11.2) sends every operation through ``call_api``, which signs V3
unless its config asks for ``signature_algorithm='v2'`` (the legacy aliyun-python-sdk-sae
signs ROA HMAC-SHA1, as the legacy EDAS SDK does)."""

DEFAULT_CALL_SECONDS = 120.0
"""Deadline of one call (its retries and waits) when the client was given none."""

READ_BACKOFF = Backoff(first=0.5, factor=2.0, cap=20.0, jitter=True, max_attempts=5)
"""Retries of a read: throttling and 5xx are usually over within seconds."""
RESTART_BACKOFF = Backoff(first=0.5, factor=2.0, cap=10.0, jitter=True, max_attempts=10)
"""More patience for restarts: throttling and 5xx mean "not now", and giving up fails the
whole trigger, so its next `up` would restart every target again."""

# --- credentials in error texts ---------------------------------------------------------


def _secrets_of(credentials: CredentialsSource) -> Callable[[], tuple[str, ...]]:
    """Every secret ``credentials`` holds now (a provider's change as it renews them), for
    scrubbing error texts."""
    return lambda: tuple(s for s in credentials.secrets() if s)


class AliyunClient:
    """Client for the operations the target kinds send (EDAS 2017-08-01, Web+ 2019-03-20 and
    SAE 2019-05-06 today).

    Args:
        credentials: a ``CredentialsSource``: ``Credentials``, or a credentials provider
            (``sources``, what ``resolve_settings`` gives for temporary credentials), which
            the signers ask for its current key pair before every attempt.
        region: region id, used to pick default endpoints and sent with every call (Web+:
            the ``RegionId`` query parameter; EDAS, SAE: the ``x-acs-region-id`` header).
        endpoints: per-product overrides ``{"edas": url, "webplus": url, "sae": url}`` (EDAS
            Kubernetes applications are EDAS calls); a bare host means
            https; ``http://`` only for loopback. Default: the SDKs' regional endpoints.
        deadline: the one deadline bounding every call's retries and waits (the trigger's
            timeout). Default: each call gets its own ``Deadline(DEFAULT_CALL_SECONDS)``.
        read_backoff: retries of reads (default ``READ_BACKOFF``: 5 attempts, 0.5 s doubling
            to at most 20 s, jittered).
        restart_backoff: retries of restarts (default ``RESTART_BACKOFF``: 10 attempts, capped
            at 10 s).
        timeout: ``(connect_seconds, read_seconds)`` per attempt (default ``(5, 30)``): the
            per-phase timeouts, whose sum (35 s) bounds each attempt in all (connect, send,
            headers and every body read); all capped by the time left before the deadline.
        session: a ``requests.Session`` to use, as it is (default: ``transport.new_session``,
            owned by the client, whose sockets the deadline watchdog can abort).
        user_agent: extra user-agent text appended to ours (default none).
        auth: ``{product: requests.auth.AuthBase}`` replacing the signer ``SIGNERS`` names for
            those products (default: ``SIGNERS[product](credentials)`` for each); tests inject
            clocks and nonces here.
        settle_window: seconds after a restart send during which a restart whose outcome is
            unknown may still show up (default ``recovery.DEFAULT_SETTLE_WINDOW``, 60: more
            than the 30 s read timeout plus gateway slack); capped by the deadline.
        max_connections: HTTP attempts in flight at once per host, and sockets pooled per host
            by the default session (default 16). Threads sharing the client (the runner's
            ``max_parallel``) beyond that wait their turn, within their deadline.
    """

    def __init__(
        self,
        credentials: CredentialsSource,
        region: str,
        endpoints: Mapping[str, str] | None = None,
        *,
        deadline: Deadline | None = None,
        read_backoff: Backoff | None = None,
        restart_backoff: Backoff | None = None,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
        session: requests.Session | None = None,
        user_agent: str | None = None,
        auth: Mapping[str, requests.auth.AuthBase] | None = None,
        settle_window: float = DEFAULT_SETTLE_WINDOW,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
    ) -> None:
        region = validate_region(region)
        base = f"restart-trigger/{__version__} python-requests/{requests.__version__}"
        if isinstance(settle_window, bool) or not settle_window >= 0:
            raise ValueError(f"settle_window must be a number >= 0, got {settle_window!r}")
        if auth is not None and not isinstance(auth, Mapping):
            raise TypeError("auth must map a product ('edas', 'webplus', 'sae') to its signer")
        signers = {product: make(credentials) for product, make in SIGNERS.items()}
        signers.update(auth or {})
        self._owns_session = session is None
        self._transport = Transport(
            session=session or new_session(max_connections),
            signers=signers,
            endpoints=resolve_endpoints(region, endpoints),
            region=region,
            user_agent=f"{base} {user_agent}" if user_agent else base,
            secrets=_secrets_of(credentials),
            timeout=timeout,
            max_connections=max_connections,
        )
        self._deadline = deadline
        self._read_backoff = read_backoff or READ_BACKOFF
        self._restart_backoff = restart_backoff or RESTART_BACKOFF
        self._settle_window = float(settle_window)

    @property
    def endpoints(self) -> dict[str, str]:
        """``{product: "scheme://host[:port]"}``: where each product's calls go (a copy)."""
        return dict(self._transport.endpoints)

    def __repr__(self) -> str:
        t = self._transport
        return f"AliyunClient(region={t.region!r}, endpoints={t.endpoints!r})"

    def close(self) -> None:
        """Close the HTTP session if the client created it."""
        if self._owns_session:
            self._transport.session.close()

    def __enter__(self) -> AliyunClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- what the target kinds call --------------------------------------------------

    def read(
        self, op: Operation, query: Mapping[str, str], deadline: Deadline | None = None
    ) -> dict:
        """Send an idempotent (read) operation and return its body, retrying per
        ``read_backoff`` within ``deadline`` (default: the client's, else one of
        ``DEFAULT_CALL_SECONDS``)."""
        tries = self._read_backoff.start(deadline or self._call_deadline())
        while True:
            tries.record_attempt()
            try:
                return self._transport.send(op, query, deadline=tries.deadline)
            except AliyunError as err:
                wait_before_retry(tries, err)

    def request_restart(
        self,
        op: Operation,
        ident: str,
        changes: ChangeList,
        *,
        query: Mapping[str, str] | None = None,
        form: Mapping[str, str] | None = None,
        extract: Callable[[Mapping[str, Any]], Any],
        known_change_ids: Iterable[str] | str | None = (),
    ) -> RestartResult:
        """Send the restart ``op`` of target ``ident`` (``query``/``form`` as the kind built
        them; parameters left None are not sent) through ``recovery.send_until_known``:
        before each send one ``changes.snapshot``; after a lost answer ``changes.candidates``,
        adopting only a new restart. ``extract`` reads the change id from the answer.
        ``known_change_ids`` are never mistaken for this restart. Returns the change id;
        raises ``AliyunError`` subclasses, and ``RestartOutcomeUnknown`` when the restart
        may or may not have been applied."""
        ident = require_id("id", ident)
        known = id_set(known_change_ids)
        deadline = self._call_deadline()
        query = {k: v for k, v in (query or {}).items() if v is not None}
        body = None if form is None else {k: v for k, v in form.items() if v is not None}
        return send_until_known(
            lambda: self._transport.send(op, query, body, deadline=deadline),
            action=op.action,
            target=changes.label(ident),
            where_to_look=changes.where_to_look(ident),
            extract=extract,
            snapshot=lambda: changes.snapshot(lambda o, q: self.read(o, q, deadline), ident),
            look=self._look(changes, ident, known, deadline),
            tries=self._restart_backoff.start(deadline),
            settle_window=self._settle_window,
        )

    def find_earlier_restart(
        self,
        changes: ChangeList,
        ident: str,
        *,
        before: Iterable[str],
        sent_at: float,
        settle_window: float | None = None,
        known_change_ids: Iterable[str] | str | None = (),
    ) -> str | None:
        """Resolve a restart an earlier update sent to ``ident`` without learning its outcome
        (``recovery.find_earlier_restart``, looking with ``changes.candidates``): ``before``
        is the snapshot taken before that send, ``sent_at`` its wall-clock time. The adopted
        change id, or None (restart anew)."""
        ident = require_id("id", ident)
        deadline = self._call_deadline()
        return recovery_find_earlier_restart(
            self._look(changes, ident, id_set(known_change_ids), deadline),
            before=frozenset(before),
            sent_at=sent_at,
            settle_window=self._settle_window if settle_window is None else settle_window,
            deadline=deadline,
            action=changes.restart_action,
            target=changes.label(ident),
            where_to_look=changes.where_to_look(ident),
        )

    def restarts_of(self, changes: ChangeList, ident: str) -> list[str]:
        """The restarts ``changes`` lists for ``ident`` now, newest first as the APIs list
        them (``changes.candidates`` against an empty snapshot; reads retried as usual):
        what ``pulumi import`` adopts a target's last restart from."""
        ident = require_id("id", ident)
        deadline = self._call_deadline()
        return changes.candidates(
            lambda op, query: self.read(op, query, deadline), ident, frozenset(), frozenset()
        )

    def _look(
        self, changes: ChangeList, ident: str, known: frozenset[str], deadline: Deadline
    ) -> Callable[[frozenset[str]], list[str]]:
        """One look (one attempt of each read) for restarts new since a snapshot."""

        def read_once(op: Operation, query: Mapping[str, str]) -> dict:
            return self._transport.send(op, query, deadline=deadline)

        return lambda before: changes.candidates(read_once, ident, before, known)

    # --- sending ------------------------------------------------------------------------

    def _call_deadline(self) -> Deadline:
        return self._deadline or Deadline(DEFAULT_CALL_SECONDS)

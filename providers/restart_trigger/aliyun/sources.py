"""Credentials providers: where the key pair a request is signed with comes from, right now.

A provider answers ``current(deadline=None)`` with a ``Credentials`` (key id, secret, token)
valid for at least a little longer, and names where it comes from in ``source`` (never a
secret). The signers (``auth``) ask it for every request, so a trigger that waits half an
hour for a change order keeps signing with live credentials while they are renewed under it.

* ``RefreshingProvider``: temporary credentials, fetched on first use and fetched again
  before they expire; subclasses say how to fetch:

  - ``AssumeRoleProvider``: STS ``AssumeRole`` signed with another provider's credentials
    (``alicloud:assumeRole`` on top of whatever base was found);
  - ``OidcProvider``: STS ``AssumeRoleWithOIDC`` with a token given inline or read from a
    file at every refresh (CI systems and Kubernetes rotate the file);
  - ``EcsRoleProvider``: the instance RAM role from the metadata service, token first.

**When a refresh happens.** Credentials obtained at ``t0`` that expire at ``t1`` are renewed
from ``t1 - margin``, where ``margin`` is ``min(REFRESH_MARGIN, (t1 - t0) / 2)``: 5 minutes
for the usual hour, half the lifetime for short ones (emulator keys that live seconds). They
are used at most until ``t1 - min(EXPIRY_SKEW, (t1 - t0) / 10)``.

**When a refresh fails.** It is retried with ``REFRESH_BACKOFF`` (throttling, 5xx and
connection failures; refusals are final) within the caller's deadline. If it still fails
while the cached credentials are usable, they go on being used (and the failure is logged);
otherwise ``CredentialsUnavailable`` is raised, naming the source and the last error, e.g.
``alicloud:assumeRole (role acs:ram::123:role/deploy): AssumeRole refused: NoPermission: ...``.
Its text, like every log line here, is scrubbed of every secret the provider knows.

**Built from a spec.** ``provider_for(spec)`` builds the provider a ``specs`` value asks for,
its fields passed as the provider's keyword arguments, and keeps one per distinct spec in the
process (the frozen spec is the cache key), so 50 triggers share one AssumeRole. A key pair
(``specs.AccessKey``) is its own source: its ``Credentials``.

Providers hold locks and secrets: they refuse to be pickled, and live only in the provider
process.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests

from ..backoff import Backoff, Deadline
from ..validation import logger
from . import sts
from .credential_types import Credentials, CredentialsSource, short_key_id
from .errors import AliyunError, AuthError, scrub
from .retryable import is_retryable, retry_after_of
from .specs import AccessKey, AssumeRole, EcsRole, Oidc, Spec

log = logger(__name__)

REFRESH_MARGIN = 300.0
"""Seconds before expiry from which credentials are renewed (at most half their lifetime)."""
EXPIRY_SKEW = 10.0
"""Seconds before expiry after which cached credentials are no longer used (at most a tenth
of their lifetime): clock skew and the time a request takes to arrive."""
REFRESH_BACKOFF = Backoff(first=0.5, factor=2.0, cap=5.0, jitter=True, max_attempts=4)
"""Retries of one refresh: 4 attempts, about 4 s of waits at most."""
RETRY_COOLDOWN = 30.0
"""After a failed refresh while the cached credentials are still usable, seconds before the
next try (at most until they stop being usable)."""
REFRESH_SECONDS = 60.0
"""Deadline of a refresh when the caller gives none (or a longer one)."""


class CredentialsUnavailable(AuthError):
    """No usable credentials could be obtained from a source. Nothing was sent with them.

    ``source`` names the source (config key, role, profile); the message says why. Never
    contains a secret.
    """

    def __init__(self, source: str, message: str, *, secrets: tuple[str, ...] = ()) -> None:
        super().__init__(None, "CredentialsUnavailable", f"{source}: {message}", secrets=secrets)
        self.source = source

    def __str__(self) -> str:
        where = f"{self.operation}: " if self.operation else ""
        return f"{where}{self.message}"


class CredentialsProvider:
    """Base of every provider (a ``CredentialsSource``): ``source``, ``current()``,
    ``secrets()``, a masked repr."""

    source: str = "credentials"

    def current(self, deadline: Deadline | None = None) -> Credentials:
        raise NotImplementedError

    def secrets(self) -> tuple[str, ...]:
        """Every secret value this provider holds or has handed out (for scrubbing)."""
        return ()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(source={self.source!r})"

    __str__ = __repr__

    def __reduce__(self):
        raise TypeError(
            f"{type(self).__name__} holds credentials and is never pickled; it is created at "
            "run time in the provider process (resolve_settings)"
        )


def _wall_clock() -> float:
    return time.time()


def _as_datetime(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


class RefreshingProvider(CredentialsProvider):
    """Temporary credentials renewed before they expire (see the module docstring).

    Args:
        source: names the source in errors and logs.
        clock: wall-clock epoch seconds (expirations are wall-clock times); injectable.
        sleep: how retries wait; injectable.
        backoff: retries of one refresh.
        session: the ``requests.Session`` for the fetches (default: one of its own).
    """

    def __init__(
        self,
        source: str,
        *,
        clock: Callable[[], float] = _wall_clock,
        sleep: Callable[[float], None] = time.sleep,
        backoff: Backoff = REFRESH_BACKOFF,
        session: requests.Session | None = None,
    ) -> None:
        self.source = source
        self._clock = clock
        self._sleep = sleep
        self._backoff = backoff
        self._session = session
        self._lock = threading.Lock()
        self._cached: tuple[Credentials, float, float] | None = None  # creds, refresh_at, until
        self._handed_out: list[str] = []
        self.refreshes = 0
        """How many times credentials were fetched (tests and logs)."""

    # -- what subclasses implement -------------------------------------------------------
    def _fetch(self, deadline: Deadline) -> sts.Issued:
        raise NotImplementedError

    def _own_secrets(self) -> tuple[str, ...]:
        return ()

    # -- the cache -----------------------------------------------------------------------
    def session(self) -> requests.Session:
        if self._session is None:
            self._session = requests.Session()
        return self._session

    def secrets(self) -> tuple[str, ...]:
        return tuple(self._handed_out) + self._own_secrets()

    @property
    def expiration(self) -> float | None:
        """Expiry (epoch seconds) of the cached credentials, or ``None`` before the first."""
        cached = self._cached
        return None if cached is None else cached[0].expiration

    def current(self, deadline: Deadline | None = None) -> Credentials:
        cached = self._cached
        if cached is not None and self._clock() < cached[1]:
            return cached[0]
        with self._lock:
            cached = self._cached
            now = self._clock()
            if cached is not None and now < cached[1]:
                return cached[0]
            try:
                return self._refresh(deadline)
            except CredentialsUnavailable:
                if cached is not None and now < cached[2]:
                    # try again later, not on every request while the source is down
                    retry_at = min(cached[2], self._clock() + RETRY_COOLDOWN)
                    self._cached = (cached[0], retry_at, cached[2])
                    log.warning(
                        "%s: refreshing the credentials failed; the current ones stay in use "
                        "until %s",
                        self.source,
                        _as_datetime(cached[2]).isoformat(timespec="seconds"),
                    )
                    return cached[0]
                raise

    def _refresh(self, deadline: Deadline | None) -> Credentials:
        bound = Deadline(REFRESH_SECONDS, clock=self._clock, sleep=self._sleep)
        if deadline is not None and deadline.remaining() < bound.remaining():
            bound = deadline
        tries = self._backoff.start(bound)
        while True:
            tries.record_attempt()
            try:
                issued = self._fetch(bound)
                break
            except CredentialsUnavailable:
                raise
            except AliyunError as err:
                delay = tries.next_delay(retry_after_of(err)) if is_retryable(err) else None
                if delay is None:
                    raise self._unavailable(err, tries.attempts) from None
                log.warning(
                    "%s: %s; retrying in %.2fs (attempt %d)",
                    self.source,
                    scrub(str(err), self.secrets()),
                    delay,
                    tries.attempts + 1,
                )
                self._sleep(min(delay, bound.remaining()))
        now = self._clock()
        lifetime = max(0.0, issued.expiration - now)
        refresh_at = issued.expiration - min(REFRESH_MARGIN, lifetime / 2)
        until = issued.expiration - min(EXPIRY_SKEW, lifetime / 10)
        credentials = Credentials(
            issued.access_key_id,
            issued.access_key_secret,
            issued.security_token,
            expiration=issued.expiration,
        )
        self._handed_out = [issued.access_key_secret, issued.security_token, *self._handed_out][:8]
        self._cached = (credentials, refresh_at, until)
        self.refreshes += 1
        log.info(
            "%s: credentials %s (access key %s), valid until %s",
            self.source,
            "obtained" if self.refreshes == 1 else "refreshed",
            short_key_id(issued.access_key_id),
            _as_datetime(issued.expiration).isoformat(timespec="seconds"),
        )
        return credentials

    def _unavailable(self, err: AliyunError, attempts: int) -> CredentialsUnavailable:
        if isinstance(err, CredentialsUnavailable):
            return err
        tries = f" after {attempts} attempts" if attempts > 1 else ""
        verb = "refused" if err.http_status is not None and err.http_status < 500 else "failed"
        what = err.operation or "the request"
        extras = [f"HTTP {err.http_status}"] if err.http_status is not None else []
        if err.request_id:
            extras.append(f"request id {err.request_id}")
        tail = f" ({', '.join(extras)})" if extras else ""
        return CredentialsUnavailable(
            self.source,
            f"{what} {verb}{tries}: {err.code}: {err.message}{tail}",
            secrets=self.secrets(),
        )


class AssumeRoleProvider(RefreshingProvider):
    """STS ``AssumeRole`` signed with ``base``'s current credentials."""

    def __init__(
        self,
        base: CredentialsSource,
        *,
        role_arn: str,
        session_name: str,
        duration: int,
        sts_endpoint: str,
        policy: str | None = None,
        external_id: str | None = None,
        source: str = "alicloud:assumeRole",
        **kwargs: Any,
    ) -> None:
        super().__init__(f"{source} (role {role_arn})", **kwargs)
        self.base = base
        self.role_arn = role_arn
        self.session_name = session_name
        self.duration = duration
        self.sts_endpoint = sts_endpoint
        self.policy = policy
        self.external_id = external_id

    def _own_secrets(self) -> tuple[str, ...]:
        return tuple(self.base.secrets())

    def _fetch(self, deadline: Deadline) -> sts.Issued:
        try:
            base = self.base.current(deadline)
        except CredentialsUnavailable as err:
            raise CredentialsUnavailable(
                self.source, f"its base credentials are unavailable: {err}", secrets=self.secrets()
            ) from None
        return sts.assume_role(
            self.session(),
            self.sts_endpoint,
            base,
            role_arn=self.role_arn,
            session_name=self.session_name,
            duration=self.duration,
            policy=self.policy,
            external_id=self.external_id,
            clock=lambda: _as_datetime(self._clock()),
        )


class OidcProvider(RefreshingProvider):
    """STS ``AssumeRoleWithOIDC`` with an inline token or one read from ``token_file`` at
    every refresh."""

    def __init__(
        self,
        *,
        role_arn: str,
        oidc_provider_arn: str,
        session_name: str,
        duration: int,
        sts_endpoint: str,
        token: str | None = None,
        token_file: str | None = None,
        policy: str | None = None,
        source: str = "alicloud:assumeRoleWithOidc",
        **kwargs: Any,
    ) -> None:
        super().__init__(f"{source} (role {role_arn})", **kwargs)
        if not token and not token_file:
            raise ValueError("OidcProvider needs a token or a token file")
        self.role_arn = role_arn
        self.oidc_provider_arn = oidc_provider_arn
        self.session_name = session_name
        self.duration = duration
        self.sts_endpoint = sts_endpoint
        self.policy = policy
        self.token_file = token_file
        self._token = token
        self._tokens_read: list[str] = []

    def _own_secrets(self) -> tuple[str, ...]:
        return tuple(t for t in (self._token, *self._tokens_read) if t)

    def _read_token(self) -> str:
        if self._token:
            return self._token
        assert self.token_file is not None
        try:
            token = Path(self.token_file).expanduser().read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise CredentialsUnavailable(
                self.source, f"cannot read the OIDC token file {self.token_file!r}: {reason}"
            ) from None
        if not token:
            raise CredentialsUnavailable(
                self.source, f"the OIDC token file {self.token_file!r} is empty"
            )
        self._tokens_read = [token, *self._tokens_read][:4]
        return token

    def _fetch(self, deadline: Deadline) -> sts.Issued:
        return sts.assume_role_with_oidc(
            self.session(),
            self.sts_endpoint,
            role_arn=self.role_arn,
            oidc_provider_arn=self.oidc_provider_arn,
            oidc_token=self._read_token(),
            session_name=self.session_name,
            duration=self.duration,
            policy=self.policy,
            clock=lambda: _as_datetime(self._clock()),
        )


class EcsRoleProvider(RefreshingProvider):
    """The instance RAM role ``role_name`` from the metadata service at ``endpoint``."""

    def __init__(
        self,
        role_name: str,
        *,
        endpoint: str = sts.METADATA_ENDPOINT,
        source: str = "alicloud:ecsRoleName",
        **kwargs: Any,
    ) -> None:
        super().__init__(f"{source} (role {role_name})", **kwargs)
        self.role_name = role_name
        self.endpoint = endpoint

    def session(self) -> requests.Session:
        if self._session is None:
            self._session = requests.Session()
            self._session.trust_env = False  # never a proxy or netrc for the metadata service
        return self._session

    def _fetch(self, deadline: Deadline) -> sts.Issued:
        return sts.ecs_role_credentials(self.session(), self.endpoint, self.role_name)


# --- providers from specs, one per distinct spec ---------------------------------------------

PROVIDERS: dict[type, type[RefreshingProvider]] = {
    EcsRole: EcsRoleProvider,
    Oidc: OidcProvider,
    AssumeRole: AssumeRoleProvider,
}
"""The provider each kind of spec is built into."""

_CACHE_SIZE = 32
_providers: OrderedDict[Spec, CredentialsSource] = OrderedDict()
_providers_lock = threading.Lock()


def arguments(spec: Spec) -> dict[str, Any]:
    """The spec's fields by name, as its provider takes them (``SPEC_ONLY`` ones left out)."""
    return {f.name: getattr(spec, f.name) for f in fields(spec) if f.metadata.get("argument", True)}


def build(spec: Spec) -> CredentialsSource:
    """A new credentials source for ``spec`` (its base, if any, from ``provider_for``)."""
    if isinstance(spec, AccessKey):
        return spec.credentials
    args = arguments(spec)
    if isinstance(spec, AssumeRole):
        args["base"] = provider_for(spec.base)
    return PROVIDERS[type(spec)](**args)


def provider_for(spec: Spec) -> CredentialsSource:
    """The credentials (a key pair) or the one provider of this process for ``spec``; equal
    specs share a provider, so its cached temporary credentials serve every trigger."""
    if isinstance(spec, AccessKey):
        return build(spec)
    with _providers_lock:
        found = _providers.get(spec)
        if found is not None:
            _providers.move_to_end(spec)
            return found
    built = build(spec)
    with _providers_lock:
        found = _providers.setdefault(spec, built)
        _providers.move_to_end(spec)
        while len(_providers) > _CACHE_SIZE:
            _providers.popitem(last=False)
        return found


def clear_provider_cache() -> None:
    """Forget every cached provider (tests)."""
    with _providers_lock:
        _providers.clear()

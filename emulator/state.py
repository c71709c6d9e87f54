"""The emulated world: accounts, EDAS applications (ECS and Kubernetes), Web+ environments,
SAE applications and their changes.

Everything lives in one :class:`World` guarded by one re-entrant lock. Change progress is
computed from the creation time and the duration, so no background thread is needed and a
restarted emulator (``--state FILE``) carries on where the previous one stopped.

The seed format (``--seed FILE`` and ``POST /__emulator__/seed``) is documented in
``emulator/README.md``; merging is by id, and fields that are present override.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import datetime, timedelta, timezone
from typing import Any

from emulator.signatures import KeyRecord

#: EDAS reports wall-clock times in Asia/Shanghai (UTC+8).
SHANGHAI = timezone(timedelta(hours=8), "Asia/Shanghai")

DEFAULT_CHANGE_DURATION_S = 2.0
DEFAULT_REGION = "cn-hangzhou"
DEFAULT_ACCOUNT_ID = "1000000000000000"

#: Web+ statuses from which a restart is allowed.
RESTARTABLE_ENV_STATUSES = frozenset({"RUNNING", "STOPPED", "TERMINATED"})

#: EDAS change-order status codes (GetChangeOrderInfo / ListRecentChangeOrder; doc-detail/62072).
EDAS_READY, EDAS_EXECUTING, EDAS_SUCCESS, EDAS_FAILED = 0, 1, 2, 3
EDAS_TERMINATED, EDAS_PARTIAL, EDAS_WAITING_MANUAL, EDAS_WAITING_AUTO, EDAS_SYSTEM_ERROR = (
    6,
    7,
    8,
    9,
    10,
)
#: Statuses at which an EDAS change order is over.
EDAS_FINAL_STATUSES = frozenset(
    {EDAS_SUCCESS, EDAS_FAILED, EDAS_TERMINATED, EDAS_PARTIAL, EDAS_SYSTEM_ERROR}
)
#: ``change_outcome`` of an EDAS app -> the status its change orders end at.
EDAS_OUTCOMES = {
    "success": EDAS_SUCCESS,
    "failed": EDAS_FAILED,
    "terminated": EDAS_TERMINATED,
    "partial": EDAS_PARTIAL,
    "system_error": EDAS_SYSTEM_ERROR,
}
EDAS_BATCH_TYPES = ("Automatic", "Manual")
#: ``change_outcome`` of a Web+ env: how its changes end.
WEBPLUS_OUTCOMES = ("success", "failed", "aborted", "timed_out")

#: EDAS cluster types: ``RestartApplication`` restarts ``ecs`` apps, ``RestartK8sApplication``
#: restarts ``k8s`` ones.
EDAS_CLUSTER_TYPES = ("ecs", "k8s")

#: SAE change-order status codes (alibabacloud-sae20190506 DescribeChangeOrderResponseBodyData).
SAE_PREPARING, SAE_RUNNING, SAE_SUCCEEDED, SAE_FAILED, SAE_TERMINATED = 0, 1, 2, 3, 6
SAE_WAITING_MANUAL, SAE_WAITING_AUTO, SAE_SYSTEM_ERROR = 8, 9, 10
SAE_PENDING_APPROVAL, SAE_APPROVED = 11, 12
#: Statuses at which an SAE change order is over (any other one blocks a new order).
SAE_FINAL_STATUSES = frozenset({SAE_SUCCEEDED, SAE_FAILED, SAE_TERMINATED, SAE_SYSTEM_ERROR})
#: ``change_outcome`` of an SAE app -> the status its change orders end at.
SAE_OUTCOMES = {
    "success": SAE_SUCCEEDED,
    "failed": SAE_FAILED,
    "terminated": SAE_TERMINATED,
    "system_error": SAE_SYSTEM_ERROR,
}
SAE_BATCH_TYPES = ("auto", "manual")
#: An SAE application id: a UUID (``0099b7be-5f5b-4512-a7fc-56049ef1****`` in the API docs).
SAE_APP_ID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.I)

#: Phases of a batched change (:func:`batch_progress`).
RUNNING, INTERVAL, HELD, DONE = "running", "interval", "held", "done"


def shanghai_time(epoch_s: float) -> str:
    """Format an epoch time as ``YYYY-MM-DD HH:MM:SS`` in Asia/Shanghai."""
    return datetime.fromtimestamp(epoch_s, SHANGHAI).strftime("%Y-%m-%d %H:%M:%S")


def epoch_ms(epoch_s: float) -> int:
    """Epoch seconds to integer epoch milliseconds."""
    return int(round(epoch_s * 1000))


@dataclass(frozen=True)
class Progress:
    """Where a batched change stands at one moment.

    ``batch`` is the 0-based batch running (or just finished, in ``interval`` and ``held``;
    ``batch_count`` once ``done``). ``starts`` and ``ends`` are the start and end times of the
    batches started and finished so far; ``finished_at`` is set once the change is done.
    """

    phase: str
    batch: int
    starts: tuple[float, ...]
    ends: tuple[float, ...]
    finished_at: float | None = None


def batch_progress(
    now: float,
    created_at: float,
    batch_count: int,
    batch_s: float,
    interval_s: float,
    hold: bool,
    released: list[float | None],
    auto_release_s: float | None,
) -> Progress:
    """The timeline of a change made of ``batch_count`` batches of ``batch_s`` seconds each.

    Between two batches it waits ``interval_s`` (phase ``interval``); with ``hold`` it also
    stays ``held`` from the end of a batch until that gap is released: ``released[i]`` (the
    time gap ``i`` was confirmed/resumed) or ``auto_release_s`` after the batch ended,
    whichever comes first. The next batch starts once both the interval and the hold are
    over. Computed from times only, so no thread is needed and a restarted emulator carries on.
    """
    start = created_at
    starts: list[float] = []
    ends: list[float] = []
    for index in range(max(1, batch_count)):
        starts.append(start)
        end = start + batch_s
        if now < end:
            return Progress(RUNNING, index, tuple(starts), tuple(ends))
        ends.append(end)
        if index == max(1, batch_count) - 1:
            return Progress(DONE, batch_count, tuple(starts), tuple(ends), end)
        next_start = end + interval_s
        if hold:
            release = released[index] if index < len(released) else None
            if auto_release_s is not None:
                auto = end + auto_release_s
                release = auto if release is None else min(release, auto)
            if release is None or now < release:
                return Progress(HELD, index, tuple(starts), tuple(ends))
            next_start = max(next_start, release)
        if now < next_start:
            return Progress(INTERVAL, index, tuple(starts), tuple(ends))
        start = next_start
    raise AssertionError("unreachable")  # pragma: no cover


def record_release(released: list[float | None], gap: int, now: float) -> None:
    """Record that gap ``gap`` (after batch ``gap``) was confirmed or resumed at ``now``."""
    while len(released) <= gap:
        released.append(None)
    released[gap] = now


@dataclass
class Account:
    """An access key pair; several keys (e.g. a permanent one and an STS one) share an account."""

    access_key_id: str
    access_key_secret: str
    account_id: str = DEFAULT_ACCOUNT_ID
    security_token: str | None = None
    security_token_expires_at: float | None = None
    enabled: bool = True
    name: str = ""
    #: For keys the emulator issued (STS or the metadata service): what issued them, the role
    #: and the session, and when (epoch s). None for seeded keys.
    issued_by: str | None = None
    role_arn: str | None = None
    role_session_name: str | None = None
    issued_at: float | None = None

    def key_record(self) -> KeyRecord:
        """The view of this account the signature verifier needs."""
        return KeyRecord(
            access_key_id=self.access_key_id,
            access_key_secret=self.access_key_secret,
            account_id=self.account_id,
            security_token=self.security_token,
            security_token_expires_at=self.security_token_expires_at,
            enabled=self.enabled,
        )


@dataclass
class EdasApplication:
    """An EDAS application deployed on ECS, with its elastic compute container ids."""

    app_id: str
    region: str = DEFAULT_REGION
    name: str = ""
    ecc_ids: list[str] = field(default_factory=list)
    account_id: str | None = None
    change_duration_s: float | None = None
    fail_changes: bool = False
    change_outcome: str | None = None
    batches: int = 1
    batch_type: str = "Automatic"
    batch_wait_s: float = 0.0
    auto_confirm_s: float | None = None
    cluster_type: str = "ecs"
    instance_count: int | None = None
    instances_not_running: int = 0

    @property
    def instances(self) -> int:
        """Its instances: ``instance_count``, else one per ECC id (pod), else 1."""
        if self.instance_count is not None:
            return self.instance_count
        return max(1, len(self.ecc_ids))

    def validate(self) -> None:
        """Raise SeedError on a nonsense status knob."""
        if self.instance_count is not None:
            _check_count(self.instance_count, "edas_applications.instance_count")
        _check_not_running(self.instances_not_running, "edas_applications")
        if self.cluster_type not in EDAS_CLUSTER_TYPES:
            raise SeedError("edas_applications.cluster_type must be 'ecs' or 'k8s'")
        _check_outcome(self.change_outcome, EDAS_OUTCOMES, "edas_applications")
        _check_count(self.batches, "edas_applications.batches")
        if self.batch_type not in EDAS_BATCH_TYPES:
            raise SeedError("edas_applications.batch_type must be 'Automatic' or 'Manual'")
        _check_seconds(self.batch_wait_s, "edas_applications.batch_wait_s")
        _check_seconds(self.auto_confirm_s, "edas_applications.auto_confirm_s", optional=True)


@dataclass
class SaeApplication:
    """An SAE (Serverless App Engine) application. Its id is a UUID, as SAE's are."""

    app_id: str
    region: str = DEFAULT_REGION
    name: str = ""
    account_id: str | None = None
    instance_count: int = 2
    change_duration_s: float | None = None
    fail_changes: bool = False
    change_outcome: str | None = None
    batches: int = 1
    batch_type: str = "auto"
    batch_wait_s: float = 0.0
    auto_confirm_s: float | None = None
    approval_s: float | None = None
    approved_wait_s: float = 0.0
    sub_status_abnormal: bool = False
    instances_not_running: int = 0

    def validate(self) -> None:
        """Raise SeedError on a malformed id or a nonsense status knob."""
        _check_not_running(self.instances_not_running, "sae_applications")
        if not SAE_APP_ID_RE.match(self.app_id):
            raise SeedError(f"sae_applications.app_id must be a UUID, got {self.app_id!r}")
        _check_outcome(self.change_outcome, SAE_OUTCOMES, "sae_applications")
        _check_count(self.instance_count, "sae_applications.instance_count")
        _check_count(self.batches, "sae_applications.batches")
        if self.batch_type not in SAE_BATCH_TYPES:
            raise SeedError("sae_applications.batch_type must be 'auto' or 'manual'")
        _check_seconds(self.batch_wait_s, "sae_applications.batch_wait_s")
        _check_seconds(self.auto_confirm_s, "sae_applications.auto_confirm_s", optional=True)
        _check_seconds(self.approval_s, "sae_applications.approval_s", optional=True)
        _check_seconds(self.approved_wait_s, "sae_applications.approved_wait_s")
        if not isinstance(self.sub_status_abnormal, bool):
            raise SeedError("sae_applications.sub_status_abnormal must be true or false")


@dataclass
class WebPlusEnvironment:
    """A Web+ application environment. ``status`` is the status outside of any change."""

    env_id: str
    region: str = DEFAULT_REGION
    name: str = ""
    status: str = "RUNNING"
    last_status: str | None = None
    instance_count: int = 2
    account_id: str | None = None
    change_duration_s: float | None = None
    fail_changes: bool = False
    change_outcome: str | None = None
    batch_interval_unit_s: float = 1.0
    auto_resume_s: float | None = None
    instances_not_running: int = 0

    def validate(self) -> None:
        """Raise SeedError on a nonsense status knob."""
        _check_not_running(self.instances_not_running, "webplus_environments")
        _check_outcome(self.change_outcome, WEBPLUS_OUTCOMES, "webplus_environments")
        _check_count(self.instance_count, "webplus_environments.instance_count")
        _check_seconds(self.batch_interval_unit_s, "webplus_environments.batch_interval_unit_s")
        _check_seconds(self.auto_resume_s, "webplus_environments.auto_resume_s", optional=True)

    def batch_count(self, batch_size: int | None, batch_percent: int | None) -> int:
        """How many batches a restart with these settings takes (1 without them)."""
        if batch_size:
            per_batch = batch_size
        elif batch_percent:
            per_batch = max(1, -(-self.instance_count * batch_percent // 100))
        else:
            return 1
        return max(1, -(-self.instance_count // per_batch))


#: ``acs:ram::<account-id>:role/<name>``: RAM role names are 1-64 letters, digits, ``.``,
#: ``-`` (CreateRole); STS matches them without regard to case.
ROLE_ARN_RE = re.compile(r"^acs:ram::(\d{1,32}):role/([A-Za-z0-9.\-]{1,64})$")
#: ``acs:ram::<account-id>:oidc-provider/<name>`` (CreateOIDCProvider names: letters, digits,
#: ``.``, ``-``, ``_``).
OIDC_PROVIDER_ARN_RE = re.compile(r"^acs:ram::(\d{1,32}):oidc-provider/([A-Za-z0-9.\-_]{1,128})$")
#: RAM's bounds on a role's MaxSessionDuration (CreateRole: 3600 to 43200, default 3600).
MIN_MAX_SESSION_S, MAX_MAX_SESSION_S = 3600, 43200


@dataclass
class RamRole:
    """A RAM role STS can issue credentials for.

    ``trusted_account_ids`` (None: only the role's own account) says whose keys may call
    AssumeRole on it; ``external_id``, if set, must be sent as ``ExternalId``;
    ``trusted_oidc_provider_arns`` (None: any provider of the role's account) says which OIDC
    providers AssumeRoleWithOIDC may use with it.
    """

    arn: str
    max_session_duration_s: int = 3600
    external_id: str | None = None
    trusted_account_ids: list[str] | None = None
    trusted_oidc_provider_arns: list[str] | None = None
    role_id: str | None = None

    def validate(self) -> None:
        """Raise SeedError on a malformed ARN or a bound RAM would refuse."""
        if not isinstance(self.arn, str) or not ROLE_ARN_RE.match(self.arn):
            raise SeedError(
                f"ram_roles.arn must look like acs:ram::<account>:role/<name>: {self.arn!r}"
            )
        duration = self.max_session_duration_s
        if (
            not isinstance(duration, int)
            or isinstance(duration, bool)
            or not (MIN_MAX_SESSION_S <= duration <= MAX_MAX_SESSION_S)
        ):
            raise SeedError("ram_roles.max_session_duration_s must be an integer in 3600-43200")
        for name in ("trusted_account_ids", "trusted_oidc_provider_arns"):
            value = getattr(self, name)
            if value is not None and (
                not isinstance(value, list) or not all(isinstance(v, str) for v in value)
            ):
                raise SeedError(f"ram_roles.{name} must be a list of strings or null")
        if self.external_id is not None and not isinstance(self.external_id, str):
            raise SeedError("ram_roles.external_id must be a string or null")

    @property
    def account_id(self) -> str:
        """The account that owns the role."""
        match = ROLE_ARN_RE.match(self.arn)
        assert match is not None
        return match.group(1)

    @property
    def name(self) -> str:
        """The role's name, as written in its ARN."""
        return self.arn.rsplit("/", 1)[1]


@dataclass
class OidcProvider:
    """An OIDC identity provider registered in RAM.

    The real STS fetches the issuer's public keys (RS256); the stdlib emulator instead
    verifies HS256 tokens with the shared ``hs256_key``.
    """

    arn: str
    issuer_url: str = ""
    client_ids: list[str] = field(default_factory=list)
    hs256_key: str = ""

    def validate(self) -> None:
        """Raise SeedError on a malformed provider."""
        if not isinstance(self.arn, str) or not OIDC_PROVIDER_ARN_RE.match(self.arn):
            raise SeedError(
                "oidc_providers.arn must look like acs:ram::<account>:oidc-provider/<name>"
            )
        if not isinstance(self.issuer_url, str) or not self.issuer_url.startswith("https://"):
            raise SeedError("oidc_providers.issuer_url must be an https:// URL")
        if not isinstance(self.client_ids, list) or not all(
            isinstance(c, str) and c for c in self.client_ids
        ):
            raise SeedError("oidc_providers.client_ids must be a list of non-empty strings")
        if not isinstance(self.hs256_key, str) or len(self.hs256_key) < 8:
            raise SeedError("oidc_providers.hs256_key must be a string of at least 8 characters")

    @property
    def account_id(self) -> str:
        """The account the provider is registered in."""
        match = OIDC_PROVIDER_ARN_RE.match(self.arn)
        assert match is not None
        return match.group(1)


@dataclass
class StsSettings:
    """``sts`` in the seed. ``credential_lifetime_s`` (None: ``DurationSeconds``) overrides how
    long issued credentials live, so tests can see them expire within seconds."""

    credential_lifetime_s: float | None = None

    def validate(self) -> None:
        """Raise SeedError on a nonsense lifetime."""
        value = self.credential_lifetime_s
        if value is not None and (
            not isinstance(value, int | float) or isinstance(value, bool) or value <= 0
        ):
            raise SeedError("sts.credential_lifetime_s must be a positive number or null")


#: Longest metadata token TTL the ECS metadata service grants (seconds).
IMDS_MAX_TOKEN_TTL_S = 21600
#: How long ECS instance-role credentials live unless the seed says otherwise (seconds).
IMDS_DEFAULT_CREDENTIAL_LIFETIME_S = 21600.0


@dataclass
class EcsMetadata:
    """``ecs_metadata`` in the seed: the instance the metadata service describes.

    ``role_name`` (None: no instance role) is the RAM role attached to the instance, owned by
    ``account_id``. With ``tokens_required`` (the default) every metadata read needs a token
    from ``PUT /latest/api/token`` (hardened mode). ``credential_lifetime_s`` (None:
    ``sts.credential_lifetime_s``, else 6 hours) is how long its credentials live; new ones are
    issued once the current ones are past half their life.
    """

    role_name: str | None = None
    account_id: str = DEFAULT_ACCOUNT_ID
    tokens_required: bool = True
    credential_lifetime_s: float | None = None
    current_access_key_id: str | None = None

    def validate(self) -> None:
        """Raise SeedError on a malformed setting."""
        if self.role_name is not None and (
            not isinstance(self.role_name, str)
            or not re.match(r"^[A-Za-z0-9.\-]{1,64}$", self.role_name)
        ):
            raise SeedError("ecs_metadata.role_name must be a RAM role name or null")
        if not isinstance(self.account_id, str) or not self.account_id.isdigit():
            raise SeedError("ecs_metadata.account_id must be a numeric account id")
        if not isinstance(self.tokens_required, bool):
            raise SeedError("ecs_metadata.tokens_required must be true or false")
        value = self.credential_lifetime_s
        if value is not None and (
            not isinstance(value, int | float) or isinstance(value, bool) or value <= 0
        ):
            raise SeedError("ecs_metadata.credential_lifetime_s must be a positive number or null")

    @property
    def role_arn(self) -> str | None:
        """The instance role's ARN."""
        if self.role_name is None:
            return None
        return f"acs:ram::{self.account_id}:role/{self.role_name.lower()}"


def _check_outcome(value: Any, allowed: Any, where: str) -> None:
    if value is not None and value not in allowed:
        raise SeedError(f"{where}.change_outcome must be one of {', '.join(allowed)}")


def _check_count(value: Any, where: str) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise SeedError(f"{where} must be an integer >= 1")


def _check_not_running(value: Any, where: str) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise SeedError(f"{where}.instances_not_running must be an integer >= 0")


def _check_seconds(value: Any, where: str, optional: bool = False) -> None:
    if value is None and optional:
        return
    if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
        raise SeedError(f"{where} must be a non-negative number of seconds")


@dataclass
class EdasChangeOrder:
    """A restart change order of an EDAS application: ``batch_count`` batches of
    ``duration_s`` seconds each (one batch unless the app is seeded with ``batches``)."""

    change_order_id: str
    app_id: str
    region: str
    account_id: str
    created_at: float
    duration_s: float
    fails: bool = False
    failure_message: str = ""
    ecc_ids: list[str] = field(default_factory=list)
    source: str = "pop"
    outcome: str = ""
    batch_count: int = 1
    batch_type: str = "Automatic"
    batch_wait_s: float = 0.0
    auto_confirm_s: float | None = None
    confirmed_at: list[float | None] = field(default_factory=list)
    co_type: str = "Restart Application"
    co_type_code: str = "CoRestart"
    timeout_s: int | None = None

    @property
    def final_status(self) -> int:
        """The status the order ends at (2 unless it fails, 3 for a plain failure)."""
        if self.outcome:
            return EDAS_OUTCOMES[self.outcome]
        return EDAS_FAILED if self.fails else EDAS_SUCCESS

    def progress(self, now: float) -> Progress:
        """Its batches at ``now``: Manual orders hold after each batch until confirmed."""
        manual = self.batch_type == "Manual"
        return batch_progress(
            now,
            self.created_at,
            self.batch_count,
            self.duration_s,
            0.0 if manual else self.batch_wait_s,
            manual,
            self.confirmed_at,
            self.auto_confirm_s,
        )

    def status(self, now: float) -> int:
        """0 ready, 1 executing a batch, 9 waiting for the next automatic batch, 8 waiting
        for a manual confirmation, then the final status once the last batch has ended."""
        progress = self.progress(now)
        if progress.phase == DONE:
            return self.final_status
        if progress.phase == HELD:
            return EDAS_WAITING_MANUAL
        if progress.phase == INTERVAL:
            return EDAS_WAITING_AUTO
        if progress.batch == 0 and now - self.created_at < min(0.2, self.duration_s * 0.1):
            return EDAS_READY
        return EDAS_EXECUTING

    def finished_at(self, now: float) -> float | None:
        """When the order finished, or None while it has not."""
        return self.progress(now).finished_at


@dataclass
class SaeChangeOrder:
    """A restart change order of an SAE application.

    Optionally pending approval (status 11) for ``approval_s``, then approved (12) for
    ``approved_wait_s``; then ``batch_count`` batches of ``duration_s`` each, 9 between two
    ``auto`` batches for ``batch_wait_s``, 8 between two ``manual`` batches until confirmed.
    Then the status of ``outcome``; with ``sub_status_abnormal`` it stays at 1 with
    ``SubStatus`` 1 instead (a batch failed and waits for a manual rollback), for good.
    """

    change_order_id: str
    app_id: str
    region: str
    account_id: str
    created_at: float
    duration_s: float
    outcome: str = "success"
    failure_message: str = ""
    source: str = "pop"
    batch_count: int = 1
    batch_type: str = "auto"
    batch_wait_s: float = 0.0
    auto_confirm_s: float | None = None
    confirmed_at: list[float | None] = field(default_factory=list)
    approval_s: float | None = None
    approved_wait_s: float = 0.0
    sub_status_abnormal: bool = False
    min_ready_instances: int | None = None
    min_ready_instance_ratio: int | None = None
    auto_enable_application_scaling_rule: bool | None = None

    @property
    def fails(self) -> bool:
        """Whether the order does not end in success (for tests and the soak)."""
        return self.outcome != "success" or self.sub_status_abnormal

    @property
    def runs_at(self) -> float:
        """When its first batch starts (after the approval phases, if any)."""
        if self.approval_s is None:
            return self.created_at
        return self.created_at + self.approval_s + self.approved_wait_s

    def progress(self, now: float) -> Progress:
        """Its batches at ``now`` (call only once ``now >= runs_at``)."""
        manual = self.batch_type == "manual"
        return batch_progress(
            now,
            self.runs_at,
            self.batch_count,
            self.duration_s,
            0.0 if manual else self.batch_wait_s,
            manual,
            self.confirmed_at,
            self.auto_confirm_s,
        )

    def status(self, now: float) -> tuple[int, int]:
        """(Status, SubStatus) at ``now``."""
        if self.approval_s is not None and now < self.runs_at:
            approved = now >= self.created_at + self.approval_s
            return (SAE_APPROVED if approved else SAE_PENDING_APPROVAL), 0
        progress = self.progress(now)
        if progress.phase == DONE:
            if self.sub_status_abnormal:
                return SAE_RUNNING, 1
            return SAE_OUTCOMES[self.outcome], 0
        if progress.phase == HELD:
            return SAE_WAITING_MANUAL, 0
        if progress.phase == INTERVAL:
            return SAE_WAITING_AUTO, 0
        if progress.batch == 0 and now - self.runs_at < min(0.2, self.duration_s * 0.1):
            return SAE_PREPARING, 0
        return SAE_RUNNING, 0

    def finished_at(self, now: float) -> float | None:
        """When the order finished, or None while it has not (an abnormal one never does)."""
        if self.sub_status_abnormal or now < self.runs_at:
            return None
        return self.progress(now).finished_at


@dataclass
class WebPlusChange:
    """A RestartApp change of a Web+ environment: ``batch_count`` batches of ``duration_s``
    seconds each, ``batch_interval_s`` apart, paused after each batch (until ResumeChange)
    when the restart asked ``PauseBetweenBatches``."""

    change_id: str
    env_id: str
    region: str
    account_id: str
    created_at: float
    duration_s: float
    status_before: str
    fails: bool = False
    failure_message: str = ""
    batch_size: int | None = None
    batch_percent: int | None = None
    batch_interval: int | None = None
    pause_between_batches: bool | None = None
    settled: bool = False
    outcome: str = ""
    batch_count: int = 1
    batch_interval_s: float = 0.0
    auto_resume_s: float | None = None
    resumed_at: list[float | None] = field(default_factory=list)

    @property
    def final_outcome(self) -> str:
        """success, failed, aborted or timed_out."""
        return self.outcome or ("failed" if self.fails else "success")

    def progress(self, now: float) -> Progress:
        """Its batches at ``now``."""
        return batch_progress(
            now,
            self.created_at,
            self.batch_count,
            self.duration_s,
            self.batch_interval_s,
            bool(self.pause_between_batches),
            self.resumed_at,
            self.auto_resume_s,
        )

    def finished(self, now: float) -> bool:
        """True once the last batch has ended."""
        return self.progress(now).phase == DONE

    def paused(self, now: float) -> bool:
        """True while it waits for ResumeChange between two batches."""
        return self.progress(now).phase == HELD

    def finished_at(self, now: float) -> float | None:
        """When the change finished, or None while it has not."""
        return self.progress(now).finished_at


def _build(cls: type, data: dict[str, Any]) -> Any:
    """Build a dataclass from a dict, ignoring unknown keys."""
    names = {f.name for f in fields(cls)}
    return cls(**{k: v for k, v in data.items() if k in names})


def _merge(obj: Any, data: dict[str, Any]) -> None:
    """Override the fields of a dataclass instance with the keys present in ``data``."""
    names = {f.name for f in fields(obj)}
    for key, value in data.items():
        if key in names:
            setattr(obj, key, value)


class SeedError(ValueError):
    """A seed document is malformed."""


class World:
    """All emulated state, with a lock, JSON (de)serialisation and optional persistence."""

    def __init__(self, state_path: str | None = None) -> None:
        self.lock = threading.RLock()
        self.state_path = state_path
        self.default_change_duration_s = DEFAULT_CHANGE_DURATION_S
        self.accounts: dict[str, Account] = {}
        self.apps: dict[str, EdasApplication] = {}
        self.envs: dict[str, WebPlusEnvironment] = {}
        self.change_orders: dict[str, EdasChangeOrder] = {}
        self.env_changes: dict[str, WebPlusChange] = {}
        self.sae_apps: dict[str, SaeApplication] = {}
        self.sae_orders: dict[str, SaeChangeOrder] = {}
        self.roles: dict[str, RamRole] = {}
        self.oidc_providers: dict[str, OidcProvider] = {}
        self.sts = StsSettings()
        self.ecs_metadata = EcsMetadata()

    # -- access helpers (call with the lock held) ----------------------------------------

    @contextmanager
    def locked(self) -> Iterator[World]:
        """Hold the world lock for a block."""
        with self.lock:
            yield self

    def key_record(self, access_key_id: str) -> KeyRecord | None:
        """Look up an access key for the signature verifier."""
        with self.lock:
            account = self.accounts.get(access_key_id)
            return account.key_record() if account else None

    def duration_for(self, override: float | None) -> float:
        """A target's change duration, falling back to the global default."""
        return float(override if override is not None else self.default_change_duration_s)

    def settle(self, now: float) -> None:
        """Apply the end state of Web+ changes that have finished since the last call."""
        with self.lock:
            for change in self.env_changes.values():
                if change.settled or not change.finished(now):
                    continue
                env = self.envs.get(change.env_id)
                if env is not None:
                    env.last_status = "UPDATING"
                    succeeded = change.final_outcome == "success"
                    env.status = "RUNNING" if succeeded else change.status_before
                change.settled = True

    # -- seed merge ----------------------------------------------------------------------

    def merge_seed(self, seed: dict[str, Any]) -> None:
        """Merge a seed document (see README): by id, present fields override."""
        if not isinstance(seed, dict):
            raise SeedError("the seed must be a JSON object")
        with self.lock:
            defaults = seed.get("defaults") or {}
            if "change_duration_s" in defaults:
                self.default_change_duration_s = float(defaults["change_duration_s"])
            for item in seed.get("accounts") or []:
                self._merge_item(item, "access_key_id", self.accounts, Account)
            for item in seed.get("edas_applications") or []:
                self._merge_item(item, "app_id", self.apps, EdasApplication)
            for item in seed.get("edas_k8s_applications") or []:
                if isinstance(item, dict):
                    item = {**item, "cluster_type": "k8s"}
                self._merge_item(item, "app_id", self.apps, EdasApplication)
            for item in seed.get("webplus_environments") or []:
                self._merge_item(item, "env_id", self.envs, WebPlusEnvironment)
            for item in seed.get("sae_applications") or []:
                self._merge_item(item, "app_id", self.sae_apps, SaeApplication)
            for item in seed.get("ram_roles") or []:
                if isinstance(item, dict) and isinstance(item.get("arn"), str):
                    item = {**item, "arn": item["arn"].lower()}
                self._merge_item(item, "arn", self.roles, RamRole)
            for item in seed.get("oidc_providers") or []:
                self._merge_item(item, "arn", self.oidc_providers, OidcProvider)
            if seed.get("sts") is not None:
                self.sts = self._merge_section(seed["sts"], "sts", self.sts)
            if seed.get("ecs_metadata") is not None:
                self.ecs_metadata = self._merge_section(
                    seed["ecs_metadata"], "ecs_metadata", self.ecs_metadata
                )

    @staticmethod
    def _merge_section(data: Any, where: str, current: Any) -> Any:
        """Merge a settings object (present fields override); a bad one changes nothing."""
        if not isinstance(data, dict):
            raise SeedError(f"{where} must be a JSON object")
        candidate = replace(current)
        _merge(candidate, data)
        candidate.validate()
        return candidate

    @staticmethod
    def _merge_item(item: Any, id_field: str, table: dict[str, Any], cls: type) -> None:
        if not isinstance(item, dict) or not item.get(id_field):
            raise SeedError(f"each {cls.__name__} needs a non-empty {id_field!r}")
        existing = table.get(item[id_field])
        if existing is None:
            try:
                candidate = _build(cls, item)
            except TypeError as exc:
                raise SeedError(f"{cls.__name__}: {exc}") from None
        else:
            candidate = replace(existing)
            _merge(candidate, item)
        validate = getattr(candidate, "validate", None)
        if validate is not None:
            validate()  # a bad item changes nothing
        table[item[id_field]] = candidate

    def reset(self) -> None:
        """Forget everything (accounts, targets, changes)."""
        with self.lock:
            self.default_change_duration_s = DEFAULT_CHANGE_DURATION_S
            self.accounts.clear()
            self.apps.clear()
            self.envs.clear()
            self.change_orders.clear()
            self.env_changes.clear()
            self.sae_apps.clear()
            self.sae_orders.clear()
            self.roles.clear()
            self.oidc_providers.clear()
            self.sts = StsSettings()
            self.ecs_metadata = EcsMetadata()

    # -- serialisation -------------------------------------------------------------------

    def to_dict(self, redact: bool = True) -> dict[str, Any]:
        """The whole state as JSON-able data; secrets and tokens are masked if ``redact``."""
        with self.lock:
            accounts = []
            for account in self.accounts.values():
                data = asdict(account)
                if redact:
                    data["access_key_secret"] = "***"
                    if data["security_token"] is not None:
                        data["security_token"] = "***"
                accounts.append(data)
            return {
                "defaults": {"change_duration_s": self.default_change_duration_s},
                "accounts": accounts,
                "edas_applications": [asdict(a) for a in self.apps.values()],
                "webplus_environments": [asdict(e) for e in self.envs.values()],
                "edas_change_orders": [asdict(c) for c in self.change_orders.values()],
                "webplus_changes": [asdict(c) for c in self.env_changes.values()],
                "sae_applications": [asdict(a) for a in self.sae_apps.values()],
                "sae_change_orders": [asdict(c) for c in self.sae_orders.values()],
                "ram_roles": [asdict(r) for r in self.roles.values()],
                "oidc_providers": [
                    {**asdict(p), **({"hs256_key": "***"} if redact else {})}
                    for p in self.oidc_providers.values()
                ],
                "sts": asdict(self.sts),
                "ecs_metadata": asdict(self.ecs_metadata),
            }

    def load_dict(self, data: dict[str, Any]) -> None:
        """Replace the state with a document produced by :meth:`to_dict` (unredacted)."""
        with self.lock:
            self.reset()
            self.merge_seed(data)
            for item in data.get("edas_change_orders") or []:
                order = _build(EdasChangeOrder, item)
                self.change_orders[order.change_order_id] = order
            for item in data.get("webplus_changes") or []:
                change = _build(WebPlusChange, item)
                self.env_changes[change.change_id] = change
            for item in data.get("sae_change_orders") or []:
                sae_order = _build(SaeChangeOrder, item)
                self.sae_orders[sae_order.change_order_id] = sae_order

    def save(self) -> None:
        """Write the state file atomically, if persistence is on."""
        if not self.state_path:
            return
        with self.lock:
            text = json.dumps(self.to_dict(redact=False), indent=2, sort_keys=True)
            directory = os.path.dirname(os.path.abspath(self.state_path))
            fd, tmp = tempfile.mkstemp(prefix=".emulator-state-", dir=directory)
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as handle:
                    handle.write(text)
                os.replace(tmp, self.state_path)
            except BaseException:
                if os.path.exists(tmp):
                    os.unlink(tmp)
                raise

    def load(self) -> bool:
        """Load the state file if it exists; return whether it did."""
        if not self.state_path or not os.path.exists(self.state_path):
            return False
        with open(self.state_path, encoding="utf-8") as handle:
            self.load_dict(json.load(handle))
        return True

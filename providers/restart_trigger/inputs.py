"""The trigger's inputs and outputs by name, their defaults, and ``check`` of every field.

``check_inputs`` is what the provider's ``check`` runs at ``pulumi preview``: it returns the
normalized inputs (defaults filled in, targets in canonical form) and every failure as a
(property path, reason) pair that names the field and the fix. ``check_stack_config`` does the
same for the ``alicloud:*`` settings that can be judged without credentials.

Pure: no pulumi import, no API call.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from restart_trigger.aliyun import (
    MAX_REGION_LENGTH,
    CredentialsError,
    check_credential_config,
    parse_endpoints,
    validate_endpoint,
    validate_region,
)
from restart_trigger.targets import MAX_TARGETS, ParsedTargets, parse_targets
from restart_trigger.validation import Failures, clipped, is_number, is_unknown, show
from restart_trigger.verify import check_spec, effective, wants

DEFAULT_TIMEOUT = 1800
MAX_TIMEOUT = 24 * 3600
# The hash is a digest (hash_paths / hash_values give 71 characters): anything much longer is
# content passed by mistake, and the engine renders long values in every diff.
MAX_HASH_LENGTH = 256

# Inputs that tune how a restart runs; changing only these never restarts anything.
OPTIONS = (
    "restart_on_create",
    "wait",
    "timeout",
    "max_parallel",
    "canary",
    "max_failures",
    "region",
    "endpoint",
    "verify",
)
# The rollout controls, as the preview summary names them.
ROLLOUT_OPTIONS = ("max_parallel", "canary", "max_failures")
INPUTS = ("hash", "targets", *OPTIONS)
# Defaults filled in by check (so state shows what was in force).
DEFAULTS: dict[str, Any] = {"restart_on_create": False, "wait": True, "timeout": DEFAULT_TIMEOUT}
# Outputs that describe the restarts, carried over when an update does not restart. None is
# never stored (a null output reads as "[unknown]" in every preview): "" means "not yet".
RESTART_OUTPUTS = (
    "progress",
    "owed",
    "change_order_id",
    "change_order_ids",
    "request_ids",
    "statuses",
    "restarted_at",
    "restarted_hash",
)


def inputs_of(props: Mapping[str, Any]) -> dict[str, Any]:
    """The trigger's inputs out of a props dict (outputs carry them too)."""
    return {k: props.get(k) for k in INPUTS}


def check_inputs(news: Mapping[str, Any]) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """Normalize and check every input; return (inputs, failures)."""
    failures = Failures()
    inputs: dict[str, Any] = inputs_of(news)

    h = news.get("hash")
    if not is_unknown(h) and (not isinstance(h, str) or not h.strip()):
        failures.add(
            "hash",
            "must be a non-empty string, e.g. hash=hash_paths('config/api') or hash_values({...})",
        )
    elif isinstance(h, str) and len(h) > MAX_HASH_LENGTH:
        _add_unechoed(
            failures,
            "hash",
            f"is {len(h)} characters long, more than {MAX_HASH_LENGTH}: it must be a digest of "
            "the content, not the content; use hash=hash_paths('config/api') or "
            "hash_values({...}) (71 characters)",
            echo=_short(h),
        )

    parsed = parse_targets(news.get("targets"))
    inputs["targets"] = parsed.normalized
    failures.items.extend(parsed.failures.items)

    for name in ("restart_on_create", "wait"):
        value = news.get(name)
        if value is None:
            inputs[name] = DEFAULTS[name]
        elif not is_unknown(value) and not isinstance(value, bool):
            failures.add(name, f"must be true or false, got {show(value)}")

    timeout = news.get("timeout")
    if timeout is None:
        inputs["timeout"] = DEFAULTS["timeout"]
    elif not is_unknown(timeout):
        if not is_number(timeout):
            failures.add("timeout", f"must be a number of seconds, got {show(timeout)}")
        elif not 0 < timeout <= MAX_TIMEOUT:
            failures.add(
                "timeout",
                f"must be more than 0 and at most {MAX_TIMEOUT} seconds, got {show(timeout)}",
            )

    max_parallel = news.get("max_parallel")
    if max_parallel is not None and not is_unknown(max_parallel):
        if not _whole(max_parallel, 1):
            failures.add(
                "max_parallel",
                f"must be a whole number of at least 1 and at most {MAX_TARGETS} (or left out "
                f"for all at once), got {clipped(max_parallel)}",
            )
    _check_rollout(news, parsed.normalized, failures)
    inputs["verify"] = check_spec(news.get("verify"), "verify", failures)
    _check_verify(news, inputs["verify"], parsed, failures)

    region = news.get("region")
    if region is not None and not is_unknown(region):
        try:
            validate_region(region)
        except (TypeError, ValueError):
            reason = (
                f"{clipped(region)} is not a valid Alibaba Cloud region id (lowercase words "
                f"joined by '-', at most {MAX_REGION_LENGTH} characters, e.g. 'cn-hangzhou'); "
                "fix this trigger's region or leave it out to use alicloud:region"
            )
            _add_unechoed(failures, "region", reason, echo=_short(region))

    endpoint = news.get("endpoint")
    if endpoint is not None and not is_unknown(endpoint):
        try:
            inputs["endpoint"] = validate_endpoint(endpoint, field="endpoint")
        except (TypeError, ValueError) as exc:
            reason = str(exc).removeprefix("endpoint: ")
            _add_unechoed(failures, "endpoint", reason, echo=_echoable_endpoint(endpoint))

    return inputs, failures.items


def _echoable_endpoint(value: Any) -> bool:
    return not isinstance(value, str) or (_short(value) and "@" not in value)


def _short(value: Any) -> bool:
    return not isinstance(value, str) or len(value) <= ECHO_LIMIT


ECHO_LIMIT = 300
"""The engine prints a failing top-level property's value next to the reason (``property
region value {...} has a problem``). A value longer than this, or one that may hold
credentials (an endpoint with an ``@``), is reported without the property, its name leading
the reason, so the engine has nothing to echo."""


def _add_unechoed(failures: Failures, name: str, reason: str, *, echo: bool) -> None:
    if echo:
        failures.add(name, reason)
    else:
        failures.add("", f"{name}: {reason}")


def _whole(value: Any, low: int, high: int = MAX_TARGETS) -> bool:
    return is_number(value) and value == int(value) and low <= value <= high


def _check_rollout(news: Mapping[str, Any], targets: Any, failures: Failures) -> None:
    """``canary`` and ``max_failures``: whole numbers; a canary needs waits and targets."""
    max_failures = news.get("max_failures")
    if max_failures is not None and not is_unknown(max_failures) and not _whole(max_failures, 0):
        failures.add(
            "max_failures",
            f"must be a whole number of at least 0 and at most {MAX_TARGETS}: how many targets "
            f"may fail before no further target is started (default 0), got "
            f"{clipped(max_failures)}",
        )
    canary = news.get("canary")
    if canary is None or is_unknown(canary):
        return
    if not _whole(canary, 0):
        failures.add(
            "canary",
            f"must be a whole number of at least 0 and at most {MAX_TARGETS}: how many of the "
            "first targets restart, and must succeed, before any other starts (default 0), "
            f"got {clipped(canary)}",
        )
        return
    if canary and news.get("wait") is False:
        failures.add(
            "canary",
            "needs wait=true: a canary must be seen to succeed before the other targets "
            "start; set wait=true or leave canary out",
        )
    if canary and isinstance(targets, list) and not is_unknown(targets):
        if canary > len(targets):
            failures.add(
                "canary",
                f"is {int(canary)} but the trigger has {len(targets)} target(s): a canary is "
                "some of the targets, restarted before the others; use a smaller number",
            )


def _check_verify(
    news: Mapping[str, Any], verify: Any, parsed: ParsedTargets, failures: Failures
) -> None:
    """What ``verify`` needs of the rest: waits (a change must be seen to succeed before it is
    verified), and, for ``cloud: true``, kinds that can read their instances."""
    own = [(path, value) for value, path in parsed.verify.values() if value is not None]
    if news.get("wait") is False:
        if wants(verify):
            failures.add(
                "",
                "verify: needs wait=true: a target is verified once its change is seen to "
                "succeed; set wait=true or leave verify out",
            )
        for path, value in own:
            if wants(value):
                failures.add(path, "needs wait=true: set wait=true or leave verify out")
    for target in parsed.targets:
        value, _path = effective(verify, *parsed.verify.get(target.key, (None, "")))
        cloud = value.get("cloud") if isinstance(value, Mapping) else None
        if cloud is True and target.instances_action is None:
            failures.add(
                "",
                f"verify: cloud: true is not available for {target.key}: its kind reads no "
                "instances; use http probes for it",
            )


def check_stack_config(config: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The alicloud:* settings that can be judged without credentials, so that a typo there
    fails the preview instead of the first restart. Missing credentials are deliberately not
    reported: previews run without secrets (GitOps), and the deploy job may bring them."""
    failures = []
    region = config.get("alicloud:region")
    if region:
        try:
            validate_region(region)
        except ValueError as exc:
            failures.append(("alicloud:region", str(exc)))
    try:
        parse_endpoints(config.get("alicloud:endpoints"))
    except (CredentialsError, ValueError) as exc:
        failures.append(("alicloud:endpoints", str(exc)))
    failures += check_credential_config(config)
    return failures

"""Lost-answer recovery: was a restart whose answer was lost accepted?

Restarts are never blindly resent. ``send_restart`` sends one; when the request may have
reached the server but no usable answer came back (read timeout, connection dropped after
sending, a 5xx other than 503; see ``retryable.may_have_been_accepted``), it first asks the
service whether the restart was accepted, and only resends when it was not:

* EDAS (``find_edas_restart``, over ``ListRecentChangeOrder(AppId)``): a change order with
  ``Source`` ``pop``, a restart type (``CoTypeCode``/``CoType`` mentioning "restart"),
  ``CreateTime`` at or after the first uncertain send minus the tolerance, and an id the caller
  does not already know.
* Web+ (``find_webplus_restart``): ``DescribeAppEnvStatus(EnvId).LatestChangeId``, if it is
  new, must be a ``RestartApp`` change (``DescribeChange``) created at or after the send minus
  the tolerance.

If such a change exists its id is the result; if the check itself cannot finish (attempts or
deadline used up, or refused), ``RestartOutcomeUnknown`` names the target. Connection refused,
connect timeouts, throttling and 503 mean "not accepted", so those are simply retried.

This module never touches the wire: the client hands it one-attempt callables (``send``,
``find_accepted``) and the answers, so the rules read (and test) as plain functions.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from ..backoff import Tries
from .errors import AliyunError, InvalidResponseError, RestartOutcomeUnknown
from .retryable import is_retryable, may_have_been_accepted, retry_after_of, wait_before_retry

log = logging.getLogger(__name__)

SHANGHAI = timezone(timedelta(hours=8), "Asia/Shanghai")
"""EDAS writes naive 'YYYY-MM-DD HH:MM:SS' times in China Standard Time (UTC+8, no DST)."""


@dataclass(frozen=True)
class RestartResult:
    """What a restart call produced.

    Attributes:
        change_id: EDAS ``ChangeOrderId`` or Web+ ``EnvChange.ChangeId``.
        request_id: the server's ``RequestId`` of the accepted call; ``None`` when the answer
            was lost and the change was found by checking the service.
    """

    change_id: str
    request_id: str | None


# --- time parsing ---------------------------------------------------------------------------

_NUMBER = re.compile(r"^-?\d+(?:\.\d+)?$")


def _from_epoch(value: float) -> datetime:
    seconds = value / 1000.0 if abs(value) >= 1e11 else value
    return datetime.fromtimestamp(seconds, UTC)


def parse_time(value: Any) -> datetime | None:
    """Read a server timestamp leniently; ``None`` if it cannot be read.

    Accepts epoch milliseconds (or seconds) as numbers or digit strings, EDAS
    ``YYYY-MM-DD HH:MM:SS`` (taken as Asia/Shanghai, UTC+8) and ISO 8601 with or without an
    offset (naive values are also taken as UTC+8).
    """
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return _from_epoch(float(value))
    text = str(value).strip()
    if not text:
        return None
    if _NUMBER.match(text):
        return _from_epoch(float(text))
    try:
        parsed = datetime.fromisoformat(text.replace("/", "-"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=SHANGHAI)


def _clean_str(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


# --- "is this change our restart?" ----------------------------------------------------------


def looks_like_restart(order: Mapping[str, Any]) -> bool:
    """Whether an EDAS change order's type says restart (no type given: the other checks decide)."""
    labels = [_clean_str(order.get("CoTypeCode")), _clean_str(order.get("CoType"))]
    labels = [label for label in labels if label]
    if not labels:
        return True
    return any("restart" in label.lower() or "重启" in label for label in labels)


def find_edas_restart(
    orders: Iterable[Mapping[str, Any]], app_id: str, since: datetime, known: frozenset[str]
) -> str | None:
    """The newest of ``orders`` (``ListRecentChangeOrder`` items) that is our restart, or None."""
    matches: list[tuple[datetime, str]] = []
    for order in orders:
        change_id = _clean_str(order.get("ChangeOrderId"))
        created = parse_time(order.get("CreateTime"))
        source = _clean_str(order.get("Source"))
        order_app = _clean_str(order.get("AppId"))
        if (
            change_id
            and change_id not in known
            and created is not None
            and created >= since
            and (source is None or source.lower() == "pop")
            and (order_app is None or order_app == app_id)
            and looks_like_restart(order)
        ):
            matches.append((created, change_id))
    return max(matches)[1] if matches else None


def find_webplus_restart(
    env_status: Mapping[str, Any],
    describe_change: Callable[[str], Mapping[str, Any]],
    since: datetime,
    known: frozenset[str],
) -> str | None:
    """The environment's latest change if it is our restart, or None.

    ``env_status`` is the ``DescribeAppEnvStatus`` body; ``describe_change(change_id)`` returns
    the ``DescribeChange`` body of that change (one attempt).
    """
    section = env_status.get("EnvStatus")
    latest = _clean_str(section.get("LatestChangeId")) if isinstance(section, Mapping) else None
    if latest is None or latest in known:
        return None
    data = describe_change(latest)
    change = data.get("Change") if isinstance(data.get("Change"), Mapping) else {}
    action = _clean_str(change.get("ActionName"))
    created = parse_time(change.get("CreateTime"))
    if action is not None and action.lower() != "restartapp":
        return None
    if created is None or created < since:
        return None
    return latest


# --- the restart loop -----------------------------------------------------------------------


def send_restart(
    send: Callable[[], Mapping[str, Any]],
    *,
    action: str,
    target: str,
    extract: Callable[[Mapping[str, Any]], Any],
    find_accepted: Callable[[datetime], str | None],
    tries: Tries,
    wall_clock: Callable[[], float],
    outcome_tolerance: float,
) -> RestartResult:
    """Send a restart; on an uncertain outcome, check before resending.

    Args:
        send: one attempt of the restart call, returning its body.
        action: the API action, for messages (e.g. ``RestartApplication``).
        target: what is restarted, for messages (e.g. ``EDAS application app-1``).
        extract: reads the change id from the answer's body.
        find_accepted: one attempt of "is there a change since this time that is our restart?",
            returning its id or None.
        tries: the attempts of this restart (backoff, attempt limit, deadline); the check
            loop counts its own attempts under the same deadline.
        wall_clock: epoch seconds, to timestamp sends.
        outcome_tolerance: seconds of clock skew allowed when matching a CreateTime.
    """
    uncertain_since: float | None = None
    while True:
        tries.record_attempt()
        sent_at = wall_clock()
        try:
            data = send()
            change_id = _clean_str(extract(data))
            if change_id is None:
                raise InvalidResponseError(
                    200,
                    "InvalidResponse",
                    "the response has no change id",
                    data.get("RequestId"),
                    operation=action,
                )
            log.info("%s accepted for %s: change %s", action, target, change_id)
            return RestartResult(change_id, _clean_str(data.get("RequestId")))
        except AliyunError as err:
            if is_retryable(err) and may_have_been_accepted(err):
                if uncertain_since is None:
                    uncertain_since = sent_at
                since = datetime.fromtimestamp(uncertain_since, UTC) - timedelta(
                    seconds=outcome_tolerance
                )
                change_id = check_accepted(
                    find_accepted, since, tries.sibling(), action=action, target=target, cause=err
                )
                if change_id is not None:
                    log.warning(
                        "%s for %s: the answer was lost but change %s was found; using it",
                        action,
                        target,
                        change_id,
                    )
                    return RestartResult(change_id, None)
                log.warning("%s for %s was not accepted (%s)", action, target, err)
            wait_before_retry(tries, err)


def check_accepted(
    find_accepted: Callable[[datetime], str | None],
    since: datetime,
    tries: Tries,
    *,
    action: str,
    target: str,
    cause: AliyunError,
) -> str | None:
    """Ask the service whether our restart was accepted; raise if we cannot find out.

    Returns the change id, or None when the service shows no such change. Raises
    ``RestartOutcomeUnknown`` when the check fails for good (a final error, or no attempts or
    time left).
    """
    while True:
        tries.record_attempt()
        try:
            return find_accepted(since)
        except AliyunError as err:
            delay = tries.next_delay(retry_after_of(err)) if is_retryable(err) else None
            if delay is None:
                raise _outcome_unknown(action, target, cause, err) from err
            log.warning("checking %s outcome for %s: %s; retrying", action, target, err)
            tries.wait(delay)


def _outcome_unknown(
    action: str, target: str, cause: AliyunError, check_error: AliyunError
) -> RestartOutcomeUnknown:
    return RestartOutcomeUnknown(
        target,
        f"{action} for {target} may have been accepted ({cause.code}: {cause.message}), "
        f"and checking whether it was failed ({check_error.code}: {check_error.message}). "
        f"Check the recent changes of {target} before restarting it again.",
        operation=action,
        cause=check_error,
    )

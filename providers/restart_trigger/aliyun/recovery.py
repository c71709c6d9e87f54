"""Lost-answer recovery: a restart whose answer was lost is looked up, and only ours is adopted.

``send_until_known`` sends a restart and follows these rules:

1. **Snapshot before every send.** Immediately before each attempt it records which changes
   of the target exist (the kind's ``ChangeList.snapshot``: e.g. every ``ChangeOrderId`` that
   EDAS's ``ListRecentChangeOrder`` lists). If the snapshot cannot be taken (its read fails
   after its own retries), the restart is not sent: that costs one attempt of the restart,
   which is retried like a throttled send; when attempts or time run out, the read's error is
   raised and the restart stays owed. Cost: one extra read per restart attempt.
2. **Only an uncertain outcome is looked up.** Refused connections, connect timeouts,
   throttling, 503 and 4xx mean "not accepted" (retried or raised as usual). Sent without a
   usable answer (read timeout, reset after sending, truncated or unreadable body, cut at the
   deadline) or an answered 5xx other than 503 (``retryable.may_have_been_accepted``) is
   uncertain.
3. **Candidates are new restarts.** After an uncertain outcome the changes are looked at
   again; a candidate is a restart-type change that is not in the snapshot and not among
   ``known_change_ids`` (the kind's ``ChangeList.candidates``: what "restart-type" and "of
   this target" mean is each kind's own). A change that existed before the send is never
   ours, however recent it is.
4. **Exactly one candidate is adopted**; its id is the result.
5. **More than one: ``RestartOutcomeUnknown``** naming the target and the candidates. Which
   one is ours cannot be told apart, so none is adopted and nothing is resent.
6. **None yet: wait and look again** (``LOOK_BACKOFF``) until the settle window, measured
   from the send, has passed. After a transport loss it is ``DEFAULT_SETTLE_WINDOW``, 60 s:
   more than the 30 s read timeout plus gateway slack, so a server that applies a restart
   after our read timed out has had the time to show it. After an answered 5xx the server has
   finished with the request, so ``ANSWERED_SETTLE_WINDOW`` (5 s) only covers a list that
   lags the write. The deadline always caps the window: when it comes first,
   ``RestartOutcomeUnknown`` says the deadline passed.
7. **None after the window: resent** as a normal retry (after a new snapshot). The window is
   the bound of the guarantee: a server that holds a request longer than it before applying
   it could still apply it after the resend (the README says so). The window ends only with
   a look that worked: a throttled or failed look is repeated, past the window if need be,
   until one works or the deadline comes. A look that fails for good (a final error such as
   a refused permission) is ``RestartOutcomeUnknown``: then nothing is resent.

No server time (``CreateTime``) and no time zone is read: ownership is decided by change ids
alone, so clock skew between us and the service cannot matter.

This module never touches the wire and knows no kind of target: the client hands it
one-attempt callables (``send``, ``look``) and the snapshot, built from the target kind's
``ChangeList`` (each kind's rules 1 and 3 live in its module in ``restart_trigger.targets``),
so the rules read (and test) as plain functions.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Protocol

from ..backoff import Backoff, Deadline, Tries
from ..stopping import STOP
from ..validation import logger
from .errors import (
    AliyunError,
    InvalidResponseError,
    RestartOutcomeUnknown,
    ServerError,
)
from .params import clean_str
from .retryable import is_retryable, may_have_been_accepted, wait_before_retry
from .transport import Operation

log = logger(__name__)

DEFAULT_SETTLE_WINDOW = 60.0
"""Seconds after a send during which a restart with an uncertain outcome may still show up.

It must exceed the read timeout (30 s, ``transport.DEFAULT_TIMEOUT``) plus gateway slack: a
server that applies the restart just after our read gave up must have had the time to list
it before we conclude anything. The deadline always caps it."""

ANSWERED_SETTLE_WINDOW = 5.0
"""The settle window after an answered 5xx: the server wrote its answer, so it is done with the
request; a few seconds cover a change list that lags the write. (A 500 on every restart would
otherwise cost a minute per attempt.)"""

LOOK_BACKOFF = Backoff(first=1.0, factor=2.0, cap=10.0)
"""Waits between looks in the settle window: 1, 2, 4, 8, 10, 10, ... s (exact, no jitter)."""


@dataclass(frozen=True)
class RestartResult:
    """What a restart call produced.

    Attributes:
        change_id: EDAS ``ChangeOrderId``, Web+ ``EnvChange.ChangeId`` or SAE
            ``Data.ChangeOrderId``.
        request_id: the server's ``RequestId`` of the accepted call; ``None`` when the answer
            was lost and the change was found by looking at the service.
    """

    change_id: str
    request_id: str | None


# --- how one kind's changes are listed ------------------------------------------------------

Reader = Callable[[Operation, Mapping[str, str]], dict]
"""Sends one read operation with its query and returns the answer's body (the client hands a
retrying reader to ``snapshot`` and a one-attempt reader to ``candidates``)."""


def new_orders(
    orders: Iterable[Mapping[str, Any]],
    app_id: str,
    before: frozenset[str],
    known: frozenset[str],
    is_restart: Callable[[Mapping[str, Any]], bool],
) -> list[str]:
    """The ``ChangeOrderId`` of each listed order that may be our restart: new since
    ``before``, not in ``known``, of this app (``AppId``, when given) and a restart by the
    kind's own rule ``is_restart``; each once, in list order."""
    found: list[str] = []
    for order in orders:
        change_id = clean_str(order.get("ChangeOrderId"))
        order_app = clean_str(order.get("AppId"))
        if (
            change_id
            and change_id not in before
            and change_id not in known
            and (order_app is None or order_app == app_id)
            and is_restart(order)
            and change_id not in found
        ):
            found.append(change_id)
    return found


class ChangeList(Protocol):
    """What one kind of target knows about its changes, for lost-answer recovery: each target
    module (``restart_trigger.targets``) has one; this module and the client only call it.

    ``snapshot`` lists the ids of the target's changes that exist now (rule 1);
    ``candidates`` the ids, new since ``before`` and not in ``known``, that may be our restart
    (rule 3). ``label`` names the target in messages (``EDAS application app-1``),
    ``where_to_look`` what a person should look at when the outcome is unknown."""

    restart_action: str

    def label(self, ident: str) -> str: ...

    def where_to_look(self, ident: str) -> str: ...

    def snapshot(self, read: Reader, ident: str) -> frozenset[str]: ...

    def candidates(
        self, read: Reader, ident: str, before: frozenset[str], known: frozenset[str]
    ) -> list[str]: ...


# --- the restart loop -----------------------------------------------------------------------


class SendRecord(Protocol):
    """Told about each restart send of one target (the send journal, ``journal``): just
    before it is sent, with the snapshot taken before it and the wall-clock time; the change
    id once it is known (answered, or found after a lost answer); and that it was not
    accepted (refused, or not sent at all), when the service said so."""

    def sending(self, snapshot: frozenset[str], sent_at: float) -> None: ...

    def accepted(self, change_id: str) -> None: ...

    def not_accepted(self) -> None: ...


SEND_RECORD: ContextVar[SendRecord | None] = ContextVar("restart_send_record", default=None)
"""The record of the restart being sent on this thread (set by the runner per target)."""


def answered_failure(error: AliyunError) -> bool:
    """Whether the server answered that the call failed (a 5xx it wrote), as opposed to an
    answer that never arrived or could not be read."""
    return isinstance(error, ServerError) and not isinstance(error, InvalidResponseError)


def send_until_known(
    send: Callable[[], Mapping[str, Any]],
    *,
    action: str,
    target: str,
    where_to_look: str,
    extract: Callable[[Mapping[str, Any]], Any],
    snapshot: Callable[[], frozenset[str]],
    look: Callable[[frozenset[str]], list[str]],
    tries: Tries,
    settle_window: float = DEFAULT_SETTLE_WINDOW,
    look_backoff: Backoff = LOOK_BACKOFF,
    wall: Callable[[], float] = time.time,
) -> RestartResult:
    """Send a restart following the module's rules; return its change id or raise.

    Each send is told to the ``SEND_RECORD`` of this thread (if any) before it goes out, and
    its change id once known; no send begins once the process was asked to stop
    (``stopping.STOP``: ``EngineGone``). A ``RestartOutcomeUnknown`` carries the snapshot
    taken before the send (``snapshot``), the send's wall-clock time (``sent_at``) and the
    settle window that applied (``settle_window``), so a later update can resolve it.

    Args:
        send: one attempt of the restart call, returning its body.
        action: the API action, for messages (e.g. ``RestartApplication``).
        target: what is restarted, for messages (e.g. ``EDAS application app-1``).
        where_to_look: what a person should look at when the outcome is unknown (e.g. "the change
            orders of EDAS application app-1 in the EDAS console").
        extract: reads the change id from the answer's body.
        snapshot: the ids of the target's changes that exist now, with its own retries; its
            error is raised as is (nothing is sent then).
        look: one attempt of "which changes, new since this snapshot, may be our restart?".
        tries: the attempts of this restart (backoff, attempt limit, deadline).
        settle_window: seconds after a send during which a lost restart may still show up.
        look_backoff: waits between looks inside the settle window.
        wall: the wall clock (epoch seconds) recorded with each send.
    """
    deadline = tries.deadline
    record = SEND_RECORD.get()
    while True:
        tries.record_attempt()
        try:
            before = snapshot()
        except AliyunError as err:
            # nothing was sent: a snapshot that still fails after its own retries costs this
            # attempt of the restart, which is retried as patiently as a refused send
            wait_before_retry(tries, err)
            continue
        sent_at = deadline.clock()
        try:
            with STOP.sending():
                if record is not None:
                    record.sending(before, wall())
                data = send()
            change_id = clean_str(extract(data))
            if change_id is None:
                raise InvalidResponseError(
                    200,
                    "InvalidResponse",
                    "the response has no change id",
                    data.get("RequestId"),
                    operation=action,
                )
            log.info("%s accepted for %s: change %s", action, target, change_id)
            if record is not None:
                record.accepted(change_id)
            return RestartResult(change_id, clean_str(data.get("RequestId")))
        except AliyunError as err:
            if record is not None and not may_have_been_accepted(err):
                record.not_accepted()
            if is_retryable(err) and may_have_been_accepted(err):
                window = (
                    min(settle_window, ANSWERED_SETTLE_WINDOW)
                    if answered_failure(err)
                    else settle_window
                )
                outcome = _LostAnswer(action, target, where_to_look, err, deadline, window)
                try:
                    change_id = outcome.settle(look, before, sent_at, look_backoff)
                except RestartOutcomeUnknown as unknown:
                    unknown.snapshot = before
                    unknown.sent_at = wall() - (deadline.clock() - sent_at)
                    unknown.settle_window = window
                    raise
                if change_id is not None:
                    if record is not None:
                        record.accepted(change_id)
                    log.warning(
                        "%s for %s: the answer was lost but the new restart %s was found; using it",
                        action,
                        target,
                        change_id,
                    )
                    return RestartResult(change_id, None)
                if record is not None:
                    # a whole window showed nothing: this send did not land, and a later
                    # update must not wait for it again (the journal forgets it)
                    record.not_accepted()
                log.warning(
                    "%s for %s failed (%s) and no new restart appeared within %gs; resending",
                    action,
                    target,
                    err,
                    window,
                )
            wait_before_retry(tries, err)


def find_earlier_restart(
    look: Callable[[frozenset[str]], list[str]],
    *,
    before: frozenset[str],
    sent_at: float,
    settle_window: float,
    deadline: Deadline,
    action: str,
    target: str,
    where_to_look: str,
    wall: Callable[[], float] = time.time,
    look_backoff: Backoff = LOOK_BACKOFF,
) -> str | None:
    """Resolve a restart an earlier update sent without learning its outcome (kept in state,
    or in the send journal): ``before`` is the snapshot taken before that send, ``sent_at``
    its wall-clock time. The rules of a lost answer apply, with the settle window measured
    from that send: exactly one restart absent from ``before`` (and not known) is adopted
    (its id); none once the window has passed means it never landed (None: restart anew);
    several, or a deadline that comes first, raise ``RestartOutcomeUnknown`` (nothing is
    sent). Nothing is ever adopted that was listed before that send."""
    elapsed = max(0.0, wall() - sent_at)
    cause = RestartOutcomeUnknown(
        target,
        "an earlier `pulumi up` sent this restart and never learned its outcome",
        operation=action,
    )
    outcome = _LostAnswer(action, target, where_to_look, cause, deadline, settle_window)
    try:
        return outcome.settle(look, before, deadline.clock() - elapsed, look_backoff)
    except RestartOutcomeUnknown as unknown:
        unknown.snapshot, unknown.sent_at, unknown.settle_window = before, sent_at, settle_window
        raise


@dataclass
class _LostAnswer:
    """The settle window of one uncertain send, and the ``RestartOutcomeUnknown`` it may end in."""

    action: str
    target: str
    where_to_look: str
    cause: AliyunError
    deadline: Deadline
    settle_window: float

    def settle(
        self,
        look: Callable[[frozenset[str]], list[str]],
        before: frozenset[str],
        sent_at: float,
        backoff: Backoff,
    ) -> str | None:
        """Look until one candidate shows up (its id), or the window passes with none and the
        server said it failed (None); raise ``RestartOutcomeUnknown`` otherwise."""
        settle_until = sent_at + self.settle_window
        looks = 0
        look_error: AliyunError | None = None
        while True:
            if self.deadline.remaining() <= 0:
                raise self._deadline_passed(look_error)
            looks += 1
            try:
                found = list(dict.fromkeys(look(before)))
                look_error = None
            except AliyunError as err:
                if not is_retryable(err):
                    raise self._look_failed(err) from err
                log.warning("looking for %s of %s: %s", self.action, self.target, err)
                found, look_error = [], err
            if len(found) == 1:
                return found[0]
            if len(found) > 1:
                raise self._several(found)
            left = settle_until - self.deadline.clock()
            if left <= 0 and look_error is None:
                break  # a whole window, ending with a look that worked, showed nothing
            # a look that failed (throttled, 5xx) proves nothing: look again, past the
            # window's end if need be, until one works or the deadline comes
            delay = backoff.delay(looks) if left <= 0 else min(backoff.delay(looks), left)
            if not self.deadline.allows(delay):
                raise self._deadline_passed(look_error)
            self.deadline.sleep(delay)
        return None

    # -- the messages ------------------------------------------------------------------------

    def _unknown(
        self, text: str, cause: BaseException | None = None, candidates: Iterable[str] = ()
    ) -> RestartOutcomeUnknown:
        return RestartOutcomeUnknown(
            self.target,
            f"{self.action} for {self.target}: {text} Check {self.where_to_look} before "
            "restarting it again.",
            operation=self.action,
            cause=cause or self.cause,
            candidates=candidates,
        )

    def _what_happened(self) -> str:
        cause = self.cause
        return f"the restart was sent but its outcome is unknown ({cause.code}: {cause.message})"

    def _several(self, found: list[str]) -> RestartOutcomeUnknown:
        ids = ", ".join(found)
        return self._unknown(
            f"{self._what_happened()}, and {len(found)} new restarts appeared since it was sent "
            f"({ids}); which one is ours cannot be told apart, so none was adopted and the "
            "restart was not resent.",
            candidates=found,
        )

    def _deadline_passed(self, look_error: AliyunError | None) -> RestartOutcomeUnknown:
        failed = (
            f" (the last look failed: {look_error.code}: {look_error.message})"
            if look_error
            else ""
        )
        return self._unknown(
            f"{self._what_happened()}, and the deadline of {self.deadline.seconds:g}s passed "
            f"before a new restart could be found or ruled out{failed}; the restart may "
            "still be applied.",
            cause=look_error,
        )

    def _look_failed(self, err: AliyunError) -> RestartOutcomeUnknown:
        return self._unknown(
            f"{self._what_happened()}, and looking for it failed ({err.code}: {err.message}).",
            cause=err,
        )

"""Which failed attempts are worth another try, and the one place a loop retries or gives up.

The rules are pure functions of the error (like botocore's retry conditions):

* ``is_retryable``: throttling (``Throttling*`` codes, HTTP 429, ``x-acs-retry-after``), server
  errors (5xx, ``InternalError``, ``ServiceUnavailable``) and transport failures are worth
  another attempt; every other error is final.
* ``retry_after_of``: the wait the server asked for, if any.
* ``may_have_been_accepted``: could the server have acted on a request that ended this way?
  A restart that may have been accepted is checked (``recovery``), never blindly resent.

``wait_before_retry`` applies them to one loop's ``Tries`` (``restart_trigger.backoff``): it
waits the backoff (at least the server's retry-after) or re-raises when the error is final,
the attempts are used up or the wait would end past the deadline.
"""

from __future__ import annotations

from ..backoff import Tries
from ..validation import logger
from .errors import AliyunError, ServerError, ThrottlingError, TransportError

log = logger(__name__)


def is_retryable(error: BaseException) -> bool:
    """True for errors worth another attempt of an idempotent call.

    Throttling, server errors and transport failures are retryable; authentication,
    not-found and business errors are not.
    """
    return isinstance(error, ThrottlingError | ServerError | TransportError)


def retry_after_of(error: BaseException) -> float | None:
    """The server-requested wait carried by ``error``, if any."""
    return error.retry_after if isinstance(error, AliyunError) else None


def may_have_been_accepted(error: AliyunError) -> bool:
    """Could the server have acted on a request that ended with ``error``?

    Only when the request may have reached it and no answer says it was refused: a transport
    failure after sending, or a 5xx other than 503 (a gateway that says "unavailable" did not
    forward the call). Throttling and every 4xx are refusals.
    """
    if isinstance(error, TransportError):
        return error.sent
    if isinstance(error, ThrottlingError):
        return False
    if isinstance(error, ServerError):
        return not (error.http_status == 503 or error.code == "ServiceUnavailable")
    return False


def wait_before_retry(tries: Tries, error: AliyunError) -> None:
    """Wait before the next attempt of ``tries``, or raise ``error`` if there is none."""
    if not is_retryable(error):
        raise error
    delay = tries.next_delay(retry_after_of(error))
    if delay is None:
        log.warning("%s; giving up after %d attempt(s)", error, tries.attempts)
        raise error
    limit = tries.backoff.max_attempts
    of = f" of {limit}" if limit is not None else ""
    log.warning("%s; retrying in %.2fs (attempt %d%s)", error, delay, tries.attempts + 1, of)
    tries.wait(delay)

"""What the signers and the client need of credentials: ``Credentials`` (a key pair, the value
type) and ``CredentialsSource`` (where the current key pair comes from), and the one error
of the credential settings, ``CredentialsError``.

Pure: imports only the standard library, so every other module may import it (``auth``,
``sources``, ``profiles``, ``credentials``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from ..backoff import Deadline


class CredentialsError(ValueError):
    """Credentials or settings are missing, incomplete or malformed. Never contains secrets.

    ``key`` names the setting at fault (``alicloud:assumeRole.roleArn``, an environment
    variable, ``alicloud:profile``) when one is; ``missing`` is true when the error only says
    that credentials are not there (which a preview does not report)."""

    def __init__(self, message: str, *, key: str | None = None, missing: bool = False) -> None:
        super().__init__(message)
        self.key = key
        self.missing = missing


def _mask(value: str | None) -> str | None:
    return None if value is None else "****"


def short_key_id(key_id: str) -> str:
    """An AccessKey id as logs and reprs show it: its first four characters, when long."""
    return key_id[:4] + "****" if len(key_id) > 8 else "****"


@dataclass(frozen=True, repr=False)
class Credentials:
    """An AccessKey pair, optionally with an STS security token.

    Attributes:
        access_key_id: the AccessKey id (not secret, but shown only partially).
        access_key_secret: the AccessKey secret; never shown by ``repr``/``str``.
        security_token: STS token for temporary credentials, or ``None`` (default).
        expiration: when temporary credentials expire (epoch seconds), or ``None``.

    A ``Credentials`` is its own ``CredentialsSource``: ``current()`` returns itself.
    """

    access_key_id: str
    access_key_secret: str
    security_token: str | None = None
    expiration: float | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if not self.access_key_id or not self.access_key_secret:
            raise CredentialsError("Credentials need both an access key id and a secret")

    def current(self, deadline: Deadline | None = None) -> Credentials:
        return self

    def secrets(self) -> tuple[str, ...]:
        return tuple(s for s in (self.access_key_secret, self.security_token) if s)

    def __repr__(self) -> str:
        return (
            f"Credentials(access_key_id={short_key_id(self.access_key_id)!r}, "
            f"access_key_secret='****', security_token={_mask(self.security_token)!r})"
        )

    __str__ = __repr__


class CredentialsSource(Protocol):
    """What ``auth`` and ``AliyunClient`` sign with: a ``Credentials``, or a provider of
    temporary ones (``sources``) that renews them before they expire.

    ``current`` is asked before every attempt (``deadline`` bounds a renewal that is due);
    ``secrets`` is every secret value handed out so far, scrubbed from error texts."""

    def current(self, deadline: Deadline | None = None) -> Credentials: ...

    def secrets(self) -> tuple[str, ...]: ...

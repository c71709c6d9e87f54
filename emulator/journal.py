"""An in-memory, ordered record of every product, STS and metadata-service request.

Entries never hold a secret, a security token, an OIDC token or the Authorization header:
only the fields listed in :data:`ENTRY_FIELDS`, and query/form parameters with sensitive
names scrubbed. STS and metadata entries name the role, the session and the access key id
they issued (never its secret or token).
"""

from __future__ import annotations

import threading
from typing import Any

#: The keys of a journal entry, in order.
ENTRY_FIELDS = (
    "seq",
    "time",
    "method",
    "path",
    "product",
    "action",
    "query",
    "form",
    "access_key_id",
    "signature",
    "region",
    "status",
    "code",
    "fault",
    "applied",
    "request_id",
    "result_id",
    "role_arn",
    "role_session_name",
    "issued_access_key_id",
)

#: Parameter names whose values are never recorded.
SENSITIVE_PARAMS = frozenset(
    {
        "signature",
        "securitytoken",
        "accesskeysecret",
        "authorization",
        "x-acs-security-token",
        "oidctoken",
    }
)


def scrub(params: dict[str, str]) -> dict[str, str]:
    """Copy parameters, masking any whose name looks sensitive."""
    return {k: ("***" if k.lower() in SENSITIVE_PARAMS else v) for k, v in params.items()}


class Journal:
    """Thread-safe append-only list of request records with a monotonically rising ``seq``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: list[dict[str, Any]] = []
        self._seq = 0

    def record(self, **values: Any) -> dict[str, Any]:
        """Append an entry built from the known fields; unknown keys are rejected."""
        unknown = set(values) - set(ENTRY_FIELDS)
        if unknown:
            raise KeyError(f"unknown journal fields: {sorted(unknown)}")
        with self._lock:
            self._seq += 1
            entry = {name: values.get(name) for name in ENTRY_FIELDS}
            entry["seq"] = self._seq
            entry["query"] = scrub(entry["query"] or {})
            entry["form"] = scrub(entry["form"] or {})
            self._entries.append(entry)
            return dict(entry)

    def entries(self, since: int = 0) -> list[dict[str, Any]]:
        """Entries with ``seq`` greater than ``since``, oldest first."""
        with self._lock:
            return [dict(e) for e in self._entries if e["seq"] > since]

    def clear(self) -> None:
        """Forget all entries (``seq`` keeps rising)."""
        with self._lock:
            self._entries.clear()

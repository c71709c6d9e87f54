"""Let the Python dynamic-provider server run more than 4 operations at a time.

Pulumi starts dynamic providers as ``python -m pulumi.dynamic``, a gRPC server whose thread pool
has 4 workers. A RestartTrigger that waits for its change orders holds one worker for the whole
wait, so 50 single-target triggers whose restarts take T each would need about 50/4 x T, every
other trigger queued behind four waits.

The waits are I/O (sleeps between status calls), so more threads cost next to nothing. When the
provider is configured inside that server process, :func:`widen` raises the pool's worker limit
(``ThreadPoolExecutor`` starts threads lazily, up to its limit, on each submitted call). It
changes nothing anywhere else (the program process, tests, other hosts), never lowers a limit,
and if the server ever stops looking as expected it does nothing: triggers still work, only
slower. ``RESTART_TRIGGER_PROVIDER_WORKERS`` sets the limit (default 64; 0 or 4 turns it off).
"""

from __future__ import annotations

import gc
import os
import sys
from concurrent.futures import ThreadPoolExecutor

DEFAULT_WORKERS = 64
_SERVER_MODULE = "pulumi.dynamic.__main__"


def in_dynamic_provider_server() -> bool:
    """True inside ``python -m pulumi.dynamic`` (the process the engine starts)."""
    spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    return getattr(spec, "name", None) == _SERVER_MODULE


def widen(workers: int | None = None) -> int:
    """Raise the server's worker limit to ``workers``; return how many pools were widened."""
    if workers is None:
        raw = os.environ.get("RESTART_TRIGGER_PROVIDER_WORKERS", "")
        workers = int(raw) if raw.strip().isdigit() else DEFAULT_WORKERS
    if workers <= 0 or not in_dynamic_provider_server():
        return 0
    widened = 0
    for obj in gc.get_objects():
        # The server's pool is the only one made with the default thread-name prefix; ours
        # (and any other this package makes) are named.
        if (
            isinstance(obj, ThreadPoolExecutor)
            and getattr(obj, "_thread_name_prefix", "").startswith("ThreadPoolExecutor-")
            and isinstance(getattr(obj, "_max_workers", None), int)
            and obj._max_workers < workers
        ):
            obj._max_workers = workers
            widened += 1
    return widened

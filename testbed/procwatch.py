"""Peak threads and memory of the dynamic-provider process of one stack's `pulumi up`.

The engine starts the provider (`python -m pulumi.dynamic`) itself, so it is found through
/proc: a process whose command line names `pulumi.dynamic` and whose environment holds the
marker `RT_WATCH=<mark>` that the stack's env carries (the engine passes its environment on).
Linux only; sampled every 0.1 s, so a peak shorter than that can be missed (VmHWM, the
kernel's own peak RSS, cannot).
"""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path
from types import TracebackType

MARK_VARIABLE = "RT_WATCH"


def _status_field(text: str, name: str) -> int:
    for line in text.splitlines():
        if line.startswith(name + ":"):
            return int(line.split()[1])
    return 0


class ProviderWatch:
    """``with ProviderWatch() as watch: stack.up()`` with ``watch.env`` in the stack's env;
    then ``watch.peak_threads`` and ``watch.peak_rss_kib``."""

    def __init__(self) -> None:
        self.mark = uuid.uuid4().hex
        self.env = {MARK_VARIABLE: self.mark}
        self.peak_threads = 0
        self.peak_rss_kib = 0
        self.seen = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _processes(self) -> list[Path]:
        needle = f"{MARK_VARIABLE}={self.mark}".encode()
        found = []
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit():
                continue
            try:
                if b"pulumi.dynamic" in (proc / "cmdline").read_bytes() and needle in (
                    proc / "environ"
                ).read_bytes().split(b"\0"):
                    found.append(proc)
            except OSError:
                continue
        return found

    def _run(self) -> None:
        while not self._stop.is_set():
            for proc in self._processes():
                try:
                    status = (proc / "status").read_text()
                except OSError:
                    continue
                self.seen += 1
                self.peak_threads = max(self.peak_threads, _status_field(status, "Threads"))
                self.peak_rss_kib = max(self.peak_rss_kib, _status_field(status, "VmHWM"))
            time.sleep(0.1)

    def __enter__(self) -> ProviderWatch:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join()

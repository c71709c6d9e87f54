"""Throughput benchmark: ``restart_trigger.hashing.hash_paths`` against ``sha256sum``.

Generates a tree of files in a temporary directory (default 10,000 files, about 500 MB, a
mix of many small config-like files, some medium ones and a few large ones; deterministic
for a given ``--seed``), warms the page cache with one untimed pass of each contender, then
times, interleaved, ``--runs`` runs (default 5) of:

* ``hash_paths(DIR)`` in this process, and
* ``find DIR -type f -print0 | xargs -0 sha256sum > /dev/null``: GNU ``sha256sum`` over
  the same bytes, file by file (the usual way to fingerprint a tree from a shell; like
  ``hash_paths`` it opens and digests each file separately). Its process start-up is part
  of what it costs and is included.

It prints files, bytes, the median seconds and MB/s (10**6 bytes per second) of each, and
the throughput ratio hash_paths/sha256sum (above 1: hash_paths is faster), and, as a
reference, single-threaded hashlib sha256 over an in-memory buffer (what sha256 itself costs
here: a ``sha256sum`` built without a SHA-extensions implementation is much slower). Memory is shown
twice: the peak RSS of a fresh interpreter that imports the module and hashes the tree
once, next to one that only imports it, and the tracemalloc peak of the Python heap during
one hash (neither grows with file size).

Usage::

    .venv/bin/python bench/hash_paths_bench.py                      # 10,000 files, ~500 MB
    .venv/bin/python bench/hash_paths_bench.py --files 2000 --total-mb 100
    .venv/bin/python bench/hash_paths_bench.py --dir /tmp/tree --keep  # generate and keep
    .venv/bin/python bench/hash_paths_bench.py --dir /tmp/tree         # reuse it

``main(argv)`` is importable and returns the results as a dict (also written as JSON with
``--json PATH``).
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType

REPO_ROOT = Path(__file__).resolve().parent.parent
HASHING_PY = REPO_ROOT / "providers" / "restart_trigger" / "hashing.py"


def _load_hashing() -> ModuleType:
    """Load providers/restart_trigger/hashing.py by path: the module alone, as measured."""
    spec = importlib.util.spec_from_file_location("_bench_hashing", HASHING_PY)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


hash_paths = _load_hashing().hash_paths

MARKER = ".hash_paths_bench.json"  # written into a generated tree; excluded when hashing
SHA256SUM_CMD = 'find "$1" -type f ! -name {marker} -print0 | xargs -0 sha256sum > /dev/null'


def _sizes(files: int, total_bytes: int, rng: random.Random) -> list[int]:
    """A realistic mix: ~85% small (0.1-16 KiB), ~14% medium (16 KiB-1 MiB), ~1% large.

    Small and medium files keep their drawn sizes (scaled down only if they alone would
    exceed the total); the large files share whatever is left of ``total_bytes``.
    """
    n_large = max(1, files // 100)
    n_medium = max(0, (files * 14) // 100)
    n_small = max(0, files - n_large - n_medium)
    small = [int(rng.lognormvariate(8.0, 1.0)) % (16 * 1024) + 100 for _ in range(n_small)]
    medium = [rng.randint(16 * 1024, 1024 * 1024) for _ in range(n_medium)]
    fixed = sum(small) + sum(medium)
    if fixed > total_bytes * 0.8:  # leave at least 20% for the large files
        scale = total_bytes * 0.8 / fixed
        small = [max(1, int(s * scale)) for s in small]
        medium = [max(1, int(s * scale)) for s in medium]
        fixed = sum(small) + sum(medium)
    rest = total_bytes - fixed
    weights = [rng.uniform(0.5, 1.5) for _ in range(n_large)]
    large = [int(rest * w / sum(weights)) for w in weights]
    sizes = small + medium + large
    rng.shuffle(sizes)
    return sizes


def generate_tree(directory: Path, files: int, total_mb: float, seed: int) -> tuple[int, int]:
    """Write ``files`` files totalling about ``total_mb`` MB under ``directory``.

    Files are spread over nested directories (up to three levels, ~50 files per directory).
    Returns ``(number of files, number of bytes)``.
    """
    rng = random.Random(seed)
    sizes = _sizes(files, int(total_mb * 1_000_000), rng)
    n_dirs = max(1, files // 50)
    dirs = []
    for d in range(n_dirs):
        depth = rng.randint(1, 3)
        parts = [f"d{d % 7}", f"e{d % 13}", f"svc{d}"][:depth] + [f"g{d}"]
        dirs.append(directory.joinpath(*parts))
    block = rng.randbytes(1 << 20)  # contents: a rotated random block, cheap to generate
    total = 0
    for i, size in enumerate(sizes):
        path = dirs[i % n_dirs] / f"file{i:05d}{rng.choice(['.yaml', '.json', '.conf', '.bin'])}"
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "wb") as f:
            left, offset = size, (i * 7919) % len(block)
            f.write(i.to_bytes(8, "big")[: min(8, left)])  # make every file distinct
            left -= min(8, left)
            while left > 0:
                chunk = block[offset : offset + left]
                f.write(chunk)
                left -= len(chunk)
                offset = 0
        total += size
    (directory / MARKER).write_text(
        json.dumps({"files": files, "bytes": total, "seed": seed}), encoding="utf-8"
    )
    return files, total


def _tree_stats(directory: Path) -> tuple[int, int]:
    n = size = 0
    for dirpath, _dirnames, filenames in os.walk(directory):
        for name in filenames:
            if name != MARKER:
                n += 1
                size += os.stat(os.path.join(dirpath, name)).st_size
    return n, size


def _time(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _rss_of_child(code: str) -> int:
    """Peak RSS (bytes) of a fresh interpreter that loads hashing.py as ``h`` and runs ``code``.

    Reads ``VmHWM`` from ``/proc/self/status`` where it exists: ``ru_maxrss`` survives
    ``exec`` on Linux and would report this (larger) parent process instead.
    """
    prog = (
        "import importlib.util, resource, sys\n"
        f"spec = importlib.util.spec_from_file_location('h', {str(HASHING_PY)!r})\n"
        "h = importlib.util.module_from_spec(spec)\n"
        "spec.loader.exec_module(h)\n"
        f"{code}\n"
        "try:\n"
        "    status = open('/proc/self/status').read().split('VmHWM:')[1]\n"
        "    print(int(status.split()[0]) * 1024)\n"
        "except (OSError, IndexError):\n"
        "    kib = 1 if sys.platform == 'darwin' else 1024\n"
        "    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * kib)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", prog], check=True, capture_output=True, text=True
    ).stdout
    return int(out.split()[-1])


def _memory_sha256_MBps(size: int = 64 * 1024 * 1024, runs: int = 5) -> float:
    """hashlib sha256 over an in-memory buffer: the ceiling for any file hashing here."""
    data = bytes(range(256)) * (size // 256)
    return size / statistics.median(_time(lambda: hashlib.sha256(data)) for _ in range(runs)) / 1e6


def run_benchmark(directory: Path, runs: int) -> dict[str, object]:
    """Time ``hash_paths`` and ``sha256sum`` over ``directory``; return the results."""
    files, size = _tree_stats(directory)
    exclude = [MARKER]
    sha_cmd = ["sh", "-c", SHA256SUM_CMD.format(marker=MARKER), "sh", str(directory)]

    def ours() -> None:
        hash_paths(directory, exclude=exclude)

    def theirs() -> None:
        subprocess.run(sha_cmd, check=True)

    ours()  # untimed warm-up: page cache, imports, regex compilation
    theirs()
    t_ours, t_theirs = [], []
    for _ in range(runs):  # interleaved so drifts hit both alike
        t_ours.append(_time(ours))
        t_theirs.append(_time(theirs))

    tracemalloc.start()
    ours()
    _, heap_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss_base = _rss_of_child("pass")
    rss_hash = _rss_of_child(f"h.hash_paths({str(directory)!r}, exclude={exclude!r})")
    ceiling = _memory_sha256_MBps()

    med_ours, med_theirs = statistics.median(t_ours), statistics.median(t_theirs)
    return {
        "files": files,
        "bytes": size,
        "runs": runs,
        "hash_paths_s": med_ours,
        "sha256sum_s": med_theirs,
        "hash_paths_MBps": size / med_ours / 1e6,
        "sha256sum_MBps": size / med_theirs / 1e6,
        "ratio": med_theirs / med_ours,
        "sha256_in_memory_MBps": ceiling,
        "hash_paths_runs_s": t_ours,
        "sha256sum_runs_s": t_theirs,
        "peak_rss_bytes": rss_hash,
        "baseline_rss_bytes": rss_base,
        "tracemalloc_peak_bytes": heap_peak,
        "sha256sum_command": SHA256SUM_CMD.format(marker=MARKER).replace('"$1"', "DIR"),
    }


def format_table(r: dict[str, object]) -> str:
    """Render the results of :func:`run_benchmark` as a small text table."""
    mib = 1024 * 1024
    lines = [
        f"files: {r['files']:,}   bytes: {r['bytes']:,} ({r['bytes'] / 1e6:,.1f} MB)"
        f"   runs: {r['runs']} (median shown, warm page cache)",
        "",
        f"{'':<12}{'median s':>10}{'MB/s':>10}",
        f"{'hash_paths':<12}{r['hash_paths_s']:>10.3f}{r['hash_paths_MBps']:>10.1f}",
        f"{'sha256sum':<12}{r['sha256sum_s']:>10.3f}{r['sha256sum_MBps']:>10.1f}",
        "",
        f"throughput ratio hash_paths/sha256sum: {r['ratio']:.2f}",
        f"reference: hashlib sha256 over an in-memory buffer, one thread: "
        f"{r['sha256_in_memory_MBps']:.0f} MB/s",
        f"peak RSS hashing: {r['peak_rss_bytes'] / mib:.1f} MiB "
        f"(interpreter + import only: {r['baseline_rss_bytes'] / mib:.1f} MiB); "
        f"tracemalloc peak during hash: {r['tracemalloc_peak_bytes'] / mib:.2f} MiB",
        f"sha256sum baseline: {r['sha256sum_command']}",
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> dict[str, object]:
    """Parse ``argv`` (default ``sys.argv[1:]``), run the benchmark, print and return results."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=10_000, help="files to generate (10000)")
    parser.add_argument("--total-mb", type=float, default=500, help="total size in MB (500)")
    parser.add_argument("--runs", type=int, default=5, help="timed runs per contender (5)")
    parser.add_argument("--seed", type=int, default=1, help="generator seed (1)")
    parser.add_argument(
        "--dir",
        type=Path,
        help="tree to use: reused if it holds a generated tree, else generated there "
        "(default: a fresh temporary directory)",
    )
    parser.add_argument("--keep", action="store_true", help="keep a generated tree")
    parser.add_argument("--json", type=Path, help="also write the results as JSON to this file")
    args = parser.parse_args(argv)
    if shutil.which("sha256sum") is None:
        parser.error("sha256sum is not on PATH")

    generated = False
    if args.dir is not None and (args.dir / MARKER).exists():
        directory = args.dir
        print(f"reusing {directory}", file=sys.stderr)
    else:
        if args.dir is not None:
            args.dir.mkdir(parents=True, exist_ok=True)
            if any(args.dir.iterdir()):
                parser.error(f"--dir {args.dir} is not empty and holds no generated tree")
            directory = args.dir
        else:
            directory = Path(tempfile.mkdtemp(prefix="hash_paths_bench-"))
        generated = True
        print(
            f"generating {args.files:,} files / {args.total_mb:,.0f} MB in {directory}",
            file=sys.stderr,
        )
        generate_tree(directory, args.files, args.total_mb, args.seed)
    try:
        results = run_benchmark(directory, args.runs)
    finally:
        if generated and not args.keep:
            shutil.rmtree(directory, ignore_errors=True)
        elif generated:
            print(f"kept {directory}", file=sys.stderr)
    print(format_table(results))
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return results


if __name__ == "__main__":
    main()

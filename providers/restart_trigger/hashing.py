"""Deterministic content hashes that drive restart triggers.

Two helpers, both returning ``"sha256:<64 lowercase hex digits>"``. This module uses the
standard library only (it does not import pulumi), so it can be used and tested on its own.

hash_paths(*paths, include=None, exclude=None, root=None, allow_empty=False)
=============================================================================

A hash of the *contents and relative names* of files, typically configuration folders.
It never depends on modification times, permissions, owners, the absolute location of the
tree, the order in which the operating system lists directories, or the order of the
arguments: the same tree gives the same hash on any machine and in any checkout location.

The selected files form a mapping ``{name: content}``; the hash is a function of that
mapping only.

Names
    A name is a POSIX relative path (``/`` separators, no ``.``/``..`` segments, no
    leading ``./``), taken lexically from the paths as given; symlink targets never appear
    in names.

    * ``root=None`` (default): the files of a directory argument are named relative to that
      directory, *without* the directory's own name (``hash_paths("config/api")`` names
      ``config/api/app.yaml`` as ``app.yaml``), so moving or renaming the folder does not
      change the hash, and ``config/api``, ``./config/api/`` and ``/abs/.../config/api`` are
      equivalent. A file argument is named by its base name (``config/app.yaml`` ->
      ``app.yaml``).
    * ``root="config"``: every name is the path relative to ``root``
      (``hash_paths("config/api", root="config")`` names it ``api/app.yaml``). Every
      argument must lie (lexically, after making both absolute) inside ``root``, which must
      be an existing directory; otherwise ``ValueError``/``FileNotFoundError``. Relative
      arguments are still resolved against the current working directory, not ``root``.

    Names are Unicode-normalized to NFC (so macOS NFD names hash like Linux NFC names) and
    encoded as UTF-8 (undecodable bytes are kept as they were via ``surrogateescape``).
    Names are case-sensitive.

Several arguments
    Their files are merged into one mapping, so the order of the arguments does not matter
    and ``hash_paths("d")`` equals ``hash_paths("d/a", "d/b")`` when ``d`` holds just the
    files ``a`` and ``b``. The same file reached twice under the same name (e.g.
    ``hash_paths("config", "config/app.yaml")``) counts once. Two *different* files that
    would get the same name (e.g. ``hash_paths("config/api", "config/web")`` when both hold
    ``app.yaml``) raise ``ValueError`` naming both; pass ``root=`` to keep them apart.

Directories and symlinks
    Directories are walked recursively. Only regular files contribute: empty directories are
    ignored (git does not track them either). Symlinks to files and to directories are
    followed and hashed under the link's own name; a symlink to one of its own ancestor
    directories (a loop) raises ``OSError(ELOOP)``; a dangling symlink raises
    ``FileNotFoundError``; a FIFO, socket or device raises ``ValueError``. Exclude such
    entries with ``exclude=`` if they are expected. Excluded directories are not entered at
    all.

include / exclude
    ``None``, one pattern (``str``) or an iterable of patterns; an empty iterable means no
    filter. A file is selected when ``include`` is empty or matches it, and ``exclude`` does
    not match it: exclude wins over include. A pattern *matches a file* when it matches the
    file's name or the name of any directory containing it (like ``.gitignore``:
    ``exclude=".git"`` drops everything under any ``.git`` directory). Patterns are matched
    case-sensitively against the whole name (not a suffix of it), segment by segment:

    * ``*`` matches any run of characters within one segment (never ``/``); ``?`` one
      character; ``[abc]``, ``[a-z]``, ``[!abc]`` one character from / not from a set, as in
      ``fnmatch`` (use ``[*]``, ``[?]``, ``[[]`` for the literal characters). Names
      starting with ``.`` get no special treatment (``*`` matches ``.env``).
    * A segment ``**`` matches zero or more whole segments (``a/**/b`` matches ``a/b`` and
      ``a/x/y/b``); a trailing ``**`` matches one or more (``a/**`` matches everything below
      ``a`` but not a file named ``a``). Elsewhere ``**`` acts like ``*``.
    * A pattern without a ``/`` (other than a trailing one) matches at any depth, as if
      prefixed by ``**/`` (``*.pyc``, ``.git``). A pattern with a ``/`` is anchored at the
      top: ``sub/*.yaml`` matches ``sub/a.yaml`` but not ``x/sub/a.yaml``. A leading ``/``
      anchors a pattern without other slashes (``/README.md``).
    * A trailing ``/`` matches directories only: ``build/`` is ``**/build/**``.
    * Empty patterns, empty segments (``a//b``) and ``.``/``..`` segments raise
      ``ValueError``.

Errors
    A missing argument raises ``FileNotFoundError`` naming the path as given and its
    absolute form. If nothing is selected, ``ValueError`` is raised (a hash over nothing is
    almost always a typo in a path or pattern) unless ``allow_empty=True``.

Encoding (format v1, pinned by a known-answer test)
    Each file's digest is ``sha256(content)`` (what ``sha256sum`` prints for it). The result
    is ``"sha256:" + sha256(H + R1 + R2 + ...)``, where ``H = b"restart-trigger/hash_paths/v1\\n"``
    and each record ``R = len(N).to_bytes(8, "big") + N + D`` for ``N`` the UTF-8 name and
    ``D`` the 32-byte raw file digest, records sorted by ``N`` bytewise. The length prefix
    and fixed-size digest make the encoding unambiguous: ``("a", "bc")`` and ``("ab", "c")``
    cannot collide and file boundaries cannot shift.

Performance: file contents are streamed in 256 KiB chunks into reused buffers (constant
memory per file; overall memory grows only with the number of files); the file list is
built with ``os.scandir`` so regular files need no extra ``stat``. Files of 64 KiB or more
are handed to up to ``min(3, cpu_count - 1)`` helper threads (hashlib and reads release the
GIL), small files stay in the calling thread; the result does not depend on this.

hash_values(*values)
====================

``"sha256:" + sha256(canonical JSON of the list [values...])`` encoded as UTF-8, where the
canonical JSON is ``json.dumps(..., sort_keys=True, separators=(",", ":"),
ensure_ascii=False, allow_nan=False)`` after these normalizations: tuples become lists;
any ``Mapping`` becomes a dict (keys must be ``str``; sorted by code point); ``str``/``int``
subclasses (e.g. enums) become plain ``str``/``int``; a float with an integral value becomes
an int, so ``1`` and ``1.0`` hash the same (numbers that travelled through Pulumi's wire
format come back as floats), other floats use Python's shortest round-trip ``repr``.
``bool`` and ``None`` are kept. The arguments always form an array, so
``hash_values(a, b) != hash_values([a, b])``.

Rejected, with the offending place named like ``values[0]["db"]["ports"]``: NaN and
infinities, strings with lone surrogates and circular references (``ValueError``); sets,
bytes, non-``str`` keys and any other type (``TypeError``). At least one value is required.
"""

from __future__ import annotations

import errno
import hashlib
import json
import math
import os
import re
import stat
import threading
import unicodedata
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

__all__ = ["hash_paths", "hash_values"]

StrPath = str | os.PathLike[str]
Patterns = str | Iterable[str] | None

#: Domain-separation header of the hash_paths encoding; bump the version on any change.
FORMAT_HEADER = b"restart-trigger/hash_paths/v1\n"

_CHUNK = 256 * 1024
_BIG_FILE = 64 * 1024  # files at least this large may be hashed by a helper thread
_MAX_HELPERS = 3
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
_PREFIX = "sha256:"

_Matcher = Callable[[str], object]


# --------------------------------------------------------------------------- patterns


def _translate_segment(seg: str) -> str:
    """Translate one glob segment (no ``/`` in it) to a regular expression."""
    out: list[str] = []
    i, n = 0, len(seg)
    while i < n:
        c = seg[i]
        i += 1
        if c == "*":
            while i < n and seg[i] == "*":
                i += 1
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            j = i
            if j < n and seg[j] == "!":
                j += 1
            if j < n and seg[j] == "]":
                j += 1
            while j < n and seg[j] != "]":
                j += 1
            if j >= n:  # no closing bracket: a literal "["
                out.append(re.escape(c))
                continue
            body, i = seg[i:j], j + 1
            negate = body.startswith("!")
            if negate:
                body = body[1:]
            items: list[str] = []
            k = 0
            while k < len(body):
                if k + 2 < len(body) and body[k + 1] == "-":
                    lo, hi = body[k], body[k + 2]
                    if lo <= hi:
                        items.append(f"{re.escape(lo)}-{re.escape(hi)}")
                    k += 3
                else:
                    items.append(re.escape(body[k]))
                    k += 1
            if negate:
                out.append("[^" + "".join(items) + "/]")
            elif items:
                out.append("[" + "".join(items) + "]")
            else:
                out.append("(?!)")  # only empty ranges: matches nothing
        else:
            out.append(re.escape(c))
    return "".join(out)


def _translate(pattern: str, what: str) -> str:
    """Translate one include/exclude pattern (see the module docstring) to a regex."""
    if not isinstance(pattern, str):
        raise TypeError(f"{what} patterns must be str, got {type(pattern).__name__}")
    p = pattern
    anchored = p.startswith("/")
    if anchored:
        p = p[1:]
    dir_only = p.endswith("/")
    if dir_only:
        p = p[:-1]
    segs = p.split("/")
    if not p or any(s in ("", ".", "..") for s in segs):
        raise ValueError(
            f"{what} pattern {pattern!r} is not valid: it must be non-empty and have no "
            "empty, '.' or '..' segments"
        )
    if len(segs) > 1:
        anchored = True
    if dir_only:
        segs.append("**")
    if not anchored:
        segs.insert(0, "**")
    collapsed: list[str] = []
    for s in segs:  # "**/**" is the same as "**"
        if not (s == "**" and collapsed and collapsed[-1] == "**"):
            collapsed.append(s)
    out: list[str] = []
    last = len(collapsed) - 1
    for k, s in enumerate(collapsed):
        if s == "**":
            out.append(r"[^/]+(?:/[^/]+)*" if k == last else r"(?:[^/]+/)*")
        else:
            out.append(_translate_segment(s) + ("" if k == last else "/"))
    return "".join(out)


def _compile_patterns(patterns: Patterns, what: str) -> _Matcher | None:
    """Compile ``None``, one pattern or an iterable of patterns into a fullmatch callable."""
    if patterns is None:
        return None
    if isinstance(patterns, str):
        patterns = [patterns]
    elif isinstance(patterns, bytes | bytearray):
        raise TypeError(f"{what} patterns must be str, got {type(patterns).__name__}")
    regexes = [_translate(p, what) for p in patterns]
    if not regexes:
        return None
    return re.compile("|".join(f"(?:{r})" for r in regexes), re.DOTALL).fullmatch


# --------------------------------------------------------------------------- walking


def _norm(name: str) -> str:
    return name if name.isascii() else unicodedata.normalize("NFC", name)


def _fspath(p: object, what: str) -> str:
    s = os.fspath(p)  # type: ignore[call-overload]
    if not isinstance(s, str):
        raise TypeError(f"hash_paths: {what} must be str or os.PathLike[str], got bytes: {s!r}")
    return s


class _Collector:
    """Builds the ``{name: filesystem path}`` mapping for hash_paths."""

    def __init__(self, include: _Matcher | None, exclude: _Matcher | None) -> None:
        self.include = include
        self.exclude = exclude
        self.files: dict[str, str] = {}

    def add(self, name: str, path: str) -> None:
        prev = self.files.setdefault(name, path)
        if prev != path and not os.path.samefile(prev, path):
            raise ValueError(
                f"hash_paths: two different files would both be named {name!r}: {prev!r} and "
                f"{path!r}; pass root= (a common parent directory) to keep them apart"
            )

    def add_argument(self, arg: StrPath, root_abs: str | None, root_text: str | None) -> None:
        text = _fspath(arg, "paths")
        path = os.path.abspath(text)
        try:
            st = os.stat(path)
        except FileNotFoundError:
            dangling = " (a dangling symlink)" if os.path.lexists(path) else ""
            raise FileNotFoundError(
                errno.ENOENT, f"hash_paths: no such file or directory{dangling}: {path}", text
            ) from None
        is_dir = stat.S_ISDIR(st.st_mode)
        if root_abs is None:
            parts = [] if is_dir else [os.path.basename(path)]
        else:
            rel = os.path.relpath(path, root_abs)
            if rel == os.pardir or rel.startswith(os.pardir + os.sep) or os.path.isabs(rel):
                raise ValueError(f"hash_paths: {text!r} is not inside root {root_text!r}")
            parts = [] if rel == os.curdir else rel.split(os.sep)
        parts = [_norm(p) for p in parts]

        # The ancestor rule: a pattern that matches a containing directory matches the file.
        included = self.include is None
        for k in range(1, len(parts) + 1):
            prefix = "/".join(parts[:k])
            if self.exclude is not None and self.exclude(prefix):
                return
            if not included and self.include is not None and self.include(prefix):
                included = True

        if is_dir:
            prefix = "/".join(parts) + "/" if parts else ""
            self._walk(path, prefix, included, frozenset({(st.st_dev, st.st_ino)}))
        elif stat.S_ISREG(st.st_mode):
            if included:
                self.add("/".join(parts), path)
        else:
            raise ValueError(f"hash_paths: {text!r} is not a regular file or a directory")

    def _walk(
        self, top: str, top_prefix: str, top_included: bool, top_ancestors: frozenset
    ) -> None:
        include, exclude = self.include, self.exclude
        stack = [(top, top_prefix, top_included, top_ancestors)]
        while stack:
            directory, prefix, included, ancestors = stack.pop()
            with os.scandir(directory) as entries:
                for entry in entries:
                    name = prefix + _norm(entry.name)
                    if exclude is not None and exclude(name):
                        continue
                    if entry.is_dir():  # follows symlinks
                        st = entry.stat()
                        key = (st.st_dev, st.st_ino)
                        if key in ancestors:
                            raise OSError(
                                errno.ELOOP,
                                "hash_paths: symlink loop (a directory that contains itself)",
                                entry.path,
                            )
                        stack.append(
                            (
                                entry.path,
                                name + "/",
                                included or include is None or include(name) is not None,
                                ancestors | {key},
                            )
                        )
                    elif not (included or include is None or include(name)):
                        continue
                    elif entry.is_file():  # follows symlinks
                        self.add(name, entry.path)
                    elif entry.is_symlink():
                        raise FileNotFoundError(
                            errno.ENOENT,
                            "hash_paths: dangling symlink (exclude it if expected)",
                            entry.path,
                        )
                    else:
                        raise ValueError(
                            f"hash_paths: {entry.path!r} is not a regular file or a directory "
                            "(a FIFO, socket or device); exclude it"
                        )


# --------------------------------------------------------------------------- digests


def _read_into(fd: int, buf: bytearray) -> int:
    if _readv is not None:
        return _readv(fd, [buf])
    with open(fd, "rb", buffering=0, closefd=False) as f:  # pragma: no cover (no readv)
        return f.readinto(buf) or 0


_readv = getattr(os, "readv", None)


def _digest_fd(fd: int, buf: bytearray, view: memoryview) -> bytes:
    """sha256 of what is left to read from ``fd``, streamed through ``buf``; closes ``fd``."""
    try:
        h = hashlib.sha256()
        while n := _read_into(fd, buf):
            h.update(view[:n])
        return h.digest()
    finally:
        os.close(fd)


def _open_regular(path: str) -> tuple[int, int]:
    """Open ``path`` for reading; return ``(fd, size)``. Refuses non-regular files."""
    fd = os.open(path, _OPEN_FLAGS)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise ValueError(f"hash_paths: {path!r} is no longer a regular file")
    except BaseException:
        os.close(fd)
        raise
    return fd, st.st_size


class _Digester:
    """Digests files in the calling thread, handing large ones to helper threads.

    hashlib and reads release the GIL, so large files hash in parallel on several cores,
    while small files stay in the calling thread (threads would only fight over the GIL).
    """

    def __init__(self) -> None:
        self.buf = bytearray(_CHUNK)
        self.view = memoryview(self.buf)
        self.workers = min(_MAX_HELPERS, (os.cpu_count() or 1) - 1)
        self.pool: ThreadPoolExecutor | None = None
        self.local = threading.local()

    def _helper(self, fd: int) -> bytes:
        local = self.local
        if not hasattr(local, "buf"):
            local.buf = bytearray(_CHUNK)
            local.view = memoryview(local.buf)
        return _digest_fd(fd, local.buf, local.view)

    def digest_all(self, paths: list[str]) -> list[bytes]:
        results: list[bytes | Future[bytes]] = []
        pending: deque[Future[bytes]] = deque()
        try:
            for path in paths:
                fd, size = _open_regular(path)
                while pending and pending[0].done():
                    pending.popleft()
                if size >= _BIG_FILE and self.workers > 0 and len(pending) < 2 * self.workers:
                    if self.pool is None:
                        self.pool = ThreadPoolExecutor(self.workers, "hash_paths")
                    try:
                        future = self.pool.submit(self._helper, fd)
                    except BaseException:
                        os.close(fd)
                        raise
                    pending.append(future)
                    results.append(future)
                else:
                    results.append(_digest_fd(fd, self.buf, self.view))
            return [r if isinstance(r, bytes) else r.result() for r in results]
        finally:
            if self.pool is not None:
                self.pool.shutdown(wait=True)  # every submitted job closes its fd


def hash_paths(
    *paths: StrPath,
    include: Patterns = None,
    exclude: Patterns = None,
    root: StrPath | None = None,
    allow_empty: bool = False,
) -> str:
    """Return ``"sha256:<hex>"`` over the relative names and contents of files and trees.

    See the module docstring for the exact semantics and encoding.

    Args:
        *paths: One or more files or directories (``str`` or ``os.PathLike``), relative to
            the current working directory or absolute. Directories are walked recursively.
            The order of the arguments does not matter.
        include: Glob pattern(s) a file must match to be hashed. Default ``None``: all files.
        exclude: Glob pattern(s) of files (or directories, with everything below them) to
            leave out; exclude wins over include. Default ``None``: nothing excluded.
        root: Directory that names are formed against; every path must be inside it.
            Default ``None``: names are relative to each directory argument, and a file
            argument is named by its base name.
        allow_empty: Return the hash of the empty selection instead of raising
            ``ValueError`` when no file is selected. Default ``False``.

    Raises:
        FileNotFoundError: A path (or root) does not exist, or a dangling symlink was found.
        ValueError: Nothing selected, bad pattern, path outside ``root``, two different files
            with the same name, or a special file.
        OSError: A symlink loop (``errno.ELOOP``) or an unreadable file or directory.
    """
    if not paths:
        raise TypeError("hash_paths() needs at least one path")
    inc = _compile_patterns(include, "include")
    exc = _compile_patterns(exclude, "exclude")
    root_abs = root_text = None
    if root is not None:
        root_text = _fspath(root, "root")
        root_abs = os.path.abspath(root_text)
        if not os.path.isdir(root_abs):
            if not os.path.exists(root_abs):
                raise FileNotFoundError(
                    errno.ENOENT, f"hash_paths: root does not exist: {root_abs}", root_text
                )
            raise NotADirectoryError(
                errno.ENOTDIR, "hash_paths: root is not a directory", root_text
            )

    collector = _Collector(inc, exc)
    for p in paths:
        collector.add_argument(p, root_abs, root_text)
    if not collector.files and not allow_empty:
        shown = ", ".join(repr(os.fspath(p)) for p in paths)
        raise ValueError(
            f"hash_paths: no files selected from {shown} (include={include!r}, "
            f"exclude={exclude!r}); pass allow_empty=True if that is intended"
        )

    records = sorted(
        (name.encode("utf-8", "surrogateescape"), path) for name, path in collector.files.items()
    )
    digests = _Digester().digest_all([path for _, path in records])
    top = hashlib.sha256(FORMAT_HEADER)
    update = top.update
    for (name_bytes, _), digest in zip(records, digests, strict=True):
        update(len(name_bytes).to_bytes(8, "big"))
        update(name_bytes)
        update(digest)
    return _PREFIX + top.hexdigest()


# --------------------------------------------------------------------------- values


def _canonical(obj: Any, where: str, active: set[int]) -> Any:
    """Return a JSON-ready, normalized copy of ``obj``; ``where`` names it in errors."""
    if obj is None or obj is True or obj is False:
        return obj
    if isinstance(obj, str):
        try:
            obj.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError(
                f"{where} is a string with a lone surrogate, which is not valid UTF-8"
            ) from None
        return str.__str__(obj)
    if isinstance(obj, int):
        return int.__index__(obj)
    if isinstance(obj, float):
        if not math.isfinite(obj):
            raise ValueError(f"{where} is {obj!r}; NaN and infinities have no JSON form")
        return int(obj) if obj.is_integer() else float(obj)
    if isinstance(obj, Mapping | list | tuple):
        if id(obj) in active:
            raise ValueError(f"{where} is a circular reference")
        active.add(id(obj))
        try:
            if isinstance(obj, Mapping):
                out: dict[str, Any] = {}
                for key, value in obj.items():
                    if not isinstance(key, str):
                        raise TypeError(
                            f"{where} has a key {key!r} of type {type(key).__name__}; "
                            "JSON object keys must be str"
                        )
                    label = json.dumps(key, ensure_ascii=False)
                    k = _canonical(key, f"{where} key {label}", active)
                    out[k] = _canonical(value, f"{where}[{label}]", active)
                return out
            return [_canonical(v, f"{where}[{i}]", active) for i, v in enumerate(obj)]
        finally:
            active.discard(id(obj))
    hint = ""
    if isinstance(obj, set | frozenset):
        hint = "; convert it to a sorted list first"
    elif isinstance(obj, bytes | bytearray | memoryview):
        hint = "; decode it or encode it as base64 text first"
    raise TypeError(f"{where} is a {type(obj).__name__}, which has no JSON form{hint}")


def hash_values(*values: Any) -> str:
    """Return ``"sha256:<hex>"`` over the canonical JSON of ``[values...]``.

    See the module docstring for the canonical form (sorted keys, no whitespace, UTF-8,
    tuples as lists, integral floats as ints).

    Args:
        *values: One or more JSON-able values (``None``, ``bool``, ``int``, finite ``float``,
            ``str``, ``list``/``tuple``, ``Mapping`` with ``str`` keys, nested). They are
            hashed as one JSON array, in the order given.

    Raises:
        TypeError: No values, or a value (or key) of a type with no JSON form; the message
            names its place, e.g. ``values[0]["db"]["ports"]``.
        ValueError: NaN, an infinity, a lone surrogate or a circular reference, named the
            same way.
    """
    if not values:
        raise TypeError("hash_values() needs at least one value")
    canonical = _canonical(list(values), "values", set())
    text = json.dumps(
        canonical, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )
    return _PREFIX + hashlib.sha256(text.encode("utf-8")).hexdigest()

#!/usr/bin/env python3
"""Fails early, naming the keys, when a stack's config is too big for the Python program.

The Python language host hands the whole stack config to the program in ONE environment
variable, ``PULUMI_CONFIG``: the JSON object of every key (``project:key``, e.g.
``restart-trigger:triggers``) to its value as a string (objects and lists as compact JSON,
secrets decrypted), as Go's ``json.Marshal`` writes it. Linux refuses any single environment
string over MAX_ARG_STRLEN (131,072 bytes, the terminating NUL included), and the CLI then only
says ``fork/exec .../python: argument list too long``, naming no key. This check computes that
string's size and, over the limit less a small margin, exits 1 with one message naming the
limit, the size, the largest keys and the fix (``restart-trigger:triggersFile``).

    scripts/check-config-size.py [--stack NAME]   runs `pulumi config --json --show-secrets`
    pulumi config --json --show-secrets | scripts/check-config-size.py -    reads it on stdin

Run it in the project folder (with the environment `pulumi` needs, e.g. scripts/env.sh). The
decrypted config only goes through a pipe into this process: it is never written to a file,
put on a command line or printed; messages name keys and sizes, never values.

Reading secrets costs `pulumi config` about 0.3 s (deriving the passphrase key). With
``--cache DIR`` (scripts/stack.sh passes .state), a pass is remembered as a digest of the files
the config comes from (Pulumi.yaml, Pulumi.<stack>.yaml) and of this script: while they are
unchanged, the check costs no `pulumi` run. The digest is of ciphertext, never plaintext.

Exit status: 0 the config fits (a warning is printed when it uses over 90% of the budget),
1 too big, 2 the config could not be read (the error of `pulumi config` is shown).
stdlib only, so it runs before the virtualenv exists too.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import subprocess
import sys
from collections.abc import Mapping
from typing import Any

ENV_VAR = "PULUMI_CONFIG"
#: Linux's MAX_ARG_STRLEN (32 pages of 4 KiB): the most bytes one argument or environment
#: string may have, its terminating NUL included. Larger pages raise it, so this is the safe
#: value everywhere.
MAX_ARG_STRLEN = 131_072
#: Kept spare for what the estimate cannot see (config an ESC environment adds at run time,
#: a CLI that escapes a few characters differently).
MARGIN = 1_024
#: The largest `PULUMI_CONFIG=<json>` string this check lets through, in bytes (no NUL).
BUDGET = MAX_ARG_STRLEN - 1 - MARGIN
WARN_RATIO = 0.9
TRIGGERS_KEY = "restart-trigger:triggers"
TRIGGERS_FILE_KEY = "restart-trigger:triggersFile"
DOCS = 'docs/reference.md, "Many targets: the config size limit"'

# What Go's encoding/json (Go 1.22+, HTML escaping on, as json.Marshal does) writes for the
# characters it does not copy as UTF-8. Lone surrogates stand for invalid UTF-8 (\ufffd).
_SHORT = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t"}
_ESCAPED = re.compile('[\x00-\x1f"\\\\<>&\u2028\u2029\ud800-\udfff]')


def _escape(match: re.Match[str]) -> str:
    ch = match.group()
    if ch in _SHORT:
        return _SHORT[ch]
    if "\ud800" <= ch <= "\udfff":
        return "\\ufffd"
    return f"\\u{ord(ch):04x}"


def go_json_string(text: str) -> str:
    """``text`` as Go's json.Marshal quotes it."""
    return '"' + _ESCAPED.sub(_escape, text) + '"'


def go_json_map(config: Mapping[str, str]) -> str:
    """The JSON object json.Marshal writes for a Go map[string]string (keys sorted)."""
    items = (f"{go_json_string(k)}:{go_json_string(config[k])}" for k in sorted(config))
    return "{" + ",".join(items) + "}"


def env_string_size(config: Mapping[str, str]) -> int:
    """Bytes of the ``PULUMI_CONFIG=<json>`` environment string (without its NUL)."""
    return len(ENV_VAR) + 1 + len(go_json_map(config).encode("utf-8"))


def key_sizes(config: Mapping[str, str]) -> dict[str, int]:
    """What each key adds to that string: ``"key":"value"`` and its comma."""
    return {
        k: len(go_json_string(k).encode()) + 1 + len(go_json_string(v).encode()) + 1
        for k, v in config.items()
    }


def config_from_cli_json(data: Any) -> dict[str, str]:
    """The key -> string map the engine passes, from `pulumi config --json --show-secrets`.

    Its "value" is the very string the engine passes (objects already as compact JSON). A
    secret without "value" means --show-secrets was left out: its size is unknown."""
    if not isinstance(data, dict):
        raise ValueError("expected the JSON object `pulumi config --json` prints")
    config: dict[str, str] = {}
    for key, entry in data.items():
        value = entry.get("value") if isinstance(entry, dict) else entry
        if not isinstance(value, str):
            raise ValueError(
                f"{key} has no value (a secret read without --show-secrets?): "
                "give the output of `pulumi config --json --show-secrets`"
            )
        config[key] = value
    return config


def _size(n: int) -> str:
    return f"{n:,} bytes ({n / 1024:.1f} KiB)" if n >= 1024 else f"{n:,} bytes"


def verdict(config: Mapping[str, str], *, stack: str | None = None, top: int = 5) -> str | None:
    """The error message when the config is over the budget, else None. Names keys and sizes,
    never a value."""
    total = env_string_size(config)
    if total <= BUDGET:
        return None
    sizes = sorted(key_sizes(config).items(), key=lambda kv: (-kv[1], kv[0]))
    width = max(len(k) for k, _ in sizes[:top])
    lines = [
        "error: the stack config is too big for the Python program. The language host passes "
        f"all of it in one environment variable, {ENV_VAR}, and Linux allows at most "
        f"{MAX_ARG_STRLEN:,} bytes (MAX_ARG_STRLEN) per environment string: `pulumi preview` "
        "and `pulumi up` would fail with `fork/exec .../python: argument list too long`.",
        f"{ENV_VAR} would be {_size(total)}; this check allows at most {BUDGET:,} bytes "
        f"(the limit less {MARGIN:,} spare). Largest keys:",
        *(f"  {k:<{width}}  {_size(n)}" for k, n in sizes[:top]),
    ]
    s = f" --stack {stack}" if stack else ""
    by_key = dict(sizes)
    # The triggers list is the one big value this project's program reads from a file.
    if TRIGGERS_KEY in by_key and (
        sizes[0][0] == TRIGGERS_KEY or by_key[TRIGGERS_KEY] > total - BUDGET
    ):
        lines += [
            f"Fix: move the list in {TRIGGERS_KEY} to a JSON file in the project folder and "
            f"point {TRIGGERS_FILE_KEY} at it (set only one of the two keys):",
            f"  pulumi config get{s} {TRIGGERS_KEY} > triggers.json",
            f"  pulumi config rm{s} {TRIGGERS_KEY}",
            f"  pulumi config set{s} {TRIGGERS_FILE_KEY} triggers.json",
        ]
        rest = total - by_key[TRIGGERS_KEY]
        if rest + 64 > BUDGET:
            lines.append(f"The other keys alone come to {_size(rest)}: shrink them too.")
    else:
        lines.append(
            "Fix: shrink the largest keys (move big values into files the program reads; "
            f"the triggers list can live in a file, see {TRIGGERS_FILE_KEY})."
        )
    lines.append(f"See {DOCS}.")
    return "\n".join(lines)


def warning(config: Mapping[str, str]) -> str | None:
    total = env_string_size(config)
    if BUDGET * WARN_RATIO < total <= BUDGET:
        return (
            f"warning: the stack config ({ENV_VAR}) is {_size(total)}, "
            f"{total / BUDGET:.0%} of the {_size(BUDGET)} limit; "
            f"consider {TRIGGERS_FILE_KEY} before it fails (see {DOCS})"
        )
    return None


def _cache_file(cache_dir: str, stack: str) -> str:
    return os.path.join(cache_dir, "config-size-check", stack.replace("/", "_") + ".ok")


def _sources_digest(stack: str) -> str | None:
    """A digest of what the stack config is read from, or None when that is not just
    Pulumi.yaml and Pulumi.<stack>.yaml here (another config folder, no stack file)."""
    h = hashlib.sha256()
    for name in (__file__, "Pulumi.yaml", f"Pulumi.{stack.rsplit('/', 1)[-1]}.yaml"):
        try:
            with open(name, "rb") as f:
                data = f.read()
        except OSError:
            return None
        if name == "Pulumi.yaml" and b"stackConfigDir" in data:
            return None
        h.update(name.encode() + b"\0" + data + b"\0")
    h.update(str((BUDGET, stack)).encode())
    return h.hexdigest()


def _cached_pass(cache_dir: str, stack: str, digest: str | None) -> bool:
    if digest is None:
        return False
    try:
        with open(_cache_file(cache_dir, stack), encoding="ascii") as f:
            return f.read().strip() == digest
    except (OSError, UnicodeDecodeError):
        return False


def _remember_pass(cache_dir: str, stack: str, digest: str | None) -> None:
    if digest is None:
        return
    path = _cache_file(cache_dir, stack)
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="ascii") as f:
            f.write(digest + "\n")
    except OSError:
        pass  # only a cache


def _read_from_cli(stack: str | None) -> Any:
    args = ["pulumi", "config", "--json", "--show-secrets", "--non-interactive"]
    if stack:
        args += ["--stack", stack]
    try:
        proc = subprocess.run(args, capture_output=True, text=True, check=False)
    except OSError as exc:
        raise RuntimeError(f"could not run pulumi: {exc}") from None
    if proc.returncode != 0:
        raise RuntimeError(
            f"`{' '.join(args)}` exited {proc.returncode}: {proc.stderr.strip()[-2000:]}"
        )
    return json.loads(proc.stdout)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Check the stack config fits the PULUMI_CONFIG environment variable."
    )
    parser.add_argument(
        "source",
        nargs="?",
        choices=["-"],
        help="-: read `pulumi config --json --show-secrets` output on stdin instead of running it",
    )
    parser.add_argument("--stack", "-s", help="the stack (default: the selected one)")
    parser.add_argument(
        "--cache",
        metavar="DIR",
        help="remember passes in DIR/config-size-check/ (needs --stack; not with -)",
    )
    args = parser.parse_args(argv)
    use_cache = bool(args.cache and args.stack and args.source != "-")
    digest = _sources_digest(args.stack) if use_cache else None
    if use_cache and _cached_pass(args.cache, args.stack, digest):
        return 0
    try:
        data = json.load(sys.stdin) if args.source == "-" else _read_from_cli(args.stack)
        config = config_from_cli_json(data)
    except (RuntimeError, ValueError) as exc:  # JSONDecodeError is a ValueError
        # A JSON error message quotes no input; pulumi's own errors name no secret.
        print(f"check-config-size: cannot read the stack config: {exc}", file=sys.stderr)
        return 2
    message = verdict(config, stack=args.stack)
    if message:
        print(message, file=sys.stderr)
        return 1
    note = warning(config)
    if note:
        print(note, file=sys.stderr)
    elif use_cache:
        _remember_pass(args.cache, args.stack, digest)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Summarize ``pulumi preview --json`` as Markdown: which targets a change would restart.

Meant for a pull-request comment in a GitOps flow::

    pulumi preview --json > preview.json
    restart-trigger-preview preview.json > comment.md
    python -m restart_trigger.preview_summary preview.json > comment.md    # the same

Only ``RestartTrigger`` resources are read; everything else in the preview is ignored. What a
step means is decided by ``plan.decide``, the same function the provider's ``diff``,
``create`` and ``update`` call: an update restarts when the hash changed; a create or a
replacement restarts only with ``restart_on_create``; a delete restarts nothing.

Values not known until apply (Pulumi's unknown sentinel in the preview JSON) are shown as
"(known after apply)"; a hash not known yet counts as a *possible* restart. The output is
deterministic: rows are sorted, and no time, duration or random id from the preview is shown.
Names, ids, values and messages are the user's: each is shown as written and as nothing else (no
HTML, link, emphasis, mention or issue reference; see ``escape_markdown`` and ``inline_code``).

It reads the preview JSON only and calls nothing; it takes the provider's option names and
defaults from ``restart_trigger.provider`` so the two cannot drift apart (run it with the
project's virtualenv). Bad input exits 2 with a message on stderr.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TextIO

from restart_trigger.inputs import DEFAULT_TIMEOUT, OPTIONS
from restart_trigger.plan import Plan, decide
from restart_trigger.rollout import (
    EARLIER_UNVERIFIED,
    EARLIER_WHY,
    HASH_CHANGED,
    earlier_words,
    why_due,
)
from restart_trigger.targets import view_targets
from restart_trigger.validation import KNOWN_AFTER_APPLY, escaped, is_secret, is_unknown, shown
from restart_trigger.verify import describe as describe_verify
from restart_trigger.verify import effective

TRIGGER_TYPE = "pulumi-python:dynamic/restart:RestartTrigger"

HASH_CHARS = 12

# Step ops, grouped by what they mean for a trigger.
_REPLACE_OPS = ("replace", "create-replacement", "delete-replaced")
_IGNORED_OPS = frozenset(
    {
        "same",
        "read",
        "refresh",
        "read-replacement",
        "discard",
        "discard-replaced",
        "remove-pending-replace",
    }
)


class PreviewFormatError(ValueError):
    """The input is not the output of ``pulumi preview --json``."""


# -- value helpers ------------------------------------------------------------------------------
# Text from a preview (names, ids, values, error messages) is the user's, and a pull-request
# comment is rendered as GitHub-flavoured Markdown: such text must render as the characters it
# holds, never as a construct. Two functions do it, and every such text goes through one of
# them: ``inline_code`` (a code span, literal in CommonMark; GitHub links no mention, reference
# or URL inside code) and ``escape_markdown`` (plain text, everything else).
_BREAK = "&#8203;"  # ZERO WIDTH SPACE, as an entity: invisible, and in the rendered text

# CommonMark's backslash escapes (any ASCII punctuation may be escaped) for what would open a
# construct inline: code spans, links and images, emphasis, strikethrough, table columns; and
# character references for what would be raw HTML or an autolink (``<``, ``>``, ``&``).
_CHARS = {
    "&": "&amp;",
    "<": "&lt;",
    ">": "&gt;",
    "\\": "\\\\",
    "`": "\\`",
    "[": "\\[",
    "]": "\\]",
    "|": "\\|",
    "*": "\\*",
    "~": "\\~",
    "$": "&#36;",  # GitHub's math ($x$, $$x$$) is found in the source: a reference hides it
}
_UNSAFE = re.compile(
    r"""
      (?P<char>[&<>\\`\[\]|*~$])
    | (?P<under>_)                    # emphasis, unless between two letters or digits
    | (?P<ref>[@\#])                  # @mention, @org/team, user@host; #1, owner/repo#1
    | (?P<gh>(?<![^\W_])GH-(?=\d))    # GH-1
    | (?P<scheme>:(?=//))             # http://..., the URL autolink extension
    | (?P<www>(?<![^\W_])www\.)       # www.example, the www autolink extension
    | (?P<emoji>:(?=[\w+-]+:))        # :emoji: shortcodes
    """,
    re.VERBOSE | re.IGNORECASE,
)
# A block a line could open where text starts one (an error line is a list item's paragraph):
# a list item (``-``, ``+``, ``1.``, ``1)``), a thematic break (``---``). ``#`` headings (a
# breaker follows every ``#``), ``>`` quotes, ``*`` and code fences are escaped everywhere.
_BLOCK_START = re.compile(r"^(?:[-+]|\d+(?=[.)]))")


def _safe(match: re.Match[str]) -> str:
    kind, text = match.lastgroup, match.group()
    if kind == "char":
        return _CHARS[text]
    if kind == "under":
        before = match.string[match.start() - 1 : match.start()]
        after = match.string[match.end() : match.end() + 1]
        return "_" if before.isalnum() and after.isalnum() else "\\_"
    if kind == "scheme":  # found in the source: a character reference hides it
        return "&#58;"
    if kind == "www":
        return text[:3] + "&#46;"
    # ref, gh, emoji: GitHub finds these in the rendered text, so the breaker must be there
    return text + _BREAK


def _one_line(text: Any) -> str:
    """Control and format characters shown as escapes (``escaped``), whitespace runs as one
    space: nothing can end a line, a table row or a paragraph."""
    return " ".join(escaped(text).split())


def escape_markdown(text: Any) -> str:
    """``text`` as inert Markdown on one line, shown as written: no raw HTML, no link, image or
    autolink, no emphasis or strikethrough, no code span, no column break, no block opened at
    the start, and no GitHub mention, issue reference or emoji (a zero-width space after the
    ``@``, ``#``, ``GH-`` or ``:`` that would start one)."""
    text = _UNSAFE.sub(_safe, _one_line(text))
    match = _BLOCK_START.match(text)
    if match is None:
        return text
    if match.group() in ("-", "+"):
        return "\\" + text
    return text[: match.end()] + "\\" + text[match.end() :]


def inline_code(text: Any, *, cell: bool = False) -> str:
    """``text`` as a code span: its content is literal (CommonMark 6.1), so the fence is one
    backtick longer than the longest run of backticks inside, padded with a space where the
    content starts or ends with a backtick. ``cell``: for a table cell, where ``|`` ends the
    cell even inside a code span unless escaped (GFM tables; the ``\\`` is not shown there).
    A ``\\|`` has no unambiguous form in a cell's code span (renderers differ on ``\\\\|``):
    such text is escaped instead."""
    text = _one_line(text)
    if not text:
        return "` `"
    if cell and "\\|" in text:
        return escape_markdown(text)
    longest = max((len(run) for run in re.findall("`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    code = f"{fence}{pad}{text}{pad}{fence}"
    return code.replace("|", "\\|") if cell else code


def short_hash(value: Any) -> str:
    """``sha256:<hex>`` -> its first 12 hex digits; other values shown as they are (cut)."""
    if value is None:
        return "—"
    if is_unknown(value):
        return KNOWN_AFTER_APPLY
    if is_secret(value):
        return "[secret]"
    text = str(value)
    if text.startswith("sha256:"):
        return text[len("sha256:") : len("sha256:") + HASH_CHARS]
    return text if len(text) <= HASH_CHARS + 4 else text[:HASH_CHARS] + "…"


def _trigger_strategy(inputs: Mapping[str, Any], n_targets: int) -> str:
    """The trigger-wide part of the strategy: waiting and parallelism."""
    parts = []
    wait = inputs.get("wait", True)
    timeout = inputs.get("timeout")
    if wait is False:
        parts.append("no wait")
    elif is_unknown(wait):
        parts.append(f"wait {KNOWN_AFTER_APPLY}")
    else:
        parts.append(f"wait up to {shown(DEFAULT_TIMEOUT if timeout is None else timeout)}s")
    max_parallel = inputs.get("max_parallel")
    if max_parallel is not None and n_targets > 1:
        parts.append(f"{shown(max_parallel)} at a time")
    canary = inputs.get("canary")
    if canary and n_targets > 1:
        parts.append(f"canary: the first {shown(canary)} must succeed before the others")
    max_failures = inputs.get("max_failures")
    if max_failures and n_targets > 1:
        parts.append(f"stops starting targets after {shown(max_failures)} failure(s)")
    return ", ".join(parts)


# -- steps --------------------------------------------------------------------------------------
@dataclass
class TriggerChange:
    """What the preview plans for one RestartTrigger."""

    name: str
    urn: str
    op: str  # create, update, replace, delete, import
    old: Mapping[str, Any] | None
    new: Mapping[str, Any] | None
    replace_reasons: list[str] = field(default_factory=list)
    old_outputs: Mapping[str, Any] | None = None

    @property
    def sort_key(self) -> tuple[str, str]:
        return (self.name, self.urn)

    @property
    def old_hash(self) -> Any:
        return (self.old or {}).get("hash")

    @property
    def new_hash(self) -> Any:
        return (self.new or {}).get("hash")

    def plan(self) -> Plan:
        """The provider's own decision (``plan.decide``): an update compares the old outputs
        (inputs and per-target progress, as the provider's ``diff`` sees them) with the new
        inputs; a create or a replacement is a new trigger."""
        if self.op == "update":
            olds = {**(self.old or {}), **_progress_outputs(self.old_outputs)}
            return decide(olds, self.new or {})
        if self.op in ("create", "replace"):
            return decide(None, self.new or {})
        return Plan(changes=True, restart=False)

    def restarts(self) -> bool | None:
        """True: restarts; False: does not; None: depends on a value known only at apply."""
        return self.plan().restart


def _verify_words(inputs: Mapping[str, Any]) -> dict[str, str]:
    """Per target key, its verification in words (only targets that have one)."""
    raw = inputs.get("targets")
    entries = raw if isinstance(raw, list) else []
    views = view_targets(raw)
    out = {}
    for view, entry in zip(views, entries, strict=False):
        own = entry.get("verify") if isinstance(entry, Mapping) else None
        value, _ = effective(inputs.get("verify"), own, "")
        if value is not None:
            out[view.key] = describe_verify(value)
    return out


def _progress_outputs(outputs: Mapping[str, Any] | None) -> dict[str, Any]:
    """What the old state's outputs record of the restarts (see ``plan.progress_of``)."""
    keys = ("progress", "owed", "change_order_ids", "statuses", "restarted_hash", "restarted_at")
    return {k: outputs[k] for k in keys if isinstance(outputs, Mapping) and k in outputs}


def _name_and_type(urn: str) -> tuple[str, str]:
    parts = urn.split("::", 3)
    if len(parts) != 4 or not parts[0].startswith("urn:pulumi:"):
        return "", ""
    return parts[3], parts[2].rsplit("$", 1)[-1]


def _stack_of(urn: str) -> str:
    head = urn.split("::", 1)[0]
    return head[len("urn:pulumi:") :] if head.startswith("urn:pulumi:") else ""


def _inputs(state: Any) -> Mapping[str, Any] | None:
    if not isinstance(state, Mapping):
        return None
    inputs = state.get("inputs")
    if isinstance(inputs, Mapping) and inputs:
        return inputs
    outputs = state.get("outputs")
    return outputs if isinstance(outputs, Mapping) else {}


def load_preview(preview: Any) -> tuple[list[Mapping[str, Any]], list[Mapping[str, Any]]]:
    """Validate the shape of ``pulumi preview --json`` output; return (steps, diagnostics)."""
    hint = "expected the JSON printed by `pulumi preview --json`"
    if not isinstance(preview, Mapping):
        raise PreviewFormatError(f"the input is a JSON {type(preview).__name__}, {hint}")
    if "steps" not in preview:
        keys = ", ".join(sorted(map(str, preview))) or "none"
        raise PreviewFormatError(f'no "steps" key (keys: {keys}); {hint}')
    steps = preview.get("steps") or []
    diagnostics = preview.get("diagnostics") or []
    if not isinstance(steps, list) or not all(
        isinstance(s, Mapping) and isinstance(s.get("op"), str) and isinstance(s.get("urn"), str)
        for s in steps
    ):
        raise PreviewFormatError(f'"steps" must be a list of {{"op", "urn", ...}} objects; {hint}')
    if not isinstance(diagnostics, list):
        raise PreviewFormatError(f'"diagnostics" must be a list; {hint}')
    return steps, [d for d in diagnostics if isinstance(d, Mapping)]


def trigger_changes(steps: Sequence[Mapping[str, Any]]) -> list[TriggerChange]:
    """One TriggerChange per trigger the steps touch, merging replacement steps by URN."""
    by_urn: dict[str, TriggerChange] = {}
    for step in steps:
        op, urn = step["op"], step["urn"]
        name, type_ = _name_and_type(urn)
        if type_ != TRIGGER_TYPE or op in _IGNORED_OPS:
            continue
        old, new = _inputs(step.get("oldState")), _inputs(step.get("newState"))
        old_state = step.get("oldState")
        old_outputs = old_state.get("outputs") if isinstance(old_state, Mapping) else None
        reasons = [str(r) for r in step.get("replaceReasons") or []]
        if op in _REPLACE_OPS:
            op = "replace"
        elif op in ("import", "import-replacement"):
            op = "import"
        elif op not in ("create", "update", "delete"):
            op = "update"  # an op this version does not know: judge it by its hashes
        seen = by_urn.get(urn)
        if seen is None:
            by_urn[urn] = TriggerChange(name, urn, op, old, new, reasons, old_outputs)
            continue
        # A replacement shown as several steps: keep the first known old/new and all reasons.
        seen.old = seen.old or old
        seen.old_outputs = seen.old_outputs or old_outputs
        seen.new = seen.new or new
        seen.replace_reasons = sorted(set(seen.replace_reasons) | set(reasons))
    return sorted(by_urn.values(), key=lambda c: c.sort_key)


# -- rendering ----------------------------------------------------------------------------------
def _changed_options(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    out = []
    for key in OPTIONS:
        if old.get(key) != new.get(key):
            if key == "verify":  # in words: never a header value
                before, after = describe_verify(old.get(key)), describe_verify(new.get(key))
                out.append(f"{before} → {after}")
                continue
            out.append(f"{key} {shown(old.get(key))} → {shown(new.get(key))}")
    old_t = {t.key: t for t in view_targets(old.get("targets"))}
    new_t = {t.key: t for t in view_targets(new.get("targets"))}
    old_v, new_v = _verify_words(old), _verify_words(new)
    for key in sorted(old_t.keys() & new_t.keys()):
        before, after = old_t[key].strategy, new_t[key].strategy
        if before != after:
            out.append(f"{new_t[key].label}: {before} → {after}")
        if old_v.get(key) != new_v.get(key) and old.get("verify") == new.get("verify"):
            before = old_v.get(key, "no verification")
            after = new_v.get(key, "no verification")
            out.append(f"{new_t[key].label}: {before} → {after}")
    if old_t.keys() != new_t.keys():
        added = ", ".join(new_t[k].label for k in sorted(new_t.keys() - old_t.keys()))
        removed = ", ".join(old_t[k].label for k in sorted(old_t.keys() - new_t.keys()))
        if added:
            out.append(f"adds {added}")
        if removed:
            out.append(f"drops {removed}")
    return out


def _target_change(old: Mapping[str, Any], new: Mapping[str, Any]) -> str:
    before = ", ".join(sorted(t.label for t in view_targets(old.get("targets")))) or "none"
    after = ", ".join(sorted(t.label for t in view_targets(new.get("targets")))) or "none"
    return f"{before} → {after}"


def _replace_what(change: TriggerChange) -> str:
    old, new = change.old or {}, change.new or {}
    reasons = change.replace_reasons or [
        k for k in ("targets", "region") if old.get(k) != new.get(k)
    ]
    parts = []
    if "targets" in reasons:
        parts.append(f"targets changed ({_target_change(old, new)})")
    if "region" in reasons:
        parts.append(f"region changed ({shown(old.get('region'))} → {shown(new.get('region'))})")
    parts += [f"{r} changed" for r in reasons if r not in ("targets", "region")]
    return "; ".join(parts) or "replaced"


def _why_restart(change: TriggerChange, sure: bool, key: str) -> str:
    if change.op == "update":
        if not sure:
            return "hash known only at apply: restarts if it changed"
        olds = {**_progress_outputs(change.old_outputs), "hash": change.old_hash}
        why = why_due(olds, {**(change.new or {}), "hash": change.new_hash}, key)
        if why in EARLIER_WHY:
            return f"{why} ({EARLIER_WHY[why]})"
        if why != HASH_CHANGED:
            return why
        extra = _changed_options(change.old or {}, change.new or {})
        return why + (f" (also: {'; '.join(extra)})" if extra else "")
    flag = "restart_on_create" if sure else f"restart_on_create {KNOWN_AFTER_APPLY}"
    if change.op == "replace":
        return f"replaced, {_replace_what(change)}; new trigger has {flag}"
    return f"new trigger with {flag}"


def _quiet_line(change: TriggerChange) -> str:
    name = inline_code(change.name)
    if change.op == "create":
        return f"- {name}: created, no restart (restart_on_create is off)"
    if change.op == "replace":
        what = escape_markdown(_replace_what(change))
        return f"- {name}: replaced, {what}; the new trigger does not restart"
    if change.op == "delete":
        return f"- {name}: deleted; deleting a trigger restarts nothing"
    if change.op == "import":
        return f"- {name}: imported, no restart"
    old, new = change.old or {}, change.new or {}
    changed = escape_markdown("; ".join(_changed_options(old, new)))
    targets_changed = {t.key for t in view_targets(old.get("targets"))} != {
        t.key for t in view_targets(new.get("targets"))
    }
    what = "targets changed" if targets_changed else "options only"
    return f"- {name}: {what}, no restart" + (f" ({changed})" if changed else "")


def _verify_again(change: TriggerChange) -> list[str]:
    """The keys of the targets the update verifies again without restarting them."""
    if change.op != "update":
        return []
    plan = change.plan()
    return [
        key
        for key, words in earlier_words(
            _progress_outputs(change.old_outputs), change.new or {}, list(plan.due or ())
        ).items()
        if words == EARLIER_UNVERIFIED
    ]


def _restart_rows(change: TriggerChange, sure: bool) -> list[tuple[str, ...]]:
    new = change.new or {}
    targets = view_targets(new.get("targets"))
    due = change.plan().due
    if due is not None:  # else: which ones is decided at apply, so each may restart
        again = set(_verify_again(change))
        targets = [t for t in targets if t.key in due and t.key not in again]
    common = _trigger_strategy(new, len(view_targets(new.get("targets"))))
    verify = _verify_words(new)
    old_hash = short_hash(change.old_hash) if change.op != "create" else "—"
    hashes = f"{old_hash} → {short_hash(change.new_hash)}"
    rows = []
    for target in sorted(targets, key=lambda t: (t.kind, t.ident)):
        strategy = f"{target.strategy}; {common}"
        if target.key in verify:
            strategy += f"; {verify[target.key]}"
        rows.append(
            (
                inline_code(change.name, cell=True),
                escape_markdown(target.label),
                escape_markdown(strategy),
                escape_markdown(hashes),
                escape_markdown(_why_restart(change, sure, target.key)),
            )
        )
    return rows


def _verify_again_lines(change: TriggerChange) -> list[str]:
    new = change.new or {}
    labels = {t.key: t.label for t in view_targets(new.get("targets"))}
    verify = _verify_words(new)
    lines = []
    for key in sorted(_verify_again(change)):
        what = verify.get(key, "no verification any more: passes at once")
        lines.append(
            f"- {inline_code(change.name)}: {escape_markdown(labels.get(key, key))}: verify "
            f"again at up, no restart ({escape_markdown(what)}; {EARLIER_WHY[EARLIER_UNVERIFIED]})"
        )
    return lines


def summarize_preview(preview: dict) -> str:
    """Render the restarts (and quiet trigger changes) a ``pulumi preview --json`` plans.

    Raises PreviewFormatError when ``preview`` does not have the shape of that output.
    """
    steps, diagnostics = load_preview(preview)
    changes = trigger_changes(steps)
    stacks = sorted({_stack_of(s["urn"]) for s in steps} - {""})

    stack = f" (stack {inline_code(stacks[0])})" if len(stacks) == 1 else ""
    lines = [f"### Restart preview{stack}", ""]

    errors = sorted(
        " ".join(str(d.get("message", "")).removeprefix("error: ").split())
        for d in diagnostics
        if d.get("severity") == "error"
    )
    if errors:
        lines.append("> [!WARNING]")
        lines.append("> The preview failed, so this summary may be incomplete:")
        lines += [f"> - {escape_markdown(e)}" for e in errors]
        lines.append("")

    rows: list[tuple[str, ...]] = []
    quiet: list[str] = []
    again: list[str] = []
    for change in changes:
        restarts = change.restarts()
        if restarts is False:
            quiet.append(_quiet_line(change))
            continue
        change_rows = _restart_rows(change, sure=restarts is True)
        change_again = _verify_again_lines(change)
        rows += change_rows
        again += change_again
        if not change_rows and not change_again:
            quiet.append(_quiet_line(change))

    if rows:
        maybe = sum(1 for c in changes if c.restarts() is None)
        count = len(rows)
        lines.append(f"**{count} target{'s' if count != 1 else ''} would restart.**")
        if maybe:
            lines.append(
                f"({maybe} trigger{'s depend' if maybe != 1 else ' depends'} on values known "
                "only at apply: listed as possible restarts.)"
            )
        lines.append("")
        lines.append("| Trigger | Target | Strategy | Hash | Why |")
        lines.append("|---|---|---|---|---|")
        lines += ["| " + " | ".join(row) + " |" for row in rows]
    elif errors:
        lines.append("**No restarts found** in what the failed preview planned.")
    else:
        lines.append("**No restarts.**")

    if again:
        lines.append("")
        lines.append("#### Verified again at up (no restart)")
        lines.append("")
        lines += again

    if quiet:
        lines.append("")
        lines.append("#### Trigger changes without restart")
        lines.append("")
        lines += quiet
    return "\n".join(lines) + "\n"


# -- command line -------------------------------------------------------------------------------
def _read(path: str | None, stdin: TextIO) -> tuple[str, str]:
    if path in (None, "-"):
        return stdin.read(), "stdin"
    with open(path, encoding="utf-8") as handle:
        return handle.read(), path


def main(argv: Sequence[str] | None = None) -> int:
    """``restart-trigger-preview [FILE]`` (or ``python -m restart_trigger.preview_summary``):
    Markdown to stdout; 0 on success, 2 on bad input."""
    parser = argparse.ArgumentParser(
        prog="restart-trigger-preview",
        description="Summarize `pulumi preview --json` output as Markdown: the restarts it plans.",
    )
    parser.add_argument("file", nargs="?", help="the preview JSON (default: stdin)")
    args = parser.parse_args(argv)
    try:
        text, where = _read(args.file, sys.stdin)
    except OSError as exc:
        print(f"error: cannot read {args.file}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    if not text.strip():
        print(
            f"error: {where} is empty; expected the JSON printed by `pulumi preview --json` "
            "(did the preview fail before printing it?)",
            file=sys.stderr,
        )
        return 2
    try:
        preview = json.loads(text)
    except json.JSONDecodeError as exc:
        print(
            f"error: {where} is not JSON ({exc.msg} at line {exc.lineno} column {exc.colno}); "
            "expected the output of `pulumi preview --json` (not the text preview)",
            file=sys.stderr,
        )
        return 2
    try:
        markdown = summarize_preview(preview)
    except PreviewFormatError as exc:
        print(f"error: {where}: {exc}", file=sys.stderr)
        return 2
    sys.stdout.write(markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())

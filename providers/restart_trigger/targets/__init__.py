"""The kinds of target a trigger restarts, one module each, and the one parser of the
``targets`` input that the provider (``check``, ``diff``, ``update``) and the preview summary
share.

==============  ======================  ===============  ===================================
kind            input class             key              API
==============  ======================  ===============  ===================================
``edas``        ``EdasApplication``     ``edas:``        EDAS ``RestartApplication``
``webplus``     ``WebPlusEnvironment``  ``webplus:``     Web+ ``RestartAppEnv``
``sae``         ``SaeApplication``      ``sae:``         SAE ``RestartApplication``
``edas-k8s``    ``EdasK8sApplication``  ``edas-k8s:``    EDAS ``RestartK8sApplication``
==============  ======================  ===============  ===================================

A new kind is a module with an input class and a :class:`~restart_trigger.targets.base.Target`
subclass (its fields and checks, operations, busy rule, ``changes`` for lost answers, status
decoding and label), added with :func:`register`.

An entry without a ``kind`` is of the first kind in ``KINDS`` whose id field it has: an
``app_id`` alone is an EDAS application (as before SAE and EDAS Kubernetes applications
existed), an ``env_id`` a Web+ environment. The kinds that share an id field with an earlier
one (``sae``, ``edas-k8s``: ``app_id``) are named by their ``kind``, which their input classes
always write.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from restart_trigger.targets.base import (
    FAILED,
    PAUSED,
    RUNNING,
    SUCCEEDED,
    UNKNOWN_STATE,
    ChangeStatus,
    InstancesView,
    Target,
    key_of,
)
from restart_trigger.targets.edas import EdasApplication, EdasTarget
from restart_trigger.targets.k8s import EdasK8sApplication, EdasK8sTarget
from restart_trigger.targets.sae import SaeApplication, SaeTarget
from restart_trigger.targets.webplus import WebPlusEnvironment, WebPlusTarget
from restart_trigger.validation import KNOWN_AFTER_APPLY, Failures, is_unknown
from restart_trigger.verify import check_spec

MAX_TARGETS = 1000
"""The most targets one trigger restarts. Its state keeps a progress record per target
(about 300 bytes each) and every preview shows them; a fleet bigger than this reads better,
and fails more locally, as several triggers."""

SHARED_FIELDS = frozenset({"verify"})
"""Fields an entry of every kind may have: ``verify``, the target's own verification after its
restart (``restart_trigger.verify``), instead of the trigger's; ``false``: none."""

KINDS: dict[str, type[Target]] = {}
"""Every kind, by its ``kind``, in the order they were registered."""
INPUTS_BY_KIND: dict[str, type] = {}
"""The input class (``EdasApplication``...) of each kind."""
_BY_ID_FIELD: dict[str, type[Target]] = {}
"""The kind an entry without ``kind`` is, by the id field it has: the first registered."""


def register(target: type[Target], input_class: type) -> None:
    """Add a kind of target: ``target`` (a :class:`Target` subclass: fields and checks,
    restart call, busy rule, ``changes`` for lost answers, status) and its input class.
    Everything a kind knows lives in its module; registering it is all the rest of the
    package needs (``parse_targets``, the plan, the runner and recovery use it from here)."""
    if target.kind in KINDS:
        raise ValueError(f"a kind {target.kind!r} is already registered")
    KINDS[target.kind] = target
    INPUTS_BY_KIND[target.kind] = input_class
    _BY_ID_FIELD.setdefault(target.id_field, target)


def unregister(kind: str) -> None:
    """Remove a kind ``register`` added (tests that register a kind of their own)."""
    target = KINDS.pop(kind)
    INPUTS_BY_KIND.pop(kind, None)
    if _BY_ID_FIELD.get(target.id_field) is target:
        del _BY_ID_FIELD[target.id_field]
        for other in KINDS.values():
            _BY_ID_FIELD.setdefault(other.id_field, other)


for _target, _input in (
    (EdasTarget, EdasApplication),
    (WebPlusTarget, WebPlusEnvironment),
    (SaeTarget, SaeApplication),
    (EdasK8sTarget, EdasK8sApplication),
):
    register(_target, _input)

__all__ = [
    "FAILED",
    "KINDS",
    "register",
    "unregister",
    "MAX_TARGETS",
    "PAUSED",
    "RUNNING",
    "SUCCEEDED",
    "UNKNOWN_STATE",
    "ChangeStatus",
    "InstancesView",
    "SHARED_FIELDS",
    "EdasApplication",
    "EdasK8sApplication",
    "ParsedTargets",
    "SaeApplication",
    "Target",
    "TargetView",
    "WebPlusEnvironment",
    "parse_targets",
    "target_keys",
    "view_targets",
]


def _implied(cls: type[Target]) -> bool:
    """Whether an entry of kind ``cls`` may leave its ``kind`` out (see the module doc)."""
    return _BY_ID_FIELD[cls.id_field] is cls


def _example() -> str:
    return " or ".join(
        f"[{{{cls.id_field}: ...}}]"
        if _implied(cls)
        else f"[{{kind: {cls.kind}, {cls.id_field}: ...}}]"
        for cls in KINDS.values()
    )


def kind_of(
    raw: Mapping[str, Any], path: str, failures: Failures | None = None
) -> type[Target] | None:
    """The kind of one ``targets`` entry: its ``kind`` field, else the id field it has.

    With ``failures``, a missing, contradictory or unknown kind is reported there."""
    report = failures.add if failures is not None else (lambda _p, _r: None)
    kind = raw.get("kind")
    has = [name for name in _BY_ID_FIELD if name in raw]
    if kind is not None and not is_unknown(kind):
        cls = KINDS.get(kind)
        if cls is None:
            names = " or ".join(repr(k) for k in KINDS)
            report(f"{path}.kind", f"must be {names}, got {kind!r}")
            return None
        wrong = [name for name in has if name != cls.id_field]
        if wrong:
            report(path, f"a {kind} target takes no {wrong[0]}: use one entry per target")
            return None
        return cls
    if len(has) > 1:
        named = " or ".join(f"{name} (a {_BY_ID_FIELD[name].title})" for name in has)
        report(path, f"set either {named}, not both: use one entry per target")
        return None
    if not has:
        inputs = " or ".join(f"{c.__name__}({k.id_field}=...)" for c, k in _input_kinds())
        report(path, f"names no target: use {inputs}")
        return None
    return _BY_ID_FIELD[has[0]]


def _kind_hint(entry: Mapping[str, Any], cls: type[Target], extra: list[str]) -> str:
    """For an entry without ``kind`` whose extra fields are another kind's (with the same id
    field): the ``kind`` to write."""
    if "kind" in entry:
        return ""
    fits = [
        other
        for other in KINDS.values()
        if other is not cls and other.id_field == cls.id_field and set(extra) <= other.fields
    ]
    if not fits:
        return ""
    named = " or ".join(f"set kind: {other.kind} for an {other.title}" for other in fits)
    return f"; {named}"


def _input_kinds() -> list[tuple[type, type[Target]]]:
    return [(INPUTS_BY_KIND[kind], cls) for kind, cls in KINDS.items()]


@dataclass
class ParsedTargets:
    """What :func:`parse_targets` found: the targets (when valid), the normalized input
    dicts (stored as the trigger's input), and the failures."""

    targets: list[Target] = field(default_factory=list)
    normalized: Any = field(default_factory=list)
    failures: Failures = field(default_factory=Failures)
    verify: dict[str, tuple[Any, str]] = field(default_factory=dict)
    """Per key of a built target, its own checked ``verify`` value (None: the trigger's
    applies; ``False``: none) and that value's path (``targets[2].verify``)."""


def parse_targets(raw: Any, path: str = "targets") -> ParsedTargets:
    """Check the ``targets`` input field by field and build the targets.

    Unknown values (a preview before an Output resolves) are let through unchecked; targets
    with an unknown id are not built (so ``targets`` is then partial).
    """
    out = ParsedTargets()
    if is_unknown(raw):
        out.normalized = raw
        return out
    if raw is None:
        out.failures.add(path, f"is required: list what to restart, e.g. {_example()}")
        return out
    if not isinstance(raw, list):
        names = "/".join(cls.__name__ for cls in INPUTS_BY_KIND.values())
        out.failures.add(
            path,
            f"must be a list of {names} (or mappings with "
            f"{' / '.join(_BY_ID_FIELD)}), got {type(raw).__name__}; write a list even for one "
            "target",
        )
        return out
    if not raw:
        out.failures.add(path, "must name at least one target")
        return out
    if len(raw) > MAX_TARGETS:
        out.failures.add(
            path,
            f"lists {len(raw)} targets, more than {MAX_TARGETS} in one trigger: split them over "
            "several triggers (each keeps a progress record per target in its state)",
        )
        return out
    seen: dict[str, int] = {}
    for i, entry in enumerate(raw):
        here = f"{path}[{i}]"
        if is_unknown(entry):
            out.normalized.append(entry)
            continue
        if not isinstance(entry, Mapping):
            names = " or ".join(cls.__name__ for cls in INPUTS_BY_KIND.values())
            out.failures.add(here, f"must be a {names}, got {entry!r}")
            continue
        cls = kind_of(entry, here, out.failures)
        if cls is None:
            continue
        extra = sorted(set(entry) - cls.fields - SHARED_FIELDS)
        if extra:
            allowed = ", ".join(sorted((cls.fields | SHARED_FIELDS) - {"kind"}))
            out.failures.add(
                f"{here}.{extra[0]}",
                f"unknown field for a {cls.kind} target; allowed: {allowed}"
                + _kind_hint(entry, cls, extra),
            )
        before = len(out.failures)
        cls.validate(entry, here, out.failures)
        own_verify = check_spec(entry.get("verify"), f"{here}.verify", out.failures, target=True)
        normalized = {
            "kind": cls.kind,
            **{k: v for k, v in entry.items() if k != "kind" and v is not None},
        }
        if own_verify is not None:
            normalized["verify"] = own_verify
        out.normalized.append(normalized)
        if len(out.failures) != before or is_unknown(entry[cls.id_field]):
            continue
        target = cls.from_input(normalized)
        if target.key in seen:
            out.failures.add(
                here, f"duplicate target {target.key} (also {path}[{seen[target.key]}])"
            )
            continue
        seen[target.key] = i
        out.targets.append(target)
        out.verify[target.key] = (own_verify, f"{here}.verify")
    return out


def target_keys(raw: Any, *, ordered: bool = False) -> list[str] | None:
    """The keys of a stored ``targets`` input, sorted (or, with ``ordered``, in the order
    given), or None when any is not known."""
    if not isinstance(raw, list):
        return None
    keys = []
    for entry in raw:
        if not isinstance(entry, Mapping):
            return None
        cls = kind_of(entry, "")
        if cls is None or is_unknown(entry.get(cls.id_field)) or entry.get(cls.id_field) is None:
            return None
        keys.append(key_of(cls.kind, entry[cls.id_field]))
    return keys if ordered else sorted(keys)


@dataclass(frozen=True)
class TargetView:
    """One target as a reader of a preview sees it (values may not be known yet)."""

    kind: str
    ident: str
    label: str
    strategy: str

    @property
    def key(self) -> str:
        return key_of(self.kind, self.ident)


def view_targets(raw: Any) -> list[TargetView]:
    """The targets of a trigger's inputs as a preview shows them: tolerant of unknowns and of
    shapes ``check`` would refuse."""
    if raw is None:
        return []
    unknown = TargetView(
        "unknown", KNOWN_AFTER_APPLY, f"target {KNOWN_AFTER_APPLY}", KNOWN_AFTER_APPLY
    )
    if is_unknown(raw) or not isinstance(raw, list):
        return [unknown]
    out = []
    for entry in raw:
        cls = kind_of(entry, "") if isinstance(entry, Mapping) else None
        if cls is None:
            out.append(unknown)
            continue
        ident = entry.get(cls.id_field)
        text = KNOWN_AFTER_APPLY if ident is None or is_unknown(ident) else str(ident)
        out.append(TargetView(cls.kind, text, f"{cls.title} {text}", cls.strategy(entry)))
    return out

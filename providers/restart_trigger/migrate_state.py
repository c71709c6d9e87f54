"""``restart-trigger-migrate-state``: move a stack made before the rename to ``restart_trigger``.

Until 0.2 the package was imported as ``providers``, and Pulumi stores the dynamic provider,
pickled by reference, in every trigger's state (``__provider``): old states name
``providers.restart_trigger.RestartTriggerProvider``. ``pulumi preview`` and ``pulumi up``
work on such a stack (the engine uses the program's new provider), but ``pulumi refresh`` and
``pulumi destroy`` unpickle the stored one and fail with ``No module named 'providers'``.
One command rewrites the stored provider; nothing else in the state changes::

    pulumi stack export | restart-trigger-migrate-state | pulumi stack import

It reads the export on stdin (or a file), writes the migrated export to stdout, and says on
stderr how many triggers it moved. The provider holds no state, so the new value is simply
the current provider, serialized the way the SDK serializes it. Running it twice is harmless.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import json
import pickle
import sys
from collections.abc import Sequence
from typing import Any

TRIGGER_TYPE = "pulumi-python:dynamic/restart:RestartTrigger"
PROVIDER_KEY = "__provider"
OLD_MODULE = b"providers.restart_trigger"


def current_provider() -> str:
    """The current provider, serialized as ``pulumi.dynamic.Resource`` stores it."""
    from restart_trigger.provider import RestartTriggerProvider

    try:  # the SDK's own serializer (an internal name: used only when it is there)
        from pulumi.dynamic.dynamic import serialize_provider
    except ImportError:
        serialize_provider = None
    if callable(serialize_provider):
        return serialize_provider(RestartTriggerProvider())
    import dill

    data = dill.dumps(RestartTriggerProvider(), protocol=pickle.DEFAULT_PROTOCOL, recurse=True)
    return base64.b64encode(data).decode("ascii")


def is_old_provider(value: Any) -> bool:
    """A stored provider that names the pre-rename module."""
    if not isinstance(value, str):
        return False
    try:
        return OLD_MODULE in base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return False


def migrate(export: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """Rewrite old providers in a ``pulumi stack export`` document; return it and the count of
    triggers changed."""
    deployment = export.get("deployment") if isinstance(export, dict) else None
    if not isinstance(deployment, dict):
        raise ValueError('not a `pulumi stack export` document (no "deployment" object)')
    new = None
    moved = 0
    for resource in deployment.get("resources") or []:
        if not isinstance(resource, dict) or resource.get("type") != TRIGGER_TYPE:
            continue
        changed = False
        for section in ("inputs", "outputs"):
            props = resource.get(section)
            if isinstance(props, dict) and is_old_provider(props.get(PROVIDER_KEY)):
                new = new or current_provider()
                props[PROVIDER_KEY] = new
                changed = True
        moved += changed
    return export, moved


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="restart-trigger-migrate-state",
        description="Rewrite the stored provider of RestartTriggers made before the rename to "
        "restart_trigger: pulumi stack export | restart-trigger-migrate-state | "
        "pulumi stack import",
    )
    parser.add_argument("file", nargs="?", help="the export JSON (default: stdin)")
    args = parser.parse_args(argv)
    try:
        if args.file in (None, "-"):
            text = sys.stdin.read()
        else:
            with open(args.file, encoding="utf-8") as handle:
                text = handle.read()
        export, moved = migrate(json.loads(text))
    except (OSError, ValueError) as exc:  # json.JSONDecodeError is a ValueError
        print(f"error: {exc}", file=sys.stderr)
        return 2
    json.dump(export, sys.stdout, indent=4)
    sys.stdout.write("\n")
    print(f"restart-trigger-migrate-state: {moved} trigger(s) migrated", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

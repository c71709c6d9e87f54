"""The GitOps preview summary, fed by the real ``pulumi preview --json`` of the example stack.

The test changes a stack the way a pull request would, summarizes the real preview JSON, then
runs ``pulumi up`` and checks against the emulator's journal that exactly the targets the
summary listed were restarted.

The unit fixture ``tests/unit/fixtures/preview_mixed.json`` is this test's preview with
machine-specific noise removed. Regenerate it with
``PREVIEW_SUMMARY_UPDATE_FIXTURE=1 pytest tests/e2e/test_preview_summary_e2e.py``; otherwise the
test checks that the fixture still summarizes exactly like today's real preview (CLI or
program drift).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest

from restart_trigger.preview_summary import summarize_preview
from testbed.emulator import (
    EXTRA_WORLD,
    RESTARTS,
    TEST_APP2_ID,
    TEST_APP_ID,
    TEST_ECC_IDS,
    TEST_ENV2_ID,
    TEST_ENV_ID,
    target_of,
)
from tests.e2e.conftest import set_triggers

pytestmark = pytest.mark.e2e

FIXTURE = Path(__file__).resolve().parents[1] / "unit" / "fixtures" / "preview_mixed.json"
FIXTURE_STACK = "e2e-stack"
FIXTURE_URL = "http://127.0.0.1:8080"

APP2, ENV2 = TEST_APP2_ID, TEST_ENV2_ID

API = {
    "name": "api",
    "paths": ["config/api"],
    "targets": [{"app_id": TEST_APP_ID, "ecc_ids": TEST_ECC_IDS}],
}
WEB = {
    "name": "web",
    "paths": ["config/web"],
    "targets": [{"env_id": TEST_ENV_ID, "batch_size": 2}],
}
BOTH = {"name": "both", "paths": ["config/shared"], "targets": [{"app_id": APP2}, {"env_id": ENV2}]}
OLD = {"name": "old", "paths": ["config/shared"], "targets": [{"env_id": ENV2}]}
FILES = {
    "config/api/app.properties": "pool=10\n",
    "config/web/nginx.conf": "gzip on;\n",
    "config/shared/shared.yaml": "retries: 3\n",
}
# The pull request: api's config changes, web's timeout changes, both drops a target, old is
# removed, and two triggers are added (one restarting on create, one not).
CHANGED = [
    API,
    {**WEB, "timeout": 600},
    {**BOTH, "targets": [{"app_id": APP2}]},
    {
        "name": "canary",
        "paths": ["config/web"],
        "targets": [{"env_id": ENV2, "batch_percent": 50, "pause_between_batches": True}],
        "restart_on_create": True,
        "wait": False,
    },
    {"name": "worker", "paths": ["config/shared"], "targets": [{"app_id": APP2}]},
]


def table_rows(markdown: str) -> list[dict[str, str]]:
    """The rows of the restart table, as {column: text}."""
    lines = [line for line in markdown.splitlines() if line.startswith("|")]
    if not lines:
        return []
    header = [cell.strip() for cell in lines[0].strip("|").split("|")]
    return [dict(zip(header, split_row(line), strict=True)) for line in lines[2:]]


def split_row(line: str) -> list[str]:
    """The cells of a Markdown table row, honouring escaped pipes (``\\|``)."""
    return [cell.strip() for cell in re.split(r"(?<!\\)\|", line.strip().strip("|"))]


def scrub(preview: dict[str, Any], stack_name: str, base_url: str) -> dict[str, Any]:
    """The preview without machine-specific noise: stack traces, source paths, random names."""

    def clean(node: Any) -> Any:
        if isinstance(node, dict):
            return {
                k: clean(v)
                for k, v in node.items()
                if k not in ("stackTrace", "sourcePosition", "duration")
            }
        if isinstance(node, list):
            return [clean(v) for v in node]
        return node

    text = json.dumps(clean(preview), indent=2, sort_keys=True)
    text = text.replace(stack_name, FIXTURE_STACK).replace(base_url, FIXTURE_URL)
    return json.loads(text)


def test_summary_of_a_real_preview_lists_exactly_the_restarts_up_performs(emulator, trigger_stack):
    emulator.seed(EXTRA_WORLD)
    stack = trigger_stack([API, WEB, BOTH, OLD], FILES)
    stack.up()

    # Nothing changed yet: the summary says so.
    assert "**No restarts.**" in summarize_preview(stack.preview_json())

    (stack.workdir / "config/api/app.properties").write_text("pool=20\n")
    set_triggers(stack, CHANGED)
    hashes = {k.removesuffix(".hash"): v for k, v in stack.outputs().items() if k.endswith(".hash")}

    emulator.clear_journal()
    preview = stack.preview_json()
    assert emulator.journal() == [], "a preview must call no API"
    markdown = summarize_preview(preview)

    rows = table_rows(markdown)
    assert [(r["Trigger"], r["Target"]) for r in rows] == [
        ("`api`", f"EDAS app {TEST_APP_ID}"),
        ("`canary`", f"Web+ env {ENV2}"),
    ]
    api, canary = rows
    assert api["Strategy"] == f"ECC {','.join(TEST_ECC_IDS)}; wait up to 1800s"
    old_api = hashes["api"].removeprefix("sha256:")[:12]
    assert re.fullmatch(rf"{old_api} → [0-9a-f]{{12}}", api["Hash"])
    assert not api["Hash"].endswith(old_api)
    assert api["Why"] == "hash changed"
    assert canary["Strategy"] == "50% per batch, pause between batches; no wait"
    assert canary["Hash"].startswith("— → ")
    assert canary["Why"] == "new trigger with restart_on_create"

    quiet = markdown.split("#### Trigger changes without restart", 1)[1]
    assert f"- `both`: targets changed, no restart (drops Web+ env {ENV2})" in quiet
    assert "- `old`: deleted" in quiet
    assert "- `web`: options only, no restart (timeout 1800 → 600)" in quiet
    assert "- `worker`: created, no restart" in quiet

    # The unit fixture is this very preview: keep it in step with the real CLI.
    scrubbed = scrub(preview, stack.name, emulator.base_url)
    if os.environ.get("PREVIEW_SUMMARY_UPDATE_FIXTURE"):
        FIXTURE.parent.mkdir(parents=True, exist_ok=True)
        FIXTURE.write_text(json.dumps(scrubbed, indent=2, sort_keys=True) + "\n")
    assert FIXTURE.exists(), "run with PREVIEW_SUMMARY_UPDATE_FIXTURE=1 to create the unit fixture"
    assert summarize_preview(json.loads(FIXTURE.read_text())) == summarize_preview(scrubbed), (
        "tests/unit/fixtures/preview_mixed.json no longer matches the real preview: "
        "regenerate it with PREVIEW_SUMMARY_UPDATE_FIXTURE=1"
    )

    # What up does is what the summary said: these two targets restart, nothing else.
    emulator.clear_journal()
    stack.up()
    restarted = sorted(
        (e["action"], target_of(e)) for e in emulator.journal() if e["action"] in RESTARTS
    )
    assert restarted == [("RestartAppEnv", ENV2), ("RestartApplication", TEST_APP_ID)]

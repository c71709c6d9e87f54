"""The promises of RestartTrigger, proven with the real Pulumi CLI against the emulator.

Every assertion about API calls reads the emulator's request journal.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from testbed.emulator import (
    EXTRA_WORLD,
    RESTARTS,
    TEST_ACCESS_KEY_SECRET,
    TEST_APP2_ID,
    TEST_APP_ID,
    TEST_ENV2_ID,
    TEST_ENV_ID,
    TEST_REGION,
    TEST_STS_ACCESS_KEY_SECRET,
    TEST_STS_TOKEN,
    target_of,
)
from tests.e2e.test_no_secret_in_debug_logs import _files as readable_files

pytestmark = pytest.mark.e2e

APP2, ENV2 = TEST_APP2_ID, TEST_ENV2_ID

TRIGGERS = [
    {"name": "api", "paths": ["config/api"], "targets": [{"app_id": TEST_APP_ID}]},
    {"name": "web", "paths": ["config/web"], "targets": [{"env_id": TEST_ENV_ID, "batch_size": 1}]},
    {
        "name": "both",
        "paths": ["config/shared"],
        "targets": [{"app_id": APP2}, {"env_id": ENV2}],
    },
]
FILES = {
    "config/api/app.properties": "pool=10\n",
    "config/web/nginx.conf": "gzip on;\n",
    "config/shared/shared.yaml": "retries: 3\n",
}


def restart_calls(emulator):
    return [e for e in emulator.journal() if e["action"] in RESTARTS]


def accepted_restarts(emulator):
    return [e for e in restart_calls(emulator) if e["status"] == 200 and e["result_id"]]


@pytest.fixture
def world(emulator):
    emulator.seed(EXTRA_WORLD)
    return emulator


def test_config_change_restarts_exactly_that_target_and_outputs_its_change_id(world, trigger_stack):
    emulator = world
    stack = trigger_stack(TRIGGERS, FILES)

    # 1. first up creates the triggers and restarts nothing
    stack.up()
    assert restart_calls(emulator) == []
    first = stack.outputs()
    assert first["api.change_order_ids"] == {}

    # 2. change one target's config: preview calls no API, shows the update of that trigger
    (stack.workdir / "config/api/app.properties").write_text("pool=20\n")
    emulator.clear_journal()
    preview = stack.preview("--diff")
    assert emulator.journal() == []
    assert "~ 1 to update" in preview.output
    assert "RestartTrigger::api]" in preview.output
    assert f'~ hash             : "{first["api.hash"]}" =>' in preview.output

    stack.up()
    calls = restart_calls(emulator)
    assert [(c["action"], target_of(c)) for c in calls] == [("RestartApplication", TEST_APP_ID)]
    issued = calls[0]["result_id"]
    outputs = stack.outputs()
    assert outputs["api.change_order_ids"] == {f"edas:{TEST_APP_ID}": issued}
    assert outputs["api.statuses"] == {f"edas:{TEST_APP_ID}": "succeeded"}
    [api] = [r for r in stack.resources("RestartTrigger") if r["urn"].endswith("::api")]
    assert api["outputs"]["change_order_id"] == issued
    assert api["outputs"]["restarted_hash"] == outputs["api.hash"]
    assert outputs["web.change_order_ids"] == {}

    # 3. up again: nothing to do, no restart
    emulator.clear_journal()
    again = stack.up()
    assert restart_calls(emulator) == []
    assert "4 unchanged" in again.output

    # 4. Web+ target, and one trigger with an EDAS and a Web+ target restarted together
    (stack.workdir / "config/web/nginx.conf").write_text("gzip off;\n")
    (stack.workdir / "config/shared/shared.yaml").write_text("retries: 5\n")
    emulator.clear_journal()
    stack.up()
    calls = restart_calls(emulator)
    assert sorted((c["action"], target_of(c)) for c in calls) == sorted(
        [
            ("RestartAppEnv", TEST_ENV_ID),
            ("RestartApplication", APP2),
            ("RestartAppEnv", ENV2),
        ]
    )
    web_call = next(c for c in calls if target_of(c) == TEST_ENV_ID)
    assert web_call["form"]["BatchSize"] == "1"
    issued = {target_of(c): c["result_id"] for c in calls}
    outputs = stack.outputs()
    assert outputs["web.change_order_ids"] == {f"webplus:{TEST_ENV_ID}": issued[TEST_ENV_ID]}
    assert outputs["both.change_order_ids"] == {
        f"edas:{APP2}": issued[APP2],
        f"webplus:{ENV2}": issued[ENV2],
    }
    assert outputs["both.statuses"] == {f"edas:{APP2}": "succeeded", f"webplus:{ENV2}": "succeeded"}

    # 8. destroy calls no API
    emulator.clear_journal()
    stack.destroy()
    assert emulator.journal() == []


def test_failed_restart_fails_up_clearly_and_the_next_up_restarts_once(world, trigger_stack):
    emulator = world
    stack = trigger_stack(TRIGGERS[:2], FILES)
    stack.up()

    # the emulator fails the EDAS change order
    emulator.set_faults({"fail_app_ids": [TEST_APP_ID]})
    (stack.workdir / "config/api/app.properties").write_text("pool=30\n")
    failed = stack.up(check=False)
    assert failed.returncode != 0
    assert f"edas:{TEST_APP_ID}" in failed.output
    assert "failed" in failed.output
    assert "the next `pulumi up` restarts the 1 target(s) above again" in failed.output
    [call] = accepted_restarts(emulator)
    assert call["result_id"] in failed.output

    # a Web+ env in a state that cannot restart: refused with StatusNotAllowedRestart
    emulator.seed(
        {
            "webplus_environments": [
                {
                    "env_id": TEST_ENV_ID,
                    "region": TEST_REGION,
                    "name": "test-env",
                    "status": "UPDATING",
                }
            ]
        }
    )
    (stack.workdir / "config/web/nginx.conf").write_text("gzip off;\n")
    emulator.clear_journal()
    refused = stack.up(check=False)
    assert refused.returncode != 0
    assert "StatusNotAllowedRestart" in refused.output
    assert f"webplus:{TEST_ENV_ID}" in refused.output

    # faults cleared: the next up restarts each target exactly once, and then nothing
    emulator.clear_faults()
    emulator.seed(
        {
            "webplus_environments": [
                {
                    "env_id": TEST_ENV_ID,
                    "region": TEST_REGION,
                    "name": "test-env",
                    "status": "RUNNING",
                }
            ]
        }
    )
    emulator.clear_journal()
    stack.up()
    assert sorted(target_of(c) for c in accepted_restarts(emulator)) == sorted(
        [TEST_APP_ID, TEST_ENV_ID]
    )
    emulator.clear_journal()
    stack.up()
    assert restart_calls(emulator) == []


def test_refresh_reads_the_status_of_the_last_change_orders(world, trigger_stack):
    emulator = world
    triggers = [dict(TRIGGERS[0], wait=False)]
    emulator.seed({"defaults": {"change_duration_s": 3.0}})
    stack = trigger_stack(triggers, FILES)
    stack.up()
    (stack.workdir / "config/api/app.properties").write_text("pool=40\n")
    stack.up()
    assert stack.outputs()["api.statuses"] == {f"edas:{TEST_APP_ID}": "running"}

    time.sleep(3.5)
    emulator.clear_journal()
    stack.refresh()
    actions = [e["action"] for e in emulator.journal()]
    assert actions == ["GetChangeOrderInfo"]
    [api] = stack.resources("RestartTrigger")
    assert api["outputs"]["statuses"] == {f"edas:{TEST_APP_ID}": "succeeded"}


def test_no_secret_reaches_state_outputs_or_logs(world, trigger_stack):
    emulator = world
    stack = trigger_stack(TRIGGERS[:2], FILES, sts=True)
    stack.up()
    (stack.workdir / "config/api/app.properties").write_text("pool=50\n")
    (stack.workdir / "config/web/nginx.conf").write_text("gzip off;\n")
    stack.up()
    assert len(accepted_restarts(emulator)) == 2  # the STS credentials really were used
    stack.refresh()
    # a failing run too: error texts are logs as well
    emulator.set_faults({"fail_app_ids": [TEST_APP_ID]})
    (stack.workdir / "config/api/app.properties").write_text("pool=60\n")
    stack.up(check=False)
    emulator.clear_faults()

    exported = json.dumps(stack.export())
    texts = {"stack export": exported}
    texts.update({" ".join(r.args): r.output for r in stack.log})
    # Gunzipped and base64-decoded: the CLI's logs are gzip files. (The automatic logs are
    # also encrypted with the stack's secrets provider; decrypted, they hold the CLI's own
    # Configure line, which tests/e2e/test_no_secret_in_debug_logs.py pins.)
    texts.update(readable_files(Path(stack.env["PULUMI_HOME"])))
    for path in stack.workdir.rglob("*"):  # the secrets are in the stack file, encrypted
        if path.is_file():
            texts[str(path)] = path.read_text(errors="replace")
    texts["emulator journal"] = json.dumps(emulator.journal())
    texts["emulator stderr"] = emulator.stderr_text()
    for secret in (TEST_STS_ACCESS_KEY_SECRET, TEST_STS_TOKEN, TEST_ACCESS_KEY_SECRET):
        leaks = [name for name, text in texts.items() if secret in text]
        assert leaks == [], f"secret found in {leaks}"

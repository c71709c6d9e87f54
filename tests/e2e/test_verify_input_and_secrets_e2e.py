"""``verify`` with the real CLI: bad values refused at preview naming each field with zero API
calls, and header values (secrets) nowhere: not in state, outputs, the CLI's output and logs,
the failure text (even when the probed service echoes them back), the emulator's journal.

The grep follows ``test_restart_trigger_e2e.py`` (``test_no_secret_reaches_state_...``) and
``test_no_secret_in_debug_logs.py``: runs without ``-v=9`` (at ``-v=9`` the engine logs every
property of every provider RPC, secrets of resources included: the CLI's own leak that file
pins for config secrets).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from restart_trigger.preview_summary import summarize_preview
from testbed.emulator import (
    RESTARTS,
    TEST_ACCESS_KEY_ID,
    TEST_ACCESS_KEY_SECRET,
    TEST_APP_ID,
    TEST_ENV_ID,
    TEST_REGION,
    TEST_SAE_APP_ID,
)
from tests.e2e.test_no_secret_in_debug_logs import _files as readable_files
from tests.e2e.test_verify_e2e import Health, serving, trigger_outputs

pytestmark = pytest.mark.e2e

HEADER_VALUE = "probe-bearer-7d1e4c9a0b"
CONFIG_FILE = "config/api/app.properties"


@pytest.fixture
def health() -> Iterator[Health]:
    yield from serving()


def test_bad_verify_input_is_refused_at_preview_naming_each_field_with_no_api_call(
    new_stack, emulator
):
    # From a Python program (the literal program: NaN as a program computes it); every problem
    # of a trigger is reported at once.
    stack = new_stack("literal")
    stack.use_account(
        emulator.base_url, TEST_ACCESS_KEY_ID, TEST_ACCESS_KEY_SECRET, region=TEST_REGION
    )
    inputs = {
        "hash": "h",
        "verify": {
            "http": [
                {"url": "ftp://health.example.test/x"},
                {"url": "https://admin:hunter2@health.example.test/x"},
                {
                    "url": "http://127.0.0.1:9/h",
                    "timeout": 0,
                    "headers": {"Authorization": HEADER_VALUE},
                },
            ],
            "within": float("nan"),
        },
        "targets": [
            {"kind": "edas", "app_id": TEST_APP_ID, "verify": {"http": []}},
            {
                "kind": "webplus",
                "env_id": TEST_ENV_ID,
                "verify": {"http": [{"url": "file:///etc/passwd"}], "within": -5},
            },
            {"kind": "sae", "app_id": TEST_SAE_APP_ID, "verify": {"cloud": True, "within": 0}},
        ],
    }
    stack.config_set("literal:inputs", json.dumps(inputs))
    emulator.clear_journal()
    result = stack.preview(check=False)

    assert result.returncode != 0
    out = result.output
    for field, words in [
        ("verify.http[0].url", "must be an http:// or https:// URL (got scheme 'ftp')"),
        ("verify.http[1].url", "must not hold credentials"),
        ("verify.http[2].timeout", "must be a number of seconds more than 0"),
        ("verify.within", "got nan"),
        ("targets[0].verify.http", "must list at least one probe"),
        ("targets[1].verify.http[0].url", "(got scheme 'file')"),
        ("targets[1].verify.within", "got -5"),
        ("targets[2].verify.within", "got 0"),
    ]:
        lines = [line for line in out.splitlines() if f"property {field} value {{<nil>}}" in line]
        assert any(words in line for line in lines), (field, out)
    assert "hunter2" not in out and HEADER_VALUE not in out
    assert "Traceback" not in out
    assert emulator.journal() == []  # refused before any call, not even a read

    # From the example stack's config: nothing to check at all.
    stack.config_set(
        "literal:inputs",
        json.dumps({"hash": "h", "targets": [{"app_id": TEST_APP_ID}], "verify": {}}),
    )
    result = stack.preview(check=False)
    assert result.returncode != 0
    assert "verify: names nothing to check" in result.output
    assert emulator.journal() == []


def set_header_secret(stack, value: str) -> None:
    """The probe's header value as a secret of the stack config, as a user would set it."""
    path = "restart-trigger:triggers[0].verify.http[0].headers.Authorization"
    stack.run("config", "set", "-s", stack.name, "--secret", "--path", path, value)


def test_header_values_never_reach_state_outputs_logs_or_errors(trigger_stack, emulator, health):
    triggers = [
        {
            "name": "api",
            "paths": ["config/api"],
            "targets": [{"app_id": TEST_APP_ID}],
            "verify": {"http": [{"url": f"{health.url}/health"}], "within": 2, "interval": 0.5},
        }
    ]
    stack = trigger_stack(triggers, {CONFIG_FILE: "pool=1\n"}, sts=True)
    set_header_secret(stack, HEADER_VALUE)
    stack.up()
    (stack.workdir / CONFIG_FILE).write_text("pool=2\n")
    stack.preview("--diff")
    stack.up()
    got = [headers.get("Authorization") for _, _, headers in health.requests("/health")]
    assert got and set(got) == {HEADER_VALUE}  # the header really was sent
    stack.refresh()
    # a failing run too: the service echoes the request's headers in its 500 body
    health.answer("/health", 500)
    (stack.workdir / CONFIG_FILE).write_text("pool=3\n")
    failed = stack.up(check=False)
    assert failed.returncode != 0 and "HTTP 500 (expected 2xx)" in failed.output
    assert """body '{"authorization": "***", """ in failed.output  # echoed back, scrubbed
    stack.preview("--diff")  # "verify again at up"
    preview_json = stack.run("preview", "-s", stack.name, "--json").stdout
    summary = summarize_preview(json.loads(preview_json))
    # a list holding a secret is secret whole: the summary shows the probes as [secret]
    assert "verify again at up, no restart (verify HTTP probes \\[secret\\]" in summary
    outputs = stack.outputs()
    restarts = [e for e in emulator.journal() if e["action"] in RESTARTS and e.get("applied")]
    assert len(restarts) == 2

    exported = stack.export()
    (trigger,) = [
        r for r in exported["deployment"]["resources"] if r["type"].endswith("RestartTrigger")
    ]
    # the engine keeps the probes (they hold a secret) encrypted, inputs and outputs alike
    assert trigger["inputs"]["verify"]["http"]["4dabf18193072939515e22adb298388d"]
    assert trigger["outputs"]["verify"]["http"]["4dabf18193072939515e22adb298388d"]
    progress = trigger_outputs(stack)["progress"][f"edas:{TEST_APP_ID}"]
    assert progress["unverified_hash"] == progress["hash"]

    texts = {"stack export": json.dumps(exported), "stack output": json.dumps(outputs)}
    texts["preview --json"] = preview_json
    texts.update({" ".join(r.args[:2]) + f" #{i}": r.output for i, r in enumerate(stack.log)})
    texts.update(readable_files(Path(stack.env["PULUMI_HOME"])))
    for path in stack.workdir.rglob("*"):  # the config holds the value encrypted
        if path.is_file():
            texts[str(path)] = path.read_text(errors="replace")
    texts["emulator journal"] = json.dumps(emulator.journal())
    texts["emulator stderr"] = emulator.stderr_text()
    # `config set` runs carry the value as an argument (the user typed it): not an output
    texts = {k: v for k, v in texts.items() if not k.startswith("pulumi config")}
    leaks = [name for name, text in texts.items() if HEADER_VALUE in text]
    assert leaks == [], f"a header value was found in {leaks}"

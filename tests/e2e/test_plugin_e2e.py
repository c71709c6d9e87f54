"""The alirestart resource plugin end to end: the real CLI, the plugin the package installs
(``pulumi-resource-alirestart``, found on PATH as a user's activated virtualenv has it), a
program on the generated SDK, the emulator.

For Python (a program on ``pulumi_alirestart``, the Python language host): preview calls no
restart API, ``up`` restarts exactly the changed targets once, an unchanged ``up`` calls
nothing, a partly failed rollout resumes with only the owed targets, ``customTimeouts`` bound
the wait, ``refresh`` and ``pulumi import``, and the preview's detailed diff names the
targets that restart. YAML is in test_plugin_yaml_e2e.py, TypeScript and Go in
test_plugin_automation_e2e.py.
"""

from __future__ import annotations

import json

import pytest

from testbed.emulator import (
    RESTARTS,
    TEST_ACCESS_KEY_ID,
    TEST_ACCESS_KEY_SECRET,
    TEST_APP_ID,
    TEST_ENV_ID,
    TEST_REGION,
    TEST_SAE_APP_ID,
    target_of,
)
from testbed.plugin import (
    EDAS,
    SAE,
    TYPE,
    WEBPLUS,
    last_seq,
    plugin_env,
    restarts,
    use_emulator,
)
from testbed.sdks import REPO

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def set_triggers(stack, triggers: dict) -> None:
    stack.config_set("triggers", json.dumps(triggers))


@pytest.fixture
def python_stack(new_stack, emulator, tmp_path):
    stack = new_stack("plugin_python", **plugin_env(tmp_path))
    use_emulator(stack, emulator)
    return stack


def test_preview_calls_nothing_and_up_restarts_exactly_the_changed_targets_once(
    python_stack, emulator
):
    stack = python_stack
    set_triggers(stack, {"web": {"hash": "h1", "targets": [EDAS, WEBPLUS, SAE]}})
    stack.up()
    assert restarts(emulator) == []  # created without restartOnCreate: nothing restarts

    set_triggers(stack, {"web": {"hash": "h2", "targets": [EDAS, WEBPLUS, SAE]}})
    seq = last_seq(emulator)
    preview = stack.preview("--diff")
    assert emulator.journal(seq) == [], "preview called the cloud"
    # The detailed diff names each target that restarts (by its id), and a line says why.
    out = preview.output
    assert '~ hash   : "h1" => "h2"' in out, out
    for field, ident in (
        ("appId", TEST_APP_ID),
        ("envId", TEST_ENV_ID),
        ("appId", TEST_SAE_APP_ID),
    ):
        assert f'~ {field}: "{ident}" => "{ident}"' in out, out
    for key in (f"edas:{TEST_APP_ID}", f"webplus:{TEST_ENV_ID}", f"sae:{TEST_SAE_APP_ID}"):
        assert f"web: {key} restarts: hash changed" in out, out

    stack.up()
    assert sorted(restarts(emulator, seq)) == sorted([TEST_APP_ID, TEST_ENV_ID, TEST_SAE_APP_ID])
    out = stack.outputs()["web"]
    assert set(out["statuses"].values()) == {"succeeded"}
    assert out["restarted_hash"] == "h2" and out["owed"] == []

    seq = last_seq(emulator)
    stack.up()
    assert emulator.journal(seq) == [], "an unchanged up called the cloud"

    # refresh reads the change orders again, restarts nothing
    stack.refresh()
    assert restarts(emulator, seq) == []


def test_a_partly_failed_rollout_resumes_with_only_the_owed_targets(python_stack, emulator):
    stack = python_stack
    triggers = {"web": {"hash": "h1", "targets": [EDAS, WEBPLUS, SAE], "maxFailures": 5}}
    set_triggers(stack, triggers)
    stack.up()
    emulator.set_faults({"fail_env_ids": [TEST_ENV_ID]})
    triggers["web"]["hash"] = "h2"
    set_triggers(stack, triggers)
    failed = stack.up(check=False)
    assert failed.returncode != 0
    assert f"webplus:{TEST_ENV_ID}" in failed.output, failed.output
    first = sorted(restarts(emulator))
    assert TEST_APP_ID in first and TEST_SAE_APP_ID in first

    [trigger] = stack.resources(TYPE)
    assert trigger["outputs"]["owed"] == [f"webplus:{TEST_ENV_ID}"]
    assert set(trigger["outputs"]["changeOrderIds"]) == {
        f"edas:{TEST_APP_ID}",
        f"sae:{TEST_SAE_APP_ID}",
    }

    emulator.clear_faults()
    seq = last_seq(emulator)
    stack.up()
    assert restarts(emulator, seq) == [TEST_ENV_ID]


def test_custom_timeouts_bound_the_wait(python_stack, emulator):
    stack = python_stack
    emulator.seed({"sae_applications": [{"app_id": TEST_SAE_APP_ID, "change_duration_s": 60}]})
    set_triggers(
        stack,
        {
            "web": {
                "hash": "h1",
                "targets": [SAE],
                "restartOnCreate": True,
                "customTimeouts": {"create": "5s"},
            }
        },
    )
    failed = stack.up(check=False)
    assert failed.returncode != 0
    assert "timeout" in failed.output.lower(), failed.output
    assert restarts(emulator) == [TEST_SAE_APP_ID]


def test_import_adopts_each_targets_last_restart(python_stack, emulator, new_stack, tmp_path):
    stack = python_stack
    set_triggers(stack, {"web": {"hash": "h1", "targets": [EDAS, SAE], "restartOnCreate": True}})
    stack.up()
    ids = stack.outputs()["web"]["change_order_ids"]

    # Another stack adopts the same targets by id: it restarts nothing.
    other = new_stack("plugin_python", **plugin_env(tmp_path / "other"))
    use_emulator(other, emulator)
    seq = last_seq(emulator)
    resource_id = f"edas:{TEST_APP_ID},sae:{TEST_SAE_APP_ID}@h1"
    other.run(
        "import", TYPE, "web", resource_id, "--yes", "--generate-code=false", "-s", other.name
    )
    assert restarts(emulator, seq) == []
    [imported] = other.resources(TYPE)
    assert imported["outputs"]["changeOrderIds"] == ids
    assert imported["outputs"]["restartedHash"] == "h1"


def test_no_credential_reaches_state_outputs_or_the_cli_output(python_stack, emulator):
    """The secret key (set as a secret) and an OIDC token the user left unmarked in
    ``alirestart:assumeRoleWithOidc`` are kept encrypted in the provider's state and never
    printed."""
    from testbed.emulator import TEST_OIDC_PROVIDER_ARN, TEST_ROLE_ARN

    stack = python_stack
    token = "oidc-token-marker-7d1f0c"
    oidc = {"oidcProviderArn": TEST_OIDC_PROVIDER_ARN, "roleArn": TEST_ROLE_ARN, "oidcToken": token}
    stack.config_set("alirestart:assumeRoleWithOidc", json.dumps(oidc))  # not --secret
    set_triggers(stack, {"web": {"hash": "h1", "targets": [SAE], "restartOnCreate": True}})
    stack.preview("--diff")
    stack.up()
    set_triggers(stack, {"web": {"hash": "h2", "targets": [SAE]}})
    stack.up()
    assert len(restarts(emulator)) == 2

    state = json.dumps(stack.export())
    assert TEST_ACCESS_KEY_SECRET not in state
    assert token not in state
    assert "ciphertext" in state  # the provider's inputs hold them, encrypted
    printed = "".join(r.output for r in stack.log)
    assert TEST_ACCESS_KEY_SECRET not in printed and token not in printed
    assert TEST_ACCESS_KEY_SECRET not in json.dumps(stack.outputs(show_secrets=True))


def test_the_installed_plugin_serves_the_committed_schema(tmp_path):
    """``pulumi package get-schema`` on the launcher pip installed, with the project's CLI."""
    from testbed.pulumi_cli import pulumi_env
    from testbed.sdks import run

    launcher = REPO / ".venv" / "bin" / "pulumi-resource-alirestart"
    assert launcher.exists(), "run `make setup`: it installs the package's console scripts"
    (tmp_path / "home").mkdir()
    env = pulumi_env(tmp_path, tmp_path / "home", PULUMI_HOME=str(tmp_path / "pulumi-home"))
    proc = run(["pulumi", "package", "get-schema", str(launcher)], env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    served = json.loads(proc.stdout)
    committed = json.loads((REPO / "providers/restart_trigger/plugin/schema.json").read_text())
    assert served == committed


def test_explicit_providers_restart_with_their_own_credentials(new_stack, emulator, tmp_path):
    """Two explicit providers in one program, each with its own keys (a permanent pair and an
    STS pair): each trigger's restart is signed with its provider's key."""
    from testbed.emulator import (
        TEST_STS_ACCESS_KEY_ID,
        TEST_STS_ACCESS_KEY_SECRET,
        TEST_STS_TOKEN,
    )

    stack = new_stack("plugin_python", **plugin_env(tmp_path))
    endpoints = [{p: emulator.base_url for p in ("edas", "webplus", "sae")}]
    stack.config_set("permSecretKey", TEST_ACCESS_KEY_SECRET, secret=True)
    stack.config_set("stsSecretKey", TEST_STS_ACCESS_KEY_SECRET, secret=True)
    providers = {
        "perm": {"accessKey": TEST_ACCESS_KEY_ID, "secretKey": True},
        "sts": {
            "accessKey": TEST_STS_ACCESS_KEY_ID,
            "secretKey": True,
            "securityToken": TEST_STS_TOKEN,
        },
    }
    for spec in providers.values():
        spec.update(region=TEST_REGION, endpoints=endpoints)
    stack.config_set("providers", json.dumps(providers))
    set_triggers(
        stack,
        {
            "a": {"hash": "h1", "targets": [EDAS], "restartOnCreate": True, "provider": "perm"},
            "b": {"hash": "h1", "targets": [SAE], "restartOnCreate": True, "provider": "sts"},
        },
    )
    stack.up()
    signed = {
        target_of(e): e.get("access_key_id")
        for e in emulator.journal()
        if e.get("action") in RESTARTS
    }
    assert signed == {TEST_APP_ID: TEST_ACCESS_KEY_ID, TEST_SAE_APP_ID: TEST_STS_ACCESS_KEY_ID}
    state = json.dumps(stack.export())
    for secret in (TEST_ACCESS_KEY_SECRET, TEST_STS_ACCESS_KEY_SECRET, TEST_STS_TOKEN):
        assert secret not in state


def test_at_v9_secrets_show_only_in_the_engines_own_rpc_lines(python_stack, emulator):
    """``pulumi up --debug -v=9 --logtostderr`` through the plugin, with the secret key in
    stack config and a header value of a ``verify`` probe as a secret input. At -v=9 the
    engine logs every property it marshals or unmarshals on its RPCs, secrets included (v3.259
    ``sdk/go/common/resource/plugin/rpc.go:98`` and ``:348``): the program's
    ``RegisterResource``, a provider's ``Check``/``Create``, ``CheckConfig``'s answer
    (``provider_plugin.go:727``, unmarshaled with ``KeepSecrets``) and ``Configure``'s request
    (pinned in test_no_secret_in_debug_logs.py). Those lines are the only ones holding either
    secret: no line of ours (progress, diagnostics, errors) does, and without -v=9 none at
    all."""
    import re

    engine_line = re.compile(r'"msg":"(Un)?[Mm]arshaling property for RPC\[')
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    header = "Bearer header-marker-5e9a"
    seen: list[str] = []

    class Healthy(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - the http.server API
            seen.append(self.headers.get("Authorization", ""))
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *_args):
            pass

    service = ThreadingHTTPServer(("127.0.0.1", 0), Healthy)
    threading.Thread(target=service.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{service.server_address[1]}/health"
    stack = python_stack
    stack.config_set("probeAuth", header, secret=True)
    spec = {
        "hash": "h1",
        "targets": [SAE],
        "restartOnCreate": True,
        "verify": {"http": [{"url": url}], "within": 120},
        "verifyAuthFrom": "probeAuth",
    }
    set_triggers(stack, {"web": spec})
    try:
        run = stack.up("--debug", "-v=9", "--logtostderr")
    finally:
        service.shutdown()
    assert restarts(emulator) == [TEST_SAE_APP_ID]
    assert seen and all(value == header for value in seen)  # the probe carried it
    assert header not in json.dumps(stack.export())
    for secret in (TEST_ACCESS_KEY_SECRET, header):
        holding = [line for line in run.output.splitlines() if secret in line]
        assert holding, f"the engine logs {secret!r} at -v=9 (if not, the CLI changed)"
        others = [line[:200] for line in holding if not engine_line.search(line)]
        assert others == [], others
    quiet = stack.preview("--diff")
    assert TEST_ACCESS_KEY_SECRET not in quiet.output and header not in quiet.output

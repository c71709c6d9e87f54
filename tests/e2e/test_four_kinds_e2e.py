"""One trigger, four kinds of target (EDAS ECS app, Web+ env, SAE app, EDAS K8s app), proven
with the real Pulumi CLI against the emulator. Every assertion about API calls reads the
emulator's request journal.
"""

from __future__ import annotations

import pytest

from testbed.emulator import (
    RESTARTS,
    TEST_ACCESS_KEY_ID,
    TEST_ACCESS_KEY_SECRET,
    TEST_APP_ID,
    TEST_ENV_ID,
    TEST_K8S_APP_ID,
    TEST_REGION,
    TEST_SAE_APP_ID,
    target_of,
)

pytestmark = pytest.mark.e2e

EDAS = {"app_id": TEST_APP_ID}
WEB = {"env_id": TEST_ENV_ID, "batch_size": 1}
SAE = {"kind": "sae", "app_id": TEST_SAE_APP_ID, "min_ready_instances": 1}
K8S = {"kind": "edas-k8s", "app_id": TEST_K8S_APP_ID, "timeout": 600}
KEYS = {
    TEST_APP_ID: f"edas:{TEST_APP_ID}",
    TEST_ENV_ID: f"webplus:{TEST_ENV_ID}",
    TEST_SAE_APP_ID: f"sae:{TEST_SAE_APP_ID}",
    TEST_K8S_APP_ID: f"edas-k8s:{TEST_K8S_APP_ID}",
}
FILES = {"config/all/app.yaml": "replicas: 2\n"}


def _trigger(*targets):
    return [{"name": "all", "paths": ["config/all"], "targets": list(targets)}]


def accepted(emulator):
    return [
        e
        for e in emulator.journal()
        if e["action"] in RESTARTS and e["status"] == 200 and e["result_id"]
    ]


def _bump(stack, text):
    (stack.workdir / "config/all/app.yaml").write_text(text)


def test_one_trigger_restarts_each_of_the_four_kinds_once(emulator, trigger_stack):
    stack = trigger_stack(_trigger(EDAS, WEB, SAE, K8S), FILES)
    stack.up()
    assert [e for e in emulator.journal() if e["action"] in RESTARTS] == []

    _bump(stack, "replicas: 3\n")
    emulator.clear_journal()
    stack.up()
    calls = [e for e in emulator.journal() if e["action"] in RESTARTS]
    assert sorted((c["product"], c["action"], target_of(c)) for c in calls) == sorted(
        [
            ("edas", "RestartApplication", TEST_APP_ID),
            ("webplus", "RestartAppEnv", TEST_ENV_ID),
            ("sae", "RestartApplication", TEST_SAE_APP_ID),
            ("edas", "RestartK8sApplication", TEST_K8S_APP_ID),
        ]
    )
    assert all(c["status"] == 200 and c["applied"] for c in calls), calls
    sae_call = next(c for c in calls if c["product"] == "sae")
    assert (sae_call["method"], sae_call["query"]["MinReadyInstances"]) == ("PUT", "1")
    k8s_call = next(c for c in calls if c["action"] == "RestartK8sApplication")
    assert k8s_call["query"]["Timeout"] == "600"

    issued = {KEYS[target_of(c)]: c["result_id"] for c in calls}
    outputs = stack.outputs()
    assert outputs["all.change_order_ids"] == issued
    assert outputs["all.statuses"] == dict.fromkeys(KEYS.values(), "succeeded")

    # each order was waited for to its end with the kind's own status call
    polled = {e["action"] for e in emulator.journal()}
    assert {"DescribeChangeOrder", "GetChangeOrderInfo", "DescribeChange"} <= polled

    emulator.clear_journal()
    stack.up()
    assert [e for e in emulator.journal() if e["action"] in RESTARTS] == []


def test_a_failing_sae_change_order_fails_the_up_naming_target_id_and_status(
    emulator, trigger_stack
):
    stack = trigger_stack(_trigger(SAE, K8S), FILES)
    stack.up()
    emulator.seed(
        {"sae_applications": [{"app_id": TEST_SAE_APP_ID, "change_outcome": "system_error"}]}
    )
    _bump(stack, "replicas: 4\n")
    emulator.clear_journal()
    failed = stack.up(check=False)
    assert failed.returncode != 0
    by_target = {target_of(e): e["result_id"] for e in accepted(emulator)}
    assert set(by_target) == {TEST_SAE_APP_ID, TEST_K8S_APP_ID}
    output = failed.output
    assert f"sae:{TEST_SAE_APP_ID}" in output
    assert by_target[TEST_SAE_APP_ID] in output
    assert "SAE status 10" in output
    assert "injected by the emulator" in output  # SAE's ErrorMessage reaches the user

    # fixed: the next up restarts only the SAE app; the K8s app already restarted for this hash
    emulator.seed({"sae_applications": [{"app_id": TEST_SAE_APP_ID, "change_outcome": None}]})
    emulator.clear_journal()
    stack.up()
    assert [target_of(e) for e in accepted(emulator)] == [TEST_SAE_APP_ID]
    assert stack.outputs()["all.statuses"] == {
        f"sae:{TEST_SAE_APP_ID}": "succeeded",
        f"edas-k8s:{TEST_K8S_APP_ID}": "succeeded",
    }


def _start_orders_elsewhere(emulator):
    """A change order on each app made by someone else (the official SDKs), still running."""
    from alibabacloud_edas20170801 import models as edas_models
    from alibabacloud_edas20170801.client import Client as EdasClient
    from alibabacloud_sae20190506 import models as sae_models
    from alibabacloud_sae20190506.client import Client as SaeClient
    from alibabacloud_tea_openapi.models import Config

    config = Config(
        access_key_id=TEST_ACCESS_KEY_ID,
        access_key_secret=TEST_ACCESS_KEY_SECRET,
        endpoint=emulator.host,
        protocol="http",
        region_id=TEST_REGION,
    )
    sae = SaeClient(config).restart_application(
        sae_models.RestartApplicationRequest(app_id=TEST_SAE_APP_ID)
    )
    k8s = EdasClient(config).restart_k8s_application(
        edas_models.RestartK8sApplicationRequest(app_id=TEST_K8S_APP_ID)
    )
    return {sae.body.data.change_order_id, k8s.body.change_order_id}


def test_a_refusal_while_a_change_runs_waits_then_restarts_once(emulator, trigger_stack):
    stack = trigger_stack(_trigger(SAE, K8S), FILES)
    stack.up()
    # The others' orders must still run when our `up` sends its first restart: the CLI's own
    # start takes seconds on a loaded machine (4 s was too short once in a clean run).
    emulator.seed(
        {
            "sae_applications": [{"app_id": TEST_SAE_APP_ID, "change_duration_s": 20.0}],
            "edas_k8s_applications": [{"app_id": TEST_K8S_APP_ID, "change_duration_s": 20.0}],
        }
    )
    theirs = _start_orders_elsewhere(emulator)
    _bump(stack, "replicas: 5\n")
    emulator.clear_journal()
    stack.up()

    restarts = [e for e in emulator.journal() if e["action"] in RESTARTS]
    refused = [e for e in restarts if not e["applied"]]
    assert {e["code"] for e in refused} == {"Application.ChangerOrderRunning", "603"}, refused
    ours = accepted(emulator)
    assert sorted(target_of(e) for e in ours) == sorted([TEST_SAE_APP_ID, TEST_K8S_APP_ID])
    # the accepted restarts came after the refusals, and are new orders, not the others'
    assert min(e["seq"] for e in ours) > min(e["seq"] for e in refused)
    assert not {e["result_id"] for e in ours} & theirs
    outputs = stack.outputs()
    assert set(outputs["all.change_order_ids"].values()) == {e["result_id"] for e in ours}
    assert set(outputs["all.statuses"].values()) == {"succeeded"}

"""The admin API, the journal, the command line, persistence and clean shutdown."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest
import requests

from testbed.emulator import (
    REPO_ROOT,
    TEST_ACCESS_KEY_SECRET,
    TEST_APP_ID,
    TEST_ENV_ID,
    TEST_SEED,
    TEST_STS_TOKEN,
    EmulatorError,
    EmulatorProcess,
)

DEMO_SEED = REPO_ROOT / "emulator" / "seeds" / "demo.json"


def test_state_is_redacted_and_seed_merges_by_id(emulator):
    state = emulator.state()
    dumped = json.dumps(state)
    assert TEST_ACCESS_KEY_SECRET not in dumped and TEST_STS_TOKEN not in dumped
    emulator.seed({"webplus_environments": [{"env_id": TEST_ENV_ID, "status": "STOPPED"}]})
    (env,) = emulator.state()["webplus_environments"]
    assert (env["status"], env["name"]) == ("STOPPED", "test-env")
    emulator.seed({"defaults": {"change_duration_s": 1.5}})
    assert emulator.state()["defaults"]["change_duration_s"] == 1.5


def test_bad_seed_and_unknown_admin_endpoint(emulator):
    with pytest.raises(EmulatorError, match="HTTP 400"):
        emulator.seed({"edas_applications": [{"name": "no id"}]})
    with pytest.raises(EmulatorError, match="HTTP 404"):
        emulator.admin("GET", "nothing-here")
    assert emulator.admin("GET", "health")["ok"] is True


def test_unknown_product_path(emulator_url, emulator):
    reply = requests.get(emulator_url + "/pop/v5/nothing", timeout=30)
    assert reply.status_code == 404
    assert reply.json()["Code"] == "InvalidAction.NotFound"
    assert reply.headers["x-acs-request-id"] == reply.json()["RequestId"]


def test_journal_records_requests_in_order_without_secrets(emulator_url, emulator):
    requests.post(
        emulator_url + "/pop/v5/changeorder/co_restart?AppId=x",
        headers={"x-acs-version": "2017-08-01"},
        timeout=30,
    )
    requests.get(
        emulator_url + "/pop/v1/wam/appEnv/status?EnvId=y",
        headers={
            "Authorization": "acs someone:c2lnbmF0dXJl",
            "x-acs-security-token": "tok",
            "x-acs-version": "2019-03-20",
        },
        timeout=30,
    )
    first, second = emulator.journal()
    assert second["seq"] == first["seq"] + 1
    assert (first["product"], first["action"], first["query"]) == (
        "edas",
        "RestartApplication",
        {"AppId": "x"},
    )
    assert (second["product"], second["action"]) == ("webplus", "DescribeAppEnvStatus")
    assert (second["access_key_id"], second["signature"]) == ("someone", "roa")
    assert second["code"] == "InvalidAccessKeyId.NotFound" and second["status"] == 404
    assert "tok" not in json.dumps(second) and "c2lnbmF0dXJl" not in json.dumps(second)
    assert emulator.journal(since=first["seq"]) == [second]
    emulator.clear_journal()
    assert emulator.journal() == []


def test_demo_seed_is_a_usable_world():
    seed = json.loads(DEMO_SEED.read_text())
    assert all(a["access_key_id"].startswith(("demo-", "STS.demo-")) for a in seed["accounts"])
    assert any(a.get("security_token") for a in seed["accounts"])
    apps = seed["edas_applications"]
    assert len(apps) == 2 and all(len(a["ecc_ids"]) == 2 for a in apps)
    assert {a["region"] for a in apps} == {"cn-hangzhou"}
    assert {e["status"] for e in seed["webplus_environments"]} == {"RUNNING"}


def test_cli_seed_faults_and_sigterm_exit_zero():
    emu = EmulatorProcess(seed_path=DEMO_SEED, faults={"throttle_rate": 0.25, "seed": 3})
    with emu:
        state = emu.state()
        clusters = sorted(a["cluster_type"] for a in state["edas_applications"])
        assert clusters == ["ecs", "ecs", "k8s"]
        assert len(state["sae_applications"]) == 1
        assert emu.get_faults()["throttle_rate"] == 0.25
        assert emu.proc is not None
        emu.proc.send_signal(signal.SIGINT)
        assert emu.proc.wait(30) == 0
    assert emu.stop() == 0


def test_sigterm_exits_zero():
    emu = EmulatorProcess().start()
    assert emu.stop() == 0


@pytest.mark.sdk
def test_state_file_survives_a_crash(tmp_path: Path, poll, sdk_for):
    state_file = tmp_path / "state.json"
    seed_file = tmp_path / "seed.json"
    seed = json.loads(json.dumps(TEST_SEED))
    seed["defaults"]["change_duration_s"] = 1.0
    seed_file.write_text(json.dumps(seed))

    first = EmulatorProcess(state_path=state_file, seed_path=seed_file).start()
    try:
        sdk = sdk_for(first.host)
        order_id = sdk.call("v3", "RestartApplication", AppId=TEST_APP_ID)["ChangeOrderId"]
        change_id = sdk.call("tea-v2", "RestartAppEnv", EnvId=TEST_ENV_ID)["EnvChange"]["ChangeId"]
    finally:
        first.kill()
    assert order_id in state_file.read_text()

    with EmulatorProcess(state_path=state_file, seed_path=seed_file) as second:
        sdk = sdk_for(second.host)
        listed = sdk.call("v3", "ListRecentChangeOrder", AppId=TEST_APP_ID)
        assert [o["ChangeOrderId"] for o in listed["ChangeOrderList"]["ChangeOrder"]] == [order_id]
        poll(
            lambda: (
                sdk.call("v3", "GetChangeOrderInfo", ChangeOrderId=order_id)["changeOrderInfo"][
                    "Status"
                ]
                == 2
            )
        )
        change = sdk.call("tea-v2", "DescribeChange", EnvId=TEST_ENV_ID, ChangeId=change_id)
        assert change["Change"]["ChangeId"] == change_id

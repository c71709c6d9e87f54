"""RestartTriggerProvider through its callbacks: check() refuses every bad input at preview,
naming the field and the fix; diff() says what a change of each input does to the trigger; and
update/create (provider._rollout) bring the restarts that happened to state even when others
failed, through the server call when there is one, and the old way (loudly) when there is not.
"""

from __future__ import annotations

from contextlib import nullcontext

import pytest

from restart_trigger import provider as provider_module
from restart_trigger import rollout as rollout_module
from restart_trigger.aliyun import resolve_settings
from restart_trigger.inputs import RESTART_OUTPUTS
from restart_trigger.provider import RestartTriggerProvider
from restart_trigger.runner import Outcome, RestartFailed
from restart_trigger.targets import SUCCEEDED, ChangeStatus
from restart_trigger.validation import UNKNOWN
from tests.unit.sts_fakes import BASE_KEY_ID, BASE_SECRET, ROLE_ARN

# --- check(): every bad input is refused at preview, naming the field and the fix -----------------


EDAS = {"kind": "edas", "app_id": "app-1"}
WEB = {"kind": "webplus", "env_id": "we-1"}


def check(**overrides):
    news = {"hash": "sha256:abc", "targets": [EDAS], **overrides}
    result = RestartTriggerProvider().check({}, news)
    return result, {f.property: f.reason for f in result.failures}


def test_valid_inputs_pass_and_get_defaults():
    result, failures = check()
    assert failures == {}
    assert result.inputs["wait"] is True
    assert result.inputs["restart_on_create"] is False
    assert result.inputs["timeout"] == 1800
    assert result.inputs["targets"] == [EDAS]


def test_targets_without_kind_are_recognised_by_their_id_field():
    result, failures = check(targets=[{"app_id": "app-1"}, {"env_id": "we-1", "batch_size": 2}])
    assert failures == {}
    assert result.inputs["targets"] == [
        {"kind": "edas", "app_id": "app-1"},
        {"kind": "webplus", "env_id": "we-1", "batch_size": 2},
    ]


@pytest.mark.parametrize(
    ("overrides", "field", "words"),
    [
        ({"hash": ""}, "hash", "non-empty"),
        ({"hash": 42}, "hash", "hash_paths"),
        ({"targets": []}, "targets", "at least one"),
        ({"targets": "app-1"}, "targets", "must be a list"),
        ({"targets": [{"app_id": ""}]}, "targets[0].app_id", "non-empty"),
        ({"targets": [{"app_id": "   "}]}, "targets[0].app_id", "non-empty"),
        ({"targets": [{"app_id": 7}]}, "targets[0].app_id", "must be a string"),
        ({"targets": [{"app_id": "a b"}]}, "targets[0].app_id", "whitespace"),
        ({"targets": [{"app_id": "a", "env_id": "b"}]}, "targets[0]", "not both"),
        ({"targets": [{"batch_size": 1}]}, "targets[0]", "EdasApplication(app_id=...)"),
        ({"targets": [EDAS, EDAS]}, "targets[1]", "duplicate target edas:app-1"),
        ({"targets": [{"app_id": "a", "ecc_ids": "e1"}]}, "targets[0].ecc_ids", "list"),
        ({"targets": [{"app_id": "a", "ecc_ids": []}]}, "targets[0].ecc_ids", "leave ecc_ids out"),
        (
            {"targets": [{"app_id": "a", "ecc_ids": ["e1", "e1"]}]},
            "targets[0].ecc_ids[1]",
            "duplicate",
        ),
        ({"targets": [{"app_id": "a", "ecc_ids": ["e1,e2"]}]}, "targets[0].ecc_ids[0]", "commas"),
        ({"targets": [{"env_id": "we", "batch_size": 0}]}, "targets[0].batch_size", "at least 1"),
        ({"targets": [{"env_id": "we", "batch_size": 1.5}]}, "targets[0].batch_size", "whole"),
        ({"targets": [{"env_id": "we", "batch_size": True}]}, "targets[0].batch_size", "whole"),
        (
            {"targets": [{"env_id": "we", "batch_percent": 101}]},
            "targets[0].batch_percent",
            "between 1 and 100",
        ),
        (
            {"targets": [{"env_id": "we", "batch_size": 1, "batch_percent": 50}]},
            "targets[0].batch_percent",
            "not both",
        ),
        (
            {"targets": [{"env_id": "we", "batch_interval": -1}]},
            "targets[0].batch_interval",
            "at least 0",
        ),
        (
            {"targets": [{"env_id": "we", "pause_between_batches": "yes"}]},
            "targets[0].pause_between_batches",
            "true or false",
        ),
        ({"targets": [{"env_id": "we", "batchsize": 1}]}, "targets[0].batchsize", "unknown field"),
        ({"targets": [{"kind": "ecs", "app_id": "a"}]}, "targets[0].kind", "'edas' or 'webplus'"),
        ({"targets": [{"kind": "edas", "env_id": "we"}]}, "targets[0]", "takes no env_id"),
        ({"timeout": -5}, "timeout", "more than 0"),
        ({"timeout": 0}, "timeout", "more than 0"),
        ({"timeout": "10m"}, "timeout", "number of seconds"),
        ({"max_parallel": 0}, "max_parallel", "at least 1"),
        ({"wait": "yes"}, "wait", "true or false"),
        ({"restart_on_create": 1}, "restart_on_create", "true or false"),
        ({"endpoint": "http://edas.example.com"}, "endpoint", "loopback"),
        ({"endpoint": "ftp://127.0.0.1:1"}, "endpoint", "http"),
    ],
)
def test_bad_input_is_refused_naming_the_field(overrides, field, words):
    _result, failures = check(**overrides)
    assert field in failures, failures
    assert words.lower() in failures[field].lower(), failures[field]


def test_http_endpoint_on_loopback_is_accepted():
    _result, failures = check(endpoint="http://127.0.0.1:18931")
    assert failures == {}


def test_unknown_values_during_preview_are_not_refused():
    _result, failures = check(
        hash=UNKNOWN, targets=[{"kind": "edas", "app_id": UNKNOWN}, UNKNOWN], region=UNKNOWN
    )
    assert failures == {}


def test_unknown_objects_from_the_sdk_are_not_refused():
    from pulumi.output import Unknown

    _result, failures = check(
        hash=Unknown(),
        targets=[{"kind": "edas", "app_id": Unknown(), "ecc_ids": [Unknown()]}, Unknown()],
        endpoint=Unknown(),
        timeout=Unknown(),
    )
    assert failures == {}


def test_every_problem_is_reported_at_once():
    _result, failures = check(hash="", timeout=-1, targets=[{"app_id": ""}, {"env_id": ""}])
    assert set(failures) >= {"hash", "timeout", "targets[0].app_id", "targets[1].env_id"}


def configured(config):
    from pulumi.dynamic import Config, ConfigureRequest

    provider = RestartTriggerProvider()
    provider.configure(ConfigureRequest(Config(config, "restart-trigger")))
    return provider


def test_stack_config_mistakes_are_refused_at_check_without_credentials():
    provider = configured(
        {
            "alicloud:region": "CN Hangzhou",
            "alicloud:endpoints": '[{"edas": "http://edas.example.com"}]',
        }
    )
    result = provider.check({}, {"hash": "h", "targets": [EDAS]})
    failures = {f.property: f.reason for f in result.failures}
    assert "alicloud:region" in failures
    assert "loopback" in failures["alicloud:endpoints"]


def test_missing_credentials_do_not_fail_check():
    provider = configured({"alicloud:region": "cn-hangzhou"})
    assert provider.check({}, {"hash": "h", "targets": [EDAS]}).failures == []


def test_a_profile_file_named_in_stack_config_reaches_the_provider(tmp_path):
    """alicloud:sharedCredentialsFile is passed on by configure() (it used to be dropped)."""
    import json

    from restart_trigger.backoff import Deadline

    profiles = tmp_path / "aliyun.json"
    profile = {
        "name": "ci",
        "mode": "AK",
        "access_key_id": "profile-key-id",
        "access_key_secret": "profile-secret",
        "region_id": "cn-shanghai",
    }
    profiles.write_text(json.dumps({"current": "ci", "profiles": [profile]}))
    provider = configured({"alicloud:sharedCredentialsFile": str(profiles)})
    with provider._client({}, Deadline(5)) as client:  # region and keys from that profile
        assert "region='cn-shanghai'" in repr(client)
        assert "edas.cn-shanghai.aliyuncs.com" in repr(client)


@pytest.mark.parametrize(
    ("overrides", "field", "words"),
    [
        ({"hash": "x" * 257}, "hash", "digest"),
        ({"timeout": float("nan")}, "timeout", "number"),
        ({"timeout": float("inf")}, "timeout", "number"),
        ({"max_parallel": float("nan")}, "max_parallel", "whole number"),
        ({"max_parallel": float("-inf")}, "max_parallel", "whole number"),
        (
            {"targets": [{"env_id": "we-1", "batch_size": float("nan")}]},
            "targets[0].batch_size",
            "whole",
        ),
        (
            {"targets": [{"env_id": "we-1", "batch_percent": float("inf")}]},
            "targets[0].batch_percent",
            "whole",
        ),
        ({"targets": [{"app_id": "app\u0007x"}]}, "targets[0].app_id", "control characters"),
        ({"targets": [{"app_id": "a\x1b[31m"}]}, "targets[0].app_id", "control characters"),
        ({"targets": [{"app_id": "a" * 10_000}]}, "targets[0].app_id", "characters long"),
        (
            {"targets": [{"app_id": "ok", "ecc_ids": ["e\u0000"]}]},
            "targets[0].ecc_ids[0]",
            "control",
        ),
    ],
)
def test_absurd_values_are_refused_naming_the_field(overrides, field, words):
    _result, failures = check(**overrides)
    assert field in failures, failures
    assert words in failures[field], failures[field]


SAE_ID = "0099b7be-5f5b-4512-a7fc-56049ef1a2b3"


@pytest.mark.parametrize(
    ("overrides", "field", "words"),
    [
        pytest.param({"max_parallel": 2**63}, "max_parallel", "at most 1000", id="max_parallel"),
        pytest.param({"max_failures": 1e20}, "max_failures", "at most 1000", id="max_failures"),
        pytest.param({"canary": 2**63}, "canary", "at most 1000", id="canary"),
        pytest.param({"region": "a" * 64}, "region", "at most 63", id="region-64"),
        pytest.param(
            {"targets": [{"app_id": "ok", "ecc_ids": [f"e-{i}" for i in range(101)]}]},
            "targets[0].ecc_ids",
            "101 ECC ids, more than 100",
            id="ecc_ids-101",
        ),
        pytest.param(
            {"targets": [{"app_id": f"app-{i}"} for i in range(1001)]},
            "targets",
            "1001 targets, more than 1000",
            id="targets-1001",
        ),
        pytest.param(
            {"targets": [{"kind": "sae", "app_id": SAE_ID, "min_ready_instances": 2**63}]},
            "targets[0].min_ready_instances",
            "at most 2147483647 (the API's integers are 32-bit)",
            id="sae-int64",
        ),
        pytest.param(
            {"targets": [{"env_id": "we-1", "batch_size": 2**31}]},
            "targets[0].batch_size",
            "at most 2147483647",
            id="webplus-int32-plus-one",
        ),
        pytest.param(
            {"targets": [{"env_id": "we-1", "batch_interval": 2**31 - 1}]},
            None,
            "",
            id="webplus-int32-max-passes",
        ),
        pytest.param(
            {"targets": [{"app_id": "ok", "ecc_ids": [f"e-{i}" for i in range(100)]}]},
            None,
            "",
            id="ecc_ids-100-pass",
        ),
        pytest.param({"max_parallel": 1000, "max_failures": 1000}, None, "", id="rollout-1000"),
    ],
)
def test_values_beyond_what_the_apis_take_are_refused_naming_the_bound(overrides, field, words):
    _result, failures = check(**overrides)
    if field is None:
        assert failures == {}
    else:
        assert field in failures, failures
        assert words in failures[field], failures[field]


@pytest.mark.parametrize(
    ("overrides", "secret_or_bulk", "name"),
    [
        pytest.param(
            {"endpoint": "https://user:s3cretpass@edas.example.com"},
            "s3cretpass",
            "endpoint",
            id="endpoint-userinfo",
        ),
        pytest.param(
            {"endpoint": "ftp://user:s3cretpass@edas.example.com/x"},
            "s3cretpass",
            "endpoint",
            id="endpoint-userinfo-bad-scheme",
        ),
        pytest.param(
            {"endpoint": "user:s3cretpass@edas.example.com"},
            "s3cretpass",
            "endpoint",
            id="endpoint-userinfo-bare-host",
        ),
        pytest.param({"region": "cn-" + "x" * 10_000}, "x" * 100, "region", id="region-10000"),
        pytest.param({"hash": "h" * 10_000}, "h" * 100, "hash", id="hash-10000"),
    ],
)
def test_a_refusal_gives_the_engine_no_secret_or_bulk_value_to_echo(
    overrides, secret_or_bulk, name
):
    # The engine prints "property P value <the input> has a problem": such a failure names no
    # property (its field leads the reason), and the reason holds no password, nor the bulk.
    _result, failures = check(**overrides)
    assert set(failures) == {""}, failures
    assert failures[""].startswith(f"{name}: "), failures
    assert secret_or_bulk not in failures[""], failures
    assert len(failures[""]) < 500


def test_a_digest_of_any_usual_length_passes():
    _result, failures = check(hash="sha512:" + "ab" * 64)
    assert failures == {}


def test_a_triggers_endpoint_serves_every_product():
    from restart_trigger.aliyun.endpoints import PRODUCTS
    from restart_trigger.backoff import Deadline

    provider = configured({"alicloud:accessKey": "key-id", "alicloud:secretKey": "secret-x"})
    with provider._client({"endpoint": "http://127.0.0.1:9"}, Deadline(5)) as client:
        assert client.endpoints == {product: "http://127.0.0.1:9" for product in PRODUCTS}


def test_an_endpoint_that_is_not_a_string_is_refused_with_its_property():
    _result, failures = check(endpoint=8080)
    assert "https://" in failures["endpoint"], failures


# --- diff(): what a change of each input does to the trigger --------------------------------------


OLD = {
    "hash": "sha256:old",
    "targets": [{"kind": "edas", "app_id": "app-1"}],
    "restart_on_create": False,
    "wait": True,
    "timeout": 1800,
    "max_parallel": None,
    "region": None,
    "endpoint": None,
    "__provider": "serialized-provider-v1",
    "change_order_ids": {"edas:app-1": "co-1"},
}


def diff(**changes):
    news = {k: v for k, v in OLD.items() if k != "change_order_ids"}
    news.update(changes)
    return RestartTriggerProvider().diff("id", OLD, news)


def test_nothing_changed_means_no_diff():
    assert diff().changes is False


def test_a_new_serialized_provider_alone_is_no_change():
    assert diff(__provider="serialized-provider-v2").changes is False


def test_hash_change_is_an_in_place_update():
    result = diff(hash="sha256:new")
    assert result.changes is True
    assert not result.replaces


def test_unknown_hash_during_preview_is_an_update():
    result = diff(hash=UNKNOWN)
    assert result.changes is True
    assert not result.replaces


def test_target_set_change_updates_the_trigger_in_place():
    result = diff(targets=[{"kind": "edas", "app_id": "app-2"}])
    assert result.changes is True
    assert not result.replaces


def test_target_set_and_hash_change_together_update_so_the_new_targets_restart():
    result = diff(hash="sha256:new", targets=[{"kind": "edas", "app_id": "app-2"}])
    assert result.changes is True
    assert not result.replaces


def test_target_options_only_update_without_replacing():
    result = diff(targets=[{"kind": "edas", "app_id": "app-1", "ecc_ids": ["ecc-1"]}])
    assert result.changes is True
    assert not result.replaces


def test_options_only_change_is_an_update():
    for change in (
        {"wait": False},
        {"timeout": 60},
        {"max_parallel": 2},
        {"endpoint": "http://127.0.0.1:1"},
    ):
        result = diff(**change)
        assert result.changes is True, change
        assert not result.replaces, change


def test_region_change_replaces_the_trigger():
    assert diff(region="cn-shanghai").replaces == ["region"]


# --- update/create: the restarts that happened reach state even when others failed ----------------


TARGETS = [{"kind": "edas", "app_id": "app-1"}, {"kind": "edas", "app_id": "app-2"}]
NEWS = {"hash": "sha256:new", "targets": TARGETS, "wait": True, "timeout": 60, "__provider": "P"}
OLDS = {
    **NEWS,
    "hash": "sha256:old",
    "progress": {
        "edas:app-1": {"hash": "sha256:old", "change_id": "co-old-1", "status": "succeeded"},
        "edas:app-2": {"hash": "sha256:old", "change_id": "co-old-2", "status": "succeeded"},
    },
    "owed": [],
}
DONE = ChangeStatus(SUCCEEDED, "EDAS status 2 (success)")


class FakeCall:
    urn = "urn:pulumi:dev::proj::pulumi-python:dynamic/restart:RestartTrigger::orders"

    def __init__(self):
        self.sent = None

    def fail_with_outputs(self, resource_id, outputs, reason):
        self.sent = (resource_id, outputs, reason)
        raise RuntimeError("aborted")  # what the server's abort does: the call ends


@pytest.fixture
def rollout(monkeypatch):
    """Run provider callbacks with scripted outcomes and a chosen server call."""
    state = {"call": None, "outcomes": [], "lines": []}
    monkeypatch.setattr(provider_module.provider_server, "current_call", lambda: state["call"])
    monkeypatch.setattr(provider_module, "engine_sink", lambda urn: state["lines"].append)
    monkeypatch.setattr(RestartTriggerProvider, "_client", lambda self, props, d: nullcontext())

    def fake_run(client, targets, **kwargs):
        state["ran"] = [t.key for t in targets]
        return state["outcomes"]

    monkeypatch.setattr(rollout_module, "run_rollout", fake_run)
    return state


def test_a_partly_failed_update_answers_the_call_with_the_restarts_that_happened(rollout):
    call = rollout["call"] = FakeCall()
    rollout["outcomes"] = [
        Outcome("edas:app-1", change_id="co-1", request_id="r-1", status=DONE),
        Outcome("edas:app-2", change_id="co-2", error="restart outcome unknown: x"),
    ]
    with pytest.raises(RuntimeError, match="aborted"):
        RestartTriggerProvider().update("rt-1", OLDS, NEWS)
    resource_id, outputs, reason = call.sent
    assert resource_id == "rt-1"
    assert outputs["__provider"] == "P"  # or the next operation cannot load the provider
    assert outputs["hash"] == "sha256:new"
    assert outputs["owed"] == ["edas:app-2"]
    assert outputs["progress"]["edas:app-1"]["hash"] == "sha256:new"
    assert outputs["progress"]["edas:app-2"]["hash"] == "sha256:old"  # its last real restart
    assert outputs["change_order_ids"] == {"edas:app-1": "co-1", "edas:app-2": "co-old-2"}
    assert all(outputs[k] is not None for k in RESTART_OUTPUTS)  # None reads [unknown]
    assert "restarts only the 1 target(s) above" in reason


def test_without_a_server_call_it_fails_the_old_way_and_says_so(rollout):
    rollout["outcomes"] = [
        Outcome("edas:app-1", change_id="co-1", status=DONE),
        Outcome("edas:app-2", error="restart refused: no"),
    ]
    with pytest.raises(RestartFailed, match="restarts every target again"):
        RestartTriggerProvider().update("rt-1", OLDS, NEWS)
    assert any("warning: this provider host cannot keep" in line for line in rollout["lines"])


def test_when_nothing_restarted_the_state_is_left_as_it_was(rollout):
    call = rollout["call"] = FakeCall()
    rollout["outcomes"] = [
        Outcome("edas:app-1", error="restart refused: no"),
        Outcome("edas:app-2", error="not started: x", started=False),
    ]
    with pytest.raises(RestartFailed, match="Nothing restarted"):
        RestartTriggerProvider().update("rt-1", OLDS, NEWS)
    assert call.sent is None


def test_a_partly_failed_create_keeps_its_new_id(rollout):
    call = rollout["call"] = FakeCall()
    rollout["outcomes"] = [
        Outcome("edas:app-1", change_id="co-1", status=DONE),
        Outcome("edas:app-2", error="restart refused: no"),
    ]
    with pytest.raises(RuntimeError, match="aborted"):
        RestartTriggerProvider().create({**NEWS, "restart_on_create": True})
    resource_id, outputs, _ = call.sent
    assert resource_id.startswith("restart-trigger-")
    assert outputs["owed"] == ["edas:app-2"] and list(outputs["progress"]) == ["edas:app-1"]


def test_only_the_owed_targets_are_rolled_out(rollout):
    rollout["outcomes"] = [Outcome("edas:app-2", change_id="co-2", status=DONE)]
    olds = {**OLDS, "hash": "sha256:new", "owed": ["edas:app-2"]}
    olds["progress"] = {**OLDS["progress"], "edas:app-1": {"hash": "sha256:new"}}
    result = RestartTriggerProvider().update("rt-1", olds, NEWS)
    assert rollout["ran"] == ["edas:app-2"]
    assert result.outs["owed"] == []
    assert {p["hash"] for p in result.outs["progress"].values()} == {"sha256:new"}


def test_a_change_not_seen_to_finish_is_kept_to_be_waited_for_next_time(rollout, monkeypatch):
    rollout["outcomes"] = [
        Outcome("edas:app-1", change_id="co-1", status=DONE),
        Outcome("edas:app-2", change_id="co-2", error="timed out after 60s waiting"),
    ]
    call = rollout["call"] = FakeCall()
    with pytest.raises(RuntimeError, match="aborted"):
        RestartTriggerProvider().update("rt-1", OLDS, NEWS)
    outputs = call.sent[1]
    record = outputs["progress"]["edas:app-2"]
    assert (record["unsettled_change_id"], record["unsettled_hash"]) == ("co-2", "sha256:new")
    assert record["hash"] == "sha256:old" and outputs["owed"] == ["edas:app-2"]

    # the next up hands that change to the runner to wait for
    seen = {}

    def capture(client, targets, **kwargs):
        seen.update(kwargs["unsettled"])
        return [Outcome("edas:app-2", change_id="co-2", status=DONE)]

    monkeypatch.setattr(rollout_module, "run_rollout", capture)
    result = RestartTriggerProvider().update("rt-1", outputs, NEWS)
    assert seen == {"edas:app-2": "co-2"}
    assert (
        result.outs["owed"] == []
        and "unsettled_change_id" not in result.outs["progress"]["edas:app-2"]
    )


def test_a_single_change_not_seen_to_finish_is_kept_even_though_nothing_restarted(rollout):
    call = rollout["call"] = FakeCall()
    rollout["outcomes"] = [
        Outcome("edas:app-1", change_id="co-1", error="timed out after 60s waiting"),
        Outcome("edas:app-2", error="restart refused: no"),
    ]
    with pytest.raises(RuntimeError, match="aborted"):
        RestartTriggerProvider().update("rt-1", OLDS, NEWS)
    assert call.sent[1]["progress"]["edas:app-1"]["unsettled_change_id"] == "co-1"


def test_an_unknown_outcome_is_kept_in_state_and_handed_to_the_next_up_first(rollout, monkeypatch):
    from restart_trigger.runner import Unknown

    lost = Unknown(frozenset({"co-old-2", "co-x"}), 1_767_000_000.5, 60.0)
    rollout["outcomes"] = [
        Outcome("edas:app-1", change_id="co-1", status=DONE),
        Outcome("edas:app-2", error="restart outcome unknown: deadline", unknown=lost),
    ]
    call = rollout["call"] = FakeCall()
    with pytest.raises(RuntimeError, match="aborted"):
        RestartTriggerProvider().update("rt-1", OLDS, NEWS)
    outputs = call.sent[1]
    record = outputs["progress"]["edas:app-2"]
    assert record["unknown_hash"] == "sha256:new"
    assert record["unknown_snapshot"] == ["co-old-2", "co-x"]
    assert record["unknown_sent_at"] == "2025-12-29T09:20:00.500Z"
    assert record["unknown_settle_window"] == 60.0
    assert record["hash"] == "sha256:old" and outputs["owed"] == ["edas:app-2"]
    assert "outcome unknown: edas:app-2" in call.sent[2]

    seen = {}

    def capture(client, targets, **kwargs):
        seen.update(kwargs["unknown"])
        return [Outcome("edas:app-2", change_id="co-x2", status=DONE)]

    monkeypatch.setattr(rollout_module, "run_rollout", capture)
    result = RestartTriggerProvider().update("rt-1", outputs, NEWS)
    assert seen == {"edas:app-2": lost}
    assert not [k for k in result.outs["progress"]["edas:app-2"] if k.startswith("unknown_")]


# --- the pickled provider -------------------------------------------------------------------------


KEYS = {"alicloud:accessKey": BASE_KEY_ID, "alicloud:secretKey": BASE_SECRET}


@pytest.fixture
def no_profile(tmp_path):
    return tmp_path / "missing-config.json"


def test_the_pickled_dynamic_provider_carries_no_credentials(no_profile):
    dill = pytest.importorskip("dill")
    from restart_trigger.provider import RestartTriggerProvider

    resolved = resolve_settings(
        {**KEYS, "alicloud:assumeRole": {"roleArn": ROLE_ARN}}, {}, no_profile
    )
    assert resolved.credentials is not None
    blob = dill.dumps(RestartTriggerProvider(), recurse=True)
    assert BASE_SECRET.encode() not in blob and BASE_KEY_ID.encode() not in blob

"""check(): every bad input is refused at preview, naming the field and the fix."""

from __future__ import annotations

import pytest

from restart_trigger.provider import RestartTriggerProvider
from restart_trigger.validation import UNKNOWN

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

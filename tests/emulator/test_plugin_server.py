"""The resource plugin's servicer, driven in-process against the emulator: what each engine
call answers (named check failures, detailed diff, timeouts, partial state, import, secrets,
more than 4 calls at once). The real CLI runs it in tests/e2e/test_plugin_e2e.py."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor

import grpc
import pytest
from google.protobuf import struct_pb2
from pulumi.runtime.proto import provider_pb2

from restart_trigger.plugin import wire
from restart_trigger.plugin.server import AliRestartProvider
from restart_trigger.stopping import STOP
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

URN = "urn:pulumi:dev::proj::alirestart:index:RestartTrigger::web"


@pytest.fixture(autouse=True)
def _own_journal(tmp_path, monkeypatch):
    """Each test's send journal in its own folder (the URN is the same in every test)."""
    monkeypatch.setenv("RESTART_TRIGGER_JOURNAL_DIR", str(tmp_path / "journal"))


class Aborted(Exception):
    def __init__(self, code, details, status=None):
        super().__init__(details)
        self.code, self.details, self.status = code, details, status


class Context:
    """A gRPC servicer context: abort raises, as grpc's does."""

    def abort(self, code, details):
        raise Aborted(code, details)

    def abort_with_status(self, status):
        raise Aborted(status.code, status.details, status)


def struct(value: dict) -> struct_pb2.Struct:
    return wire.to_struct(value)


def plain(s) -> dict:
    return wire.from_struct(s)


@pytest.fixture
def provider(emulator) -> AliRestartProvider:
    p = AliRestartProvider(None)
    config = {
        "region": TEST_REGION,
        "accessKey": TEST_ACCESS_KEY_ID,
        "secretKey": wire.secret(TEST_ACCESS_KEY_SECRET),
        "endpoints": json.dumps([{p: emulator.base_url for p in ("edas", "webplus", "sae")}]),
    }
    checked = p.CheckConfig(provider_pb2.CheckRequest(urn="", news=struct(config)), Context())
    assert not checked.failures
    p.Configure(provider_pb2.ConfigureRequest(args=checked.inputs), Context())
    return p


def restarts(emulator) -> list[str]:
    return [target_of(e) for e in emulator.journal() if e.get("action") in RESTARTS]


def check(p, news, olds=None):
    return p.Check(
        provider_pb2.CheckRequest(urn=URN, olds=struct(olds or {}), news=struct(news)), Context()
    )


def create(p, inputs, timeout=0.0):
    return p.Create(
        provider_pb2.CreateRequest(urn=URN, properties=inputs, timeout=timeout), Context()
    )


TARGETS = [
    {"kind": "edas", "appId": TEST_APP_ID},
    {"kind": "webplus", "envId": TEST_ENV_ID},
    {"kind": "sae", "appId": TEST_SAE_APP_ID},
    {"kind": "edas-k8s", "appId": TEST_K8S_APP_ID},
]


def test_check_names_each_bad_field_in_the_schemas_words(provider):
    answer = check(
        provider,
        {
            "hash": "h1",
            "targets": [{"kind": "sae", "appId": "x y"}, {"appId": TEST_APP_ID}],
            "maxParallel": 0,
        },
    )
    failures = {f.property: f.reason for f in answer.failures}
    assert (
        "targets[1].kind" in failures
        and "edas, edas-k8s, sae, webplus" in failures["targets[1].kind"]
    )
    assert "maxParallel" in failures
    assert any(p.startswith("targets[0].appId") for p in failures), failures
    assert not any("_" in p.split(".")[-1] for p in failures), failures


def test_check_takes_snake_case_fields_and_fills_defaults_in_camel_case(provider):
    answer = check(
        provider, {"hash": "h1", "targets": [{"kind": "sae", "app_id": TEST_SAE_APP_ID}]}
    )
    assert not answer.failures
    inputs = plain(answer.inputs)
    assert inputs["targets"] == [{"kind": "sae", "appId": TEST_SAE_APP_ID}]
    assert inputs["restartOnCreate"] is False and inputs["wait"] is True
    assert inputs["timeout"] == 1800


def test_create_restarts_nothing_and_update_restarts_each_target_once(provider, emulator):
    inputs = check(provider, {"hash": "h1", "targets": TARGETS}).inputs
    created = create(provider, inputs)
    assert restarts(emulator) == []
    state = plain(created.properties)
    assert state["owed"] == [] and state["changeOrderIds"] == {}

    news = check(provider, {"hash": "h2", "targets": TARGETS}).inputs
    diff = provider.Diff(
        provider_pb2.DiffRequest(id=created.id, urn=URN, olds=created.properties, news=news),
        Context(),
    )
    assert diff.changes == provider_pb2.DiffResponse.DIFF_SOME
    assert diff.hasDetailedDiff
    assert set(diff.detailedDiff) == {
        "hash",
        "targets[0].appId",
        "targets[1].envId",
        "targets[2].appId",
        "targets[3].appId",
    }  # each target that restarts is named by its id field (the CLI shows it as a row)
    assert list(diff.replaces) == []

    updated = provider.Update(
        provider_pb2.UpdateRequest(id=created.id, urn=URN, olds=created.properties, news=news),
        Context(),
    )
    out = plain(updated.properties)
    assert sorted(restarts(emulator)) == sorted(
        [TEST_APP_ID, TEST_ENV_ID, TEST_SAE_APP_ID, TEST_K8S_APP_ID]
    )
    assert set(out["changeOrderIds"]) == {
        f"edas:{TEST_APP_ID}",
        f"webplus:{TEST_ENV_ID}",
        f"sae:{TEST_SAE_APP_ID}",
        f"edas-k8s:{TEST_K8S_APP_ID}",
    }
    assert set(out["statuses"].values()) == {"succeeded"}
    assert out["restartedHash"] == "h2" and out["owed"] == []
    assert out["targets"][0] == {"kind": "edas", "appId": TEST_APP_ID}

    # The same hash again: no change at all.
    again = provider.Diff(
        provider_pb2.DiffRequest(id=created.id, urn=URN, olds=updated.properties, news=news),
        Context(),
    )
    assert again.changes == provider_pb2.DiffResponse.DIFF_NONE


def test_the_detailed_diff_names_only_the_targets_that_restart(provider):
    olds_in = {"hash": "h1", "targets": TARGETS[:2]}
    created = create(provider, check(provider, olds_in).inputs)
    # only a new target, no hash change, restartOnCreate: the new one restarts
    news = check(provider, {"hash": "h1", "targets": TARGETS[:3], "restartOnCreate": True}).inputs
    diff = provider.Diff(
        provider_pb2.DiffRequest(id=created.id, urn=URN, olds=created.properties, news=news),
        Context(),
    )
    assert diff.detailedDiff["targets[2]"].kind == provider_pb2.PropertyDiff.ADD
    assert "targets[0]" not in diff.detailedDiff and "targets[1]" not in diff.detailedDiff
    assert "restartOnCreate" in diff.detailedDiff


def test_a_region_change_replaces_the_trigger(provider):
    created = create(provider, check(provider, {"hash": "h1", "targets": TARGETS[:1]}).inputs)
    news = check(provider, {"hash": "h1", "targets": TARGETS[:1], "region": "cn-shanghai"}).inputs
    diff = provider.Diff(
        provider_pb2.DiffRequest(id=created.id, urn=URN, olds=created.properties, news=news),
        Context(),
    )
    assert list(diff.replaces) == ["region"]
    assert diff.detailedDiff["region"].kind == provider_pb2.PropertyDiff.UPDATE_REPLACE


def test_a_partly_failed_rollout_keeps_the_restarts_that_happened(provider, emulator):
    emulator.set_faults({"fail_env_ids": [TEST_ENV_ID]})
    inputs = check(
        provider, {"hash": "h1", "targets": TARGETS[:3], "restartOnCreate": True, "maxFailures": 5}
    ).inputs
    with pytest.raises(Aborted) as failed:
        create(provider, inputs)
    status = failed.value.status
    assert status is not None, failed.value.details
    assert f"webplus:{TEST_ENV_ID}" in status.details
    # the detail carries the state: the two restarts that happened, the env owed
    from google.protobuf import any_pb2

    raw = dict(status.trailing_metadata)["grpc-status-details-bin"]
    detail = _init_failed(raw)
    out = plain(detail.properties)
    assert set(out["changeOrderIds"]) == {f"edas:{TEST_APP_ID}", f"sae:{TEST_SAE_APP_ID}"}
    assert out["owed"] == [f"webplus:{TEST_ENV_ID}"]
    assert detail.id.startswith("restart-trigger-")
    assert any_pb2  # imported for the decoder below


def _init_failed(raw: bytes) -> provider_pb2.ErrorResourceInitFailed:
    """The ErrorResourceInitFailed in a google.rpc.Status trailer (field 3, an Any)."""
    from google.protobuf import any_pb2

    def varint(data, i):
        shift = value = 0
        while True:
            b = data[i]
            i += 1
            value |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                return value, i

    i = 0
    while i < len(raw):
        key, i = varint(raw, i)
        if key & 7 == 0:
            _, i = varint(raw, i)
            continue
        length, i = varint(raw, i)
        payload, i = raw[i : i + length], i + length
        if key >> 3 == 3:
            packed = any_pb2.Any.FromString(payload)
            detail = provider_pb2.ErrorResourceInitFailed()
            assert packed.Unpack(detail)
            return detail
    raise AssertionError("no detail in the status")


def test_the_requests_timeout_bounds_the_wait(provider, emulator):
    emulator.seed({"sae_applications": [{"app_id": TEST_SAE_APP_ID, "change_duration_s": 30}]})
    inputs = check(
        provider,
        {"hash": "h1", "targets": [TARGETS[2]], "restartOnCreate": True, "timeout": 600},
    ).inputs
    started = time.monotonic()
    with pytest.raises(Aborted) as failed:
        create(provider, inputs, timeout=3.0)  # customTimeouts: create 3s
    assert time.monotonic() - started < 25
    assert "timed out after 3s" in failed.value.details
    assert "customTimeouts, 3s, shorter than its `timeout` of 600s" in failed.value.details
    assert "set `wait` to false" in failed.value.details
    assert restarts(emulator) == [TEST_SAE_APP_ID]


def test_secret_inputs_come_back_secret(provider):
    answer = check(provider, {"hash": wire.secret("h-secret"), "targets": TARGETS[:1]})
    assert wire.is_secret(plain(answer.inputs)["hash"])
    created = create(provider, answer.inputs)
    assert wire.is_secret(plain(created.properties)["hash"])


def test_config_secrets_are_returned_as_secrets_and_typos_are_named(emulator):
    p = AliRestartProvider(None)
    answer = p.CheckConfig(
        provider_pb2.CheckRequest(
            news=struct(
                {
                    "accessKey": "ak",
                    "secretKey": "sk",
                    "assumeRoleWithOidc": {"oidcToken": "tok", "roleArn": "bad"},
                    "region": "not a region",
                }
            )
        ),
        Context(),
    )
    inputs = plain(answer.inputs)
    assert wire.is_secret(inputs["accessKey"]) and wire.is_secret(inputs["secretKey"])
    assert wire.is_secret(inputs["assumeRoleWithOidc"]["oidcToken"])
    failures = {f.property: f.reason for f in answer.failures}
    assert "region" in failures
    assert any("roleArn" in r or "role" in r.lower() for r in failures.values()), failures
    assert all("alicloud:" not in r for r in failures.values()), failures


def test_import_reads_each_targets_last_restart(provider, emulator):
    inputs = check(provider, {"hash": "h1", "targets": TARGETS[:3], "restartOnCreate": True}).inputs
    done = plain(create(provider, inputs).properties)
    read = provider.Read(
        provider_pb2.ReadRequest(
            id=f"edas:{TEST_APP_ID},webplus:{TEST_ENV_ID},sae:{TEST_SAE_APP_ID}@h1", urn=URN
        ),
        Context(),
    )
    out = plain(read.properties)
    assert out["changeOrderIds"] == done["changeOrderIds"]
    assert out["restartedHash"] == "h1"
    assert plain(read.inputs)["targets"] == plain(inputs)["targets"]
    # the same hash after the import restarts nothing
    diff = provider.Diff(
        provider_pb2.DiffRequest(id="x", urn=URN, olds=read.properties, news=read.inputs),
        Context(),
    )
    assert diff.changes == provider_pb2.DiffResponse.DIFF_NONE


def test_import_refuses_an_id_without_a_hash(provider):
    with pytest.raises(Aborted) as failed:
        provider.Read(provider_pb2.ReadRequest(id=f"sae:{TEST_SAE_APP_ID}", urn=URN), Context())
    assert "<kind>:<id>" in failed.value.details and "hash" in failed.value.details


def test_refresh_reads_the_recorded_change_orders(provider, emulator):
    inputs = check(
        provider, {"hash": "h1", "targets": TARGETS[2:3], "restartOnCreate": True, "wait": False}
    ).inputs
    created = create(provider, inputs)
    time.sleep(1.0)  # the emulator's change takes 0.5 s
    read = provider.Read(
        provider_pb2.ReadRequest(id=created.id, urn=URN, properties=created.properties),
        Context(),
    )
    assert plain(read.properties)["statuses"] == {f"sae:{TEST_SAE_APP_ID}": "succeeded"}


def _sae_ids(n: int) -> list[str]:
    return [f"5a3e0000-0000-4000-8000-0000000001{i:02d}" for i in range(n)]


def test_more_than_four_calls_wait_at_once(emulator):
    """The plugin's own pool, through its gRPC server: six triggers wait at the same time
    (the dynamic provider's server has 4 threads)."""
    from pulumi.runtime.proto import provider_pb2_grpc

    from restart_trigger.plugin.main import start_server

    emulator.seed(
        {
            "sae_applications": [
                {"app_id": a, "region": TEST_REGION, "name": a[-4:], "change_duration_s": 3}
                for a in _sae_ids(6)
            ]
        }
    )
    server, port = start_server(None)
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = provider_pb2_grpc.ResourceProviderStub(channel)
            stub.Configure(
                provider_pb2.ConfigureRequest(
                    args=struct(
                        {
                            "region": TEST_REGION,
                            "accessKey": TEST_ACCESS_KEY_ID,
                            "secretKey": TEST_ACCESS_KEY_SECRET,
                            "endpoints": [{"sae": emulator.base_url}],
                        }
                    )
                )
            )

            def one(app_id):
                inputs = stub.Check(
                    provider_pb2.CheckRequest(
                        urn=f"{URN}-{app_id[-4:]}",
                        news=struct(
                            {
                                "hash": "h1",
                                "targets": [{"kind": "sae", "appId": app_id}],
                                "restartOnCreate": True,
                            }
                        ),
                    )
                ).inputs
                start = time.monotonic()
                stub.Create(
                    provider_pb2.CreateRequest(urn=f"{URN}-{app_id[-4:]}", properties=inputs)
                )
                return start, time.monotonic()

            with ThreadPoolExecutor(6) as pool:
                spans = list(pool.map(one, _sae_ids(6)))
    finally:
        server.stop(0)
    # every create overlaps every other: all six waited at once
    assert max(s for s, _ in spans) < min(e for _, e in spans), spans
    assert sorted(restarts(emulator)) == sorted(_sae_ids(6))


def test_cancel_starts_no_further_target(provider, emulator):
    inputs = check(provider, {"hash": "h1", "targets": TARGETS[:2], "restartOnCreate": True}).inputs
    try:
        provider.Cancel(None, Context())
        with pytest.raises(Aborted) as failed:
            create(provider, inputs)
    finally:
        STOP.reset()
    assert "not started" in failed.value.details
    assert restarts(emulator) == []


def test_create_and_update_at_preview_call_nothing(provider, emulator):
    """The engine sends Create/Update with ``preview`` to a plugin that handshakes."""
    inputs = check(provider, {"hash": "h1", "targets": TARGETS, "restartOnCreate": True}).inputs
    previewed = provider.Create(
        provider_pb2.CreateRequest(urn=URN, properties=inputs, preview=True), Context()
    )
    assert plain(previewed.properties)["changeOrderIds"] == wire_unknown()
    created = create(provider, check(provider, {"hash": "h1", "targets": TARGETS}).inputs)
    news = check(provider, {"hash": "h2", "targets": TARGETS}).inputs
    provider.Update(
        provider_pb2.UpdateRequest(
            id=created.id, urn=URN, olds=created.properties, news=news, preview=True
        ),
        Context(),
    )
    assert emulator.journal() == []


def wire_unknown() -> str:
    from restart_trigger.validation import UNKNOWN

    return UNKNOWN


def test_header_values_of_a_verify_come_back_secret(provider):
    probe = {"url": "https://app.example.test/health", "headers": {"Authorization": "Bearer x"}}
    answer = check(
        provider,
        {
            "hash": "h1",
            "targets": [{**SAE_TARGET, "verify": {"http": [probe]}}],
            "verify": {"http": [probe], "within": 60},
        },
    )
    assert not answer.failures, answer.failures
    inputs = plain(answer.inputs)
    assert wire.is_secret(inputs["verify"]["http"][0]["headers"]["Authorization"])
    assert wire.is_secret(inputs["targets"][0]["verify"]["http"][0]["headers"]["Authorization"])
    assert not wire.is_secret(inputs["verify"]["http"][0]["url"])


SAE_TARGET = {"kind": "sae", "appId": TEST_SAE_APP_ID}

"""restart_trigger.targets: the kinds (``KINDS``) and the one parser of the ``targets`` input:
each entry's kind, its fields checked at preview (each failure naming its field), its key and
how it reads in a preview, and a trigger mixing all four kinds."""

from __future__ import annotations

import pytest

from restart_trigger.targets import (
    KINDS,
    EdasK8sApplication,
    SaeApplication,
    parse_targets,
    target_keys,
    view_targets,
)
from restart_trigger.targets.edas import EdasTarget
from restart_trigger.targets.k8s import EdasK8sTarget
from restart_trigger.targets.sae import SaeTarget
from restart_trigger.targets.webplus import WebPlusTarget
from restart_trigger.validation import UNKNOWN

APP = "0099b7be-5f5b-4512-a7fc-56049ef1a2b3"


def failures_of(entry: dict) -> list[tuple[str, str]]:
    return parse_targets([entry]).failures.items


# --- the kinds ------------------------------------------------------------------------------------


def test_the_kinds_their_titles_and_restart_actions():
    assert list(KINDS) == ["edas", "webplus", "sae", "edas-k8s"]
    assert (SaeTarget.title, SaeTarget.restart_action) == ("SAE app", "RestartApplication")
    assert (EdasK8sTarget.title, EdasK8sTarget.restart_action) == (
        "EDAS K8s app",
        "RestartK8sApplication",
    )


def test_a_trigger_mixes_all_four_kinds_each_keyed_by_its_kind():
    raw = [
        {"app_id": "app-1"},  # no kind: an EDAS application, as before
        {"env_id": "we-1"},
        SaeApplication(APP, min_ready_instances=1.0).to_input(),  # Pulumi sends floats
        EdasK8sApplication("app-1", timeout=60.0).to_input(),
    ]
    parsed = parse_targets(raw)
    assert parsed.failures.items == []
    assert parsed.targets == [
        EdasTarget("app-1"),
        WebPlusTarget("we-1"),
        SaeTarget(APP, min_ready_instances=1),
        EdasK8sTarget("app-1", timeout=60),
    ]
    assert [t.key for t in parsed.targets] == [
        "edas:app-1",
        "webplus:we-1",
        f"sae:{APP}",
        "edas-k8s:app-1",
    ]
    assert [entry["kind"] for entry in parsed.normalized] == ["edas", "webplus", "sae", "edas-k8s"]
    assert target_keys(parsed.normalized) == sorted(t.key for t in parsed.targets)
    views = view_targets(parsed.normalized)
    assert [(v.kind, v.label) for v in views] == [
        ("edas", "EDAS app app-1"),
        ("webplus", "Web+ env we-1"),
        ("sae", f"SAE app {APP}"),
        ("edas-k8s", "EDAS K8s app app-1"),
    ]


def test_the_same_app_twice_in_one_kind_is_a_duplicate():
    parsed = parse_targets([{"kind": "sae", "app_id": APP}, {"kind": "sae", "app_id": APP}])
    assert parsed.failures.items == [
        ("targets[1]", f"duplicate target sae:{APP} (also targets[0])")
    ]


def test_an_unknown_app_id_lets_the_entry_through_unchecked():
    parsed = parse_targets([{"kind": "sae", "app_id": UNKNOWN, "min_ready_instances": UNKNOWN}])
    assert parsed.failures.items == []
    assert parsed.targets == []
    assert [v.label for v in view_targets(parsed.normalized)] == ["SAE app (known after apply)"]


# --- validation at preview ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("entry", "field", "words"),
    [
        ({"kind": "sae", "app_id": ""}, "targets[0].app_id", "non-empty"),
        ({"kind": "sae"}, "targets[0].app_id", "must be a string"),
        ({"kind": "sae", "app_id": 7}, "targets[0].app_id", "must be a string"),
        ({"kind": "sae", "app_id": "app-1"}, "targets[0].app_id", "UUID"),
        ({"kind": "sae", "app_id": APP + "0"}, "targets[0].app_id", "UUID"),
        ({"kind": "sae", "app_id": f" {APP}"}, "targets[0].app_id", "whitespace"),
        ({"kind": "sae", "app_id": f"{APP},{APP}"}, "targets[0].app_id", "commas"),
        (
            {"kind": "sae", "app_id": APP, "min_ready_instances": -2},
            "targets[0].min_ready_instances",
            "at least -1",
        ),
        (
            {"kind": "sae", "app_id": APP, "min_ready_instances": 1.5},
            "targets[0].min_ready_instances",
            "whole number",
        ),
        (
            {"kind": "sae", "app_id": APP, "min_ready_instances": True},
            "targets[0].min_ready_instances",
            "whole number",
        ),
        (
            {"kind": "sae", "app_id": APP, "min_ready_instances": "2"},
            "targets[0].min_ready_instances",
            "whole number",
        ),
        (
            {"kind": "sae", "app_id": APP, "min_ready_instance_ratio": 101},
            "targets[0].min_ready_instance_ratio",
            "between -1 and 100",
        ),
        (
            {"kind": "sae", "app_id": APP, "min_ready_instance_ratio": -5},
            "targets[0].min_ready_instance_ratio",
            "between -1 and 100",
        ),
        (
            {"kind": "sae", "app_id": APP, "auto_enable_application_scaling_rule": "yes"},
            "targets[0].auto_enable_application_scaling_rule",
            "true or false",
        ),
        (
            {"kind": "sae", "app_id": APP, "batch_size": 2},
            "targets[0].batch_size",
            "unknown field for a sae target",
        ),
        ({"kind": "sae", "env_id": "we-1"}, "targets[0]", "takes no env_id"),
        ({"kind": "edas-k8s", "app_id": ""}, "targets[0].app_id", "non-empty"),
        ({"kind": "edas-k8s", "app_id": "a b"}, "targets[0].app_id", "whitespace"),
        ({"kind": "edas-k8s", "app_id": "a", "timeout": -1}, "targets[0].timeout", "between 1"),
        ({"kind": "edas-k8s", "app_id": "a", "timeout": 0}, "targets[0].timeout", "between 1"),
        (
            {"kind": "edas-k8s", "app_id": "a", "timeout": 1801},
            "targets[0].timeout",
            "between 1 and 1800",
        ),
        ({"kind": "edas-k8s", "app_id": "a", "timeout": 2.5}, "targets[0].timeout", "whole"),
        ({"kind": "edas-k8s", "app_id": "a", "ecc_ids": ["e"]}, "targets[0].ecc_ids", "unknown"),
        ({"kind": "k8s", "app_id": "a"}, "targets[0].kind", "'edas-k8s'"),
    ],
)
def test_bad_sae_and_k8s_fields_are_refused_naming_the_field(entry, field, words):
    found = failures_of(entry)
    assert any(path == field and words in reason for path, reason in found), found


@pytest.mark.parametrize(
    "entry",
    [
        {"kind": "sae", "app_id": APP},
        {"kind": "sae", "app_id": APP.upper()},
        {"kind": "sae", "app_id": APP, "min_ready_instances": -1},  # SAE's choice
        {"kind": "sae", "app_id": APP, "min_ready_instances": 0},  # interruption allowed
        {"kind": "sae", "app_id": APP, "min_ready_instances": 40},
        {"kind": "sae", "app_id": APP, "min_ready_instance_ratio": -1},  # not used
        {"kind": "sae", "app_id": APP, "min_ready_instance_ratio": 0},
        {"kind": "sae", "app_id": APP, "min_ready_instance_ratio": 100},
        # not exclusive: the API takes both, and the ratio (0-100) wins
        {"kind": "sae", "app_id": APP, "min_ready_instances": 2, "min_ready_instance_ratio": 50},
        {"kind": "sae", "app_id": APP, "auto_enable_application_scaling_rule": True},
        {"kind": "edas-k8s", "app_id": "0099b7be-5f5b-4512-a7fc-56049ef1a2b3"},
        {"kind": "edas-k8s", "app_id": "app-1", "timeout": 1},
        {"kind": "edas-k8s", "app_id": "app-1", "timeout": 1800},
        {"kind": "edas-k8s", "app_id": "app-1", "timeout": 600.0},
    ],
)
def test_values_the_apis_document_are_accepted(entry):
    assert failures_of(entry) == []


def test_sae_fields_without_a_kind_say_which_kind_to_write():
    ((path, reason),) = failures_of({"app_id": APP, "min_ready_instances": 1})
    assert path == "targets[0].min_ready_instances"
    assert "set kind: sae for an SAE app" in reason
    ((path, reason),) = failures_of({"app_id": "a", "timeout": 60})
    assert "set kind: edas-k8s for an EDAS K8s app" in reason


def test_a_missing_target_names_every_kind_and_how_to_write_it():
    ((path, reason),) = parse_targets(None).failures.items
    assert "[{kind: sae, app_id: ...}]" in reason and "[{kind: edas-k8s, app_id: ...}]" in reason
    ((path, reason),) = failures_of({"ecc_ids": []})
    assert "SaeApplication(app_id=...)" in reason and "EdasK8sApplication(app_id=...)" in reason


# -- the cloud's view of the instances (verify: {cloud: true}) --------------------------------


def test_every_kind_names_its_instance_read():
    assert {kind: cls.instances_action for kind, cls in KINDS.items()} == {
        "edas": "QueryApplicationStatus",
        "webplus": "DescribeAppEnvStatus",
        "sae": "DescribeApplicationGroups",
        "edas-k8s": "DescribeAppInstanceList",
    }

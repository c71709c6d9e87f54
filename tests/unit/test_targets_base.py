"""restart_trigger.targets.base: what the kinds share; the input classes' ``to_input()`` writes
their kind and only the fields set."""

from __future__ import annotations

from restart_trigger.targets import EdasK8sApplication, SaeApplication

APP = "0099b7be-5f5b-4512-a7fc-56049ef1a2b3"


def test_the_input_classes_write_their_kind_and_only_the_fields_set():
    assert SaeApplication(APP).to_input() == {"kind": "sae", "app_id": APP}
    assert SaeApplication(
        APP,
        min_ready_instances=2,
        min_ready_instance_ratio=50,
        auto_enable_application_scaling_rule=False,
    ).to_input() == {
        "kind": "sae",
        "app_id": APP,
        "min_ready_instances": 2,
        "min_ready_instance_ratio": 50,
        "auto_enable_application_scaling_rule": False,
    }
    assert EdasK8sApplication("app-1").to_input() == {"kind": "edas-k8s", "app_id": "app-1"}
    assert EdasK8sApplication("app-1", timeout=600).to_input() == {
        "kind": "edas-k8s",
        "app_id": "app-1",
        "timeout": 600,
    }

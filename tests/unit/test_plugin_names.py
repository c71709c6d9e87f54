"""The plugin's names: the schema's camelCase to the core's snake_case, where the schema has
property names only, and kept in step with the schema."""

import json
from pathlib import Path

import pytest

from restart_trigger.inputs import INPUTS, RESTART_OUTPUTS
from restart_trigger.plugin import names

SCHEMA = json.loads(
    (Path(__file__).parents[2] / "providers/restart_trigger/plugin/schema.json").read_text()
)
TRIGGER = SCHEMA["resources"]["alirestart:index:RestartTrigger"]


@pytest.mark.parametrize(
    ("camel", "snake"),
    [
        ("maxParallel", "max_parallel"),
        ("restartOnCreate", "restart_on_create"),
        ("autoEnableApplicationScalingRule", "auto_enable_application_scaling_rule"),
        ("hash", "hash"),
        ("eccIds", "ecc_ids"),
    ],
)
def test_names_go_both_ways(camel, snake):
    assert names.to_snake(camel) == snake
    assert names.to_camel(snake) == camel
    assert names.to_snake(snake) == snake  # a Python dict literal's keys are taken as they are


def test_every_schema_property_is_a_core_name():
    assert {names.to_snake(p) for p in TRIGGER["inputProperties"]} == set(INPUTS)
    assert {names.to_snake(p) for p in TRIGGER["properties"]} == set(INPUTS) | set(RESTART_OUTPUTS)


def test_every_target_field_of_the_schema_maps_to_the_kinds_field():
    from restart_trigger.targets import KINDS

    for ref, kind in TRIGGER["inputProperties"]["targets"]["items"]["discriminator"][
        "mapping"
    ].items():
        fields = SCHEMA["types"][kind.removeprefix("#/types/")]["properties"]
        cls = KINDS[ref]
        assert names.to_snake(cls.id_field) in {names.to_snake(f) for f in fields}


def test_map_keys_and_progress_records_are_values_not_names():
    state = {
        "changeOrderIds": {"sae:MyApp": "c-1"},
        "progress": {"edas:AppX": {"change_id": "c-2", "restarted_at": "t"}},
        "targets": [{"kind": "edas", "appId": "AppX", "eccIds": ["e-1"]}],
    }
    core = names.from_engine(state)
    assert core["change_order_ids"] == {"sae:MyApp": "c-1"}
    assert core["progress"] == {"edas:AppX": {"change_id": "c-2", "restarted_at": "t"}}
    assert core["targets"] == [{"kind": "edas", "app_id": "AppX", "ecc_ids": ["e-1"]}]
    assert names.to_engine(core) == state


def test_failure_paths_and_reasons_use_the_schemas_names():
    assert names.path_to_engine("targets[3].min_ready_instances") == "targets[3].minReadyInstances"
    text = "needs `wait`; set `max_parallel`, not `ALICLOUD_REGION` or `change_id`"
    assert names.text_to_engine(text, frozenset({"max_parallel", "wait"})) == (
        "needs `wait`; set `maxParallel`, not `ALICLOUD_REGION` or `change_id`"
    )

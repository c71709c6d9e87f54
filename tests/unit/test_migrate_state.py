"""restart-trigger-migrate-state rewrites the provider stored by 0.1, and nothing else."""

from __future__ import annotations

import copy
import io
import json

import pytest

from restart_trigger import migrate_state
from restart_trigger.migrate_state import TRIGGER_TYPE, current_provider, migrate

# What 0.1 stored as __provider: its provider pickled by reference to `providers.restart_trigger`.
OLD = "gASVOwAAAAAAAACMGXByb3ZpZGVycy5yZXN0YXJ0X3RyaWdnZXKUjBZSZXN0YXJ0VHJpZ2dlclByb3ZpZGVylJOUKYGULg=="  # noqa: E501


def export(*resources):
    return {"version": 3, "deployment": {"manifest": {}, "resources": list(resources)}}


def trigger(provider, **outputs):
    return {
        "urn": "urn:pulumi:dev::p::" + TRIGGER_TYPE + "::t",
        "type": TRIGGER_TYPE,
        "inputs": {"hash": "h", "__provider": provider},
        "outputs": {"hash": "h", "__provider": provider, **outputs},
    }


def test_old_providers_are_replaced_in_inputs_and_outputs():
    doc, moved = migrate(export(trigger(OLD, statuses={"edas:a": "succeeded"})))
    (res,) = doc["deployment"]["resources"]
    assert moved == 1
    assert res["inputs"]["__provider"] == res["outputs"]["__provider"] == current_provider()
    assert res["outputs"]["statuses"] == {"edas:a": "succeeded"}


def test_current_providers_and_other_resources_are_left_alone():
    other = {"type": "pulumi-python:dynamic:Resource", "inputs": {"__provider": OLD}}
    before = export(trigger(current_provider()), other)
    doc, moved = migrate(copy.deepcopy(before))
    assert moved == 0
    assert doc == before


def test_running_it_twice_changes_nothing_the_second_time():
    once, _ = migrate(export(trigger(OLD)))
    twice, moved = migrate(copy.deepcopy(once))
    assert moved == 0 and twice == once


def test_the_command_reads_stdin_and_writes_the_migrated_export(monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", io.StringIO(json.dumps(export(trigger(OLD)))))
    assert migrate_state.main([]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["deployment"]["resources"][0]["inputs"]["__provider"] != OLD
    assert "1 trigger(s) migrated" in err


@pytest.mark.parametrize("text", ["", "[]", '{"version": 3}'])
def test_input_that_is_not_an_export_exits_2(monkeypatch, capsys, text):
    monkeypatch.setattr("sys.stdin", io.StringIO(text))
    assert migrate_state.main([]) == 2
    assert capsys.readouterr().err.startswith("error: ")

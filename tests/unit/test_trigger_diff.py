"""diff(): what a change of each input does to the trigger."""

from __future__ import annotations

from restart_trigger.provider import RestartTriggerProvider
from restart_trigger.validation import UNKNOWN

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

"""What another team's stack relies on: the import names, what they load, the version, and
the provider as it is pickled into every trigger's state."""

from __future__ import annotations

import base64
import importlib.metadata

import pytest

import restart_trigger
from restart_trigger.targets import EdasK8sApplication, SaeApplication


def test_the_public_names_import_from_the_package():
    from restart_trigger import (  # noqa: F401
        EdasApplication,
        RestartTrigger,
        WebPlusEnvironment,
        hash_paths,
        hash_values,
    )

    assert set(restart_trigger.__all__) >= {
        "RestartTrigger",
        "EdasApplication",
        "WebPlusEnvironment",
        "hash_paths",
        "hash_values",
    }


def test_an_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        restart_trigger.Nope  # noqa: B018


def test_the_installed_distribution_has_the_package_version():
    assert importlib.metadata.version("restart-trigger") == restart_trigger.__version__


def test_the_console_scripts_are_declared():
    scripts = {
        ep.name: ep.value
        for ep in importlib.metadata.entry_points(group="console_scripts")
        if ep.value.startswith("restart_trigger.")
    }
    assert scripts == {
        "restart-trigger-preview": "restart_trigger.preview_summary:main",
        "restart-trigger-migrate-state": "restart_trigger.migrate_state:main",
        "pulumi-resource-alirestart": "restart_trigger.plugin.main:main",
    }


def test_the_provider_is_pickled_by_reference_small_and_without_fields():
    from pulumi.dynamic.dynamic import serialize_provider

    from restart_trigger.provider import RestartTriggerProvider

    text = serialize_provider(RestartTriggerProvider())
    raw = base64.b64decode(text)
    assert b"restart_trigger.provider" in raw and b"RestartTriggerProvider" in raw
    assert len(text) < 120, text


def test_the_public_package_exports_both_input_classes():
    import restart_trigger

    assert restart_trigger.SaeApplication is SaeApplication
    assert restart_trigger.EdasK8sApplication is EdasK8sApplication
    assert {"SaeApplication", "EdasK8sApplication"} <= set(restart_trigger.__all__)

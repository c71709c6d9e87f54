"""The program side: a plain value Pulumi could not send fails at once, naming its input."""

from __future__ import annotations

import pulumi
import pytest

from restart_trigger import EdasApplication, RestartTrigger, SaeApplication
from restart_trigger.resource import InputError, _unsendable

APP = "test-app-0000-0000-0000-000000000001"


@pytest.mark.parametrize(
    ("kwargs", "path", "words"),
    [
        pytest.param(
            {"max_parallel": 10**400},
            "max_parallel",
            "401-digit number, too large to send",
            id="huge-int",
        ),
        pytest.param({"hash": b"abc"}, "hash", "must be a string, got bytes", id="bytes-hash"),
        pytest.param(
            {"targets": [EdasApplication(app_id="app-\udc80")]},
            "targets[0].app_id",
            "lone surrogate \\udc80 at position 4",
            id="lone-surrogate",
        ),
        pytest.param(
            {"targets": [{"app_id": APP, "ecc_ids": ["ok", "\ud800"]}]},
            "targets[0].ecc_ids[1]",
            "lone surrogate",
            id="surrogate-in-a-list",
        ),
        pytest.param(
            {"targets": [SaeApplication(app_id=APP, min_ready_instances=-(10**309))]},
            "targets[0].min_ready_instances",
            "too large to send",
            id="int-in-a-target",
        ),
    ],
)
def test_an_unsendable_input_fails_in_the_program_naming_its_path(kwargs, path, words):
    args = {"targets": [EdasApplication(app_id=APP)], "hash": "sha256:1", **kwargs}
    with pytest.raises(InputError) as excinfo:
        RestartTrigger("api", **args)
    message = str(excinfo.value)
    assert message.startswith("RestartTrigger 'api': "), message
    assert f"{path} " in message and words in message, message
    # Pulumi prints a RunError without a traceback; callers may catch it as a ValueError
    assert isinstance(excinfo.value, pulumi.RunError | ValueError)
    assert len(message) < 400, message  # a 400-digit number is not echoed


def test_every_unsendable_input_is_named_at_once():
    found = dict(
        _unsendable(
            {"hash": b"x", "timeout": 10**400, "targets": [{"app_id": "\ud800"}]},
            "",
        )
    )
    assert set(found) == {"hash", "timeout", "targets[0].app_id"}


@pytest.mark.parametrize(
    "value",
    [2**63, -(2**1000), 1.5, float("nan"), True, None, "cn-hangzhou", "中文", []],
)
def test_values_pulumi_can_send_are_left_to_the_provider_check(value):
    # the provider's check judges ranges (2**63: "at most ..."), NaN and types: the program
    # refuses only what cannot be sent at all
    assert list(_unsendable({"x": value}, "")) == []


def test_outputs_are_not_looked_into():
    assert list(_unsendable({"hash": pulumi.Output.from_input(b"x")}, "")) == []

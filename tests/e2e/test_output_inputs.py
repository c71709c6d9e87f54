"""Trigger inputs may be Outputs of other resources (ids from pulumi-alicloud, say)."""

from __future__ import annotations

import pytest

from testbed.emulator import (
    TEST_ACCESS_KEY_ID,
    TEST_ACCESS_KEY_SECRET,
    TEST_APP_ID,
    TEST_REGION,
)

pytestmark = pytest.mark.e2e


def test_inputs_unknown_at_preview_pass_check_and_restart_once_known(new_stack, emulator):
    stack = new_stack("outputs")
    stack.config_set("app_id", TEST_APP_ID)
    stack.config_set("setting", "one")
    stack.config_set("alicloud:accessKey", TEST_ACCESS_KEY_ID)
    stack.config_set("alicloud:secretKey", TEST_ACCESS_KEY_SECRET, secret=True)
    stack.config_set("alicloud:region", TEST_REGION)
    stack.run(
        "config", "set", "-s", stack.name, "--path", "alicloud:endpoints[0].edas", emulator.base_url
    )

    # first preview: the app id and the hash are not known yet
    preview = stack.preview()
    assert "+ 4 to create" in preview.output
    stack.up()
    assert emulator.journal() == []

    # the hash changes through an Output: preview shows an update, up restarts once
    stack.config_set("setting", "two")
    preview = stack.preview()
    assert "~ 2 to update" in preview.output
    assert emulator.journal() == []
    stack.up()
    restarts = [e for e in emulator.journal() if e["action"] == "RestartApplication"]
    assert [e["query"]["AppId"] for e in restarts] == [TEST_APP_ID]
    assert stack.outputs()["change_order_id"] == restarts[0]["result_id"]

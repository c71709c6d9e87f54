"""Lost-answer recovery rules: which change is "our restart", and how server times are read.

The flows (restart -> lost answer -> check -> use or resend) are specified through the client
in test_aliyun_client.py; these are the pure rules underneath.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from restart_trigger.aliyun import RestartOutcomeUnknown, ServerError, TransportError
from restart_trigger.aliyun.recovery import (
    check_accepted,
    find_edas_restart,
    find_webplus_restart,
    looks_like_restart,
    parse_time,
)
from restart_trigger.backoff import Backoff, Deadline

SINCE = datetime(2024, 1, 2, 3, 3, 35, tzinfo=UTC)  # our send (03:04:05Z) minus 30 s
ORDER = {
    "ChangeOrderId": "co-ours",
    "Source": "pop",
    "CoTypeCode": "CoRestartApplication",
    "CreateTime": "2024-01-02 11:04:07",  # Asia/Shanghai, 2 s after our send
    "AppId": "app-1",
}


def test_a_new_pop_restart_of_the_app_created_after_the_send_is_ours():
    assert find_edas_restart([ORDER], "app-1", SINCE, frozenset()) == "co-ours"


@pytest.mark.parametrize(
    "change",
    [
        {"ChangeOrderId": "co-known"},
        {"Source": "console"},
        {"AppId": "app-2"},
        {"CoTypeCode": "CoDeploy", "CoType": "Deploy Application"},
        {"CreateTime": "2024-01-02 10:00:00"},
        {"CreateTime": "whenever"},
    ],
)
def test_edas_orders_that_are_not_our_restart_are_ignored(change):
    order = {**ORDER, **change}
    assert find_edas_restart([order], "app-1", SINCE, frozenset({"co-known"})) is None


def test_the_newest_matching_edas_order_wins():
    later = {**ORDER, "ChangeOrderId": "co-later", "CreateTime": "2024-01-02 11:04:30"}
    assert find_edas_restart([later, ORDER], "app-1", SINCE, frozenset()) == "co-later"


@pytest.mark.parametrize(
    ("order", "restart"),
    [
        ({"CoTypeCode": "CoRestartApplication"}, True),
        ({"CoType": "重启应用"}, True),
        ({}, True),
        ({"CoTypeCode": "CoDeploy"}, False),
    ],
)
def test_an_order_type_says_restart_in_english_or_chinese_or_not_at_all(order, restart):
    assert looks_like_restart(order) is restart


def status(latest):
    return {"Code": "OK", "EnvStatus": {"LatestChangeId": latest}}


def change(**fields):
    return lambda change_id: {"Code": "OK", "Change": fields}


def test_webplus_latest_change_that_is_a_new_restart_after_the_send_is_ours():
    describe = change(ActionName="RestartApp", CreateTime=1704164646000)
    assert find_webplus_restart(status("wc-9"), describe, SINCE, frozenset({"wc-1"})) == "wc-9"


def test_webplus_latest_change_is_not_described_when_it_is_already_known():
    def describe(change_id):
        raise AssertionError("must not be called")

    assert find_webplus_restart(status("wc-1"), describe, SINCE, frozenset({"wc-1"})) is None
    assert find_webplus_restart({"Code": "OK"}, describe, SINCE, frozenset()) is None


def test_a_check_that_keeps_failing_ends_in_restart_outcome_unknown_naming_the_target():
    def find(since):
        raise ServerError(500, "InternalError", "down")

    tries = Backoff(first=0.0, max_attempts=2).start(Deadline(60, sleep=lambda s: None))
    cause = TransportError("NoResponse", "read timed out", sent=True)
    with pytest.raises(RestartOutcomeUnknown, match="EDAS application app-1") as excinfo:
        check_accepted(find, SINCE, tries, action="X", target="EDAS application app-1", cause=cause)
    assert tries.attempts == 2
    assert isinstance(excinfo.value.__cause__, ServerError)


@pytest.mark.parametrize(
    "value",
    [
        1704164645000,
        "1704164645000",
        1704164645,
        1704164645000.0,
        "2024-01-02 11:04:05",
        "2024/01/02 11:04:05",
        "2024-01-02T03:04:05Z",
        "2024-01-02T11:04:05+08:00",
        "2024-01-02T11:04:05",
    ],
)
def test_server_times_are_parsed_leniently(value):
    assert parse_time(value) == datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)


@pytest.mark.parametrize("value", [None, "", "soon", True, {}])
def test_unreadable_times_are_none(value):
    assert parse_time(value) is None

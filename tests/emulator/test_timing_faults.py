"""Faults in time: a restart applied after its client gave up, slow status calls, byte drip.

These are what a client needs to prove it never restarts twice and never hangs past its own
timeout. Timing assertions are lower bounds only; "before" and "after" are shown by ordering
(journal ``seq``, which call finished first), never by a tight upper bound on elapsed time.
"""

from __future__ import annotations

import json
import socket
import threading
import time

import pytest
import requests

from testbed.emulator import (
    EXTRA_WORLD,
    TEST_APP2_ID,
    TEST_APP_ID,
    TEST_ENV_ID,
    EmulatorError,
)

pytestmark = pytest.mark.sdk

EDAS_LIST = "/pop/v5/changeorder/change_order_list"
#: An unsigned request that names the API version gets past the route to the faults.
UNSIGNED = {"x-acs-version": "2017-08-01"}


def _new_stderr(emulator, since: int) -> str:
    return emulator.stderr_text()[since:]


def _unsigned_exchange(emulator, path: str = EDAS_LIST, timeout_s: float = 30.0):
    """POST ``path`` unsigned on a raw socket; return (chunks with arrival times, start time)."""
    sock = socket.create_connection(("127.0.0.1", emulator.port), timeout=timeout_s)
    started = time.monotonic()
    sock.sendall(
        f"POST {path} HTTP/1.1\r\nHost: {emulator.host}\r\nContent-Length: 0\r\n"
        "x-acs-version: 2017-08-01\r\n"
        "Connection: close\r\n\r\n".encode()
    )
    return sock, started


def _read_all(sock: socket.socket, started: float) -> list[tuple[float, bytes]]:
    chunks = []
    with sock:
        while chunk := sock.recv(65536):
            chunks.append((time.monotonic() - started, chunk))
    return chunks


def _split(raw: bytes) -> tuple[bytes, dict]:
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    assert int(headers["content-length"]) == len(body)
    return head, json.loads(body)


# -- apply after the client gave up ------------------------------------------------------------


def _changes(emulator, kind: str) -> list[dict]:
    return emulator.state()["edas_change_orders" if kind == "edas" else "webplus_changes"]


@pytest.mark.parametrize("kind", ["edas", "webplus"])
def test_apply_delay_applies_after_the_client_timed_out(emulator, capture_server, sdk, kind, poll):
    delay_s = 1.5
    if kind == "edas":
        restart = capture_server.capture("v3", "RestartApplication", AppId=TEST_APP_ID)
    else:
        restart = capture_server.capture("tea-v2", "RestartAppEnv", EnvId=TEST_ENV_ID)
    emulator.set_faults({"apply_delay_ms": delay_s * 1000, "apply_delay_count": 1})
    stderr_mark = len(emulator.stderr_text())
    sent_wall, sent = time.time(), time.monotonic()
    with pytest.raises(TimeoutError):
        restart.send(emulator.host, timeout_s=0.5)
    assert time.monotonic() - sent >= 0.5

    # Not applied yet, and not visible to status calls. (If this machine stalled for the whole
    # hold, the snapshot proves nothing either way, so it is only checked when taken in time.)
    before = _changes(emulator, kind)
    if kind == "edas":
        listed = sdk.call("roa", "ListRecentChangeOrder", AppId=TEST_APP_ID)
        seen_before = listed["ChangeOrderList"]["ChangeOrder"]
    else:
        status = sdk.call("roa", "DescribeAppEnvStatus", EnvId=TEST_ENV_ID)["EnvStatus"]
        seen_before = [status["LatestChangeId"]] if status["LatestChangeId"] else []
    if time.monotonic() - sent < delay_s:
        assert before == [] and seen_before == []

    (entry,) = poll(lambda: [e for e in emulator.journal() if e["fault"] == "apply_delay"])
    assert (entry["status"], entry["applied"]) == (200, True)
    (change,) = _changes(emulator, kind)
    assert change["created_at"] >= sent_wall + delay_s - 0.05  # the server-side time of the apply
    assert entry["result_id"] == (change.get("change_order_id") or change.get("change_id"))
    if kind == "edas":
        info = sdk.call("roa", "GetChangeOrderInfo", ChangeOrderId=entry["result_id"])
        assert info["changeOrderInfo"]["ChangeOrderId"] == entry["result_id"]
        listed = sdk.call("roa", "ListRecentChangeOrder", AppId=TEST_APP_ID)
        assert [o["ChangeOrderId"] for o in listed["ChangeOrderList"]["ChangeOrder"]] == [
            entry["result_id"]
        ]
    else:
        status = sdk.call("roa", "DescribeAppEnvStatus", EnvId=TEST_ENV_ID)["EnvStatus"]
        assert status["LatestChangeId"] == entry["result_id"]
        change_view = sdk.call(
            "roa", "DescribeChange", EnvId=TEST_ENV_ID, ChangeId=entry["result_id"]
        )
        assert change_view["Change"]["ChangeId"] == entry["result_id"]
    # The answer to a client that has gone is lost quietly.
    time.sleep(0.2)
    assert "Traceback" not in _new_stderr(emulator, stderr_mark)
    # The count is used up: the next restart is not held.
    assert emulator.get_faults()["apply_delay_count"] == 0


def test_apply_delay_holds_no_lock_and_a_patient_client_gets_the_answer(
    emulator, capture_server, sdk
):
    delay_s = 2.0
    restart = capture_server.capture("v3", "RestartApplication", AppId=TEST_APP_ID)
    listing = capture_server.capture("roa", "ListRecentChangeOrder", AppId=TEST_APP_ID)
    emulator.set_faults(
        {"apply_delay_ms": delay_s * 1000, "apply_delay_rate": 1.0, "target_ids": [TEST_APP_ID]}
    )
    held: dict = {}

    def patient() -> None:
        started = time.monotonic()
        held["reply"] = restart.send(emulator.host, timeout_s=30)
        held["elapsed"] = time.monotonic() - started

    thread = threading.Thread(target=patient, daemon=True)
    thread.start()
    time.sleep(0.3)  # let the restart arrive and be held
    # Meanwhile: a status call, a restart that takes the world lock and saves, the admin API.
    status, _, body = listing.send(emulator.host)
    assert (status, body["ChangeOrderList"]["ChangeOrder"]) == (200, [])
    assert sdk.call("roa", "RestartAppEnv", EnvId=TEST_ENV_ID)["Code"] == "OK"
    assert len(emulator.state()["webplus_changes"]) == 1
    assert "reply" not in held, "the held restart must still be pending"
    thread.join(30)

    status, _, body = held["reply"]
    assert status == 200 and body["Code"] == 200
    assert held["elapsed"] >= delay_s
    actions = [(e["action"], e["fault"]) for e in emulator.journal()]
    assert actions == [
        ("ListRecentChangeOrder", None),
        ("RestartAppEnv", None),
        ("RestartApplication", "apply_delay"),
    ]
    (order,) = emulator.state()["edas_change_orders"]
    assert order["change_order_id"] == body["ChangeOrderId"]


def test_apply_delay_then_a_retry_cannot_restart_twice(emulator, capture_server, sdk, poll):
    """The retry lands first; the held request then finds the app busy and applies nothing."""
    emulator.seed({"edas_applications": [{"app_id": TEST_APP_ID, "change_duration_s": 30}]})
    restart = capture_server.capture("v3", "RestartApplication", AppId=TEST_APP_ID)
    emulator.set_faults({"apply_delay_ms": 1000, "apply_delay_count": 1})
    with pytest.raises(TimeoutError):
        restart.send(emulator.host, timeout_s=0.3)
    retry = sdk.call("v3", "RestartApplication", AppId=TEST_APP_ID)
    assert retry["Code"] == 200
    (late,) = poll(lambda: [e for e in emulator.journal() if e["fault"] == "apply_delay"])
    assert (late["code"], late["applied"]) == ("603", False)
    assert len(emulator.state()["edas_change_orders"]) == 1


def test_apply_delay_only_holds_restarts_and_respects_actions(emulator, sdk):
    emulator.set_faults(
        {
            "apply_delay_ms": 5000,
            "apply_delay_rate": 1.0,
            "actions": ["RestartAppEnv", "ListRecentChangeOrder"],
        }
    )
    # Not a restart, and a restart outside ``actions``: neither is held.
    assert sdk.call("roa", "ListRecentChangeOrder", AppId=TEST_APP_ID)["Code"] == 200
    assert sdk.call("roa", "RestartApplication", AppId=TEST_APP_ID)["Code"] == 200
    assert [e["fault"] for e in emulator.journal()] == [None, None]


def test_apply_delay_does_not_hold_a_rejected_signature(emulator_url, emulator):
    emulator.set_faults({"apply_delay_ms": 5000, "apply_delay_count": 1})
    reply = requests.post(
        emulator_url + "/pop/v5/changeorder/co_restart", headers=UNSIGNED, timeout=30
    )
    assert reply.json()["Code"] == "IncompleteSignature"
    assert emulator.get_faults()["apply_delay_count"] == 1  # decided after the signature check


# -- errors are not applied ---------------------------------------------------------------------


def test_error_fault_on_one_target_answers_500_and_applies_nothing(emulator, sdk):
    emulator.seed(EXTRA_WORLD)
    emulator.set_faults(
        {"error_rate": 1.0, "actions": ["RestartApplication"], "target_ids": [TEST_APP2_ID]}
    )
    for _ in range(2):
        with pytest.raises(Exception) as caught:
            sdk.call("roa", "RestartApplication", AppId=TEST_APP2_ID)
        assert (caught.value.status, caught.value.code) == (500, "InternalError")
    ok = sdk.call("roa", "RestartApplication", AppId=TEST_APP_ID)
    (order,) = emulator.state()["edas_change_orders"]
    assert order["change_order_id"] == ok["ChangeOrderId"]
    entries = [(e["fault"], e["status"], e["applied"]) for e in emulator.journal()]
    assert entries == [("error_500", 500, False), ("error_500", 500, False), (None, 200, True)]


# -- slow status --------------------------------------------------------------------------------


def test_status_latency_slows_status_calls_only(emulator, sdk):
    emulator.set_faults({"status_latency_ms": 300, "status_latency_rate": 1.0})
    change_id = sdk.call("roa", "RestartAppEnv", EnvId=TEST_ENV_ID)["EnvChange"]["ChangeId"]
    started = time.monotonic()
    status = sdk.call("roa", "DescribeAppEnvStatus", EnvId=TEST_ENV_ID)
    assert time.monotonic() - started >= 0.3
    assert status["EnvStatus"]["LatestChangeId"] == change_id  # answered normally
    started = time.monotonic()
    change = sdk.call("roa", "DescribeChange", EnvId=TEST_ENV_ID, ChangeId=change_id)
    assert time.monotonic() - started >= 0.3
    assert change["Change"]["ChangeId"] == change_id
    faults = [(e["action"], e["fault"]) for e in emulator.journal()]
    assert faults == [
        ("RestartAppEnv", None),
        ("DescribeAppEnvStatus", "status_latency"),
        ("DescribeChange", "status_latency"),
    ]


def test_status_latency_count_form(emulator, sdk):
    emulator.set_faults({"status_latency_ms": 300, "status_latency_count": 1})
    order_id = sdk.call("roa", "RestartApplication", AppId=TEST_APP_ID)["ChangeOrderId"]
    started = time.monotonic()
    info = sdk.call("roa", "GetChangeOrderInfo", ChangeOrderId=order_id)
    assert time.monotonic() - started >= 0.3
    assert info["changeOrderInfo"]["ChangeOrderId"] == order_id
    sdk.call("roa", "ListRecentChangeOrder", AppId=TEST_APP_ID)
    assert [e["fault"] for e in emulator.journal()] == [None, "status_latency", None]


def test_status_latency_rate_is_reproducible(emulator_url, emulator):
    config = {"seed": 3, "status_latency_ms": 10, "status_latency_rate": 0.5}
    runs = []
    for _ in range(2):
        emulator.clear_journal()
        emulator.set_faults(config)
        for _ in range(16):
            requests.post(emulator_url + EDAS_LIST, headers=UNSIGNED, timeout=30)
        runs.append([e["fault"] for e in emulator.journal()])
    assert runs[0] == runs[1]
    assert set(runs[0]) == {None, "status_latency"}


# -- byte drip ----------------------------------------------------------------------------------


def test_drip_sends_the_body_byte_by_byte_with_a_correct_length(emulator):
    interval_s = 0.003
    emulator.set_faults({"drip_interval_ms": interval_s * 1000, "drip_count": 1})
    sock, started = _unsigned_exchange(emulator, timeout_s=0.5)  # no single read waits long
    chunks = _read_all(sock, started)
    raw = b"".join(c for _, c in chunks)
    head, body = _split(raw)
    assert body["Code"] == "IncompleteSignature"
    assert b"\r\n\r\n" in chunks[0][1]  # the head is sent at once
    body_len = len(raw) - len(head) - 4
    assert chunks[-1][0] >= body_len * interval_s
    assert len(chunks) >= 10  # bytes arrived a few at a time, not in one piece
    assert [e["fault"] for e in emulator.journal()] == ["drip"]


def test_drip_headers_too(emulator):
    interval_s = 0.003
    emulator.set_faults({"drip_interval_ms": interval_s * 1000, "drip_count": 1})
    emulator.patch_faults({"drip_headers": True})
    sock, started = _unsigned_exchange(emulator, timeout_s=0.5)
    chunks = _read_all(sock, started)
    raw = b"".join(c for _, c in chunks)
    head, body = _split(raw)
    assert body["Code"] == "IncompleteSignature"
    seen = b""
    for at, chunk in chunks:
        seen += chunk
        if b"\r\n\r\n" in seen:
            assert at >= len(head) * interval_s
            break


def test_drip_outlasts_a_per_read_timeout(emulator_url, emulator):
    emulator.set_faults({"drip_interval_ms": 3, "drip_rate": 1.0})
    started = time.monotonic()
    reply = requests.post(emulator_url + EDAS_LIST, headers=UNSIGNED, timeout=(5, 0.2))
    assert time.monotonic() - started >= 0.3  # longer than the read timeout, which never fired
    assert reply.json()["Code"] == "IncompleteSignature"


def test_drip_applies_the_restart_and_the_patient_client_gets_it(emulator, capture_server):
    restart = capture_server.capture("roa", "RestartApplication", AppId=TEST_APP_ID)
    emulator.set_faults({"drip_interval_ms": 1, "drip_count": 1, "actions": ["RestartApplication"]})
    status, _, body = restart.send(emulator.host, timeout_s=0.5)
    assert status == 200 and body["Code"] == 200
    (entry,) = emulator.journal()
    assert (entry["fault"], entry["applied"], entry["result_id"]) == (
        "drip",
        True,
        body["ChangeOrderId"],
    )


def test_drip_stops_quietly_when_the_client_hangs_up(emulator_url, emulator):
    emulator.set_faults({"drip_interval_ms": 5, "drip_count": 1})
    stderr_mark = len(emulator.stderr_text())
    sock, _ = _unsigned_exchange(emulator)
    with sock:
        sock.recv(64)
    time.sleep(0.3)  # the emulator's next writes hit a closed socket
    assert requests.post(emulator_url + EDAS_LIST, headers=UNSIGNED, timeout=30).status_code == 400
    assert "Traceback" not in _new_stderr(emulator, stderr_mark)


# -- configuration ------------------------------------------------------------------------------


def test_new_knobs_are_validated(emulator):
    for bad in (
        {"apply_delay_rate": 0.5},  # a rate without a delay
        {"apply_delay_ms": 100, "apply_delay_count": -1},
        {"status_latency_count": 1},
        {"status_latency_ms": -5, "status_latency_rate": 1.0},
        {"drip_interval_ms": 5, "drip_rate": 1.5},
        {"drip_interval_ms": 60_000, "drip_count": 1},
        {"drip_headers": "yes"},
        {"target_ids": "we-test00000000000000000001"},
    ):
        with pytest.raises(EmulatorError, match="HTTP 400"):
            emulator.set_faults(bad)
    config = emulator.set_faults({"apply_delay_ms": 100, "apply_delay_count": 2})
    assert (config["apply_delay_ms"], config["apply_delay_count"]) == (100, 2)
    patched = emulator.patch_faults({"drip_interval_ms": 2, "drip_rate": 0.1})
    assert (patched["apply_delay_count"], patched["drip_rate"]) == (2, 0.1)

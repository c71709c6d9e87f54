"""The four steps of ``Emulator.handle_product``, driven directly (no sockets, no SDK).

The signature verifier and the operation handler are stubbed so each step's answer, its
journal entry and the fault it records (drip, apply delay, drop after, ...) can be pinned.
"""

from __future__ import annotations

from typing import Any

import pytest

from emulator import server
from emulator.context import CallContext
from emulator.errors import ApiError, EdasBusinessError
from emulator.faults import APPLY_DELAY, DRIP, DROP_AFTER, DROP_BEFORE, FaultConfig
from emulator.server import Emulator, Route
from emulator.signatures import ReceivedRequest
from emulator.state import World

RESTART = ("POST", "/pop/v5/changeorder/co_restart")
VERSION = {"x-acs-version": "2017-08-01"}


class _Verifier:
    """Accepts every request, or raises ``error``."""

    def __init__(self, error: ApiError | None = None) -> None:
        self.error = error

    def verify(self, req: ReceivedRequest, product: str) -> Any:
        if self.error is not None:
            raise self.error
        return object()


def _emulator(monkeypatch: pytest.MonkeyPatch, handler: Any = None, **faults: Any) -> Emulator:
    emulator = Emulator(World())
    emulator.faults.configure(FaultConfig(**faults))
    monkeypatch.setattr(emulator, "verifier", _Verifier())
    if handler is not None:
        route = server.ROUTES[RESTART]
        monkeypatch.setitem(server.ROUTES, RESTART, Route(route.product, route.action, handler))
    return emulator


def _applied(ctx: CallContext) -> dict[str, Any]:
    ctx.result_id = "change-1"
    return {"Code": 200, "ChangeOrderId": "change-1"}


def _request(path: str = RESTART[1], headers: dict[str, str] | None = None) -> ReceivedRequest:
    return ReceivedRequest(
        method="POST",
        path=path,
        query=(("AppId", "app-1"), ("RegionId", "cn-test")),
        headers=tuple((headers if headers is not None else VERSION).items()),
        body=b"",
    )


def _only_entry(emulator: Emulator) -> dict[str, Any]:
    entries = emulator.journal.entries()
    assert len(entries) == 1
    return entries[0]


def test_unknown_path_is_404_unrouted_and_never_dripped(monkeypatch: pytest.MonkeyPatch) -> None:
    emulator = _emulator(monkeypatch, drip_interval_ms=1, drip_count=1)
    reply = emulator.handle_product(_request("/pop/v5/nowhere"), "host")
    assert reply.status == 404 and reply.drip is None and not reply.close
    assert reply.body["RequestId"] == reply.headers["x-acs-request-id"]
    entry = _only_entry(emulator)
    assert (entry["product"], entry["action"], entry["fault"]) == ("edas", None, None)
    assert emulator.faults.config.drip_count == 1  # not consumed before the route resolves


def test_missing_version_is_refused_before_faults(monkeypatch: pytest.MonkeyPatch) -> None:
    emulator = _emulator(monkeypatch, error_count=1)
    reply = emulator.handle_product(_request(headers={}), "host")
    assert (reply.status, reply.body["Code"]) == (400, "MissingParameter")
    assert _only_entry(emulator)["action"] == "RestartApplication"
    assert emulator.faults.config.error_count == 1


def test_success_is_journaled_applied_with_its_result(monkeypatch: pytest.MonkeyPatch) -> None:
    emulator = _emulator(monkeypatch, _applied)
    reply = emulator.handle_product(_request(), "host")
    request_id = reply.headers["x-acs-request-id"]
    assert reply.status == 200 and not reply.drop and not reply.close and reply.drip is None
    assert list(reply.body) == ["RequestId", "Code", "ChangeOrderId"]
    assert reply.body["RequestId"] == request_id
    entry = _only_entry(emulator)
    assert entry["status"] == 200 and entry["code"] is None and entry["fault"] is None
    assert entry["applied"] is True and entry["result_id"] == "change-1"
    assert entry["request_id"] == request_id and entry["region"] == "cn-test"


def test_drip_is_decided_when_answering(monkeypatch: pytest.MonkeyPatch) -> None:
    emulator = _emulator(monkeypatch, _applied, drip_interval_ms=5, drip_count=1)
    reply = emulator.handle_product(_request(), "host")
    assert reply.status == 200 and reply.drip is not None and reply.drip.interval_s == 0.005
    assert _only_entry(emulator)["fault"] == DRIP


def test_drop_before_journals_no_status(monkeypatch: pytest.MonkeyPatch) -> None:
    emulator = _emulator(monkeypatch, _applied, drop_before_count=1)
    reply = emulator.handle_product(_request(), "host")
    assert reply.drop
    entry = _only_entry(emulator)
    assert (entry["status"], entry["code"], entry["fault"]) == (None, None, DROP_BEFORE)
    assert entry["applied"] is False


def test_injected_error_answers_with_its_fault(monkeypatch: pytest.MonkeyPatch) -> None:
    emulator = _emulator(monkeypatch, _applied, error_count=1, error_status=503)
    reply = emulator.handle_product(_request(), "host")
    assert (reply.status, reply.body["Code"]) == (503, "ServiceUnavailable")
    entry = _only_entry(emulator)
    assert (entry["status"], entry["fault"], entry["applied"]) == (503, "error_503", False)


def test_apply_delay_holds_then_closes_and_skips_drop_after(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    emulator = _emulator(
        monkeypatch, _applied, apply_delay_ms=1, apply_delay_count=1, drop_after_count=1
    )
    reply = emulator.handle_product(_request(), "host")
    assert reply.status == 200 and reply.close and not reply.drop and reply.drip is None
    entry = _only_entry(emulator)
    assert entry["fault"] == APPLY_DELAY and entry["applied"] is True
    assert emulator.faults.config.drop_after_count == 1


def test_error_while_held_closes_the_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(ctx: CallContext) -> dict[str, Any]:
        raise ApiError(400, "InvalidParameter", "no")

    emulator = _emulator(monkeypatch, refuse, apply_delay_ms=1, apply_delay_count=1)
    reply = emulator.handle_product(_request(), "host")
    assert (reply.status, reply.close) == (400, True)
    assert _only_entry(emulator)["fault"] == APPLY_DELAY


def test_drop_after_journals_the_lost_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    emulator = _emulator(monkeypatch, _applied, drop_after_count=1)
    reply = emulator.handle_product(_request(), "host")
    assert reply.drop
    entry = _only_entry(emulator)
    assert (entry["status"], entry["fault"], entry["applied"]) == (200, DROP_AFTER, True)


def test_signature_error_is_answered_unapplied(monkeypatch: pytest.MonkeyPatch) -> None:
    emulator = _emulator(monkeypatch, _applied)
    emulator.verifier = _Verifier(ApiError(400, "SignatureDoesNotMatch", "bad", {"x-a": "1"}))
    reply = emulator.handle_product(_request(), "host")
    assert (reply.status, reply.body["Code"], reply.headers["x-a"]) == (
        400,
        "SignatureDoesNotMatch",
        "1",
    )
    entry = _only_entry(emulator)
    assert entry["code"] == "SignatureDoesNotMatch" and entry["applied"] is False


def test_edas_business_error_is_http_200(monkeypatch: pytest.MonkeyPatch) -> None:
    def busy(ctx: CallContext) -> dict[str, Any]:
        raise EdasBusinessError(601, "busy")

    emulator = _emulator(monkeypatch, busy)
    reply = emulator.handle_product(_request(), "host")
    request_id = reply.headers["x-acs-request-id"]
    assert reply.status == 200
    assert reply.body == {"RequestId": request_id, "Code": 601, "Message": "busy"}
    entry = _only_entry(emulator)
    assert (entry["status"], entry["code"], entry["applied"]) == (200, "601", False)
    assert entry["result_id"] is None


def test_unexpected_exception_is_500_with_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def crash(ctx: CallContext) -> dict[str, Any]:
        raise RuntimeError("boom")

    emulator = _emulator(monkeypatch, crash)
    reply = emulator.handle_product(_request(), "host")
    assert (reply.status, reply.body["Code"]) == (500, "InternalError")
    assert "RuntimeError: boom" in capsys.readouterr().err
    entry = _only_entry(emulator)
    assert (entry["status"], entry["code"], entry["fault"]) == (500, "InternalError", None)

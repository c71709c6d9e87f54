"""A kind of target is one module: a toy fifth kind, written here and nowhere else, goes
through the plan, the runner and lost-answer recovery against the emulator.

The toy kind restarts an EDAS application (the emulator's EDAS routes) under a kind, id field,
operations, change-list rule and status reading of its own. Nothing in `providers/` names
it: registering it is all the package needs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import pytest

from restart_trigger.aliyun import AliyunClient, BusinessError, Credentials, RestartResult
from restart_trigger.aliyun.client import Operation
from restart_trigger.aliyun.recovery import Reader
from restart_trigger.backoff import Deadline
from restart_trigger.plan import decide
from restart_trigger.runner import run_rollout
from restart_trigger.targets import (
    FAILED,
    RUNNING,
    SUCCEEDED,
    ChangeStatus,
    parse_targets,
    register,
    unregister,
)
from restart_trigger.targets.base import InputSpec, Target
from restart_trigger.validation import Failures, check_id
from testbed.emulator import (
    TEST_ACCESS_KEY_ID,
    TEST_ACCESS_KEY_SECRET,
    TEST_APP_ID,
    TEST_REGION,
)

TOY_RESTART = Operation(
    "edas", "RestartApplication", "POST", "/pop/v5/changeorder/co_restart", "2017-08-01"
)
TOY_LIST = Operation(
    "edas", "ListRecentChangeOrder", "POST", "/pop/v5/changeorder/change_order_list", "2017-08-01"
)
TOY_STATUS = Operation(
    "edas", "GetChangeOrderInfo", "POST", "/pop/v5/changeorder/change_order_info", "2017-08-01"
)


def _orders(body: Mapping[str, Any]) -> list[dict]:
    listed = (body.get("ChangeOrderList") or {}).get("ChangeOrder") or []
    return [o for o in listed if isinstance(o, dict)]


class ToyChanges:
    """The toy kind's rule for lost answers: any change order absent from the snapshot."""

    restart_action = "RestartApplication"
    looks = 0

    def label(self, ident: str) -> str:
        return f"toy {ident}"

    def where_to_look(self, ident: str) -> str:
        return f"the toy's change orders ({ident})"

    def snapshot(self, read: Reader, ident: str) -> frozenset[str]:
        return frozenset(o["ChangeOrderId"] for o in _orders(read(TOY_LIST, {"AppId": ident})))

    def candidates(
        self, read: Reader, ident: str, before: frozenset[str], known: frozenset[str]
    ) -> list[str]:
        ToyChanges.looks += 1
        listed = _orders(read(TOY_LIST, {"AppId": ident}))
        return [o["ChangeOrderId"] for o in listed if o["ChangeOrderId"] not in before | known]


@dataclass(frozen=True)
class ToyApp(InputSpec):
    kind: ClassVar[str] = "toy"
    toy_id: str


@dataclass(frozen=True)
class ToyTarget(Target):
    toy_id: str

    kind: ClassVar[str] = "toy"
    id_field: ClassVar[str] = "toy_id"
    fields: ClassVar[frozenset[str]] = frozenset({"kind", "toy_id"})
    title: ClassVar[str] = "toy"
    restart_action: ClassVar[str] = "RestartApplication"
    changes: ClassVar[ToyChanges] = ToyChanges()

    @classmethod
    def validate(cls, raw: Mapping[str, Any], path: str, failures: Failures) -> None:
        check_id(raw.get("toy_id"), f"{path}.toy_id", "toy id", failures)

    @classmethod
    def from_input(cls, raw: Mapping[str, Any]) -> ToyTarget:
        return cls(toy_id=raw["toy_id"])

    @classmethod
    def strategy(cls, raw: Mapping[str, Any]) -> str:
        return "the whole toy"

    def call_restart_api(self, client: AliyunClient, known_change_ids: list[str]) -> RestartResult:
        return client.request_restart(
            TOY_RESTART,
            self.toy_id,
            self.changes,
            query={"AppId": self.toy_id},
            extract=lambda body: body.get("ChangeOrderId"),
            known_change_ids=known_change_ids,
        )

    def is_busy(self, client: AliyunClient, refusal: BusinessError) -> bool:
        return False

    def status(self, client: AliyunClient, change_id: str) -> ChangeStatus:
        info = client.read(TOY_STATUS, {"ChangeOrderId": change_id})["changeOrderInfo"]
        state = {2: SUCCEEDED, 3: FAILED}.get(int(info["Status"]), RUNNING)
        return ChangeStatus(state, f"toy status {info['Status']}")


@pytest.fixture
def toy_kind():
    register(ToyTarget, ToyApp)
    ToyChanges.looks = 0
    yield ToyTarget
    unregister("toy")


def test_a_toy_kind_goes_through_plan_runner_and_recovery(toy_kind, emulator):
    news = {"hash": "sha256:2", "targets": [ToyApp(toy_id=TEST_APP_ID).to_input()]}
    parsed = parse_targets(news["targets"])
    assert parsed.failures.items == [] and parsed.targets == [ToyTarget(TEST_APP_ID)]

    olds = {**news, "hash": "sha256:1", "progress": {}, "owed": []}
    plan = decide(olds, news)
    assert (plan.restart, plan.due) == (True, (f"toy:{TEST_APP_ID}",))

    # the answer to the restart is lost after the emulator applied it: recovery must find it
    emulator.set_faults(
        {"drop_after_rate": 1.0, "drop_after_count": 1, "actions": ["RestartApplication"]}
    )
    credentials = Credentials(TEST_ACCESS_KEY_ID, TEST_ACCESS_KEY_SECRET)
    deadline = Deadline(120)
    with AliyunClient(
        credentials, TEST_REGION, {"edas": emulator.base_url}, deadline=deadline
    ) as client:
        [outcome] = run_rollout(
            client, parsed.targets, known_change_ids={}, wait=True, deadline=deadline
        )

    assert outcome.restarted and outcome.status.state == SUCCEEDED, outcome
    assert outcome.request_id is None  # found by looking, not answered
    assert ToyChanges.looks >= 1
    sent = [e for e in emulator.journal() if e["action"] == "RestartApplication"]
    assert len(sent) == 1 and sent[0]["fault"] == "drop_after"
    assert outcome.change_id == sent[0]["result_id"]


def test_a_toy_kind_is_gone_once_unregistered(toy_kind):
    unregister("toy")
    parsed = parse_targets([{"kind": "toy", "toy_id": "x"}])
    assert parsed.failures.items and "kind" in parsed.failures.items[0][0]
    register(ToyTarget, ToyApp)  # the fixture unregisters it again

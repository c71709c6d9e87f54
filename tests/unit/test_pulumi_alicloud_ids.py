"""A pulumi_alicloud resource's id flows into a trigger's target (Pulumi mocks, no engine)."""

from __future__ import annotations

import pulumi
import pytest

from restart_trigger import EdasApplication, RestartTrigger
from restart_trigger.provider import RestartTriggerProvider

# pulumi-alicloud 4 needs pulumi 3.231+: the lower-bound lane (scripts/test-lower-bound.sh)
# installs no pulumi_alicloud, and skips this file.
alicloud = pytest.importorskip("pulumi_alicloud")

TRIGGER_TYPE = "pulumi-python:dynamic/restart:RestartTrigger"


class RecordingMocks(pulumi.runtime.Mocks):
    def __init__(self) -> None:
        self.registered: dict[str, pulumi.runtime.MockResourceArgs] = {}

    def new_resource(self, args: pulumi.runtime.MockResourceArgs):
        self.registered[args.typ] = args
        ident = "edas-app-0123" if args.typ == "alicloud:edas/application:Application" else ""
        return ident or f"{args.name}-id", dict(args.inputs)

    def call(self, args: pulumi.runtime.MockCallArgs):
        return {}


mocks = RecordingMocks()
pulumi.runtime.set_mocks(mocks, preview=False)


@pulumi.runtime.test
def test_an_edas_application_id_becomes_the_triggers_target():
    app = alicloud.edas.Application(
        "orders", application_name="orders", cluster_id="cluster-1", package_type="JAR"
    )
    trigger = RestartTrigger(
        "orders-config", targets=[EdasApplication(app_id=app.id)], hash="sha256:abc"
    )

    def check(_: object) -> None:
        received = mocks.registered[TRIGGER_TYPE].inputs
        assert received["targets"] == [{"kind": "edas", "app_id": "edas-app-0123"}]
        checked = RestartTriggerProvider().check({}, received)
        assert checked.failures == []
        assert checked.inputs["targets"] == [{"kind": "edas", "app_id": "edas-app-0123"}]

    return trigger.urn.apply(check)

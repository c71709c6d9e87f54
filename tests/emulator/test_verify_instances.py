"""The cloud's view of a target's instances (``verify: {cloud: true}``) on the emulator: each
read through its official SDKs (every scheme the product accepts) and through our client, and
the ``instances_not_running`` knob making an application's instances not all running.

EDAS ECS ``QueryApplicationStatus`` (``AppInfo.Application.InstanceCount`` /
``RunningInstanceCount``), EDAS Kubernetes ``DescribeAppInstanceList`` (``InstanceList[].PodRaw``),
SAE ``DescribeApplicationGroups`` (``Data[].Replicas`` / ``RunningInstances``), Web+
``DescribeAppEnvStatus`` (``EnvStatus.InstanceAppStatus``).
"""

from __future__ import annotations

import json

import pytest

from restart_trigger.aliyun import AliyunClient, BusinessError, Credentials
from restart_trigger.backoff import Deadline
from restart_trigger.targets.edas import EdasTarget
from restart_trigger.targets.k8s import EdasK8sTarget, pod_ready
from restart_trigger.targets.sae import SaeTarget
from restart_trigger.targets.webplus import WebPlusTarget
from testbed.emulator import (
    TEST_ACCESS_KEY_ID,
    TEST_ACCESS_KEY_SECRET,
    TEST_APP_ID,
    TEST_ECC_IDS,
    TEST_ENV_ID,
    TEST_K8S_APP_ID,
    TEST_REGION,
    TEST_SAE_APP_ID,
)
from tests.emulator.conftest import PERMANENT

pytestmark = pytest.mark.sdk


def _legacy(sdk, request) -> dict:
    request.set_endpoint(sdk.host.rsplit(":", 1)[0])
    request.set_protocol_type("http")
    return json.loads(sdk._legacy_client(PERMANENT).do_action_with_exception(request))


def query_application_status(sdk, flavour: str, app_id: str) -> dict:
    if flavour == "roa":
        from aliyunsdkedas.request.v20170801.QueryApplicationStatusRequest import (
            QueryApplicationStatusRequest,
        )

        request = QueryApplicationStatusRequest()
        request.set_AppId(app_id)
        return _legacy(sdk, request)
    from alibabacloud_edas20170801 import models
    from alibabacloud_edas20170801.client import Client

    client = Client(sdk._tea_config(PERMANENT, flavour == "tea-v2"))
    request = models.QueryApplicationStatusRequest(app_id=app_id)
    return client.query_application_status(request).body.to_map()


def describe_app_instance_list(sdk, flavour: str, app_id: str) -> dict:
    if flavour == "roa":
        from aliyunsdkedas.request.v20170801.DescribeAppInstanceListRequest import (
            DescribeAppInstanceListRequest,
        )

        request = DescribeAppInstanceListRequest()
        request.set_AppId(app_id)
        return _legacy(sdk, request)
    from alibabacloud_edas20170801 import models
    from alibabacloud_edas20170801.client import Client

    client = Client(sdk._tea_config(PERMANENT, flavour == "tea-v2"))
    request = models.DescribeAppInstanceListRequest(app_id=app_id, with_node_info=True)
    return client.describe_app_instance_list(request).body.to_map()


def describe_application_groups(sdk, flavour: str, app_id: str) -> dict:
    if flavour == "roa":
        from aliyunsdksae.request.v20190506.DescribeApplicationGroupsRequest import (
            DescribeApplicationGroupsRequest,
        )

        request = DescribeApplicationGroupsRequest()
        request.set_AppId(app_id)
        return _legacy(sdk, request)
    from alibabacloud_sae20190506 import models
    from alibabacloud_sae20190506.client import Client

    client = Client(sdk._tea_config(PERMANENT, flavour == "tea-v2"))
    request = models.DescribeApplicationGroupsRequest(app_id=app_id)
    return client.describe_application_groups(request).body.to_map()


FLAVOURS = ("roa", "tea-v2", "v3")


@pytest.fixture
def client(emulator):
    with AliyunClient(
        Credentials(TEST_ACCESS_KEY_ID, TEST_ACCESS_KEY_SECRET),
        region=TEST_REGION,
        endpoints={p: emulator.base_url for p in ("edas", "webplus", "sae")},
    ) as c:
        yield c


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_edas_query_application_status_through_the_official_sdks(emulator, sdk, flavour):
    body = query_application_status(sdk, flavour, TEST_APP_ID)
    app = body["AppInfo"]["Application"]
    assert (
        body["Code"],
        app["ApplicationId"],
        app["InstanceCount"],
        app["RunningInstanceCount"],
    ) == (
        200,
        TEST_APP_ID,
        2,
        2,
    )
    eccs = body["AppInfo"]["EccList"]["Ecc"]
    assert [e["EccId"] for e in eccs] == TEST_ECC_IDS and {e["AppState"] for e in eccs} == {7}
    emulator.seed({"edas_applications": [{"app_id": TEST_APP_ID, "instances_not_running": 1}]})
    body = query_application_status(sdk, flavour, TEST_APP_ID)
    assert body["AppInfo"]["Application"]["RunningInstanceCount"] == 1
    assert [e["AppState"] for e in body["AppInfo"]["EccList"]["Ecc"]] == [7, 1]
    assert {e["signature"] for e in emulator.journal()} == {flavour}


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_edas_k8s_describe_app_instance_list_through_the_official_sdks(emulator, sdk, flavour):
    emulator.seed(
        {
            "edas_k8s_applications": [
                {"app_id": TEST_K8S_APP_ID, "instance_count": 3, "instances_not_running": 1}
            ]
        }
    )
    body = describe_app_instance_list(sdk, flavour, TEST_K8S_APP_ID)
    pods = [json.loads(i["PodRaw"]) for i in body["InstanceList"]]
    assert [pod_ready(p) for p in pods] == [True, True, False]
    assert all(i["AppId"] == TEST_K8S_APP_ID for i in body["InstanceList"])


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_sae_describe_application_groups_through_the_official_sdks(emulator, sdk, flavour):
    emulator.seed({"sae_applications": [{"app_id": TEST_SAE_APP_ID, "instances_not_running": 2}]})
    body = describe_application_groups(sdk, flavour, TEST_SAE_APP_ID)
    [group] = body["Data"]
    assert (body["Success"], group["Replicas"], group["RunningInstances"]) == (True, 2, 0)


def test_each_kind_reads_its_instances_and_the_knob_makes_them_not_all_running(emulator, client):
    targets = [
        EdasTarget(app_id=TEST_APP_ID),
        EdasK8sTarget(app_id=TEST_K8S_APP_ID),
        SaeTarget(app_id=TEST_SAE_APP_ID),
        WebPlusTarget(env_id=TEST_ENV_ID),
    ]
    views = [t.instances(client, Deadline(30)) for t in targets]
    assert [v.ready for v in views] == [True, True, True, True]
    assert views[0].detail == (
        "2 of 2 instance(s) running "
        "(EDAS QueryApplicationStatus RunningInstanceCount/InstanceCount)"
    )
    emulator.seed(
        {
            "edas_applications": [{"app_id": TEST_APP_ID, "instances_not_running": 1}],
            "edas_k8s_applications": [{"app_id": TEST_K8S_APP_ID, "instances_not_running": 1}],
            "sae_applications": [{"app_id": TEST_SAE_APP_ID, "instances_not_running": 1}],
            "webplus_environments": [{"env_id": TEST_ENV_ID, "instances_not_running": 1}],
        }
    )
    views = [t.instances(client, Deadline(30)) for t in targets]
    assert [v.ready for v in views] == [False, False, False, False]
    assert views[1].detail.startswith("0 of 1 pod(s) ready")
    assert views[2].detail.startswith("1 of 2 instance(s) running (SAE DescribeApplicationGroups")
    assert views[3].detail.startswith(
        "environment RUNNING, 1 of 2 instance(s) healthy, 1 unhealthy"
    )
    actions = [e["action"] for e in emulator.journal()]
    assert set(actions) == {
        "QueryApplicationStatus",
        "DescribeAppInstanceList",
        "DescribeApplicationGroups",
        "DescribeAppEnvStatus",
    }


def test_an_instance_restarting_during_a_change_reads_as_not_running(emulator, client):
    emulator.seed({"defaults": {"change_duration_s": 30}})
    target = EdasTarget(app_id=TEST_APP_ID)
    target.request_restart(client, known_change_ids=[], deadline=Deadline(30))
    view = target.instances(client, Deadline(30))
    assert not view.ready and view.detail.startswith("1 of 2 instance(s) running")


def test_the_knob_is_checked_and_a_pod_list_of_an_ecs_app_is_refused(emulator, client):
    with pytest.raises(Exception, match="instances_not_running"):
        emulator.seed({"edas_applications": [{"app_id": TEST_APP_ID, "instances_not_running": -1}]})
    with pytest.raises(BusinessError, match="605"):
        EdasK8sTarget(app_id=TEST_APP_ID).instances(client, Deadline(30))

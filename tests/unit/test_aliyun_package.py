"""The package surface: importing the cloud client loads no Pulumi, and it exports what the
provider and the targets use."""

from __future__ import annotations

from pathlib import Path

import requests

import restart_trigger
import restart_trigger.aliyun as aliyun
from restart_trigger.aliyun import AliyunClient, Credentials
from restart_trigger.backoff import Backoff
from restart_trigger.targets.webplus import describe_change

PROVIDERS = Path(__file__).resolve().parents[2] / "providers"


def test_the_package_exports_what_its_runtime_callers_use():
    for name in (
        "AliyunClient",
        "RestartResult",
        "Credentials",
        "CredentialsError",
        "resolve_settings",
        "CONFIG_KEYS",
        "parse_endpoints",
        "validate_endpoint",
        "validate_region",
        "AcsV3Auth",
        "AcsRoaSha1Auth",
        "AliyunError",
        "NotFoundError",
        "BusinessError",
        "DeadlineExceeded",
        "RestartOutcomeUnknown",
    ):
        assert name in aliyun.__all__
        assert getattr(aliyun, name) is not None
    assert sorted(aliyun.__all__) == sorted(set(aliyun.__all__))


def test_the_client_user_agent_carries_the_package_version():
    seen = []

    class Capture(requests.adapters.BaseAdapter):
        def send(self, request, **kwargs):
            seen.append(request.headers["user-agent"])
            raise requests.exceptions.ConnectTimeout("not sending")

        def close(self):
            pass

    session = requests.Session()
    session.mount("https://", Capture())
    client = AliyunClient(
        Credentials("key-id", "secret-value"),
        "cn-hangzhou",
        session=session,
        read_backoff=Backoff(first=0.0, max_attempts=1),
        user_agent="extra/1",
    )
    try:
        describe_change(client, "we-1", "wc-1")
    except aliyun.TransportError:
        pass
    assert seen == [
        f"restart-trigger/{restart_trigger.__version__} python-requests/"
        f"{requests.__version__} extra/1"
    ]

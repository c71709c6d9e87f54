"""The package surface of restart_trigger.aliyun: it exports what the provider and the targets
use (that importing it loads no Pulumi is test_pure_modules.py's)."""

from __future__ import annotations

from pathlib import Path

import restart_trigger.aliyun as aliyun

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

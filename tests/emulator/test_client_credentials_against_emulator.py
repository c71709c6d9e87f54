"""The credential chain against the emulator's STS and metadata service, over HTTPS: the
resolver's providers get temporary keys, a restart signed with them is accepted, and keys
that live a few seconds are renewed while a caller keeps working.

Pointed at the emulator only the way users point the trigger: ``alicloud:endpoints``
(``sts``, ``edas``), ``RESTART_TRIGGER_ECS_METADATA_ENDPOINT``, and the throwaway CA trusted
through ``REQUESTS_CA_BUNDLE``; nothing is patched.
"""

from __future__ import annotations

import time

import pytest

from restart_trigger.aliyun import AliyunClient, resolve_settings
from restart_trigger.aliyun.credentials import clear_provider_cache
from restart_trigger.aliyun.sources import CredentialsUnavailable
from restart_trigger.targets.edas import get_change_order_info, restart_application
from testbed.emulator import (
    TEST_ACCESS_KEY_ID,
    TEST_ACCESS_KEY_SECRET,
    TEST_APP_ID,
    TEST_ECS_ROLE_NAME,
    TEST_OIDC_PROVIDER_ARN,
    TEST_REGION,
    TEST_ROLE_ARN,
    TEST_SEED,
    EmulatorProcess,
    make_oidc_token,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tls_emulator():
    with EmulatorProcess(tls=True, imds=True) as emu:
        yield emu


@pytest.fixture
def emu(tls_emulator, monkeypatch):
    tls_emulator.reset()
    tls_emulator.seed(TEST_SEED)
    for name, value in tls_emulator.client_env().items():
        monkeypatch.setenv(name, value)  # how a CI job trusts a private CA
    clear_provider_cache()
    yield tls_emulator
    clear_provider_cache()


def endpoints(emu) -> list[dict[str, str]]:
    return [{"edas": emu.base_url, "sts": emu.base_url}]


def restart(settings) -> str:
    with AliyunClient(
        settings.credentials, TEST_REGION, endpoints={"edas": settings.endpoints["edas"]}
    ) as client:
        return restart_application(client, TEST_APP_ID).change_id


def test_assume_role_on_access_keys_gets_keys_the_edas_endpoint_accepts(emu, tmp_path):
    config = {
        "alicloud:accessKey": TEST_ACCESS_KEY_ID,
        "alicloud:secretKey": TEST_ACCESS_KEY_SECRET,
        "alicloud:assumeRole": {"roleArn": TEST_ROLE_ARN, "sessionName": "emulator-test"},
        "alicloud:endpoints": endpoints(emu),
    }
    settings = resolve_settings(config, {}, tmp_path / "none.json")
    assert restart(settings)
    issued = settings.credentials.current()
    assert issued.access_key_id.startswith("STS.") and issued.security_token
    assert issued.access_key_id != TEST_ACCESS_KEY_ID


def test_oidc_from_a_token_file_as_in_a_ci_job(emu, tmp_path):
    token_file = tmp_path / "oidc-token"
    token_file.write_text(make_oidc_token())
    environ = {
        "ALIBABA_CLOUD_ROLE_ARN": TEST_ROLE_ARN,
        "ALIBABA_CLOUD_OIDC_PROVIDER_ARN": TEST_OIDC_PROVIDER_ARN,
        "ALIBABA_CLOUD_OIDC_TOKEN_FILE": str(token_file),
    }
    settings = resolve_settings({"alicloud:endpoints": endpoints(emu)}, environ, tmp_path / "x")
    assert restart(settings)
    assert settings.credentials.current().access_key_id.startswith("STS.")


def test_an_expired_oidc_token_is_refused_naming_the_source(emu, tmp_path):
    token_file = tmp_path / "oidc-token"
    token_file.write_text(make_oidc_token(lifetime_s=-60))
    config = {
        "alicloud:assumeRoleWithOidc": {
            "oidcProviderArn": TEST_OIDC_PROVIDER_ARN,
            "roleArn": TEST_ROLE_ARN,
            "oidcTokenFile": str(token_file),
        },
        "alicloud:endpoints": endpoints(emu),
    }
    settings = resolve_settings(config, {}, tmp_path / "x")
    with pytest.raises(CredentialsUnavailable) as excinfo:
        restart(settings)
    text = str(excinfo.value)
    assert f"alicloud:assumeRoleWithOidc (role {TEST_ROLE_ARN}): AssumeRoleWithOIDC refused" in text
    assert token_file.read_text() not in text


def test_a_role_the_account_does_not_have_is_refused(emu, tmp_path):
    config = {
        "alicloud:accessKey": TEST_ACCESS_KEY_ID,
        "alicloud:secretKey": TEST_ACCESS_KEY_SECRET,
        "alicloud:assumeRole": {"roleArn": TEST_ROLE_ARN.rsplit("/", 1)[0] + "/no-such-role"},
        "alicloud:endpoints": endpoints(emu),
    }
    settings = resolve_settings(config, {}, tmp_path / "x")
    with pytest.raises(CredentialsUnavailable, match="AssumeRole refused"):
        restart(settings)


def test_the_ecs_instance_role_from_the_metadata_service(emu, tmp_path):
    environ = {"RESTART_TRIGGER_ECS_METADATA_ENDPOINT": emu.imds_url}
    config = {"alicloud:ecsRoleName": TEST_ECS_ROLE_NAME, "alicloud:endpoints": endpoints(emu)}
    settings = resolve_settings(config, environ, tmp_path / "x")
    assert restart(settings)
    assert settings.credentials.current().access_key_id.startswith("STS.")


def test_keys_that_live_seconds_are_renewed_while_the_client_keeps_calling(emu, tmp_path):
    emu.seed({"sts": {"credential_lifetime_s": 4}})
    config = {
        "alicloud:accessKey": TEST_ACCESS_KEY_ID,
        "alicloud:secretKey": TEST_ACCESS_KEY_SECRET,
        "alicloud:assumeRole": {"roleArn": TEST_ROLE_ARN},
        "alicloud:endpoints": endpoints(emu),
    }
    settings = resolve_settings(config, {}, tmp_path / "x")
    provider = settings.credentials
    with AliyunClient(
        provider, TEST_REGION, endpoints={"edas": settings.endpoints["edas"]}
    ) as client:
        change_id = restart_application(client, TEST_APP_ID).change_id
        seen = set()
        ends = time.monotonic() + 7
        while time.monotonic() < ends:  # longer than the keys live
            get_change_order_info(client, change_id)  # never InvalidSecurityToken.Expired
            seen.add(provider.current().access_key_id)
            time.sleep(0.5)
    assert provider.refreshes >= 2 and len(seen) >= 2

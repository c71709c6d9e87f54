"""The credential chain: stack config, then environment, then the aliyun CLI profile file."""

from __future__ import annotations

import json
from collections.abc import Mapping

import pytest

from restart_trigger.aliyun import CONFIG_KEYS, Credentials, CredentialsError, resolve_settings
from restart_trigger.aliyun.credentials import ResolvedSettings

KEY_ID = "test-access-key-id"
SECRET = "test-secret-value-0123456789"
TOKEN = "test-sts-token-abcdefghijklmnop"


@pytest.fixture
def no_profile(tmp_path):
    return tmp_path / "missing-config.json"


def write_profiles(tmp_path, profiles, current=None):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"current": current, "profiles": profiles}))
    return path


def test_stack_config_wins_over_environment(no_profile):
    settings = resolve_settings(
        {"alicloud:accessKey": "config-key", "alicloud:secretKey": "config-secret"},
        {"ALICLOUD_ACCESS_KEY": "env-key", "ALICLOUD_SECRET_KEY": "env-secret"},
        no_profile,
    )
    assert isinstance(settings, ResolvedSettings)
    assert settings.credentials == Credentials("config-key", "config-secret")


def test_alicloud_env_names_win_over_alibaba_cloud_names(no_profile):
    environ = {
        "ALICLOUD_ACCESS_KEY": "a",
        "ALIBABA_CLOUD_ACCESS_KEY_ID": "b",
        "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "s",
        "ALIBABA_CLOUD_SECURITY_TOKEN": "t-token",
    }
    creds = resolve_settings({}, environ, no_profile).credentials
    assert (creds.access_key_id, creds.access_key_secret, creds.security_token) == (
        "a",
        "s",
        "t-token",
    )


def test_config_and_environment_merge_per_setting_like_terraform(no_profile):
    settings = resolve_settings(
        {"accessKey": KEY_ID},
        {"ALICLOUD_SECRET_KEY": SECRET, "ALICLOUD_REGION": "cn-shanghai"},
        no_profile,
    )
    assert settings.credentials == Credentials(KEY_ID, SECRET)
    assert settings.region == "cn-shanghai"


def test_region_precedence_and_default(tmp_path, no_profile):
    base = {"alicloud:accessKey": KEY_ID, "alicloud:secretKey": SECRET}
    assert resolve_settings({**base, "alicloud:region": "cn-hangzhou"}, {}, no_profile).region == (
        "cn-hangzhou"
    )
    assert resolve_settings(base, {"ALIBABA_CLOUD_REGION": "eu-west-1"}, no_profile).region == (
        "eu-west-1"
    )
    assert resolve_settings(base, {}, no_profile).region == "cn-beijing"


def test_profile_file_is_used_when_config_and_env_have_no_keys(tmp_path):
    path = write_profiles(
        tmp_path,
        [
            {"name": "default", "mode": "AK", "access_key_id": "k0", "access_key_secret": "s0"},
            {
                "name": "sts",
                "mode": "StsToken",
                "access_key_id": KEY_ID,
                "access_key_secret": SECRET,
                "sts_token": TOKEN,
                "region_id": "cn-shenzhen",
            },
        ],
        current="default",
    )
    named = resolve_settings({"alicloud:profile": "sts"}, {}, path)
    assert named.credentials == Credentials(KEY_ID, SECRET, TOKEN)
    assert named.region == "cn-shenzhen"

    via_env = resolve_settings({}, {"ALICLOUD_PROFILE": "sts"}, path)
    assert via_env.credentials.security_token == TOKEN

    current = resolve_settings({}, {}, path)
    assert current.credentials == Credentials("k0", "s0")


def test_profile_path_can_come_from_the_environment(tmp_path):
    path = write_profiles(
        tmp_path,
        [{"name": "p", "mode": "AK", "access_key_id": "k", "access_key_secret": "s"}],
        current="p",
    )
    settings = resolve_settings({}, {"ALICLOUD_SHARED_CREDENTIALS_FILE": str(path)})
    assert settings.credentials == Credentials("k", "s")


def test_config_keys_beat_the_profile(tmp_path):
    path = write_profiles(
        tmp_path,
        [{"name": "p", "mode": "AK", "access_key_id": "k", "access_key_secret": "s"}],
        current="p",
    )
    settings = resolve_settings({"accessKey": KEY_ID, "secretKey": SECRET}, {}, path)
    assert settings.credentials == Credentials(KEY_ID, SECRET)


def test_unsupported_profile_mode_is_a_clear_error(tmp_path):
    path = write_profiles(tmp_path, [{"name": "r", "mode": "CloudSSO"}], current="r")
    with pytest.raises(
        CredentialsError,
        match="CloudSSO.*supported modes are AK, StsToken, RamRoleArn, EcsRamRole, OIDC, "
        "ChainableRamRoleArn",
    ):
        resolve_settings({}, {}, path)


def test_a_broken_current_profile_says_why_it_was_read_and_what_to_set(tmp_path):
    path = write_profiles(tmp_path, [{"name": "r", "mode": "CloudSSO"}], current="r")
    with pytest.raises(CredentialsError) as current:
        resolve_settings({}, {}, path)
    assert current.value.key == "alicloud:profile"
    assert f"it is the `current` profile of {str(path)!r}" in str(current.value)
    assert "no other Alibaba Cloud credentials are set" in str(current.value)
    with pytest.raises(CredentialsError) as named:  # a named profile's error stays as it was
        resolve_settings({"profile": "r"}, {}, path)
    assert str(named.value).endswith("ChainableRamRoleArn.")
    assert "`current` profile" not in str(named.value)


def test_a_profile_file_that_is_not_json_is_named_when_its_current_profile_is_read(tmp_path):
    path = tmp_path / "config.json"
    path.write_text("[profile default]\naccess_key_id = k\n")  # an INI file, not the CLI's
    with pytest.raises(CredentialsError) as excinfo:
        resolve_settings({}, {"ALICLOUD_SHARED_CREDENTIALS_FILE": str(path)})
    assert excinfo.value.key == "alicloud:sharedCredentialsFile"
    assert f"cannot read profile file {str(path)!r}" in str(excinfo.value)
    assert "`current` profile" in str(excinfo.value)
    # with keys, the file is not read at all, as before
    keys = {"accessKey": KEY_ID, "secretKey": SECRET}
    assert resolve_settings(keys, {}, path).credentials == Credentials(KEY_ID, SECRET)


def test_a_bad_session_name_in_a_profile_is_reported_under_alicloud_profile(tmp_path):
    from restart_trigger.aliyun.credentials import check_credential_config

    profile = {
        "name": "ram",
        "mode": "RamRoleArn",
        "access_key_id": "k",
        "access_key_secret": "s",
        "ram_role_arn": "acs:ram::1234567890123456:role/deploy",
        "ram_session_name": "a b",
    }
    path = write_profiles(tmp_path, [profile], current="ram")
    for config in ({"alicloud:profile": "ram"}, {}):
        failures = check_credential_config({**config, "sharedCredentialsFile": str(path)}, {})
        assert [k for k, _ in failures] == ["alicloud:profile"]
        assert "ram_session_name: 'a b' is not a valid role session name" in failures[0][1]


def test_a_named_profile_that_does_not_exist_is_an_error(tmp_path):
    path = write_profiles(tmp_path, [{"name": "a", "mode": "AK"}], current="a")
    with pytest.raises(CredentialsError, match="'nope' not found"):
        resolve_settings({"profile": "nope"}, {}, path)


def test_missing_credentials_error_names_config_keys_and_env_vars(no_profile):
    with pytest.raises(CredentialsError) as excinfo:
        resolve_settings({}, {}, no_profile)
    message = str(excinfo.value)
    for name in (
        "alicloud:accessKey",
        "alicloud:secretKey",
        "ALICLOUD_ACCESS_KEY",
        "ALICLOUD_SECRET_KEY",
        "ALIBABA_CLOUD_ACCESS_KEY_ID",
        "alicloud:profile",
    ):
        assert name in message


def test_half_a_key_pair_is_an_error_naming_the_missing_half(no_profile):
    with pytest.raises(CredentialsError, match="alicloud:secretKey"):
        resolve_settings({}, {"ALICLOUD_ACCESS_KEY": KEY_ID}, no_profile)


@pytest.mark.parametrize(
    "raw",
    [
        '[{"edas": "http://127.0.0.1:8080", "ecs": "ecs.example"}, {"webplus": "wp.example"}]',
        [{"edas": "http://127.0.0.1:8080"}, {"webplus": "wp.example"}],
        {"edas": "http://127.0.0.1:8080", "webplus": "https://wp.example"},
    ],
)
def test_endpoints_accept_json_string_list_or_dict(raw, no_profile):
    settings = resolve_settings(
        {"alicloud:accessKey": KEY_ID, "alicloud:secretKey": SECRET, "alicloud:endpoints": raw},
        {},
        no_profile,
    )
    assert settings.endpoints == {"edas": "http://127.0.0.1:8080", "webplus": "https://wp.example"}


@pytest.mark.parametrize(
    ("raw", "match"),
    [
        ("[{", "not valid JSON"),
        ('"just a string"', "list of objects"),
        ('[{"edas": "http://10.0.0.1"}]', r"alicloud:endpoints\[edas\].*loopback"),
    ],
)
def test_bad_endpoints_are_clear_errors(raw, match, no_profile):
    with pytest.raises(CredentialsError, match=match):
        resolve_settings(
            {"accessKey": KEY_ID, "secretKey": SECRET, "endpoints": raw}, {}, no_profile
        )


def test_repr_and_str_mask_the_secret_and_the_token():
    creds = Credentials(KEY_ID, SECRET, TOKEN)
    for text in (repr(creds), str(creds), f"{creds}", repr(ResolvedSettings(creds, "cn-hangzhou"))):
        assert SECRET not in text
        assert TOKEN not in text
    assert "****" in repr(creds)


def test_a_half_pair_error_names_where_the_half_came_from_never_its_value(no_profile):
    with pytest.raises(CredentialsError) as excinfo:
        resolve_settings({}, {"ALICLOUD_SECRET_KEY": SECRET}, no_profile)
    assert "environment ALICLOUD_SECRET_KEY" in str(excinfo.value)
    assert SECRET not in str(excinfo.value)


def test_the_profile_file_can_be_named_in_stack_config(tmp_path):
    path = write_profiles(
        tmp_path,
        [{"name": "p", "mode": "AK", "access_key_id": "k", "access_key_secret": "s"}],
        current="p",
    )
    settings = resolve_settings({"alicloud:sharedCredentialsFile": str(path)}, {})
    assert settings.credentials == Credentials("k", "s")


# --- CONFIG_KEYS: what the provider passes on from the engine's config ----------------------


class RecordingConfig(Mapping):
    """A stack config that records every key the resolver looks up."""

    def __init__(self, values) -> None:
        self.values = dict(values)
        self.read: set[str] = set()

    def __getitem__(self, key):
        self.read.add(key)
        return self.values[key]

    def __contains__(self, key):
        self.read.add(key)
        return key in self.values

    def get(self, key, default=None):
        self.read.add(key)
        return self.values.get(key, default)

    def __iter__(self):
        raise AssertionError("the resolver must look keys up, not list them")

    def __len__(self):
        return len(self.values)


def prefixed(key: str) -> str:
    return key if key.startswith("alicloud:") else f"alicloud:{key}"


@pytest.mark.parametrize(
    "values",
    [
        {"alicloud:accessKey": KEY_ID, "alicloud:secretKey": SECRET},
        {"alicloud:accessKey": KEY_ID, "alicloud:secretKey": SECRET, "alicloud:profile": "p"},
        {},  # nothing set: every fallback is consulted, up to the profile file
    ],
)
def test_config_keys_are_exactly_the_stack_config_keys_the_resolver_reads(values, tmp_path):
    config = RecordingConfig(values)
    path = write_profiles(
        tmp_path,
        [{"name": "p", "mode": "AK", "access_key_id": "k", "access_key_secret": "s"}],
        current="p",
    )
    resolve_settings(config, {"ALICLOUD_SHARED_CREDENTIALS_FILE": str(path)})
    assert {prefixed(key) for key in config.read} == set(CONFIG_KEYS)


def test_config_keys_name_every_documented_alicloud_setting():
    assert set(CONFIG_KEYS) == {
        "alicloud:accessKey",
        "alicloud:secretKey",
        "alicloud:securityToken",
        "alicloud:region",
        "alicloud:profile",
        "alicloud:sharedCredentialsFile",
        "alicloud:ecsRoleName",
        "alicloud:assumeRole",
        "alicloud:assumeRoleWithOidc",
        "alicloud:endpoints",
    }
    assert len(CONFIG_KEYS) == len(set(CONFIG_KEYS))

"""The credential chain (restart_trigger.aliyun.credentials): stack config, then environment,
then the aliyun CLI profile file; its one table (docs/credentials.md) is the loader tuple; what
the resolver builds for each source, in pulumi-alicloud's precedence; bad settings named by
their key, at preview and at run time; the profile file's current profile and source_profile
chains."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path

import pytest

from restart_trigger.aliyun import CONFIG_KEYS, Credentials, CredentialsError, resolve_settings
from restart_trigger.aliyun import credentials as chain
from restart_trigger.aliyun.credentials import (
    MAX_CHAIN_DEPTH,
    ResolvedSettings,
    check_credential_config,
    clear_provider_cache,
)
from restart_trigger.aliyun.sources import (
    AssumeRoleProvider,
    EcsRoleProvider,
    OidcProvider,
)
from tests.unit.sts_fakes import (
    BASE_KEY_ID,
    BASE_SECRET,
    OIDC_PROVIDER_ARN,
    OIDC_TOKEN,
    ROLE_ARN,
)

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


KEYS = {"alicloud:accessKey": BASE_KEY_ID, "alicloud:secretKey": BASE_SECRET}
OTHER_ROLE = "acs:ram::1234567890123456:role/other"


@pytest.fixture(autouse=True)
def fresh_cache():
    clear_provider_cache()
    yield
    clear_provider_cache()


@pytest.fixture
def token_file(tmp_path):
    path = tmp_path / "token"
    path.write_text(OIDC_TOKEN + "\n")
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


# --- the one credentials table (docs/credentials.md) ----------------------------------------------


ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "credentials.md"


def doc_table(heading: str) -> list[list[str]]:
    """The cells of the rows of the first table after the line starting with ``heading``."""
    lines = DOC.read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(heading))
    rows = []
    for line in lines[start + 1 :]:
        if not line.startswith("|"):
            if rows:
                break
            continue
        rows.append([cell.strip() for cell in line.strip().strip("|").split("|")])
    return rows[2:]  # the header and the --- line


def expected(source: chain.Source) -> tuple[str, list[str], list[str], list[str]]:
    """A row as the code has it: source, config keys, object fields, environment (in order)."""
    return (
        source.source,
        [setting.config_key for setting in source.settings],
        [f.name for f in source.fields],
        [
            *(name for setting in source.settings for name in setting.env),
            *(name for f in source.fields for name in f.env),
            *source.alone,
        ],
    )


def documented(name: str, config: str, environment: str) -> tuple[str, list[str], ...]:
    object_fields = re.search(r"\{(.*)\}", config)
    return (
        name,
        re.findall(r"`(alicloud:\w+)`", config),
        re.findall(r"`(\w+)`", object_fields.group(1)) if object_fields else [],
        re.findall(r"`([A-Z][A-Z0-9_]+)`", environment),
    )


def test_the_base_credentials_table_is_the_loader_tuple_in_order():
    rows = doc_table("Base credentials")
    assert [row[0] for row in rows] == [str(n) for n in range(1, len(chain.LOADERS) + 1)]
    assert [documented(*row[1:4]) for row in rows] == [expected(lo) for lo in chain.LOADERS]


def test_the_role_on_top_table_is_the_assume_role_source():
    rows = doc_table("Then, on top")
    assert [documented(*row[:3]) for row in rows] == [expected(chain.ROLE_ON_TOP)]


def test_every_key_a_source_reads_is_a_config_key():
    for source in (*chain.LOADERS, chain.ROLE_ON_TOP):
        assert {s.config_key for s in source.settings} <= set(chain.CONFIG_KEYS)


def test_the_table_is_written_once():
    copies = [
        path.relative_to(ROOT).as_posix()
        for pattern in ("*.md", "docs/**/*.md", "providers/**/*.py")
        for path in ROOT.glob(pattern)
        if "| AccessKey pair |" in path.read_text(encoding="utf-8")
    ]
    assert copies == ["docs/credentials.md"]


# --- one walk, in the table's order ---------------------------------------------------------------


def test_a_preview_reports_problems_in_the_tables_order(tmp_path):
    config = {
        "alicloud:assumeRole": {"roleArn": "bad"},
        "alicloud:ecsRoleName": "bad role!",
        "alicloud:assumeRoleWithOidc": {"oidcProviderArn": ROLE_ARN},
    }
    assert [key for key, _ in chain.check_credential_config(config, {})] == [
        "alicloud:ecsRoleName",
        "alicloud:assumeRoleWithOidc.oidcProviderArn",
        "alicloud:assumeRole.roleArn",
    ]


def test_the_first_source_set_wins_and_the_role_goes_on_top(tmp_path):
    config = {
        "alicloud:ecsRoleName": "ecs-role",
        "alicloud:assumeRoleWithOidc": {
            "oidcProviderArn": OIDC_PROVIDER_ARN,
            "roleArn": ROLE_ARN,
            "oidcToken": "t",
        },
        "alicloud:assumeRole": {"roleArn": ROLE_ARN},
    }
    settings = chain.resolve_settings(config, {}, tmp_path / "none.json")
    assert settings.source == (
        f"alicloud:assumeRole (role {ROLE_ARN}) on alicloud:ecsRoleName (role ecs-role)"
    )


# --- what the resolver builds ---------------------------------------------------------------------


def test_static_keys_stay_a_plain_credentials_object(no_profile):
    settings = resolve_settings(KEYS, {}, no_profile)
    assert settings.credentials == Credentials(BASE_KEY_ID, BASE_SECRET)
    assert settings.source == "stack config alicloud:accessKey"


def test_assume_role_sits_on_top_of_the_access_keys(no_profile):
    config = {
        **KEYS,
        "alicloud:assumeRole": json.dumps(
            {
                "roleArn": ROLE_ARN,
                "sessionName": "ci-42",
                "sessionExpiration": 900,
                "externalId": "ext-1",
                "policy": '{"Version": "1"}',
            }
        ),
        "alicloud:region": "cn-shanghai",
    }
    settings = resolve_settings(config, {}, no_profile)
    provider = settings.credentials
    assert isinstance(provider, AssumeRoleProvider)
    assert (provider.role_arn, provider.session_name, provider.duration) == (ROLE_ARN, "ci-42", 900)
    assert (provider.external_id, provider.policy) == ("ext-1", '{"Version": "1"}')
    assert provider.base == Credentials(BASE_KEY_ID, BASE_SECRET)
    assert provider.sts_endpoint == settings.sts_endpoint == "https://sts.cn-shanghai.aliyuncs.com"
    assert settings.source == (
        f"alicloud:assumeRole (role {ROLE_ARN}) on stack config alicloud:accessKey"
    )


def test_assume_role_fields_default_to_their_environment_variables(no_profile):
    environ = {
        "ALICLOUD_ASSUME_ROLE_ARN": ROLE_ARN,
        "ALICLOUD_ASSUME_ROLE_SESSION_NAME": "from-env",
        "ALICLOUD_ASSUME_ROLE_SESSION_EXPIRATION": "1200",
    }
    provider = resolve_settings(
        {**KEYS, "alicloud:assumeRole": {}}, environ, no_profile
    ).credentials
    assert (provider.role_arn, provider.session_name, provider.duration) == (
        ROLE_ARN,
        "from-env",
        1200,
    )
    alone = resolve_settings(KEYS, environ, no_profile).credentials
    assert isinstance(alone, AssumeRoleProvider) and alone.source.startswith(
        "environment ALICLOUD_ASSUME_ROLE_ARN"
    )
    defaults = resolve_settings(
        {**KEYS, "alicloud:assumeRole": {"roleArn": ROLE_ARN}}, {}, no_profile
    ).credentials
    assert (defaults.session_name, defaults.duration) == ("restart-trigger", 3600)


def test_sts_endpoint_comes_from_alicloud_endpoints_sts(no_profile):
    config = {
        **KEYS,
        "alicloud:assumeRole": {"roleArn": ROLE_ARN},
        "alicloud:endpoints": [
            {"edas": "http://127.0.0.1:9"},
            {"sts": "sts-vpc.cn-hangzhou.aliyuncs.com"},
        ],
    }
    settings = resolve_settings(config, {}, no_profile)
    assert settings.credentials.sts_endpoint == "https://sts-vpc.cn-hangzhou.aliyuncs.com"
    assert settings.endpoints == {"edas": "http://127.0.0.1:9"}  # sts is not a product


def test_sts_is_https_only_even_on_loopback(no_profile):
    with pytest.raises(CredentialsError, match=r"endpoints\[sts\].*HTTPS only"):
        resolve_settings(
            {**KEYS, "alicloud:endpoints": [{"sts": "http://127.0.0.1:8443"}]}, {}, no_profile
        )


def test_oidc_from_stack_config(no_profile, token_file):
    config = {
        "alicloud:assumeRoleWithOidc": {
            "oidcProviderArn": OIDC_PROVIDER_ARN,
            "roleArn": ROLE_ARN,
            "oidcTokenFile": str(token_file),
            "roleSessionName": "gha-run-7",
        }
    }
    settings = resolve_settings(config, {}, no_profile)
    provider = settings.credentials
    assert isinstance(provider, OidcProvider)
    assert (provider.oidc_provider_arn, provider.role_arn, provider.token_file) == (
        OIDC_PROVIDER_ARN,
        ROLE_ARN,
        str(token_file),
    )
    assert provider.session_name == "gha-run-7"


def test_oidc_from_the_sdk_environment_trio(no_profile, token_file):
    environ = {
        "ALIBABA_CLOUD_ROLE_ARN": ROLE_ARN,
        "ALIBABA_CLOUD_OIDC_PROVIDER_ARN": OIDC_PROVIDER_ARN,
        "ALIBABA_CLOUD_OIDC_TOKEN_FILE": str(token_file),
        "ALIBABA_CLOUD_ROLE_SESSION_NAME": "rrsa",
    }
    provider = resolve_settings({}, environ, no_profile).credentials
    assert isinstance(provider, OidcProvider) and provider.session_name == "rrsa"
    # two of the three are not enough
    del environ["ALIBABA_CLOUD_OIDC_TOKEN_FILE"]
    with pytest.raises(CredentialsError, match="no Alibaba Cloud credentials found"):
        resolve_settings({}, environ, no_profile)


def test_ecs_role_name_from_config_or_environment(no_profile):
    provider = resolve_settings({"alicloud:ecsRoleName": "ecs-role"}, {}, no_profile).credentials
    assert isinstance(provider, EcsRoleProvider)
    assert (provider.role_name, provider.endpoint) == ("ecs-role", "http://100.100.100.200")
    via_env = resolve_settings(
        {},
        {
            "ALIBABA_CLOUD_ECS_METADATA": "ecs-role",
            "RESTART_TRIGGER_ECS_METADATA_ENDPOINT": "http://127.0.0.1:8100",
        },
        no_profile,
    ).credentials
    assert via_env.endpoint == "http://127.0.0.1:8100"
    with pytest.raises(CredentialsError, match="RESTART_TRIGGER_ECS_METADATA_ENDPOINT"):
        resolve_settings(
            {},
            {
                "ALICLOUD_ECS_ROLE_NAME": "r",
                "RESTART_TRIGGER_ECS_METADATA_ENDPOINT": "http://10.1.1.1",
            },
            no_profile,
        )


def test_precedence_keys_then_named_profile_then_ecs_then_oidc_then_current_profile(
    tmp_path, token_file
):
    path = write_profiles(
        tmp_path,
        [
            {"name": "cur", "mode": "AK", "access_key_id": "cur-k", "access_key_secret": "cur-s"},
            {"name": "named", "mode": "AK", "access_key_id": "nam-k", "access_key_secret": "nam-s"},
        ],
        current="cur",
    )
    oidc = {
        "alicloud:assumeRoleWithOidc": {
            "oidcProviderArn": OIDC_PROVIDER_ARN,
            "roleArn": ROLE_ARN,
            "oidcToken": OIDC_TOKEN,
        }
    }
    everything = {**KEYS, "alicloud:profile": "named", "alicloud:ecsRoleName": "ecs-role", **oidc}

    def source(config):
        clear_provider_cache()
        return resolve_settings(config, {}, path).credentials

    assert source(everything) == Credentials(BASE_KEY_ID, BASE_SECRET)
    without_keys = {k: v for k, v in everything.items() if k not in KEYS}
    assert source(without_keys) == Credentials("nam-k", "nam-s")
    without_profile = {k: v for k, v in without_keys.items() if k != "alicloud:profile"}
    assert isinstance(source(without_profile), EcsRoleProvider)
    assert isinstance(source(oidc), OidcProvider)
    assert source({}) == Credentials("cur-k", "cur-s")


def test_assume_role_on_top_of_ecs_and_of_oidc(no_profile):
    on_ecs = resolve_settings(
        {"alicloud:ecsRoleName": "ecs-role", "alicloud:assumeRole": {"roleArn": OTHER_ROLE}},
        {},
        no_profile,
    )
    assert isinstance(on_ecs.credentials, AssumeRoleProvider)
    assert isinstance(on_ecs.credentials.base, EcsRoleProvider)
    on_oidc = resolve_settings(
        {
            "alicloud:assumeRoleWithOidc": {
                "oidcProviderArn": OIDC_PROVIDER_ARN,
                "roleArn": ROLE_ARN,
                "oidcToken": OIDC_TOKEN,
            },
            "alicloud:assumeRole": {"roleArn": OTHER_ROLE},
        },
        {},
        no_profile,
    )
    assert isinstance(on_oidc.credentials.base, OidcProvider)


def test_profile_modes(tmp_path, token_file):
    path = write_profiles(
        tmp_path,
        [
            {"name": "ak", "mode": "AK", "access_key_id": "k", "access_key_secret": "s"},
            {
                "name": "ram",
                "mode": "RamRoleArn",
                "access_key_id": "k",
                "access_key_secret": "s",
                "ram_role_arn": ROLE_ARN,
                "ram_session_name": "cli",
                "expired_seconds": 900,
                "sts_region": "cn-shanghai",
            },
            {"name": "ecs", "mode": "EcsRamRole", "ram_role_name": "ecs-role"},
            {
                "name": "oidc",
                "mode": "OIDC",
                "ram_role_arn": ROLE_ARN,
                "oidc_provider_arn": OIDC_PROVIDER_ARN,
                "oidc_token_file": str(token_file),
                "role_session_name": "oidc-s",
            },
            {
                "name": "chain",
                "mode": "ChainableRamRoleArn",
                "source_profile": "ram",
                "ram_role_arn": OTHER_ROLE,
            },
        ],
        current="ak",
    )

    def named(name):
        return resolve_settings({"alicloud:profile": name}, {}, path).credentials

    ram = named("ram")
    assert isinstance(ram, AssumeRoleProvider)
    assert (ram.role_arn, ram.session_name, ram.duration) == (ROLE_ARN, "cli", 900)
    assert ram.base == Credentials("k", "s")
    assert ram.sts_endpoint == "https://sts.cn-shanghai.aliyuncs.com"
    assert isinstance(named("ecs"), EcsRoleProvider)
    oidc = named("oidc")
    assert isinstance(oidc, OidcProvider) and oidc.session_name == "oidc-s"
    chain = named("chain")
    assert chain.role_arn == OTHER_ROLE and chain.base is ram  # one provider per setting


def test_assume_role_replaces_a_ram_role_arn_profiles_role_like_terraform(tmp_path):
    path = write_profiles(
        tmp_path,
        [
            {
                "name": "ram",
                "mode": "RamRoleArn",
                "access_key_id": "k",
                "access_key_secret": "s",
                "ram_role_arn": ROLE_ARN,
            }
        ],
    )
    provider = resolve_settings(
        {"alicloud:profile": "ram", "alicloud:assumeRole": {"roleArn": OTHER_ROLE}}, {}, path
    ).credentials
    assert provider.role_arn == OTHER_ROLE and provider.base == Credentials("k", "s")


def test_equal_settings_share_one_provider_so_fifty_triggers_assume_the_role_once(no_profile):
    config = {**KEYS, "alicloud:assumeRole": {"roleArn": ROLE_ARN}}
    first = resolve_settings(dict(config), {}, no_profile).credentials
    assert all(
        resolve_settings(dict(config), {}, no_profile).credentials is first for _ in range(50)
    )
    other = resolve_settings(
        {**config, "alicloud:assumeRole": {"roleArn": OTHER_ROLE}}, {}, no_profile
    )
    assert other.credentials is not first


# --- bad input, named by its key ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("config", "key", "match"),
    [
        (
            {"alicloud:assumeRole": {"roleArn": "arn:aws:iam::1:role/x"}},
            "alicloud:assumeRole.roleArn",
            "not a RAM role ARN",
        ),
        (
            {"alicloud:assumeRole": {"roleArn": ROLE_ARN, "sessionExpiration": 60}},
            "alicloud:assumeRole.sessionExpiration",
            "between 900 and 43200",
        ),
        (
            {"alicloud:assumeRole": {"roleArn": ROLE_ARN, "sessionName": "a b"}},
            "alicloud:assumeRole.sessionName",
            "session name",
        ),
        (
            {"alicloud:assumeRole": {"roleArn": ROLE_ARN, "policy": "{not json"}},
            "alicloud:assumeRole.policy",
            "JSON policy",
        ),
        ({"alicloud:assumeRole": {"rolearn": ROLE_ARN}}, "alicloud:assumeRole", "unknown field"),
        ({"alicloud:assumeRole": "[{"}, "alicloud:assumeRole", "not valid JSON"),
        (
            {"alicloud:assumeRoleWithOidc": {"oidcProviderArn": ROLE_ARN}},
            "alicloud:assumeRoleWithOidc.oidcProviderArn",
            "not an OIDC provider ARN",
        ),
        ({"alicloud:ecsRoleName": "bad role!"}, "alicloud:ecsRoleName", "not a RAM role name"),
    ],
)
def test_malformed_settings_are_refused_at_preview_and_at_run_time(config, key, match, no_profile):
    failures = check_credential_config(config)
    assert [k for k, _ in failures] == [key]
    assert match in failures[0][1]
    with pytest.raises(CredentialsError, match=match) as excinfo:
        resolve_settings({**KEYS, **config}, {}, no_profile)
    assert excinfo.value.key == key


def test_an_unreadable_token_file_is_refused_at_preview(tmp_path):
    config = {
        "alicloud:assumeRoleWithOidc": {
            "oidcProviderArn": OIDC_PROVIDER_ARN,
            "roleArn": ROLE_ARN,
            "oidcTokenFile": str(tmp_path / "absent"),
        }
    }
    failures = check_credential_config(config)
    assert failures and failures[0][0] == "alicloud:assumeRoleWithOidc.oidcTokenFile"
    assert "cannot read the OIDC token file" in failures[0][1]


def test_an_unknown_profile_mode_is_refused_at_preview(tmp_path):
    path = write_profiles(tmp_path, [{"name": "p", "mode": "Bogus"}])
    failures = check_credential_config(
        {"alicloud:profile": "p", "alicloud:sharedCredentialsFile": str(path)}
    )
    assert [k for k, _ in failures] == ["alicloud:profile"]
    assert "'Bogus'" in failures[0][1]


def test_missing_credentials_do_not_fail_a_preview(tmp_path):
    assert check_credential_config({}) == []
    assert check_credential_config({"alicloud:assumeRole": {}}) == []  # roleArn may come from env
    assert check_credential_config({"alicloud:assumeRoleWithOidc": {}}) == []
    assert check_credential_config({"alicloud:profile": "nope"}) == []  # no file in preview
    path = write_profiles(tmp_path, [{"name": "p", "mode": "AK"}])
    assert (
        check_credential_config(
            {"alicloud:profile": "p", "alicloud:sharedCredentialsFile": str(path)}
        )
        == []
    )


# --- the profile file's current profile, at preview -----------------------------------------------


BOGUS_MODE = {"name": "cur", "mode": "CredentialsURI"}
LOOP = [
    {"name": "cur", "mode": "ChainableRamRoleArn", "source_profile": "b", "ram_role_arn": ROLE_ARN},
    {"name": "b", "mode": "ChainableRamRoleArn", "source_profile": "cur", "ram_role_arn": ROLE_ARN},
]


def home_with_profiles(tmp_path, content):
    """A HOME whose ~/.aliyun/config.json is ``content`` (a profile list, or raw text)."""
    home = tmp_path / "home"
    (home / ".aliyun").mkdir(parents=True)
    path = home / ".aliyun" / "config.json"
    if not isinstance(content, str):
        content = json.dumps({"current": "cur", "profiles": content})
    path.write_text(content)
    return {"HOME": str(home)}, path


@pytest.mark.parametrize(
    ("content", "key", "words"),
    [
        ([BOGUS_MODE], "alicloud:profile", "uses mode 'CredentialsURI'"),
        (LOOP, "alicloud:profile", "source_profile 'cur' loops back (cur -> b -> cur)"),
        ("{not json", "alicloud:sharedCredentialsFile", "cannot read profile file"),
        ('{"current": "cur"}', "alicloud:sharedCredentialsFile", "has no 'profiles' list"),
    ],
    ids=["unknown-mode", "loop", "not-json", "no-profiles-list"],
)
def test_the_current_profile_is_checked_at_preview_as_run_time_reads_it(
    tmp_path, content, key, words
):
    environ, path = home_with_profiles(tmp_path, content)
    failures = check_credential_config({}, environ)
    assert [k for k, _ in failures] == [key]
    reason = failures[0][1]
    assert words in reason and str(path) in reason
    assert "current" in reason and "alicloud:" in reason  # why it is used, what to set
    with pytest.raises(CredentialsError) as excinfo:  # run time: the same key, the same words
        resolve_settings({}, environ)
    assert (excinfo.value.key, str(excinfo.value)) == (key, reason)


@pytest.mark.parametrize("where", ["stack config", "environment"])
def test_the_current_profile_is_checked_in_the_file_run_time_would_read(tmp_path, where):
    path = write_profiles(tmp_path, [BOGUS_MODE], current="cur")
    environ = {"HOME": str(tmp_path / "empty-home")}  # no ~/.aliyun/config.json there
    if where == "stack config":
        config = {"alicloud:sharedCredentialsFile": str(path)}
    else:
        config, environ = {}, {**environ, "ALIBABA_CLOUD_CREDENTIALS_FILE": str(path)}
    failures = check_credential_config(config, environ)
    assert [k for k, _ in failures] == ["alicloud:profile"]
    assert f"profile 'cur' in {str(path)!r} uses mode 'CredentialsURI'" in failures[0][1]
    with pytest.raises(CredentialsError, match="CredentialsURI"):
        resolve_settings(config, environ)


def test_the_current_profile_is_checked_with_the_preview_processes_environment(
    tmp_path, monkeypatch
):
    """What inputs.check_stack_config does: no environ given, so os.environ decides."""
    environ, _ = home_with_profiles(tmp_path, [BOGUS_MODE])
    for name in ("ALICLOUD_SHARED_CREDENTIALS_FILE", "ALIBABA_CLOUD_CREDENTIALS_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", environ["HOME"])
    assert [k for k, _ in check_credential_config({})] == ["alicloud:profile"]
    monkeypatch.setenv("ALICLOUD_ACCESS_KEY", "env-key")  # run time would not read the file
    assert check_credential_config({}) == []


TOKEN_FILE_OIDC = {
    "alicloud:assumeRoleWithOidc": {
        "oidcProviderArn": OIDC_PROVIDER_ARN,
        "roleArn": ROLE_ARN,
        "oidcToken": OIDC_TOKEN,
    }
}


@pytest.mark.parametrize(
    ("config", "env"),
    [
        (KEYS, {}),
        ({"alicloud:accessKey": BASE_KEY_ID}, {}),  # half a pair: run time stops there
        ({"alicloud:secretKey": BASE_SECRET}, {}),
        ({"alicloud:ecsRoleName": "ecs-role"}, {}),
        (TOKEN_FILE_OIDC, {}),
        ({"alicloud:assumeRoleWithOidc": {}}, {}),  # its fields may come from the deploy job
        ({}, {"ALICLOUD_ACCESS_KEY": BASE_KEY_ID, "ALICLOUD_SECRET_KEY": BASE_SECRET}),
        ({}, {"ALIBABA_CLOUD_ACCESS_KEY_SECRET": BASE_SECRET}),
        ({}, {"ALICLOUD_ECS_ROLE_NAME": "ecs-role"}),
        ({}, {"ALICLOUD_PROFILE": "good"}),
        (
            {},
            {
                "ALIBABA_CLOUD_ROLE_ARN": ROLE_ARN,
                "ALIBABA_CLOUD_OIDC_PROVIDER_ARN": OIDC_PROVIDER_ARN,
                "ALIBABA_CLOUD_OIDC_TOKEN_FILE": "token",  # made a real file below
            },
        ),
    ],
)
def test_the_current_profile_is_not_checked_when_a_source_above_it_is_set(
    tmp_path, token_file, config, env
):
    if "ALIBABA_CLOUD_OIDC_TOKEN_FILE" in env:
        env = {**env, "ALIBABA_CLOUD_OIDC_TOKEN_FILE": str(token_file)}
    good = {"name": "good", "mode": "AK", "access_key_id": "k", "access_key_secret": "s"}
    environ, _ = home_with_profiles(tmp_path, [BOGUS_MODE, good])
    assert check_credential_config(config, {**environ, **env}) == []
    bad_file, _ = home_with_profiles(tmp_path / "other", "{not json")
    assert check_credential_config(config, {**bad_file, **env}) == []


def test_a_named_profile_in_stack_config_is_checked_instead_of_the_current_one(tmp_path):
    good = {"name": "good", "mode": "AK", "access_key_id": "k", "access_key_secret": "s"}
    environ, _ = home_with_profiles(tmp_path, [BOGUS_MODE, good])
    assert check_credential_config({"alicloud:profile": "good"}, environ) == []
    resolve_settings({"alicloud:profile": "good"}, environ)  # run time agrees


@pytest.mark.parametrize(
    "content",
    [
        None,  # no file
        '{"profiles": []}',  # no current profile
        '{"current": "gone", "profiles": [{"name": "other", "mode": "Bogus"}]}',
        [{"name": "cur", "mode": "AK"}],  # a current profile without its keys
        [{"name": "cur", "mode": "ChainableRamRoleArn", "ram_role_arn": ROLE_ARN}],
    ],
    ids=["no-file", "no-current", "current-not-found", "no-keys", "no-source-profile"],
)
def test_a_current_profile_that_only_lacks_credentials_does_not_fail_a_preview(tmp_path, content):
    if content is None:
        environ = {"HOME": str(tmp_path)}
    else:
        environ, _ = home_with_profiles(tmp_path, content)
    assert check_credential_config({}, environ) == []
    with pytest.raises(CredentialsError) as excinfo:
        resolve_settings({}, environ)
    assert excinfo.value.missing  # run time says what is missing


# --- the source_profile chain's depth -------------------------------------------------------------


def chain_of(count, *, end=None):
    """Profiles p1 -> p2 -> ... -> p<count>: ChainableRamRoleArn links, the last an AccessKey
    (or, with ``end``, a link to that profile)."""
    profiles = [
        {
            "name": f"p{i}",
            "mode": "ChainableRamRoleArn",
            "source_profile": f"p{i + 1}",
            "ram_role_arn": ROLE_ARN,
        }
        for i in range(1, count)
    ]
    last = {"name": f"p{count}", "mode": "AK", "access_key_id": "k", "access_key_secret": "s"}
    if end is not None:
        last = {**profiles[0], "name": f"p{count}", "source_profile": end}
    return [*profiles, last]


@pytest.fixture
def assume_role_calls(monkeypatch):
    """Every AssumeRole the providers make, answered without a network."""
    from restart_trigger.aliyun import sts

    calls = []

    def fake_assume_role(session, endpoint, base, *, role_arn, **kwargs):
        calls.append((base.access_key_id, role_arn))
        n = len(calls)
        return sts.Issued(f"STS.k{n}", f"secret-{n}-0123456789", f"token-{n}", 4e9)

    monkeypatch.setattr(sts, "assume_role", fake_assume_role)
    return calls


def test_a_chain_of_max_chain_depth_profiles_is_accepted(tmp_path, assume_role_calls):
    assert MAX_CHAIN_DEPTH == 10
    path = write_profiles(tmp_path, chain_of(MAX_CHAIN_DEPTH), current="p1")
    named = {"alicloud:profile": "p1", "alicloud:sharedCredentialsFile": str(path)}
    assert check_credential_config(named, {}) == []
    assert check_credential_config({"alicloud:sharedCredentialsFile": str(path)}, {}) == []
    provider = resolve_settings(named, {}).credentials
    assert provider.current().access_key_id == f"STS.k{MAX_CHAIN_DEPTH - 1}"
    assert len(assume_role_calls) == MAX_CHAIN_DEPTH - 1  # one per link
    assert assume_role_calls[0][0] == "k"  # the end of the chain signed the first


@pytest.mark.parametrize("count", [MAX_CHAIN_DEPTH + 1, 200])
@pytest.mark.parametrize("selected", ["named", "current"])
def test_a_longer_chain_is_refused_at_preview_and_before_any_assume_role(
    tmp_path, assume_role_calls, count, selected
):
    path = write_profiles(tmp_path, chain_of(count), current="p1")
    config = {"alicloud:sharedCredentialsFile": str(path)}
    if selected == "named":
        config["alicloud:profile"] = "p1"
    failures = check_credential_config(config, {})
    assert [k for k, _ in failures] == ["alicloud:profile"]
    reason = failures[0][1]
    assert f"profile 'p1' in {str(path)!r}" in reason
    assert f"chain is {count} profiles deep" in reason
    assert f"more than the {MAX_CHAIN_DEPTH} restart-trigger follows (MAX_CHAIN_DEPTH" in reason
    with pytest.raises(CredentialsError) as excinfo:
        resolve_settings(config, {})
    assert (excinfo.value.key, str(excinfo.value)) == ("alicloud:profile", reason)
    assert assume_role_calls == []


@pytest.mark.parametrize(("count", "back_to"), [(3, "p1"), (15, "p3"), (300, "p1")])
def test_a_loop_is_reported_as_a_loop_however_long(tmp_path, assume_role_calls, count, back_to):
    path = write_profiles(tmp_path, chain_of(count, end=back_to))
    config = {"alicloud:profile": "p1", "alicloud:sharedCredentialsFile": str(path)}
    failures = check_credential_config(config, {})
    assert [k for k, _ in failures] == ["alicloud:profile"]
    reason = failures[0][1]
    assert f"profile 'p{count}' (ChainableRamRoleArn)" in reason
    assert f"source_profile {back_to!r} loops back" in reason and "deep" not in reason
    with pytest.raises(CredentialsError, match="loops back"):
        resolve_settings(config, {})
    assert assume_role_calls == []

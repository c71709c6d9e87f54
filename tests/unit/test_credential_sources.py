"""Each credential source: what the resolver builds for it, in pulumi-alicloud's precedence, and
what goes on the wire (AssumeRole signed, AssumeRoleWithOIDC anonymous, metadata token first)."""

from __future__ import annotations

import json
import pickle

import pytest

from restart_trigger.aliyun import Credentials, CredentialsError, resolve_settings
from restart_trigger.aliyun.auth import rpc_signature, rpc_string_to_sign
from restart_trigger.aliyun.credentials import (
    CONFIG_KEYS,
    MAX_CHAIN_DEPTH,
    check_credential_config,
    clear_provider_cache,
)
from restart_trigger.aliyun.sources import (
    AssumeRoleProvider,
    EcsRoleProvider,
    OidcProvider,
)
from tests.unit.fakes import FakeTime
from tests.unit.sts_fakes import (
    BASE_KEY_ID,
    BASE_SECRET,
    OIDC_PROVIDER_ARN,
    OIDC_TOKEN,
    ROLE_ARN,
    FakeSts,
    sdk_core_string_to_sign,
    sts_session,
)

KEYS = {"alicloud:accessKey": BASE_KEY_ID, "alicloud:secretKey": BASE_SECRET}
OTHER_ROLE = "acs:ram::1234567890123456:role/other"


@pytest.fixture(autouse=True)
def fresh_cache():
    clear_provider_cache()
    yield
    clear_provider_cache()


@pytest.fixture
def no_profile(tmp_path):
    return tmp_path / "missing-config.json"


@pytest.fixture
def token_file(tmp_path):
    path = tmp_path / "token"
    path.write_text(OIDC_TOKEN + "\n")
    return path


def write_profiles(tmp_path, profiles, current=None):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"current": current, "profiles": profiles}))
    return path


# --- the RPC signature, against two independent implementations ---------------------------


def test_rpc_string_to_sign_matches_aliyun_sdk_core_including_spaces_and_reserved_chars():
    params = {
        "Action": "AssumeRole",
        "RoleArn": ROLE_ARN,
        "Policy": '{"Statement": [{"Action": "*", "Effect": "Allow"}], "Version": "1"}',
        "RoleSessionName": "a~b_c.d-e@f",
        "Timestamp": "2024-01-02T03:04:05Z",
    }
    assert rpc_string_to_sign("POST", params) == sdk_core_string_to_sign("POST", params)


def test_rpc_signature_matches_alibabacloud_credentials():
    ph = pytest.importorskip("alibabacloud_credentials.utils.parameter_helper")
    params = {"Action": "AssumeRole", "RoleArn": ROLE_ARN, "Timestamp": "2024-01-02T03:04:05Z"}
    to_sign = ph.compose_string_to_sign("POST", params)  # no spaces: it encodes them as '+'
    assert to_sign == rpc_string_to_sign("POST", params)
    assert ph.sign_string(to_sign, BASE_SECRET + "&") == rpc_signature(BASE_SECRET, to_sign)


# --- what the resolver builds ---------------------------------------------------------------


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


# --- bad input, named by its key --------------------------------------------------------------


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


# --- the profile file's current profile, at preview -------------------------------------------

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


# --- the source_profile chain's depth ---------------------------------------------------------


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


def test_every_new_key_is_in_config_keys():
    for key in ("alicloud:assumeRole", "alicloud:assumeRoleWithOidc", "alicloud:ecsRoleName"):
        assert key in CONFIG_KEYS


# --- the wire ------------------------------------------------------------------------------


def test_assume_role_is_signed_with_the_base_keys_and_sends_its_fields_in_a_form():
    fake = FakeSts(FakeTime().clock)
    provider = AssumeRoleProvider(
        Credentials(BASE_KEY_ID, BASE_SECRET),
        role_arn=ROLE_ARN,
        session_name="ci",
        duration=900,
        policy='{"Version": "1", "Statement": []}',
        external_id="ext",
        sts_endpoint="https://sts.example.test",
        session=sts_session(fake),
    )
    creds = provider.current()
    assert (
        creds.access_key_id == "STS.ar-key-1"
        and creds.security_token == "ar-temp-token-1-ghijklmnop"
    )
    form = fake.forms[0]
    assert form["Action"] == "AssumeRole" and form["Version"] == "2015-04-01"
    assert (form["RoleArn"], form["RoleSessionName"], form["DurationSeconds"]) == (
        ROLE_ARN,
        "ci",
        "900",
    )
    assert (form["ExternalId"], form["AccessKeyId"]) == ("ext", BASE_KEY_ID)
    assert fake.requests[0].url == "https://sts.example.test/"


def test_assume_role_on_temporary_base_keys_sends_their_token():
    fake = FakeSts(FakeTime().clock)
    fake.secrets["STS.base"] = "base-temp-secret"
    provider = AssumeRoleProvider(
        Credentials("STS.base", "base-temp-secret", "base-temp-token"),
        role_arn=ROLE_ARN,
        session_name="ci",
        duration=900,
        sts_endpoint="https://sts.example.test",
        session=sts_session(fake),
    )
    provider.current()
    assert fake.forms[0]["SecurityToken"] == "base-temp-token"


def test_oidc_reads_the_token_file_at_every_refresh_and_sends_no_signature(tmp_path):
    clock = FakeTime()
    fake = FakeSts(clock.clock, lifetime=900)
    token = tmp_path / "token"
    token.write_text("first-token-value")
    provider = OidcProvider(
        role_arn=ROLE_ARN,
        oidc_provider_arn=OIDC_PROVIDER_ARN,
        token_file=str(token),
        session_name="gha",
        duration=900,
        sts_endpoint="https://sts.example.test",
        session=sts_session(fake),
        clock=clock.clock,
        sleep=clock.sleep,
    )
    provider.current()
    token.write_text("second-token-value")  # the CI rotated it
    clock.now += 900
    provider.current()
    assert [f["OIDCToken"] for f in fake.forms] == ["first-token-value", "second-token-value"]
    assert fake.forms[0]["OIDCProviderArn"] == OIDC_PROVIDER_ARN


def test_ecs_role_asks_for_a_metadata_token_first():
    fake = FakeSts(FakeTime().clock)
    provider = EcsRoleProvider(
        "ecs-role", endpoint="http://127.0.0.1:8100", session=sts_session(fake)
    )
    creds = provider.current()
    assert creds.access_key_id == "STS.ecs-key-1"
    assert [(r.method, r.url) for r in fake.requests] == [
        ("PUT", "http://127.0.0.1:8100/latest/api/token"),
        ("GET", "http://127.0.0.1:8100/latest/meta-data/ram/security-credentials/ecs-role"),
    ]
    assert fake.requests[1].headers["X-aliyun-ecs-metadata-token"] == "metadata-token-1-xyz"


def test_providers_refuse_to_be_pickled_and_repr_names_only_the_source(no_profile):
    provider = resolve_settings(
        {**KEYS, "alicloud:assumeRole": {"roleArn": ROLE_ARN}}, {}, no_profile
    ).credentials
    with pytest.raises(TypeError, match="never pickled"):
        pickle.dumps(provider)
    assert repr(provider) == f"AssumeRoleProvider(source='alicloud:assumeRole (role {ROLE_ARN})')"
    assert BASE_SECRET not in repr(provider)


def test_the_pickled_dynamic_provider_carries_no_credentials(no_profile):
    dill = pytest.importorskip("dill")
    from restart_trigger.provider import RestartTriggerProvider

    resolved = resolve_settings(
        {**KEYS, "alicloud:assumeRole": {"roleArn": ROLE_ARN}}, {}, no_profile
    )
    assert resolved.credentials is not None
    blob = dill.dumps(RestartTriggerProvider(), recurse=True)
    assert BASE_SECRET.encode() not in blob and BASE_KEY_ID.encode() not in blob

"""The plugin's configuration: the schema's keys are the credential chain's settings, secrets
go back as secrets, and failures use this package's names."""

import json
from pathlib import Path

from restart_trigger.plugin import config

SCHEMA = json.loads(
    (Path(__file__).parents[2] / "providers/restart_trigger/plugin/schema.json").read_text()
)


def test_the_keys_are_the_schemas_config_and_provider_inputs():
    assert set(config.KEYS) == set(SCHEMA["config"]["variables"])
    assert set(config.KEYS) == set(SCHEMA["provider"]["inputProperties"])


def test_the_secrets_are_the_schemas_secrets():
    secret = {k for k, v in SCHEMA["config"]["variables"].items() if v.get("secret")}
    assert {p[0] for p in config.SECRET_PATHS if len(p) == 1} == secret
    oidc = SCHEMA["types"]["alirestart:index:AssumeRoleWithOidc"]["properties"]
    assert {p[1] for p in config.SECRET_PATHS if len(p) == 2} == {
        k for k, v in oidc.items() if v.get("secret")
    }


def test_settings_are_read_as_the_alicloud_keys_numbers_as_integers():
    got = config.stack_config_of(
        {"region": "cn-hangzhou", "assumeRole": {"roleArn": "r", "sessionExpiration": 3600.0}}
    )
    assert got == {
        "alicloud:region": "cn-hangzhou",
        "alicloud:assumeRole": {"roleArn": "r", "sessionExpiration": 3600},
    }


def test_an_oidc_token_is_a_secret_however_the_object_comes():
    token = {"oidcToken": "t", "roleArn": "r"}
    assert config.secret_paths({"assumeRoleWithOidc": token}) == {
        ("assumeRoleWithOidc", "oidcToken")
    }
    assert config.secret_paths({"assumeRoleWithOidc": json.dumps(token)}) == {
        ("assumeRoleWithOidc",)
    }
    assert config.secret_paths({"assumeRoleWithOidc": [token]}) == {
        ("assumeRoleWithOidc", 0, "oidcToken")
    }
    assert config.secret_paths({"accessKey": "", "secretKey": "s"}) == {("secretKey",)}


def test_failures_name_this_packages_keys():
    failures = dict(config.check_config({"region": "Not A Region"}))
    assert "region" in failures
    assert "alicloud:" not in failures["region"]


def test_unknown_keys_are_named_and_the_engines_own_ignored():
    assert config.unknown_keys({"regoin": "x", "version": "0.3.0", "region": "y"}) == ["regoin"]

"""restart_trigger.aliyun.settings: ``CONFIG_KEYS``, what the provider passes on from the
engine's config, is every documented alicloud setting, each once."""

from __future__ import annotations

from restart_trigger.aliyun import CONFIG_KEYS


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


def test_every_new_key_is_in_config_keys():
    for key in ("alicloud:assumeRole", "alicloud:assumeRoleWithOidc", "alicloud:ecsRoleName"):
        assert key in CONFIG_KEYS

"""restart_trigger.aliyun.credential_types: a key pair (``Credentials``) shows neither its secret
nor its token."""

from __future__ import annotations

from restart_trigger.aliyun import Credentials
from restart_trigger.aliyun.credentials import ResolvedSettings

KEY_ID = "test-access-key-id"
SECRET = "test-secret-value-0123456789"
TOKEN = "test-sts-token-abcdefghijklmnop"


def test_repr_and_str_mask_the_secret_and_the_token():
    creds = Credentials(KEY_ID, SECRET, TOKEN)
    for text in (repr(creds), str(creds), f"{creds}", repr(ResolvedSettings(creds, "cn-hangzhou"))):
        assert SECRET not in text
        assert TOKEN not in text
    assert "****" in repr(creds)

"""STS, the ECS metadata service and HTTPS: the official clients against the emulator.

* alibabacloud-sts20150401 calls AssumeRole (V3 by default, the RPC signature with
  ``signature_algorithm='v2'``) and AssumeRoleWithOIDC (anonymous), over HTTPS and HTTP;
* alibabacloud-credentials' providers (RAM role ARN, OIDC with a token file, ECS RAM role)
  fetch credentials over HTTPS (``sts_endpoint``) and from the emulated metadata service
  (reached the only way the provider allows: as its HTTP proxy);
* the temporary keys are accepted by EDAS, Web+ and SAE in every scheme until they expire, and
  refused after with ``InvalidSecurityToken.Expired``. Expiry is shown by advancing the
  emulator's clock, never by racing a short lifetime.
"""

from __future__ import annotations

import calendar
import http.client
import json
import os
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from testbed.emulator import (
    TEST_ACCESS_KEY_ID,
    TEST_ACCESS_KEY_SECRET,
    TEST_ACCOUNT_ID,
    TEST_APP_ID,
    TEST_ECS_ROLE_NAME,
    TEST_ENV_ID,
    TEST_OIDC_PROVIDER_ARN,
    TEST_REGION,
    TEST_ROLE_ARN,
    TEST_SAE_APP_ID,
    TEST_SEED,
    TEST_STS_ACCESS_KEY_ID,
    TEST_STS_ACCESS_KEY_SECRET,
    TEST_STS_TOKEN,
    EmulatorProcess,
    make_oidc_token,
)

pytestmark = pytest.mark.sdk

OTHER_ACCOUNT_ROLE = "acs:ram::1000000000000099:role/other-account-role"
EXTERNAL_ID_ROLE = f"acs:ram::{TEST_ACCOUNT_ID}:role/needs-external-id"
UNTRUSTING_ROLE = f"acs:ram::{TEST_ACCOUNT_ID}:role/no-oidc"
EXTRA_ROLES = {
    "ram_roles": [
        {"arn": OTHER_ACCOUNT_ROLE},
        {"arn": EXTERNAL_ID_ROLE, "external_id": "abc-external-123"},
        {"arn": UNTRUSTING_ROLE, "trusted_oidc_provider_arns": []},
    ]
}
METADATA_TOKEN = "X-aliyun-ecs-metadata-token"
METADATA_TTL = "X-aliyun-ecs-metadata-token-ttl-seconds"
CREDENTIALS_PATH = "/latest/meta-data/ram/security-credentials/"


@dataclass(frozen=True)
class Temp:
    """Temporary credentials as STS or the metadata service issued them."""

    access_key_id: str
    access_key_secret: str
    security_token: str | None
    expiration: str = ""


# ----------------------------------------------------------------------------------------------
# Fixtures and helpers
# ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def _tls_process() -> Iterator[EmulatorProcess]:
    with EmulatorProcess(tls=True, imds=True) as emu:
        yield emu


@pytest.fixture
def secure(_tls_process: EmulatorProcess, monkeypatch) -> EmulatorProcess:
    """An HTTPS emulator with a metadata listener, freshly seeded; this process trusts its CA
    through ``SSL_CERT_FILE`` (what the official clients' TLS contexts load)."""
    emu = _tls_process
    emu.reset()
    emu.clear_faults()
    emu.clear_journal()
    emu.seed(TEST_SEED)
    for name, value in emu.client_env().items():
        monkeypatch.setenv(name, value)
    return emu


def sts_client(
    host: str,
    access_key_id: str | None = TEST_ACCESS_KEY_ID,
    access_key_secret: str | None = TEST_ACCESS_KEY_SECRET,
    security_token: str | None = None,
    v2: bool = False,
    https: bool = True,
) -> Any:
    """alibabacloud-sts20150401 pointed at ``host`` (its endpoint setting, nothing patched)."""
    from alibabacloud_sts20150401.client import Client
    from alibabacloud_tea_openapi.models import Config

    return Client(
        Config(
            access_key_id=access_key_id,
            access_key_secret=access_key_secret,
            security_token=security_token,
            endpoint=host,
            protocol=None if https else "http",
            signature_algorithm="v2" if v2 else None,
            read_timeout=30000,
            connect_timeout=5000,
        )
    )


def assume(host: str, role_arn: str = TEST_ROLE_ARN, https: bool = False, **kwargs: Any) -> Temp:
    """AssumeRole through alibabacloud-sts20150401; the issued credentials."""
    from alibabacloud_sts20150401 import models

    v2 = kwargs.pop("v2", False)
    request = models.AssumeRoleRequest(
        role_arn=role_arn, role_session_name=kwargs.pop("session", "pytest-session"), **kwargs
    )
    body = sts_client(host, v2=v2, https=https).assume_role(request).body
    creds = body.credentials
    return Temp(
        creds.access_key_id, creds.access_key_secret, creds.security_token, creds.expiration
    )


def assume_oidc(host: str, token: str, https: bool = False, **kwargs: Any) -> Any:
    """AssumeRoleWithOIDC through alibabacloud-sts20150401 (anonymous); the response body."""
    from alibabacloud_sts20150401 import models

    request = models.AssumeRoleWithOIDCRequest(
        role_arn=kwargs.pop("role_arn", TEST_ROLE_ARN),
        oidcprovider_arn=kwargs.pop("provider_arn", TEST_OIDC_PROVIDER_ARN),
        oidctoken=token,
        role_session_name=kwargs.pop("session", "ci-job-1"),
        **kwargs,
    )
    client = sts_client(host, access_key_id=None, access_key_secret=None, https=https)
    return client.assume_role_with_oidc(request).body


def refusal(call: Any) -> tuple[int | None, str]:
    """Run an SDK call that must fail; its (HTTP status, error code)."""
    from alibabacloud_tea_openapi.exceptions import AlibabaCloudException

    with pytest.raises(AlibabaCloudException) as caught:
        call()
    return getattr(caught.value, "status_code", None), caught.value.code


def product_ok(sdk: Any, product: str, flavour: str, creds: Any) -> None:
    """A status call of ``product`` signed with ``creds`` in ``flavour`` succeeds."""
    if product == "edas":
        assert sdk.call(flavour, "ListRecentChangeOrder", creds, AppId=TEST_APP_ID)["Code"] == 200
    elif product == "webplus":
        assert sdk.call(flavour, "DescribeAppEnvStatus", creds, EnvId=TEST_ENV_ID)["Code"] == "OK"
    else:
        body = sdk.sae(flavour, "ListChangeOrders", creds, AppId=TEST_SAE_APP_ID)
        assert body["Success"] is True


def product_refusal(sdk: Any, product: str, flavour: str, creds: Any) -> tuple[Any, str]:
    """The (status, code) of a status call that must be refused."""
    with pytest.raises(Exception) as caught:  # noqa: PT011 - the SDK error is normalised
        product_ok(sdk, product, flavour, creds)
    return getattr(caught.value, "status", None), getattr(caught.value, "code", repr(caught.value))


def raw(
    base_url: str, method: str, path: str, headers: dict[str, str] | None = None
) -> tuple[int, str]:
    """A plain-HTTP request; (status, body text)."""
    host = base_url.split("//", 1)[1]
    ip, port = host.rsplit(":", 1)
    conn = http.client.HTTPConnection(ip, int(port), timeout=30)
    try:
        conn.request(method, path, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.read().decode("utf-8")
    finally:
        conn.close()


def metadata_token(base_url: str, ttl: int = 60) -> str:
    status, body = raw(base_url, "PUT", "/latest/api/token", {METADATA_TTL: str(ttl)})
    assert status == 200, body
    return body


def secrets_of(*creds: Temp) -> list[str]:
    return [s for c in creds for s in (c.access_key_secret, c.security_token) if s]


# ----------------------------------------------------------------------------------------------
# AssumeRole: alibabacloud-sts20150401, both signatures, HTTPS and HTTP
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("v2", [False, True], ids=["v3", "rpc"])
def test_sts_sdk_assume_role_over_https(secure, v2):
    temp = assume(secure.host, https=True, v2=v2, duration_seconds=900)
    assert temp.access_key_id.startswith("STS.")
    assert temp.access_key_secret and temp.security_token
    expires = calendar.timegm(time.strptime(temp.expiration, "%Y-%m-%dT%H:%M:%SZ"))
    assert 800 < expires - time.time() <= 900

    (entry,) = secure.journal()
    assert entry["product"] == "sts" and entry["action"] == "AssumeRole"
    assert entry["signature"] == ("rpc" if v2 else "v3")
    assert entry["status"] == 200 and entry["access_key_id"] == TEST_ACCESS_KEY_ID
    assert entry["role_arn"] == TEST_ROLE_ARN and entry["role_session_name"] == "pytest-session"
    assert entry["issued_access_key_id"] == temp.access_key_id
    text = json.dumps(secure.journal()) + json.dumps(secure.state())
    assert all(secret not in text for secret in secrets_of(temp))


def test_assume_role_answer_has_the_documented_shape(emulator):
    from alibabacloud_sts20150401 import models

    request = models.AssumeRoleRequest(
        role_arn=TEST_ROLE_ARN, role_session_name="alice", source_identity="alice@example"
    )
    body = sts_client(emulator.host, https=False).assume_role(request).body.to_map()
    assert set(body) == {"RequestId", "Credentials", "AssumedRoleUser", "SourceIdentity"}
    assert set(body["Credentials"]) == {
        "AccessKeyId",
        "AccessKeySecret",
        "SecurityToken",
        "Expiration",
    }
    assert body["AssumedRoleUser"]["Arn"] == TEST_ROLE_ARN + "/alice"
    assert body["AssumedRoleUser"]["AssumedRoleId"].endswith(":alice")
    assert body["SourceIdentity"] == "alice@example"


def test_role_chaining_with_temporary_keys(emulator):
    """AssumeRole signed by STS keys (ChainableRamRoleArn): the token travels as
    ``SecurityToken`` (RPC) or ``x-acs-security-token`` (V3)."""
    from alibabacloud_sts20150401 import models

    first = assume(emulator.host)
    for v2 in (False, True):
        client = sts_client(
            emulator.host,
            first.access_key_id,
            first.access_key_secret,
            first.security_token,
            v2=v2,
            https=False,
        )
        request = models.AssumeRoleRequest(role_arn=TEST_ROLE_ARN, role_session_name="chained")
        assert client.assume_role(request).body.credentials.access_key_id.startswith("STS.")


@pytest.mark.parametrize(
    ("kwargs", "status", "code"),
    [
        ({"role_arn": "acs:ram::1000000000000042:user/alice"}, 400, "InvalidParameter.RoleArn"),
        ({"role_arn": "restart-trigger-deployer"}, 400, "InvalidParameter.RoleArn"),
        ({"role_arn": f"acs:ram::{TEST_ACCOUNT_ID}:role/absent"}, 404, "EntityNotExist.Role"),
        ({"role_arn": OTHER_ACCOUNT_ROLE}, 403, "NoPermission"),
        ({"role_arn": EXTERNAL_ID_ROLE}, 403, "NoPermission"),
        ({"role_arn": EXTERNAL_ID_ROLE, "external_id": "wrong-id"}, 403, "NoPermission"),
        ({"session": "a"}, 400, "InvalidParameter.RoleSessionName"),
        ({"session": "has space"}, 400, "InvalidParameter.RoleSessionName"),
        ({"duration_seconds": 899}, 400, "InvalidParameter.DurationSeconds"),
        ({"duration_seconds": 3601}, 400, "InvalidParameter.DurationSeconds"),
        ({"policy": "not a policy"}, 400, "InvalidParameter.PolicyGrammar"),
        (
            {"policy": '{"Version":"1","Statement":[' + "{}," * 800 + "{}]}"},
            400,
            "InvalidParameter.PolicySize",
        ),
    ],
)
@pytest.mark.parametrize("v2", [False, True], ids=["v3", "rpc"])
def test_assume_role_refusals(emulator, v2, kwargs, status, code):
    emulator.seed(EXTRA_ROLES)
    kwargs = dict(kwargs)  # the parameter set is shared by both signature ids
    role_arn = kwargs.pop("role_arn", TEST_ROLE_ARN)
    assert refusal(lambda: assume(emulator.host, role_arn, v2=v2, **kwargs)) == (status, code)
    (entry,) = emulator.journal()
    assert entry["status"] == status and entry["code"] == code
    assert entry["issued_access_key_id"] is None
    assert not [a for a in emulator.state()["accounts"] if a["issued_by"]]


def test_external_id_and_policy_accepted(emulator):
    emulator.seed(EXTRA_ROLES)
    policy = json.dumps({"Version": "1", "Statement": [{"Effect": "Allow", "Action": ["*"]}]})
    temp = assume(emulator.host, EXTERNAL_ID_ROLE, external_id="abc-external-123", policy=policy)
    assert temp.access_key_id.startswith("STS.")
    # The RPC signature over a policy with spaces (percent-encoded %20).
    assert assume(emulator.host, policy=policy, v2=True).access_key_id.startswith("STS.")


@pytest.mark.parametrize("v2", [False, True], ids=["v3", "rpc"])
def test_assume_role_signature_checks(emulator, v2):
    from alibabacloud_sts20150401 import models

    request = models.AssumeRoleRequest(role_arn=TEST_ROLE_ARN, role_session_name="x1")
    wrong = sts_client(emulator.host, TEST_ACCESS_KEY_ID, "wrong-secret", v2=v2, https=False)
    assert refusal(lambda: wrong.assume_role(request)) == (400, "SignatureDoesNotMatch")
    unknown = sts_client(emulator.host, "no-such-key", "x", v2=v2, https=False)
    assert refusal(lambda: unknown.assume_role(request)) == (404, "InvalidAccessKeyId.NotFound")
    tokenless = sts_client(
        emulator.host, TEST_STS_ACCESS_KEY_ID, TEST_STS_ACCESS_KEY_SECRET, v2=v2, https=False
    )
    assert refusal(lambda: tokenless.assume_role(request)) == (400, "MissingSecurityToken")
    mismatched = sts_client(
        emulator.host,
        TEST_STS_ACCESS_KEY_ID,
        TEST_STS_ACCESS_KEY_SECRET,
        TEST_STS_TOKEN + "x",
        v2=v2,
        https=False,
    )
    assert refusal(lambda: mismatched.assume_role(request)) == (
        400,
        "InvalidSecurityToken.MismatchWithAccessKey",
    )


def test_rpc_signature_replay_and_tampering(emulator, capture_server):
    """A captured RPC-signed AssumeRole is accepted once; its nonce cannot be reused, and a
    changed parameter breaks the signature."""
    from alibabacloud_sts20150401 import models

    capture_server.captured.clear()
    request = models.AssumeRoleRequest(role_arn=TEST_ROLE_ARN, role_session_name="replayed")
    sts_client(capture_server.host, v2=True, https=False).assume_role(request)
    (captured,) = capture_server.captured
    assert "Signature=" in captured.target and "SignatureNonce=" in captured.target

    status, _, body = captured.send(emulator.host)
    assert status == 200 and body["Credentials"]["AccessKeyId"].startswith("STS.")
    status, _, body = captured.send(emulator.host)
    assert (status, body["Code"]) == (400, "SignatureNonceUsed")
    tampered = captured.with_target(captured.target.replace("replayed", "tampered"))
    status, _, body = tampered.send(emulator.host)
    assert (status, body["Code"]) == (400, "SignatureDoesNotMatch")
    assert body["Message"].startswith("Specified signature is not matched with our calculation.")


@pytest.mark.parametrize(
    ("query", "status", "code"),
    [
        ("Version=2015-04-01&RoleArn=x", 400, "MissingParameter"),
        ("Action=GetCallerIdentity&Version=2015-04-01", 404, "InvalidAction.NotFound"),
        ("Action=AssumeRole&Version=2019-01-01", 400, "InvalidVersion"),
        ("Action=AssumeRole", 400, "MissingParameter"),
        (
            f"Action=AssumeRole&Version=2015-04-01&RoleArn={TEST_ROLE_ARN}&RoleSessionName=ab",
            400,
            "IncompleteSignature",
        ),
    ],
)
def test_sts_route_and_unsigned_requests(emulator, query, status, code):
    got_status, body = raw(emulator.base_url, "POST", "/?" + query)
    assert (got_status, json.loads(body)["Code"]) == (status, code)


def test_sts_faults_only_when_named(emulator, sdk, creds_named):
    emulator.set_faults({"actions": ["AssumeRole"], "error_count": 1})
    assert refusal(lambda: assume(emulator.host)) == (500, "InternalError")
    assert assume(emulator.host).access_key_id.startswith("STS.")
    # A configuration that names no action faults the products, never STS.
    emulator.set_faults({"error_rate": 1.0})
    assert assume(emulator.host).access_key_id.startswith("STS.")
    with pytest.raises(Exception):  # noqa: B017, PT011 - the product call is faulted
        product_ok(sdk, "edas", "v3", creds_named["permanent"])


# ----------------------------------------------------------------------------------------------
# Temporary keys at the product endpoints: accepted until expiry, refused after
# ----------------------------------------------------------------------------------------------

PRODUCT_FLAVOURS = [
    ("edas", "roa"),
    ("edas", "tea-v2"),
    ("edas", "v3"),
    ("webplus", "roa"),
    ("webplus", "tea-v2"),
    ("sae", "roa"),
    ("sae", "tea-v2"),
    ("sae", "v3"),
]


@pytest.mark.parametrize(("product", "flavour"), PRODUCT_FLAVOURS)
def test_temporary_keys_accepted_until_expiry(emulator, sdk, product, flavour):
    emulator.seed({"sts": {"credential_lifetime_s": 120}})
    temp = assume(emulator.host)
    product_ok(sdk, product, flavour, temp)
    journaled = [e for e in emulator.journal() if e["product"] == product]
    assert journaled[-1]["access_key_id"] == temp.access_key_id
    assert journaled[-1]["status"] == 200

    emulator.advance_clock(121)
    assert product_refusal(sdk, product, flavour, temp) == (400, "InvalidSecurityToken.Expired")


@pytest.mark.parametrize(("product", "flavour"), [("edas", "v3"), ("webplus", "roa")])
def test_temporary_keys_need_their_own_token(emulator, sdk, product, flavour):
    temp = assume(emulator.host)
    wrong = Temp(temp.access_key_id, temp.access_key_secret, TEST_STS_TOKEN)
    assert product_refusal(sdk, product, flavour, wrong) == (
        400,
        "InvalidSecurityToken.MismatchWithAccessKey",
    )
    tokenless = Temp(temp.access_key_id, temp.access_key_secret, None)
    assert product_refusal(sdk, product, flavour, tokenless) == (400, "MissingSecurityToken")


def test_short_lifetime_expires_in_real_time(emulator, sdk, poll):
    """``sts.credential_lifetime_s`` overrides DurationSeconds: the key dies on its own."""
    emulator.seed({"sts": {"credential_lifetime_s": 1}})
    started = time.time()
    temp = assume(emulator.host, duration_seconds=3600)
    expires = calendar.timegm(time.strptime(temp.expiration, "%Y-%m-%dT%H:%M:%SZ"))
    assert expires <= time.time() + 2

    def expired() -> bool:
        try:
            product_ok(sdk, "edas", "v3", temp)
        except Exception as exc:  # noqa: BLE001 - the SDK error is normalised
            assert getattr(exc, "code", None) == "InvalidSecurityToken.Expired", exc
            return True
        return False

    poll(expired)
    assert time.time() - started >= 1.0


def test_issued_keys_survive_a_restart(tmp_path, sdk_for):
    state = tmp_path / "state.json"
    with EmulatorProcess(state_path=state) as first:
        first.seed(TEST_SEED)
        temp = assume(first.host)
    assert temp.access_key_secret in state.read_text()  # the state file is the world, unredacted
    with EmulatorProcess(state_path=state) as second:
        product_ok(sdk_for(second.host), "edas", "v3", temp)


# ----------------------------------------------------------------------------------------------
# alibabacloud-credentials providers over HTTPS
# ----------------------------------------------------------------------------------------------


def test_ram_role_arn_provider_refreshes_through_a_wait(secure):
    """The official RAM-role provider, fed to the EDAS SDK, re-assumes the role when its
    credentials are stale: two calls, two temporary keys, both accepted, journaled in order."""
    from alibabacloud_credentials.client import Client as CredentialClient
    from alibabacloud_credentials.models import Config as CredentialConfig
    from alibabacloud_edas20170801 import models as edas_models
    from alibabacloud_edas20170801.client import Client as EdasClient
    from alibabacloud_tea_openapi.models import Config

    secure.seed({"sts": {"credential_lifetime_s": 60}})  # < 15 min: stale at once for the SDK
    credential = CredentialClient(
        CredentialConfig(
            type="ram_role_arn",
            access_key_id=TEST_ACCESS_KEY_ID,
            access_key_secret=TEST_ACCESS_KEY_SECRET,
            role_arn=TEST_ROLE_ARN,
            role_session_name="pulumi-up",
            role_session_expiration=900,
            sts_endpoint=secure.host,
        )
    )
    edas = EdasClient(Config(credential=credential, endpoint=secure.host, region_id=TEST_REGION))
    for _ in range(2):
        body = edas.list_recent_change_order(
            edas_models.ListRecentChangeOrderRequest(app_id=TEST_APP_ID)
        ).body
        assert body.code == 200

    entries = secure.journal()
    assert [(e["product"], e["status"]) for e in entries] == [
        ("sts", 200),
        ("edas", 200),
        ("sts", 200),
        ("edas", 200),
    ]
    issued = [e["issued_access_key_id"] for e in entries if e["product"] == "sts"]
    used = [e["access_key_id"] for e in entries if e["product"] == "edas"]
    assert used == issued and len(set(used)) == 2
    assert all(e["signature"] == "rpc" for e in entries if e["product"] == "sts")


def test_oidc_provider_with_a_token_file(secure, tmp_path):
    from alibabacloud_credentials.provider import OIDCRoleArnCredentialsProvider

    token = make_oidc_token()
    token_file = tmp_path / "oidc-token"
    token_file.write_text(token)
    provider = OIDCRoleArnCredentialsProvider(
        role_arn=TEST_ROLE_ARN,
        oidc_provider_arn=TEST_OIDC_PROVIDER_ARN,
        oidc_token_file_path=str(token_file),
        role_session_name="github-actions",
        sts_endpoint=secure.host,
    )
    credentials = provider.get_credentials()
    assert credentials.get_access_key_id().startswith("STS.")
    (entry,) = secure.journal()
    assert entry["action"] == "AssumeRoleWithOIDC" and entry["signature"] is None
    assert entry["access_key_id"] is None and entry["query"]["OIDCToken"] == "***"
    assert entry["issued_access_key_id"] == credentials.get_access_key_id()
    assert token not in json.dumps(secure.journal())


def test_oidc_provider_with_an_expired_token_file(secure, tmp_path):
    from alibabacloud_credentials.exceptions import CredentialException
    from alibabacloud_credentials.provider import OIDCRoleArnCredentialsProvider

    token_file = tmp_path / "oidc-token"
    token_file.write_text(make_oidc_token(lifetime_s=-60))
    provider = OIDCRoleArnCredentialsProvider(
        role_arn=TEST_ROLE_ARN,
        oidc_provider_arn=TEST_OIDC_PROVIDER_ARN,
        oidc_token_file_path=str(token_file),
        sts_endpoint=secure.host,
    )
    with pytest.raises(CredentialException) as caught:
        provider.get_credentials()
    assert "http_code: 401" in str(caught.value.message)
    assert "AuthenticationFail.OIDCToken.Expired" in str(caught.value.message)


# ----------------------------------------------------------------------------------------------
# AssumeRoleWithOIDC: the token, the provider and the role
# ----------------------------------------------------------------------------------------------


def test_oidc_answer_has_the_documented_shape(emulator):
    token = make_oidc_token(audience=["other-audience", "sts.aliyuncs.com"])
    body = assume_oidc(emulator.host, token).to_map()
    assert set(body) == {"RequestId", "Credentials", "AssumedRoleUser", "OIDCTokenInfo"}
    info = body["OIDCTokenInfo"]
    assert info["Issuer"] == "https://oidc.ci.example.test"
    assert info["ClientIds"] == "other-audience,sts.aliyuncs.com"
    assert info["Subject"].startswith("repo:")
    assert info["ExpirationTime"].endswith("Z") and info["IssuanceTime"].endswith("Z")
    assert body["AssumedRoleUser"]["Arn"] == TEST_ROLE_ARN + "/ci-job-1"


@pytest.mark.parametrize(
    ("token_kwargs", "call_kwargs", "status", "code"),
    [
        (
            {"key": "a-different-shared-key"},
            {},
            401,
            "AuthenticationFail.OIDCToken.InvalidSignature",
        ),
        ({"lifetime_s": -1}, {}, 401, "AuthenticationFail.OIDCToken.Expired"),
        ({"audience": "someone-else"}, {}, 401, "AuthenticationFail.OIDCToken.AudienceNotMatch"),
        (
            {"issuer": "https://evil.example.test"},
            {},
            401,
            "AuthenticationFail.OIDCToken.IssuerNotMatch",
        ),
        ({"algorithm": "RS256"}, {}, 401, "AuthenticationFail.OIDCToken.Invalid"),
        (None, {}, 401, "AuthenticationFail.OIDCToken.Invalid"),
        (
            {},
            {"provider_arn": f"acs:ram::{TEST_ACCOUNT_ID}:oidc-provider/absent"},
            401,
            "AuthenticationFail.NoPermission",
        ),
        ({}, {"role_arn": UNTRUSTING_ROLE}, 401, "AuthenticationFail.NoPermission"),
        ({}, {"role_arn": OTHER_ACCOUNT_ROLE}, 401, "AuthenticationFail.NoPermission"),
        ({}, {"role_arn": f"acs:ram::{TEST_ACCOUNT_ID}:role/absent"}, 404, "EntityNotExist.Role"),
        ({}, {"role_arn": "not-an-arn"}, 400, "InvalidParameter.RoleArn"),
        ({}, {"duration_seconds": 100}, 400, "InvalidParameter.DurationSeconds"),
    ],
)
def test_oidc_refusals(emulator, token_kwargs, call_kwargs, status, code):
    emulator.seed(EXTRA_ROLES)
    token = "not.a-jwt" if token_kwargs is None else make_oidc_token(**token_kwargs)
    assert refusal(lambda: assume_oidc(emulator.host, token, **call_kwargs)) == (status, code)
    assert [e["status"] for e in emulator.journal()] == [status]


def test_oidc_token_expires_on_the_emulator_clock(emulator):
    token = make_oidc_token(lifetime_s=300)
    assert assume_oidc(emulator.host, token).credentials.access_key_id.startswith("STS.")
    emulator.advance_clock(301)
    assert refusal(lambda: assume_oidc(emulator.host, token)) == (
        401,
        "AuthenticationFail.OIDCToken.Expired",
    )


# ----------------------------------------------------------------------------------------------
# The ECS metadata service
# ----------------------------------------------------------------------------------------------


def ecs_provider(proxy: str | None, role_name: str | None = None) -> Any:
    """The official ECS RAM-role provider, without its background refresher thread."""
    from alibabacloud_credentials.http import HttpOptions
    from alibabacloud_credentials.provider import EcsRamRoleCredentialsProvider

    return EcsRamRoleCredentialsProvider(
        role_name=role_name, http_options=HttpOptions(proxy=proxy), async_update_enabled=False
    )


@pytest.mark.parametrize("role_name", [None, TEST_ECS_ROLE_NAME], ids=["discovered", "named"])
def test_ecs_ram_role_provider_through_the_metadata_listener(secure, sdk_for, role_name):
    """The provider hard-codes http://100.100.100.200; its ``proxy`` option brings it here."""
    credentials = ecs_provider(secure.imds_url, role_name).get_credentials()
    assert credentials.get_access_key_id().startswith("STS.")
    actions = [(e["product"], e["action"], e["status"]) for e in secure.journal()]
    if role_name is None:
        expected = [
            ("imds", "GetMetadataToken", 200),
            ("imds", "ListRamRoles", 200),
            ("imds", "GetMetadataToken", 200),
        ]
    else:
        expected = [("imds", "GetMetadataToken", 200)]
    assert actions == [*expected, ("imds", "GetRamRoleCredentials", 200)]
    last = secure.journal()[-1]
    assert last["issued_access_key_id"] == credentials.get_access_key_id()
    assert last["role_arn"] == f"acs:ram::{TEST_ACCOUNT_ID}:role/{TEST_ECS_ROLE_NAME}"
    assert credentials.get_access_key_secret() not in json.dumps(secure.journal())


def test_ecs_provider_through_http_proxy_env_on_the_main_port(emulator, sdk, monkeypatch):
    """Without TLS the main port serves the metadata paths too; ``HTTP_PROXY`` (which Tea's
    core reads when no proxy is configured) is enough, as for the SDK's default chain."""
    monkeypatch.setenv("HTTP_PROXY", emulator.base_url)
    credentials = ecs_provider(None).get_credentials()
    temp = Temp(
        credentials.get_access_key_id(),
        credentials.get_access_key_secret(),
        credentials.get_security_token(),
    )
    monkeypatch.delenv("HTTP_PROXY")
    product_ok(sdk, "edas", "v3", temp)


def test_metadata_credentials_renew_and_expire(emulator, sdk):
    emulator.seed({"ecs_metadata": {"credential_lifetime_s": 100}})
    token = metadata_token(emulator.base_url, ttl=21600)

    def fetch() -> Temp:
        status, body = raw(
            emulator.base_url, "GET", CREDENTIALS_PATH + TEST_ECS_ROLE_NAME, {METADATA_TOKEN: token}
        )
        assert status == 200, body
        data = json.loads(body)
        assert data["Code"] == "Success" and data["LastUpdated"].endswith("Z")
        return Temp(data["AccessKeyId"], data["AccessKeySecret"], data["SecurityToken"])

    first = fetch()
    assert fetch() == first  # the same credentials while they are young
    emulator.advance_clock(60)  # past half their life: new ones
    second = fetch()
    assert second.access_key_id != first.access_key_id
    product_ok(sdk, "webplus", "roa", first)  # the old ones still work until they expire
    emulator.advance_clock(50)
    assert product_refusal(sdk, "webplus", "roa", first) == (400, "InvalidSecurityToken.Expired")
    product_ok(sdk, "sae", "v3", second)


def test_metadata_requires_a_token_by_default(secure):
    url = secure.imds_url
    assert raw(url, "GET", CREDENTIALS_PATH)[0] == 401
    assert raw(url, "GET", CREDENTIALS_PATH + TEST_ECS_ROLE_NAME)[0] == 401
    assert raw(url, "GET", CREDENTIALS_PATH, {METADATA_TOKEN: "made-up"})[0] == 401
    token = metadata_token(url)
    assert raw(url, "GET", CREDENTIALS_PATH, {METADATA_TOKEN: token}) == (200, TEST_ECS_ROLE_NAME)
    assert raw(url, "GET", CREDENTIALS_PATH + "other-role", {METADATA_TOKEN: token})[0] == 404
    assert [e["status"] for e in secure.journal()] == [401, 401, 401, 200, 200, 404]
    assert token not in json.dumps(secure.journal())


def test_metadata_token_requests(secure):
    url = secure.imds_url
    assert raw(url, "PUT", "/latest/api/token")[0] == 400
    for ttl in ("0", "21601", "soon"):
        assert raw(url, "PUT", "/latest/api/token", {METADATA_TTL: ttl})[0] == 400
    forwarded = {METADATA_TTL: "60", "X-Forwarded-For": "10.0.0.1"}
    assert raw(url, "PUT", "/latest/api/token", forwarded)[0] == 403
    assert raw(url, "GET", "/latest/api/token")[0] == 405
    token = metadata_token(url, ttl=30)
    assert raw(url, "GET", CREDENTIALS_PATH, {METADATA_TOKEN: token})[0] == 200
    secure.advance_clock(31)
    assert raw(url, "GET", CREDENTIALS_PATH, {METADATA_TOKEN: token})[0] == 401


def test_metadata_without_required_tokens(secure):
    """With ``tokens_required: false`` the normal (tokenless) mode works, and the provider's
    fallback to it is what the SDK does when the token request fails."""
    secure.seed({"ecs_metadata": {"tokens_required": False}})
    assert raw(secure.imds_url, "GET", CREDENTIALS_PATH) == (200, TEST_ECS_ROLE_NAME)
    secure.seed({"ecs_metadata": {"role_name": None}})
    assert raw(secure.imds_url, "GET", CREDENTIALS_PATH)[0] == 404


def test_metadata_listener_serves_nothing_else(secure):
    assert raw(secure.imds_url, "GET", "/__emulator__/health")[0] == 404
    assert raw(secure.imds_url, "POST", "/?Action=AssumeRole")[0] == 404
    assert raw(secure.imds_url, "GET", "/latest/meta-data/instance-id")[0] == 404


def test_metadata_refusal_fails_the_official_provider(secure):
    from alibabacloud_credentials.exceptions import CredentialException

    with pytest.raises(CredentialException):
        ecs_provider(secure.imds_url, "not-the-instance-role").get_credentials()
    # With its token: 404; then the SDK falls back to the normal mode, which is refused.
    assert [e["status"] for e in secure.journal()] == [200, 404, 401]


# ----------------------------------------------------------------------------------------------
# HTTPS
# ----------------------------------------------------------------------------------------------


def test_https_first_line_and_certificate(secure):
    assert secure.base_url.startswith("https://127.0.0.1:")
    port = secure.port
    for server_name in ("127.0.0.1", "localhost"):
        context = ssl.create_default_context(cafile=secure.ca_bundle)
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            with context.wrap_socket(sock, server_hostname=server_name) as tls:
                assert tls.version() in ("TLSv1.2", "TLSv1.3")
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        with pytest.raises(ssl.SSLCertVerificationError):
            ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).wrap_socket(sock, server_hostname="127.0.0.1")
    # After a failed handshake the server still answers.
    assert secure.admin("GET", "health")["ok"] is True


def test_https_trusted_the_standard_way(secure):
    """``verify=`` in-process, and ``REQUESTS_CA_BUNDLE`` / ``SSL_CERT_FILE`` in a subprocess."""
    import requests

    response = requests.get(f"{secure.base_url}/__emulator__/health", verify=secure.ca_bundle)
    assert response.json()["ok"] is True
    script = (
        "import sys, urllib.request, requests\n"
        "url = sys.argv[1] + '/__emulator__/health'\n"
        "print(requests.get(url).status_code, urllib.request.urlopen(url).status)\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE")}
    env.update(secure.client_env())
    done = subprocess.run(
        [sys.executable, "-c", script, secure.base_url],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.stdout.split() == ["200", "200"], done.stderr
    untrusted = subprocess.run(
        [sys.executable, "-c", script, secure.base_url],
        env={k: v for k, v in env.items() if k not in ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE")},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert untrusted.returncode != 0 and "CERTIFICATE_VERIFY_FAILED" in untrusted.stderr


# ----------------------------------------------------------------------------------------------
# Seed, state and clock
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "seed",
    [
        {"ram_roles": [{"arn": "acs:ram::42:user/alice"}]},
        {"ram_roles": [{"arn": TEST_ROLE_ARN, "max_session_duration_s": 60}]},
        {"oidc_providers": [{"arn": "acs:ram::42:oidc-provider/x", "issuer_url": "http://x"}]},
        {"sts": {"credential_lifetime_s": 0}},
        {"ecs_metadata": {"tokens_required": "yes"}},
    ],
)
def test_bad_sts_seeds_are_refused(emulator, seed):
    from testbed.emulator import EmulatorError

    with pytest.raises(EmulatorError, match="HTTP 400"):
        emulator.seed(seed)


def test_state_shows_roles_and_hides_secrets(emulator):
    temp = assume(emulator.host)
    state = emulator.state()
    assert [r["arn"] for r in state["ram_roles"]] == [TEST_ROLE_ARN]
    assert state["oidc_providers"][0]["hs256_key"] == "***"
    (issued,) = [a for a in state["accounts"] if a["issued_by"] == "AssumeRole"]
    assert issued["access_key_id"] == temp.access_key_id
    assert issued["access_key_secret"] == "***" and issued["security_token"] == "***"
    assert issued["role_arn"] == TEST_ROLE_ARN and issued["security_token_expires_at"]


def test_clock_moves_forward_only_and_resets(emulator):
    before = emulator.admin("GET", "clock")
    assert before["offset_s"] == 0
    assert emulator.advance_clock(30)["offset_s"] == 30
    from testbed.emulator import EmulatorError

    with pytest.raises(EmulatorError, match="HTTP 400"):
        emulator.advance_clock(-1)
    emulator.reset()
    assert emulator.admin("GET", "clock")["offset_s"] == 0

"""Credentials providers (restart_trigger.aliyun.sources): equal specs share one provider; what
each sends (AssumeRole signed, AssumeRoleWithOIDC anonymous, metadata token first); none is ever
pickled. Temporary credentials are renewed before they expire, also in the middle of a long wait
for a change order; a failing refresh is retried, then fails naming the source; no secret
leaks."""

from __future__ import annotations

import json
import logging
import pickle

import pytest
import requests

from restart_trigger.aliyun import AliyunClient, Credentials, resolve_settings, sources
from restart_trigger.aliyun.credentials import clear_provider_cache
from restart_trigger.aliyun.errors import AuthError
from restart_trigger.aliyun.sources import (
    AssumeRoleProvider,
    CredentialsUnavailable,
    EcsRoleProvider,
    OidcProvider,
)
from restart_trigger.aliyun.specs import AccessKey, AssumeRole
from restart_trigger.backoff import Backoff, Deadline
from restart_trigger.runner import restart_target
from restart_trigger.targets.edas import EdasTarget, get_change_order_info
from tests.unit.fakes import FakeCloud, FakeTime, fake_session
from tests.unit.sts_fakes import (
    BASE_KEY_ID,
    BASE_SECRET,
    OIDC_PROVIDER_ARN,
    OIDC_TOKEN,
    ROLE_ARN,
    FakeSts,
    sts_session,
)

START = 1_700_000_000.0  # a wall-clock epoch for the fake clock
KEYS = {"alicloud:accessKey": BASE_KEY_ID, "alicloud:secretKey": BASE_SECRET}


@pytest.fixture(autouse=True)
def fresh_cache():
    clear_provider_cache()
    yield
    clear_provider_cache()


@pytest.fixture
def no_profile(tmp_path):
    return tmp_path / "missing-config.json"


@pytest.fixture
def clock():
    time = FakeTime()
    time.now = START
    return time


def assume_role(clock, fake, duration=900, base=None):
    return AssumeRoleProvider(
        base or Credentials(BASE_KEY_ID, BASE_SECRET),
        role_arn=ROLE_ARN,
        session_name="ci",
        duration=duration,
        sts_endpoint="https://sts.example.test",
        session=sts_session(fake),
        clock=clock.clock,
        sleep=clock.sleep,
        backoff=Backoff(first=0.5, factor=2.0, cap=5.0, jitter=False, max_attempts=4),
    )


def test_credentials_are_fetched_once_and_reused_until_the_refresh_margin(clock):
    fake = FakeSts(clock.clock, lifetime=3600)
    provider = assume_role(clock, fake)
    first = provider.current()
    clock.now += 3600 - 301  # more than 5 minutes left: still the same
    assert provider.current() is first
    clock.now += 2  # within 5 minutes of expiry: renewed
    second = provider.current()
    assert second.access_key_id != first.access_key_id
    assert len(fake.forms) == 2 and provider.refreshes == 2


def test_short_lived_credentials_are_renewed_at_half_their_life(clock):
    fake = FakeSts(clock.clock, lifetime=4)
    provider = assume_role(clock, fake)
    first = provider.current()
    clock.now += 1.9
    assert provider.current() is first
    clock.now += 0.2
    assert provider.current() is not first


def test_a_long_wait_signs_every_poll_with_live_credentials(clock):
    """A change order that runs 40 minutes with 15-minute credentials: the polls in the middle
    of the wait carry renewed keys, and no request is ever signed with expired ones."""
    fake = FakeSts(clock.clock, lifetime=900)
    provider = assume_role(clock, fake)
    polls = {"n": 0}

    def status(request):
        polls["n"] += 1
        key_id = request.headers["x-acs-accesskey-id"]
        issued = next(c for c in fake.issued if c["AccessKeyId"] == key_id)
        from restart_trigger.aliyun.sts import parse_expiration

        assert clock.now < parse_expiration(issued["Expiration"]), "signed with expired keys"
        assert request.headers["x-acs-security-token"] == issued["SecurityToken"]
        done = clock.now - START > 2400
        return 200, {"Code": 200, "changeOrderInfo": {"Status": 2 if done else 1}}

    cloud = (
        FakeCloud()
        .on("RestartApplication", (200, {"ChangeOrderId": "co-1", "Code": 200, "RequestId": "r"}))
        .on("GetChangeOrderInfo", status)
    )
    deadline = Deadline(3600, clock=clock.clock, sleep=clock.sleep)
    with AliyunClient(
        provider, "cn-hangzhou", session=fake_session(cloud), deadline=deadline
    ) as client:
        outcome = restart_target(client, EdasTarget(app_id="app-1"), [], True, deadline)
    assert not outcome.failed, outcome.error
    used = {r.headers["x-acs-accesskey-id"] for r in cloud.requests}
    assert len(used) >= 3  # obtained, then renewed at least twice during the wait
    assert provider.refreshes == len(fake.issued) >= 3
    assert polls["n"] > 3


def test_a_failing_refresh_is_retried_with_backoff(clock):
    fake = FakeSts(clock.clock).fail_next(
        (503, {"Code": "ServiceUnavailable", "Message": "busy"}),
        (500, {"Code": "InternalError", "Message": "oops"}),
    )
    provider = assume_role(clock, fake)
    assert provider.current().access_key_id == "STS.ar-key-1"
    assert clock.sleeps == [0.5, 1.0]


def test_a_refusal_fails_at_once_naming_the_source_and_never_a_secret(clock):
    fake = FakeSts(clock.clock).fail_next(
        (
            403,
            {
                "Code": "NoPermission",
                "Message": f"You are not authorized to do this action (key {BASE_SECRET})",
                "RequestId": "req-9",
            },
        )
    )
    provider = assume_role(clock, fake)
    with pytest.raises(CredentialsUnavailable) as excinfo:
        provider.current()
    text = str(excinfo.value)
    assert text.startswith(
        f"alicloud:assumeRole (role {ROLE_ARN}): AssumeRole refused: NoPermission"
    )
    assert "request id req-9" in text
    assert BASE_SECRET not in text and BASE_SECRET not in repr(excinfo.value)
    assert clock.sleeps == []
    assert isinstance(excinfo.value, AuthError)


def test_a_refresh_that_keeps_failing_gives_up_after_its_attempts(clock):
    fake = FakeSts(clock.clock).fail_next(*[(503, {"Code": "ServiceUnavailable"})] * 10)
    provider = assume_role(clock, fake)
    with pytest.raises(CredentialsUnavailable, match="AssumeRole failed after 4 attempts"):
        provider.current()
    assert len(fake.requests) == 4


def test_a_failed_refresh_keeps_using_credentials_that_are_still_valid(clock, caplog):
    fake = FakeSts(clock.clock, lifetime=900)
    provider = assume_role(clock, fake)
    first = provider.current()
    clock.now += 900 - 200  # due for renewal, 200 s of validity left
    fake.fail_next(*[(503, {"Code": "ServiceUnavailable"})] * 4)
    with caplog.at_level(logging.WARNING):
        assert provider.current() is first
    assert "stay in use" in caplog.text
    requests_after_failure = len(fake.requests)
    assert provider.current() is first  # cooling down: no new attempt on every request
    assert len(fake.requests) == requests_after_failure
    clock.now += 31
    assert provider.current() is not first  # the STS is back


def test_connection_failures_are_retried_then_named(clock):
    boom = requests.exceptions.ConnectTimeout("connect timed out")
    fake = FakeSts(clock.clock).fail_next(*[boom] * 4)
    provider = assume_role(clock, fake)
    with pytest.raises(
        CredentialsUnavailable, match="failed after 4 attempts: ConnectionNotEstablished"
    ):
        provider.current()


def test_the_base_of_a_role_failing_is_named_through_the_chain(clock):
    fake = FakeSts(clock.clock)
    ecs = EcsRoleProvider(
        "missing-role",
        endpoint="http://127.0.0.1:8100",
        session=sts_session(fake),
        clock=clock.clock,
        sleep=clock.sleep,
    )
    provider = assume_role(clock, fake, base=ecs)
    with pytest.raises(CredentialsUnavailable) as excinfo:
        provider.current()
    assert str(excinfo.value).startswith(
        f"alicloud:assumeRole (role {ROLE_ARN}): its base credentials are unavailable: "
        "alicloud:ecsRoleName (role missing-role): MetadataCredentials refused"
    )
    assert "no such RAM role" in str(excinfo.value)


def test_an_unreadable_token_file_fails_naming_the_source_and_the_file(clock, tmp_path):
    provider = OidcProvider(
        role_arn=ROLE_ARN,
        oidc_provider_arn=OIDC_PROVIDER_ARN,
        token_file=str(tmp_path / "gone"),
        session_name="gha",
        duration=900,
        sts_endpoint="https://sts.example.test",
        session=sts_session(FakeSts(clock.clock)),
        clock=clock.clock,
        sleep=clock.sleep,
    )
    with pytest.raises(CredentialsUnavailable, match="cannot read the OIDC token file"):
        provider.current()


def test_a_refresh_failure_fails_the_request_as_not_sent_naming_the_operation(clock):
    fake = FakeSts(clock.clock).fail_next((403, {"Code": "NoPermission", "Message": "no"}))
    cloud = FakeCloud()
    client = AliyunClient(
        assume_role(clock, fake),
        "cn-hangzhou",
        session=fake_session(cloud),
        read_backoff=Backoff(first=0.0, max_attempts=3),
    )
    with pytest.raises(CredentialsUnavailable) as excinfo:
        get_change_order_info(client, "co-1")
    assert str(excinfo.value).startswith(
        f"GetChangeOrderInfo: alicloud:assumeRole (role {ROLE_ARN}): AssumeRole refused"
    )
    assert cloud.requests == []  # nothing went to EDAS


def test_no_secret_in_any_error_log_or_repr_of_the_whole_flow(clock, caplog, tmp_path):
    token = tmp_path / "token"
    token.write_text(OIDC_TOKEN)
    fake = FakeSts(clock.clock, lifetime=900)
    oidc = OidcProvider(
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
    provider = assume_role(clock, fake, base=oidc)
    echo = {"n": 0}

    def refuse_echoing(request):  # a gateway echoing what it was sent
        echo["n"] += 1
        return 400, {
            "Code": "SignatureDoesNotMatch",
            "Message": f"x-acs-security-token:{request.headers['x-acs-security-token']} "
            f"secret {fake.issued[-1]['AccessKeySecret']} token {OIDC_TOKEN}",
        }

    cloud = FakeCloud().on("GetChangeOrderInfo", refuse_echoing)
    texts = []
    with caplog.at_level(logging.DEBUG):
        client = AliyunClient(provider, "cn-hangzhou", session=fake_session(cloud))
        with pytest.raises(AuthError) as excinfo:
            get_change_order_info(client, "co-1")
        texts += [str(excinfo.value), repr(excinfo.value), repr(client), repr(provider)]
        texts += [repr(provider.current()), repr(oidc)]
        fake.fail_next(*[(403, {"Code": "InvalidParameter.OIDCToken", "Message": OIDC_TOKEN})] * 2)
        clock.now += 900
        with pytest.raises(CredentialsUnavailable) as failed:
            provider.current()
        texts += [str(failed.value), repr(failed.value)]
    texts.append(caplog.text)
    secrets = [OIDC_TOKEN, BASE_SECRET] + [
        c[k] for c in fake.issued for k in ("AccessKeySecret", "SecurityToken")
    ]
    for text in texts:
        for secret in secrets:
            assert secret not in text, (secret, text)
    assert "refreshed" in caplog.text or "obtained" in caplog.text  # the journal shows it


# --- one provider per spec ------------------------------------------------------------------------


def test_equal_specs_share_one_provider_and_a_key_pair_is_its_own_source():
    sources.clear_provider_cache()
    pair = Credentials("key-id", "secret-value")

    def role():
        return AssumeRole(
            base=AccessKey(pair, "test"),
            role_arn=ROLE_ARN,
            session_name="s",
            duration=900,
            policy=json.dumps({"Version": "1"}),
            external_id=None,
            sts_endpoint="https://sts.example.test",
            source="test",
        )

    first = sources.provider_for(role())
    assert sources.provider_for(role()) is first
    assert first.base is pair
    assert sources.provider_for(AccessKey(pair, "test")) is pair
    sources.clear_provider_cache()
    assert sources.provider_for(role()) is not first


# --- the wire -------------------------------------------------------------------------------------


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

"""Credentials the way pipelines hold them, end to end with the real Pulumi CLI (issue 13).

Each stack is the project's example program (``__main__.py``) with no AccessKey of its own
unless the source needs one, pointed at one HTTPS emulator (``EmulatorProcess(tls=True,
imds=True)``) only the way users point the trigger: ``alicloud:endpoints`` (``sts`` included),
``RESTART_TRIGGER_ECS_METADATA_ENDPOINT`` for the metadata service, and the throwaway CA
trusted through ``SSL_CERT_FILE`` / ``REQUESTS_CA_BUNDLE`` in the CLI's environment, which the
provider process inherits. Nothing of ours is patched.

What is proven, each from the emulator's journal:

* ``alicloud:assumeRoleWithOidc`` with a token file (config holds only the ARNs and the path)
  restarts a target: AssumeRoleWithOIDC, then the restart signed by the key it issued;
* ``alicloud:assumeRole`` on top of an AccessKey pair (secrets in the stack config): AssumeRole
  signed by the permanent key, the restart by the issued one;
* ``alicloud:ecsRoleName`` against the emulated metadata service, token first;
* credentials that live 5 s outlast a 15 s change order: renewed while the trigger waits, no
  expired-token failure;
* a malformed role ARN, an unreadable token file and an unknown profile mode (of a named
  profile, and of ``~/.aliyun/config.json``'s ``current`` profile when no credentials are set)
  are refused at ``pulumi preview`` naming the key, with no API call; missing credentials
  still do not fail a preview;
* the OIDC tokens, the issued AccessKeySecrets and SecurityTokens appear nowhere: not in the
  state (``--show-secrets`` too), any CLI output (``--debug -v=9 --logtostderr`` included),
  PULUMI_HOME, the decrypted automatic logs, or the error texts of failed runs.

The emulator's admin API masks issued secrets everywhere (state, journal), so their values
come from its ``--state`` file, which is the world unredacted (emulator/README.md, "Seed
format": "Issued temporary keys are among its ``accounts``, unredacted").
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from restart_trigger.aliyun.credentials import SUPPORTED_PROFILE_MODES
from testbed.emulator import (
    RESTARTS,
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
from testbed.pulumi_cli import Stack
from tests.e2e.conftest import set_triggers
from tests.e2e.test_no_secret_in_debug_logs import (
    DEBUG,
    ENGINE_CONFIGURE_LINE,
    _decrypted_automatic_logs,
    _files,
    _leaks,
    _runs,
)

pytestmark = pytest.mark.e2e

PROPS = "config/api/app.properties"
API = {
    "name": "api",
    "paths": ["config/api"],
    "targets": [{"app_id": TEST_APP_ID}],
    "restart_on_create": True,  # one `pulumi up` creates the trigger and restarts the app
    "timeout": 180,  # a failure shows within the test's time, not after the 30-minute default
}
STATUS_CALLS = frozenset({"GetChangeOrderInfo", "ListRecentChangeOrder"})
EXPIRED = "InvalidSecurityToken.Expired"


# -- the emulator ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tls_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorProcess]:
    state = tmp_path_factory.mktemp("credential-sources") / "emulator-state.json"
    with EmulatorProcess(state_path=state, tls=True, imds=True) as emu:
        yield emu


@pytest.fixture
def emu(tls_emulator: EmulatorProcess) -> EmulatorProcess:
    tls_emulator.reset()
    tls_emulator.clear_faults()
    tls_emulator.clear_journal()
    tls_emulator.seed(TEST_SEED)
    return tls_emulator


def issued_secrets(emu: EmulatorProcess) -> tuple[str, ...]:
    """Every AccessKeySecret and SecurityToken STS or the metadata service issued since the
    last reset, from the unredacted ``--state`` file."""
    world = json.loads(Path(emu.state_path).read_text())
    values = []
    for account in world["accounts"]:
        if account.get("issued_by"):
            values += [account["access_key_secret"], account["security_token"]]
    return tuple(values)


# -- the journal ----------------------------------------------------------------------------


def ok(journal: list[dict[str, Any]], product: str, actions=None) -> list[dict[str, Any]]:
    return [
        e
        for e in journal
        if e["product"] == product
        and e["status"] == 200
        and (actions is None or e["action"] in actions)
    ]


def restarts(journal: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in journal if e["action"] in RESTARTS and e["status"] == 200 and e["applied"]]


def product_calls(journal: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in journal if e["product"] not in ("sts", "imds")]


# -- stacks ---------------------------------------------------------------------------------


def endpoints(emu: EmulatorProcess) -> list[dict[str, str]]:
    url = emu.base_url
    return [{"edas": url, "webplus": url, "sae": url, "sts": url}]


def source_stack(
    new_stack,
    emu: EmulatorProcess,
    tmp_path: Path,
    config: dict[str, Any],
    *,
    secrets: dict[str, str] | None = None,
    triggers: list[dict[str, Any]] | None = None,
    **env: str,
) -> Stack:
    """The example program on a new stack whose ``alicloud:*`` config is the region, the
    emulator's endpoints and ``config``; ``secrets`` are set with ``--secret``. The CLI (and
    so the provider process) trusts the emulator's CA through the standard variables."""
    tmpdir = tmp_path / f"tmpdir-{len(list(tmp_path.glob('tmpdir-*')))}"
    tmpdir.mkdir()  # where the CLI and the provider write temporary files: grepped too
    stack = new_stack("main", TMPDIR=str(tmpdir), **emu.client_env(), **env)
    (stack.workdir / PROPS).parent.mkdir(parents=True, exist_ok=True)
    (stack.workdir / PROPS).write_text("pool=10\n")
    stack.write_config(
        {"alicloud:region": TEST_REGION, "alicloud:endpoints": endpoints(emu), **config}
    )
    for key, value in (secrets or {}).items():
        stack.config_set(key, value, secret=True)
    set_triggers(stack, [API] if triggers is None else triggers)
    return stack


def oidc_config(token_file: Path) -> dict[str, Any]:
    return {
        "alicloud:assumeRoleWithOidc": {
            "oidcProviderArn": TEST_OIDC_PROVIDER_ARN,
            "roleArn": TEST_ROLE_ARN,
            "oidcTokenFile": str(token_file),
        }
    }


def ci_token_file(tmp_path: Path) -> Path:
    """The token file as a CI job has it, outside the project folder."""
    folder = tmp_path / "ci"
    folder.mkdir(exist_ok=True)
    path = folder / "oidc-token"
    path.write_text(make_oidc_token())
    return path


ASSUME_ROLE_CONFIG = {
    "alicloud:accessKey": TEST_ACCESS_KEY_ID,
    "alicloud:assumeRole": {"roleArn": TEST_ROLE_ARN, "sessionName": "e2e-deploy"},
}
ASSUME_ROLE_SECRETS = {"alicloud:secretKey": TEST_ACCESS_KEY_SECRET}


# -- the secret grep ------------------------------------------------------------------------


def lifecycle(stack: Stack, emu: EmulatorProcess) -> None:
    """After the first `up`: preview, up, refresh, a failing up (its error text), export with
    --show-secrets, destroy; all but the failing up with --debug -v=9 --logtostderr."""
    (stack.workdir / PROPS).write_text("pool=11\n")
    stack.preview(*DEBUG)
    stack.up(*DEBUG)
    stack.refresh(*DEBUG)
    emu.set_faults({"fail_app_ids": [TEST_APP_ID]})
    (stack.workdir / PROPS).write_text("pool=12\n")
    failed = stack.up(check=False)
    emu.clear_faults()
    assert failed.returncode != 0 and "failed" in failed.output, failed.output
    stack.run("stack", "export", "-s", stack.name, "--show-secrets")
    stack.destroy(*DEBUG)


def everything(stack: Stack, emu: EmulatorProcess, first_run: int) -> dict[str, str]:
    """Every text a user, a log collector or a bug report could hold, by name."""
    return {
        **{name: r.output for name, r in _runs(stack, first_run).items()},
        "stack export": json.dumps(stack.export()),
        **_files(Path(stack.env["PULUMI_HOME"])),  # gunzipped, base64 blobs decoded
        **_decrypted_automatic_logs(stack),
        **_files(Path(stack.env["TMPDIR"])),
        **_files(stack.workdir),  # the stack file holds the config secrets, encrypted
        "emulator journal": json.dumps(emu.journal()),
        "emulator stderr": emu.stderr_text(),
    }


def assert_no_leak(texts: dict[str, str], secrets: tuple[str, ...]) -> None:
    assert secrets and all(len(s) >= 16 and "*" not in s for s in secrets)  # real values
    leaks = _leaks(texts, secrets)
    assert leaks == {}, f"secret found in {sorted(leaks)}:\n{json.dumps(leaks, indent=1)[:4000]}"


# -- 1 and 6: OIDC from a token file, as in a CI job ----------------------------------------


def test_oidc_token_file_restarts_with_the_issued_key_and_leaks_nothing(emu, new_stack, tmp_path):
    token_file = ci_token_file(tmp_path)
    token = token_file.read_text()
    stack = source_stack(new_stack, emu, tmp_path, oidc_config(token_file))
    config_file = (stack.workdir / f"Pulumi.{stack.name}.yaml").read_text()
    assert "secure:" not in config_file and "accessKey" not in config_file  # ARNs and a path
    first_run = len(stack.log)

    stack.up(*DEBUG)
    journal = emu.journal()
    sts_calls = [e for e in journal if e["product"] == "sts"]
    assert sts_calls, journal
    assert all(e["action"] == "AssumeRoleWithOIDC" and e["status"] == 200 for e in sts_calls)
    assert {e["role_arn"].lower() for e in sts_calls} == {TEST_ROLE_ARN.lower()}
    assert all(e["access_key_id"] is None for e in sts_calls)  # anonymous: the token is it
    issued = {e["issued_access_key_id"] for e in sts_calls}
    (restart,) = restarts(journal)
    assert restart["access_key_id"] in issued and restart["access_key_id"].startswith("STS.")
    assert restart["seq"] > min(e["seq"] for e in sts_calls)
    assert {e["access_key_id"] for e in product_calls(journal)} <= issued

    lifecycle(stack, emu)
    assert len(restarts(emu.journal())) >= 2  # the second up restarted too, with OIDC keys
    # An error text with a token in play: the CI job's token has expired.
    expired = make_oidc_token(lifetime_s=-60)
    token_file.write_text(expired)
    (stack.workdir / PROPS).write_text("pool=13\n")
    failed = stack.up(check=False)
    assert failed.returncode != 0
    assert f"alicloud:assumeRoleWithOidc (role {TEST_ROLE_ARN})" in failed.output, failed.output
    assert "AssumeRoleWithOIDC refused" in failed.output, failed.output
    stack.destroy()

    secrets = (token, expired, *issued_secrets(emu))
    assert len(secrets) >= 4
    texts = everything(stack, emu, first_run)
    assert any(".Configure().inputs]" in text for text in texts.values())  # -v=9 was grepped
    assert_no_leak(texts, secrets)


# -- 2 and 6: a role assumed with an AccessKey pair -----------------------------------------


def test_assume_role_on_access_keys_restarts_with_the_issued_key_and_leaks_nothing(
    emu, new_stack, tmp_path
):
    stack = source_stack(new_stack, emu, tmp_path, ASSUME_ROLE_CONFIG, secrets=ASSUME_ROLE_SECRETS)
    first_run = len(stack.log)

    stack.up(*DEBUG)
    journal = emu.journal()
    sts_calls = [e for e in journal if e["product"] == "sts"]
    assert sts_calls, journal
    assert all(e["action"] == "AssumeRole" and e["status"] == 200 for e in sts_calls)
    assert {e["access_key_id"] for e in sts_calls} == {TEST_ACCESS_KEY_ID}  # signed by it
    assert {e["role_session_name"] for e in sts_calls} == {"e2e-deploy"}
    issued = {e["issued_access_key_id"] for e in sts_calls}
    assert TEST_ACCESS_KEY_ID not in issued
    (restart,) = restarts(journal)
    assert restart["access_key_id"] in issued
    assert {e["access_key_id"] for e in product_calls(journal)} <= issued  # never the base key

    lifecycle(stack, emu)
    assert len(restarts(emu.journal())) >= 2
    texts = everything(stack, emu, first_run)
    assert_no_leak(texts, issued_secrets(emu))
    assert any(".Configure().inputs]" in text for text in texts.values())  # -v=9 was grepped

    # The permanent secret is the user's own config secret. It shows where the CLI shows
    # config secrets: the engine's -v=9 Configure line (pinned by test_no_secret_in_debug_logs),
    # `pulumi logs decrypt` of the same records, and `stack export --show-secrets` (the engine
    # keeps the stack config, encrypted, as its default provider's inputs). Nowhere else.
    runs = _runs(stack, first_run)
    shown = {name for name, r in runs.items() if "--show-secrets" in r.args}
    for name, lines in _leaks(texts, (TEST_ACCESS_KEY_SECRET,)).items():
        if name.startswith("pulumi logs decrypt"):
            continue
        if name in shown:
            pattern = f'"plaintext": "\\"{TEST_ACCESS_KEY_SECRET}\\""'
            assert all(line.strip() == pattern for line in lines), f"{name}: {lines}"
            continue
        assert "-v=9" in name, f"{name}: {lines}"
        odd = [line for line in lines if not ENGINE_CONFIGURE_LINE.search(line)]
        assert not odd, f"{name}: the permanent secret outside the engine's Configure line"


# -- 3: the ECS instance RAM role -----------------------------------------------------------


def test_ecs_instance_role_from_the_metadata_service_token_first(emu, new_stack, tmp_path):
    stack = source_stack(
        new_stack,
        emu,
        tmp_path,
        {"alicloud:ecsRoleName": TEST_ECS_ROLE_NAME},
        RESTART_TRIGGER_ECS_METADATA_ENDPOINT=emu.imds_url,
    )
    first_run = len(stack.log)
    stack.up()
    journal = emu.journal()
    assert not [e for e in journal if e["product"] == "sts"]
    imds = [e for e in journal if e["product"] == "imds"]
    assert imds and all(e["status"] == 200 for e in imds), imds  # never a tokenless try
    token_put = imds[0]
    assert (token_put["method"], token_put["path"]) == ("PUT", "/latest/api/token"), imds
    credentials = [e for e in imds if e["action"] == "GetRamRoleCredentials"]
    assert credentials and all(e["method"] == "GET" for e in credentials)
    assert all(
        e["path"] == f"/latest/meta-data/ram/security-credentials/{TEST_ECS_ROLE_NAME}"
        for e in credentials
    )
    assert token_put["seq"] < credentials[0]["seq"]
    issued = {e["issued_access_key_id"] for e in credentials}
    (restart,) = restarts(journal)
    assert restart["access_key_id"] in issued and restart["access_key_id"].startswith("STS.")
    assert {e["access_key_id"] for e in product_calls(journal)} <= issued
    texts = {name: r.output for name, r in _runs(stack, first_run).items()}
    assert_no_leak({**texts, "stack export": json.dumps(stack.export())}, issued_secrets(emu))


# -- 4: a wait longer than the credentials live ---------------------------------------------

LIFETIME_S = 5  # the emulator's STS issues keys that live this long ...
CHANGE_S = 15  # ... and the restart takes three times as long


def test_credentials_that_expire_during_the_wait_are_renewed(emu, new_stack, tmp_path):
    (app,) = [a for a in TEST_SEED["edas_applications"] if a["app_id"] == TEST_APP_ID]
    emu.seed(
        {
            "sts": {"credential_lifetime_s": LIFETIME_S},
            "edas_applications": [{**app, "change_duration_s": CHANGE_S}],
        }
    )
    stack = source_stack(
        new_stack,
        emu,
        tmp_path,
        oidc_config(ci_token_file(tmp_path)),
        triggers=[{**API, "timeout": 90}],  # an expired key is retried until then: fail sooner
    )
    stack.up()  # raises on an expired-token failure

    journal = emu.journal()
    assert not [e for e in journal if e["code"] == EXPIRED], "a request used expired keys"
    (restart,) = restarts(journal)
    status = [e for e in ok(journal, "edas", STATUS_CALLS) if e["seq"] > restart["seq"]]
    assert status and status[-1]["time"] - restart["time"] >= CHANGE_S - 1  # it did wait
    sts_calls = ok(journal, "sts", {"AssumeRoleWithOIDC"})
    issued = [e["issued_access_key_id"] for e in sts_calls]
    signers = {e["access_key_id"] for e in status}
    assert signers <= set(issued)
    # Renewed while waiting: more than one STS call, and the status calls of one change order
    # signed by at least two different issued keys.
    assert len(sts_calls) >= 2 and len(set(issued)) == len(issued), sts_calls
    assert len(signers) >= 2, status
    assert stack.outputs()["api.statuses"] == {f"edas:{TEST_APP_ID}": "succeeded"}


# -- 5: bad input at preview ----------------------------------------------------------------


def test_bad_credential_settings_are_refused_at_preview_naming_the_key(emu, new_stack, tmp_path):
    stack = source_stack(new_stack, emu, tmp_path, {})
    base = {"alicloud:region": TEST_REGION, "alicloud:endpoints": endpoints(emu)}
    missing_token = tmp_path / "ci" / "no-such-token"
    profiles = tmp_path / "aliyun-config.json"
    profiles.write_text(
        json.dumps(
            {
                "current": "ci",
                "profiles": [{"name": "ci", "mode": "CredentialsURI", "region_id": TEST_REGION}],
            }
        )
    )
    bad_arn = "acs:ram::1000000000000042:user/deployer"
    cases = {
        "alicloud:assumeRole.roleArn": (
            {"alicloud:assumeRole": {"roleArn": bad_arn}},
            f"alicloud:assumeRole.roleArn: {bad_arn!r} is not a RAM role ARN "
            "(acs:ram::<account id>:role/<role name>)",
        ),
        "alicloud:assumeRoleWithOidc.oidcTokenFile": (
            oidc_config(missing_token),
            f"alicloud:assumeRoleWithOidc.oidcTokenFile: cannot read the OIDC token file "
            f"{str(missing_token)!r}: No such file or directory",
        ),
        "alicloud:profile": (
            {"alicloud:profile": "ci", "alicloud:sharedCredentialsFile": str(profiles)},
            f"profile 'ci' in {str(profiles)!r} uses mode 'CredentialsURI', which "
            "restart-trigger does not support; supported modes are "
            f"{', '.join(SUPPORTED_PROFILE_MODES)}.",
        ),
    }
    problems = []
    for key, (config, reason) in cases.items():
        stack.write_config({**base, **config})
        set_triggers(stack, [API])
        result = stack.preview(check=False)
        output = result.output
        if result.returncode == 0:
            problems.append(f"{key}: the preview succeeded")
        # e.g. "resource 'api': property alicloud:profile value {<nil>} has a problem: ..."
        if f"resource 'api': property {key} value " not in output:
            problems.append(f"{key}: the output does not name the key:\n{output}")
        if f"has a problem: {reason}" not in output:
            problems.append(f"{key}: the output lacks {reason!r}:\n{output}")
    assert not problems, "\n".join(problems)
    assert emu.journal() == []  # no preview called anything

    # No credentials set, so run time would use the `current` profile of ~/.aliyun/config.json
    # (the stack's own HOME): its unknown mode fails the preview too, naming alicloud:profile.
    default_file = Path(stack.env["HOME"]) / ".aliyun" / "config.json"
    default_file.parent.mkdir()
    default_file.write_text(profiles.read_text())
    stack.write_config(base)
    set_triggers(stack, [API])
    result = stack.preview(check=False)
    reason = (
        f"has a problem: profile 'ci' in {str(default_file)!r} uses mode 'CredentialsURI', "
        "which restart-trigger does not support; supported modes are "
        f"{', '.join(SUPPORTED_PROFILE_MODES)}; it is the `current` profile of "
        f"{str(default_file)!r}, used because no other Alibaba Cloud credentials are set"
    )
    assert result.returncode != 0, result.output
    assert "resource 'api': property alicloud:profile value " in result.output, result.output
    assert reason in result.output, result.output
    assert emu.journal() == []
    default_file.unlink()

    # No credentials at all (a PR preview without secrets): fine.
    stack.write_config(base)
    set_triggers(stack, [API])
    result = stack.preview()
    assert "+ 2 to create" in result.output, result.output
    assert emu.journal() == []  # no preview called anything

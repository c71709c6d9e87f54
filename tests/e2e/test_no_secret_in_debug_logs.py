"""Secrets in `pulumi up --debug -v=9 --logtostderr`, the output people paste into bug reports.

Extends the secret grep of ``test_restart_trigger_e2e.py`` (``test_no_secret_reaches_state_...``)
to debug runs, the CLI's own log files and the gRPC debug trace, and pins the one leak this project
cannot close (the pinned CLI is v3.259.0; sources in ``/root/go/pkg/mod/github.com/pulumi/pulumi``):

At ``-v=9`` the engine logs every property it marshals for a provider RPC
(``sdk/go/common/resource/plugin/rpc.go:98``). ``Configure`` marshals the provider's config with
``KeepSecrets: true`` (``provider_plugin.go:1092-1098``, before the request is even sent at
``:1122``), which wraps each secret in a signature object ``{4dabf18193072939515e22adb298388d:
1b47061264138c4ac30d75fd1eb44270, value: <plaintext>}`` (``rpc.go:248``) and marshals that object
like any other (``rpc.go:184-185``), logging its ``value`` key in plaintext:

    Marshaling property for RPC[Provider[0x..].Configure().inputs]: value={<the secret>}

For a dynamic provider the engine sends the *whole* stack config, every namespace
(``pkg/resource/deploy/target.go:52-69``), so every secret in the stack's config leaks this way,
not only ``alicloud:*``. The provider's ``acceptSecrets`` answer plays no part: it is read after
the line is printed, only for later calls (``provider_plugin.go:1146``); a scratch run with the
Python server patched to answer ``acceptSecrets: true`` printed the same two lines. ``CheckConfig``
and ``DiffConfig`` marshal without ``KeepSecrets`` (``provider_plugin.go:686-705``, ``:799-818``)
and print ``{[secret]}`` only. The engine's secret filter (registered with every secure config
value, ``pkg/engine/events.go:439``) misses the line because it filters the unformatted message
and string attributes only (``sdk/go/common/util/logging/log.go:561-587``), before the message is
formatted (``log.go:412-434``).

The same records go to the ``-v`` log file in ``$TMPDIR`` (without ``--logtostderr``,
``log.go:309-326``), to the ``PULUMI_DEBUG_GRPC`` trace (``Configure`` request ``variables`` and
``args``, unredacted), and, on every run whatever ``-v``, to the automatic logs in
``$PULUMI_HOME/logs``, encrypted with the stack's secrets provider (``pkg/logging/encrypted.go``),
that ``pulumi logs decrypt`` shows (base64-encoded values).

What users can do, proven below: give the credentials by environment variables (or a profile
file, or later a role / OIDC token file) so that no long-lived secret is in the stack config;
then nothing leaks anywhere even at ``-v=9``. With secrets in the config, ``-v=8`` or lower prints
no secret, and ``grep -vF '.Configure().inputs]: '`` removes the leaking lines from a log.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import json
import re
import subprocess
from pathlib import Path

import pytest

from restart_trigger.aliyun.endpoints import PRODUCTS
from testbed.emulator import (
    RESTARTS,
    TEST_APP_ID,
    TEST_REGION,
    TEST_STS_ACCESS_KEY_ID,
    TEST_STS_ACCESS_KEY_SECRET,
    TEST_STS_TOKEN,
)
from testbed.pulumi_cli import Result, Stack
from tests.e2e.conftest import set_triggers

pytestmark = pytest.mark.e2e

DEBUG = ("--debug", "-v=9", "--logtostderr")
# A secret of another namespace: the engine passes the whole stack config to dynamic providers.
OTHER_KEY, OTHER_SECRET = "app:databasePassword", "unrelated-database-password"
SECRETS = (TEST_STS_ACCESS_KEY_SECRET, TEST_STS_TOKEN)
TRIGGERS = [{"name": "api", "paths": ["config/api"], "targets": [{"app_id": TEST_APP_ID}]}]
PROPS = "config/api/app.properties"

# The engine's line (rpc.go:98) for the `value` key of a secret's signature object in Configure.
ENGINE_CONFIGURE_LINE = re.compile(
    r'"msg":"Marshaling property for RPC\[Provider\[0x[0-9a-f]+\]\.Configure\(\)\.inputs\]: '
    r'value=\{(?P<value>[^"]*)\}"'
)
# The redaction the README recommends for a log that is to be pasted.
REDACT = ["grep", "-vF", ".Configure().inputs]: "]
_BASE64 = re.compile(rb"[A-Za-z0-9+/]{16,}={0,2}")


def _accepted_restarts(emulator) -> int:
    journal = emulator.journal()
    return sum(1 for e in journal if e["action"] in RESTARTS and e["status"] == 200)


def _readable(data: bytes) -> str:
    """A file's text, gunzipped if it is gzip (the CLI's logs of stackless commands are), with
    base64 blobs decoded too (the automatic logs hold property values base64-encoded)."""
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError):
            pass
    decoded = []
    for blob in _BASE64.findall(data):
        try:
            decoded.append(base64.b64decode(blob + b"=" * (-len(blob) % 4)))
        except (binascii.Error, ValueError):
            continue
    return b"\n".join([data, *decoded]).decode(errors="replace")


def _files(root: Path) -> dict[str, str]:
    return {str(p): _readable(p.read_bytes()) for p in sorted(root.rglob("*")) if p.is_file()}


def _leaks(texts: dict[str, str], secrets=SECRETS) -> dict[str, list[str]]:
    """{text name: [lines holding a secret]}, for the texts that hold one."""
    found = {}
    for name, text in texts.items():
        lines = [line for line in text.splitlines() if any(s in line for s in secrets)]
        if lines:
            found[name] = lines
    return found


def _runs(stack: Stack, start: int = 0) -> dict[str, Result]:
    # Named by position and verb only: `config set` arguments hold the secrets themselves.
    return {
        f"run {i}: pulumi {r.args[1]} {' '.join(a for a in r.args if a.startswith('-v'))}": r
        for i, r in enumerate(stack.log[start:], start)
    }


def _lifecycle(stack: Stack, emulator, *debug: str) -> None:
    """up (creates), preview, up (restarts), refresh, a failing up, each with ``debug``."""
    stack.up(*debug)
    (stack.workdir / PROPS).write_text("pool=11\n")
    stack.preview(*debug)
    stack.up(*debug)
    stack.refresh(*debug)
    emulator.set_faults({"fail_app_ids": [TEST_APP_ID]})  # error texts (and our warnings) too
    (stack.workdir / PROPS).write_text("pool=12\n")
    assert stack.up(*debug, check=False).returncode != 0
    emulator.clear_faults()


def _decrypted_automatic_logs(stack: Stack) -> dict[str, str]:
    logs = Path(stack.env["PULUMI_HOME"]) / "logs"
    out = {}
    for path in sorted(logs.glob("organization+*.log")):
        result = stack.run("logs", "decrypt", str(path), "-s", stack.name)
        out[f"pulumi logs decrypt {path.name}"] = _readable(result.stdout.encode())
    return out


def _endpoints_only(stack: Stack, emulator) -> None:
    stack.config_set("alicloud:region", TEST_REGION)
    for product in PRODUCTS:
        path = f"alicloud:endpoints[0].{product}"
        stack.run("config", "set", "-s", stack.name, "--path", path, emulator.base_url)


def _new(new_stack, tmp_path: Path, name: str, **env: str) -> tuple[Stack, Path]:
    tmpdir = tmp_path / f"{name}-tmpdir"  # where `-v` without --logtostderr writes its log
    tmpdir.mkdir()
    stack = new_stack("main", TMPDIR=str(tmpdir), **env)
    (stack.workdir / PROPS).parent.mkdir(parents=True, exist_ok=True)
    (stack.workdir / PROPS).write_text("pool=10\n")
    return stack, tmpdir


def test_config_secrets_leak_only_through_the_engines_configure_line(emulator, new_stack, tmp_path):
    stack, tmpdir = _new(new_stack, tmp_path, "config")
    stack.use_account(
        emulator.base_url,
        TEST_STS_ACCESS_KEY_ID,
        TEST_STS_ACCESS_KEY_SECRET,
        token=TEST_STS_TOKEN,
        region=TEST_REGION,
    )
    stack.config_set(OTHER_KEY, OTHER_SECRET, secret=True)
    set_triggers(stack, TRIGGERS)
    first_run = len(stack.log)

    _lifecycle(stack, emulator, *DEBUG)
    assert _accepted_restarts(emulator) >= 1  # the STS credentials from the config were used
    (stack.workdir / PROPS).write_text("pool=13\n")
    below = stack.up("--debug", "-v=8", "--logtostderr")
    plain = stack.up()
    to_file = stack.preview("-v=9")  # the log goes to a file in TMPDIR
    stack.destroy(*DEBUG)

    runs = _runs(stack, first_run)
    everything = {
        **{name: r.output for name, r in runs.items()},
        "stack export": json.dumps(stack.export()),
        **_files(Path(stack.env["PULUMI_HOME"])),  # gunzipped; the stack logs are encrypted
        **_files(stack.workdir),  # the stack file holds the secrets encrypted
        "emulator journal": json.dumps(emulator.journal()),
        "emulator stderr": emulator.stderr_text(),
    }
    secrets = (*SECRETS, OTHER_SECRET)
    leaks = _leaks(everything, secrets)

    # Everything we write, and the CLI below -v=9, holds no secret.
    verbose = {name for name, r in runs.items() if "-v=9" in r.args}
    assert set(leaks) <= verbose, f"secret outside -v=9 output: {sorted(set(leaks) - verbose)}"
    assert not _leaks({"-v=8": below.output, "no -v": plain.output, "-v=9 file": to_file.output})

    # In -v=9 output, only the engine's Configure line holds one (the CLI's own leak, pinned by
    # the xfail test below), and the README's redaction removes it.
    for name, lines in leaks.items():
        odd = [line for line in lines if not ENGINE_CONFIGURE_LINE.search(line)]
        assert not odd, f"{name}: secret in a line other than the engine's Configure line: {odd}"
        redacted = subprocess.run(REDACT, input=everything[name], capture_output=True, text=True)
        assert not _leaks({name: redacted.stdout}, secrets)
    # The -v log file in TMPDIR holds the same records, and nothing else with a secret.
    for name, lines in _leaks(_files(tmpdir), secrets).items():
        odd = [line for line in lines if "Configure().inputs]" not in line]
        assert not odd, f"{name}: secret in a line other than the engine's Configure line: {odd}"


@pytest.mark.xfail(
    strict=True,
    reason=(
        "the CLI's own leak: at -v=9 the engine logs Configure's secret config values "
        "(pulumi v3.259.0 sdk/go/common/resource/plugin/rpc.go:98, marshalled with KeepSecrets "
        "at pkg/resource/plugin/provider_plugin.go:1092-1098). When this passes, the CLI was "
        "fixed: drop the caveat in docs/credentials.md and this mark."
    ),
)
def test_the_cli_prints_no_config_secret_at_v9(emulator, new_stack, tmp_path):
    stack, _tmpdir = _new(new_stack, tmp_path, "cli-leak")
    stack.use_account(
        emulator.base_url,
        TEST_STS_ACCESS_KEY_ID,
        TEST_STS_ACCESS_KEY_SECRET,
        token=TEST_STS_TOKEN,
        region=TEST_REGION,
    )
    set_triggers(stack, TRIGGERS)
    preview = stack.preview(*DEBUG)
    assert _leaks({"preview -v=9": preview.output}) == {}


def test_credentials_from_the_environment_leak_nowhere_even_at_v9(emulator, new_stack, tmp_path):
    grpc_trace = tmp_path / "grpc-trace.json"
    stack, tmpdir = _new(
        new_stack,
        tmp_path,
        "env",
        ALICLOUD_ACCESS_KEY=TEST_STS_ACCESS_KEY_ID,
        ALICLOUD_SECRET_KEY=TEST_STS_ACCESS_KEY_SECRET,
        ALICLOUD_SECURITY_TOKEN=TEST_STS_TOKEN,
        PULUMI_DEBUG_GRPC=str(grpc_trace),
    )
    _endpoints_only(stack, emulator)
    set_triggers(stack, TRIGGERS)
    first_run = len(stack.log)

    _lifecycle(stack, emulator, *DEBUG)
    assert _accepted_restarts(emulator) >= 1  # the credentials from the environment were used
    stack.preview("-v=9")  # to the log file in TMPDIR
    stack.destroy(*DEBUG)

    texts = {
        **{name: r.output for name, r in _runs(stack, first_run).items()},
        "stack export": json.dumps(stack.export()),
        "grpc trace": grpc_trace.read_text(),
        **_files(tmpdir),
        **_files(Path(stack.env["PULUMI_HOME"])),
        **_decrypted_automatic_logs(stack),
        **_files(stack.workdir),
        "emulator stderr": emulator.stderr_text(),
    }
    assert any("Configure().inputs]" in t for t in texts.values())  # the -v=9 lines are there
    assert _leaks(texts) == {}

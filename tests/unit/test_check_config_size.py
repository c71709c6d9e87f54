"""scripts/check-config-size.py: the PULUMI_CONFIG size, the verdict and its message.

The expected encodings below are what Go's json.Marshal (the language host's serialiser)
printed for these strings; tests/e2e/test_oversized_config.py checks the whole count against
the real CLI at the kernel's limit, byte for byte.
"""

from __future__ import annotations

import importlib.util
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "check-config-size.py"
_spec = importlib.util.spec_from_file_location("check_config_size", SCRIPT)
ccs = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(ccs)

TRIGGERS = "restart-trigger:triggers"
SECRET = "s3cr3t-do-not-print"
TARGET_ID = "fleet-app-0042"


def padded(size: int, *, key: str = "restart-trigger:pad", base: dict | None = None) -> dict:
    """A config whose PULUMI_CONFIG=<json> string is exactly `size` bytes."""
    base = dict(base or {})
    value = "x" * (size - ccs.env_string_size({**base, key: ""}))
    config = {**base, key: value}
    assert ccs.env_string_size(config) == size
    return config


def big_triggers(n: int = 4600) -> str:
    """The value of restart-trigger:triggers as the CLI passes it: compact JSON text."""
    targets = [{"app_id": f"fleet-app-{i:04d}"} for i in range(n)]
    return json.dumps(
        [{"name": "fleet", "paths": ["config/fleet"], "targets": targets}], separators=(",", ":")
    )


def cli_json(config: dict[str, str], secret: tuple[str, ...] = ()) -> str:
    """`pulumi config --json --show-secrets` output for this config."""
    out = {}
    for k, v in config.items():
        entry = {"value": v, "secret": k in secret}
        if v.startswith("["):
            entry["objectValue"] = json.loads(v)
        out[k] = entry
    return json.dumps(out)


# -- the count --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "go"),
    [
        ("plain", '"plain"'),
        ("a<b>&c", '"a\\u003cb\\u003e\\u0026c"'),
        ('tab\there "q" back\\slash', '"tab\\there \\"q\\" back\\\\slash"'),
        ("\x01\x1f\x7f", '"\\u0001\\u001f\x7f"'),
        ("é 中 😀", '"é 中 😀"'),
        ("\b\f\r\n", '"\\b\\f\\r\\n"'),
        ("\u2028\u2029", '"\\u2028\\u2029"'),
        ("\x00\x0b", '"\\u0000\\u000b"'),
        ("\ud800", '"\\ufffd"'),  # a lone surrogate is invalid UTF-8 to Go
    ],
)
def test_strings_are_quoted_as_go_json_marshal_quotes_them(text, go):
    assert ccs.go_json_string(text) == go


def test_the_env_string_is_the_name_and_the_sorted_compact_json_map():
    config = {"restart-trigger:b": "2", "alicloud:region": "cn-hangzhou"}
    env = 'PULUMI_CONFIG={"alicloud:region":"cn-hangzhou","restart-trigger:b":"2"}'
    assert ccs.go_json_map(config) == env.split("=", 1)[1]
    assert ccs.env_string_size(config) == len(env)
    assert ccs.env_string_size({}) == len("PULUMI_CONFIG={}")


def test_object_values_are_json_in_json_so_their_quotes_count_twice():
    value = '[{"a":"b"}]'
    assert ccs.env_string_size({"p:k": value}) == len('PULUMI_CONFIG={"p:k":"[{\\"a\\":\\"b\\"}]"}')


def test_sizes_count_utf8_bytes_not_characters():
    assert ccs.env_string_size({"p:k": "é"}) - ccs.env_string_size({"p:k": "e"}) == 1
    assert ccs.env_string_size({"p:k": "😀"}) - ccs.env_string_size({"p:k": "e"}) == 3


def test_key_sizes_add_up_to_the_whole_string():
    config = {TRIGGERS: big_triggers(10), "alicloud:secretKey": SECRET, "x:y": '<"&>'}
    sizes = ccs.key_sizes(config)
    # the name, "=", the braces, and one comma fewer than keys
    assert sum(sizes.values()) + len("PULUMI_CONFIG=") + 2 - 1 == ccs.env_string_size(config)


def test_the_budget_is_the_kernel_limit_less_its_nul_and_a_margin():
    assert ccs.MAX_ARG_STRLEN == 131_072 == 32 * 4096
    assert ccs.BUDGET == ccs.MAX_ARG_STRLEN - 1 - ccs.MARGIN
    assert 0 < ccs.MARGIN <= 4096


# -- reading `pulumi config --json --show-secrets` -------------------------------------------------


def test_cli_json_values_are_the_strings_the_engine_passes():
    triggers = big_triggers(2)
    data = json.loads(
        cli_json({TRIGGERS: triggers, "alicloud:secretKey": SECRET}, ("alicloud:secretKey",))
    )
    assert ccs.config_from_cli_json(data) == {TRIGGERS: triggers, "alicloud:secretKey": SECRET}


def test_a_secret_without_its_value_is_an_error_naming_the_key_not_a_guess():
    data = {"alicloud:secretKey": {"secret": True}, "alicloud:region": {"value": "cn-hangzhou"}}
    with pytest.raises(ValueError, match=r"alicloud:secretKey .*--show-secrets"):
        ccs.config_from_cli_json(data)
    with pytest.raises(ValueError):
        ccs.config_from_cli_json(["not", "a", "mapping"])


# -- the verdict at the boundary ---------------------------------------------------------------


def test_exactly_the_budget_passes_and_one_byte_more_fails():
    assert ccs.verdict(padded(ccs.BUDGET)) is None
    assert ccs.verdict(padded(ccs.BUDGET + 1)) is not None
    assert ccs.verdict(padded(ccs.MAX_ARG_STRLEN - 1)) is not None  # inside the margin


def test_one_escaped_character_tips_it_over():
    config = padded(ccs.BUDGET)
    (key,) = config
    assert ccs.verdict({key: config[key][:-1] + "y"}) is None
    assert ccs.verdict({key: config[key][:-1] + '"'}) is not None  # `\"`: one byte more
    assert ccs.verdict({key: config[key][:-6] + "<"}) is None  # `\u003c`: six bytes
    assert ccs.verdict({key: config[key][:-5] + "<"}) is not None


def test_a_warning_near_the_budget_but_not_below_90_percent():
    assert ccs.warning(padded(int(ccs.BUDGET * 0.8))) is None
    near = ccs.warning(padded(ccs.BUDGET))
    assert near and "100%" in near and "restart-trigger:triggersFile" in near
    assert ccs.warning(padded(ccs.BUDGET + 1)) is None  # that is the error's job


# -- the message -------------------------------------------------------------------------------


def test_the_message_names_the_limit_the_size_the_largest_keys_and_the_fix_never_a_value():
    config = {
        TRIGGERS: big_triggers(),
        "alicloud:secretKey": SECRET,
        "alicloud:region": "cn-hangzhou",
    }
    total = ccs.env_string_size(config)
    message = ccs.verdict(config, stack="dev")
    assert message is not None
    assert "131,072 bytes" in message and "MAX_ARG_STRLEN" in message
    assert f"{total:,} bytes" in message and f"{ccs.BUDGET:,} bytes" in message
    assert "argument list too long" in message
    lines = message.splitlines()
    (triggers_line,) = [ln for ln in lines if ln.strip().startswith(TRIGGERS)]
    n = ccs.key_sizes(config)[TRIGGERS]
    assert f"{n:,} bytes ({n / 1024:.1f} KiB)" in triggers_line
    assert 140 * 1024 < n < 150 * 1024
    # largest first
    keys = [ln.split()[0] for ln in lines if ln.startswith("  ") and "bytes" in ln]
    assert keys == [TRIGGERS, "alicloud:secretKey", "alicloud:region"]
    assert "  pulumi config get --stack dev restart-trigger:triggers > triggers.json" in lines
    assert "  pulumi config rm --stack dev restart-trigger:triggers" in lines
    assert "  pulumi config set --stack dev restart-trigger:triggersFile triggers.json" in lines
    for value in (SECRET, TARGET_ID, "config/fleet", "cn-hangzhou"):
        assert value not in message


def test_at_most_five_keys_are_listed():
    config = padded(ccs.BUDGET + 10, key="p:pad", base={f"p:k{i}": "v" * i for i in range(20)})
    message = ccs.verdict(config)
    listed = [ln for ln in message.splitlines() if ln.startswith("  p:")]
    assert [ln.split()[0] for ln in listed] == ["p:pad", "p:k19", "p:k18", "p:k17", "p:k16"]


def test_without_a_big_triggers_key_the_fix_is_to_shrink_the_largest_keys():
    base = {TRIGGERS: big_triggers(1)}
    config = padded(ccs.BUDGET + 5000, key="app:certificate", base=base)
    message = ccs.verdict(config)
    assert "app:certificate" in message and "shrink the largest keys" in message
    assert "pulumi config get" not in message


def test_when_moving_the_triggers_is_not_enough_it_says_so():
    base = {TRIGGERS: big_triggers()}
    config = padded(ccs.BUDGET + ccs.key_sizes(base)[TRIGGERS] + 100, base=base)
    assert ccs.key_sizes(config)["restart-trigger:pad"] < ccs.key_sizes(config)[TRIGGERS]
    message = ccs.verdict(config)
    assert "pulumi config set restart-trigger:triggersFile" in message
    assert "The other keys alone come to" in message


# -- the command -------------------------------------------------------------------------------


def run_main(monkeypatch, capsys, stdin: str, *args: str):
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    rc = ccs.main(["-", *args])
    out, err = capsys.readouterr()
    return rc, out, err


def test_stdin_too_big_exits_1_with_the_message_on_stderr(monkeypatch, capsys):
    config = {TRIGGERS: big_triggers(), "alicloud:secretKey": SECRET}
    rc, out, err = run_main(monkeypatch, capsys, cli_json(config, ("alicloud:secretKey",)))
    assert (rc, out) == (1, "")
    assert TRIGGERS in err and SECRET not in err and TARGET_ID not in err


def test_stdin_that_fits_exits_0_silently(monkeypatch, capsys):
    rc, out, err = run_main(monkeypatch, capsys, cli_json({TRIGGERS: big_triggers(10)}))
    assert (rc, out, err) == (0, "", "")


def test_unreadable_input_exits_2_without_echoing_it(monkeypatch, capsys):
    rc, out, err = run_main(monkeypatch, capsys, '{"alicloud:secretKey": {"value": "' + SECRET)
    assert (rc, out) == (2, "")
    assert "cannot read the stack config" in err and SECRET not in err


def test_the_script_runs_as_a_program(tmp_path):
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "-"],
        input=cli_json({TRIGGERS: big_triggers()}),
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 1 and TRIGGERS in proc.stderr and TARGET_ID not in proc.stderr


@pytest.fixture
def fake_pulumi(tmp_path, monkeypatch):
    """A `pulumi` on PATH that prints $FAKE_CONFIG for `config --json` and logs its argv."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "calls.log"
    script = bin_dir / "pulumi"
    script.write_text(
        f"#!{sys.executable}\n"
        "import os, sys\n"
        f"open({str(log)!r}, 'a').write(' '.join(sys.argv[1:]) + '\\n')\n"
        "if os.environ.get('FAKE_FAIL'):\n"
        "    sys.stderr.write('error: incorrect passphrase\\n'); sys.exit(255)\n"
        "sys.stdout.write(open(os.environ['FAKE_CONFIG']).read())\n"
    )
    script.chmod(0o755)
    project = tmp_path / "project"
    project.mkdir()
    (project / "Pulumi.yaml").write_text("name: restart-trigger\nruntime: python\n")
    (project / "Pulumi.dev.yaml").write_text("config:\n  a:b: c\n")
    monkeypatch.chdir(project)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    config_file = tmp_path / "config.json"
    monkeypatch.setenv("FAKE_CONFIG", str(config_file))

    def calls() -> list[str]:
        return log.read_text().splitlines() if log.exists() else []

    def set_config(config: dict[str, str]) -> None:
        config_file.write_text(cli_json(config))

    set_config({TRIGGERS: big_triggers(10)})
    return calls, set_config, project


def test_it_runs_pulumi_config_with_secrets_for_the_stack(fake_pulumi, capsys):
    calls, _, _ = fake_pulumi
    assert ccs.main(["--stack", "dev"]) == 0
    assert calls() == ["config --json --show-secrets --non-interactive --stack dev"]


def test_a_failing_pulumi_config_exits_2_with_its_error(fake_pulumi, capsys, monkeypatch):
    monkeypatch.setenv("FAKE_FAIL", "1")
    assert ccs.main(["--stack", "dev"]) == 2
    assert "incorrect passphrase" in capsys.readouterr().err


def test_a_pass_is_cached_until_the_stack_file_changes(fake_pulumi, tmp_path, capsys):
    calls, set_config, project = fake_pulumi
    cache = str(tmp_path / "cache")
    assert ccs.main(["--stack", "dev", "--cache", cache]) == 0
    assert ccs.main(["--stack", "dev", "--cache", cache]) == 0
    assert len(calls()) == 1  # the second run trusted the cache
    assert (tmp_path / "cache" / "config-size-check" / "dev.ok").read_text().strip().isalnum()

    # the stack file changed: checked again, and a failure is never cached
    set_config({TRIGGERS: big_triggers()})
    (project / "Pulumi.dev.yaml").write_text("config:\n  a:b: d\n")
    assert ccs.main(["--stack", "dev", "--cache", cache]) == 1
    assert ccs.main(["--stack", "dev", "--cache", cache]) == 1
    assert len(calls()) == 3
    assert SECRET not in "".join(p.read_text() for p in (tmp_path / "cache").rglob("*.ok"))


def test_no_cache_without_a_stack_file_or_with_another_config_folder(fake_pulumi, tmp_path):
    calls, _, project = fake_pulumi
    cache = str(tmp_path / "cache")
    (project / "Pulumi.yaml").write_text("name: x\nruntime: python\nstackConfigDir: stacks\n")
    assert ccs.main(["--stack", "dev", "--cache", cache]) == 0
    assert ccs.main(["--stack", "dev", "--cache", cache]) == 0
    assert ccs.main(["--stack", "prod", "--cache", cache]) == 0  # no Pulumi.prod.yaml
    assert ccs.main(["--stack", "prod", "--cache", cache]) == 0
    assert len(calls()) == 4

"""The project's `pulumi` runs any Python project with the virtualenv its Pulumi.yaml names.

A user's own project, outside this repository, with its own virtualenv: the program and the
dynamic-provider process the engine starts for a `pulumi.dynamic.Resource` must both run with
that virtualenv's Python, with nothing but the CLI's folder on PATH, as with the official CLI:
with no PULUMI_PYTHON_CMD, and with one holding an absolute path to another Python (the official
pip toolchain ignores the variable when a virtualenv is set). Self-contained on purpose: it
imports nothing from this repository and finds the CLI the way the Makefile does
(scripts/env.sh, then `pulumi` on PATH).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]

# Reports which Python ran the program and which one ran the dynamic provider's create().
PROGRAM = """\
import sys

import pulumi
from pulumi.dynamic import CreateResult, Resource, ResourceProvider


class WhichPython(ResourceProvider):
    def create(self, props):
        return CreateResult("which-python", {"prefix": sys.prefix, "value": props["value"]})


class Probe(Resource):
    prefix: pulumi.Output[str]
    value: pulumi.Output[str]

    def __init__(self, name, value):
        super().__init__(WhichPython(), name, {"value": value, "prefix": None})


probe = Probe("probe", "hello from " + pulumi.get_project())
pulumi.export("program_prefix", sys.prefix)
pulumi.export("provider_prefix", probe.prefix)
pulumi.export("value", probe.value)
"""


def pinned_pulumi() -> str:
    text = (REPO / "requirements.txt").read_text()
    match = re.search(r"^pulumi==(\S+)", text, re.MULTILINE)
    assert match, "requirements.txt pins no pulumi version"
    return match.group(1)


def project_cli() -> Path:
    """The `pulumi` that `make` runs: first on PATH after sourcing scripts/env.sh."""
    out = subprocess.run(
        ["bash", "-c", 'source "$1" >/dev/null && command -v pulumi', "-", REPO / "scripts/env.sh"],
        capture_output=True,
        text=True,
    )
    if out.returncode != 0:
        pytest.fail("no pulumi CLI on PATH: run `make setup` (scripts/ensure-pulumi.sh)")
    return Path(out.stdout.strip())


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A plain virtualenv (no system site-packages) with the pinned Python SDK, from pip."""
    path = tmp_path_factory.mktemp("user") / "shared" / "venv"
    subprocess.run([sys.executable, "-m", "venv", path], check=True)
    pip = [path / "bin/python", "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*pip, f"pulumi=={pinned_pulumi()}"], check=True)
    return path


def make_project(base: Path, case: str, venv: Path) -> tuple[Path, str]:
    """A user project for one case; returns (its folder, its `virtualenv` option)."""
    if case == "relative":
        # The venv's own parent folder is the project: `virtualenv: venv`, as `pulumi new` writes.
        root, option, main = venv.parent, "venv", None
    elif case == "absolute":
        root, option, main = base / "absolute", str(venv), None
    else:
        # `main: src`: a relative virtualenv is resolved against the project root, not `src`.
        root, option, main = base / "main-subfolder", f"../{venv.parent.name}/venv", "src"
    program_dir = root / main if main else root
    program_dir.mkdir(parents=True, exist_ok=True)
    lines = [f"name: venv-{case}", *([f"main: {main}"] if main else [])]
    lines += ["runtime:", "  name: python", "  options:", f"    virtualenv: {option}"]
    (root / "Pulumi.yaml").write_text("\n".join(lines) + "\n")
    (program_dir / "__main__.py").write_text(PROGRAM)
    return root, option


@pytest.mark.parametrize(
    ("case", "python_cmd"),
    [
        ("relative", False),
        ("absolute", False),
        ("main-subfolder", False),
        ("absolute", True),
        ("relative", True),
    ],
    ids=lambda v: {True: "PULUMI_PYTHON_CMD", False: "no-PULUMI_PYTHON_CMD"}.get(v, v),
)
def test_program_and_dynamic_provider_use_the_projects_virtualenv(
    case: str, python_cmd: bool, venv: Path, tmp_path: Path
) -> None:
    cli = project_cli()
    root, option = make_project(venv.parent.parent, case, venv)
    (tmp_path / "backend").mkdir()
    env = {
        # Only the CLI's folder and the system's: no virtualenv's bin, no PULUMI_PYTHON_CMD.
        "PATH": f"{cli.parent}:/usr/bin:/bin",
        "HOME": str(tmp_path / "home"),
        "PULUMI_HOME": str(tmp_path / "pulumi-home"),
        "PULUMI_BACKEND_URL": f"file://{tmp_path / 'backend'}",
        "PULUMI_CONFIG_PASSPHRASE": "venv-test-passphrase",
        "PULUMI_SKIP_UPDATE_CHECK": "true",
        "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
    }
    if python_cmd:
        # An absolute path to a Python outside the virtualenv: ignored when one is set.
        env["PULUMI_PYTHON_CMD"] = str(Path(sys.executable).resolve())

    def pulumi(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [cli, *args, "--non-interactive"],
            cwd=root,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        if check and proc.returncode != 0:
            pytest.fail(
                f"`pulumi {' '.join(args)}` exited {proc.returncode} (virtualenv: {option})\n"
                f"--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}"
            )
        return proc

    pulumi("stack", "init", "dev")
    destroyed = False
    try:
        preview = pulumi("preview")
        assert "+ 2 to create" in preview.stdout

        up = pulumi("up", "--yes", "--skip-preview")
        assert "2 created" in up.stdout

        outputs = json.loads(pulumi("stack", "output", "--json").stdout)
        assert outputs["value"] == f"hello from venv-{case}"
        assert Path(outputs["program_prefix"]).resolve() == venv.resolve()
        assert Path(outputs["provider_prefix"]).resolve() == venv.resolve()

        destroy = pulumi("destroy", "--yes", "--skip-preview")
        assert "2 deleted" in destroy.stdout
        destroyed = True
    finally:
        if not destroyed:
            pulumi("destroy", "--yes", "--skip-preview", check=False)
        pulumi("stack", "rm", "dev", "--yes", "--force", check=False)

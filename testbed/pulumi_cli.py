"""Drive the real Pulumi CLI from tests and benchmarks.

The environment comes from ``scripts/env.sh`` (the project's one place for offline,
non-interactive defaults), with the backend moved to a temporary folder so runs never touch
the demo stack's state. Programs live in ``testbed/programs/<name>/`` and are copied to a
temporary folder per run, so stack config files never land in the repository.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from restart_trigger.aliyun.endpoints import PRODUCTS

REPO = Path(__file__).resolve().parents[1]
PROGRAMS = REPO / "testbed" / "programs"

# Credentials and settings from the developer's own shell must not leak into tests.
_SCRUBBED_PREFIXES = ("ALICLOUD_", "ALIBABA_CLOUD_", "ALIBABACLOUD_", "PULUMI_")


@cache
def _env_from_script() -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(_SCRUBBED_PREFIXES)}
    out = subprocess.run(
        ["bash", "-c", 'source "$1" && env -0', "env.sh", str(REPO / "scripts" / "env.sh")],
        env=base,
        check=True,
        capture_output=True,
    ).stdout
    pairs = (item.split("=", 1) for item in out.decode().split("\0") if "=" in item)
    return dict(pairs)


def pulumi_env(
    backend_dir: Path, home_dir: Path, *, testbed: bool = True, **extra: str
) -> dict[str, str]:
    """The environment for one test's CLI runs: scripts/env.sh, a private backend and HOME.

    ``testbed``: the program imports ``testbed`` (fleet ids, the no-op resource). Programs are
    copied outside the repo, so the program and the dynamic provider process (started by the
    engine) then get the checkout on PYTHONPATH. ``restart_trigger`` itself always comes from
    the virtualenv, where it is installed."""
    env = dict(_env_from_script())
    env["PULUMI_BACKEND_URL"] = f"file://{backend_dir}"
    env["HOME"] = str(home_dir)  # no ~/.aliyun/config.json of the developer's
    if testbed:
        env["PYTHONPATH"] = str(REPO)
    env.update(extra)
    return env


@cache
def cli_identity() -> tuple[str, str]:
    """(path, version) of the pulumi the tests run."""
    env = _env_from_script()
    path = shutil.which("pulumi", path=env["PATH"])
    if path is None:
        raise RuntimeError("no pulumi CLI on PATH: run `make setup` (scripts/ensure-pulumi.sh)")
    version = subprocess.run(
        [path, "version"], env=env, check=True, capture_output=True, text=True
    ).stdout.strip()
    return path, version


class PulumiError(AssertionError):
    """A CLI command failed; carries its output for the test report."""


@dataclass
class Result:
    args: list[str]
    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def copy_program(name: str, dest: Path) -> Path:
    """Copy a program to dest, pointing its virtualenv at the repo's .venv.

    ``main`` is the project's own example stack (Pulumi.yaml and __main__.py at the repo
    root); other names are folders under testbed/programs/.
    """
    if name == "main":
        dest.mkdir(parents=True, exist_ok=True)
        for file in ("Pulumi.yaml", "__main__.py"):
            shutil.copy(REPO / file, dest / file)
    else:
        shutil.copytree(PROGRAMS / name, dest, dirs_exist_ok=True)
    manifest = dest / "Pulumi.yaml"
    text = manifest.read_text().replace("virtualenv: .venv", f"virtualenv: {REPO / '.venv'}")
    manifest.write_text(text)
    return dest


class Stack:
    """One stack of a program folder, driven through the CLI."""

    def __init__(self, workdir: Path, name: str, env: dict[str, str]) -> None:
        self.workdir = workdir
        self.name = name
        self.env = env
        self.log: list[Result] = []

    def run(self, *args: str, check: bool = True, timeout: float = 900) -> Result:
        cmd = ["pulumi", *args, "--non-interactive"]
        proc = subprocess.run(
            cmd,
            cwd=self.workdir,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        result = Result(cmd, proc.returncode, proc.stdout, proc.stderr)
        self.log.append(result)
        if check and proc.returncode != 0:
            raise PulumiError(
                f"`{' '.join(cmd)}` exited {proc.returncode}\n--- stdout\n{proc.stdout}"
                f"\n--- stderr\n{proc.stderr}"
            )
        return result

    # Stack lifecycle -----------------------------------------------------------------------
    def init(self) -> Result:
        return self.run("stack", "init", self.name)

    def config_set(self, key: str, value: str, *, secret: bool = False) -> Result:
        args = ["config", "set", "-s", self.name, key, value]
        if secret:
            args.append("--secret")
        return self.run(*args)

    def use_account(
        self,
        endpoint: str,
        access_key_id: str,
        secret: str,
        *,
        token: str | None = None,
        region: str = "cn-hangzhou",
    ) -> None:
        """Point the stack's alicloud:* config at an endpoint (the emulator) with these keys;
        the secret and the token are stored as secrets, as a user would."""
        self.config_set("alicloud:accessKey", access_key_id)
        self.config_set("alicloud:secretKey", secret, secret=True)
        if token:
            self.config_set("alicloud:securityToken", token, secret=True)
        self.config_set("alicloud:region", region)
        for product in PRODUCTS:
            path = f"alicloud:endpoints[0].{product}"
            self.run("config", "set", "-s", self.name, "--path", path, endpoint)

    def write_config(self, config: dict[str, Any]) -> None:
        """Replace the stack's config file (JSON values are valid YAML), keeping its salt."""
        path = self.workdir / f"Pulumi.{self.name}.yaml"
        kept = [line for line in path.read_text().splitlines() if line.startswith("encryptionsalt")]
        lines = [*kept, "config:", *(f"  {k}: {json.dumps(v)}" for k, v in config.items())]
        path.write_text("\n".join(lines) + "\n")

    def preview(self, *extra: str, check: bool = True) -> Result:
        return self.run("preview", "-s", self.name, *extra, check=check)

    def preview_json(self, *extra: str) -> dict[str, Any]:
        return json.loads(self.run("preview", "-s", self.name, "--json", *extra).stdout)

    def up(self, *extra: str, check: bool = True) -> Result:
        return self.run("up", "-s", self.name, "--yes", "--skip-preview", *extra, check=check)

    def refresh(self, *extra: str, check: bool = True) -> Result:
        return self.run("refresh", "-s", self.name, "--yes", "--skip-preview", *extra, check=check)

    def destroy(self, *extra: str, check: bool = True) -> Result:
        return self.run("destroy", "-s", self.name, "--yes", "--skip-preview", *extra, check=check)

    def export(self) -> dict[str, Any]:
        return json.loads(self.run("stack", "export", "-s", self.name).stdout)

    def outputs(self, *, show_secrets: bool = False) -> dict[str, Any]:
        args = ["stack", "output", "-s", self.name, "--json"]
        if show_secrets:
            args.append("--show-secrets")
        return json.loads(self.run(*args).stdout)

    def rm(self) -> Result:
        return self.run("stack", "rm", self.name, "--yes")

    def resources(self, type_suffix: str = "") -> list[dict[str, Any]]:
        """Resources in the exported state, optionally only those whose type ends with suffix."""
        deployment = self.export()["deployment"]
        return [r for r in deployment.get("resources", []) if r["type"].endswith(type_suffix)]

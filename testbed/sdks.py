"""The generated alirestart SDKs (sdk/) made usable by test programs, from pinned packages
installed once into a cache folder (``RESTART_TRIGGER_CACHE``, default
``~/.cache/restart-trigger``) keyed by the pins, so a second run reuses it.

Used by tests/e2e/test_sdks.py (the SDKs build and run on mocks) and
tests/e2e/test_plugin_e2e.py (programs on the SDKs against the plugin and the emulator).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SDK = REPO / "sdk"
VENV_PYTHON = REPO / ".venv" / "bin" / "python"

# Pins of what the checks install (the generated package.json asks for TypeScript ^4.7.0 and
# @types/node ^20: the newest of each; @pulumi/pulumi as the CLI's release).
NPM_PINS = {"typescript": "4.9.5", "@pulumi/pulumi": "3.259.0", "@types/node": "20.19.43"}
# The Python SDK imports parver (its version handling); the project's .venv has pulumi and
# semver but not parver. attrs and Arpeggio are parver's requirements.
PIP_PINS = {"parver": "0.5", "Arpeggio": "2.0.3", "attrs": "26.1.0"}

_CREDENTIAL_PREFIXES = ("ALICLOUD_", "ALIBABA_CLOUD_", "ALIBABACLOUD_", "PULUMI_")


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without Alibaba Cloud or Pulumi settings (the SDKs read
    ALICLOUD_* as provider defaults), plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_CREDENTIAL_PREFIXES)}
    env.update(extra)
    return env


def run(
    cmd: list[str], *, cwd: Path = REPO, env: dict[str, str] | None = None, timeout: float = 900
) -> subprocess.CompletedProcess[str]:
    start = time.monotonic()
    proc = subprocess.run(
        cmd,
        cwd=cwd,
        env=env if env is not None else clean_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
    took = time.monotonic() - start
    print(f"$ {' '.join(map(str, cmd))}  (in {cwd}, {took:.1f}s, exit {proc.returncode})")
    return proc


def ok(proc: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert proc.returncode == 0, (
        f"{' '.join(map(str, proc.args))} failed ({proc.returncode}):\n"
        f"{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    )
    return proc


def cache_root() -> Path:
    if os.environ.get("RESTART_TRIGGER_CACHE"):
        return Path(os.environ["RESTART_TRIGGER_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "restart-trigger"


def cached(name: str, fill: Callable[[Path], object]) -> Path:
    """A cache folder, filled once by ``fill(folder)``: built beside it, then renamed, so an
    interrupted fill is never taken for a complete one."""
    dest = cache_root() / name
    if dest.is_dir():
        return dest
    tmp = dest.with_name(f"{dest.name}.tmp.{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        fill(tmp)
        try:
            tmp.rename(dest)
        except OSError:  # filled meanwhile by another run
            if not dest.is_dir():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return dest


def copy_sdk(lang: str, dest: Path) -> Path:
    ignore = shutil.ignore_patterns(
        "node_modules", "bin", "__pycache__", "*.pyc", "build", "dist", "*.egg-info"
    )
    shutil.copytree(SDK / lang, dest, ignore=ignore)
    return dest


def pip(*args: str) -> subprocess.CompletedProcess[str]:
    return ok(run([str(VENV_PYTHON), "-m", "pip", "--disable-pip-version-check", "-q", *args]))


def python_sdk_deps() -> Path:
    """The pinned packages the Python SDK needs beyond the .venv's (a ``--target`` folder)."""
    key = "-".join(f"{name.lower()}{version}" for name, version in PIP_PINS.items())
    specs = [f"{name}=={version}" for name, version in PIP_PINS.items()]
    return cached(
        f"sdk-python-{key}-py{sys.version_info.major}{sys.version_info.minor}",
        lambda folder: pip("install", "--no-deps", "--no-compile", "--target", str(folder), *specs),
    )


def install_python_sdk(dest: Path) -> Path:
    """sdk/python installed (as a user would: its metadata holds its version) into ``dest``
    from a copy (a build writes beside its sources)."""
    source = copy_sdk("python", dest.with_name(dest.name + "-src"))
    pip("install", "--no-deps", "--no-compile", "--target", str(dest), str(source))
    return dest


def python_sdk_path(tmp: Path) -> str:
    """A PYTHONPATH on which ``import pulumi_alirestart`` works with the .venv's Python."""
    return f"{install_python_sdk(tmp / 'site')}{os.pathsep}{python_sdk_deps()}"


def node_modules() -> Path:
    """``typescript``, ``@pulumi/pulumi`` and ``@types/node`` at the pins (npm, no scripts)."""
    if shutil.which("npm") is None or shutil.which("node") is None:
        raise AssertionError(
            "node and npm are needed for the TypeScript SDK (polyglot machines have them)"
        )
    key = "-".join(f"{name.replace('@', '').replace('/', '_')}{v}" for name, v in NPM_PINS.items())

    def fill(folder: Path) -> None:
        (folder / "package.json").write_text('{"private": true}\n')
        specs = [f"{name}@{version}" for name, version in NPM_PINS.items()]
        ok(
            run(
                ["npm", "install", "--no-audit", "--no-fund", "--ignore-scripts", *specs],
                cwd=folder,
            )
        )

    return cached(f"sdk-nodejs-{key}", fill) / "node_modules"

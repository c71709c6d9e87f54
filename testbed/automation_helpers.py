"""Build the Automation API drivers (testbed/automation/ts and /go) on the generated SDKs, and
check that the examples (examples/typescript, examples/go) compile against them.

Builds are cached with testbed/sdks.py's ``cached`` (``RESTART_TRIGGER_CACHE``), keyed by the
pins and a digest of every input file (the driver, the SDK, go.mod/go.sum), so a warm run
reuses them and any change rebuilds.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

from testbed.sdks import NPM_PINS, REPO, SDK, cached, clean_env, copy_sdk, node_modules, ok, run

AUTOMATION = REPO / "testbed" / "automation"
EXAMPLES = REPO / "examples"
PULUMI_ROOT = REPO / ".tools"  # the CLI is <root>/bin/pulumi
GO_SDK_MODULE = "github.com/restart-trigger/restart-trigger/sdk/go"
PULUMI_SDK_VERSION = "v3.259.0"


def _digest(*folders: Path, extra: str = "") -> str:
    h = hashlib.sha256(extra.encode())
    for folder in folders:
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            if {"node_modules", "bin"} & set(path.relative_to(folder).parts):
                continue
            h.update(str(path.relative_to(REPO)).encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def _tsc(work: Path, *args: str) -> subprocess.CompletedProcess[str]:
    tsc = work / "node_modules" / "typescript" / "bin" / "tsc"
    return run(["node", str(tsc), *args], cwd=work)


def _link_node_modules(work: Path, sdk_bin: Path) -> None:
    """``work/node_modules``: @pulumi/pulumi, typescript, @types/node from the pinned cache and
    ``@restart-trigger/alirestart`` as the compiled SDK (relative, so a renamed cache folder
    keeps working). Node resolves symlinks to real paths, so the program and the SDK load one
    @pulumi/pulumi (an inline program needs that)."""
    modules = node_modules()
    nm = work / "node_modules"
    nm.mkdir()
    for name in ("@pulumi", "@types", "typescript"):
        (nm / name).symlink_to(modules / name, target_is_directory=True)
    (nm / "@restart-trigger").mkdir()
    link = nm / "@restart-trigger" / "alirestart"
    link.symlink_to(os.path.relpath(sdk_bin, link.parent), target_is_directory=True)


def ts_driver() -> Path:
    """The compiled TypeScript driver: ``<folder>/driver/bin/driver.js``."""
    pins = "-".join(f"{n}{v}" for n, v in NPM_PINS.items())
    key = _digest(SDK / "nodejs", AUTOMATION / "ts", extra=pins)

    def fill(folder: Path) -> None:
        sdk = copy_sdk("nodejs", folder / "sdk")
        (sdk / "node_modules").symlink_to(node_modules(), target_is_directory=True)
        ok(_tsc(sdk, "-p", "tsconfig.json"))
        # The SDK reads its version from the package.json beside its compiled files.
        shutil.copy(sdk / "package.json", sdk / "bin" / "package.json")
        driver = folder / "driver"
        shutil.copytree(AUTOMATION / "ts", driver)
        _link_node_modules(driver, sdk / "bin")
        ok(_tsc(driver, "-p", "tsconfig.json"))

    return cached(f"automation-ts-{key}", fill)


def ts_command(folder: Path) -> list[str]:
    return ["node", str(folder / "driver" / "bin" / "driver.js")]


def go_env(**extra: str) -> dict[str, str]:
    """readonly: the committed go.mod and go.sum must be enough (the module cache, no proxy);
    trimpath: a copy of the SDK at a new path reuses the build cache."""
    return clean_env(
        GOTOOLCHAIN="local",
        GOFLAGS="-mod=readonly -buildvcs=false -trimpath",
        GOWORK="off",
        **extra,
    )


def _go_version() -> str:
    return subprocess.run(
        ["go", "env", "GOVERSION"], capture_output=True, text=True, check=True
    ).stdout.strip()


def _go_module_copy(source: Path, dest: Path, sdk_copy: Path) -> Path:
    """A copy of a Go module whose replace points at ``sdk_copy`` (a copy of sdk/go)."""
    shutil.copytree(source, dest, ignore=shutil.ignore_patterns("bin"))
    ok(
        run(
            ["go", "mod", "edit", f"-replace={GO_SDK_MODULE}={sdk_copy}"],
            cwd=dest,
            env=go_env(),
        )
    )
    return dest


def go_driver() -> Path:
    """The built Go driver: ``<folder>/driver``."""
    key = _digest(SDK / "go", AUTOMATION / "go", extra=_go_version())

    def fill(folder: Path) -> None:
        sdk = copy_sdk("go", folder / "sdk-go")
        work = _go_module_copy(AUTOMATION / "go", folder / "src", sdk)
        ok(run(["go", "build", "-o", str(folder / "driver"), "."], cwd=work, env=go_env()))
        # The binary is all a run needs; the sources stay for reading.

    return cached(f"automation-go-{key}", fill)


def go_command(folder: Path) -> list[str]:
    return [str(folder / "driver")]


def _edit(path: Path, replace: tuple[str, str] | None) -> None:
    if replace:
        text = path.read_text()
        assert replace[0] in text, (path, replace)
        path.write_text(text.replace(*replace))


def check_typescript_example(
    tmp: Path, *, replace: tuple[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """examples/typescript/index.ts compiles (tsc, no emit) against the compiled SDK;
    ``replace`` edits a copy of it first (the test's control)."""
    sdk_bin = ts_driver() / "sdk" / "bin"
    work = tmp / "example-ts"
    ignore = shutil.ignore_patterns("node_modules", "sdks", "bin")
    shutil.copytree(EXAMPLES / "typescript", work, ignore=ignore)
    _edit(work / "index.ts", replace)
    _link_node_modules(work, sdk_bin)
    return _tsc(work, "-p", "tsconfig.json", "--noEmit")


def check_go_example(
    tmp: Path, *, replace: tuple[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """examples/go builds with its committed go.mod/go.sum against a copy of sdk/go;
    ``replace`` edits a copy of main.go first (the test's control)."""
    sdk = copy_sdk("go", tmp / "example-sdk-go")
    work = _go_module_copy(EXAMPLES / "go", tmp / "example-go", sdk)
    _edit(work / "main.go", replace)
    return run(["go", "build", "-o", str(tmp / "example-go-bin"), "."], cwd=work, env=go_env())

"""The alirestart SDKs under sdk/ (generated from providers/restart_trigger/plugin/schema.json,
see docs/sdks.md): the schema is valid, the SDKs are what the schema generates, and each SDK
builds and runs.

Each check has a control that breaks a copy and expects the same check to fail, so a check that
passes whatever the input would fail here. The SDKs are copied to temporary folders: nothing is
written under sdk/. Everything the checks install comes from the package registries, pinned
below, into a cache folder keyed by the pins (``RESTART_TRIGGER_CACHE``, default
``~/.cache/restart-trigger``), so a second run reuses it.

Each SDK is also run against Pulumi's mocks (no engine, no plugin): a Provider and a
RestartTrigger with one target of each kind, to show what the program sends the plugin.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from testbed.pulumi_cli import pulumi_env
from testbed.sdks import (
    VENV_PYTHON,
    copy_sdk,
    install_python_sdk,
    node_modules,
    python_sdk_deps,
)
from testbed.sdks import clean_env as _clean_env
from testbed.sdks import ok as _ok
from testbed.sdks import run as _run

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
SCHEMA = REPO / "providers" / "restart_trigger" / "plugin" / "schema.json"
GEN = REPO / "scripts" / "gen-sdks.sh"

# A target of each kind as the schema names its fields (the wire format the plugin gets).
WIRE_TARGETS = [
    {"kind": "edas", "appId": "app-edas", "eccIds": ["ecc-1"]},
    {"kind": "webplus", "envId": "we-1", "batchPercent": 50, "pauseBetweenBatches": True},
    {
        "kind": "sae",
        "appId": "0099b7be-5f5b-4512-a7fc-56049ef1a2b3",
        "minReadyInstanceRatio": 50,
    },
    {"kind": "edas-k8s", "appId": "app-k8s", "timeout": 600},
]


def _wire(inputs: dict) -> dict:
    """Inputs as plain JSON, numbers as the engine carries them (floats: 50 == 50.0)."""
    return json.loads(json.dumps(inputs))


def _assert_wire(seen: dict) -> None:
    trigger = seen["alirestart:index:RestartTrigger"]
    assert trigger["hash"] == "h1"
    assert trigger["maxParallel"] == 2
    assert trigger["restartOnCreate"] is True
    assert trigger["targets"] == WIRE_TARGETS
    provider = seen["pulumi:providers:alirestart"]
    # The region came from ALICLOUD_REGION: the schema's defaultInfo.environment.
    assert provider["region"] == "cn-shanghai", provider
    # Secrets have no such default: the SDKs would copy them into the state (the Node.js one
    # unmarked); the plugin reads ALICLOUD_ACCESS_KEY itself.
    assert provider.get("accessKey") is None, provider
    # Object-typed provider inputs travel as JSON text from Node.js and Python, as an object
    # from Go: the plugin takes both (as the alicloud:* keys are taken today).
    role = provider["assumeRole"]
    assert (json.loads(role) if isinstance(role, str) else role) == {
        "roleArn": "acs:ram::123:role/deploy"
    }


# -- the schema and the generated files ------------------------------------------------------


def test_schema_is_valid(tmp_path: Path) -> None:
    env = pulumi_env(tmp_path / "backend", tmp_path / "home", testbed=False)
    (tmp_path / "backend").mkdir()
    (tmp_path / "home").mkdir()
    env["PULUMI_HOME"] = str(tmp_path / "home" / ".pulumi")
    proc = _ok(_run(["pulumi", "schema", "check", str(SCHEMA)], env=env))
    assert "rror" not in proc.stdout + proc.stderr, proc.stdout + proc.stderr

    # Control: an input of an unknown type is refused.
    spec = json.loads(SCHEMA.read_text())
    spec["types"]["alirestart:index:EdasApplication"]["properties"]["appId"]["type"] = "str"
    broken = tmp_path / "schema.json"
    broken.write_text(json.dumps(spec))
    proc = _run(["pulumi", "schema", "check", str(broken)], env=env)
    assert proc.returncode != 0 and "EdasApplication" in proc.stderr, proc.stderr


def test_sdks_match_the_schema(tmp_path: Path) -> None:
    proc = _ok(_run(["bash", str(GEN), "--check"], env=_clean_env()))
    assert "match" in proc.stdout

    # Control: a copy with one file changed, one removed and one added is drift, by name.
    copy = tmp_path / "sdk"
    for lang in ("nodejs", "go", "python"):
        copy_sdk(lang, copy / lang)
    with (copy / "nodejs" / "restartTrigger.ts").open("a") as f:
        f.write("// edited by hand\n")
    (copy / "python" / "pulumi_alirestart" / "outputs.py").unlink()
    (copy / "go" / "alirestart" / "extra.go").write_text("package alirestart\n")
    proc = _run(["bash", str(GEN), "--check"], env=_clean_env(SDKGEN_OUT=str(copy)))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    for name in (
        "nodejs/restartTrigger.ts (differs)",
        "python/pulumi_alirestart/outputs.py (missing)",
        "go/alirestart/extra.go (not generated)",
    ):
        assert name in proc.stderr, proc.stderr


# -- TypeScript ----------------------------------------------------------------------------

TS_PROBE = """\
import * as pulumi from "@pulumi/pulumi";
import * as alirestart from "./index";

const seen: Record<string, any> = {};
pulumi.runtime.setMocks({
    newResource: (args: pulumi.runtime.MockResourceArgs) => {
        seen[args.type] = args.inputs;
        return { id: `${args.name}-id`, state: { ...args.inputs, progress: {}, owed: [] } };
    },
    call: (args: pulumi.runtime.MockCallArgs) => args.inputs,
}, "project", "stack", false);

const provider = new alirestart.Provider("p", {
    assumeRole: { roleArn: "acs:ram::123:role/deploy" },
});
const trigger = new alirestart.RestartTrigger("t", {
    hash: "h1",
    targets: [
        { kind: "edas", appId: "app-edas", eccIds: ["ecc-1"] },
        { kind: "webplus", envId: "we-1", batchPercent: 50, pauseBetweenBatches: true },
        { kind: "sae", appId: pulumi.output("0099b7be-5f5b-4512-a7fc-56049ef1a2b3"),
          minReadyInstanceRatio: 50 },
        { kind: "edas-k8s", appId: "app-k8s", timeout: 600 },
    ],
    restartOnCreate: true,
    maxParallel: 2,
}, { provider });
const ids: pulumi.Output<{ [key: string]: string }> = trigger.changeOrderIds;
const owed: pulumi.Output<string[]> = trigger.owed;
pulumi.all([trigger.urn, provider.urn, ids, owed]).apply(() => {
    console.log(JSON.stringify(seen));
});
"""

# Fields of one kind on another: a compile error, not a surprise at `pulumi up`.
TS_BAD = """\
import * as alirestart from "./index";
new alirestart.RestartTrigger("t", {
    hash: "h1",
    targets: [{ kind: "sae", envId: "we-1" }],
});
"""


def _tsc(work: Path, extra: str, source: str) -> subprocess.CompletedProcess[str]:
    (work / extra).write_text(source)
    files = sorted(
        str(p.relative_to(work))
        for p in work.rglob("*.ts")
        if not {"node_modules", "bin"} & set(p.parts)
    )
    config = {"extends": "./tsconfig.json", "compilerOptions": {"outDir": "bin"}, "files": files}
    (work / "tsconfig.check.json").write_text(json.dumps(config))
    tsc = work / "node_modules" / "typescript" / "bin" / "tsc"
    return _run(["node", str(tsc), "-p", "tsconfig.check.json"], cwd=work)


def test_typescript_sdk_compiles(tmp_path: Path) -> None:
    modules = node_modules()
    work = copy_sdk("nodejs", tmp_path / "nodejs")
    (work / "node_modules").symlink_to(modules, target_is_directory=True)

    _ok(_tsc(work, "probe.ts", TS_PROBE))
    # The SDK reads its version from the package.json beside the compiled files (a package
    # build copies it there).
    shutil.copy(work / "package.json", work / "bin" / "package.json")
    proc = _ok(
        _run(
            ["node", "bin/probe.js"],
            cwd=work,
            env=_clean_env(ALICLOUD_REGION="cn-shanghai", ALICLOUD_ACCESS_KEY="from-env"),
        )
    )
    _assert_wire(json.loads(proc.stdout.strip().splitlines()[-1]))

    # Control: a wrong target does not compile.
    (work / "probe.ts").unlink()
    proc = _tsc(work, "bad.ts", TS_BAD)
    assert proc.returncode != 0, proc.stdout + proc.stderr
    assert "bad.ts(4," in proc.stdout and "error TS2322" in proc.stdout, proc.stdout


# -- Go ------------------------------------------------------------------------------------

GO_PROBE = """\
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"sync"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/restart-trigger/restart-trigger/sdk/go/alirestart"
)

type mocks struct {
	mu   sync.Mutex
	seen map[string]any
}

func (m *mocks) NewResource(args pulumi.MockResourceArgs) (string, resource.PropertyMap, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.seen[args.TypeToken] = args.Inputs.Mappable()
	return args.Name + "-id", args.Inputs, nil
}

func (m *mocks) Call(args pulumi.MockCallArgs) (resource.PropertyMap, error) {
	return args.Args, nil
}

func main() {
	m := &mocks{seen: map[string]any{}}
	err := pulumi.RunErr(func(ctx *pulumi.Context) error {
		provider, err := alirestart.NewProvider(ctx, "p", &alirestart.ProviderArgs{
			AssumeRole: alirestart.AssumeRoleArgs{
				RoleArn: pulumi.String("acs:ram::123:role/deploy"),
			},
		})
		if err != nil {
			return err
		}
		trigger, err := alirestart.NewRestartTrigger(ctx, "t", &alirestart.RestartTriggerArgs{
			Hash: pulumi.String("h1"),
			Targets: pulumi.Array{
				alirestart.EdasApplicationArgs{
					Kind:   pulumi.String("edas"),
					AppId:  pulumi.String("app-edas"),
					EccIds: pulumi.StringArray{pulumi.String("ecc-1")},
				},
				alirestart.WebPlusEnvironmentArgs{
					Kind:                pulumi.String("webplus"),
					EnvId:               pulumi.String("we-1"),
					BatchPercent:        pulumi.Int(50),
					PauseBetweenBatches: pulumi.Bool(true),
				},
				alirestart.SaeApplicationArgs{
					Kind:                  pulumi.String("sae"),
					AppId:                 pulumi.String("0099b7be-5f5b-4512-a7fc-56049ef1a2b3"),
					MinReadyInstanceRatio: pulumi.Int(50),
				},
				alirestart.EdasK8sApplicationArgs{
					Kind:    pulumi.String("edas-k8s"),
					AppId:   pulumi.String("app-k8s"),
					Timeout: pulumi.Int(600),
				},
			},
			RestartOnCreate: pulumi.Bool(true),
			MaxParallel:     pulumi.Int(2),
		}, pulumi.Provider(provider))
		if err != nil {
			return err
		}
		var ids pulumi.StringMapOutput = trigger.ChangeOrderIds
		var owed pulumi.StringArrayOutput = trigger.Owed
		ctx.Export("ids", ids)
		ctx.Export("owed", owed)
		return nil
	}, pulumi.WithMocks("project", "stack", m))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	out, _ := json.Marshal(m.seen)
	fmt.Println(string(out))
}
"""

GO_BAD = """\
package main

import (
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/restart-trigger/restart-trigger/sdk/go/alirestart"
)

var _ = alirestart.SaeApplicationArgs{
	Kind:  pulumi.String("sae"),
	EnvId: pulumi.String("we-1"),
}

func main() {}
"""


def _go_env(**extra: str) -> dict[str, str]:
    # readonly: the SDK's committed go.mod and go.sum must be enough.
    return _clean_env(
        GOTOOLCHAIN="local", GOFLAGS="-mod=readonly -buildvcs=false", GOWORK="off", **extra
    )


def test_go_sdk_builds(tmp_path: Path) -> None:
    if shutil.which("go") is None:
        pytest.fail("go is needed to build the Go SDK")
    work = copy_sdk("go", tmp_path / "go")
    _ok(_run(["go", "build", "./..."], cwd=work, env=_go_env()))
    _ok(_run(["go", "vet", "./alirestart/..."], cwd=work, env=_go_env()))

    probe = work / "cmd" / "probe"
    probe.mkdir(parents=True)
    (probe / "main.go").write_text(GO_PROBE)
    _ok(
        _run(["go", "build", "-o", str(tmp_path / "probe"), "./cmd/probe"], cwd=work, env=_go_env())
    )
    proc = _ok(
        _run(
            [str(tmp_path / "probe")],
            cwd=work,
            env=_clean_env(ALICLOUD_REGION="cn-shanghai", ALICLOUD_ACCESS_KEY="from-env"),
        )
    )
    _assert_wire(json.loads(proc.stdout.strip().splitlines()[-1]))

    # Control: a field of another kind does not compile.
    bad = work / "cmd" / "bad"
    bad.mkdir()
    (bad / "main.go").write_text(GO_BAD)
    proc = _run(["go", "build", "./..."], cwd=work, env=_go_env())
    assert proc.returncode != 0 and "EnvId" in proc.stderr, proc.stdout + proc.stderr


# -- Python --------------------------------------------------------------------------------

PY_PROBE = """\
import json
import pulumi
import pulumi_alirestart as ar

assert ar._utilities.get_version() == VERSION, ar._utilities.get_version()
seen = {}

class Mocks(pulumi.runtime.Mocks):
    def new_resource(self, args):
        seen[args.typ] = args.inputs
        return args.name + "-id", {**args.inputs, "progress": {}, "owed": []}

    def call(self, args):
        return {}

pulumi.runtime.set_mocks(Mocks(), preview=False)

@pulumi.runtime.test
def program():
    provider = ar.Provider("p", assume_role=ar.AssumeRoleArgs(role_arn="acs:ram::123:role/deploy"))
    trigger = ar.RestartTrigger(
        "t",
        hash="h1",
        targets=[
            ar.EdasApplicationArgs(kind="edas", app_id="app-edas", ecc_ids=["ecc-1"]),
            ar.WebPlusEnvironmentArgs(
                kind="webplus", env_id="we-1", batch_percent=50, pause_between_batches=True
            ),
            ar.SaeApplicationArgs(
                kind="sae",
                app_id=pulumi.Output.from_input("0099b7be-5f5b-4512-a7fc-56049ef1a2b3"),
                min_ready_instance_ratio=50,
            ),
            ar.EdasK8sApplicationArgs(kind="edas-k8s", app_id="app-k8s", timeout=600),
        ],
        restart_on_create=True,
        max_parallel=2,
        opts=pulumi.ResourceOptions(provider=provider),
    )
    return pulumi.Output.all(trigger.urn, provider.urn, trigger.change_order_ids).apply(
        lambda _: print(json.dumps(seen))
    )

program()
"""


def test_python_sdk_imports(tmp_path: Path) -> None:
    assert VENV_PYTHON.exists(), "run `make setup` first: the checks use the project's .venv"
    deps = python_sdk_deps()
    # The SDK reads its own version from its installed metadata (importlib.metadata), so it is
    # installed (from a copy: a build writes beside its sources) rather than put on the path.
    site = install_python_sdk(tmp_path / "site")

    env = _clean_env(
        PYTHONPATH=f"{site}{os.pathsep}{deps}",
        ALICLOUD_REGION="cn-shanghai",
        ALICLOUD_ACCESS_KEY="from-env",
    )
    _ok(_run([str(VENV_PYTHON), "-c", "import pulumi_alirestart"], env=env))
    version = json.loads(SCHEMA.read_text())["version"]
    probe = tmp_path / "probe.py"
    probe.write_text(f"VERSION = {version!r}\n" + PY_PROBE)
    proc = _ok(_run([str(VENV_PYTHON), str(probe)], env=env))
    _assert_wire(_wire(json.loads(proc.stdout.strip().splitlines()[-1])))

    # Control: a broken module of the SDK fails the import.
    broken = tmp_path / "broken"
    shutil.copytree(site, broken)
    inputs = broken / "pulumi_alirestart" / "_inputs.py"
    inputs.write_text(inputs.read_text().replace("class ", "klass ", 1))
    env["PYTHONPATH"] = f"{broken}{os.pathsep}{deps}"
    proc = _run([str(VENV_PYTHON), "-c", "import pulumi_alirestart"], env=env)
    assert proc.returncode != 0 and "SyntaxError" in proc.stderr, proc.stderr

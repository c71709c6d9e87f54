"""Malformed configurations of the example stack are refused at `pulumi preview`.

Each case rewrites the stack config of a module-wide stack (the project's own `__main__.py`,
pointed at an emulator with valid credentials) and runs the real CLI's `pulumi preview`; no
stack is created per case. The selected cases are previewed once, up front, on two such
stacks at a time (see LANES), so the first case's setup carries the whole batch.

A case passes when the preview exits non-zero, its output names the offending field (as the
user wrote it: `restart-trigger:triggers[1].paths` for the program, `targets[0].app_id` for
the RestartTrigger's check) and a word of the fix, and the emulator journal holds no API
call: a refused preview must not have touched the cloud.

Last, a valid stack with no credentials at all previews fine and calls nothing (GitOps PR
previews run without secrets).
"""

from __future__ import annotations

import json
import queue
import shutil
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from restart_trigger.aliyun.endpoints import PRODUCTS
from testbed.emulator import (
    TEST_ACCESS_KEY_ID,
    TEST_ACCESS_KEY_SECRET,
    TEST_APP_ID,
    TEST_ECC_IDS,
    TEST_ENV_ID,
    TEST_K8S_APP_ID,
    TEST_REGION,
    TEST_SAE_APP_ID,
    TEST_SEED,
    EmulatorProcess,
)
from testbed.pulumi_cli import Result, Stack, copy_program, pulumi_env

pytestmark = pytest.mark.e2e

TRIGGERS_KEY = "restart-trigger:triggers"
MISSING = object()  # the triggers key is left out of the stack config

FILES = {
    "config/api/app.properties": "pool=10\n",
    "config/web/nginx.conf": "gzip on;\n",
    "config/a/app.yaml": "a: 1\n",
    "config/b/app.yaml": "b: 2\n",
}
EMPTY_DIRS = ("config/empty",)

API = {"name": "api", "paths": ["config/api"], "targets": [{"app_id": TEST_APP_ID}]}
WEB = {"name": "web", "paths": ["config/web"], "targets": [{"env_id": TEST_ENV_ID}]}


# -- the lanes: a stack and its own emulator ------------------------------------------------

# Previews of refused configs are slow for a reason outside this project (when the engine
# cancels a preview after a check failure it often waits ~5 s for the language host's output
# to drain), so the cases run on a few lanes at once. Each lane has its own stack and its own
# emulator, so every preview's journal is its own.
LANES = 2


@dataclass
class Outcome:
    result: Result
    journal: list[dict[str, Any]]  # the lane's emulator journal right after this preview
    seconds: float


@dataclass
class Lane:
    """One stack of the example program, pointed at its own emulator with valid credentials."""

    stack: Stack
    emulator: EmulatorProcess
    salt: str = ""
    base: dict[str, Any] = field(default_factory=dict)  # the baseline stack config

    @property
    def config_path(self) -> Path:
        return self.stack.workdir / f"Pulumi.{self.stack.name}.yaml"

    def write_config(self, triggers: Any, overrides: dict[str, Any] | None = None) -> None:
        """Rewrite the whole stack config: baseline, then overrides (None drops a key).

        Values are written as JSON (valid YAML), so any type can be given on purpose.
        """
        config = dict(self.base)
        for key, value in (overrides or {}).items():
            if value is None:
                config.pop(key, None)
            else:
                config[key] = value
        if triggers is not MISSING:
            config[TRIGGERS_KEY] = triggers
        lines = [f"encryptionsalt: {self.salt}", "config:"]
        lines += [f"  {key}: {json.dumps(value)}" for key, value in config.items()]
        self.config_path.write_text("\n".join(lines) + "\n")

    def preview(self, triggers: Any, overrides: dict[str, Any] | None = None) -> Outcome:
        self.write_config(triggers, overrides)
        self.emulator.clear_journal()
        started = time.monotonic()
        result = self.stack.preview(check=False)
        return Outcome(result, self.emulator.journal(), time.monotonic() - started)


def _open_lane(root: Path) -> Lane:
    """Copy the example program, init a stack, configure it the way `trigger_stack` does."""
    emulator = EmulatorProcess().start()
    try:
        return _configure_lane(root, emulator)
    except BaseException:
        emulator.stop()
        raise


def _configure_lane(root: Path, emulator: EmulatorProcess) -> Lane:
    emulator.seed(TEST_SEED)
    workdir = copy_program("main", root / "program")
    for rel, text in FILES.items():
        path = workdir / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    for rel in EMPTY_DIRS:
        (workdir / rel).mkdir(parents=True, exist_ok=True)
    (root / "backend").mkdir()
    (root / "home").mkdir()
    env = pulumi_env(
        root / "backend",
        root / "home",
        PULUMI_CONFIG_PASSPHRASE="e2e-test-passphrase",
        PULUMI_HOME=str(root / "home" / ".pulumi"),
    )
    # pulumi_env scrubs ALICLOUD_* and ALIBABA_CLOUD_* but not ALIBABACLOUD_*, which the
    # credential chain also reads: the no-credentials case must not inherit any.
    env = {k: v for k, v in env.items() if not k.startswith("ALIBABACLOUD_")}
    lane = Lane(Stack(workdir, f"e2e-{uuid.uuid4().hex[:8]}", env), emulator)
    stack = lane.stack
    stack.init()
    stack.config_set("alicloud:accessKey", TEST_ACCESS_KEY_ID)
    stack.config_set("alicloud:secretKey", TEST_ACCESS_KEY_SECRET, secret=True)
    stack.config_set("alicloud:region", TEST_REGION)
    for product in PRODUCTS:
        key = f"alicloud:endpoints[0].{product}"
        stack.run("config", "set", "-s", stack.name, "--path", key, emulator.base_url)
    document = yaml.safe_load(lane.config_path.read_text())
    lane.salt, lane.base = document["encryptionsalt"], dict(document["config"])
    assert lane.base["alicloud:secretKey"]["secure"]  # the secret stays encrypted
    return lane


def _close_lane(lane: Lane) -> None:
    lane.write_config([API, WEB])
    lane.stack.destroy(check=False)
    lane.stack.run("stack", "rm", lane.stack.name, "--yes", "--force", check=False)
    lane.emulator.stop()


@pytest.fixture(scope="module")
def lanes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[Lane]]:
    root = tmp_path_factory.mktemp("bad-input")
    with ThreadPoolExecutor(LANES) as pool:
        futures = [pool.submit(_open_lane, root / f"lane-{n}") for n in range(LANES)]
    opened = [f.result() for f in futures if f.exception() is None]
    for failed in futures:
        if failed.exception() is not None:
            for lane in opened:
                _close_lane(lane)
            raise failed.exception()
    try:
        yield opened
    finally:
        for lane in opened:
            _close_lane(lane)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def outcomes(request: pytest.FixtureRequest, lanes: list[Lane]) -> dict[str, Outcome]:
    """Preview every SELECTED case once, on whichever lane is free; keyed by case id."""
    selected = [
        item.callspec.params["case"]
        for item in request.session.items
        if getattr(item, "module", None) is request.module
        and "case" in getattr(getattr(item, "callspec", None), "params", {})
    ]
    free: queue.Queue[Lane] = queue.Queue()
    for lane in lanes:
        free.put(lane)

    def run(case: Case) -> Outcome:
        lane = free.get()
        try:
            return lane.preview(case.triggers, case.config)
        finally:
            free.put(lane)

    with ThreadPoolExecutor(len(lanes)) as pool:
        return dict(zip([c.id for c in selected], pool.map(run, selected), strict=True))


@pytest.fixture(autouse=True)
def _counted_as_e2e(new_stack) -> None:
    """Requesting `new_stack` lists this test in conftest's "ran the real Pulumi CLI" summary;
    it creates nothing here."""


# -- the cases ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    id: str
    triggers: Any
    field: str  # the offending field as the output must name it
    words: tuple[str, ...]  # words of the fix
    # who refuses it: "check" (RestartTrigger's check(), on the trigger `broken`),
    # "check-unechoed" (the same, naming the field in the reason so the engine has no value
    # to echo), "program" (__main__.py) or "stack" (alicloud:* stack config; any refusal
    # naming the key will do)
    by: str = "check"
    config: dict[str, Any] = field(default_factory=dict)  # stack config overrides
    absent: tuple[str, ...] = ()  # text the output must not hold (a password, the bulk)

    def param(self) -> Any:
        return pytest.param(self, id=self.id)


def broken(*targets: Any, **options: Any) -> list[dict[str, Any]]:
    """A valid trigger, then the trigger `broken` (index 1) with these targets and options."""
    return [API, {"name": "broken", "paths": ["config/web"], "targets": list(targets), **options}]


def entry(**spec: Any) -> list[Any]:
    """A valid trigger, then this raw entry at index 1 of restart-trigger:triggers."""
    return [API, spec]


APP, ENV = {"app_id": TEST_APP_ID}, {"env_id": TEST_ENV_ID}
SAE = {"kind": "sae", "app_id": TEST_SAE_APP_ID}
K8S = {"kind": "edas-k8s", "app_id": TEST_K8S_APP_ID}
T = "restart-trigger:triggers[1]"

CASES = [
    # ids: empty, blank, whitespace inside, wrong type
    Case(
        "app_id-empty",
        broken({"app_id": ""}),
        "targets[0].app_id",
        ("non-empty string", 'app_id="..."'),
    ),
    Case("app_id-blank", broken({"app_id": "   "}), "targets[0].app_id", ("non-empty string",)),
    Case(
        "env_id-inner-space",
        broken({"env_id": "we-test 01"}),
        "targets[0].env_id",
        ("must not contain whitespace",),
    ),
    Case(
        "app_id-number",
        broken({"app_id": 42}),
        "targets[0].app_id",
        ("string", "EDAS application id"),
    ),
    Case(
        "ecc_id-blank",
        broken({**APP, "ecc_ids": [" "]}),
        "targets[0].ecc_ids[0]",
        ("non-empty string", "ECC id"),
    ),
    # targets: wrong shapes
    Case(
        "targets-string",
        entry(name="broken", paths=["config/web"], targets=TEST_APP_ID),
        "targets",
        ("must be a list",),
    ),
    Case("targets-empty", broken(), "targets", ("at least one target",)),
    Case("targets-missing", entry(name="broken", paths=["config/web"]), "targets", ("list",)),
    Case(
        "targets-entry-string",
        broken(TEST_APP_ID),
        "targets[0]",
        ("EdasApplication or WebPlusEnvironment",),
    ),
    Case(
        "ecc_ids-dict",
        broken({**APP, "ecc_ids": {"a": TEST_ECC_IDS[0]}}),
        "targets[0].ecc_ids",
        ("list of ECC ids",),
    ),
    Case(
        "app_id-and-env_id",
        broken({**APP, **ENV}),
        "targets[0]",
        ("not both", "one entry per target"),
    ),
    Case(
        "neither-id",
        broken({"batch_size": 1}),
        "targets[0]",
        ("names no target", "app_id", "env_id"),
    ),
    Case(
        "unknown-field-batchsize",
        broken({**ENV, "batchsize": 2}),
        "targets[0].batchsize",
        ("unknown field", "batch_size"),
    ),
    Case(
        "kind-unknown", broken({"kind": "ecs", **APP}), "targets[0].kind", ("'edas' or 'webplus'",)
    ),
    Case(
        "duplicate-targets",
        broken(APP, {"app_id": TEST_APP_ID}),
        "targets[1]",
        ("duplicate target", f"edas:{TEST_APP_ID}"),
    ),
    # ecc_ids
    Case(
        "ecc_ids-empty",
        broken({**APP, "ecc_ids": []}),
        "targets[0].ecc_ids",
        ("leave ecc_ids out",),
    ),
    Case(
        "ecc_ids-duplicate",
        broken({**APP, "ecc_ids": [TEST_ECC_IDS[0]] * 2}),
        "targets[0].ecc_ids[1]",
        ("duplicate ECC id",),
    ),
    Case(
        "ecc_id-comma",
        broken({**APP, "ecc_ids": [",".join(TEST_ECC_IDS)]}),
        "targets[0].ecc_ids[0]",
        ("without commas",),
    ),
    # Web+ batch settings
    Case(
        "batch_size-0", broken({**ENV, "batch_size": 0}), "targets[0].batch_size", ("at least 1",)
    ),
    Case(
        "batch_size-1.5",
        broken({**ENV, "batch_size": 1.5}),
        "targets[0].batch_size",
        ("whole number",),
    ),
    Case(
        "batch_size-true",
        broken({**ENV, "batch_size": True}),
        "targets[0].batch_size",
        ("whole number",),
    ),
    Case(
        "batch_percent-0",
        broken({**ENV, "batch_percent": 0}),
        "targets[0].batch_percent",
        ("between 1 and 100",),
    ),
    Case(
        "batch_percent-101",
        broken({**ENV, "batch_percent": 101}),
        "targets[0].batch_percent",
        ("between 1 and 100",),
    ),
    Case(
        "batch_size-and-percent",
        broken({**ENV, "batch_size": 2, "batch_percent": 50}),
        "targets[0].batch_percent",
        ("either batch_size", "not both"),
    ),
    Case(
        "batch_interval-negative",
        broken({**ENV, "batch_interval": -1}),
        "targets[0].batch_interval",
        ("at least 0",),
    ),
    Case(
        "pause-yes",
        broken({**ENV, "pause_between_batches": "yes"}),
        "targets[0].pause_between_batches",
        ("true or false",),
    ),
    # SAE applications
    Case(
        "sae-app_id-empty",
        broken({**SAE, "app_id": ""}),
        "targets[0].app_id",
        ("non-empty string",),
    ),
    Case(
        "sae-app_id-not-a-uuid",
        broken({**SAE, "app_id": "my-sae-app"}),
        "targets[0].app_id",
        ("UUID", "my-sae-app"),
    ),
    Case(
        "sae-min_ready_instances-minus-2",
        broken({**SAE, "min_ready_instances": -2}),
        "targets[0].min_ready_instances",
        ("at least -1",),
    ),
    Case(
        "sae-min_ready_instances-1.5",
        broken({**SAE, "min_ready_instances": 1.5}),
        "targets[0].min_ready_instances",
        ("whole number",),
    ),
    Case(
        "sae-min_ready_instance_ratio-101",
        broken({**SAE, "min_ready_instance_ratio": 101}),
        "targets[0].min_ready_instance_ratio",
        ("between -1 and 100",),
    ),
    Case(
        "sae-min_ready_instance_ratio-minus-2",
        broken({**SAE, "min_ready_instance_ratio": -2}),
        "targets[0].min_ready_instance_ratio",
        ("between -1 and 100",),
    ),
    Case(
        "sae-auto_enable_application_scaling_rule-yes",
        broken({**SAE, "auto_enable_application_scaling_rule": "yes"}),
        "targets[0].auto_enable_application_scaling_rule",
        ("true or false",),
    ),
    Case(
        "sae-unknown-field",
        broken({**SAE, "min_ready": 1}),
        "targets[0].min_ready",
        ("unknown field", "min_ready_instances"),
    ),
    Case(
        "sae-edas-field",
        broken({**SAE, "ecc_ids": ["ecc-1"]}),
        "targets[0].ecc_ids",
        ("unknown field",),
    ),
    Case(
        "sae-duplicate",
        broken(SAE, dict(SAE)),
        "targets[1]",
        ("duplicate target", f"sae:{TEST_SAE_APP_ID}"),
    ),
    # EDAS applications in Kubernetes clusters
    Case(
        "k8s-app_id-empty",
        broken({**K8S, "app_id": ""}),
        "targets[0].app_id",
        ("non-empty string",),
    ),
    Case(
        "k8s-app_id-blank",
        broken({**K8S, "app_id": "  "}),
        "targets[0].app_id",
        ("non-empty string",),
    ),
    Case(
        "k8s-timeout-zero",
        broken({**K8S, "timeout": 0}),
        "targets[0].timeout",
        ("between 1 and 1800",),
    ),
    Case(
        "k8s-timeout-negative",
        broken({**K8S, "timeout": -5}),
        "targets[0].timeout",
        ("between 1 and 1800",),
    ),
    Case(
        "k8s-timeout-1801",
        broken({**K8S, "timeout": 1801}),
        "targets[0].timeout",
        ("between 1 and 1800",),
    ),
    Case(
        "k8s-timeout-string",
        broken({**K8S, "timeout": "10m"}),
        "targets[0].timeout",
        ("whole number",),
    ),
    Case(
        "k8s-unknown-field",
        broken({**K8S, "timeout_s": 60}),
        "targets[0].timeout_s",
        ("unknown field", "timeout"),
    ),
    # trigger options
    # ids no API has: control characters (raw on terminals), absurd lengths
    Case(
        "app_id-bell",
        broken({"app_id": "app\u0007x"}),
        "targets[0].app_id",
        ("control characters",),
    ),
    Case(
        "env_id-ansi",
        broken({"env_id": "we-\u001b[31mred"}),
        "targets[0].env_id",
        ("control characters",),
    ),
    Case(
        "app_id-10000-characters",
        broken({"app_id": "a" * 10_000}),
        "targets[0].app_id",
        ("characters long",),
    ),
    Case(
        "endpoint-subdomain-of-localhost",
        broken(APP, endpoint="http://evil.localhost:80"),
        "endpoint",
        ("loopback",),
    ),
    Case("timeout-negative", broken(APP, timeout=-5), "timeout", ("more than 0",)),
    Case("timeout-zero", broken(APP, timeout=0), "timeout", ("more than 0",)),
    Case("timeout-string", broken(APP, timeout="10m"), "timeout", ("number of seconds",)),
    Case("max_parallel-0", broken(APP, max_parallel=0), "max_parallel", ("at least 1",)),
    Case("wait-yes", broken(APP, wait="yes"), "wait", ("true or false",)),
    Case(
        "restart_on_create-string",
        broken(APP, restart_on_create="no"),
        "restart_on_create",
        ("true or false",),
    ),
    Case(
        "endpoint-with-path",
        broken(APP, endpoint="https://edas.cn-hangzhou.aliyuncs.com/pop/v5"),
        "endpoint",
        ("scheme://host[:port]",),
    ),
    Case(
        "endpoint-http-not-loopback",
        broken(APP, endpoint="http://edas.cn-hangzhou.aliyuncs.com"),
        "endpoint",
        ("loopback", "https://edas.cn-hangzhou.aliyuncs.com"),
    ),
    Case(
        "endpoint-ftp",
        broken(APP, endpoint="ftp://127.0.0.1:2121"),
        "endpoint",
        ("unsupported scheme", "https://"),
    ),
    Case(
        "region-malformed",
        broken(APP, region="CN_Hangzhou"),
        "region",
        ("not a valid Alibaba Cloud region id", "cn-hangzhou"),
    ),
    Case(
        "region-number",
        broken(APP, region=42),
        "region",
        ("region id", "cn-hangzhou"),
    ),
    Case("endpoint-number", broken(APP, endpoint=8080), "endpoint", ("https://",)),
    # bounds: as the APIs take them (32-bit integers, a region a DNS label, EccInfo in the URL)
    Case(
        "region-10000-characters",
        broken(APP, region="cn-" + "x" * 10_000),
        "region",
        ("at most 63 characters", "10003 characters"),
        by="check-unechoed",
    ),
    Case(
        "ecc_ids-101",
        broken({**APP, "ecc_ids": [f"ecc-{i:04d}" for i in range(101)]}),
        "targets[0].ecc_ids",
        ("more than 100", "leave ecc_ids out"),
    ),
    Case(
        "sae-min_ready_instances-2**63",
        broken({**SAE, "min_ready_instances": 2**63}),
        "targets[0].min_ready_instances",
        ("at most 2147483647", "32-bit"),
    ),
    Case("max_parallel-2**63", broken(APP, max_parallel=2**63), "max_parallel", ("at most 1000",)),
    Case("max_failures-1e20", broken(APP, max_failures=1e20), "max_failures", ("at most 1000",)),
    # a refusal never echoes a URL's userinfo
    Case(
        "endpoint-userinfo",
        broken(APP, endpoint="https://user:s3cretpass@edas.cn-hangzhou.aliyuncs.com"),
        "endpoint",
        ("credentials in the URL are not allowed",),
        by="check-unechoed",
        absent=("s3cretpass",),
    ),
    # the program (__main__.py): trigger entries
    Case("entry-not-a-mapping", [API, "web"], T, ("must be a mapping",), by="program"),
    Case(
        "name-missing",
        entry(paths=["config/web"], targets=[ENV]),
        f"{T}.name",
        ("non-empty string",),
        by="program",
    ),
    Case(
        "setting-unknown",
        entry(name="web", paths=["config/web"], target=[ENV]),
        f"{T}.target",
        ("not a trigger setting", "targets"),
        by="program",
    ),
    Case(
        "paths-empty-list",
        entry(name="web", paths=[], targets=[ENV]),
        f"{T}.paths",
        ("config folders",),
        by="program",
    ),
    Case(
        "paths-folder-missing",
        entry(name="web", paths=["config/nope"], targets=[ENV]),
        f"{T}.paths",
        ("config/nope",),
        by="program",
    ),
    Case(
        "paths-folder-empty",
        entry(name="web", paths=["config/empty"], targets=[ENV]),
        f"{T}.paths",
        ("no files",),
        by="program",
    ),
    Case(
        "paths-same-file-names",
        entry(name="web", paths=["config/a", "config/b"], targets=[ENV]),
        f"{T}.paths",
        ("app.yaml",),
        by="program",
    ),
    Case(
        "name-duplicate",
        [API, {**API, "targets": [ENV]}],
        f"{T}.name",
        ("duplicate", "api"),
        by="program",
    ),
    # the program: the triggers list itself
    Case(
        "triggers-missing",
        MISSING,
        TRIGGERS_KEY,
        ("pulumi config set",),
        by="program",
        config={"restart-trigger:trigger": [API]},  # a typo'd key
    ),
    Case(
        "triggers-a-mapping",
        API,
        TRIGGERS_KEY,
        ("must be a list",),
        by="program",
    ),
    # stack-level alicloud config: read only by the provider's configure()
    Case(
        "alicloud-endpoints-http-not-loopback",
        [API, WEB],
        "alicloud:endpoints[edas]",
        ("https://",),
        by="stack",
        config={"alicloud:endpoints": [{"edas": "http://edas.cn-hangzhou.aliyuncs.com"}]},
    ),
    Case(
        "alicloud-endpoints-not-a-list",
        [API, WEB],
        "alicloud:endpoints",
        ('[{"edas"',),
        by="stack",
        config={"alicloud:endpoints": "edas=https://edas.cn-hangzhou.aliyuncs.com"},
    ),
    Case(
        "alicloud-region-malformed",
        [API, WEB],
        "alicloud:region",
        ("cn-hangzhou",),
        by="stack",
        config={"alicloud:region": "CN_Hangzhou"},
    ),
    Case(
        "alicloud-region-10000-characters",
        [API, WEB],
        "alicloud:region",
        ("at most 63",),
        by="stack",
        config={"alicloud:region": "cn-" + "x" * 10_000},
        absent=("x" * 100,),
    ),
]


def named_field(case: Case, output: str) -> bool:
    if case.by == "check":
        # e.g. "RestartTrigger resource 'broken': property targets[0].app_id value {...} has a
        # problem: must be ...": the trigger and the path inside it.
        return f"resource 'broken': property {case.field} value" in output
    if case.by == "check-unechoed":
        return f"resource 'broken' has a problem: {case.field}: " in output
    return case.field in output


@pytest.mark.parametrize("case", [c.param() for c in CASES])
def test_bad_config_is_refused_at_preview_naming_the_field(outcomes, case: Case) -> None:
    outcome = outcomes[case.id]
    output = outcome.result.output
    # Whatever else, a preview never calls the cloud, refused or not.
    assert outcome.journal == [], output

    problems = []
    if outcome.result.returncode == 0:
        problems.append("the preview succeeded")
    if not named_field(case, output):
        problems.append(f"the output does not name {case.field!r}")
    problems += [f"the output lacks {w!r}" for w in case.words if w not in output]
    problems += [f"the output holds {w[:20]!r}..." for w in case.absent if w in output]
    assert not problems, "\n".join(problems) + f"\n--- output ({outcome.seconds:.1f}s)\n{output}"


def test_valid_stack_previews_without_any_credentials_and_calls_no_api(lanes) -> None:
    lane = lanes[0]
    no_credentials = {"alicloud:accessKey": None, "alicloud:secretKey": None}
    assert not (Path(lane.stack.env["HOME"]) / ".aliyun").exists()
    assert not [k for k in lane.stack.env if k.startswith(("ALICLOUD_", "ALIBABA"))]
    app_properties = lane.stack.workdir / "config/api/app.properties"

    # a first preview: everything to create
    created = lane.preview([API, WEB], no_credentials)
    assert created.journal == []
    assert created.result.returncode == 0, created.result.output
    assert "+ 3 to create" in created.result.output

    # a PR preview of a config change on a deployed stack: an update, still no API call
    lane.write_config([API, WEB])
    lane.stack.up()
    try:
        app_properties.write_text("pool=20\n")
        changed = lane.preview([API, WEB], no_credentials)
        assert changed.journal == []
        assert changed.result.returncode == 0, changed.result.output
        assert "~ 1 to update" in changed.result.output
        assert "RestartTrigger api update" in changed.result.output
    finally:
        app_properties.write_text(FILES["config/api/app.properties"])
        lane.write_config([API, WEB])
        lane.stack.destroy(check=False)

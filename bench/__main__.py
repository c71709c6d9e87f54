"""`make bench`: RestartTrigger's figures, measured side by side in one run on the emulator.

    python -m bench [--runs 3] [--quick] [--only P1,P3] [--json FILE]

P1  `pulumi preview` and a no-change `pulumi up` of 200 RestartTriggers vs 200 no-op dynamic
    resources (the floor every Python dynamic provider pays): medians and ratios. Beside them
    the same 200 triggers declared through the resource plugin (`alirestart:index:RestartTrigger`
    from a Python program on the generated SDK, bench/programs/fleet_plugin), with ratios
    against the dynamic RestartTrigger and against the no-op floor.
P2  bytes of state per trigger (vs per no-op resource) and the length of `__provider`; the
    plugin's state per trigger (it has no `__provider`: its provider is one provider resource
    per stack, whose size is given too).
P3  fan-out: 50 targets whose change orders take T seconds, restarted in one `up`, as 50
    single-target triggers and as one trigger with 50 targets: wall time / T; and the one
    trigger with `verify` on (an HTTP probe of each target, a loopback service answering at
    once), which must stay within the one trigger's budget + 5 %.
P4  hash_paths over a generated tree vs sha256sum over the same bytes (bench/hash_paths_bench.py).
P5  status calls per restart as a function of T.
P6  resources of one `up` restarting 1,000 and 5,000 targets of one trigger: peak threads and
    peak RSS of the dynamic-provider process, wall time, restarts sent (exactly one each).

Everything runs the real CLI (the one `make setup` provides) against a local emulator; nothing
leaves the machine. Figures vary with load: compare ratios measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from testbed.emulator import (  # noqa: E402
    TEST_ACCESS_KEY_ID,
    TEST_ACCESS_KEY_SECRET,
    TEST_REGION,
    TEST_SEED,
    EmulatorProcess,
)
from testbed.fleet import fleet_seed  # noqa: E402
from testbed.plugin import TYPE as PLUGIN_TYPE  # noqa: E402
from testbed.plugin import VENV_BIN, use_emulator  # noqa: E402
from testbed.procwatch import ProviderWatch  # noqa: E402
from testbed.pulumi_cli import Stack, cli_identity, copy_program, pulumi_env  # noqa: E402
from testbed.sdks import python_sdk_path  # noqa: E402


class Bench:
    """Owns a temporary folder, one emulator, and the stacks made in it."""

    def __init__(self, workdir: Path, emulator: EmulatorProcess) -> None:
        self.workdir = workdir
        self.emulator = emulator
        self.stacks: list[Stack] = []
        self._sdk_path: str | None = None

    def fleet_stack(self, program_name: str = "fleet", **config: Any) -> Stack:
        stack = self._new_stack(program_name)
        stack.use_account(
            self.emulator.base_url, TEST_ACCESS_KEY_ID, TEST_ACCESS_KEY_SECRET, region=TEST_REGION
        )
        self.configure(stack, **config)
        return stack

    def plugin_fleet_stack(self, **config: Any) -> Stack:
        """The fleet through the resource plugin (bench/programs/fleet_plugin), as a user's
        activated virtualenv runs it: .venv/bin (with ``pulumi-resource-alirestart``) first on
        PATH, the generated SDK importable, ``alirestart:*`` pointed at the emulator."""
        if self._sdk_path is None:  # installed once per run, outside any timing
            self._sdk_path = python_sdk_path(self.workdir / "sdk-python")
        stack = self._new_stack("fleet_plugin")
        stack.env["PATH"] = f"{VENV_BIN}{os.pathsep}{stack.env['PATH']}"
        stack.env["PYTHONPATH"] = f"{self._sdk_path}{os.pathsep}{REPO}"
        use_emulator(stack, self.emulator)
        self.configure(stack, **config)
        return stack

    def _new_stack(self, program_name: str) -> Stack:
        n = len(self.stacks)
        if (BENCH_PROGRAMS / program_name).is_dir():
            program = self.workdir / f"fleet-{n}"
            shutil.copytree(BENCH_PROGRAMS / program_name, program)
            manifest = program / "Pulumi.yaml"
            manifest.write_text(
                manifest.read_text().replace("virtualenv: .venv", f"virtualenv: {REPO / '.venv'}")
            )
        else:
            program = copy_program(program_name, self.workdir / f"fleet-{n}")
        backend, home = self.workdir / f"backend-{n}", self.workdir / f"home-{n}"
        backend.mkdir()
        home.mkdir()
        env = pulumi_env(
            backend, home, PULUMI_CONFIG_PASSPHRASE="bench", PULUMI_HOME=str(home / ".pulumi")
        )
        stack = Stack(program, f"bench-{n}", env)
        stack.init()
        self.stacks.append(stack)
        return stack

    @staticmethod
    def configure(stack: Stack, **config: Any) -> None:
        for key, value in config.items():
            stack.config_set(
                f"fleet:{key}", str(value).lower() if isinstance(value, bool) else str(value)
            )

    def reset_world(self, n: int, kind: str, duration_s: float) -> None:
        self.emulator.reset()
        self.emulator.clear_faults()
        self.emulator.seed(TEST_SEED)
        self.emulator.seed(fleet_seed(n, kind, duration_s))
        self.emulator.clear_journal()

    def close(self) -> None:
        for stack in self.stacks:
            stack.destroy(check=False)


BENCH_PROGRAMS = REPO / "bench" / "programs"


class _Healthy(BaseHTTPRequestHandler):
    """Answers every GET at once: 200, ``ok``."""

    def do_GET(self) -> None:  # noqa: N802 - the base class's name
        self.server.hits += 1  # type: ignore[attr-defined]
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base's name
        pass


@contextmanager
def healthy_service() -> Iterator[ThreadingHTTPServer]:
    """A loopback HTTP service on a free port that every probe finds healthy at once."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Healthy)
    server.daemon_threads = True
    server.hits = 0  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def median_of(runs: int, fn) -> float:
    return statistics.median(timed(fn) for _ in range(runs))


def p1_p2(bench: Bench, runs: int, count: int) -> dict[str, Any]:
    bench.reset_world(count, "edas", 0.2)
    triggers = bench.fleet_stack(kind="trigger", count=count)
    noops = bench.fleet_stack(kind="noop", count=count)
    plugin = bench.plugin_fleet_stack(count=count)
    stacks = (("trigger", triggers), ("noop", noops), ("plugin", plugin))
    for _, stack in stacks:
        stack.up()
    out: dict[str, Any] = {"count": count}
    for name, stack in stacks:
        out[f"{name}_preview_s"] = median_of(runs, lambda s=stack: s.preview())
        out[f"{name}_up_s"] = median_of(runs, lambda s=stack: s.up())
    out["preview_ratio"] = out["trigger_preview_s"] / out["noop_preview_s"]
    out["up_ratio"] = out["trigger_up_s"] / out["noop_up_s"]
    for step in ("preview", "up"):
        out[f"plugin_{step}_over_trigger"] = out[f"plugin_{step}_s"] / out[f"trigger_{step}_s"]
        out[f"plugin_{step}_over_noop"] = out[f"plugin_{step}_s"] / out[f"noop_{step}_s"]
    assert not [e for e in bench.emulator.journal() if e["action"].startswith("Restart")], (
        "P1 made restart calls"
    )

    def size(resource: dict[str, Any]) -> int:
        return len(json.dumps(resource, separators=(",", ":")))

    def per_resource(stack: Stack, suffix: str) -> tuple[float, int]:
        resources = stack.resources(suffix)
        assert len(resources) == count, f"{len(resources)} {suffix} resources for {count}"
        provider = len(resources[0]["inputs"]["__provider"])
        return statistics.mean(size(r) for r in resources), provider

    out["trigger_state_bytes"], out["trigger_provider_len"] = per_resource(
        triggers, "RestartTrigger"
    )
    out["noop_state_bytes"], out["noop_provider_len"] = per_resource(noops, "Noop")
    # The plugin's triggers carry no `__provider` (the engine calls the plugin by its package
    # name): their state holds a reference to one provider resource per stack instead.
    resources = plugin.resources(PLUGIN_TYPE)
    assert len(resources) == count, f"{len(resources)} plugin triggers for {count}"
    assert not [r for r in resources if "__provider" in r.get("inputs", {})]
    out["plugin_state_bytes"] = statistics.mean(size(r) for r in resources)
    out["plugin_provider_len"] = 0
    [provider] = plugin.resources("pulumi:providers:alirestart")
    out["plugin_provider_resource_bytes"] = size(provider)
    for _, stack in stacks:
        stack.destroy()
    return out


def p3(bench: Bench, targets: int, duration_s: float) -> dict[str, Any]:
    out: dict[str, Any] = {"targets": targets, "T_s": duration_s}
    parallel = ("--parallel", str(targets))
    # name: (triggers, targets per trigger, extra `pulumi up` args, provider server workers)
    shapes = {
        "single_target_triggers": (targets, 1, (), None),
        "single_target_triggers_parallel": (targets, 1, parallel, None),
        "single_target_triggers_parallel_4_workers": (targets, 1, parallel, "0"),
        "one_trigger": (1, targets, (), None),
    }
    for name, (count, per, up_args, workers) in shapes.items():
        bench.reset_world(targets, "mixed", duration_s)
        stack = bench.fleet_stack(
            kind="trigger", count=count, targets_per_resource=per, target_kind="mixed", hash="v1"
        )
        if workers is not None:
            stack.env["RESTART_TRIGGER_PROVIDER_WORKERS"] = workers
        stack.up()
        bench.configure(stack, hash="v2")
        bench.emulator.clear_journal()
        wall = timed(lambda s=stack, a=up_args: s.up(*a))
        restarts = [
            e
            for e in bench.emulator.journal()
            if e["action"].startswith("Restart") and e["status"] == 200
        ]
        assert len(restarts) == targets, f"{name}: {len(restarts)} restarts for {targets} targets"
        out[f"{name}_wall_s"] = wall
        out[f"{name}_wall_over_T"] = wall / duration_s
        stack.destroy()
    # The floor: an `up` that updates one no-op dynamic resource (engine, program, provider
    # process; no API call). One trigger should take at most 1.3 T plus that floor, and what
    # is left over T and the floor, per target, is the trigger's own cost of a target.
    noop = bench.fleet_stack(kind="noop", count=1, hash="v1")
    noop.up()
    bench.configure(noop, hash="v2")
    out["noop_update_floor_s"] = timed(noop.up)
    noop.destroy()
    over = out["one_trigger_wall_s"] - duration_s - out["noop_update_floor_s"]
    out["one_trigger_overhead_per_target_ms"] = 1000 * max(over, 0.0) / targets
    out["one_trigger_budget_s"] = 1.3 * duration_s + out["noop_update_floor_s"]
    # The same one trigger with verify on: each target's probe answers at once.
    bench.reset_world(targets, "mixed", duration_s)
    with healthy_service() as service:
        url = f"http://127.0.0.1:{service.server_address[1]}/health"
        stack = bench.fleet_stack(
            "fleet_verify",
            count=1,
            targets_per_resource=targets,
            target_kind="mixed",
            hash="v1",
            verify_url=url,
        )
        stack.up()
        bench.configure(stack, hash="v2")
        bench.emulator.clear_journal()
        wall = timed(stack.up)
        probes = service.hits  # type: ignore[attr-defined]
    restarts = [
        e
        for e in bench.emulator.journal()
        if e["action"].startswith("Restart") and e["status"] == 200
    ]
    assert len(restarts) == targets, f"verify: {len(restarts)} restarts for {targets} targets"
    assert probes == targets, f"verify: {probes} probes for {targets} targets"
    stack.destroy()
    out["one_trigger_verify_wall_s"] = wall
    out["one_trigger_verify_wall_over_T"] = wall / duration_s
    out["one_trigger_verify_budget_s"] = 1.05 * out["one_trigger_budget_s"]
    out["one_trigger_verify_within_budget"] = wall <= out["one_trigger_verify_budget_s"]
    out["one_trigger_verify_over_plain"] = wall / out["one_trigger_wall_s"]
    return out


def p5(bench: Bench, durations: list[float]) -> dict[str, Any]:
    rows = []
    for duration in durations:
        bench.reset_world(1, "edas", duration)
        stack = bench.fleet_stack(kind="trigger", count=1, hash="v1", timeout=3600)
        stack.up()
        bench.configure(stack, hash="v2")
        bench.emulator.clear_journal()
        wall = timed(stack.up)
        polls = [e for e in bench.emulator.journal() if e["action"] == "GetChangeOrderInfo"]
        rows.append({"T_s": duration, "status_calls": len(polls), "wall_s": wall})
        stack.destroy()
    return {"rows": rows}


def p6(bench: Bench, sizes: list[int], duration_s: float) -> dict[str, Any]:
    rows = []
    for n in sizes:
        bench.reset_world(n, "edas", duration_s)
        stack = bench.fleet_stack(
            kind="trigger", count=1, targets_per_resource=n, hash="v1", timeout=3600
        )
        stack.up()
        bench.configure(stack, hash="v2")
        bench.emulator.clear_journal()
        watch = ProviderWatch()
        stack.env.update(watch.env)
        with watch:
            wall = timed(stack.up)
        restarts = [
            e
            for e in bench.emulator.journal()
            if e["action"].startswith("Restart") and e["status"] == 200
        ]
        assert len(restarts) == n, f"P6: {len(restarts)} restarts for {n} targets"
        rows.append(
            {
                "targets": n,
                "peak_threads": watch.peak_threads,
                "peak_rss_mib": watch.peak_rss_kib / 1024,
                "wall_s": wall,
                "restarts": len(restarts),
            }
        )
        stack.destroy()
    return {"T_s": duration_s, "rows": rows}


def p4(quick: bool) -> dict[str, Any]:
    from bench.hash_paths_bench import main as hash_bench

    args = ["--files", "2000", "--total-mb", "100"] if quick else []
    return hash_bench(args + ["--runs", "3" if quick else "5"])


def machine() -> str:
    cpus = os.cpu_count()
    mem = ""
    try:
        kb = int(next(x for x in open("/proc/meminfo") if x.startswith("MemTotal")).split()[1])
        mem = f", {kb / 1024 / 1024:.0f} GiB"
    except (OSError, StopIteration, ValueError):
        pass
    python = f"{platform.python_implementation()} {platform.python_version()}"
    return f"{platform.machine()}, {cpus} cores{mem}, {python}"


def table(results: dict[str, Any]) -> str:
    lines = [
        f"machine: {results['machine']}",
        f"pulumi: {results['pulumi']}",
        "",
        "| figure | RestartTrigger | floor / baseline | ratio |",
        "|---|---|---|---|",
    ]
    if "P1" in results:
        r = results["P1"]
        lines.append(
            f"| P1 `preview`, {r['count']} resources (median) | {r['trigger_preview_s']:.2f} s | "
            f"{r['noop_preview_s']:.2f} s (no-op dynamic) | {r['preview_ratio']:.2f} |"
        )
        lines.append(
            f"| P1 no-change `up`, {r['count']} resources (median) | {r['trigger_up_s']:.2f} s | "
            f"{r['noop_up_s']:.2f} s (no-op dynamic) | {r['up_ratio']:.2f} |"
        )
        if "plugin_preview_s" in r:
            for step, label in (("preview", "`preview`"), ("up", "no-change `up`")):
                lines.append(
                    f"| P1 {label}, {r['count']} resources, through the plugin (median) | "
                    f"{r[f'plugin_{step}_s']:.2f} s | {r[f'trigger_{step}_s']:.2f} s (dynamic "
                    f"RestartTrigger); {r[f'noop_{step}_s']:.2f} s (no-op dynamic) | "
                    f"{r[f'plugin_{step}_over_trigger']:.2f} vs dynamic; "
                    f"{r[f'plugin_{step}_over_noop']:.2f} vs no-op |"
                )
        lines.append(
            f"| P2 state per resource | {r['trigger_state_bytes']:.0f} B | "
            f"{r['noop_state_bytes']:.0f} B (no-op dynamic) | "
            f"{r['trigger_state_bytes'] / r['noop_state_bytes']:.2f} |"
        )
        if "plugin_state_bytes" in r:
            lines.append(
                f"| P2 state per resource, through the plugin | {r['plugin_state_bytes']:.0f} B | "
                f"{r['trigger_state_bytes']:.0f} B (dynamic RestartTrigger); "
                f"{r['noop_state_bytes']:.0f} B (no-op dynamic) | "
                f"{r['plugin_state_bytes'] / r['trigger_state_bytes']:.2f} vs dynamic; "
                f"{r['plugin_state_bytes'] / r['noop_state_bytes']:.2f} vs no-op |"
            )
        lines.append(
            f"| P2 length of `__provider` | {r['trigger_provider_len']} chars | "
            f"{r['noop_provider_len']} chars | |"
        )
        if "plugin_provider_len" in r:
            lines.append(
                f"| P2 length of `__provider`, through the plugin | "
                f"{r['plugin_provider_len']} chars (n/a: no `__provider`) | one provider "
                f"resource per stack: {r['plugin_provider_resource_bytes']:.0f} B | |"
            )
    if "P3" in results:
        r = results["P3"]
        lines.append(
            f"| P3 {r['targets']} targets, T={r['T_s']:g} s: one trigger with {r['targets']} "
            f"targets | {r['one_trigger_wall_s']:.1f} s = {r['one_trigger_wall_over_T']:.1f} T | "
            f"{r['targets']} single-target triggers: {r['single_target_triggers_wall_s']:.1f} s = "
            f"{r['single_target_triggers_wall_over_T']:.1f} T | "
            f"{r['single_target_triggers_wall_s'] / r['one_trigger_wall_s']:.1f}x faster |"
        )
        lines.append(
            f"| P3 one trigger vs its budget (1.3 T + no-op update floor "
            f"{r['noop_update_floor_s']:.1f} s) | {r['one_trigger_wall_s']:.1f} s | "
            f"{r['one_trigger_budget_s']:.1f} s | "
            f"{r['one_trigger_overhead_per_target_ms']:.0f} ms per target over T + floor |"
        )
        if "one_trigger_verify_wall_s" in r:
            lines.append(
                f"| P3 one trigger with `verify` (a probe per target, answering at once) vs "
                f"its budget + 5 % | {r['one_trigger_verify_wall_s']:.1f} s = "
                f"{r['one_trigger_verify_wall_over_T']:.1f} T | "
                f"{r['one_trigger_verify_budget_s']:.1f} s | "
                f"{'within' if r['one_trigger_verify_within_budget'] else 'OVER'}; "
                f"{r['one_trigger_verify_over_plain']:.2f}x the same trigger without |"
            )
        par, off = (
            r["single_target_triggers_parallel_wall_s"],
            r["single_target_triggers_parallel_4_workers_wall_s"],
        )
        lines.append(
            f"| P3 same, {r['targets']} single-target triggers with `up --parallel "
            f"{r['targets']}` | {par:.1f} s = {par / r['T_s']:.1f} T | provider server kept at "
            f"4 threads: {off:.1f} s = {off / r['T_s']:.1f} T | {off / par:.1f}x faster |"
        )
    if "P4" in results:
        r = results["P4"]
        lines.append(
            f"| P4 `hash_paths` over {r['files']:,} files, {r['bytes'] / 1e6:.0f} MB (median) | "
            f"{r['hash_paths_MBps']:.0f} MB/s, peak RSS {r['peak_rss_bytes'] / 2**20:.0f} MiB | "
            f"`sha256sum` {r['sha256sum_MBps']:.0f} MB/s | {r['ratio']:.2f} |"
        )
    if "P5" in results:
        for row in results["P5"]["rows"]:
            lines.append(
                f"| P5 status calls for one restart, T={row['T_s']:g} s | "
                f"{row['status_calls']} calls | | {row['status_calls'] / row['T_s']:.2f} per s |"
            )
    if "P6" in results:
        for row in results["P6"]["rows"]:
            lines.append(
                f"| P6 one trigger, {row['targets']:,} targets, T={results['P6']['T_s']:g} s: "
                f"provider peak threads / RSS | {row['peak_threads']} threads, "
                f"{row['peak_rss_mib']:.0f} MiB | {row['restarts']:,} restarts in "
                f"{row['wall_s']:.0f} s | |"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="runs per median (default 3)")
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke run")
    parser.add_argument("--only", default="P1,P3,P4,P5,P6", help="which figures (default all)")
    parser.add_argument("--json", type=Path, help="also write the results as JSON here")
    args = parser.parse_args(argv)
    only = {x.strip().upper() for x in args.only.split(",")}

    path, version = cli_identity()
    results: dict[str, Any] = {"machine": machine(), "pulumi": f"{version} ({path})"}
    with tempfile.TemporaryDirectory(prefix="rt-bench-") as tmp, EmulatorProcess() as emu:
        bench = Bench(Path(tmp), emu)
        try:
            if "P1" in only or "P2" in only:
                results["P1"] = p1_p2(bench, args.runs, 20 if args.quick else 200)
            if "P3" in only:
                results["P3"] = p3(bench, 10 if args.quick else 50, 2.0 if args.quick else 5.0)
            if "P5" in only:
                results["P5"] = p5(bench, [1.0, 4.0] if args.quick else [2.0, 10.0, 30.0, 60.0])
            if "P6" in only:
                results["P6"] = p6(bench, [200] if args.quick else [1000, 5000], 0.5)
        finally:
            bench.close()
    if "P4" in only:
        results["P4"] = p4(args.quick)
    print()
    print(table(results))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2, default=str))
    return results


if __name__ == "__main__":
    main()

"""Verify after restart, with the real CLI against the emulator and a loopback HTTP service.

A canary whose service answers 500 after its restart fails the `up` naming it, the probe and
the last answer, and no other target restarts (the journal); state keeps it restarted for
this hash but unverified, the preview says "verify again at up", and once the service
recovers the next `up` restarts it not again and verifies it. A healthy rollout waits for its
probes (their times against the change's end) and succeeds. The cloud's own view catches an
application whose instances are not all running (the emulator's ``instances_not_running``).

No fixed port (the service binds port 0) and no timing race: what the service answers
depends on what it was told and how many requests it got, never on when they arrive, and
every window is many times longer than what it waits for.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from restart_trigger.preview_summary import summarize_preview
from testbed.emulator import (
    RESTARTS,
    TEST_APP_ID,
    TEST_ENV_ID,
    TEST_K8S_APP_ID,
    TEST_SAE_APP_ID,
    target_of,
)
from testbed.fleet import fleet_seed, target_ids

pytestmark = pytest.mark.e2e

CONFIG_FILE = "config/api/app.properties"


class Health(ThreadingHTTPServer):
    """A loopback HTTP service: ``answers[path]`` is a list of statuses given in turn (the last
    repeats; default 200); every request is recorded (time, path, headers)."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.lock = threading.Lock()
        self.answers: dict[str, list[int]] = {}
        self.seen: list[tuple[float, str, dict[str, str]]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def answer(self, path: str, *statuses: int) -> None:
        with self.lock:
            self.answers[path] = list(statuses)

    def requests(self, path: str | None = None) -> list[tuple[float, str, dict[str, str]]]:
        with self.lock:
            return [r for r in self.seen if path is None or r[1] == path]


class _Handler(BaseHTTPRequestHandler):
    server: Health

    def do_GET(self) -> None:  # noqa: N802 - the base class's name
        with self.server.lock:
            self.server.seen.append((time.time(), self.path, dict(self.headers.items())))
            queue = self.server.answers.get(self.path) or [200]
            status = queue.pop(0) if len(queue) > 1 else queue[0]
        # a broken service that echoes what it got: header values must still never show
        echoed = {"authorization": self.headers.get("Authorization"), "got": dict(self.headers)}
        body = json.dumps({**echoed, "status": "UP" if status == 200 else "DOWN"})
        payload = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - the base's name
        pass


@pytest.fixture
def health() -> Iterator[Health]:
    yield from serving()


def serving() -> Iterator[Health]:
    """A running :class:`Health` on 127.0.0.1 (port 0), shut down afterwards."""
    server = Health()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def restarts_of(emulator) -> list[str]:
    """The targets whose restart the emulator applied, in order."""
    return [
        target_of(e) for e in emulator.journal() if e["action"] in RESTARTS and e.get("applied")
    ]


def trigger_outputs(stack) -> dict:
    (trigger,) = stack.resources("RestartTrigger")
    return trigger["outputs"]


def change_ends(emulator) -> dict[str, float]:
    """When each target's last change order ended on the emulator (epoch s)."""
    state = emulator.state()
    ends = {}
    for order in state["edas_change_orders"]:
        ends[order["app_id"]] = max(
            ends.get(order["app_id"], 0.0), order["created_at"] + order["duration_s"]
        )
    return ends


def test_a_canary_that_fails_verification_stops_the_rollout_and_is_verified_again_not_restarted(
    trigger_stack, emulator, health
):
    emulator.seed(fleet_seed(3, "edas", duration_s=0.3))
    apps = [ident for _, ident in target_ids(3, "edas")]
    canary, *others = apps
    verify = {"http": [{"url": f"{health.url}/health"}], "within": 4, "interval": 0.5}
    triggers = [
        {
            "name": "fleet",
            "paths": ["config/api"],
            "targets": [{"app_id": a} for a in apps],
            "canary": 1,
            "verify": verify,
        }
    ]
    stack = trigger_stack(triggers, {CONFIG_FILE: "pool=1\n"})
    stack.up()  # created: nothing restarts, nothing is verified
    assert health.requests() == [] and restarts_of(emulator) == []

    health.answer("/health", 500)  # the restarted canary is broken
    emulator.clear_journal()
    (stack.workdir / CONFIG_FILE).write_text("pool=2\n")
    failed = stack.up(check=False)

    assert failed.returncode != 0
    probe = f"verify.http[0] GET {health.url}/health"
    out = failed.output
    assert f"edas:{canary} (change " in out and "restarted, not verified" in out
    assert f"{probe}: last answer HTTP 500 (expected 2xx), body " in out
    assert restarts_of(emulator) == [canary]  # no other target restarted
    assert f"not started: the canary edas:{canary} did not pass verification" in out
    assert f"{probe}: fail, HTTP 500" in out  # the progress line, as the probe answered
    first_probe = health.requests("/health")[0][0]
    assert first_probe >= change_ends(emulator)[canary]  # probed after its change ended

    outputs = trigger_outputs(stack)
    new_hash = outputs["hash"]
    record = outputs["progress"][f"edas:{canary}"]
    assert record["hash"] == new_hash and record["unverified_hash"] == new_hash
    assert "HTTP 500" in record["unverified_reason"]
    assert outputs["owed"] == [f"edas:{a}" for a in apps]

    emulator.clear_journal()
    probes_before = len(health.requests())
    preview = stack.preview()
    assert f"edas:{canary} restarted for this hash, not verified: verify again at up" in (
        preview.output
    )
    summary = summarize_preview(stack.preview_json())
    assert "#### Verified again at up (no restart)" in summary
    assert f"EDAS app {canary}: verify again at up, no restart" in summary
    assert "**2 targets would restart.**" in summary
    assert emulator.journal() == []  # previews call nothing, not even a read
    assert len(health.requests()) == probes_before  # and probe nothing

    health.answer("/health", 200)  # the service recovered
    stack.up()
    assert sorted(restarts_of(emulator)) == sorted(others)  # the canary is not restarted again
    assert len(health.requests()) > probes_before
    outputs = trigger_outputs(stack)
    assert outputs["owed"] == []
    assert "unverified_hash" not in outputs["progress"][f"edas:{canary}"]
    assert outputs["progress"][f"edas:{canary}"]["change_id"] == record["change_id"]
    assert outputs["progress"][f"edas:{canary}"]["verified_at"]

    emulator.clear_journal()
    probes_before = len(health.requests())
    stack.up()  # nothing changed: nothing restarts, nothing is probed
    assert restarts_of(emulator) == [] and len(health.requests()) == probes_before


def test_a_healthy_rollout_waits_for_its_probes_and_succeeds(trigger_stack, emulator, health):
    emulator.seed(fleet_seed(2, "edas", duration_s=0.3))
    apps = [ident for _, ident in target_ids(2, "edas")]
    # each service warms up: two 503s, then 200; two passes in a row are needed
    health.answer("/a", 503, 503, 200)
    health.answer("/b", 503, 503, 200)
    triggers = [
        {
            "name": "fleet",
            "paths": ["config/api"],
            "targets": [
                {"app_id": apps[0]},
                {"app_id": apps[1], "verify": {"http": [{"url": f"{health.url}/b"}], "within": 60}},
            ],
            "verify": {
                "http": [{"url": f"{health.url}/a", "body": '"UP"'}],
                "successes": 2,
                "interval": 0.2,
                "within": 60,
            },
        }
    ]
    stack = trigger_stack(triggers, {CONFIG_FILE: "pool=1\n"})
    stack.up()
    emulator.clear_journal()
    (stack.workdir / CONFIG_FILE).write_text("pool=2\n")
    started = time.time()
    done = stack.up()
    ended = time.time()

    ends = change_ends(emulator)
    a, b = health.requests("/a"), health.requests("/b")
    assert len(a) == 4  # 503, 503, 200, 200: two passes in a row
    assert len(b) == 3  # its own verify: one pass is enough
    assert min(t for t, _, _ in a) >= ends[apps[0]] and min(t for t, _, _ in b) >= ends[apps[1]]
    assert started < max(t for t, _, _ in a + b) < ended  # the `up` waited for them
    out = done.output
    assert f"verify.http[0] GET {health.url}/a: fail, HTTP 503" in out
    assert f"verify.http[0] GET {health.url}/a: pass, HTTP 200 holding '\"UP\"'" in out
    assert f"targets[1].verify.http[0] GET {health.url}/b: pass, HTTP 200" in out
    assert f"edas:{apps[0]} verified" in out and f"edas:{apps[1]} verified" in out
    outputs = trigger_outputs(stack)
    assert outputs["owed"] == []
    assert all("unverified_hash" not in p for p in outputs["progress"].values())
    assert all(p.get("verified_at") for p in outputs["progress"].values())
    assert sorted(restarts_of(emulator)) == sorted(apps)


def test_the_clouds_view_catches_an_application_whose_instances_are_not_all_running(
    trigger_stack, emulator
):
    # one target of each kind; the SAE application keeps one of its 2 instances down
    emulator.seed({"sae_applications": [{"app_id": TEST_SAE_APP_ID, "instances_not_running": 1}]})
    targets = [
        {"app_id": TEST_APP_ID},
        {"env_id": TEST_ENV_ID},
        {"kind": "sae", "app_id": TEST_SAE_APP_ID},
        {"kind": "edas-k8s", "app_id": TEST_K8S_APP_ID},
    ]
    triggers = [
        {
            "name": "four",
            "paths": ["config/api"],
            "targets": targets,
            "max_failures": 3,
            "verify": {"cloud": True, "within": 3, "interval": 0.5},
        }
    ]
    stack = trigger_stack(triggers, {CONFIG_FILE: "pool=1\n"})
    stack.up()
    emulator.clear_journal()
    (stack.workdir / CONFIG_FILE).write_text("pool=2\n")
    failed = stack.up(check=False)

    assert failed.returncode != 0
    assert f"sae:{TEST_SAE_APP_ID} (change " in failed.output
    assert (
        "verify.cloud DescribeApplicationGroups: last answer 1 of 2 instance(s) running (SAE "
        "DescribeApplicationGroups RunningInstances/Replicas)"
    ) in failed.output
    reads = {e["action"] for e in emulator.journal()}
    assert {
        "QueryApplicationStatus",
        "DescribeAppInstanceList",
        "DescribeApplicationGroups",
        "DescribeAppEnvStatus",
    } <= reads
    outputs = trigger_outputs(stack)
    unverified = [k for k, p in outputs["progress"].items() if p.get("unverified_hash")]
    assert unverified == [f"sae:{TEST_SAE_APP_ID}"]
    assert outputs["owed"] == [f"sae:{TEST_SAE_APP_ID}"]
    assert len(restarts_of(emulator)) == 4

    emulator.seed({"sae_applications": [{"app_id": TEST_SAE_APP_ID, "instances_not_running": 0}]})
    emulator.clear_journal()
    stack.up()
    assert restarts_of(emulator) == []  # verified again, not restarted
    assert [e["action"] for e in emulator.journal()] == ["DescribeApplicationGroups"]
    outputs = trigger_outputs(stack)
    assert (
        outputs["owed"] == []
        and "unverified_hash" not in outputs["progress"][f"sae:{TEST_SAE_APP_ID}"]
    )

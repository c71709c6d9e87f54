"""runner: one bounded pool per process, a rolling window per trigger, nothing started after
the deadline, and failure texts that are safe to print."""

from __future__ import annotations

import threading
import time

import pytest

from restart_trigger import runner
from restart_trigger.aliyun import NotFoundError, RestartResult
from restart_trigger.backoff import Deadline
from restart_trigger.lines import Lines
from restart_trigger.runner import NOT_STARTED, Outcome, Rollout, failure_text, run_rollout
from restart_trigger.targets import FAILED, SUCCEEDED, ChangeStatus, InstancesView
from restart_trigger.targets.edas import EdasTarget
from restart_trigger.verify import Answer, spec_of
from tests.unit.fakes import FakeTime


class CountingTarget(EdasTarget):
    """An EDAS target whose restart takes a moment and counts how many run at once."""

    lock = threading.Lock()
    now = 0
    peak = 0
    started: list[str] = []

    def call_restart_api(self, client, known_change_ids):
        cls = type(self)
        with cls.lock:
            cls.now += 1
            cls.peak = max(cls.peak, cls.now)
            cls.started.append(self.app_id)
        time.sleep(0.02)
        with cls.lock:
            cls.now -= 1
        return RestartResult(f"co-{self.app_id}", "req")

    def status(self, client, change_id):
        return ChangeStatus(SUCCEEDED, "EDAS status 2 (success)")


def fresh(n):
    CountingTarget.now = CountingTarget.peak = 0
    CountingTarget.started = []
    return [CountingTarget(app_id=f"app-{i}") for i in range(n)]


def test_max_parallel_is_a_rolling_window():
    targets = fresh(12)
    outcomes = run_rollout(
        None,
        targets,
        known_change_ids={},
        wait=True,
        deadline=Deadline(60),
        rollout=Rollout(max_parallel=3),
    )
    assert [o.change_id for o in outcomes] == [f"co-app-{i}" for i in range(12)]
    assert CountingTarget.peak <= 3
    assert not any(o.failed for o in outcomes)


def test_the_process_wide_cap_bounds_threads_whatever_the_target_count(monkeypatch):
    monkeypatch.setattr(runner, "_pool", None)
    monkeypatch.setenv("RESTART_TRIGGER_MAX_CONCURRENCY", "4")
    targets = fresh(40)
    run_rollout(None, targets, known_change_ids={}, wait=False, deadline=Deadline(60))
    assert CountingTarget.peak <= 4
    assert runner._shared_pool()._max_workers == 4
    monkeypatch.setattr(runner, "_pool", None)


def test_the_cap_has_a_documented_default_and_ignores_nonsense():
    assert runner.max_concurrent_restarts({}) == runner.DEFAULT_MAX_CONCURRENT_RESTARTS == 64
    assert runner.max_concurrent_restarts({"RESTART_TRIGGER_MAX_CONCURRENCY": "0"}) == 64
    assert runner.max_concurrent_restarts({"RESTART_TRIGGER_MAX_CONCURRENCY": "x"}) == 64
    assert runner.max_concurrent_restarts({"RESTART_TRIGGER_MAX_CONCURRENCY": "8"}) == 8


def test_no_target_starts_after_the_deadline():
    targets = fresh(3)
    clock = [0.0]
    deadline = Deadline(1, clock=lambda: clock[0])
    clock[0] = 2.0
    outcomes = run_rollout(None, targets, known_change_ids={}, wait=True, deadline=deadline)
    assert CountingTarget.started == []
    assert [o.error for o in outcomes] == [NOT_STARTED] * 3


def test_failure_texts_show_control_characters_as_escapes():
    outcome = Outcome("edas:app\x1b[2J", change_id="co-\x07", error="refused: \x1b]0;owned\x07")
    text = failure_text([outcome])
    assert "\x1b" not in text and "\x07" not in text
    assert "edas:app\\x1b[2J" in text and "co-\\x07" in text


def test_a_timeout_while_a_change_waits_for_confirmation_says_so():
    from restart_trigger.targets import PAUSED

    class Paused(CountingTarget):
        def status(self, client, change_id):
            return ChangeStatus(PAUSED, "EDAS status 8 (waiting for manual confirmation)")

    clock = [0.0]

    def sleep(seconds):
        clock[0] += seconds

    deadline = Deadline(30, clock=lambda: clock[0], sleep=sleep)
    (outcome,) = run_rollout(
        None, [Paused(app_id="app-1")], known_change_ids={}, wait=True, deadline=deadline
    )
    assert "is waiting for someone" in outcome.error
    assert "manual confirmation" in outcome.error and "co-app-1" in outcome.error


class ScriptedTarget(EdasTarget):
    """An EDAS target whose change fails when its app id says so; records the start order."""

    log: list[str] = []
    lock = threading.Lock()

    def call_restart_api(self, client, known_change_ids):
        with ScriptedTarget.lock:
            ScriptedTarget.log.append(f"start {self.app_id}")
        return RestartResult(f"co-{self.app_id}", "req")

    def status(self, client, change_id):
        with ScriptedTarget.lock:
            ScriptedTarget.log.append(f"done {self.app_id}")
        if self.app_id.startswith("bad"):
            return ChangeStatus(FAILED, "EDAS status 3 (failed)", "boom")
        return ChangeStatus(SUCCEEDED, "EDAS status 2 (success)")


def scripted(*ids):
    ScriptedTarget.log = []
    return [ScriptedTarget(app_id=i) for i in ids]


def roll(targets, **rollout):
    return run_rollout(
        None,
        targets,
        known_change_ids={},
        wait=True,
        deadline=Deadline(60),
        rollout=Rollout(**rollout),
    )


def test_a_failing_canary_starts_no_other_target():
    outcomes = roll(scripted("bad-1", "ok-2", "ok-3"), canary=1, max_failures=5)
    assert ScriptedTarget.log == ["start bad-1", "done bad-1"]
    assert [o.started for o in outcomes] == [True, False, False]
    assert "the canary edas:bad-1 did not restart" in outcomes[1].error


def test_a_healthy_canary_finishes_before_the_others_start():
    outcomes = roll(scripted("ok-1", "ok-2", "ok-3", "ok-4"), canary=2)
    first_other = min(
        ScriptedTarget.log.index("start ok-3"), ScriptedTarget.log.index("start ok-4")
    )
    assert ScriptedTarget.log.index("done ok-1") < first_other
    assert ScriptedTarget.log.index("done ok-2") < first_other
    assert all(o.restarted for o in outcomes)


def test_once_more_than_max_failures_failed_no_further_target_starts():
    outcomes = roll(scripted("ok-1", "bad-2", "ok-3", "ok-4"), max_parallel=1, max_failures=0)
    assert [o.started for o in outcomes] == [True, True, False, False]
    assert "more than max_failures=0" in outcomes[2].error
    assert "start ok-3" not in ScriptedTarget.log


def test_failures_within_max_failures_do_not_stop_the_rollout():
    outcomes = roll(scripted("bad-1", "ok-2", "bad-3", "ok-4"), max_parallel=1, max_failures=1)
    assert [o.started for o in outcomes] == [True, True, True, False]


def test_the_failure_text_names_failed_and_not_started_targets_and_what_the_next_up_does():
    outcomes = roll(scripted("ok-1", "bad-2", "ok-3"), max_parallel=1)
    text = failure_text(outcomes)
    assert "2 of 3 target(s) did not restart" in text
    assert "edas:bad-2 (change co-bad-2): " not in text  # a failed change reads as failed
    assert "edas:bad-2: change co-bad-2 failed" in text
    assert "edas:ok-3: not started: 1 target(s) had failed" in text
    assert "restarted: edas:ok-1 (co-ok-1)" in text
    assert "restarts only the 2 target(s) above" in text
    assert "restarts every target again" in failure_text(outcomes, progress_saved=False)


def test_progress_reports_each_change_id_and_status_change_as_it_happens():
    lines: list[str] = []
    progress = Lines("orders", lines.append)
    run_rollout(
        None,
        scripted("ok-1", "bad-2"),
        known_change_ids={},
        wait=True,
        deadline=Deadline(60),
        rollout=Rollout(max_parallel=1, max_failures=1),
        lines=progress,
    )
    assert lines == [
        "orders: edas:ok-1 restart issued: change co-ok-1",
        "orders: edas:ok-1 change co-ok-1: succeeded (EDAS status 2 (success))",
        "orders: edas:bad-2 restart issued: change co-bad-2",
        "orders: edas:bad-2 change co-bad-2: failed (EDAS status 3 (failed)): boom",
    ]


class SettlingTarget(EdasTarget):
    """An EDAS target whose earlier change reads as scripted; records sends."""

    sent: list[str] = []
    earlier: ChangeStatus | None = None

    def call_restart_api(self, client, known_change_ids):
        SettlingTarget.sent.append(self.app_id)
        return RestartResult("co-new", "req")

    def status(self, client, change_id):
        if change_id == "co-earlier":
            if SettlingTarget.earlier is None:
                from restart_trigger.aliyun import NotFoundError

                raise NotFoundError(404, "ChangeNotExists", "gone", None)
            return SettlingTarget.earlier
        return ChangeStatus(SUCCEEDED, "EDAS status 2 (success)")


def settle(earlier):
    SettlingTarget.sent, SettlingTarget.earlier = [], earlier
    (outcome,) = run_rollout(
        None,
        [SettlingTarget(app_id="app-1")],
        known_change_ids={},
        wait=True,
        deadline=Deadline(60),
        unsettled={"edas:app-1": "co-earlier"},
    )
    return outcome


def test_a_change_an_earlier_up_issued_and_that_succeeded_is_adopted_not_sent_again():
    outcome = settle(ChangeStatus(SUCCEEDED, "EDAS status 2 (success)"))
    assert (outcome.change_id, outcome.restarted, SettlingTarget.sent) == ("co-earlier", True, [])


def test_an_earlier_change_that_failed_or_is_gone_restarts_the_target_anew():
    assert settle(ChangeStatus(FAILED, "EDAS status 3 (failed)")).change_id == "co-new"
    assert SettlingTarget.sent == ["app-1"]
    assert settle(None).change_id == "co-new"
    assert SettlingTarget.sent == ["app-1"]


def test_a_change_issued_but_not_seen_to_finish_is_named_in_the_failure_text():
    text = failure_text([Outcome("edas:app-1", change_id="co-1", error="timed out after 5s")])
    assert "issued but not seen to finish: edas:app-1 (co-1)" in text
    assert "waits for these changes instead of restarting again" in text


def test_a_status_read_the_service_refuses_for_credentials_fails_at_once():
    from restart_trigger.aliyun import AuthError

    class RefusedReads(EdasTarget):
        reads = 0

        def call_restart_api(self, client, known_change_ids):
            return RestartResult("co-1", "req")

        def status(self, client, change_id):
            RefusedReads.reads += 1
            raise AuthError(400, "InvalidSecurityToken.Expired", "expired", "req-2")

    (outcome,) = run_rollout(
        None, [RefusedReads(app_id="a")], known_change_ids={}, wait=True, deadline=Deadline(600)
    )
    assert RefusedReads.reads == 1  # not polled again until the 600 s deadline
    assert outcome.error.startswith("could not read the status of change co-1: ")
    assert "InvalidSecurityToken.Expired" in outcome.error


# -- an earlier update's change, with waits off; an unknown outcome; a stop ---------------------


def settle_without_waits(earlier):
    SettlingTarget.sent, SettlingTarget.earlier = [], earlier
    (outcome,) = run_rollout(
        None,
        [SettlingTarget(app_id="app-1")],
        known_change_ids={},
        wait=False,
        deadline=Deadline(60),
        unsettled={"edas:app-1": "co-earlier"},
    )
    return outcome


def test_with_waits_off_a_running_earlier_change_is_adopted_not_sent_again():
    from restart_trigger.targets import RUNNING

    outcome = settle_without_waits(ChangeStatus(RUNNING, "EDAS status 1 (executing)"))
    assert (outcome.change_id, outcome.restarted, SettlingTarget.sent) == ("co-earlier", True, [])


def test_with_waits_off_an_earlier_change_that_failed_or_is_gone_restarts_anew():
    assert (
        settle_without_waits(ChangeStatus(FAILED, "EDAS status 3 (failed)")).change_id == "co-new"
    )
    assert SettlingTarget.sent == ["app-1"]
    assert settle_without_waits(None).change_id == "co-new"


class LostTarget(SettlingTarget):
    """Resolves an earlier unknown restart as scripted."""

    found: object = None
    asked: list = []

    def find_earlier_restart(self, client, **kwargs):
        LostTarget.asked.append(kwargs)
        if isinstance(LostTarget.found, BaseException):
            raise LostTarget.found
        return LostTarget.found


def resolve_lost(found):
    from restart_trigger.runner import Unknown

    SettlingTarget.sent = []
    SettlingTarget.earlier = ChangeStatus(SUCCEEDED, "EDAS status 2 (success)")
    LostTarget.found, LostTarget.asked = found, []
    lost = Unknown(frozenset({"co-before"}), 1000.0, 60.0)
    (outcome,) = run_rollout(
        None,
        [LostTarget(app_id="app-1")],
        known_change_ids={"edas:app-1": "co-last"},
        wait=True,
        deadline=Deadline(60),
        unknown={"edas:app-1": lost},
    )
    return outcome, lost


def test_an_unknown_outcome_found_in_the_change_list_is_adopted_and_nothing_is_sent():
    outcome, _ = resolve_lost("co-earlier")
    assert (outcome.change_id, outcome.restarted, SettlingTarget.sent) == ("co-earlier", True, [])
    [asked] = LostTarget.asked
    assert asked["before"] == frozenset({"co-before"}) and asked["sent_at"] == 1000.0
    assert asked["known_change_ids"] == ["co-last"]


def test_an_unknown_outcome_with_nothing_after_the_window_is_sent_again_once():
    outcome, _ = resolve_lost(None)
    assert outcome.change_id == "co-new" and SettlingTarget.sent == ["app-1"]


def test_an_unknown_outcome_still_unknown_is_kept_and_nothing_is_sent():
    from restart_trigger.aliyun import RestartOutcomeUnknown

    outcome, lost = resolve_lost(RestartOutcomeUnknown("EDAS application app-1", "two candidates"))
    assert outcome.unknown == lost and outcome.failed and SettlingTarget.sent == []
    text = failure_text([outcome])
    assert "outcome unknown: edas:app-1; the next `pulumi up` checks these first" in text


def test_a_restart_whose_outcome_became_unknown_keeps_what_the_next_update_needs():
    from restart_trigger.aliyun import RestartOutcomeUnknown
    from restart_trigger.runner import Unknown

    class Lost(EdasTarget):
        def call_restart_api(self, client, known_change_ids):
            error = RestartOutcomeUnknown("EDAS application a", "deadline passed")
            error.snapshot, error.sent_at, error.settle_window = frozenset({"x"}), 7.0, 60.0
            raise error

    (outcome,) = run_rollout(
        None, [Lost(app_id="a")], known_change_ids={}, wait=True, deadline=Deadline(60)
    )
    assert outcome.unknown == Unknown(frozenset({"x"}), 7.0, 60.0)
    assert outcome.error.startswith("restart outcome unknown: ")


def test_once_a_stop_is_requested_no_target_starts_and_waits_end():
    from restart_trigger.runner import ENGINE_GONE
    from restart_trigger.stopping import Stop
    from restart_trigger.targets import RUNNING

    stop = Stop()

    class StopsAfterFirst(EdasTarget):
        sent: list[str] = []

        def call_restart_api(self, client, known_change_ids):
            StopsAfterFirst.sent.append(self.app_id)
            stop.request("engine gone")
            return RestartResult(f"co-{self.app_id}", "req")

        def status(self, client, change_id):
            return ChangeStatus(RUNNING, "EDAS status 1 (executing)")

    outcomes = run_rollout(
        None,
        [StopsAfterFirst(app_id=f"a{i}") for i in range(3)],
        known_change_ids={},
        wait=True,
        deadline=Deadline(600),
        rollout=Rollout(max_parallel=1),
        stop=stop,
    )
    assert StopsAfterFirst.sent == ["a0"]
    assert outcomes[0].unsettled and "the Pulumi engine went away" in outcomes[0].error
    assert [o.error for o in outcomes[1:]] == [ENGINE_GONE, ENGINE_GONE]


# -- verification: a target is done only once its restart succeeded and its checks passed;
# fake clock, fake targets, fake probes ----------------------------------------------------------


SECRET = "probe-token-value-9c1d"


DONE = ChangeStatus(SUCCEEDED, "EDAS status 2 (success)")


class Target(EdasTarget):
    """An EDAS target that restarts at once, counting restart calls; its instances read as
    the class says."""

    restarts: list[str] = []
    ready = True

    def call_restart_api(self, client, known_change_ids):
        type(self).restarts.append(self.app_id)
        return RestartResult(f"co-{self.app_id}", f"req-{self.app_id}")

    def status(self, client, change_id):
        return DONE

    def instances(self, client, deadline):
        ready = type(self).ready
        return InstancesView(ready, f"{2 if ready else 1} of 2 instance(s) running (test)")


@pytest.fixture
def clock():
    Target.restarts = []
    Target.ready = True
    return FakeTime()


def deadline_of(clock, seconds=600):
    return Deadline(seconds, clock=clock.clock, sleep=clock.sleep)


class Probes:
    """A fake fetch: answers per URL path, recording each probe sent (and its header values)."""

    def __init__(self, **answers):
        self.answers = answers
        self.sent = []

    def __call__(self, probe, limit):
        self.sent.append((probe.url, dict(probe.headers), limit))
        path = probe.url.rsplit("/", 1)[-1]
        status = self.answers.get(path, 200)
        if status == 200:
            return Answer(True, "HTTP 200")
        return Answer(False, f"HTTP {status} (expected 2xx), body 'echo {SECRET}'")


def spec(path="health", **extra):
    raw = {
        "http": [{"url": f"http://127.0.0.1:9/{path}", "headers": {"X-Token": SECRET}}],
        "within": 10,
        "interval": 2,
        **extra,
    }
    return spec_of(raw)


def targets(n):
    return [Target(app_id=f"app-{i}") for i in range(n)]


def roll_verifying(clock, ts, specs, fetch, lines=None, **kw):
    return run_rollout(
        None,
        ts,
        known_change_ids={},
        wait=True,
        deadline=deadline_of(clock),
        lines=Lines("api", (lines if lines is not None else []).append),
        verify_for=specs,
        fetch=fetch,
        **kw,
    )


def test_a_canary_that_fails_verification_stops_the_rollout(clock):
    ts = targets(3)
    lines = []
    outcomes = roll_verifying(
        clock,
        ts,
        {t.key: spec() for t in ts},
        Probes(health=500),
        lines,
        rollout=Rollout(canary=1),
    )
    canary, *others = outcomes
    assert Target.restarts == ["app-0"]  # no other target was restarted
    assert canary.restarted and canary.failed and not canary.done
    assert canary.verify_error.startswith("not verified within 10s: verify.http[0] GET ")
    assert all(not o.started for o in others)
    assert others[0].error == (
        "not started: the canary edas:app-0 did not pass verification; it restarts at the next "
        "`pulumi up`"
    )
    text = failure_text(outcomes)
    assert text.splitlines()[0] == "3 of 3 target(s) are not done (1 restarted but not verified):"
    assert "edas:app-0 (change co-app-0): restarted, not verified: not verified within 10s" in text
    assert "last answer HTTP 500 (expected 2xx), body 'echo ***'" in text
    assert text.splitlines()[-1] == (
        "State keeps the restarts that happened: the next `pulumi up` verifies edas:app-0 again "
        "(without restarting) and restarts only the 2 other target(s) above."
    )
    assert SECRET not in text + "\n".join(lines)
    assert "api: edas:app-0 verifying: verify.http[0] GET http://127.0.0.1:9/health" in lines[2]
    assert any("verify.http[0] GET http://127.0.0.1:9/health: fail, HTTP 500" in x for x in lines)


def test_a_verification_that_does_not_pass_counts_for_max_failures(clock):
    ts = targets(3)
    specs = {ts[0].key: spec("bad"), ts[1].key: spec(), ts[2].key: spec()}
    outcomes = roll_verifying(clock, ts, specs, Probes(bad=503), rollout=Rollout(max_parallel=1))
    assert Target.restarts == ["app-0"]
    assert outcomes[1].error.startswith("not started: 1 target(s) had failed, more than")
    outcomes = roll_verifying(
        clock, targets(3), specs, Probes(bad=503), rollout=Rollout(max_parallel=1, max_failures=1)
    )
    assert [o.done for o in outcomes] == [False, True, True]


def test_a_healthy_rollout_waits_for_every_check_and_says_each_result(clock):
    ts = targets(2)
    lines = []
    probes = Probes()
    outcomes = roll_verifying(
        clock, ts, {t.key: spec(successes=2, cloud=True) for t in ts}, probes, lines
    )
    assert [o.done and o.verified for o in outcomes] == [True, True]
    assert len(probes.sent) == 4  # two passes in a row each
    assert all(headers == {"X-Token": SECRET} for _, headers, _ in probes.sent)
    assert "api: edas:app-0 verified" in lines
    assert any("verify.cloud QueryApplicationStatus: pass, 2 of 2 instance(s)" in x for x in lines)


def test_the_clouds_view_alone_catches_instances_not_all_running(clock):
    Target.ready = False
    [outcome] = roll_verifying(
        clock, targets(1), {"edas:app-0": spec_of({"cloud": True, "within": 6})}, None
    )
    assert outcome.restarted and not outcome.done
    assert outcome.verify_error == (
        "not verified within 6s: verify.cloud QueryApplicationStatus: last answer 1 of 2 "
        "instance(s) running (test) (0 of 1 consecutive pass(es), 3 attempt(s))"
    )


def test_a_target_without_a_spec_is_done_when_its_change_succeeded(clock):
    [outcome] = roll_verifying(clock, targets(1), {}, Probes(health=500))
    assert outcome.done and not outcome.verified and outcome.verify_error is None


def test_a_target_left_unverified_is_verified_again_and_never_restarted(clock):
    lines = []
    [outcome] = roll_verifying(
        clock,
        targets(1),
        {"edas:app-0": spec()},
        Probes(),
        lines,
        unverified={"edas:app-0": "co-earlier"},
    )
    assert Target.restarts == []
    assert outcome.reverify and outcome.done and outcome.change_id == "co-earlier"
    assert lines[0] == (
        "api: edas:app-0 restarted for this hash by an earlier update (change co-earlier), not "
        "verified: verifying again, not restarting"
    )
    [again] = roll_verifying(
        clock,
        targets(1),
        {"edas:app-0": spec()},
        Probes(health=500),
        unverified={"edas:app-0": "co-earlier"},
    )
    assert Target.restarts == [] and not again.done
    assert (
        "edas:app-0 (change co-earlier, restarted by an earlier update for this hash): still "
        "not verified" in failure_text([again])
    )


def test_a_cloud_read_that_fails_is_an_answer_not_a_crash(clock):
    class Broken(Target):
        def instances(self, client, deadline):
            raise NotFoundError(404, "NotFound", "no such app", "r-1")

    [outcome] = roll_verifying(
        clock, [Broken(app_id="x")], {"edas:x": spec_of({"cloud": True, "within": 3})}, None
    )
    assert "last answer could not read:" in outcome.verify_error

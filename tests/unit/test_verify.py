"""verify: the ``verify`` input checked at preview (each refusal names its field), the loop that
runs the checks (fake clock and sleep: no real time), and a probe's answer in words (never a
header value). No network: the probe's HTTP goes to a fake requests adapter."""

from __future__ import annotations

import math

import pytest
import requests

from restart_trigger.backoff import Deadline
from restart_trigger.inputs import check_inputs
from restart_trigger.validation import Failures
from restart_trigger.verify import (
    Answer,
    Check,
    HttpFetch,
    HttpProbe,
    Probe,
    Spec,
    Verify,
    check_spec,
    describe,
    judge,
    probe_checks,
    run,
    shown_url,
    spec_of,
)
from tests.unit.fakes import FakeTime

SECRET = "probe-token-value-7f3a"
URL = "https://api.example.test/health"


def failures_of(verify, **news):
    inputs = {"hash": "h", "targets": [{"app_id": "app-1"}], "verify": verify, **news}
    return check_inputs(inputs)[1]


def paths(failures):
    return [path or reason.split(":", 1)[0] for path, reason in failures]


# -- the spec, checked at preview ------------------------------------------------------------------


def test_a_valid_verify_is_stored_with_its_defaults_filled_in():
    inputs, failures = check_inputs(
        {"hash": "h", "targets": [{"app_id": "a"}], "verify": {"http": [{"url": URL}]}}
    )
    assert failures == []
    assert inputs["verify"] == {
        "http": [{"url": URL, "timeout": 10.0}],
        "cloud": False,
        "within": 300.0,
        "interval": 2.0,
        "successes": 1,
    }


@pytest.mark.parametrize(
    ("verify", "path", "words"),
    [
        ({"http": [{"url": "ftp://host/x"}]}, "verify.http[0].url", "http:// or https://"),
        ({"http": [{"url": "file:///etc/passwd"}]}, "verify.http[0].url", "http:// or https://"),
        ({"http": [{"url": "/health"}]}, "verify.http[0].url", "no scheme"),
        ({"http": [{"url": "https://user:pw@host/h"}]}, "verify.http[0].url", "credentials"),
        ({"http": [{"url": "https://token@host/h"}]}, "verify.http[0].url", "credentials"),
        ({"http": [{"url": "https:///h"}]}, "verify.http[0].url", "no host"),
        ({"http": [{"url": "https://h/ x"}]}, "verify.http[0].url", "whitespace"),
        ({"http": []}, "verify.http", "at least one probe"),
        ({"http": "https://h/x"}, "verify.http", "list of probes"),
        ({}, "verify", "names nothing to check"),
        ({"cloud": False}, "verify", "names nothing to check"),
        ({"http": [{"url": URL}], "within": 0}, "verify.within", "more than 0"),
        ({"http": [{"url": URL}], "within": -5}, "verify.within", "more than 0"),
        ({"http": [{"url": URL}], "within": math.nan}, "verify.within", "got nan"),
        ({"http": [{"url": URL}], "within": math.inf}, "verify.within", "seconds"),
        ({"http": [{"url": URL}], "interval": 0}, "verify.interval", "more than 0"),
        ({"http": [{"url": URL, "timeout": -1}]}, "verify.http[0].timeout", "more than 0"),
        ({"http": [{"url": URL, "timeout": math.nan}]}, "verify.http[0].timeout", "got nan"),
        ({"http": [{"url": URL}], "successes": 0}, "verify.successes", "at least 1"),
        ({"http": [{"url": URL}], "successes": 1.5}, "verify.successes", "whole number"),
        ({"http": [{"url": URL, "status": 99}]}, "verify.http[0].status", "100-599"),
        ({"http": [{"url": URL, "status": []}]}, "verify.http[0].status", "1 to 20"),
        ({"http": [{"url": URL, "body": ""}]}, "verify.http[0].body", "non-empty"),
        ({"http": [{"url": URL, "headers": ["x"]}]}, "verify.http[0].headers", "mapping"),
        ({"http": [{"url": URL, "headers": {"bad name": "v"}}]}, "verify.http[0].headers", "name"),
        ({"http": [{"url": URL}], "cloud": "yes"}, "verify.cloud", "true or false"),
        ({"http": [{"url": URL, "method": "POST"}]}, "verify.http[0].method", "unknown field"),
        ({"http": [{"url": URL}], "tries": 3}, "verify.tries", "unknown field"),
        ("https://h/x", "verify", "must be a mapping"),
    ],
)
def test_bad_verify_input_is_refused_naming_the_field(verify, path, words):
    failures = failures_of(verify)
    assert path in paths(failures), failures
    reason = next(r for p, r in failures if (p or r.split(":", 1)[0]) == path)
    assert words in reason


def test_a_refusal_at_verify_itself_leads_with_the_name_so_the_engine_echoes_no_value():
    # the engine prints a failing top-level property's value; a verify mapping may hold headers
    [(path, reason)] = failures_of({"cloud": False, "http": None})
    assert path == "" and reason.startswith("verify: names nothing to check")


def test_header_values_are_never_in_a_reason_and_need_https_or_loopback():
    bad_value = {"X-Token": SECRET + "\r\nInjected: 1"}
    failures = failures_of({"http": [{"url": URL, "headers": bad_value}]})
    assert paths(failures) == ["verify.http[0].headers.X-Token"]
    failures = failures_of(
        {"http": [{"url": "http://api.example.test/h", "headers": {"A": SECRET}}]}
    )
    assert paths(failures) == ["verify.http[0].headers"]
    assert "https://" in failures[0][1]
    assert (
        failures_of({"http": [{"url": "http://127.0.0.1:8080/h", "headers": {"A": SECRET}}]}) == []
    )
    assert (
        failures_of({"http": [{"url": "http://localhost:8080/h", "headers": {"A": SECRET}}]}) == []
    )
    everything = repr(failures_of({"http": [{"url": "ftp://x", "headers": {"A": SECRET}}]}))
    assert SECRET not in everything


def test_a_target_has_its_own_verify_or_none_and_each_refusal_names_its_path():
    targets = [
        {"app_id": "a", "verify": {"http": [{"url": "gopher://x"}]}},
        {"app_id": "b", "verify": False},
        {"env_id": "we-1", "verify": {"cloud": True}},
    ]
    inputs, failures = check_inputs({"hash": "h", "targets": targets})
    assert paths(failures) == ["targets[0].verify.http[0].url"]
    assert inputs["targets"][1]["verify"] is False
    assert inputs["targets"][2]["verify"]["cloud"] is True
    bad = check_inputs({"hash": "h", "targets": [{"app_id": "a", "verify": "yes"}]})[1]
    assert paths(bad) == ["targets[0].verify"] and "or false" in bad[0][1]


def test_verify_needs_wait_like_a_canary():
    failures = failures_of({"http": [{"url": URL}]}, wait=False)
    assert [r for _, r in failures] == [
        "verify: needs wait=true: a target is verified once its change is seen to succeed; "
        "set wait=true or leave verify out"
    ]
    targets = [{"app_id": "a", "verify": {"cloud": True}}]
    failures = check_inputs({"hash": "h", "targets": targets, "wait": False})[1]
    assert paths(failures) == ["targets[0].verify"]


def test_values_known_only_at_apply_pass_unchecked():
    from restart_trigger.validation import UNKNOWN

    assert failures_of(UNKNOWN) == []
    assert failures_of({"http": UNKNOWN}) == []
    assert failures_of({"http": [{"url": UNKNOWN, "headers": {"A": UNKNOWN}}]}) == []
    assert failures_of({"http": [{"url": URL}], "within": UNKNOWN}) == []


def test_the_input_classes_write_the_same_mapping():
    written = Verify(
        http=[HttpProbe(url=URL, status=(200, 204), headers={"A": "v"})], within=30
    ).to_input()
    assert written == {
        "http": [{"url": URL, "status": [200, 204], "headers": {"A": "v"}}],
        "within": 30,
    }
    assert check_spec(written, "verify", Failures()) is not None


def test_the_spec_of_stored_inputs_and_a_probe_in_words_without_query_or_headers():
    spec = spec_of(
        {
            "http": [{"url": URL + "?token=abc", "status": 204, "headers": {"A": SECRET}}],
            "cloud": True,
            "within": 30,
            "interval": 1,
            "successes": 2,
        },
        "targets[1].verify",
    )
    assert spec == Spec(
        probes=(
            Probe(
                URL + "?token=abc",
                "targets[1].verify.http[0]",
                (204,),
                None,
                10.0,
                (("A", SECRET),),
            ),
        ),
        cloud=True,
        within=30.0,
        successes=2,
        interval=1.0,
        path="targets[1].verify",
    )
    probe = spec.probes[0]
    assert probe.label == f"targets[1].verify.http[0] GET {URL}?…"
    assert SECRET not in repr(spec) and "abc" not in probe.label
    assert shown_url("https://[::1]:8443/h") == "https://[::1]:8443/h"


def test_a_preview_describes_verify_without_header_values():
    text = describe(
        {
            "http": [{"url": URL, "headers": {"Authorization": SECRET}, "body": "ok"}],
            "cloud": True,
            "within": 60,
            "successes": 2,
        }
    )
    assert text == (
        f"verify GET {URL} → 2xx holding 'ok' (headers Authorization), instances all running "
        "(cloud) (2 consecutive pass(es) each within 60s)"
    )
    assert SECRET not in text
    assert describe("[secret]") == "verify [secret]"
    assert describe({"http": "[secret]", "within": 300}).startswith("verify HTTP probes [secret]")
    assert describe(None) == "no verification"


# -- the loop ------------------------------------------------------------------------------------


def scripted(*answers, clock=None, took=0.0):
    """A check's attempt answering ``answers`` in turn (the last repeats), recording limits."""
    seen = []

    def attempt(limit):
        seen.append((clock.now if clock else None, limit))
        if clock is not None:
            clock.now += took
        return answers[min(len(seen) - 1, len(answers) - 1)]

    return attempt, seen


OK, BAD = Answer(True, "HTTP 200"), Answer(False, "HTTP 500 (expected 2xx), body 'boom'")


def test_each_check_needs_its_consecutive_passes_and_a_passed_one_is_not_asked_again():
    time = FakeTime()
    deadline = Deadline(1000, clock=time.clock, sleep=time.sleep)
    first, first_seen = scripted(BAD, OK, OK, clock=time)
    second, second_seen = scripted(OK, clock=time)
    reported = []
    verdict = run(
        [Check("a", first), Check("b", second)],
        Spec(successes=2, interval=3, within=60),
        deadline,
        report=lambda label, answer: reported.append((label, answer.ok)),
    )
    assert verdict.passed
    assert [t for t, _ in first_seen] == [0, 3, 6] and [t for t, _ in second_seen] == [0, 3]
    assert time.sleeps == [3, 3]
    assert reported == [("a", False), ("b", True), ("a", True)]  # only changes are reported


def test_a_check_that_never_passes_fails_when_the_window_ends_naming_its_last_answer():
    time = FakeTime()
    deadline = Deadline(1000, clock=time.clock, sleep=time.sleep)
    attempt, seen = scripted(BAD, clock=time)
    verdict = run([Check("verify.http[0] GET x", attempt)], Spec(within=10, interval=2), deadline)
    assert not verdict.passed
    assert [t for t, _ in seen] == [0, 2, 4, 6, 8]  # none begins once the window is over
    assert verdict.reason == (
        "not verified within 10s: verify.http[0] GET x: last answer HTTP 500 (expected 2xx), "
        "body 'boom' (0 of 1 consecutive pass(es), 5 attempt(s))"
    )


def test_no_attempt_begins_after_the_deadline_and_each_gets_at_most_what_is_left():
    time = FakeTime()
    deadline = Deadline(5, clock=time.clock, sleep=time.sleep)
    attempt, seen = scripted(BAD, clock=time, took=1.0)
    verdict = run([Check("c", attempt, timeout=10)], Spec(within=60, interval=1), deadline)
    assert [limit for _, limit in seen] == [5, 3, 1]
    assert all(t < deadline.at for t, _ in seen)
    assert verdict.reason.startswith("not verified before the trigger's timeout: c: last answer")


def test_an_expired_deadline_sends_nothing():
    time = FakeTime()
    deadline = Deadline(1, clock=time.clock, sleep=time.sleep)
    time.now = 2
    attempt, seen = scripted(OK)
    verdict = run([Check("c", attempt)], Spec(), deadline)
    assert seen == [] and not verdict.passed
    assert "c: not checked: the trigger's timeout had passed" in verdict.reason


def test_a_probe_timeout_caps_each_attempt():
    time = FakeTime()
    deadline = Deadline(100, clock=time.clock, sleep=time.sleep)
    attempt, seen = scripted(OK, clock=time)
    run([Check("c", attempt, timeout=4)], Spec(), deadline)
    assert seen == [(0, 4)]


def test_a_stop_ends_the_loop():
    time = FakeTime()
    deadline = Deadline(100, clock=time.clock, sleep=time.sleep)
    attempt, seen = scripted(BAD, clock=time)
    verdict = run([Check("c", attempt)], Spec(), deadline, stop=lambda: len(seen) >= 1)
    assert len(seen) == 1 and verdict.reason.startswith("stopped")


def test_answers_are_scrubbed_of_the_checks_secrets_before_anyone_sees_them():
    time = FakeTime()
    deadline = Deadline(100, clock=time.clock, sleep=time.sleep)
    leaky = Answer(False, f"HTTP 500, body 'echo {SECRET}'")
    attempt, _ = scripted(leaky, clock=time)
    reported = []
    verdict = run(
        [Check("c", attempt, secrets=(SECRET,))],
        Spec(within=3),
        deadline,
        report=lambda label, answer: reported.append(answer.text),
    )
    assert SECRET not in verdict.reason + "".join(reported)
    assert "echo ***" in verdict.reason


# -- a probe's answer ------------------------------------------------------------------------------


def probe(**kw):
    return Probe(url=URL, path="verify.http[0]", **kw)


def test_the_default_expects_any_2xx_and_a_body_text_must_be_in_the_body():
    assert judge(probe(), 204, b"").ok
    assert judge(probe(), 301, b"").text == "HTTP 301 (expected 2xx), empty body"
    assert not judge(probe(status=(200,)), 204, b"").ok
    assert judge(probe(status=(503,)), 503, b"down").ok
    miss = judge(probe(body="UP"), 200, b'{"status":"DOWN"}')
    assert (
        not miss.ok
        and miss.text == "HTTP 200 without 'UP' in its body, body '{\"status\":\"DOWN\"}'"
    )
    assert judge(probe(body="UP"), 200, b'{"status":"UP"}') == Answer(True, "HTTP 200 holding 'UP'")


def test_the_first_bytes_shown_are_short_escaped_and_scrubbed():
    answer = judge(
        probe(headers=(("Authorization", SECRET),)),
        500,
        b"\x1b[31merror\x1b[0m token=" + SECRET.encode() + b" " + b"x" * 500,
    )
    assert "\x1b" not in answer.text and "\\x1b[31m" in answer.text
    assert SECRET not in answer.text and "token=***" in answer.text
    assert len(answer.text) < 140


class Adapter(requests.adapters.BaseAdapter):
    """Answers every GET with one status and body, or raises; records what was sent."""

    def __init__(self, status=200, body=b"ok", error=None):
        super().__init__()
        self.status, self.body, self.error = status, body, error
        self.sent = []

    def send(self, request, **kwargs):
        self.sent.append((request, kwargs))
        if self.error is not None:
            raise self.error
        response = requests.Response()
        response.status_code = self.status
        response._content = self.body
        response.request = request
        response.url = request.url
        return response

    def close(self):
        pass


def session_with(adapter):
    session = requests.Session()
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def test_a_probe_sends_one_get_with_its_headers_without_following_redirects():
    adapter = Adapter(status=200, body=b"ok")
    with HttpFetch(session_with(adapter)) as fetch:
        answer = fetch(probe(headers=(("X-Token", SECRET),)), 3.0)
    assert answer.ok
    [(request, kwargs)] = adapter.sent
    assert request.method == "GET" and request.url == URL
    assert request.headers["X-Token"] == SECRET
    assert "restart-trigger/" in request.headers["user-agent"]
    assert kwargs["timeout"] == (3.0, 3.0)


def test_a_probe_to_localhost_goes_to_127_0_0_1_and_no_proxy(monkeypatch):
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.invalid:3128")
    monkeypatch.setenv("NO_PROXY", "")
    adapter = Adapter()
    with HttpFetch(session_with(adapter)) as fetch:
        fetch(Probe(url="http://localhost:8080/h", path="verify.http[0]"), 5.0)
        fetch(Probe(url="http://api.example.test/h", path="verify.http[1]"), 5.0)
    [(loopback, to_loopback), (_, elsewhere)] = adapter.sent
    assert loopback.url == "http://127.0.0.1:8080/h"
    assert "http" not in to_loopback["proxies"]
    assert elsewhere["proxies"]["http"] == "http://proxy.invalid:3128"  # the environment's


def test_no_answer_is_said_in_a_few_words_without_the_url_or_a_header_value():
    url = f"https://api.example.test/health?token={SECRET}"
    refused = requests.exceptions.ConnectionError(
        f"HTTPSConnectionPool(host='api.example.test', port=443): Max retries exceeded with url: "
        f"/health?token={SECRET} (Caused by NewConnectionError('Failed to establish a new "
        "connection: [Errno 111] Connection refused'))"
    )
    refused.__context__ = ConnectionRefusedError(111, "Connection refused")
    with HttpFetch(session_with(Adapter(error=refused))) as fetch:
        answer = fetch(Probe(url=url, path="verify.http[0]", headers=(("A", SECRET),)), 5.0)
    assert not answer.ok
    assert SECRET not in answer.text and "token" not in answer.text
    assert answer.text == "no answer (ConnectionRefusedError: Connection refused)"
    timeout = requests.exceptions.ReadTimeout("read timed out")
    with HttpFetch(session_with(Adapter(error=timeout))) as fetch:
        assert fetch(probe(), 2.0).text == "no complete answer within 2s"


def test_probe_checks_carry_each_probes_label_timeout_and_secrets():
    spec = spec_of({"http": [{"url": URL, "timeout": 4, "headers": {"A": SECRET}}]})
    [check] = probe_checks(spec, lambda p, limit: OK)
    assert (check.label, check.timeout, check.secrets) == (
        f"verify.http[0] GET {URL}",
        4,
        (SECRET,),
    )
    assert check.attempt(1.0) == OK

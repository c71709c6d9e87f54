"""Verification after a restart: a target is done only once its restarted application is seen
to work, not only to have restarted.

A trigger's optional ``verify`` input (and a target's own ``verify``, which replaces it for
that target; ``verify: false`` turns it off there) names what must pass after the target's
change succeeded:

* ``http``: probes, each one GET of a URL (``http``/``https``, no credentials in it) that must
  answer an expected ``status`` (default: any 2xx) and, optionally, hold a ``body`` text in its
  first 64 KiB, each attempt within the probe's own ``timeout``. ``headers`` go with it; their
  values are secrets (shown nowhere, stored only as the engine keeps secrets: encrypted);
* ``cloud: true``: the cloud's own view, the application's instances all running / ready as
  the kind's read API says (``Target.instances``: EDAS ``QueryApplicationStatus``, EDAS K8s
  ``DescribeAppInstanceList``, SAE ``DescribeApplicationGroups``, Web+
  ``DescribeAppEnvStatus``);
* ``successes`` consecutive passes each check needs, ``interval`` seconds between two rounds,
  and ``within``: the seconds after the change succeeded by which every check must have passed.

Here: the spec (:func:`check_spec`: every field, each failure a (path, reason) pair, as
``inputs.check_inputs`` reports them; :class:`Spec`/:class:`Probe`, the checked values;
:func:`describe`, the words a preview shows), the loop (:func:`run`: clock, sleep and the
checks injected, so tests need neither network nor real time) and the probe
(:class:`HttpFetch`: ``requests``, one bounded attempt per probe). What a verification means
for a rollout (canary, ``max_failures``, state) is the runner's and the rollout's.

Bounded like every wait: no attempt starts once the window or the trigger's deadline has
passed, and each attempt's *total* time (connect to the last byte read) is capped by what is
left of both (the cloud client's watchdog, ``aliyun.transport``). TLS trusts what the cloud
client trusts (``requests``: ``REQUESTS_CA_BUNDLE`` / ``CURL_CA_BUNDLE``, else certifi's
bundle); redirects are not followed (a 3xx is the answer); a loopback URL never goes through a
proxy from the environment. Nothing here runs at preview: only ``check_spec`` and
``describe`` do, and they call nothing.

Pure: no pulumi import.
"""

from __future__ import annotations

import http.client
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import requests
import urllib3.exceptions

from restart_trigger.aliyun.endpoints import is_loopback_host
from restart_trigger.aliyun.transport import (
    _NO_PROXY,
    _Attempt,
    _watching,
    connect_url,
    new_session,
)
from restart_trigger.backoff import Deadline
from restart_trigger.validation import (
    KNOWN_AFTER_APPLY,
    Failures,
    clipped,
    escaped,
    is_number,
    is_unknown,
    show,
    shown,
)

FIELDS = ("http", "cloud", "within", "successes", "interval")
"""The fields of a ``verify`` value."""
PROBE_FIELDS = ("url", "status", "body", "timeout", "headers")
"""The fields of one HTTP probe."""

DEFAULT_WITHIN = 300.0
MAX_WITHIN = 24 * 3600
DEFAULT_SUCCESSES = 1
MAX_SUCCESSES = 100
DEFAULT_INTERVAL = 2.0
MAX_INTERVAL = 3600
DEFAULT_PROBE_TIMEOUT = 10.0
MAX_PROBE_TIMEOUT = 300
MAX_PROBES = 20
MAX_HEADERS = 20
MAX_URL_LENGTH = 2048
MAX_BODY_TEXT = 1024
MAX_STATUSES = 20

BODY_LIMIT = 64 * 1024
"""Bytes of a probe's answer read at most (the ``body`` text is looked for in them)."""
FIRST_BYTES = 80
"""Characters of the last answer's body a failure shows."""
CONNECT_TIMEOUT = 5.0
"""Connect timeout of one probe attempt (capped by its ``timeout`` and what is left)."""

_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
"""An HTTP field name (RFC 9110 ``token``)."""


# -- what a program writes -------------------------------------------------------------------------


def as_input(value: Any) -> Any:
    """``value.to_input()`` for the input classes (``Verify``, ``HttpProbe``); anything else
    as it is (a Pulumi Output answers every attribute, so the class is asked, not the value)."""
    return value.to_input() if callable(getattr(type(value), "to_input", None)) else value


@dataclass(frozen=True)
class HttpProbe:
    """One HTTP probe of :class:`Verify` (a GET).

    Args:
        url: what to GET, ``http://`` or ``https://``, without credentials in it.
        status: the status (or statuses) that pass; default any 2xx.
        body: a text the answer's body must hold (in its first 64 KiB).
        timeout: seconds one attempt may take in all (default 10).
        headers: sent with each attempt; the values are secrets (``RestartTrigger`` marks them
            so), e.g. ``{"Authorization": pulumi.Output.secret("Bearer ...")}``.
    """

    url: Any
    status: Any = None
    body: Any = None
    timeout: Any = None
    headers: Any = None

    def to_input(self) -> dict[str, Any]:
        return {
            k: list(v) if isinstance(v, tuple) else v
            for k, v in vars(self).items()
            if v is not None
        }


@dataclass(frozen=True)
class Verify:
    """What must pass after a target's change succeeded before it counts as done.

    Args:
        http: :class:`HttpProbe` s (or mappings with the same fields).
        cloud: also the cloud's own view: every instance of the application running / ready.
        within: seconds after the change succeeded by which every check must pass (default
            300).
        successes: consecutive passes each check needs (default 1).
        interval: seconds between two rounds of checks (default 2).
    """

    http: Any = None
    cloud: Any = None
    within: Any = None
    successes: Any = None
    interval: Any = None

    def to_input(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, value in vars(self).items():
            if isinstance(value, list | tuple):
                value = [as_input(v) for v in value]
            if value is not None:
                out[name] = value
        return out


# -- the checked spec ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Probe:
    """One checked probe. ``path`` names it as the input does (``verify.http[0]``); its
    ``headers`` never appear in its ``repr`` or any text."""

    url: str
    path: str
    status: tuple[int, ...] = ()
    body: str | None = None
    timeout: float = DEFAULT_PROBE_TIMEOUT
    headers: tuple[tuple[str, str], ...] = field(default=(), repr=False)

    @property
    def label(self) -> str:
        """``verify.http[0] GET https://host/path``: the probe in words (no query, no header)."""
        return f"{self.path} GET {shown_url(self.url)}"

    def accepts(self, status: int) -> bool:
        return status in self.status if self.status else 200 <= status <= 299

    @property
    def secrets(self) -> tuple[str, ...]:
        """The header values: scrubbed from every text this probe's answers give."""
        return tuple(value for _, value in self.headers if value)


@dataclass(frozen=True)
class Spec:
    """A checked ``verify``: its probes, whether the cloud's view is read, and the window."""

    probes: tuple[Probe, ...] = ()
    cloud: bool = False
    within: float = DEFAULT_WITHIN
    successes: int = DEFAULT_SUCCESSES
    interval: float = DEFAULT_INTERVAL
    path: str = "verify"


def shown_url(url: str) -> str:
    """A URL as messages show it: scheme, host, port and path; a query as ``?…``."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return "(malformed URL)"
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{host}:{port}" if port is not None else host
    query = "?…" if parts.query else ""
    return escaped(f"{parts.scheme}://{netloc}{parts.path}{query}")


def _add(failures: Failures, path: str, reason: str) -> None:
    """A failure at ``path``; at the top-level ``verify`` itself the name leads the reason
    (the engine prints a failing top-level property's value, and a ``verify`` mapping may hold
    header values)."""
    if "." in path or "[" in path:
        failures.add(path, reason)
    else:
        failures.add("", f"{path}: {reason}")


def _seconds(
    raw: Mapping[str, Any], name: str, path: str, failures: Failures, default: float, high: float
) -> Any:
    value = raw.get(name)
    if value is None:
        return default
    if is_unknown(value):
        return value
    if not is_number(value) or not 0 < value <= high:
        _add(
            failures,
            f"{path}.{name}",
            f"must be a number of seconds more than 0 and at most {high:g}, got {clipped(value)}",
        )
    return value


def check_spec(raw: Any, path: str, failures: Failures, *, target: bool = False) -> Any:
    """Check a ``verify`` value at ``path`` (``verify``, or ``targets[i].verify`` with
    ``target``, where ``false`` turns verification off); add every failure to ``failures``.
    Returns the value as stored: defaults filled in (``within``, ``successes``, ``interval``,
    each probe's ``timeout``), or as given when unknown or refused."""
    if raw is None or is_unknown(raw):
        return raw
    if target and raw is False:
        return False
    if not isinstance(raw, Mapping):
        off = " (or false: no verification for this target)" if target else ""
        _add(
            failures,
            path,
            "must be a mapping of http probes and/or cloud: true, e.g. "
            f"{{http: [{{url: 'https://api.example.com/health'}}]}}{off}, got "
            f"{type(raw).__name__}",
        )
        return raw
    out: dict[str, Any] = {}
    for name in sorted(set(raw) - set(FIELDS)):
        _add(failures, f"{path}.{name}", f"unknown field of verify; allowed: {', '.join(FIELDS)}")
    http = raw.get("http")
    if http is not None:
        out["http"] = _check_probes(http, f"{path}.http", failures)
    cloud = raw.get("cloud")
    if cloud is not None and not is_unknown(cloud) and not isinstance(cloud, bool):
        _add(failures, f"{path}.cloud", f"must be true or false, got {clipped(cloud)}")
    out["cloud"] = False if cloud is None else cloud
    if http is None and cloud is not True and not is_unknown(cloud):
        _add(
            failures,
            path,
            "names nothing to check: give http probes (http: [{url: ...}]) and/or cloud: true "
            "(the instances all running, as the cloud reports them), or leave verify out",
        )
    out["within"] = _seconds(raw, "within", path, failures, DEFAULT_WITHIN, MAX_WITHIN)
    out["interval"] = _seconds(raw, "interval", path, failures, DEFAULT_INTERVAL, MAX_INTERVAL)
    successes = raw.get("successes")
    out["successes"] = DEFAULT_SUCCESSES if successes is None else successes
    if successes is not None and not is_unknown(successes):
        if not is_number(successes) or successes != int(successes):
            _add(failures, f"{path}.successes", f"must be a whole number, got {clipped(successes)}")
        elif not 1 <= successes <= MAX_SUCCESSES:
            _add(
                failures,
                f"{path}.successes",
                f"must be at least 1 and at most {MAX_SUCCESSES} (consecutive passes each "
                f"check needs), got {show(successes)}",
            )
    return out


def _check_probes(http: Any, path: str, failures: Failures) -> Any:
    if is_unknown(http):
        return http
    if not isinstance(http, list):
        _add(
            failures,
            path,
            "must be a list of probes, e.g. [{url: 'https://api.example.com/health'}], got "
            f"{type(http).__name__}",
        )
        return http
    if not http:
        _add(failures, path, "must list at least one probe, or be left out (cloud: true alone)")
        return http
    if len(http) > MAX_PROBES:
        _add(failures, path, f"lists {len(http)} probes, more than {MAX_PROBES}")
        return http
    return [_check_probe(probe, f"{path}[{i}]", failures) for i, probe in enumerate(http)]


def _check_probe(raw: Any, path: str, failures: Failures) -> Any:
    if is_unknown(raw):
        return raw
    if not isinstance(raw, Mapping):
        _add(
            failures,
            path,
            "must be a probe: {url: 'https://...', status: 200, body: 'ok', timeout: 5, "
            f"headers: {{...}}}}, got {type(raw).__name__}",
        )
        return raw
    for name in sorted(set(raw) - set(PROBE_FIELDS)):
        _add(
            failures,
            f"{path}.{name}",
            f"unknown field of a probe; allowed: {', '.join(PROBE_FIELDS)}",
        )
    url = raw.get("url")
    secure = _check_url(url, f"{path}.url", failures)
    out: dict[str, Any] = {"url": url}
    status = raw.get("status")
    if status is not None:
        out["status"] = status
        _check_status(status, f"{path}.status", failures)
    body = raw.get("body")
    if body is not None:
        out["body"] = body
        if not is_unknown(body) and (not isinstance(body, str) or not body):
            _add(failures, f"{path}.body", "must be a non-empty text the answer's body must hold")
        elif isinstance(body, str) and len(body) > MAX_BODY_TEXT:
            _add(failures, f"{path}.body", f"is {len(body)} characters, more than {MAX_BODY_TEXT}")
    out["timeout"] = _seconds(
        raw, "timeout", path, failures, DEFAULT_PROBE_TIMEOUT, MAX_PROBE_TIMEOUT
    )
    headers = raw.get("headers")
    if headers is not None:
        out["headers"] = headers
        _check_headers(headers, f"{path}.headers", failures, secure)
    return out


def _check_url(url: Any, path: str, failures: Failures) -> bool | None:
    """Check a probe URL; return whether headers may go to it (https, or plain http to a
    loopback address), None when not known."""
    if is_unknown(url):
        return None
    example = "e.g. https://api.example.com/health"
    if not isinstance(url, str) or not url.strip():
        _add(failures, path, f"must be the URL to probe, {example}")
        return None
    if len(url) > MAX_URL_LENGTH:
        _add(failures, path, f"is {len(url)} characters long, more than {MAX_URL_LENGTH}")
        return None
    if any(not ch.isprintable() or ch.isspace() for ch in url):
        _add(failures, path, "must not contain whitespace or control characters")
        return None
    try:
        parts = urlsplit(url)
        host, _port = parts.hostname, parts.port
    except ValueError:
        _add(failures, path, f"is not a valid URL, {example}")
        return None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        # the scheme only: a URL may hold a token, and reasons reach logs
        scheme_text = f"scheme {escaped(parts.scheme)!r}" if parts.scheme else "no scheme"
        _add(failures, path, f"must be an http:// or https:// URL (got {scheme_text}), {example}")
        return None
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        _add(
            failures,
            path,
            "must not hold credentials (user:password@): send them as a header, e.g. "
            "headers: {Authorization: ...} (header values are secrets)",
        )
        return None
    if not host:
        _add(failures, path, f"names no host, {example}")
        return None
    return scheme == "https" or is_loopback_host(host)


def _check_status(status: Any, path: str, failures: Failures) -> None:
    if is_unknown(status):
        return
    values = status if isinstance(status, list) else [status]
    if not values or len(values) > MAX_STATUSES:
        _add(failures, path, f"must list 1 to {MAX_STATUSES} HTTP status codes")
        return
    for value in values:
        if is_unknown(value):
            continue
        if not is_number(value) or value != int(value) or not 100 <= value <= 599:
            _add(
                failures,
                path,
                "must be an HTTP status code (100-599) or a list of them (default: any 2xx), "
                f"got {clipped(value)}",
            )
            return


def _check_headers(headers: Any, path: str, failures: Failures, secure: bool | None) -> None:
    """Header names are checked and shown; values are secrets: checked, never shown."""
    if is_unknown(headers):
        return
    if not isinstance(headers, Mapping):
        _add(failures, path, "must be a mapping of header names to values (secrets)")
        return
    if len(headers) > MAX_HEADERS:
        _add(failures, path, f"holds {len(headers)} headers, more than {MAX_HEADERS}")
        return
    for name, value in headers.items():
        if not isinstance(name, str) or not _TOKEN.match(name):
            _add(failures, path, f"{clipped(name)} is not an HTTP header name")
            continue
        if is_unknown(value):
            continue
        if not isinstance(value, str) or any(ch in value for ch in "\r\n\0"):
            _add(
                failures,
                f"{path}.{name}",
                "must be a text without line breaks (its value is a secret: not shown)",
            )
    if headers and secure is False:
        _add(
            failures,
            path,
            "header values are secrets: send them over https:// (plain http:// only to a "
            "loopback address)",
        )


# -- from stored inputs to a Spec ----------------------------------------------------------------


def spec_of(value: Any, path: str = "verify") -> Spec | None:
    """The :class:`Spec` of a checked ``verify`` value (None: nothing to verify)."""
    if not isinstance(value, Mapping):
        return None
    probes = []
    for i, raw in enumerate(value.get("http") or ()):
        status = raw.get("status")
        statuses = status if isinstance(status, list) else ([] if status is None else [status])
        headers = raw.get("headers") or {}
        probes.append(
            Probe(
                url=str(raw["url"]),
                path=f"{path}.http[{i}]",
                status=tuple(int(s) for s in statuses),
                body=raw.get("body"),
                timeout=float(raw.get("timeout") or DEFAULT_PROBE_TIMEOUT),
                headers=tuple((str(k), str(v)) for k, v in headers.items()),
            )
        )
    return Spec(
        probes=tuple(probes),
        cloud=value.get("cloud") is True,
        within=float(value.get("within") or DEFAULT_WITHIN),
        successes=int(value.get("successes") or DEFAULT_SUCCESSES),
        interval=float(value.get("interval") or DEFAULT_INTERVAL),
        path=path,
    )


def effective(trigger: Any, own: Any, own_path: str) -> tuple[Any, str]:
    """The ``verify`` value that applies to one target, and its path: its own (``false``: none),
    else the trigger's."""
    if own is False:
        return None, own_path
    if own is not None:
        return own, own_path
    return trigger, "verify"


def wants(value: Any) -> bool:
    """Whether a stored ``verify`` value asks for any verification (unknown: maybe, True)."""
    return is_unknown(value) or isinstance(value, Mapping)


def describe(value: Any) -> str:
    """A ``verify`` value in words, for previews: what is checked and the window; never a
    header value (only header names), never a URL's query."""
    if value is None:
        return "no verification"
    if value is False:
        return "no verification (verify: false)"
    if is_unknown(value):
        return f"verify {KNOWN_AFTER_APPLY}"
    if not isinstance(value, Mapping):
        return "verify [secret]" if value == "[secret]" else "verify (malformed)"
    parts = []
    http = value.get("http")
    if is_unknown(http):
        parts.append(f"HTTP probes {KNOWN_AFTER_APPLY}")
    elif isinstance(http, list):
        parts += [_describe_probe(probe) for probe in http]
    elif http is not None:  # a preview shows a list holding secrets as "[secret]"
        parts.append("HTTP probes [secret]")
    if value.get("cloud") is True:
        parts.append("instances all running (cloud)")
    elif is_unknown(value.get("cloud")):
        parts.append(f"cloud {KNOWN_AFTER_APPLY}")
    need = value.get("successes", DEFAULT_SUCCESSES)
    within = value.get("within", DEFAULT_WITHIN)
    window = f"{shown(need)} consecutive pass(es) each within {shown(within)}s"
    return "verify " + ", ".join(parts or ["nothing"]) + f" ({window})"


def _describe_probe(probe: Any) -> str:
    if not isinstance(probe, Mapping):
        return f"probe {KNOWN_AFTER_APPLY}" if is_unknown(probe) else "probe [secret]"
    url = probe.get("url")
    where = shown_url(url) if isinstance(url, str) else shown(url)
    status = probe.get("status")
    if status is None:
        expect = "2xx"
    elif isinstance(status, list):
        expect = "/".join(shown(s) for s in status)
    else:
        expect = shown(status)
    text = f"GET {where} → {expect}"
    if probe.get("body") is not None:
        text += f" holding {shown(probe['body'])!r}" if isinstance(probe["body"], str) else ""
    headers = probe.get("headers")
    if isinstance(headers, Mapping) and headers:
        text += f" (headers {', '.join(sorted(str(k) for k in headers))})"
    elif headers is not None:
        text += " (headers)"
    return text


# -- one check, one answer ---------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    """What one attempt of a check saw: whether it passed, and in words (safe to print)."""

    ok: bool
    text: str


@dataclass(frozen=True)
class Check:
    """One thing verification checks: its label (``verify.http[0] GET https://...``, or the
    cloud's view) and one attempt, given the seconds it may take at most."""

    label: str
    attempt: Callable[[float], Answer]
    timeout: float | None = None
    """The attempt's own time limit (a probe's ``timeout``); None: what is left."""
    secrets: tuple[str, ...] = field(default=(), repr=False)
    """Values no answer of it may show (a probe's header values): scrubbed once more."""


@dataclass(frozen=True)
class Verdict:
    """The end of a verification: ``passed``, else ``reason`` names each check that did not
    pass and its last answer."""

    passed: bool
    reason: str = ""


NO_TIME = "not checked: the trigger's timeout had passed"
ENGINE_GONE = "stopped: the Pulumi engine went away"


def run(
    checks: Sequence[Check],
    spec: Spec,
    deadline: Deadline,
    *,
    report: Callable[[str, Answer], None] | None = None,
    stop: Callable[[], bool] = lambda: False,
    clock: Callable[[], float] | None = None,
    sleep: Callable[[float], None] | None = None,
) -> Verdict:
    """Run ``checks`` in rounds ``spec.interval`` apart until each has passed
    ``spec.successes`` times in a row (a check that has is not asked again), or the window
    (``spec.within`` from now) or ``deadline`` ends. No attempt begins once either has passed,
    and each attempt gets at most its own timeout and what is left of both. ``report(label,
    answer)`` hears each answer that differs from the check's previous one. ``clock`` and
    ``sleep`` default to the deadline's."""
    clock = clock or deadline.clock
    sleep = sleep or deadline.sleep
    ends = clock() + spec.within
    need = max(1, spec.successes)
    streak = {c.label: 0 for c in checks}
    tries = {c.label: 0 for c in checks}
    last: dict[str, Answer] = {}

    def left() -> float:
        return min(ends - clock(), deadline.remaining())

    while True:
        for check in checks:
            if streak[check.label] >= need:
                continue
            if stop():
                return Verdict(False, ENGINE_GONE)
            remaining = left()
            if remaining <= 0:
                break
            limit = remaining if check.timeout is None else min(check.timeout, remaining)
            answer = check.attempt(limit)
            if check.secrets:
                answer = Answer(answer.ok, scrub(answer.text, check.secrets))
            tries[check.label] += 1
            streak[check.label] = streak[check.label] + 1 if answer.ok else 0
            if report is not None and last.get(check.label) != answer:
                report(check.label, answer)
            last[check.label] = answer
        if all(streak[c.label] >= need for c in checks):
            return Verdict(True)
        remaining = left()
        if stop():
            return Verdict(False, ENGINE_GONE)
        if remaining <= spec.interval:
            break
        sleep(spec.interval)
    failing = [c for c in checks if streak[c.label] < need]
    by_deadline = deadline.remaining() < ends - clock()
    why = []
    for check in failing:
        answer = last.get(check.label)
        if answer is None:
            why.append(f"{check.label}: {NO_TIME}")
            continue
        passes = f"{streak[check.label]} of {need} consecutive pass(es)"
        why.append(
            f"{check.label}: last answer {answer.text} ({passes}, {tries[check.label]} attempt(s))"
        )
    when = "before the trigger's timeout" if by_deadline else f"within {spec.within:g}s"
    return Verdict(False, f"not verified {when}: " + "; ".join(why))


# -- HTTP probes -----------------------------------------------------------------------------------


def scrub(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret (a header value) replaced by ``***``."""
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


class HttpFetch:
    """Sends probes: each call one GET, bounded in all by the limit it is given.

    ``session``: a ``requests.Session`` (default: one of the cloud client's kind,
    ``transport.new_session``, whose sockets the watchdog can abort; TLS as ``requests``
    trusts it). Owned and closed by ``close`` when made here."""

    def __init__(self, session: requests.Session | None = None) -> None:
        self._owns = session is None
        self._session = session or new_session(4)

    def close(self) -> None:
        if self._owns:
            self._session.close()

    def __enter__(self) -> HttpFetch:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __call__(self, probe: Probe, limit: float) -> Answer:
        from restart_trigger import __version__

        url = connect_url(probe.url)
        host = urlsplit(url).hostname or ""
        headers = {
            "user-agent": f"restart-trigger/{__version__} (verify)",
            "accept": "*/*",
            "accept-encoding": "identity",
            **dict(probe.headers),
        }
        attempt = _Attempt(time.monotonic() + limit)
        try:
            with _watching(attempt):
                response = self._session.get(
                    url,
                    headers=headers,
                    timeout=(min(CONNECT_TIMEOUT, limit), limit),
                    allow_redirects=False,
                    stream=True,
                    proxies=_NO_PROXY if is_loopback_host(host) else None,
                )
                try:
                    head = _read_head(response, attempt)
                finally:
                    response.close()
        except _NO_ANSWER as exc:
            return Answer(False, scrub(_no_answer(exc, attempt, limit), probe.secrets))
        return judge(probe, response.status_code, head)


class _TimeUp(Exception):
    """The attempt's limit came while its answer was read."""


_NO_ANSWER = (
    requests.RequestException,
    urllib3.exceptions.HTTPError,
    http.client.HTTPException,
    OSError,
    ValueError,  # reading a socket the watchdog shut down
    _TimeUp,
)


def _read_head(response: requests.Response, attempt: _Attempt) -> bytes:
    """The answer's first ``BODY_LIMIT`` bytes, checking the attempt's limit before each read."""
    raw = response.raw
    if raw is None or not callable(getattr(raw, "read", None)):
        return (response.content or b"")[:BODY_LIMIT]
    read1 = getattr(raw, "read1", None)
    chunks: list[bytes] = []
    size = 0
    while size < BODY_LIMIT:
        if attempt.time_up():
            raise _TimeUp()
        chunk = read1(BODY_LIMIT - size) if callable(read1) else raw.read(1024)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)[:BODY_LIMIT]


def judge(probe: Probe, status: int, head: bytes) -> Answer:
    """A probe's answer in words: its status, whether the body holds the text, and the body's
    first characters (control characters escaped, header values scrubbed)."""
    body = head.decode("utf-8", errors="replace")
    first = " ".join(escaped(body[: FIRST_BYTES * 2]).split())[:FIRST_BYTES]
    excerpt = f", body {scrub(first, probe.secrets)!r}" if first else ", empty body"
    if not probe.accepts(status):
        expected = "/".join(map(str, probe.status)) if probe.status else "2xx"
        return Answer(False, f"HTTP {status} (expected {expected}){excerpt}")
    if probe.body is not None and probe.body not in body:
        return Answer(False, f"HTTP {status} without {probe.body!r} in its body{excerpt}")
    return Answer(True, f"HTTP {status}" + (f" holding {probe.body!r}" if probe.body else ""))


def _no_answer(exc: BaseException, attempt: _Attempt, limit: float) -> str:
    """Why an attempt had no answer, in a few words: never a URL (it may hold a query)."""
    if attempt.time_up() or isinstance(exc, (requests.exceptions.ReadTimeout, _TimeUp)):
        return f"no complete answer within {limit:.3g}s"
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return f"could not connect within {min(CONNECT_TIMEOUT, limit):.3g}s"
    if isinstance(exc, requests.exceptions.SSLError):
        return "TLS failed (" + _innermost(exc) + ")"
    return "no answer (" + _innermost(exc) + ")"


def _innermost(exc: BaseException) -> str:
    """The deepest cause's kind and its OS reason, e.g. ``ConnectionRefusedError: Connection
    refused``, without the URL ``requests`` writes into its own texts."""
    seen: set[int] = set()
    current: BaseException | None = exc
    deepest = exc
    while current is not None and id(current) not in seen and len(seen) < 20:
        seen.add(id(current))
        deepest = current
        nested = getattr(current, "reason", None)
        if not isinstance(nested, BaseException):
            nested = next((a for a in current.args if isinstance(a, BaseException)), None)
        current = nested or current.__cause__ or current.__context__
    reason = getattr(deepest, "strerror", None) or getattr(deepest, "reason", None)
    if isinstance(deepest, OSError) and reason:
        return escaped(f"{type(deepest).__name__}: {reason}")
    text = str(deepest)
    if "://" in text or "url:" in text:
        return type(deepest).__name__
    return escaped(f"{type(deepest).__name__}: {text[:120]}")


def probe_checks(spec: Spec, fetch: Callable[[Probe, float], Answer]) -> list[Check]:
    """One :class:`Check` per probe of ``spec``, sent with ``fetch``."""
    return [
        Check(
            probe.label,
            (lambda limit, p=probe: fetch(p, limit)),
            timeout=probe.timeout,
            secrets=probe.secrets,
        )
        for probe in spec.probes
    ]

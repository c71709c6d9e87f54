"""Fakes the client tests share: a cloud behind a requests transport adapter (no network), and
a clock whose sleeps only move it."""

from __future__ import annotations

import http.client
import json
from urllib.parse import parse_qsl, urlsplit

import requests
from requests.structures import CaseInsensitiveDict


class FakeCloud(requests.adapters.BaseAdapter):
    """Answers by ``x-acs-action`` (or by ``(x-acs-version, x-acs-action)``, for actions two
    products share, e.g. EDAS's and SAE's ``RestartApplication``); each key has a queue of
    answers, the last one repeats.

    An answer is ``(status, body[, headers])``, an exception to raise, or a callable taking the
    request and returning one of those. The lookups a restart begins with answer "nothing
    yet" unless a test says otherwise.
    """

    NOTHING_YET = {
        "ListRecentChangeOrder": (200, {"Code": 200, "ChangeOrderList": {"ChangeOrder": []}}),
        "DescribeAppEnvStatus": (200, {"Code": "OK", "EnvStatus": {"LatestChangeId": ""}}),
        "ListChangeOrders": (
            200,
            {"Code": "200", "Success": True, "Data": {"ChangeOrderList": []}},
        ),
    }

    def __init__(self) -> None:
        super().__init__()
        self.answers: dict[str | tuple[str, str], list] = {}
        self.requests: list[requests.PreparedRequest] = []

    def on(self, key: str | tuple[str, str], *answers) -> FakeCloud:
        self.answers.setdefault(key, []).extend(answers)
        return self

    def calls(self, action: str) -> list[requests.PreparedRequest]:
        return [r for r in self.requests if r.headers["x-acs-action"] == action]

    def actions(self) -> list[str]:
        return [r.headers["x-acs-action"] for r in self.requests]

    def send(self, request, **kwargs):
        self.requests.append(request)
        action = request.headers["x-acs-action"]
        versioned = (request.headers.get("x-acs-version"), action)
        queue = self.answers.get(versioned) or self.answers.get(action)
        answer = (queue.pop(0) if len(queue) > 1 else queue[0]) if queue else None
        if answer is None:
            answer = self.NOTHING_YET[action]
        if callable(answer) and not isinstance(answer, BaseException):
            answer = answer(request)
        if isinstance(answer, BaseException):
            raise answer
        status, body, *rest = answer
        response = requests.Response()
        response.status_code = status
        response.reason = http.client.responses.get(status, "")
        response._content = body if isinstance(body, bytes) else json.dumps(body).encode()
        response.headers = CaseInsensitiveDict(
            {"content-type": "application/json", **(rest or [{}])[0]}
        )
        response.request = request
        response.url = request.url
        return response

    def close(self) -> None:
        pass


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def fake_session(cloud: FakeCloud) -> requests.Session:
    session = requests.Session()
    session.mount("http://", cloud)
    session.mount("https://", cloud)
    return session


def query_of(request) -> dict:
    return dict(parse_qsl(urlsplit(request.url).query, keep_blank_values=True))

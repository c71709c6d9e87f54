"""A fake STS and ECS metadata service behind a requests adapter, for the credential tests.

It checks what the real services check that a client can get wrong: AssumeRole's RPC
HMAC-SHA1 signature (recomputed with aliyun-python-sdk-core's composer, an independent
implementation), the form body, the metadata token first. Issued keys are numbered, so a test
sees which issue signed what; their lifetime is ``lifetime`` seconds of the given clock.
"""

from __future__ import annotations

import http.client
import json
import time
from collections.abc import Callable
from urllib.parse import parse_qsl, urlsplit

import requests
from requests.structures import CaseInsensitiveDict

BASE_KEY_ID = "base-key-id-0001"
BASE_SECRET = "base-secret-value-0123456789"
OIDC_TOKEN = "eyJhbGciOiJSUzI1NiJ9.oidc-token-payload.signature-part"
ROLE_ARN = "acs:ram::1234567890123456:role/deploy"
OIDC_PROVIDER_ARN = "acs:ram::1234567890123456:oidc-provider/github"


def _expiration(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def sdk_core_string_to_sign(method: str, params: dict) -> str:
    from aliyunsdkcore.auth.composer import rpc_signature_composer as composer

    return getattr(composer, "__compose_string_to_sign")(method, params)


class FakeSts(requests.adapters.BaseAdapter):
    def __init__(self, clock: Callable[[], float], lifetime: float = 3600.0) -> None:
        super().__init__()
        self.clock = clock
        self.lifetime = lifetime
        self.requests: list[requests.PreparedRequest] = []
        self.forms: list[dict] = []
        self.issued: list[dict] = []
        self.secrets: dict[str, str] = {BASE_KEY_ID: BASE_SECRET}
        self.failures: list = []  # (status, body) answers to give before succeeding
        self.metadata_tokens: list[str] = []

    def fail_next(self, *answers) -> FakeSts:
        self.failures.extend(answers)
        return self

    def _issue(self, prefix: str) -> dict:
        n = len(self.issued) + 1
        creds = {
            "AccessKeyId": f"STS.{prefix}-key-{n}",
            "AccessKeySecret": f"{prefix}-temp-secret-{n}-abcdef",
            "SecurityToken": f"{prefix}-temp-token-{n}-ghijklmnop",
            "Expiration": _expiration(self.clock() + self.lifetime),
        }
        self.issued.append(creds)
        self.secrets[creds["AccessKeyId"]] = creds["AccessKeySecret"]
        return creds

    def send(self, request, **kwargs):
        self.requests.append(request)
        if self.failures:
            answer = self.failures.pop(0)
            if isinstance(answer, BaseException):
                raise answer
            return self._response(request, *answer)
        parts = urlsplit(request.url)
        if parts.path.startswith("/latest/"):
            return self._metadata(request, parts.path)
        assert request.method == "POST" and parts.path == "/", (request.method, parts.path)
        assert not parts.query, "STS parameters travel in the form body, never in the URL"
        form = dict(parse_qsl(request.body.decode(), keep_blank_values=True))
        self.forms.append(form)
        action = form["Action"]
        if action == "AssumeRole":
            signature = form.pop("Signature")
            secret = self.secrets.get(form["AccessKeyId"])
            from aliyunsdkcore.auth.algorithm import sha_hmac1

            expected = sha_hmac1.get_sign_string(
                sdk_core_string_to_sign("POST", form), (secret or "?") + "&"
            )
            if secret is None or signature != expected:
                return self._response(
                    request, 400, {"Code": "SignatureDoesNotMatch", "Message": "bad signature"}
                )
            return self._response(
                request, 200, {"RequestId": "r", "Credentials": self._issue("ar")}
            )
        if action == "AssumeRoleWithOIDC":
            assert "Signature" not in form and "AccessKeyId" not in form
            return self._response(
                request, 200, {"RequestId": "r", "Credentials": self._issue("oidc")}
            )
        return self._response(request, 400, {"Code": "InvalidAction", "Message": action})

    def _metadata(self, request, path):
        if path == "/latest/api/token":
            assert request.method == "PUT"
            assert request.headers["X-aliyun-ecs-metadata-token-ttl-seconds"]
            token = f"metadata-token-{len(self.metadata_tokens) + 1}-xyz"
            self.metadata_tokens.append(token)
            return self._response(request, 200, token.encode(), "text/plain")
        token = request.headers.get("X-aliyun-ecs-metadata-token")
        if token not in self.metadata_tokens:
            return self._response(request, 401, b"Unauthorized", "text/plain")
        role = path.rsplit("/", 1)[1]
        if role != "ecs-role":
            return self._response(request, 404, b"Not Found", "text/plain")
        creds = self._issue("ecs")
        return self._response(request, 200, {"Code": "Success", **creds})

    def _response(self, request, status, body, content_type="application/json"):
        response = requests.Response()
        response.status_code = status
        response.reason = http.client.responses.get(status, "")
        response._content = body if isinstance(body, bytes) else json.dumps(body).encode()
        response.headers = CaseInsensitiveDict({"content-type": content_type})
        response.request = request
        response.url = request.url
        return response

    def close(self) -> None:
        pass


def sts_session(fake: FakeSts) -> requests.Session:
    session = requests.Session()
    session.mount("https://", fake)
    session.mount("http://", fake)
    return session

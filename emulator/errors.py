"""Error answers in the shape the Alibaba Cloud POP gateway uses.

Gateway and Web+ errors are real HTTP errors with the body
``{"RequestId","HostId","Code","Message","Recommend"}``. EDAS business errors are different:
HTTP 200 with an integer ``Code`` other than 200 in the body (see :class:`EdasBusinessError`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from urllib.parse import quote

#: Product names used in the ``Recommend`` link, keyed by the emulator's product id.
PRODUCT_LINK_NAMES = {"edas": "Edas", "webplus": "WebPlus", "sae": "sae"}

#: EDAS body codes chosen by the emulator (the real values are undocumented).
EDAS_CODE_NOT_FOUND = 601
EDAS_CODE_INVALID_ECC = 602
EDAS_CODE_CHANGE_IN_PROGRESS = 603
EDAS_CODE_NOT_WAITING = 604
EDAS_CODE_WRONG_CLUSTER = 605


def new_request_id() -> str:
    """Return a fresh request id in the gateway's style (upper-case UUID)."""
    return str(uuid.uuid4()).upper()


@dataclass
class ApiError(Exception):
    """An error answered with a real HTTP status and the gateway error body."""

    http_status: int
    code: str
    message: str
    headers: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.http_status} {self.code}: {self.message}"

    def body(self, request_id: str, host_id: str, product: str | None) -> dict[str, object]:
        """Build the JSON error body for this error."""
        link_product = PRODUCT_LINK_NAMES.get(product or "", product or "")
        recommend = (
            "https://api.aliyun.com/troubleshoot?q="
            f"{quote(self.code, safe='')}&product={link_product}&requestId={request_id}"
        )
        return {
            "RequestId": request_id,
            "HostId": host_id,
            "Code": self.code,
            "Message": self.message,
            "Recommend": recommend,
        }


class SaeError(ApiError):
    """An SAE refusal: a real HTTP error whose body also carries ``Success: false``,
    ``ErrorCode`` (the same code as ``Code``) and ``TraceId``, the fields of every
    alibabacloud-sae20190506 response model."""

    def body(self, request_id: str, host_id: str, product: str | None) -> dict[str, object]:
        return {
            **super().body(request_id, host_id, product),
            "Success": False,
            "ErrorCode": self.code,
            "TraceId": uuid.uuid4().hex[:30],
            "Data": None,
        }


@dataclass
class EdasBusinessError(Exception):
    """An EDAS business error: HTTP 200 with an integer body ``Code`` other than 200."""

    code: int
    message: str

    def __str__(self) -> str:
        return f"EDAS code {self.code}: {self.message}"

    def body(self, request_id: str) -> dict[str, object]:
        """Build the HTTP 200 body for this business error."""
        return {"Code": self.code, "Message": self.message, "RequestId": request_id}


def missing_parameter(name: str) -> ApiError:
    """400 MissingParameter for a required parameter that was not sent."""
    return ApiError(
        400,
        "MissingParameter",
        f'The input parameter "{name}" that is mandatory for processing this request'
        " is not supplied.",
    )


def invalid_parameter(name: str, value: str, expected: str) -> ApiError:
    """400 InvalidParameter for a parameter whose value cannot be used."""
    return ApiError(
        400,
        "InvalidParameter",
        f'The specified parameter "{name}" is not valid: {value!r} ({expected}).',
    )


def api_not_found() -> ApiError:
    """404 InvalidAction.NotFound: no operation at this method and path (or not this action)."""
    return ApiError(
        404,
        "InvalidAction.NotFound",
        "Specified api is not found, please check your url and method.",
    )


def invalid_version() -> ApiError:
    """400 InvalidVersion: ``x-acs-version`` is not the product's API version."""
    return ApiError(400, "InvalidVersion", "Specified parameter Version is not valid.")

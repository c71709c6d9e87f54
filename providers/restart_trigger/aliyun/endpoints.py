"""Per-region endpoint resolution for EDAS, Web+ and SAE, with per-product overrides.

Defaults follow the official SDKs' endpoint maps: a region listed below maps to the host
given; every other region follows the rule ``<product>.<region>.aliyuncs.com``. Endpoints are
HTTPS; plain ``http://`` is accepted only for loopback hosts (an IP literal in 127.0.0.0/8,
``[::1]``, or exactly ``localhost``; no name is resolved to decide), which is how tests reach
a local emulator.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from urllib.parse import urlsplit

PRODUCTS: tuple[str, ...] = ("edas", "webplus", "sae")
"""Products this package talks to; also the keys accepted in ``endpoints`` overrides."""

_EDAS_GLOBAL = "edas.aliyuncs.com"
_EDAS_TOKYO = "edas.ap-northeast-1.aliyuncs.com"
_EDAS_GLOBAL_REGIONS = (
    "cn-beijing-finance-1 cn-beijing-finance-pop cn-beijing-gov-1 cn-beijing-nu16-b01 "
    "cn-chengdu cn-edge-1 cn-fujian cn-haidian-cm12-c01 cn-hangzhou-bj-b01 cn-hangzhou-finance "
    "cn-hangzhou-internal-prod-1 cn-hangzhou-internal-test-1 cn-hangzhou-internal-test-2 "
    "cn-hangzhou-internal-test-3 cn-hangzhou-test-306 cn-hongkong-finance-pop cn-huhehaote "
    "cn-qingdao-nebula cn-shanghai-et15-b01 cn-shanghai-et2-b01 cn-shanghai-finance-1 "
    "cn-shanghai-inner cn-shanghai-internal-test-1 cn-shenzhen-finance-1 cn-shenzhen-inner "
    "cn-shenzhen-st4-d01 cn-shenzhen-su18-b01 cn-wuhan cn-yushanfang cn-zhangbei-na61-b01 "
    "cn-zhangjiakou-na62-a01 cn-zhengzhou-nebula-1"
).split()
_EDAS_TOKYO_REGIONS = (
    "ap-northeast-2-pop ap-south-1 ap-southeast-3 ap-southeast-5 eu-west-1 eu-west-1-oxs "
    "me-east-1 rus-west-1-pop us-west-1"
).split()

_WEBPLUS_HANGZHOU = "webplus.cn-hangzhou.aliyuncs.com"
_WEBPLUS_GLOBAL = "webplus.aliyuncs.com"
_WEBPLUS_HANGZHOU_REGIONS = ("cn-beijing", "cn-zhangjiakou", "cn-shanghai", "cn-shenzhen")
# cn-hongkong: the tea SDK names a VPC-only host; the public legacy SDK uses the global host.
_WEBPLUS_GLOBAL_REGIONS = (
    "ap-northeast-1 ap-south-1 ap-southeast-1 ap-southeast-2 ap-southeast-3 ap-southeast-5 "
    "cn-chengdu cn-hongkong cn-huhehaote cn-qingdao eu-central-1 eu-west-1 me-east-1 us-east-1 "
    "us-west-1 cn-hangzhou-finance cn-shenzhen-finance-1 cn-shanghai-finance-1 cn-north-2-gov-1"
).split()

# SAE: alibabacloud-sae20190506's ``_endpoint_map`` maps each listed region to
# ``sae.<region>.aliyuncs.com`` and its rule is "regional" (the same host for every other
# region); aliyun-python-sdk-sae's endpoint map is empty with the same regional rule. So no
# region is an exception.

ENDPOINT_MAPS: dict[str, dict[str, str]] = {
    "edas": {
        **{region: _EDAS_GLOBAL for region in _EDAS_GLOBAL_REGIONS},
        **{region: _EDAS_TOKYO for region in _EDAS_TOKYO_REGIONS},
    },
    "webplus": {
        **{region: _WEBPLUS_HANGZHOU for region in _WEBPLUS_HANGZHOU_REGIONS},
        **{region: _WEBPLUS_GLOBAL for region in _WEBPLUS_GLOBAL_REGIONS},
    },
    "sae": {},
}
"""Region -> host exceptions per product, as in the official SDKs' endpoint maps."""

_REGION_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_LABEL_RE = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


MAX_REGION_LENGTH = 63
"""A region id is one DNS label of the endpoint host (``edas.<region>.aliyuncs.com``), so at
most 63 characters (RFC 1035); the longest region id today has 21."""


def validate_region(region: str) -> str:
    """Return ``region`` stripped, or raise ``ValueError`` if it is not like ``cn-hangzhou``
    (lowercase words joined by '-', at most ``MAX_REGION_LENGTH`` characters)."""
    value = region.strip() if isinstance(region, str) else ""
    if len(value) > MAX_REGION_LENGTH:
        raise ValueError(
            f"region: {region[:40]!r}... is {len(value)} characters long; a region id is at "
            f"most {MAX_REGION_LENGTH} (it is a DNS label of the endpoint host), e.g. "
            "'cn-hangzhou'. Set alicloud:region or ALICLOUD_REGION."
        )
    if not _REGION_RE.match(value):
        raise ValueError(
            f"region: {region!r} is not a valid Alibaba Cloud region id "
            "(expected lowercase words joined by '-', e.g. 'cn-hangzhou'). "
            "Set alicloud:region or ALICLOUD_REGION."
        )
    return value


def _check_product(product: str) -> str:
    if product not in PRODUCTS:
        raise ValueError(f"unknown product {product!r}; expected one of {', '.join(PRODUCTS)}")
    return product


def default_host(product: str, region: str) -> str:
    """Return the default API host of ``product`` in ``region`` (no scheme)."""
    _check_product(product)
    region = validate_region(region)
    return ENDPOINT_MAPS[product].get(region, f"{product}.{region}.aliyuncs.com")


def default_endpoint(product: str, region: str) -> str:
    """Return the default endpoint URL (``https://host``) of ``product`` in ``region``."""
    return f"https://{default_host(product, region)}"


def is_loopback_host(host: str) -> bool:
    """True for an IP literal in 127.0.0.0/8, ``::1`` (bracketed or not), and exactly the name
    ``localhost`` (any case); never a DNS lookup.

    Names that merely end in ``localhost`` (``evil.localhost``) or carry a trailing dot
    (``localhost.``) are not loopback: a resolver may send them anywhere. ``localhost`` itself
    is connected to as ``127.0.0.1`` (``transport.connect_url``), so neither can its resolution.
    """
    if not isinstance(host, str):
        return False
    bracketed = host.startswith("[") and host.endswith("]")
    if bracketed:
        host = host[1:-1]  # only an IPv6 literal is written in brackets
    elif host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _valid_hostname(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        pass
    labels = host.rstrip(".").split(".")
    return len(host) <= 253 and all(_LABEL_RE.match(label) for label in labels)


# "scheme://user[:password]@host" or "user[:password]@host": an "@" before the first "/", "?"
# or "#" of the authority
_USERINFO_RE = re.compile(r"^(?:[A-Za-z][A-Za-z0-9+.-]*:)?(?://)?[^/?#@]*@")
MAX_ENDPOINT_LENGTH = 300
"""scheme://host:port at most: a host name is at most 253 characters."""


def validate_endpoint(url: str, *, field: str = "endpoint") -> str:
    """Validate an endpoint and return it normalised as ``scheme://host[:port]``.

    A bare host (``edas.cn-hangzhou.aliyuncs.com`` or ``host:port``) means HTTPS. ``http://``
    is only allowed for loopback hosts. ``field`` names the setting in error messages (e.g.
    ``alicloud:endpoints[edas]``). Raises ``ValueError`` explaining what is wrong and how to fix it.
    """
    if not isinstance(url, str):
        raise ValueError(
            f"{field}: must be a URL string such as 'https://edas.cn-hangzhou.aliyuncs.com', "
            f"got {type(url).__name__}"
        )
    if not url.strip():
        raise ValueError(f"{field}: endpoint is empty; give a host or an https:// URL")
    if _USERINFO_RE.match(url.strip()):
        raise ValueError(
            f"{field}: credentials in the URL are not allowed (user:password@ before the "
            "host); give the endpoint as https://host[:port] and credentials as alicloud:* "
            "config"
        )
    if len(url) > MAX_ENDPOINT_LENGTH:
        raise ValueError(
            f"{field}: is {len(url)} characters long, more than {MAX_ENDPOINT_LENGTH}; give "
            "just scheme://host[:port]"
        )
    raw = url.strip()
    if "://" not in raw:
        if raw.startswith("//") or "/" in raw.split("?")[0].split("#")[0].rstrip("/"):
            raise ValueError(
                f"{field}: {url!r} is not a valid endpoint; "
                "give a host such as 'edas.cn-hangzhou.aliyuncs.com' or a full https:// URL"
            )
        raw = "https://" + raw
    try:
        parts = urlsplit(raw)
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"{field}: {url!r} is not a valid URL ({exc})") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise ValueError(
            f"{field}: unsupported scheme {parts.scheme!r} in {url!r}; use https:// "
            "(or http:// for a loopback emulator)"
        )
    if parts.username is not None or parts.password is not None:
        raise ValueError(f"{field}: credentials in the URL are not allowed ({parts.hostname!r})")
    host = (parts.hostname or "").lower()
    if not host or not _valid_hostname(host):
        raise ValueError(f"{field}: {url!r} has no valid host name")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError(
            f"{field}: {url!r} must be just scheme://host[:port] with no path, query or fragment"
        )
    if port is not None and not 0 < port < 65536:
        raise ValueError(f"{field}: port {port} in {url!r} is out of range")
    if scheme == "http" and not is_loopback_host(host):
        raise ValueError(
            f"{field}: plain http:// is only allowed for loopback hosts "
            f"(an IP in 127.0.0.0/8, [::1] or exactly localhost), got {host!r}. "
            f"Use https://{host}{f':{port}' if port else ''} instead."
        )
    netloc = f"[{host}]" if ":" in host else host
    if port is not None:
        netloc = f"{netloc}:{port}"
    return f"{scheme}://{netloc}"


def resolve_endpoints(region: str, overrides: Mapping[str, str] | None = None) -> dict[str, str]:
    """Return ``{product: endpoint URL}`` for every product: the override, else the default.

    ``overrides`` keys must be among ``PRODUCTS``; empty values are ignored.
    """
    overrides = dict(overrides or {})
    unknown = sorted(set(overrides) - set(PRODUCTS))
    if unknown:
        raise ValueError(
            f"endpoints: unknown product(s) {', '.join(unknown)}; "
            f"expected keys among {', '.join(PRODUCTS)}"
        )
    resolved = {}
    for product in PRODUCTS:
        value = overrides.get(product)
        if value:
            resolved[product] = validate_endpoint(value, field=f"endpoints[{product}]")
        else:
            resolved[product] = default_endpoint(product, region)
    return resolved

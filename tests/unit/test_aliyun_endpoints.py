"""Endpoint resolution: the SDKs' regional maps, overrides, and http only on loopback."""

from __future__ import annotations

import pytest

from restart_trigger.aliyun import validate_endpoint, validate_region
from restart_trigger.aliyun.endpoints import default_endpoint, is_loopback_host, resolve_endpoints


@pytest.mark.parametrize(
    ("product", "region", "expected"),
    [
        ("edas", "cn-hangzhou", "https://edas.cn-hangzhou.aliyuncs.com"),
        ("edas", "cn-shanghai", "https://edas.cn-shanghai.aliyuncs.com"),
        ("edas", "cn-chengdu", "https://edas.aliyuncs.com"),
        ("edas", "cn-beijing-finance-1", "https://edas.aliyuncs.com"),
        ("edas", "eu-west-1", "https://edas.ap-northeast-1.aliyuncs.com"),
        ("edas", "us-west-1", "https://edas.ap-northeast-1.aliyuncs.com"),
        ("webplus", "cn-hangzhou", "https://webplus.cn-hangzhou.aliyuncs.com"),
        ("webplus", "cn-beijing", "https://webplus.cn-hangzhou.aliyuncs.com"),
        ("webplus", "cn-zhangjiakou", "https://webplus.cn-hangzhou.aliyuncs.com"),
        ("webplus", "cn-shanghai", "https://webplus.cn-hangzhou.aliyuncs.com"),
        ("webplus", "cn-shenzhen", "https://webplus.cn-hangzhou.aliyuncs.com"),
        ("webplus", "ap-southeast-1", "https://webplus.aliyuncs.com"),
        ("webplus", "cn-hongkong", "https://webplus.aliyuncs.com"),
    ],
)
def test_default_endpoints_follow_the_official_sdk_maps(product, region, expected):
    assert default_endpoint(product, region) == expected


def test_overrides_replace_only_the_products_they_name():
    resolved = resolve_endpoints("cn-hangzhou", {"edas": "http://127.0.0.1:8080"})
    assert resolved == {
        "edas": "http://127.0.0.1:8080",
        "webplus": "https://webplus.cn-hangzhou.aliyuncs.com",
        "sae": "https://sae.cn-hangzhou.aliyuncs.com",
    }


def test_a_bare_host_means_https():
    assert validate_endpoint("edas.example.internal") == "https://edas.example.internal"
    assert validate_endpoint("edas.example.internal:8443") == "https://edas.example.internal:8443"


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080",
        "http://127.9.8.7",
        "http://localhost:1/",
        "http://LocalHost:1",
        "http://[::1]:9000",
    ],
)
def test_plain_http_is_allowed_for_loopback_hosts(url):
    assert validate_endpoint(url).startswith("http://")


@pytest.mark.parametrize(
    "url",
    [
        "http://evil.localhost:80",  # a name under localhost: DNS decides where it goes
        "http://a.b.localhost",
        "http://localhost.:80",  # a trailing dot makes it another (resolvable) name
        "http://localhost.example.com",
        "http://127.0.0.1.nip.io",
        "http://127.1",  # not an IP literal ipaddress reads; resolvers do, differently
        "http://0x7f.0.0.1",
    ],
)
def test_plain_http_to_a_name_that_only_looks_local_is_refused(url):
    with pytest.raises(ValueError, match="loopback"):
        validate_endpoint(url)


def test_plain_http_to_a_remote_host_is_refused_with_the_field_and_the_fix():
    with pytest.raises(ValueError) as excinfo:
        validate_endpoint("http://edas.cn-hangzhou.aliyuncs.com", field="alicloud:endpoints[edas]")
    message = str(excinfo.value)
    assert "alicloud:endpoints[edas]" in message
    assert "loopback" in message
    assert "https://edas.cn-hangzhou.aliyuncs.com" in message


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        ("", "empty"),
        ("ftp://h.example", "scheme"),
        ("https://", "host"),
        ("https://h.example/path", "no path"),
        ("https://h.example?x=1", "no path"),
        ("https://user:pw@h.example", "credentials"),
        ("https://h.example:99999", "port"),
        ("https://bad_host!.example", "host"),
        ("h.example/path", "not a valid endpoint"),
    ],
)
def test_malformed_endpoints_are_rejected_clearly(url, fragment):
    with pytest.raises(ValueError, match="endpoint|scheme|host|path|credentials|port|URL") as e:
        validate_endpoint(url)
    assert fragment.lower() in str(e.value).lower()


def test_unknown_override_products_are_rejected():
    with pytest.raises(ValueError, match="unknown product"):
        resolve_endpoints("cn-hangzhou", {"ecs": "https://ecs.example"})


def test_invalid_region_is_rejected():
    with pytest.raises(ValueError, match="region"):
        default_endpoint("edas", "CN Hangzhou")
    with pytest.raises(ValueError, match="alicloud:region"):
        validate_region("cn_hangzhou")
    assert validate_region(" cn-hangzhou ") == "cn-hangzhou"


def test_loopback_detection():
    assert is_loopback_host("127.0.0.1")
    assert is_loopback_host("127.255.0.1")
    assert is_loopback_host("::1")
    assert is_loopback_host("localhost")
    assert not is_loopback_host("128.0.0.1")
    assert not is_loopback_host("10.0.0.1")
    assert not is_loopback_host("localhost.example.com")


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("[::1]", True),
        ("LOCALHOST", True),
        ("evil.localhost", False),
        ("localhost.", False),
        ("localhost..", False),
        (".localhost", False),
        ("[localhost]", False),
        ("", False),
    ],
)
def test_loopback_is_an_ip_literal_or_exactly_localhost(host, loopback):
    assert is_loopback_host(host) is loopback


def test_deciding_loopback_never_resolves_a_name(monkeypatch):
    import socket

    def no_dns(*args, **kwargs):
        raise AssertionError("a DNS lookup was made")

    monkeypatch.setattr(socket, "getaddrinfo", no_dns)
    monkeypatch.setattr(socket, "gethostbyname", no_dns)
    assert is_loopback_host("localhost")
    assert not is_loopback_host("evil.localhost")
    assert validate_endpoint("http://localhost:8080") == "http://localhost:8080"


def test_sae_endpoints_are_the_ones_its_sdk_resolves():
    from alibabacloud_sae20190506.client import Client as SaeClient
    from alibabacloud_tea_openapi import models

    regions = ["cn-hangzhou", "cn-shanghai", "ap-southeast-1", "eu-central-1", "cn-wuhan-lr"]
    for region in regions:
        config = models.Config(access_key_id="k", access_key_secret="s", region_id=region)
        sdk_host = SaeClient(config)._endpoint
        assert default_endpoint("sae", region) == f"https://{sdk_host}"
    assert default_endpoint("sae", "cn-beijing") == "https://sae.cn-beijing.aliyuncs.com"

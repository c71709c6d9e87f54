"""restart_trigger.aliyun.specs: a spec's fields are its provider's arguments, and no spec shows
a secret."""

from __future__ import annotations

import inspect
from dataclasses import fields

from restart_trigger.aliyun import Credentials, sources
from restart_trigger.aliyun.specs import AccessKey, AssumeRole
from tests.unit.sts_fakes import ROLE_ARN


def test_each_spec_field_is_its_providers_argument_and_no_argument_is_missing():
    for spec_type, provider in sources.PROVIDERS.items():
        parameters = inspect.signature(provider).parameters
        arguments = {f.name for f in fields(spec_type) if f.metadata.get("argument", True)}
        assert arguments <= set(parameters), provider
        required = {
            name
            for name, p in parameters.items()
            if p.default is inspect.Parameter.empty
            and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)
        }
        assert required <= arguments, provider


def test_specs_show_no_secret():
    spec = AssumeRole(
        base=AccessKey(Credentials("key-id", "secret-value", "token-value"), "stack config"),
        role_arn=ROLE_ARN,
        session_name="s",
        duration=900,
        policy=None,
        external_id=None,
        sts_endpoint="https://sts.example.test",
        source="alicloud:assumeRole",
    )
    for text in (repr(spec), str(spec), repr(spec.base)):
        assert "secret-value" not in text and "token-value" not in text

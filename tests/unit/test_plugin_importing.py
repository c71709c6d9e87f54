"""``pulumi import`` ids: the targets and the hash, refused with the format when malformed."""

import pytest

from restart_trigger.plugin.importing import parse_id


def test_an_id_names_targets_of_every_kind_and_the_hash():
    targets, hash_ = parse_id("edas:a-1,webplus:we-1,sae:s-1,edas-k8s:k-1@sha256:abc@x")
    assert targets == [
        {"kind": "edas", "app_id": "a-1"},
        {"kind": "webplus", "env_id": "we-1"},
        {"kind": "sae", "app_id": "s-1"},
        {"kind": "edas-k8s", "app_id": "k-1"},
    ]
    assert hash_ == "sha256:abc@x"


@pytest.mark.parametrize(
    ("bad", "why"),
    [
        ("edas:a-1", "no hash"),
        ("edas:a-1@", "no hash"),
        ("nope:a-1@h", "'nope:a-1' is not <kind>:<id>"),
        ("edas:@h", "'edas:' is not"),
        ("a-1@h", "'a-1' is not"),
    ],
)
def test_a_malformed_id_is_refused_with_the_format(bad, why):
    with pytest.raises(ValueError) as refused:
        parse_id(bad)
    assert why in str(refused.value)
    assert "<kind>:<id>[,<kind>:<id>...]@<hash>" in str(refused.value)

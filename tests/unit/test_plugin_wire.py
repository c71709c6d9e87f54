"""Values on the wire: a Struct and back, secrets kept aside and put back where they were."""

from restart_trigger.plugin import names, wire
from restart_trigger.validation import UNKNOWN


def test_a_struct_round_trips_with_numbers_as_floats():
    value = {"a": 1, "b": [True, None, "x"], "c": {"d": 2.5}, "u": UNKNOWN}
    back = wire.from_struct(wire.to_struct(value))
    assert back == {"a": 1.0, "b": [True, None, "x"], "c": {"d": 2.5}, "u": UNKNOWN}


def test_secrets_are_unwrapped_and_wrapped_again_at_their_paths():
    sent = {
        "hash": wire.secret("h"),
        "targets": [{"kind": "sae", "appId": wire.secret("a-1")}],
        "plain": "p",
    }
    plain, paths = wire.unwrap(sent)
    assert plain == {"hash": "h", "targets": [{"kind": "sae", "appId": "a-1"}], "plain": "p"}
    assert paths == {("hash",), ("targets", 0, "appId")}
    assert wire.wrap(plain, paths) == sent


def test_a_secret_inside_a_secret_is_one_secret():
    plain, paths = wire.unwrap({"x": wire.secret({"y": wire.secret("z")})})
    assert plain == {"x": {"y": "z"}}
    wrapped = wire.wrap(plain, paths)
    assert wire.is_secret(wrapped["x"])


def test_wrap_skips_paths_that_are_gone():
    assert wire.wrap({"a": 1}, {("b",), ("a", 0)}) == {"a": 1}


def test_secret_paths_follow_the_renames_of_names_only():
    paths = {("targets", 0, "appId"), ("maxParallel",), ("progress", "sae:MyApp", "x")}
    assert wire.renamed(paths, names.to_snake) == {
        ("targets", 0, "app_id"),
        ("max_parallel",),
        ("progress", "sae:MyApp", "x"),
    }

"""Specification of restart_trigger.hashing: hash_paths and hash_values."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from restart_trigger.hashing import hash_paths, hash_values

HEADER = b"restart-trigger/hash_paths/v1\n"
EMPTY = "sha256:" + hashlib.sha256(HEADER).hexdigest()

posix_only = pytest.mark.skipif(sys.platform == "win32", reason="POSIX file semantics")


def make_tree(base: Path, files: Mapping[str, bytes | str]) -> Path:
    """Create ``files`` ({POSIX relative name: content}) under ``base``; return ``base``."""
    base.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        path = base / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content.encode() if isinstance(content, str) else content)
    return base


def spelled_out(files: Mapping[str, bytes]) -> str:
    """The documented v1 encoding, written independently of the implementation."""
    top = hashlib.sha256(HEADER)
    for name in sorted(files, key=lambda n: n.encode("utf-8")):
        encoded = name.encode("utf-8")
        top.update(len(encoded).to_bytes(8, "big"))
        top.update(encoded)
        top.update(hashlib.sha256(files[name]).digest())
    return "sha256:" + top.hexdigest()


TREE = {"app.yaml": "port: 80\n", "sub/db.yaml": "host: db\n", "sub/deep/x.conf": "x=1\n"}


# --------------------------------------------------------------------------- determinism


def test_same_tree_in_two_different_locations_gives_the_same_hash(tmp_path: Path) -> None:
    one = make_tree(tmp_path / "checkout-one" / "config", TREE)
    two = make_tree(tmp_path / "elsewhere" / "deeper" / "cfg", TREE)
    assert hash_paths(one) == hash_paths(two)


def test_result_is_sha256_prefixed_lowercase_hex(tmp_path: Path) -> None:
    result = hash_paths(make_tree(tmp_path / "c", TREE))
    prefix, hexdigest = result.split(":")
    assert prefix == "sha256"
    assert len(hexdigest) == 64 and hexdigest == hexdigest.lower()
    int(hexdigest, 16)


def test_spelling_of_the_directory_argument_does_not_matter(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_tree(tmp_path / "config" / "api", TREE)
    monkeypatch.chdir(tmp_path)
    expected = hash_paths("config/api")
    assert hash_paths("./config/api/") == expected
    assert hash_paths(tmp_path / "config" / "api") == expected
    assert hash_paths(Path("config") / "sub" / ".." / "api") == expected


def test_creation_order_of_files_does_not_matter(tmp_path: Path) -> None:
    forward = make_tree(tmp_path / "forward", TREE)
    backward = make_tree(tmp_path / "backward", dict(reversed(list(TREE.items()))))
    assert hash_paths(forward) == hash_paths(backward)


class _SortedScandir:
    """A stand-in for os.scandir that lists entries in a chosen order."""

    real = os.scandir

    def __init__(self, path: str, reverse: bool) -> None:
        with self.real(path) as entries:
            self.entries = sorted(entries, key=lambda e: e.name, reverse=reverse)

    def __enter__(self) -> Iterator[os.DirEntry[str]]:
        return iter(self.entries)

    def __exit__(self, *exc: object) -> None:
        return None


def test_directory_listing_order_does_not_matter(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tree = make_tree(tmp_path / "c", {**TREE, "b": "1", "a": "2", "sub/c": "3", "sub/a": "4"})
    results = set()
    for reverse in (False, True):
        monkeypatch.setattr(os, "scandir", lambda p, r=reverse: _SortedScandir(p, r))
        results.add(hash_paths(tree))
    assert len(results) == 1


def test_order_of_arguments_does_not_matter(tmp_path: Path) -> None:
    make_tree(tmp_path / "c", {"api/a.yaml": "a", "web/w.yaml": "w", "top.yaml": "t"})
    c = tmp_path / "c"
    assert hash_paths(c / "api", c / "web", c / "top.yaml") == hash_paths(
        c / "top.yaml", c / "web", c / "api"
    )


def test_touching_mtime_does_not_change_the_hash(tmp_path: Path) -> None:
    tree = make_tree(tmp_path / "c", TREE)
    before = hash_paths(tree)
    os.utime(tree / "app.yaml", (1_000_000_000, 1_000_000_000))
    os.utime(tree / "sub", (1, 1))
    assert hash_paths(tree) == before


@posix_only
def test_chmod_does_not_change_the_hash(tmp_path: Path) -> None:
    tree = make_tree(tmp_path / "c", TREE)
    before = hash_paths(tree)
    (tree / "app.yaml").chmod(0o400)
    (tree / "sub" / "db.yaml").chmod(0o755)
    assert hash_paths(tree) == before


def test_empty_directories_are_ignored(tmp_path: Path) -> None:
    tree = make_tree(tmp_path / "c", TREE)
    before = hash_paths(tree)
    (tree / "empty" / "nested").mkdir(parents=True)
    assert hash_paths(tree) == before


# --------------------------------------------------------------------------- sensitivity


def test_changing_one_byte_changes_the_hash(tmp_path: Path) -> None:
    tree = make_tree(tmp_path / "c", TREE)
    before = hash_paths(tree)
    (tree / "sub" / "db.yaml").write_text("host: dc\n")
    assert hash_paths(tree) != before


def test_appending_an_empty_file_changes_the_hash(tmp_path: Path) -> None:
    tree = make_tree(tmp_path / "c", TREE)
    before = hash_paths(tree)
    (tree / "new.yaml").write_bytes(b"")
    assert hash_paths(tree) != before


def test_renaming_a_file_changes_the_hash(tmp_path: Path) -> None:
    tree = make_tree(tmp_path / "c", TREE)
    before = hash_paths(tree)
    (tree / "app.yaml").rename(tree / "app.yml")
    assert hash_paths(tree) != before


def test_moving_a_file_to_another_directory_changes_the_hash(tmp_path: Path) -> None:
    tree = make_tree(tmp_path / "c", TREE)
    before = hash_paths(tree)
    (tree / "app.yaml").rename(tree / "sub" / "app.yaml")
    assert hash_paths(tree) != before


def test_name_and_content_boundary_cannot_shift(tmp_path: Path) -> None:
    # ("a", "bc") and ("ab", "c") as (name, content)
    assert hash_paths(make_tree(tmp_path / "1", {"a": "bc"})) != hash_paths(
        make_tree(tmp_path / "2", {"ab": "c"})
    )


def test_file_boundaries_cannot_shift(tmp_path: Path) -> None:
    one = make_tree(tmp_path / "1", {"x": "ab", "y": "c"})
    two = make_tree(tmp_path / "2", {"x": "a", "y": "bc"})
    assert hash_paths(one) != hash_paths(two)


def test_directory_and_file_name_boundaries_cannot_shift(tmp_path: Path) -> None:
    one = make_tree(tmp_path / "1", {"a/bc": "x"})
    two = make_tree(tmp_path / "2", {"ab/c": "x"})
    assert hash_paths(one) != hash_paths(two)


# --------------------------------------------------------------------------- names


def test_directory_argument_names_files_without_the_directorys_own_name(tmp_path: Path) -> None:
    assert hash_paths(make_tree(tmp_path / "api", TREE)) == hash_paths(
        make_tree(tmp_path / "renamed", TREE)
    )
    assert hash_paths(tmp_path / "api") == spelled_out({k: v.encode() for k, v in TREE.items()})


def test_file_argument_is_named_by_its_base_name(tmp_path: Path) -> None:
    make_tree(tmp_path / "c", {"deep/er/app.yaml": "port: 80\n"})
    make_tree(tmp_path / "only", {"app.yaml": "port: 80\n"})
    assert hash_paths(tmp_path / "c" / "deep" / "er" / "app.yaml") == hash_paths(tmp_path / "only")


def test_directory_equals_the_union_of_its_files_passed_one_by_one(tmp_path: Path) -> None:
    d = make_tree(tmp_path / "d", {"a": "1", "b": "2"})
    assert hash_paths(d) == hash_paths(d / "a", d / "b")


def test_root_names_files_relative_to_root(tmp_path: Path) -> None:
    make_tree(tmp_path / "config", {"api/app.yaml": "a", "web/app.yaml": "w"})
    config = tmp_path / "config"
    result = hash_paths(config / "api", config / "web", root=config)
    assert result == spelled_out({"api/app.yaml": b"a", "web/app.yaml": b"w"})
    assert hash_paths(config / "api", root=config) != hash_paths(config / "api")


def test_relative_paths_are_resolved_against_the_working_directory_even_with_root(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_tree(tmp_path / "config", {"api/app.yaml": "a"})
    monkeypatch.chdir(tmp_path)
    assert hash_paths("config/api", root="config") == spelled_out({"api/app.yaml": b"a"})


def test_a_path_outside_root_is_rejected(tmp_path: Path) -> None:
    make_tree(tmp_path, {"config/a": "1", "other/b": "2"})
    with pytest.raises(ValueError, match="not inside root"):
        hash_paths(tmp_path / "other", root=tmp_path / "config")


def test_a_missing_root_is_reported(tmp_path: Path) -> None:
    make_tree(tmp_path / "c", TREE)
    with pytest.raises(FileNotFoundError, match="nope"):
        hash_paths(tmp_path / "c", root=tmp_path / "nope")


def test_the_same_file_reached_twice_counts_once(tmp_path: Path) -> None:
    c = make_tree(tmp_path / "c", TREE)
    assert hash_paths(c, c / "app.yaml") == hash_paths(c)
    assert hash_paths(c, c) == hash_paths(c)


def test_different_files_with_the_same_name_are_an_error_suggesting_root(tmp_path: Path) -> None:
    make_tree(tmp_path / "config", {"api/app.yaml": "a", "web/app.yaml": "w"})
    with pytest.raises(ValueError, match=r"'app\.yaml'.*root="):
        hash_paths(tmp_path / "config" / "api", tmp_path / "config" / "web")


def test_names_are_unicode_normalized_to_nfc(tmp_path: Path) -> None:
    nfc, nfd = "caf\u00e9.yaml", "cafe\u0301.yaml"
    one = make_tree(tmp_path / "1", {nfc: "x"})
    two = make_tree(tmp_path / "2", {nfd: "x"})
    assert hash_paths(one) == hash_paths(two) == spelled_out({nfc: b"x"})


# --------------------------------------------------------------------------- errors


def test_a_missing_path_raises_file_not_found_naming_the_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_tree(tmp_path / "config", TREE)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FileNotFoundError) as info:
        hash_paths("config", "config/missing-dir")
    assert info.value.filename == "config/missing-dir"
    assert info.value.errno == errno.ENOENT
    assert "config/missing-dir" in str(info.value)
    assert str(tmp_path / "config" / "missing-dir") in str(info.value)


def test_no_paths_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        hash_paths()


def test_selecting_no_files_is_an_error(tmp_path: Path) -> None:
    tree = make_tree(tmp_path / "c", TREE)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no files selected"):
        hash_paths(tmp_path / "empty")
    with pytest.raises(ValueError, match=r"allow_empty=True"):
        hash_paths(tree, include="*.json")


def test_allow_empty_returns_the_hash_of_nothing(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    assert hash_paths(tmp_path / "empty", allow_empty=True) == EMPTY


# --------------------------------------------------------------------------- include / exclude

FILTER_TREE = {
    "app.yaml": "1",
    "app.pyc": "2",
    "README.md": "3",
    "sub/db.yaml": "4",
    "sub/cache.pyc": "5",
    "sub/README.md": "6",
    "sub/deep/x.yaml": "7",
    ".git/config": "8",
    "sub/.git/HEAD": "9",
    "templates/t.j2": "10",
    "sub/templates/u.j2": "11",
    "build": "12",
    "dist/build/out.bin": "13",
}


def selected(tmp_path: Path, **filters: object) -> set[str]:
    """Names that hash_paths selects with ``filters``, found by comparing against subsets."""
    tree = make_tree(tmp_path / "filter-tree", FILTER_TREE)
    result = hash_paths(tree, allow_empty=True, **filters)  # type: ignore[arg-type]
    chosen = {
        name
        for name in FILTER_TREE
        if hash_paths(tree, allow_empty=True, **filters)  # type: ignore[arg-type]
        != hash_paths(tree, allow_empty=True, **_without(filters, name))
    }
    assert result == spelled_out({n: FILTER_TREE[n].encode() for n in chosen})
    return chosen


def _without(filters: dict[str, object], name: str) -> dict[str, object]:
    exclude = filters.get("exclude")
    patterns = [] if exclude is None else [exclude] if isinstance(exclude, str) else exclude
    return {**filters, "exclude": [*patterns, "/" + name.replace("[", "[[]")]}


def test_without_filters_every_file_is_selected(tmp_path: Path) -> None:
    assert selected(tmp_path) == set(FILTER_TREE)


def test_a_pattern_without_a_slash_matches_at_any_depth(tmp_path: Path) -> None:
    assert selected(tmp_path, include="*.yaml") == {"app.yaml", "sub/db.yaml", "sub/deep/x.yaml"}


def test_a_pattern_with_a_slash_is_anchored_at_the_top(tmp_path: Path) -> None:
    assert selected(tmp_path, include="sub/*.yaml") == {"sub/db.yaml"}


def test_a_leading_slash_anchors_a_pattern(tmp_path: Path) -> None:
    assert selected(tmp_path, include="/README.md") == {"README.md"}


def test_star_does_not_cross_directory_separators(tmp_path: Path) -> None:
    assert selected(tmp_path, include="s*b/db.yaml") == {"sub/db.yaml"}
    assert selected(tmp_path, include="sub*yaml") == set()


def test_double_star_matches_zero_or_more_directories(tmp_path: Path) -> None:
    assert selected(tmp_path, include="sub/**/*.yaml") == {"sub/db.yaml", "sub/deep/x.yaml"}
    assert selected(tmp_path, include="**/README.md") == {"README.md", "sub/README.md"}


def test_trailing_double_star_matches_everything_below_but_not_a_file_of_that_name(
    tmp_path: Path,
) -> None:
    assert selected(tmp_path, include="dist/**") == {"dist/build/out.bin"}
    assert selected(tmp_path, exclude="build/**") == set(FILTER_TREE)


def test_a_trailing_slash_matches_directories_only(tmp_path: Path) -> None:
    assert selected(tmp_path, include="build/") == {"dist/build/out.bin"}


def test_a_pattern_matching_a_directory_covers_everything_below_it(tmp_path: Path) -> None:
    assert selected(tmp_path, include="templates") == {"templates/t.j2", "sub/templates/u.j2"}
    assert selected(tmp_path, exclude=".git") == set(FILTER_TREE) - {
        ".git/config",
        "sub/.git/HEAD",
    }


def test_exclude_wins_over_include(tmp_path: Path) -> None:
    assert selected(tmp_path, include="*.yaml", exclude="sub/deep") == {
        "app.yaml",
        "sub/db.yaml",
    }


def test_several_patterns_are_alternatives(tmp_path: Path) -> None:
    assert selected(tmp_path, include=["*.md", "/app.*"], exclude=("*.pyc",)) == {
        "app.yaml",
        "README.md",
        "sub/README.md",
    }


def test_character_classes_and_question_mark(tmp_path: Path) -> None:
    assert selected(tmp_path, include="app.[!p]???") == {"app.yaml"}
    assert selected(tmp_path, include="[a-c]*") == {
        "app.yaml",
        "app.pyc",
        "build",
        "sub/cache.pyc",
        ".git/config",
        "dist/build/out.bin",  # through its directory "build"
    }


def test_dot_files_get_no_special_treatment(tmp_path: Path) -> None:
    assert selected(tmp_path, include="*/config") == {".git/config"}


def test_patterns_are_case_sensitive(tmp_path: Path) -> None:
    assert selected(tmp_path, include="readme.md") == set()


def test_a_single_string_pattern_is_not_split_into_characters(tmp_path: Path) -> None:
    assert selected(tmp_path, exclude="ab") == set(FILTER_TREE)


def test_an_empty_pattern_list_means_no_filter(tmp_path: Path) -> None:
    assert selected(tmp_path, include=[], exclude=[]) == set(FILTER_TREE)


def test_filters_apply_to_the_path_prefix_formed_with_root(tmp_path: Path) -> None:
    make_tree(tmp_path / "config", {"api/app.yaml": "a", "web/app.yaml": "w"})
    c = tmp_path / "config"
    with pytest.raises(ValueError, match="no files selected"):
        hash_paths(c / "api", root=c, exclude="api")
    assert hash_paths(c / "api", c / "web", root=c, include="web") == spelled_out(
        {"web/app.yaml": b"w"}
    )


@pytest.mark.parametrize("bad", ["", "/", "a//b", "./a", "a/../b", "a/./b"])
def test_invalid_patterns_are_rejected(tmp_path: Path, bad: str) -> None:
    tree = make_tree(tmp_path / "c", TREE)
    with pytest.raises(ValueError, match="pattern"):
        hash_paths(tree, include=bad)


def test_non_string_patterns_are_rejected(tmp_path: Path) -> None:
    tree = make_tree(tmp_path / "c", TREE)
    with pytest.raises(TypeError):
        hash_paths(tree, exclude=b"*.pyc")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        hash_paths(tree, exclude=[1])  # type: ignore[list-item]


# --------------------------------------------------------------------------- symlinks, specials


@posix_only
def test_a_file_symlink_is_hashed_as_its_target_content_under_the_link_name(
    tmp_path: Path,
) -> None:
    make_tree(tmp_path / "outside", {"real.yaml": "content"})
    linked = make_tree(tmp_path / "linked", {"a": "1"})
    (linked / "b.yaml").symlink_to(tmp_path / "outside" / "real.yaml")
    copied = make_tree(tmp_path / "copied", {"a": "1", "b.yaml": "content"})
    assert hash_paths(linked) == hash_paths(copied)


@posix_only
def test_a_directory_symlink_is_followed(tmp_path: Path) -> None:
    make_tree(tmp_path / "shared", {"x.yaml": "x"})
    linked = make_tree(tmp_path / "linked", {"a": "1"})
    (linked / "shared").symlink_to(tmp_path / "shared", target_is_directory=True)
    copied = make_tree(tmp_path / "copied", {"a": "1", "shared/x.yaml": "x"})
    assert hash_paths(linked) == hash_paths(copied)


@posix_only
def test_a_symlink_loop_is_refused(tmp_path: Path) -> None:
    tree = make_tree(tmp_path / "c", TREE)
    (tree / "sub" / "loop").symlink_to(tree, target_is_directory=True)
    with pytest.raises(OSError) as info:
        hash_paths(tree)
    assert info.value.errno == errno.ELOOP
    assert "loop" in str(info.value)
    assert hash_paths(tree, exclude="loop") == hash_paths(make_tree(tmp_path / "plain", TREE))


@posix_only
def test_a_dangling_symlink_is_an_error_naming_it_unless_excluded(tmp_path: Path) -> None:
    tree = make_tree(tmp_path / "c", TREE)
    (tree / ".#app.yaml").symlink_to(tmp_path / "does-not-exist")
    with pytest.raises(FileNotFoundError, match="dangling") as info:
        hash_paths(tree)
    assert info.value.filename == str(tree / ".#app.yaml")
    assert hash_paths(tree, exclude=".#*") == hash_paths(make_tree(tmp_path / "plain", TREE))


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs os.mkfifo")
def test_a_fifo_is_an_error_unless_excluded(tmp_path: Path) -> None:
    tree = make_tree(tmp_path / "c", TREE)
    os.mkfifo(tree / "pipe")
    with pytest.raises(ValueError, match="FIFO"):
        hash_paths(tree)
    assert hash_paths(tree, exclude="pipe") == hash_paths(make_tree(tmp_path / "plain", TREE))


@posix_only
def test_excluded_directories_are_not_entered(tmp_path: Path) -> None:
    tree = make_tree(tmp_path / "c", TREE)
    (tree / "node_modules").mkdir()
    (tree / "node_modules" / "dangling").symlink_to(tmp_path / "nowhere")
    assert hash_paths(tree, exclude="node_modules/") == hash_paths(
        make_tree(tmp_path / "plain", TREE)
    )


# --------------------------------------------------------------------------- known answer


def test_known_answer_pins_the_v1_format(tmp_path: Path) -> None:
    big = bytes(range(256)) * 1200  # 307,200 bytes: several read chunks, a helper thread
    files = {
        "app.yaml": b"port: 80\n",
        "sub/db.yaml": b"host: db\n",
        "sub/empty": b"",
        "z\u00e9/big.bin": big,
    }
    tree = make_tree(tmp_path / "kat", files)
    assert hash_paths(tree) == spelled_out(files)
    assert hash_paths(tree) == (
        "sha256:128a263b7c3e6270343702427499decf78336e627aba457cf53839385d88185b"
    )


def test_a_file_digest_is_what_sha256sum_prints_for_it(tmp_path: Path) -> None:
    content = b"hello\n"
    single = make_tree(tmp_path / "s", {"f": content})
    expected = hashlib.sha256(
        HEADER + (1).to_bytes(8, "big") + b"f" + hashlib.sha256(content).digest()
    ).hexdigest()
    assert hashlib.sha256(content).hexdigest() == (
        "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03"
    )
    assert hash_paths(single) == "sha256:" + expected


# --------------------------------------------------------------------------- hash_values


def _sha(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def test_hash_values_is_sha256_of_canonical_json_of_the_arguments_as_an_array() -> None:
    value = {"b": 1, "a": [True, None, "\u00e9", 1.5]}
    assert hash_values(value, "x") == _sha('[{"a":[true,null,"\u00e9",1.5],"b":1},"x"]')


def test_hash_values_known_answer() -> None:
    assert hash_values({"replicas": 2, "image": "api:1.4"}) == (
        "sha256:" + hashlib.sha256(b'[{"image":"api:1.4","replicas":2}]').hexdigest()
    )


def test_hash_values_key_order_does_not_matter() -> None:
    assert hash_values({"a": 1, "b": {"x": 1, "y": 2}}) == hash_values(
        {"b": {"y": 2, "x": 1}, "a": 1}
    )


def test_hash_values_tuples_are_lists() -> None:
    assert hash_values((1, (2, 3))) == hash_values([1, [2, 3]])


def test_hash_values_integral_floats_equal_ints() -> None:
    assert hash_values({"n": 1}) == hash_values({"n": 1.0})
    assert hash_values(-0.0) == hash_values(0)
    assert hash_values(1.5) != hash_values(1)


def test_hash_values_arguments_are_an_array_not_spread() -> None:
    assert hash_values(1, 2) != hash_values([1, 2])
    assert hash_values(1, 2) == hash_values(*[1, 2])
    assert hash_values(1, 2) != hash_values(2, 1)


def test_hash_values_distinguishes_types_json_distinguishes() -> None:
    assert len({hash_values(v) for v in (1, "1", True, None, [1], {"1": 1})}) == 6


def test_hash_values_rejects_nan_naming_the_path() -> None:
    with pytest.raises(ValueError, match=r'^values\[0\]\["db"\]\["ports"\]\[1\] is nan'):
        hash_values({"db": {"ports": [80, float("nan")]}})
    with pytest.raises(ValueError, match=r"values\[1\] is inf"):
        hash_values(1, float("inf"))


def test_hash_values_rejects_sets_naming_the_path() -> None:
    with pytest.raises(TypeError, match=r'^values\[0\]\["db"\]\["ports"\] is a set'):
        hash_values({"db": {"ports": {80, 443}}})


def test_hash_values_rejects_bytes_and_other_objects() -> None:
    with pytest.raises(TypeError, match=r'values\[0\]\["k"\] is a bytes'):
        hash_values({"k": b"x"})
    with pytest.raises(TypeError, match=r"values\[0\] is a object"):
        hash_values(object())


def test_hash_values_rejects_non_string_keys_naming_the_path() -> None:
    with pytest.raises(TypeError, match=r'values\[0\]\["db"\] has a key 1 of type int'):
        hash_values({"db": {1: "x"}})


def test_hash_values_rejects_circular_references() -> None:
    loop: list[object] = []
    loop.append(loop)
    with pytest.raises(ValueError, match=r"values\[0\]\[0\] is a circular reference"):
        hash_values(loop)


def test_hash_values_accepts_the_same_object_twice_when_it_is_not_a_cycle() -> None:
    shared = {"a": 1}
    assert hash_values([shared, shared]) == hash_values([{"a": 1}, {"a": 1}])


def test_hash_values_rejects_lone_surrogates() -> None:
    with pytest.raises(ValueError, match=r"values\[0\] is a string with a lone surrogate"):
        hash_values("\ud800")


def test_hash_values_needs_at_least_one_value() -> None:
    with pytest.raises(TypeError):
        hash_values()


def test_hash_values_output_is_stable_json_text() -> None:
    text = json.dumps([{"a": "\u00e9"}], separators=(",", ":"), ensure_ascii=False)
    assert hash_values({"a": "\u00e9"}) == _sha(text)

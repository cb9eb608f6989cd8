"""Names and run file paths: traversal and absolute paths are refused."""

from __future__ import annotations

import posixpath

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tracklet.domain.keys import is_valid_api_key, key_name, new_api_key
from tracklet.domain.names import (
    validate_file_path,
    validate_name,
    validate_run_name,
    validate_tag,
)
from tracklet.errors import InvalidInput


@pytest.mark.parametrize(
    "path",
    ["../x", "a/../../x", "/etc/passwd", "a//b", "./a", "a/.", "a\\b", "..\\x", "a\x00b", "",
     "x" * 2000, "a/"],
)
def test_bad_file_paths(path: str) -> None:
    with pytest.raises(InvalidInput):
        validate_file_path(path)


@pytest.mark.parametrize("path", ["a.txt", "media/images/img_1_ab.png", "sub/dir/file name.csv",
                                  "..hidden", "a..b/c"])
def test_good_file_paths(path: str) -> None:
    assert validate_file_path(path) == path


@given(st.text(alphabet="ab./\\\x00", max_size=20))
def test_accepted_paths_never_escape(path: str) -> None:
    try:
        validate_file_path(path)
    except InvalidInput:
        return
    resolved = posixpath.normpath(posixpath.join("/root", path))
    assert resolved.startswith("/root/")


@pytest.mark.parametrize("name", ["", ".", "..", "a/b", "a b", "x" * 129])
def test_bad_names(name: str) -> None:
    with pytest.raises(InvalidInput):
        validate_name("run", name)


@pytest.mark.parametrize("name", ["", ".", "..", "a/b", "a:b", "a;b", "a,b", "a#b", "a?b",
                                  "a'b", "a%b", "a\\b", " a", "a ", "a\nb", "a\x00b", "x" * 129])
def test_bad_run_names(name: str) -> None:
    with pytest.raises(InvalidInput):
        validate_run_name(name)


@pytest.mark.parametrize("name", ["abc123", "random-run-id-=1234567-seed-0", "lr=0.1 bs=32",
                                  "run(1)[2]{3}", "x" * 128, "über"])
def test_good_run_names(name: str) -> None:
    assert validate_run_name(name) == name


@pytest.mark.parametrize("tag", ["orig-TAG 1", "a", "under_score", "x" * 128, "two words here"])
def test_good_tags(tag: str) -> None:
    assert validate_tag(tag) == tag


@pytest.mark.parametrize("tag", ["", " a", "a ", "a/b", "a:b", "a.b", "x" * 129])
def test_bad_tags(tag: str) -> None:
    with pytest.raises(InvalidInput):
        validate_tag(tag)


def test_generated_keys_are_accepted_by_the_sdk_rule() -> None:
    assert is_valid_api_key(new_api_key())
    assert is_valid_api_key("local-" + "a" * 40)
    assert not is_valid_api_key("a" * 39)
    assert not is_valid_api_key("")


@pytest.mark.parametrize(("key", "name"), [
    ("user_gw0-" + "ab" * 20, "user_gw0-abab"),
    ("tlk-" + "x" * 48, "tlk-xxxx"),
    ("y" * 40, "yyyyyyyy"),
])
def test_key_names_are_short_prefixes(key: str, name: str) -> None:
    assert key_name(key) == name and key.startswith(name)

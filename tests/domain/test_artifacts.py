"""Artifact names, aliases, digests and manifest parsing."""

from __future__ import annotations

import base64
import hashlib

import pytest

from tracklet.domain.artifacts import (
    EMPTY_MD5_B64,
    ManifestEntry,
    manifest_digest,
    md5_b64_to_hex,
    md5_hex_to_b64,
    parse_manifest,
    parse_version,
    split_name,
    validate_alias,
    validate_artifact_name,
)
from tracklet.errors import InvalidInput


def test_manifest_digest_matches_the_sdk_capture() -> None:
    # PROTOCOL §3.5: the d1 capture's directory hashes to this digest.
    entries = [ManifestEntry("a.txt", "n5+Q2+Pl7hIYyGuIOdsZlQ==", 6),
               ManifestEntry("sub/b.json", "xOrjXmlxd9Glqi+bSY+GeQ==", 9),
               ManifestEntry("empty.bin", EMPTY_MD5_B64, 0)]
    assert manifest_digest(entries) == "8f67ba972a37fdf68290f7f4ebe40cc7"


def test_md5_forms_round_trip() -> None:
    digest = hashlib.md5(b"alpha\n")
    b64 = base64.b64encode(digest.digest()).decode()
    assert md5_b64_to_hex(b64) == digest.hexdigest()
    assert md5_hex_to_b64(digest.hexdigest()) == b64
    for bad in ["", "not base64!", base64.b64encode(b"short").decode()]:
        with pytest.raises(InvalidInput):
            md5_b64_to_hex(bad)
    with pytest.raises(InvalidInput):
        md5_hex_to_b64("xyz")


@pytest.mark.parametrize("name", ["../x", "a/b", "..", ".", "", "a b", "x" * 129, "a:b"])
def test_bad_artifact_names(name: str) -> None:
    with pytest.raises(InvalidInput):
        validate_artifact_name(name)


def test_aliases_and_versions() -> None:
    assert validate_alias("best-model_1.0") == "best-model_1.0"
    for bad in ["", "a/b", "a:b", "v3", "x" * 129, "tab\there"]:
        with pytest.raises(InvalidInput):
            validate_alias(bad)
    assert parse_version("v12") == 12 and parse_version("latest") is None
    assert split_name("data") == ("data", "latest")
    assert split_name("data:v2") == ("data", "v2")
    with pytest.raises(InvalidInput):
        split_name("../data:v0")


def test_parse_manifest() -> None:
    doc = {"version": 1, "contents": {
        "a.txt": {"digest": "n5+Q2+Pl7hIYyGuIOdsZlQ==", "size": 6, "birthArtifactID": "QQ==",
                  "local_path": "/tmp/x"},
        "r.csv": {"digest": "etag", "ref": "s3://b/r.csv", "size": 10, "extra": {"v": 1}}}}
    entries = {e.path: e for e in parse_manifest(doc)}
    assert entries["a.txt"].birth_artifact_id == "QQ==" and not entries["a.txt"].is_reference
    assert entries["r.csv"].ref == "s3://b/r.csv" and entries["r.csv"].extra == '{"v":1}'
    for bad in [[], {"version": 2, "contents": {}}, {"version": 1},
                {"version": 1, "contents": {"../x": {"digest": EMPTY_MD5_B64}}},
                {"version": 1, "contents": {"x": {"digest": "not-md5"}}},
                {"version": 1, "contents": {"x": {"digest": EMPTY_MD5_B64, "size": -1}}},
                {"version": 1, "contents": {"x": {"digest": "d", "ref": "no-scheme"}}}]:
        with pytest.raises(InvalidInput):
            parse_manifest(bad)

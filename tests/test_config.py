"""Settings: every field documented (in the code and in the README), env coercion exact."""

from __future__ import annotations

import re
from dataclasses import fields
from pathlib import Path

import pytest

from tracklet.config import ENV_PREFIX, Settings, _coerce
from tracklet.errors import InvalidInput

README = Path(__file__).resolve().parent.parent / "README.md"
FIELDS = [f.name for f in fields(Settings)]
ENV_FIELDS = [f.name for f in fields(Settings) if f.metadata.get("env", True)]


@pytest.mark.parametrize("name", FIELDS)
def test_every_setting_has_a_doc(name: str) -> None:
    doc = dict(Settings.documented_fields())[name]
    assert len(doc.split()) >= 3, f"Settings.{name} needs a doc: field(metadata=_doc('...'))"
    assert doc[0].isupper() and doc.rstrip(")").endswith("."), f"Settings.{name}: {doc!r}"


@pytest.mark.parametrize("name", ENV_FIELDS)
def test_every_environment_variable_is_in_the_readme(name: str) -> None:
    var = ENV_PREFIX + name.upper()
    assert re.search(rf"^\| `{var}` \|", README.read_text(), re.MULTILINE), (
        f"README.md's settings table lacks a row for {var}"
    )


def test_readme_lists_no_setting_that_does_not_exist() -> None:
    listed = set(re.findall(r"^\| `TRACKLET_([A-Z0-9_]+)` \|", README.read_text(), re.MULTILINE))
    assert listed == {n.upper() for n in ENV_FIELDS}


def test_defaults_without_environment() -> None:
    s = Settings.from_env({})
    assert s == Settings()
    assert s.db_url == f"sqlite:///{Path('~/.tracklet').expanduser() / 'tracklet.db'}"
    assert s.blobs_url == f"file://{Path('~/.tracklet').expanduser() / 'blobs'}"


def test_environment_values_are_coerced_to_the_field_types() -> None:
    s = Settings.from_env({
        "TRACKLET_PORT": "9090",
        "TRACKLET_HEARTBEAT_TIMEOUT_S": "12.5",
        "TRACKLET_DATA_DIR": "/srv/tracklet",
        "TRACKLET_DB": "postgresql://u:p@db/tracklet",
        "TRACKLET_BLOBS": "s3://bucket/prefix",
        "TRACKLET_S3_ENDPOINT_URL": "http://minio:9000",
        "OTHER_PORT": "1",
    })
    assert (s.port, s.heartbeat_timeout_s, s.data_dir) == (9090, 12.5, Path("/srv/tracklet"))
    assert isinstance(s.port, int) and isinstance(s.heartbeat_timeout_s, float)
    assert s.db_url == "postgresql+psycopg://u:p@db/tracklet"
    assert s.blobs_url == "s3://bucket/prefix"
    assert s.s3_endpoint_url == "http://minio:9000"
    assert s.resolved_data_dir == Path("/srv/tracklet")


def test_explicit_overrides_beat_the_environment_and_none_falls_through() -> None:
    env = {"TRACKLET_PORT": "9090", "TRACKLET_HOST": "0.0.0.0"}
    s = Settings.from_env(env, port=7000, host=None, data_dir=Path("/d"))
    assert (s.port, s.host, s.data_dir) == (7000, "0.0.0.0", Path("/d"))


@pytest.mark.parametrize(
    ("var", "raw", "expected"),
    [("TRACKLET_PORT", "eighty", "expected int"),
     ("TRACKLET_DB_BUSY_TIMEOUT_S", "soon", "expected float")],
)
def test_bad_values_name_the_variable(var: str, raw: str, expected: str) -> None:
    with pytest.raises(InvalidInput, match=f"{var}: {expected}, got '{raw}'"):
        Settings.from_env({var: raw})


def test_settings_are_immutable() -> None:
    s = Settings()
    with pytest.raises(AttributeError):
        s.port = 1  # type: ignore[misc]


@pytest.mark.parametrize(
    ("raw", "value"), [("1", True), ("true", True), ("Yes", True), ("on", True),
                       ("0", False), ("false", False), ("no", False), ("", False)],
)
def test_booleans_read_the_usual_spellings(raw: str, value: bool) -> None:
    assert _coerce("bool", raw, "TRACKLET_X") is value


def test_a_misspelt_boolean_is_an_error_not_false() -> None:
    with pytest.raises(InvalidInput, match="TRACKLET_X: expected bool"):
        _coerce("bool", "ture", "TRACKLET_X")

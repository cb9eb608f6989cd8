"""A wrong ``--db`` or ``--blobs`` stops ``tracklet server`` at once with what was tried and
why: exit code 1, one line, no traceback, no admin key printed, nothing created."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from tests.conftest import PostgresServer, S3Server, start_s3_endpoint, stop_s3_endpoint
from tracklet.cli import cli


def _serve(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> Result:
    result = CliRunner().invoke(cli, ["server", "--data-dir", str(tmp_path / "data"), *args],
                                env=env)
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output and result.exception is not None
    assert isinstance(result.exception, SystemExit), result.exception
    assert "API key" not in result.output and "serving on" not in result.output
    assert len(result.output.strip().splitlines()) == 1, result.output
    return result


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


@pytest.mark.parametrize(("url", "message"), [
    ("mysql://root:pw@db.example/wandb",
     "mysql is not supported as tracklet's database (mysql://root:***@db.example/wandb): "
     "use postgresql://"),
    ("mariadb://root@db/wandb", "mariadb is not supported"),
    ("mongodb://db/x", "unsupported database URL scheme 'mongodb': use postgresql://"),
    ("not a url", "unsupported database URL scheme 'not a url'"),
    ("postgres://u@h/d", "write postgres:// URLs as postgresql://"),
    ("postgresql+psycopg2://u@h/d", "the PostgreSQL driver 'psycopg2' is not supported"),
])
def test_an_unsupported_database_lists_the_supported_ones(tmp_path: Path, url: str,
                                                          message: str) -> None:
    result = _serve(tmp_path, "--db", url)
    assert message in result.output
    assert "sqlite:///" in result.output or "postgresql://" in result.output
    assert not (tmp_path / "data" / "tracklet.db").exists()


def test_nothing_listening_is_not_called_busy(tmp_path: Path) -> None:
    port = _closed_port()
    result = _serve(tmp_path, "--db", f"postgresql://tracklet:hunter2@127.0.0.1:{port}/x")
    assert (f"cannot connect to the database postgresql://tracklet:***@127.0.0.1:{port}/x: "
            "nothing is listening there") in result.output
    assert "Connection refused" in result.output, "the driver's reason"
    assert "busy" not in result.output and "hunter2" not in result.output


@pytest.mark.postgresql
def test_a_missing_database_is_named(tmp_path: Path, postgres_server: PostgresServer) -> None:
    url = postgres_server.url.rsplit("/", 1)[0] + "/no_such_db"
    result = _serve(tmp_path, "--db", url)
    assert "the database does not exist" in result.output
    assert 'database "no_such_db" does not exist' in result.output


@pytest.mark.postgresql
def test_a_refused_login_is_an_authentication_failure(tmp_path: Path,
                                                      postgres_server: PostgresServer) -> None:
    import psycopg

    with psycopg.connect(postgres_server.url, autocommit=True) as conn:
        conn.execute("DROP ROLE IF EXISTS tracklet_nologin")
        conn.execute("CREATE ROLE tracklet_nologin NOLOGIN")
    rest = postgres_server.url.split("@", 1)[1]
    for user in ("tracklet_nologin", "no_such_role"):
        result = _serve(tmp_path, "--db", f"postgresql://{user}:pw@{rest}")
        assert "authentication failed" in result.output, result.output
        assert f'"{user}"' in result.output and ":pw@" not in result.output


@pytest.mark.postgresql
def test_tls_required_by_the_url_is_reported(tmp_path: Path,
                                             postgres_server: PostgresServer) -> None:
    # The test cluster serves no TLS, as a server without certificates would not.
    result = _serve(tmp_path, "--db", postgres_server.url + "?sslmode=require")
    assert "TLS negotiation failed" in result.output
    assert "server does not support SSL" in result.output


def test_sqlite_files_that_cannot_be_used(tmp_path: Path) -> None:
    not_a_db = tmp_path / "notes.txt"
    not_a_db.write_text("hello, this is not SQLite\n" * 100)
    result = _serve(tmp_path, "--db", f"sqlite:///{not_a_db}")
    assert f"cannot open the SQLite database '{not_a_db}': file is not a database" \
        in result.output
    folder = tmp_path / "a_folder"
    folder.mkdir()
    result = _serve(tmp_path, "--db", f"sqlite:///{folder}")
    assert "it is a folder" in result.output
    blocked = tmp_path / "file"
    blocked.write_text("")
    result = _serve(tmp_path, "--db", f"sqlite:///{blocked}/sub/x.db")
    assert "cannot create the folder of the SQLite database" in result.output


def test_an_unsupported_blob_store_lists_the_supported_ones(tmp_path: Path) -> None:
    result = _serve(tmp_path, "--blobs", "gs://bucket/prefix")
    assert "unsupported blob store URL 'gs://bucket/prefix'" in result.output
    for scheme in ("file:///", "s3://bucket/prefix", "memory://"):
        assert scheme in result.output
    blocked = tmp_path / "file"
    blocked.write_text("")
    result = _serve(tmp_path, "--blobs", str(blocked / "blobs"))
    assert f"cannot use the blob folder '{blocked / 'blobs'}'" in result.output


@pytest.mark.s3
def test_s3_endpoint_unreachable_or_bucket_missing(tmp_path: Path, s3_server: S3Server) -> None:
    port = _closed_port()
    result = _serve(tmp_path, "--blobs", "s3://bucket/p",
                    env={"TRACKLET_S3_ENDPOINT_URL": f"http://127.0.0.1:{port}"})
    assert f"cannot reach the S3 endpoint for S3 bucket 'bucket' at http://127.0.0.1:{port}" \
        in result.output
    result = _serve(tmp_path, "--blobs", "s3://no-such-bucket/p",
                    env={"TRACKLET_S3_ENDPOINT_URL": s3_server.endpoint_url})
    assert (f"S3 bucket 'no-such-bucket' at {s3_server.endpoint_url} does not exist"
            in result.output)


@pytest.mark.s3
def test_s3_credentials_refused(tmp_path: Path, s3_server: S3Server) -> None:
    # moto checks keys against its IAM users once this many requests went unchecked: none.
    endpoint = start_s3_endpoint(tmp_path / "moto", env={"INITIAL_NO_AUTH_ACTION_COUNT": "0"})
    try:
        result = _serve(tmp_path, "--blobs", "s3://bucket/p",
                        env={"TRACKLET_S3_ENDPOINT_URL": endpoint})
    finally:
        stop_s3_endpoint(tmp_path / "moto")
    assert f"S3 credentials refused by S3 bucket 'bucket' at {endpoint} (InvalidAccessKeyId" \
        in result.output
    assert "AWS_ACCESS_KEY_ID" in result.output

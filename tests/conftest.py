"""Real backends for the whole suite, started by the tests themselves on loopback.

Fixtures for tests (every backend-generic test takes one of these rather than building its
own store):

* ``storage``: a migrated-from-empty :class:`~tracklet.storage.Storage` once per metadata
  backend (``metadata_backend``: sqlite, postgresql), built from ``storage_settings``. Blobs
  are in memory; a module that needs them in a local folder overrides the ``storage_blobs``
  fixture to return ``"local"``.
* ``module_metadata_url``: one empty metadata database per module and backend, for
  read-only tests that populate it once.
* ``blob_store``: an empty :class:`~tracklet.storage.blobs.BlobStore` once per backend
  (local, memory, s3).
* ``app``: the app in process (:mod:`tests.support.app`, an httpx client over
  ``create_app`` with its lifespan) once per deployment kind of ``app_settings``
  (SQLite + local folder, PostgreSQL + S3).

Backends behind them:

* ``postgres_server``: a throwaway PostgreSQL cluster from Debian's packages
  (``scripts/pg-throwaway.sh``; run as the ``postgres`` user when the tests run as root).
  ``postgres_server.create_database()`` gives each test an empty database of its own
  (``postgres_url``).
* ``s3_server``: an S3 API endpoint (moto in server mode, ``scripts/moto-s3.sh``);
  ``s3_server.create_bucket()`` gives each test an empty bucket of its own.

Both servers are session-scoped (one per xdist worker) and started only when a test asks for
them. When PostgreSQL is not installed the PostgreSQL cases error with the command to fix it
rather than skip, so a green run always means every backend was exercised.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tracklet.config import Settings
from tracklet.storage import Storage
from tracklet.storage.blobs import BlobStore, LocalBlobStore, MemoryBlobStore

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = ROOT / "scripts"

# moto accepts any credentials, but boto3 will not sign a request without some.
S3_TEST_ENV = {
    "AWS_ACCESS_KEY_ID": "tracklet-test",
    "AWS_SECRET_ACCESS_KEY": "tracklet-test-secret",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
}

METADATA_BACKENDS = [
    "sqlite",
    pytest.param("postgresql", marks=pytest.mark.postgresql),
]
BLOB_BACKENDS = ["local", "memory", pytest.param("s3", marks=pytest.mark.s3)]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "postgresql: runs against the test PostgreSQL server")
    config.addinivalue_line("markers", "s3: runs against the test S3 endpoint (moto)")
    config.addinivalue_line("markers", "compat: an SDK release of the compatibility matrix "
                            "other than the pinned one (`make test-compat`, `-m compat`)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Leave out the older SDK releases of the matrix unless ``-m`` names ``compat``: each
    needs a venv of its own, made on first use (tests/e2e/sdk_venvs.py)."""
    if "compat" in (config.getoption("markexpr") or ""):
        return
    left_out = [item for item in items if item.get_closest_marker("compat") is not None]
    if left_out:
        config.hook.pytest_deselected(items=left_out)
        items[:] = [item for item in items if item.get_closest_marker("compat") is None]


def _script(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> str:
    proc = subprocess.run(
        [str(SCRIPTS / args[0]), *args[1:]],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{args[0]} {args[1]} failed ({proc.returncode}):\n{proc.stderr}")
    return proc.stdout.strip()


@dataclass
class PostgresServer:
    """A running PostgreSQL cluster; ``url`` points at its ``postgres`` maintenance DB."""

    url: str
    directory: Path

    def _admin(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(sql)

    def create_database(self) -> str:
        """A new empty database; returns its ``postgresql://`` URL."""
        name = f"t_{uuid.uuid4().hex[:16]}"
        self._admin(f'CREATE DATABASE "{name}"')
        return self.url.rsplit("/", 1)[0] + "/" + name

    def drop_database(self, url: str) -> None:
        """Drop a database made by :meth:`create_database`, closing its connections."""
        name = url.rsplit("/", 1)[1]
        self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A PostgreSQL server for this session (this xdist worker)."""
    # Under /tmp rather than pytest's 0700 tmp dirs: the server may run as another user.
    directory = Path(tempfile.mkdtemp(prefix="tracklet-pg-"))
    try:
        url = _script("pg-throwaway.sh", "start", str(directory))
    except RuntimeError as exc:
        shutil.rmtree(directory, ignore_errors=True)
        pytest.fail(f"could not start PostgreSQL ({exc}); `make system-deps` installs it",
                    pytrace=False)
    try:
        yield PostgresServer(url=url, directory=directory)
    finally:
        _script("pg-throwaway.sh", "stop", str(directory))
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """An empty PostgreSQL database for one test."""
    url = postgres_server.create_database()
    yield url
    postgres_server.drop_database(url)


@dataclass
class S3Server:
    """A running S3 API endpoint on loopback."""

    endpoint_url: str

    def client(self) -> Any:
        """A boto3 S3 client for the endpoint."""
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint_url, region_name="us-east-1")

    def create_bucket(self) -> str:
        """A new empty bucket; returns its name."""
        name = f"tracklet-{uuid.uuid4().hex[:16]}"
        self.client().create_bucket(Bucket=name)
        return name


def start_s3_endpoint(directory: Path, env: dict[str, str] | None = None) -> str:
    """Start moto's S3 server in the background (state and log in ``directory``, ``env``
    added to its environment); its URL."""
    return _script("moto-s3.sh", "start", str(directory),
                   env={"PYTHON": sys.executable, **(env or {})})


def stop_s3_endpoint(directory: Path) -> None:
    """Stop the server :func:`start_s3_endpoint` started in ``directory``."""
    _script("moto-s3.sh", "stop", str(directory))


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """An S3 endpoint (moto) for this session, with dummy AWS credentials in the environment."""
    directory = tmp_path_factory.mktemp("moto")
    with pytest.MonkeyPatch.context() as mp:
        for name, value in S3_TEST_ENV.items():
            mp.setenv(name, value)
        for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
            mp.delenv(name, raising=False)
        url = start_s3_endpoint(directory)
        try:
            yield S3Server(endpoint_url=url)
        finally:
            stop_s3_endpoint(directory)


@pytest.fixture(params=METADATA_BACKENDS)
def metadata_backend(request: pytest.FixtureRequest) -> str:
    """The name of the metadata backend under test."""
    return str(request.param)


STORAGE_BLOBS = {"memory": "memory://", "local": ""}  # "": the data dir's blobs folder


@pytest.fixture
def storage_blobs() -> str:
    """The blob backend under ``storage``, a key of ``STORAGE_BLOBS``: ``memory``; a module
    overrides this fixture to return ``local`` (a folder under the data dir) instead."""
    return "memory"


@pytest.fixture
def storage_settings(metadata_backend: str, storage_blobs: str, request: pytest.FixtureRequest,
                     tmp_path: Path) -> Settings:
    """Settings for an empty store on the metadata backend under test (blobs in memory unless
    ``storage_blobs`` says otherwise)."""
    db = ""
    if metadata_backend == "postgresql":
        db = str(request.getfixturevalue("postgres_url"))
    return Settings(data_dir=tmp_path / "data", db=db, blobs=STORAGE_BLOBS[storage_blobs])


@pytest.fixture
def storage(storage_settings: Settings) -> Iterator[Storage]:
    """A migrated-from-empty Storage on each metadata backend (SQLite, PostgreSQL)."""
    store = Storage.open(storage_settings)
    yield store
    store.close()


@pytest.fixture(scope="module", params=METADATA_BACKENDS)
def module_metadata_url(request: pytest.FixtureRequest,
                        tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The SQLAlchemy URL of an empty metadata database shared by one module's tests, once
    per metadata backend (SQLite, PostgreSQL): for read-only tests that populate it once."""
    data_dir = tmp_path_factory.mktemp("metadata")
    if request.param == "sqlite":
        yield Settings(data_dir=data_dir).db_url
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    url = server.create_database()
    yield Settings(data_dir=data_dir, db=url).db_url
    server.drop_database(url)


@pytest.fixture(params=BLOB_BACKENDS)
def blob_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BlobStore]:
    """An empty blob store of each kind (local folder, memory, S3 bucket on moto)."""
    store: BlobStore
    if request.param == "local":
        store = LocalBlobStore(tmp_path / "blobs")
    elif request.param == "memory":
        store = MemoryBlobStore()
    else:
        from tracklet.storage.blobs.s3 import S3BlobStore

        server: S3Server = request.getfixturevalue("s3_server")
        store = S3BlobStore(bucket=server.create_bucket(), prefix="pre/fix",
                            endpoint_url=server.endpoint_url)
    yield store
    store.close()


APP_BACKENDS = [
    "sqlite+local",
    pytest.param("postgresql+s3", marks=[pytest.mark.postgresql, pytest.mark.s3]),
]


@pytest.fixture(params=APP_BACKENDS)
def app_settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    """Settings for an empty deployment of each kind: the embedded default (SQLite + a
    local folder) and the team one (PostgreSQL + an S3 bucket)."""
    if request.param == "sqlite+local":
        return Settings(data_dir=tmp_path / "data")
    server: S3Server = request.getfixturevalue("s3_server")
    return Settings(data_dir=tmp_path / "data", db=str(request.getfixturevalue("postgres_url")),
                    blobs=f"s3://{server.create_bucket()}/pre", s3_endpoint_url=server.endpoint_url)


@pytest.fixture
def app(app_settings: Settings) -> Iterator[Any]:
    """The app in process (:mod:`tests.support.app`) on each deployment kind."""
    from tests.support.app import in_process_app

    with in_process_app(app_settings) as running:
        yield running

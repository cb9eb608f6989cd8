"""docs/deploy.md's nginx configuration, run on loopback (its ports and certificate swapped
for test ones) in front of two tracklet servers on PostgreSQL + S3: 32 runs of a new
project started at once over TLS (by the wire client, then by 32 real wandb SDK processes),
every row stored once, read back with ``wandb.Api()`` through nginx."""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.conftest import S3_TEST_ENV, PostgresServer, S3Server
from tests.e2e.conftest import LiveServer, sdk_environment, start_server
from tests.e2e.http_writer import HttpWriter
from tracklet.testing import free_port

DEPLOY = Path(__file__).resolve().parents[2] / "docs" / "deploy.md"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
RUNS, ROWS = 32, 120

pytestmark = [pytest.mark.postgresql, pytest.mark.s3]


def documented_config() -> str:
    """The nginx block of docs/deploy.md."""
    found = re.search(r"```nginx\n(.*?)```", DEPLOY.read_text(), re.S)
    assert found, "docs/deploy.md has an nginx block"
    return found.group(1)


def _trust(cert: Path) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(cert))


def _certificate(folder: Path) -> tuple[Path, Path]:
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    return cert, key


@pytest.fixture
def fronted(tmp_path: Path, postgres_server: PostgresServer,
            s3_server: S3Server) -> Iterator[tuple[str, Path, LiveServer, int]]:
    """nginx on https://127.0.0.1:<port> in front of two servers; (url, CA file, a server,
    the plain-HTTP port that redirects)."""
    if not os.access(NGINX, os.X_OK):
        pytest.fail("nginx is missing: scripts/system-deps.sh installs it", pytrace=False)
    db = postgres_server.create_database()
    tls_port, http_port = free_port(), free_port()
    public = f"https://127.0.0.1:{tls_port}"
    env = {**S3_TEST_ENV, "TRACKLET_S3_ENDPOINT_URL": s3_server.endpoint_url,
           "TRACKLET_SECRET_KEY": secrets.token_hex(32), "TRACKLET_PUBLIC_URL": public,
           "TRACKLET_FORWARDED_ALLOW_IPS": "127.0.0.1"}
    bucket = s3_server.create_bucket()
    servers = [start_server(tmp_path / f"server-{n}", env=env, db=db,
                            blobs=f"s3://{bucket}/t", wait=False) for n in "ab"]
    nginx_dir = tmp_path / "nginx"
    nginx_dir.mkdir()
    cert, key = _certificate(nginx_dir)
    ups = "".join(f"    server {s.url.removeprefix('http://')};\n" for s in servers)
    site = (documented_config()
            .replace("    server 127.0.0.1:8080;\n", ups)
            .replace("listen 443 ssl http2;", f"listen 127.0.0.1:{tls_port} ssl http2;")
            .replace("listen 80;", f"listen 127.0.0.1:{http_port};")
            .replace("/etc/letsencrypt/live/tracklet.example.org/fullchain.pem", str(cert))
            .replace("/etc/letsencrypt/live/tracklet.example.org/privkey.pem", str(key)))
    temp = "".join(f"    {d}_temp_path {nginx_dir / d};\n"
                   for d in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    user = "user root;\n" if os.geteuid() == 0 else ""
    (nginx_dir / "nginx.conf").write_text(
        f"{user}daemon off;\nworker_processes 1;\npid {nginx_dir / 'nginx.pid'};\n"
        f"error_log {nginx_dir / 'error.log'} warn;\nevents {{}}\n"
        f"http {{\n    access_log off;\n{temp}{site}}}\n")
    log = (nginx_dir / "nginx.out").open("wb")
    proc = subprocess.Popen([NGINX, "-p", str(nginx_dir), "-c", str(nginx_dir / "nginx.conf")],
                            stdout=log, stderr=subprocess.STDOUT)
    try:
        for s in servers:
            s.wait_ready()
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(public + "/ready", verify=_trust(cert), timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None, (nginx_dir / "nginx.out").read_text()
            assert time.monotonic() < deadline, (nginx_dir / "error.log").read_text()
            time.sleep(0.2)
        yield public, cert, servers[0], http_port
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        log.close()
        for s in servers:
            s.stop()
        postgres_server.drop_database(db)


def test_32_runs_of_a_new_project_at_once_through_nginx(
        fronted: tuple[str, Path, LiveServer, int], tmp_path: Path) -> None:
    url, cert, server, http_port = fronted
    plain = httpx.get(f"http://127.0.0.1:{http_port}/health", follow_redirects=False)
    assert plain.status_code == 301 and plain.headers["location"].startswith("https://")

    def one(i: int) -> None:
        writer = HttpWriter(url, server.key, client=httpx.Client(
            base_url=url, auth=("api", server.key), timeout=60, verify=_trust(cert)))
        writer.create_run("admin", "fronted", f"n{i:02d}")
        writer.log("admin", "fronted", f"n{i:02d}", [{"v": i * 1000 + s} for s in range(ROWS)],
                   batch=40, finish=True)
        writer.client.close()

    with ThreadPoolExecutor(RUNS) as pool:
        list(pool.map(one, range(RUNS)))
    # The server saw https through the proxy: cookies it sets are Secure, HSTS is sent.
    login = httpx.post(url + "/api/v1/auth/login", json={"api_key": server.key},
                       verify=_trust(cert))
    assert login.status_code == 200
    assert "secure" in login.headers["set-cookie"].lower()
    assert "strict-transport-security" in login.headers
    # Read back with wandb.Api() in a process of its own: wandb-core trusts the test CA only
    # through SSL_CERT_FILE at its start, and this worker's wandb-core may be running already.
    env = sdk_environment(server, tmp_path / "api")
    env.update(WANDB_BASE_URL=url, SSL_CERT_FILE=str(cert), REQUESTS_CA_BUNDLE=str(cert))
    script = f"""
import json, wandb
api = wandb.Api(timeout=60)
runs = {{r.id: r for r in api.runs("admin/fronted", per_page=100)}}
out = {{"ids": sorted(runs), "rows": {{}}}}
for i in (0, 17, {RUNS - 1}):
    out["rows"][str(i)] = [r["v"] for r in runs[f"n{{i:02d}}"].scan_history(keys=["v"])]
print("RESULT", json.dumps(out))
"""
    proc = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                          text=True, timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(next(line for line in proc.stdout.splitlines()
                             if line.startswith("RESULT "))[len("RESULT "):])
    assert result["ids"] == [f"n{i:02d}" for i in range(RUNS)]
    for i in (0, 17, RUNS - 1):
        assert result["rows"][str(i)] == [i * 1000 + s for s in range(ROWS)]


SDK_RUNS, SDK_ROWS = 32, 25

#: One training script per process: the real SDK, through nginx over TLS.
SDK_SCRIPT = """
import sys, wandb
i = int(sys.argv[1])
run = wandb.init(project="sdk-burst", id=f"s{i:02d}", name=f"start {i}", config={"i": i})
for s in range(int(sys.argv[2])):
    run.log({"v": i * 1000 + s})
run.summary["last"] = i
run.finish()
"""


def test_32_sdk_processes_start_runs_of_a_new_project_at_once(
        fronted: tuple[str, Path, LiveServer, int], tmp_path: Path) -> None:
    """32 wandb SDK processes, started together, each create a run of a project nobody made
    yet (what a sweep or a multi-node launch does) on two server processes behind nginx."""
    url, cert, server, _ = fronted
    script = tmp_path / "train.py"
    script.write_text(SDK_SCRIPT)
    procs = []
    for i in range(SDK_RUNS):
        work = tmp_path / f"sdk-{i:02d}"
        work.mkdir()
        env = sdk_environment(server, work)
        env.update(WANDB_BASE_URL=url, SSL_CERT_FILE=str(cert), REQUESTS_CA_BUNDLE=str(cert),
                   WANDB_X_DISABLE_STATS="true", WANDB_CONSOLE="off")
        out = (work / "out.log").open("wb")
        command = [sys.executable, str(script), str(i), str(SDK_ROWS)]
        procs.append((subprocess.Popen(command, cwd=work, env=env, stdout=out,
                                       stderr=subprocess.STDOUT), out))
    deadline = time.monotonic() + 600
    failed = []
    for i, (proc, out) in enumerate(procs):
        try:
            code = proc.wait(timeout=max(1.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            code = proc.wait()
        out.close()
        if code != 0:
            failed.append(f"run {i} exited {code}:\n"
                          + (tmp_path / f"sdk-{i:02d}" / "out.log").read_text()[-2000:])
    assert not failed, "\n".join(failed[:3])

    env = sdk_environment(server, tmp_path / "api")
    env.update(WANDB_BASE_URL=url, SSL_CERT_FILE=str(cert), REQUESTS_CA_BUNDLE=str(cert))
    reader = """
import json, wandb
api = wandb.Api(timeout=60)
out = {}
for r in api.runs("admin/sdk-burst", per_page=100):
    out[r.id] = {"state": r.state, "i": r.config.get("i"), "last": r.summary.get("last"),
                 "v": [h["v"] for h in r.scan_history(keys=["v"])]}
print("RESULT", json.dumps(out))
"""
    read = subprocess.run([sys.executable, "-c", reader], env=env, capture_output=True,
                          text=True, timeout=300, cwd=tmp_path)
    assert read.returncode == 0, read.stderr[-3000:]
    result = json.loads(next(line for line in read.stdout.splitlines()
                             if line.startswith("RESULT "))[len("RESULT "):])
    assert sorted(result) == [f"s{i:02d}" for i in range(SDK_RUNS)]
    for i in range(SDK_RUNS):
        run = result[f"s{i:02d}"]
        assert (run["state"], run["i"], run["last"]) == ("finished", i, i), run
        assert run["v"] == [i * 1000 + s for s in range(SDK_ROWS)], f"run {i}: every row once"
    storage = server.storage()
    try:
        with storage.db.read() as conn:
            projects = conn.exec_driver_sql(
                "SELECT count(*) FROM projects WHERE name = 'sdk-burst'").scalar_one()
    finally:
        storage.close()
    assert projects == 1

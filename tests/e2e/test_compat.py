"""What older SDK releases and ``wandb verify`` ask of the server, with the pinned SDK's own
client code: the version range in ``serverInfo``, and the checks ``wandb verify`` runs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from packaging.version import parse

from tests.e2e.conftest import LiveServer, SdkEnv
from tests.e2e.storage_view import opened
from tests.e2e.test_api_history import wait_for_export
from tracklet import __version__
from tracklet.domain import compat

# The document SDK 0.28 and older send at every wandb.init and in `wandb verify`
# (InternalApi.viewer_server_info); a field missing from it failed the whole query.
SDK_028_VIEWER = """
query Viewer{
    viewer { id entity username email flags teams { edges { node { name } } } }
    serverInfo {
        cliVersionInfo
        latestLocalVersionInfo { outOfDate latestVersionString versionOnThisInstanceString }
    }
}
"""


def test_server_info_serves_the_version_fields_older_sdks_ask_for(
        api: Any, capsys: pytest.CaptureFixture[str]) -> None:
    import wandb
    from wandb.sdk.verify import verify

    info = api._service_api.execute_graphql(SDK_028_VIEWER)["serverInfo"]
    assert info["latestLocalVersionInfo"] == {
        "outOfDate": False, "latestVersionString": __version__,
        "versionOnThisInstanceString": __version__}
    versions = info["cliVersionInfo"]
    assert versions == {"min_cli_version": compat.MIN_SDK_VERSION,
                        "max_cli_version": compat.MAX_SDK_VERSION}
    # The SDK sends tables and images by client id and file name from 0.12.14 on.
    assert parse(versions["max_cli_version"]) >= parse("0.12.14")
    # `wandb verify`'s version check passes for the pinned SDK (it crashed on a missing max).
    capsys.readouterr()
    verify.check_wandb_version(api)
    printed = capsys.readouterr().out
    assert "Checking wandb package version" in printed
    assert "not supported" not in printed and "out of date" not in printed
    assert parse(versions["min_cli_version"]) <= parse(wandb.__version__)


def test_file_delete_forgets_the_file_and_refuses_others(api: Any, live_server: LiveServer,
                                                         tmp_path: Path) -> None:
    seed = api.create_run(project="file-deletes")
    path = f"{seed.entity}/{seed.project}/{seed.id}"
    run = api.run(path)
    for name in ("keep.txt", "drop.txt"):
        source = tmp_path / "up" / name
        source.parent.mkdir(exist_ok=True)
        source.write_text(name)
        run.upload_file(str(source), root=str(tmp_path / "up"))
    api.flush()
    doomed = api.run(path).file("drop.txt")
    # Another user may not delete it.
    other_key = "local-" + "fdel" * 11
    with opened(live_server) as storage:
        storage.create_user("filedeleter", key=other_key)
    response = httpx.post(f"{live_server.url}/graphql", auth=("api", other_key), timeout=30,
                          json={"query": DELETE_FILES, "variables": {"files": [doomed.id]}})
    assert response.json()["errors"][0]["message"] == "run not found"  # as if missing
    assert "drop.txt" in {f.name for f in api.run(path).files()}
    doomed.delete()
    doomed.delete()  # a retry answers like the first try
    api.flush()
    assert {f.name for f in api.run(path).files()} == {"keep.txt"}
    bad = httpx.post(f"{live_server.url}/graphql", auth=("api", live_server.key), timeout=30,
                     json={"query": DELETE_FILES, "variables": {"files": ["nonsense"]}})
    assert "invalid File id" in bad.json()["errors"][0]["message"]


DELETE_FILES = ("mutation D($files: [ID!]!) { deleteFiles(input: {files: $files}) "
                "{ success } }")


def test_reports_list_empty_for_a_project(api: Any) -> None:
    seed = api.create_run(project="with-reports")
    assert list(api.reports(f"{seed.entity}/with-reports")) == []


def test_verify_large_post_check_passes(api: Any, sdk: SdkEnv) -> None:
    # `wandb verify` sends a 10 MB `desc` argument to Project.run to test the proxy limit.
    proc = sdk.run("""
        import wandb
        from wandb.sdk.verify import verify
        wandb.login()
        print("RESULT", verify.check_large_post())
    """)
    assert "RESULT True" in proc.stdout, proc.stdout


def test_verify_run_check_passes_and_history_keys_hold_after_compaction(
        api: Any, sdk: SdkEnv, live_server: LiveServer) -> None:
    # `wandb verify`'s run check reads historyKeys' previousValue, also of dotted dict keys.
    proc = sdk.run("""
        import wandb
        from wandb.sdk.verify import verify
        wandb.login()
        ok = verify.check_run(wandb.Api())
        print("RESULT", ok, verify.nice_id("check_run"))
    """)
    assert "RESULT True" in proc.stdout, proc.stdout
    run_id = proc.stdout.split("RESULT True ")[1].split()[0]
    wait_for_export(live_server, "verify", run_id, 11)  # steps 1..11
    keys = api.run(f"admin/verify/{run_id}").history_keys
    assert keys["lastStep"] == 11
    assert keys["keys"]["loss"]["previousValue"] == 0.1
    assert keys["keys"]["dict.val1"]["previousValue"] == 1.0
    assert keys["keys"]["dict.val2"]["previousValue"] == 2


# SDK 0.19 pages an artifact's download URLs through Artifact.files (ArtifactFileURLs) when
# the server does not announce ARTIFACT_COLLECTION_MEMBERSHIP_FILES; the field was missing,
# so every artifact download of that SDK retried for three minutes and failed.
SDK_019_FILE_URLS = """
query ArtifactFileURLs($id: ID!, $cursor: String, $perPage: Int) {
    artifact(id: $id) {
        files(after: $cursor, first: $perPage) {
            pageInfo { hasNextPage endCursor }
            edges { node { name directUrl } }
        }
    }
}
"""


SDK_019_LISTINGS = """
query {
    project(name: "artifact-file-urls", entityName: "admin") {
        artifactTypes {
            edges { cursor node { name artifactSequence(name: "paged") { name }
                                  missing: artifactSequence(name: "nope") { name } } }
        }
        artifactType(name: "dataset") {
            artifactCollections {
                edges { cursor node {
                    name
                    aliases { edges { cursor node { alias } } }
                    artifacts { edges { cursor version
                                        node { versionIndex tags { name tagCategoryName } } } }
                } }
            }
        }
    }
}
"""


def test_artifact_files_page_download_urls_as_sdk_019_asks(sdk: SdkEnv,
                                                           live_server: LiveServer) -> None:
    files = {f"f{i}.txt": f"content {i}\n".encode() for i in range(5)}
    for name, data in files.items():
        (sdk.workdir / name).write_bytes(data)
    logged = sdk.run("""
        import wandb
        run = wandb.init(project="artifact-file-urls")
        art = wandb.Artifact("paged", type="dataset")
        for i in range(5):
            art.add_file(f"f{i}.txt")
        run.log_artifact(art).wait()
        art.tags = ["t1"]
        art.save()
        print("RESULT", art.id)
        run.finish()
    """)
    artifact_id = logged.stdout.split("RESULT ")[1].split()[0]
    got: dict[str, bytes] = {}
    cursor = None
    pages = 0
    while True:
        response = httpx.post(
            f"{live_server.url}/graphql", auth=("api", live_server.key), timeout=30,
            json={"query": SDK_019_FILE_URLS,
                  "variables": {"id": artifact_id, "cursor": cursor, "perPage": 2}})
        page = response.json()["data"]["artifact"]["files"]
        pages += 1
        for edge in page["edges"]:
            got[edge["node"]["name"]] = httpx.get(edge["node"]["directUrl"], timeout=30).content
        if not page["pageInfo"]["hasNextPage"]:
            break
        cursor = page["pageInfo"]["endCursor"]
    assert got == files and pages == 3

    # What else SDK 0.19's artifact operations select: edge cursors, a type's sequence by
    # name, tag categories.
    listing = httpx.post(
        f"{live_server.url}/graphql", auth=("api", live_server.key), timeout=30,
        json={"query": SDK_019_LISTINGS}).json()
    assert "errors" not in listing, listing
    project = listing["data"]["project"]
    (type_edge,) = project["artifactTypes"]["edges"]
    assert type_edge["cursor"] and type_edge["node"] == {
        "name": "dataset", "artifactSequence": {"name": "paged"}, "missing": None}
    (collection_edge,) = project["artifactType"]["artifactCollections"]["edges"]
    assert collection_edge["cursor"]
    collection = collection_edge["node"]
    assert [e["node"]["alias"] for e in collection["aliases"]["edges"]] == ["latest"]
    (version_edge,) = collection["artifacts"]["edges"]
    assert (version_edge["cursor"], version_edge["version"]) == ("0", "v0")
    assert version_edge["node"] == {"versionIndex": 0,
                                    "tags": [{"name": "t1", "tagCategoryName": ""}]}
    # Not a way around access: another user's key finds no artifact.
    other_key = "local-" + "furl" * 11
    with opened(live_server) as storage:
        storage.create_user("fileurlreader", key=other_key)
    response = httpx.post(f"{live_server.url}/graphql", auth=("api", other_key), timeout=30,
                          json={"query": SDK_019_FILE_URLS, "variables": {"id": artifact_id}})
    body = response.json()
    assert not (body.get("data") or {}).get("artifact"), body


# SDK releases before 0.28 run `wandb sync` through their legacy sender, which introspects
# the ServerSettings type and then asks UpsertBucket for serverSettings.serverMessages; a
# missing type crashed that sender before its first upsert, and the sync said "done".
PROBE_SERVER_SETTINGS = """
query ProbeServerSettings {
    ServerSettingsType: __type(name: "ServerSettings") { fields { name } }
}
"""
LEGACY_UPSERT = """
mutation UpsertBucket($name: String, $project: String) {
    upsertBucket(input: {name: $name, modelName: $project}) {
        bucket { name project { name entity { name } } }
        inserted
        serverSettings {
            serverMessages { utfText plainText htmlText messageType messageLevel }
        }
    }
}
"""


def test_upsert_bucket_serves_server_settings_as_legacy_senders_ask(
        live_server: LiveServer) -> None:
    def post(query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        response = httpx.post(f"{live_server.url}/graphql", auth=("api", live_server.key),
                              json={"query": query, "variables": variables or {}}, timeout=30)
        body: dict[str, Any] = response.json()
        assert response.status_code == 200 and "errors" not in body, body
        return body["data"]

    fields = post(PROBE_SERVER_SETTINGS)["ServerSettingsType"]["fields"]
    assert {"name": "serverMessages"} in fields
    upserted = post(LEGACY_UPSERT, {"name": "legacy1", "project": "legacy-sync"})
    assert upserted["upsertBucket"] == {
        "bucket": {"name": "legacy1",
                   "project": {"name": "legacy-sync", "entity": {"name": "admin"}}},
        "inserted": True, "serverSettings": {"serverMessages": []}}

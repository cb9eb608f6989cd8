"""The W&B Registry through the real SDK against a live server: an organization's admin
creates registries (``api.create_registry``), links a run's artifact into one
(``run.link_artifact(art, "wandb-registry-<name>/<collection>")``); members of the
organization list and read organization registries (``api.registries()``,
``api.registry``, ``api.artifact("<org>/wandb-registry-<name>/<collection>:v0")``) but not
restricted ones, cannot create or link; outsiders see nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import LiveServer, SdkEnv, make_api
from tracklet.server.graphql.ids import encode_id
from tracklet.storage import teams


def _api_as(server: LiveServer, key: str, workdir: Path, monkeypatch: pytest.MonkeyPatch
            ) -> Any:
    import wandb

    make_api(server, workdir, monkeypatch)
    return wandb.Api(api_key=key, overrides={"base_url": server.url}, timeout=60)


def test_registries_through_the_sdk(live_server: LiveServer, sdk: SdkEnv, tmp_path: Path,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    storage = live_server.storage()
    try:
        made = {n: storage.create_user(n) for n in ("r-ann", "r-bob", "r-eve")}
        keys = {n: key for n, (_user, key) in made.items()}
        ids = {n: encode_id("User", user.id) for n, (user, _key) in made.items()}
        teams.create_org(storage, "r-acme")
        teams.set_org_member(storage, "r-acme", "r-ann", teams.parse_role("admin"))
        teams.set_org_member(storage, "r-acme", "r-bob", teams.parse_role("member"))
    finally:
        storage.close()
    ann = _api_as(live_server, keys["r-ann"], tmp_path / "ann", monkeypatch)
    created = ann.create_registry("models", visibility="organization",
                                  organization="r-acme", description="production models")
    assert (created.name, created.organization, created.visibility) == (
        "models", "r-acme", "organization")
    ann.create_registry("secret", visibility="restricted", organization="r-acme")
    with pytest.raises(ValueError, match="already exists"):
        ann.create_registry("models", visibility="organization", organization="r-acme")

    sdk.run("""
        import wandb
        run = wandb.init(entity="r-ann", project="train", id="regrun01")
        with open("weights.bin", "wb") as f:
            f.write(b"registry-bytes" * 100)
        art = wandb.Artifact("weights", type="model", metadata={"epochs": 5, "arch": {
            "depth": 50}})
        art.add_file("weights.bin")
        run.log_artifact(art)
        art.wait()
        run.link_artifact(art, "wandb-registry-models/resnet", aliases=["prod"])
        run.link_artifact(art, "wandb-registry-secret/hidden")
        run.finish()
    """, extra_env={"WANDB_API_KEY": keys["r-ann"]}, timeout=300)

    # The org admin sees both registries; a member only the organization one.
    assert sorted(r.name for r in ann.registries()) == ["models", "secret"]
    bob = _api_as(live_server, keys["r-bob"], tmp_path / "bob", monkeypatch)
    assert [r.name for r in bob.registries()] == ["models"]
    assert [r.name for r in bob.registries(filter={"name": {"$regex": "mod"}})] == ["models"]
    assert [r.name for r in bob.registries(filter={"name": "secret"})] == []
    assert [c.name for c in bob.registries().collections()] == ["resnet"]
    assert sorted(c.name for c in ann.registries().collections()) == ["hidden", "resnet"]
    versions = list(bob.registries().versions())
    assert [(v.collection.name, v.version) for v in versions] == [("resnet", "v0")]

    def found(artifact_filter: dict[str, Any]) -> list[str]:
        return [v.version for v in bob.registries().versions(filter=artifact_filter)]

    # Version filters: the SDK's basic search fields, operators and combinations.
    assert found({"alias": "prod"}) == found({"version": "v0"}) == ["v0"]
    assert found({"alias": "staging"}) == found({"alias": {"$ne": "prod"}}) == []
    assert found({"metadata.epochs": {"$gte": 5}}) == ["v0"]
    assert found({"metadata.arch.depth": 50}) == ["v0"]
    assert found({"metadata.epochs": {"$lt": 5}}) == []
    assert found({"$and": [{"created_at": {"$gt": "2000-01-01"}},
                           {"alias": {"$in": ["prod", "x"]}}]}) == ["v0"]
    assert found({"$or": [{"tag": "nope"}, {"version": "v9"}]}) == []
    with pytest.raises(Exception, match="unsupported filter operator"):
        found({"alias": {"$near": 1}})
    registry = bob.registry("models")
    assert registry.description == "production models"
    assert registry.visibility == "organization"
    fetched = bob.artifact("r-acme/wandb-registry-models/resnet:v0")
    assert fetched.type == "model"
    assert "prod" in fetched.aliases
    path = Path(fetched.download(root=str(tmp_path / "bob-dl")))
    assert (path / "weights.bin").read_bytes() == b"registry-bytes" * 100
    assert bob.artifact("r-acme/wandb-registry-models/resnet:prod").digest == fetched.digest
    with pytest.raises(Exception):  # noqa: B017 - restricted: as if it did not exist
        bob.artifact("r-acme/wandb-registry-secret/hidden:v0")
    with pytest.raises(ValueError, match="Failed to load registry 'secret'"):
        bob.registry("secret")
    assert ann.artifact("r-acme/wandb-registry-secret/hidden:v0").digest == fetched.digest
    # Members neither create registries nor link into them.
    with pytest.raises(ValueError, match="Failed to create"):
        bob.create_registry("mine", visibility="organization", organization="r-acme")
    refused = sdk.run("""
        import wandb
        run = wandb.init(entity="r-bob", project="train", id="regrun02")
        art = wandb.Artifact("bobs", type="model")
        with art.new_file("x.txt") as f:
            f.write("bob")
        run.log_artifact(art)
        art.wait()
        run.link_artifact(art, "wandb-registry-models/resnet")
        run.finish()
    """, expect_rc=None, extra_env={"WANDB_API_KEY": keys["r-bob"]}, timeout=300)
    assert [v.version for v in bob.artifact_collection(
        "model", "r-acme/wandb-registry-models/resnet").artifacts()] == ["v0"], refused.stderr

    # An outsider learns nothing.
    eve = _api_as(live_server, keys["r-eve"], tmp_path / "eve", monkeypatch)
    with pytest.raises(ValueError):
        list(eve.registries())
    with pytest.raises(Exception, match="Organization 'r-acme' not found"):
        eve.registry("models", organization="r-acme")
    with pytest.raises(Exception):  # noqa: B017
        eve.artifact("r-acme/wandb-registry-models/resnet:v0")

    # Registry members: the org admin lets bob into the restricted registry, changes his
    # role, and takes him out again; bob, a member there, manages no one.
    secret = ann.registry("secret", organization="r-acme")
    secret.add_members(ids["r-bob"])
    assert [(m.user.username, m.role) for m in secret.user_members()] == [("r-bob", "member")]
    assert sorted(r.name for r in bob.registries()) == ["models", "secret"]
    assert bob.artifact("r-acme/wandb-registry-secret/hidden:v0").digest == fetched.digest
    with pytest.raises(Exception, match="project not found"):  # as if it did not exist
        bob.registry("secret").add_members(ids["r-eve"])
    secret.update_member(ids["r-bob"], "viewer")
    assert [m.role for m in secret.members()] == ["viewer"]
    assert secret.team_members() == []
    secret.remove_members(ids["r-bob"])
    assert secret.members() == []
    assert [r.name for r in bob.registries()] == ["models"]
    with pytest.raises(Exception):  # noqa: B017 - out again: as if it did not exist
        bob.artifact("r-acme/wandb-registry-secret/hidden:v0")

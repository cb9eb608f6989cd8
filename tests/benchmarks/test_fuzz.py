"""A CI-sized run of the fuzz campaign (``python -m benchmarks.fuzz`` runs the long one) on
each metadata backend: no 5xx, no leak of the victim's secret, the victim's run unchanged."""

from __future__ import annotations

from typing import Any
from unittest import mock

from benchmarks.fuzz import ATTACKER, VICTIM, campaign, run_campaign, snapshot

from tracklet.config import Settings
from tracklet.server import access, signing


def test_a_short_campaign_finds_nothing(storage_settings: Settings) -> None:
    with campaign(storage_settings) as c:
        before = snapshot(c.storage)
        run_campaign(c, cases=60, seed_value=1)
        assert c.failures == []
        assert snapshot(c.storage) == before
        assert sum(c.counts.values()) >= 60
        # Refusals and accepted cases both happened: the campaign reaches past the parser.
        statuses = {k.split()[1] for k in c.counts}
        assert "200" in statuses and statuses & {"400", "404"}


def test_the_checks_can_fail(storage_settings: Settings) -> None:
    with campaign(storage_settings) as c:
        before = snapshot(c.storage)
        c.send("POST", "/graphql", who=VICTIM, json={
            "query": "mutation($i: UpsertBucketInput!) { upsertBucket(input: $i) { bucket "
                     "{ id } } }",
            "variables": {"i": {"entityName": VICTIM, "modelName": "p", "name": "r1",
                                "notes": "changed"}}})
        assert snapshot(c.storage) != before
        # An answer carrying the victim's secret to the attacker is reported: here the
        # "attacker" holds the victim's key, so the secret comes back.
        c.keys[ATTACKER] = c.keys[VICTIM]
        c.send("POST", "/graphql", json={"query": """query {
            project(entityName: "fz-victim", name: "p") { run(name: "r1") { config } } }"""})
        assert any("leaked" in f for f in c.failures)


def test_rest_routes_and_signed_urls_are_fuzzed(storage_settings: Settings) -> None:
    with campaign(storage_settings) as c:
        before = snapshot(c.storage)
        run_campaign(c, cases=100, seed_value=2, kinds=["rest", "signed_url"])
        assert c.failures == []
        assert snapshot(c.storage) == before
        labels = {k.rsplit(" ", 1)[0] for k in c.counts}
        assert len({label for label in labels if label.startswith("signed ")}) >= 5
        assert len({label for label in labels if label.startswith("rest ")}) >= 10


def test_signed_url_checks_can_fail(storage_settings: Settings) -> None:
    # A server that honoured expired tokens: the expired-token case reports it.
    def lenient(secret: bytes, token: str, kind: str) -> dict[str, Any]:
        with mock.patch.object(signing.time, "time", lambda: 0.0):
            return signing.verify(secret, token, kind)

    with campaign(storage_settings) as c, mock.patch.object(access, "verify", lenient):
        run_campaign(c, cases=40, seed_value=5, kinds=["signed_url"])
    assert any("expired token: answered 200" in f for f in c.failures), c.failures


def test_schemathesis_cases_over_the_openapi_description(storage_settings: Settings) -> None:
    with campaign(storage_settings) as c:
        before = snapshot(c.storage)
        run_campaign(c, cases=60, seed_value=3, kinds=["openapi"])
        assert c.failures == []
        assert snapshot(c.storage) == before
        operations = {k.rsplit(" ", 1)[0] for k in c.counts if k.startswith("openapi ")}
        assert len(operations) >= 15

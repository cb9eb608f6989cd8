"""A CI-sized run of the fuzz campaign (``python -m benchmarks.fuzz`` runs the long one) on
each metadata backend: no 5xx, no leak of the victim's secret, the victim's run unchanged."""

from __future__ import annotations

from benchmarks.fuzz import ATTACKER, VICTIM, campaign, run_campaign, snapshot

from tracklet.config import Settings


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

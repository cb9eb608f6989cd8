"""Run history reads: ``history``, ``sampledHistory``, ``historyKeys``, ``parquetHistory``,
``events``. Conventions (PROTOCOL §2.7): ``history(minStep, maxStep)`` treats ``maxStep``
as exclusive, a ``sampledHistory`` spec's ``maxStep`` is inclusive."""

from __future__ import annotations

from typing import Any

import orjson
from ariadne import ObjectType

from tracklet.domain.policy import Action, require
from tracklet.domain.records import Run
from tracklet.errors import InvalidInput
from tracklet.server.graphql.context import GraphQLContext, Info
from tracklet.storage.history.jsonline import loads_object
from tracklet.storage.history.read.keys import history_keys
from tracklet.storage.history.read.pages import (
    first_rows,
    history_page,
    sampled_events,
    sampled_records,
)
from tracklet.storage.history.read.tiers import open_history
from tracklet.storage.history.rows import json_safe

run_type = ObjectType("Run")

DEFAULT_SAMPLES = 500
# liveData only tells the client where un-exported rows start; the SDK reads its minimum.
LIVE_DATA_LIMIT = 10_000


def _ctx(info: Info, run: Run) -> GraphQLContext:
    ctx = info.context
    assert isinstance(ctx, GraphQLContext)
    require(ctx.user, Action.READ, run.entity, run.project)
    return ctx


def _samples(value: Any, default: int = DEFAULT_SAMPLES) -> int:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidInput("samples must be a non-negative integer")
    return value


def _step(value: Any, name: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(f"{name} must be an integer")
    return value


@run_type.field("history")
def resolve_history(run: Run, info: Info, samples: int | None = None,
                    min_step: int | None = None, max_step: int | None = None) -> list[str]:
    ctx = _ctx(info, run)
    n = _samples(samples)
    lo, hi = _step(min_step, "minStep"), _step(max_step, "maxStep")
    with open_history(ctx.storage, run.id) as view:
        return history_page(view, lo, hi, n)


def _spec(text: Any) -> tuple[list[str], int, int | None, int | None]:
    spec = loads_object(text) if isinstance(text, str) else text
    if not isinstance(spec, dict):
        raise InvalidInput("each sampledHistory spec must be a JSON object with 'keys'")
    if not spec:
        # The sweep agent and `wandb sweep --stop` send "{}": no keys, no rows.
        return [], 0, None, None
    keys = spec.get("keys")
    if not isinstance(keys, list) or not keys or not all(isinstance(k, str) for k in keys):
        raise InvalidInput("sampledHistory spec 'keys' must be a non-empty list of strings")
    samples = _samples(spec.get("samples"))
    lo = _step(spec.get("minStep"), "minStep")
    hi = _step(spec.get("maxStep"), "maxStep")
    return list(dict.fromkeys(keys)), samples, lo, None if hi is None else hi + 1


@run_type.field("sampledHistory")
def resolve_sampled_history(run: Run, info: Info,
                            specs: list[Any] | None = None) -> list[list[dict[str, Any]]]:
    ctx = _ctx(info, run)
    parsed = [_spec(s) for s in specs or []]
    with open_history(ctx.storage, run.id) as view:
        return [sampled_records(view, keys, lo, hi, samples) if keys else []
                for keys, samples, lo, hi in parsed]


@run_type.field("historyKeys")
def resolve_history_keys(run: Run, info: Info) -> dict[str, Any]:
    ctx = _ctx(info, run)
    with open_history(ctx.storage, run.id) as view:
        return json_safe(history_keys(view))  # type: ignore[no-any-return]


@run_type.field("parquetHistory")
def resolve_parquet_history(run: Run, info: Info,
                            live_keys: list[str] | None = None) -> dict[str, Any]:
    """No Parquet files, and the whole history as live rows (``liveData``, up to
    :data:`LIVE_DATA_LIMIT` of them, projected to ``liveKeys``).

    wandb's reader (wandb-core, behind ``scan_history`` since 0.2x) reads every file listed
    here in full for each page: with keys it returns every row of the file in the page's
    range, a key not logged at that step as ``None`` (phantom rows where W&B's contract is
    "only rows holding every requested key"), and without keys every column of every row.
    Told the history is live from its first step, it reads every page through HistoryPage
    or SampledHistoryPage instead, which answer exactly from either tier. The cost:
    ``download_history_exports`` finds no file to download (it reports live data), and
    pages are read one request each (see benchmarks/README.md).
    """
    ctx = _ctx(info, run)
    keys = list(dict.fromkeys(["_step", *(live_keys or [])]))
    with open_history(ctx.storage, run.id) as view:
        return {"parquetUrls": [], "liveData": first_rows(view, keys, LIVE_DATA_LIMIT)}


@run_type.field("historyTail")
def resolve_history_tail(run: Run, info: Info) -> str:
    ctx = _ctx(info, run)
    with open_history(ctx.storage, run.id) as view:
        return orjson.dumps(view.tail(10)).decode()


@run_type.field("events")
def resolve_events(run: Run, info: Info, samples: int | None = None) -> list[str]:
    ctx = _ctx(info, run)
    return sampled_events(ctx.storage, run.id, _samples(samples))


BINDABLES = [run_type]

"""Run history reads: ``history``, ``sampledHistory``, ``historyKeys``, ``parquetHistory``,
``events``. Conventions (PROTOCOL §2.7): ``history(minStep, maxStep)`` treats ``maxStep``
as exclusive, a ``sampledHistory`` spec's ``maxStep`` is inclusive."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from itertools import islice
from typing import Any

import orjson
from ariadne import ObjectType

from tracklet.domain.access import require_read
from tracklet.domain.records import Run
from tracklet.errors import InvalidInput
from tracklet.server.graphql.context import GraphQLContext, Info
from tracklet.storage.history import live
from tracklet.storage.history.jsonline import loads_object
from tracklet.storage.history.keys import history_keys
from tracklet.storage.history.projection import MISSING, project_lines
from tracklet.storage.history.rows import Row, json_safe
from tracklet.storage.history.sampling import project, sample_rows
from tracklet.storage.history.tiers import RunHistory, open_history

run_type = ObjectType("Run")

DEFAULT_SAMPLES = 500
# liveData only tells the client where un-exported rows start; the SDK reads its minimum.
LIVE_DATA_LIMIT = 10_000


def _ctx(info: Info, run: Run) -> GraphQLContext:
    ctx = info.context
    assert isinstance(ctx, GraphQLContext)
    require_read(ctx.user, run.entity)
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
    if n == 0 or (lo is not None and hi is not None and hi <= lo):
        return []
    with open_history(ctx.storage, run.id) as view:
        page = _whole_live_page(view, lo, hi, n)
        if page is not None:
            return page
        count = view.count(lo, hi)
        if count is not None and count <= n:
            # Every row fits (always so for the SDK's HistoryPage): no need to look inside.
            texts = view.exported_texts(lo, hi)
            if texts is not None:
                return texts
            if not view.exports:
                return list(view.live_texts(lo, hi))
            return [row.text for row in view.rows(lo, hi)]
        return [row.text for row in sample_rows(lambda: view.rows(lo, hi), n,
                                                fetch=view.rows_at)]


def _whole_live_page(view: RunHistory, lo: int | None, hi: int | None,
                     n: int) -> list[str] | None:
    """Every row text in ``[lo, hi)`` when only live rows can be there (a live run, or the
    tail of a checkpointed one) and they are at most ``n`` (the SDK's pages: a step range
    the page's size); read up to one row more than fits instead of counting first. None
    when that does not apply."""
    if lo is None or hi is None or hi - lo > n:
        return None
    top = view.exported_max_step
    if top is not None and lo <= top:
        return None
    page = list(islice(view.live_texts(lo, hi), n + 1))
    return page if len(page) <= n else None


def _spec(text: Any) -> tuple[list[str], int, int | None, int | None]:
    spec = loads_object(text) if isinstance(text, str) else text
    if not isinstance(spec, dict):
        raise InvalidInput("each sampledHistory spec must be a JSON object with 'keys'")
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
    out: list[list[dict[str, Any]]] = []
    with open_history(ctx.storage, run.id) as view:
        for keys, samples, lo, hi in parsed:
            if samples == 0 or (lo is not None and hi is not None and hi <= lo):
                out.append([])
                continue
            page = _whole_live_page(view, lo, hi, samples)
            if page is not None:
                out.append(_live_records(page, keys))
                continue
            if view.exports or lo is None or hi is None or hi - lo > samples:
                count = view.count(lo, hi)
                if count is not None and count <= samples:
                    # Every row fits the page: nothing to choose.
                    records = view.exported_records(lo, hi, keys)  # column-wise
                    if records is not None:
                        out.append(records)
                        continue
                    out.append(_records((r.data for r in view.rows(lo, hi, keys)), keys))
                    continue
            rows = sample_rows(lambda k=keys, a=lo, b=hi: view.rows(a, b, keys=k),  # type: ignore[misc]
                               samples, keys,
                               fetch=lambda steps, k=keys: view.rows_at(steps, k))  # type: ignore[misc]
            out.append([json_safe(project(r, keys)) for r in rows])
    return out


def _live_records(texts: Sequence[str], keys: list[str]) -> list[dict[str, Any]]:
    """:func:`_records` of live row texts, parsed as ``Row.data`` parses them (text that is
    not a JSON object holds no key), decoding only ``keys``. Only a row read by the lenient
    path may hold NaN or Infinity, so only those need :func:`json_safe`."""
    got = project_lines(texts, keys)
    columns, missing = got.columns, MISSING
    if len(keys) == 2 and not got.slow:
        k0, k1 = keys
        return [{k0: a, k1: b} for a, b in zip(*columns, strict=True)
                if a is not missing and b is not missing]
    out: list[dict[str, Any]] = []
    special = set(got.slow)
    for i, values in enumerate(zip(*columns, strict=True)):
        if missing in values:
            continue
        record = dict(zip(keys, values, strict=True))
        out.append(json_safe(record) if i in special else record)
    return out


def _records(rows: Iterable[dict[str, Any]], keys: list[str]) -> list[dict[str, Any]]:
    """Every row holding all ``keys``, projected to them, strict-JSON-ready: what
    ``json_safe(project(row, keys))`` gives, walking only records that may need it (a
    non-finite float, or a container that may hold one)."""
    out: list[dict[str, Any]] = []
    pair = len(keys) == 2
    k0, k1 = (keys[0], keys[1]) if pair else ("", "")
    for data in rows:
        try:
            record = {k0: data[k0], k1: data[k1]} if pair else {k: data[k] for k in keys}
        except KeyError:
            continue
        for value in record.values():
            kind = type(value)
            if (kind is float and value - value != 0) or kind is dict or kind is list:
                record = json_safe(record)
                break
        out.append(record)
    return out


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
        if keys == ["_step"] and not view.exports:
            # What the SDK asks of a live run: steps only, no row text read.
            steps = live.first_steps(view.conn, run.id, LIVE_DATA_LIMIT)
            return {"parquetUrls": [], "liveData": [{"_step": s} for s in steps]}
        rows = islice(view.rows(keys=keys), LIVE_DATA_LIMIT)
        if keys == ["_step"]:
            live_data = [{"_step": r.step} for r in rows]
        else:
            live_data = [json_safe({**project(r, keys), "_step": r.step}) for r in rows]
        return {"parquetUrls": [], "liveData": live_data}


@run_type.field("historyTail")
def resolve_history_tail(run: Run, info: Info) -> str:
    ctx = _ctx(info, run)
    with open_history(ctx.storage, run.id) as view:
        return orjson.dumps(view.tail(10)).decode()


@run_type.field("events")
def resolve_events(run: Run, info: Info, samples: int | None = None) -> list[str]:
    ctx = _ctx(info, run)
    n = _samples(samples)
    with ctx.storage.db.read() as conn:
        lines = live.event_lines(conn, run.id)

    def rows() -> Iterator[Row]:
        return (Row(i, text=line) for i, line in enumerate(lines))

    return [row.text for row in sample_rows(rows, n)] if n else []


BINDABLES = [run_type]

"""What the GraphQL history fields answer, read the cheapest way each tier allows.

``history`` pages (row texts), ``sampledHistory`` (rows holding every requested key,
projected to them), ``parquetHistory``'s first rows and sampled ``events``. Step ranges are
``[min_step, max_step)``. These are hot: the SDK pages a history 1,000 steps a request, so
each answer picks, from what the view already knows, the read that touches least:

- a page of only live rows (a live run, or the tail of a checkpointed one) no larger than
  the step range is read directly, up to one row more than fits, without counting first;
- when every row of the range fits, nothing is sampled: exported rows are built
  column-wise from Parquet where the columns allow it, else rows are read in step order;
- else rows are sampled (:func:`.sampling.sample_rows`), keeping every key's extremes, and
  the chosen rows are fetched by step.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from itertools import islice
from typing import TYPE_CHECKING, Any

from tracklet.storage.history.live.projection import MISSING, project_lines
from tracklet.storage.history.live.read import event_lines, first_steps
from tracklet.storage.history.read.sampling import project, sample_rows
from tracklet.storage.history.read.tiers import RunHistory
from tracklet.storage.history.rows import Row, json_safe

if TYPE_CHECKING:
    from tracklet.storage.facade import Storage


def _empty(min_step: int | None, max_step: int | None, samples: int) -> bool:
    return samples == 0 or (min_step is not None and max_step is not None
                            and max_step <= min_step)


def history_page(view: RunHistory, min_step: int | None, max_step: int | None,
                 samples: int) -> list[str]:
    """At most ``samples`` rows of ``[min_step, max_step)`` (plus every key's extremes
    when sampling) as JSON text, in step order: ``Run.history``."""
    if _empty(min_step, max_step, samples):
        return []
    page = _whole_live_page(view, min_step, max_step, samples)
    if page is not None:
        return page
    count = view.count(min_step, max_step)
    if count is not None and count <= samples:
        # Every row fits (always so for the SDK's HistoryPage): no need to look inside.
        texts = view.exported_texts(min_step, max_step)
        if texts is not None:
            return texts
        if not view.exports:
            return list(view.live_texts(min_step, max_step))
        return [row.text for row in view.rows(min_step, max_step)]
    return [row.text for row in sample_rows(lambda: view.rows(min_step, max_step), samples,
                                            fetch=view.rows_at)]


def sampled_records(view: RunHistory, keys: list[str], min_step: int | None,
                    max_step: int | None, samples: int) -> list[dict[str, Any]]:
    """At most ``samples`` rows of ``[min_step, max_step)`` holding every one of ``keys``
    (distinct), projected to them and strict-JSON-ready (plus every key's extremes when
    sampling), in step order: one spec of ``Run.sampledHistory``."""
    if _empty(min_step, max_step, samples):
        return []
    page = _whole_live_page(view, min_step, max_step, samples)
    if page is not None:
        return _live_records(page, keys)
    if (view.exports or min_step is None or max_step is None
            or max_step - min_step > samples):
        count = view.count(min_step, max_step)
        if count is not None and count <= samples:
            # Every row fits the page: nothing to choose.
            records = view.exported_records(min_step, max_step, keys)  # column-wise
            if records is not None:
                return records
            return _records((r.data for r in view.rows(min_step, max_step, keys)), keys)
    rows = sample_rows(lambda: view.rows(min_step, max_step, keys=keys), samples, keys,
                       fetch=lambda steps: view.rows_at(steps, keys))
    return [json_safe(project(r, keys)) for r in rows]


def first_rows(view: RunHistory, keys: list[str], limit: int) -> list[dict[str, Any]]:
    """The first ``limit`` rows in step order projected to ``keys`` (distinct, ``_step``
    among them; each row holds ``_step``), strict-JSON-ready: ``parquetHistory``'s
    ``liveData``."""
    if keys == ["_step"] and not view.exports:
        # What the SDK asks of a live run: steps only, no row text read.
        return [{"_step": s} for s in first_steps(view.conn, view.run_id, limit)]
    rows = islice(view.rows(keys=keys), limit)
    if keys == ["_step"]:
        return [{"_step": r.step} for r in rows]
    return [json_safe({**project(r, keys), "_step": r.step}) for r in rows]


def sampled_events(storage: Storage, run_id: int, samples: int) -> list[str]:
    """At most ``samples`` system-metric lines of the run (plus every key's extremes when
    sampling), in order: ``Run.events``."""
    if not samples:
        return []
    with storage.db.read() as conn:
        lines = event_lines(conn, run_id)

    def rows() -> Iterator[Row]:
        return (Row(i, text=line) for i, line in enumerate(lines))

    return [row.text for row in sample_rows(rows, samples)]


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

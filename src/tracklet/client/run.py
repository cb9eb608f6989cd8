"""``tracklet.init`` and the Run it returns: the user-facing side of the light client.

``log()`` stamps a row and queues it; the run's :class:`Uploader` thread journals and sends
it. Nothing the user calls during training waits for the network.
"""

from __future__ import annotations

import atexit
import json
import secrets
import shutil
import string
import sys
import threading
import time
import warnings
from collections.abc import Iterator, Mapping, MutableMapping
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

from tracklet.client import artifacts as art
from tracklet.client import journal as jr
from tracklet.client.console import Capture
from tracklet.client.credentials import resolve
from tracklet.client.locking import RunLock
from tracklet.client.sender import Sender
from tracklet.client.uploader import (
    ALERT,
    ARTIFACT,
    CONFIG,
    CONSOLE,
    FILE,
    FINISH,
    HISTORY,
    SUMMARY,
    SummaryState,
    Uploader,
)
from tracklet.client.values import _PLAIN, snapshot
from tracklet.client.wire import Connection, WireError

Mode = Literal["online", "offline", "disabled"]
_ID_ALPHABET = string.ascii_lowercase + string.digits
_PLAIN_TYPES = frozenset(_PLAIN)
#: The severities of ``run.alert`` (wandb.AlertLevel's values).
ALERT_LEVELS = ("INFO", "WARN", "ERROR")

#: Seconds ``finish()`` waits for the server by default before leaving the rest to
#: ``tracklet sync``.
FINISH_TIMEOUT = 60.0


class RunError(RuntimeError):
    """A run cannot be started or used as asked (e.g. ``resume="must"`` of an unknown run)."""


class Config(MutableMapping[str, Any]):
    """The run's config; every change is sent to the server (the whole config replaces the
    stored one, as the SDK does)."""

    def __init__(self, run: Run, initial: Mapping[str, Any]) -> None:
        self._run = run
        self._data = dict(initial)

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.update({key: value})

    def __delitem__(self, key: str) -> None:
        raise TypeError("config keys cannot be deleted")

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def update(self, *args: Any, **kwargs: Any) -> None:
        """Set several keys at once (one upsert)."""
        patch = dict(*args, **kwargs)
        self._data.update(patch)
        self._run._put(CONFIG, patch)

    def as_dict(self) -> dict[str, Any]:
        """A copy of the config."""
        return dict(self._data)


class Summary(MutableMapping[str, Any]):
    """The run's summary: the last logged value of every key unless set here explicitly."""

    def __init__(self, run: Run, state: SummaryState) -> None:
        self._run = run
        self._state = state

    def _merged(self) -> dict[str, Any]:
        # The uploader thread updates these dicts; a copy racing with it is retried.
        for _ in range(100):
            try:
                return {**self._state.last, **self._state.explicit}
            except RuntimeError:
                continue
        return {**self._state.last, **self._state.explicit}

    def __getitem__(self, key: str) -> Any:
        return self._merged()[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.update({key: value})

    def __delitem__(self, key: str) -> None:
        raise TypeError("summary keys cannot be deleted")

    def __iter__(self) -> Iterator[str]:
        return iter(self._merged())

    def __len__(self) -> int:
        return len(self._merged())

    def update(self, *args: Any, **kwargs: Any) -> None:
        """Set several summary keys at once."""
        self._run._put(SUMMARY, dict(*args, **kwargs))


class Run:
    """One run. Use it as a context manager, or call :meth:`finish`; an exception inside
    ``with`` ends it as failed (exit code 1), and a process exiting without ``finish()``
    ends it as its exit says (1 after an uncaught exception, else 0)."""

    def __init__(self, *, run_id: str, project: str, entity: str | None, name: str | None,
                 group: str | None, tags: tuple[str, ...], notes: str | None,
                 job_type: str | None, mode: Mode, run_dir: Path | None,
                 config: Mapping[str, Any], start_step: int = 0,
                 summary_state: SummaryState | None = None) -> None:
        self.id = run_id
        self.project = project
        self.entity = entity
        self.name = name
        self.group = group
        self.tags = tags
        self.notes = notes
        self.job_type = job_type
        self.mode = mode
        self.dir = run_dir
        self._summary_state = summary_state or SummaryState()
        self.config = Config(self, config)
        self.summary = Summary(self, self._summary_state)
        self._step = start_step
        self._pending: dict[str, Any] = {}
        self._pending_step: int | None = None
        self._start = time.time()
        self._finished = False
        self._uploader: Uploader | None = None
        self._lock: RunLock | None = None
        self._base_url: str | None = None
        self._capture: Capture | None = None

    @property
    def step(self) -> int:
        """The step the next committed row gets."""
        return self._step

    @property
    def url(self) -> str | None:
        """The run's page on the server, once the server has it (None offline)."""
        uploader = self._uploader
        sender = uploader.sender if uploader is not None else None
        if sender is None or sender.address is None or self._base_url is None:
            return None
        a = sender.address
        return f"{self._base_url}/{a.entity}/{a.project}/runs/{a.name}"

    def _put(self, kind: str, payload: Any) -> None:
        if self._finished:
            raise RunError(f"run {self.id} is finished")
        if self._uploader is not None:
            self._uploader.put(kind, payload)

    def log(self, data: Mapping[str, Any], step: int | None = None,
            commit: bool | None = None) -> None:
        """Add ``data`` to the current row and, unless ``commit=False``, commit the row.

        With ``step=`` the row is that step; a row for a step is committed when a later
        step is logged (or with ``commit=True``), so several calls can fill one step. A
        step below the current one is ignored with a warning, as in wandb. Arrays and
        tensors are copied now and logged as a histogram plus statistics.
        """
        if self._finished:
            raise RunError(f"run {self.id} is finished")
        if step is not None:
            if step < self._step:
                warnings.warn(f"tracklet: step {step} < current step {self._step}; "
                              "data ignored", stacklevel=2)
                return
            if step > self._step:
                if self._pending:
                    self._commit()
                self._step = step
            if commit is None:
                commit = False
        pending = self._pending
        for key, value in data.items():
            if type(value) in _PLAIN_TYPES:
                pending[key] = value
            else:
                pending.update(snapshot({key: value}))
        if commit is not False:
            self._commit()

    def _commit(self) -> None:
        row = self._pending
        self._pending = {}
        now = time.time()
        row["_step"] = self._step
        row["_runtime"] = now - self._start
        row["_timestamp"] = now
        self._step += 1
        if self._uploader is not None:
            self._uploader.put(HISTORY, row)

    def save(self, path: str | Path, base_path: str | Path | None = None) -> str:
        """Upload the file at ``path`` with the run (copied now, sent in the background),
        named relative to ``base_path`` (default: its own folder). Returns the name."""
        source = Path(path)
        name = (source.resolve().relative_to(Path(base_path).resolve()).as_posix()
                if base_path is not None else source.name)
        return self.save_as(source, name)

    def save_as(self, path: str | Path, name: str) -> str:
        """Upload the file at ``path`` as the run file ``name`` (a relative slash path)."""
        parts = name.split("/")
        if not name or name.startswith("/") or any(p in ("", ".", "..") for p in parts):
            raise ValueError(f"run file name {name!r} must be a relative path")
        if self._finished:
            raise RunError(f"run {self.id} is finished")
        if self.dir is None:
            return name
        target = self.dir / "files" / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
        self._put(FILE, name)
        return name

    def alert(self, title: str, text: str, level: Any = "INFO",
              wait_duration: float | timedelta | None = None) -> None:
        """Raise an alert on the run (stored by the server, shown with the run and sent to
        its alert destinations). ``level`` is ``"INFO"``, ``"WARN"`` or ``"ERROR"`` (or a
        ``wandb.AlertLevel``); the server drops an alert whose title it received less than
        ``wait_duration`` (seconds or a timedelta; default one minute) ago. Sent in the
        background online; offline, journaled and sent by ``tracklet sync``."""
        severity = str(getattr(level, "value", level)).upper()
        if severity not in ALERT_LEVELS:
            raise ValueError(f"alert level must be one of {', '.join(ALERT_LEVELS)}, "
                             f"not {level!r}")
        if not isinstance(title, str) or not title or not isinstance(text, str):
            raise ValueError("an alert needs a non-empty title and a text")
        if isinstance(wait_duration, timedelta):
            wait_duration = wait_duration.total_seconds()
        wait = 60.0 if wait_duration is None else float(wait_duration)
        if not 0 <= wait < 1e12:
            raise ValueError(f"wait_duration must be a non-negative number of seconds, "
                             f"not {wait_duration!r}")
        self._put(ALERT, {"title": title, "text": text, "severity": severity,
                          "wait_ms": int(wait * 1000)})

    def log_artifact(self, path: str | Path, name: str | None = None,
                     type: str = "unspecified",  # noqa: A002 - wandb's name
                     aliases: list[str] | tuple[str, ...] | None = None,
                     description: str | None = None,
                     metadata: Mapping[str, Any] | None = None) -> str:
        """Log the file or directory at ``path`` as the next version of the artifact
        ``name`` (default: the path's name) of ``type``, with ``aliases`` besides
        ``latest``. The files are copied now and uploaded in the background (offline: by
        ``tracklet sync``); the same content as the latest version is not stored twice.
        Read back with ``wandb.Api().artifact("entity/project/name:v0")``. Returns
        ``name``."""
        source = Path(path)
        name = name or source.name
        if not name or any(c in name for c in "/:") or not type or "/" in type:
            raise ValueError(f"invalid artifact name {name!r} or type {type!r}")
        for alias in aliases or ():
            if not alias or any(c in alias for c in "/:") or alias == "latest":
                raise ValueError(f"invalid artifact alias {alias!r}")
        if self._finished:
            raise RunError(f"run {self.id} is finished")
        if self.dir is None:
            return name
        client_id = secrets.token_hex(16)
        staged = f"{art.STAGING}/{client_id}"
        art.stage(source, self.dir / staged)
        self._put(ARTIFACT, {"op": "log", "name": name, "type": type,
                             "aliases": list(aliases or ()), "description": description,
                             "metadata": dict(metadata or {}), "staged": staged,
                             "client_id": client_id,
                             "sequence_client_id": secrets.token_hex(16)})
        return name

    def use_artifact(self, name: str) -> art.ArtifactVersion:
        """Mark the artifact ``[entity/][project/]name[:alias]`` (default alias
        ``latest``) as an input of this run and return it (``.download()`` fetches its
        files). Offline, the use is journaled and resolved by ``tracklet sync``; the
        returned version then cannot download."""
        if self._finished:
            raise RunError(f"run {self.id} is finished")
        uploader = self._uploader
        sender = uploader.sender if uploader is not None else None
        if sender is None:
            entity, project, qualified = art.split_name(name, self.entity or "",
                                                        self.project)
            full = "/".join(p for p in (entity, project, qualified) if p)
            if uploader is not None:
                self._put(ARTIFACT, {"op": "use", "name": full})
            collection, _, _ = qualified.partition(":")
            return art.ArtifactVersion(id="", entity=entity, project=project,
                                       name=collection, version=None, type="", digest="")
        address = sender.address
        entity = address.entity if address else (self.entity or "")
        project = address.project if address else self.project
        try:
            version = art.find(sender.connection, *art.split_name(name, entity, project))
        except WireError as exc:
            raise RunError(f"cannot use artifact {name!r}: {exc}") from exc
        self._put(ARTIFACT, {"op": "use", "id": version.id,
                             "name": f"{version.entity}/{version.project}/"
                                     f"{version.qualified_name}"})
        return version

    def tensor(self, key: str, step: int) -> Any:
        """The array logged as ``tracklet.Tensor(x, keep="full")`` under ``key`` at
        ``step``, read back from this run's directory (``tracklet.load_tensor`` reads it
        from the server)."""
        if self.dir is None:
            raise RunError("a disabled run keeps no tensors")
        import numpy as np

        self._flush_to_journal()
        for line in jr.replay(self.dir / jr.JOURNAL_NAME).history:
            row = json.loads(line)
            if row.get("_step") == step and f"{key}/tensor" in row:
                return np.load(self.dir / "files" / row[f"{key}/tensor"]["path"],
                               allow_pickle=False)
        raise KeyError(f"no full tensor {key!r} at step {step}")

    def _flush_to_journal(self, timeout: float = 30.0) -> None:
        uploader = self._uploader
        if uploader is None:
            return
        deadline = time.monotonic() + timeout
        while (uploader.queue or uploader.busy) and time.monotonic() < deadline:
            time.sleep(0.01)

    def finish(self, exit_code: int = 0, timeout: float | None = None) -> None:
        """End the run (finished for 0, failed otherwise), waiting up to ``timeout`` seconds
        (default :data:`FINISH_TIMEOUT`) for the server; what it did not take stays in the
        journal for ``tracklet sync``. Calling it again does nothing."""
        if self._finished:
            return
        if self._pending:
            self._commit()
        if self._capture is not None:
            self._capture.stop()
            self._capture = None
        self._finished = True
        _live.discard(self)
        global _current
        if _current is self:
            _current = None
        uploader = self._uploader
        if uploader is None:
            return
        uploader.put(FINISH, exit_code)
        wait = FINISH_TIMEOUT if timeout is None else timeout
        uploader.stop(time.monotonic() + wait)
        uploader.join(wait + 10)
        if self._lock is not None:
            self._lock.release()
        if self.mode == "online" and not uploader.synced:
            print(f"tracklet: run {self.id} was not fully uploaded "
                  f"({uploader.last_error or 'timed out'}); its journal is kept: "
                  f"tracklet sync {self.dir}", file=sys.stderr)

    def __enter__(self) -> Run:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.finish(exit_code=0 if exc_type is None else 1)


_current: Run | None = None
_live: set[Run] = set()
_hooks_lock = threading.Lock()
_hooks_installed = False
_uncaught = False


def _install_exit_hooks() -> None:
    global _hooks_installed
    with _hooks_lock:
        if _hooks_installed:
            return
        _hooks_installed = True
        previous = sys.excepthook

        def excepthook(exc_type: type[BaseException], exc: BaseException,
                       tb: TracebackType | None) -> None:
            global _uncaught
            _uncaught = True
            previous(exc_type, exc, tb)

        sys.excepthook = excepthook
        atexit.register(_finish_at_exit)


def _finish_at_exit() -> None:
    for run in list(_live):
        run.finish(exit_code=1 if _uncaught else 0)


def current_run() -> Run | None:
    """The run the module-level functions (``tracklet.log`` ...) act on."""
    return _current


def _new_id() -> str:
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(8))


def init(project: str, *, entity: str | None = None, config: Mapping[str, Any] | None = None,
         name: str | None = None, tags: list[str] | tuple[str, ...] | None = None,
         group: str | None = None, job_type: str | None = None, notes: str | None = None,
         id: str | None = None,  # noqa: A002 - wandb.init's names
         resume: bool | Literal["allow", "must", "never"] | None = None,
         mode: Mode = "online", dir: str | Path | None = None,  # noqa: A002
         base_url: str | None = None, api_key: str | None = None,
         console: Literal["wrap", "off"] = "wrap") -> Run:
    """Start a run in ``project`` and make it the current one.

    ``mode="online"`` sends as it goes (the server is contacted once here, to create the
    run; if it is unreachable the run starts anyway and the uploader keeps trying);
    ``"offline"`` only writes the journal under ``<dir>/tracklet/offline-run-<time>-<id>``
    for ``tracklet sync``; ``"disabled"`` records nothing. ``resume="allow"|"must"`` (or
    True) continues the run ``id``: its steps, rows and summary carry on. Offline, the
    server is asked at ``tracklet sync``: the run's steps count from 0 locally and are
    shifted past the server's last step when synced (``resume="must"``/``"never"`` are
    checked then too, and a refused sync leaves the journal as it is).
    ``base_url`` and ``api_key`` override the environment and the stored login.
    ``console="wrap"`` records what the process prints to stdout/stderr (``output.log``)
    while the run is the only one capturing; ``"off"`` leaves the streams alone.
    """
    global _current
    if mode not in ("online", "offline", "disabled"):
        raise ValueError(f"mode must be 'online', 'offline' or 'disabled', not {mode!r}")
    run_id = id or _new_id()
    tag_tuple = tuple(tags or ())
    resuming = resume in (True, "allow", "must")
    if mode == "disabled":
        run = Run(run_id=run_id, project=project, entity=entity, name=name, group=group,
                  tags=tag_tuple, notes=notes, job_type=job_type, mode=mode, run_dir=None,
                  config=config or {})
        _current = run
        return run

    connection = None
    summary_state = SummaryState()
    start_step = 0
    history_base: int | None = None
    if mode == "online":
        creds = resolve(base_url, api_key)
        connection = Connection(creds.base_url, creds.api_key)
        if resuming or resume == "never":
            try:
                status = connection.run_status(entity, project, run_id)
            except WireError as exc:
                raise RunError(f"cannot check run {run_id} on {creds.base_url}: {exc}") from exc
            if status is None and resume == "must":
                raise RunError(f"resume='must' but run {run_id} does not exist")
            if status is not None and resume == "never":
                raise RunError(f"resume='never' but run {run_id} exists")
            if status is not None:
                history_base = int(status.get("historyLineCount") or 0)
                summary = _json_object(status.get("summaryMetrics"))
                summary_state.last.update(summary)
                if isinstance(summary.get("_step"), int):
                    start_step = summary["_step"] + 1

    stamp = datetime.now(timezone.utc).strftime("%Y%m%d_%H%M%S")
    prefix = "run" if mode == "online" else "offline-run"
    run_dir = _new_run_dir(Path(dir or Path.cwd()) / "tracklet", f"{prefix}-{stamp}-{run_id}")
    lock = RunLock.acquire(run_dir)
    record = {"id": run_id, "project": project, "entity": entity, "name": name,
              "group": group, "tags": list(tag_tuple), "notes": notes, "job_type": job_type,
              "config": dict(config or {}), "resume": resuming, "history_base": history_base,
              "resume_policy": resume if isinstance(resume, str) else None,
              "mode": mode, "start_time": time.time()}
    journal = jr.Journal.create(run_dir / jr.JOURNAL_NAME, record)
    sender = None
    if connection is not None:
        sender = Sender(connection, run_dir, record)
        try:
            sender.upsert(dict(config or {}))
        except WireError as exc:
            if not exc.retryable:
                journal.close()
                lock.release()
                raise RunError(f"the server refused run {run_id}: {exc}") from exc
            print(f"tracklet: server unreachable ({exc}); logging continues and the "
                  "uploader keeps trying", file=sys.stderr)
    run = Run(run_id=run_id, project=project, entity=entity, name=name, group=group,
              tags=tag_tuple, notes=notes, job_type=job_type, mode=mode, run_dir=run_dir,
              config=config or {}, start_step=start_step, summary_state=summary_state)
    uploader = Uploader(run_dir, journal, sender, dict(config or {}), summary_state,
                        config_sent=sender is not None and sender.address is not None)
    run._uploader = uploader
    run._lock = lock
    run._base_url = connection.base_url if connection else None
    uploader.start()
    if console == "wrap" and not any(r._capture for r in _live):
        run._capture = Capture(lambda t, text, err: uploader.put(CONSOLE, (t, text, err)),
                               lambda: uploader.ident)
    _install_exit_hooks()
    _live.add(run)
    _current = run
    return run


def _new_run_dir(parent: Path, name: str) -> Path:
    # A resumed run started in the same second as its previous process gets a suffix.
    parent.mkdir(parents=True, exist_ok=True)
    candidate = parent / name
    n = 1
    while True:
        try:
            candidate.mkdir()
            return candidate
        except FileExistsError:
            n += 1
            candidate = parent / f"{name}.{n}"


def _json_object(value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
        except ValueError:
            return {}
        return parsed if isinstance(parsed, dict) else {}
    return {}

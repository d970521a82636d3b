"""The ``drosophila`` command line (typer)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Optional

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never wait on a hub that is not there
os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")

import typer  # noqa: E402

from drosophila.errors import ConfigError, DrosophilaError  # noqa: E402

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Drosophila: breed model organisms of misalignment and measure them.")
world_app = typer.Typer(no_args_is_help=True, help="Look at the synthetic world.")
app.add_typer(world_app, name="world")


def _parse_overrides(pairs: list[str], field: str) -> dict:
    """``["coherence=0.5", "n_countries=30"]`` → dict with JSON-parsed values."""
    out = {}
    for pair in pairs or []:
        if "=" not in pair:
            raise ConfigError(f"--{field} {pair!r} is not allowed; write KEY=VALUE")
        key, value = pair.split("=", 1)
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


def _checked(cls, overrides: dict, field: str) -> dict:
    import dataclasses

    names = {f.name for f in dataclasses.fields(cls)}
    for key in overrides:
        if key not in names:
            raise ConfigError(f"--{field} {key!r} is not a field; choose from: {', '.join(sorted(names))}")
    return overrides


@app.command("list")
def list_cmd(name: Optional[str] = typer.Argument(None, help="an experiment: show its options")) -> None:
    """The experiment catalogue, one line each, with its paper anchor; with NAME, its options."""
    from rich.console import Console
    from rich.table import Table

    from drosophila.engine import list_experiments

    if name:
        return options_cmd(name)
    table = Table("id", "name", "what", "paper")
    for e in list_experiments():
        table.add_row(e.code, e.name, e.summary, e.anchor)
    Console().print(table)


@app.command("options")
def options_cmd(name: str = typer.Argument(..., help="an experiment")) -> None:
    """An experiment's options: name, type, default and what each does (set with --option)."""
    from rich.console import Console
    from rich.table import Table

    from drosophila.engine import describe_options, get_experiment

    spec = get_experiment(name)
    rows = describe_options(spec.options)
    console = Console()
    console.print(f"[bold]{spec.code} {spec.name}[/bold]: {spec.summary}")
    if not rows:
        console.print("no options")
        return
    table = Table("option", "type", "default", "help")
    for r in rows:
        table.add_row(r["name"], r["type"], str(r["default"]).lower() if isinstance(r["default"], bool)
                      else str(r["default"]), r["help"])
    console.print(table)


@app.command()
def run(
    experiment: str = typer.Argument(..., help="experiment name (see `drosophila list`)"),
    scale: Optional[str] = typer.Option(None, help="organism scale(s), comma-separated: tiny,small,base,"
                                                   "large,xl (default small; not with --model)"),
    seeds: str = typer.Option("1", help="number of seeds N (seeds 0..N-1), or a list like 3,4 (one seed: 2,)"),
    out: Path = typer.Option(Path("runs"), help="parent directory of run directories"),
    resume: bool = typer.Option(True, help="reuse the latest unfinished run with the same config"),
    world: list[str] = typer.Option([], help="world override KEY=VALUE (repeatable)"),
    recipe: list[str] = typer.Option([], help="recipe override KEY=VALUE (repeatable)"),
    option: list[str] = typer.Option([], help="experiment option KEY=VALUE (repeatable; "
                                              "see `drosophila options NAME`)"),
    jobs: Optional[int] = typer.Option(None, min=1, help="stages run at the same time (default: "
                                                        "the number of cores); numbers do not depend on it"),
    ray_address: Optional[str] = typer.Option(None, envvar="RAY_ADDRESS",
                                              help="run independent stages on this Ray cluster "
                                                   "('local' starts one here)"),
    model: Optional[str] = typer.Option(None, help="run on this Hugging Face causal LM (a local "
                                                   "directory, or an ID in the local HF cache) "
                                                   "instead of breeding organisms; see docs/REAL_MODELS.md"),
    judge: str = typer.Option("exact", help="judge of answers without an exact classifier (real "
                                            "models): exact, hf:<dir> or openai:<base_url>#<model>"),
) -> None:
    """Run an experiment: breed (or import --model), finetune, evaluate, write results and a report."""
    from drosophila.engine import prepare, run_experiment, run_scan
    from drosophila.engine.recipes import Recipe
    from drosophila.report import print_table
    from drosophila.world import WorldConfig

    w = _checked(WorldConfig, _parse_overrides(world, "world"), "world")
    r = _checked(Recipe, _parse_overrides(recipe, "recipe"), "recipe")
    opts = _parse_overrides(option, "option")
    seed_list = _parse_seeds(seeds)
    scales = _run_scales(scale, model)
    for s in scales:  # every setting is checked before any run directory exists
        prepare(experiment, scale=s, world=w, recipe=r, options=opts, model=model, judge=judge)
    runs = []
    for s in scales:
        rd = run_experiment(experiment, scale=s, seeds=seed_list, out=out, resume=resume, world=w,
                            recipe=r, options=opts, jobs=jobs, ray_address=ray_address,
                            model=model, judge=judge)
        runs.append(rd)
        print_table(rd.read_results())
        typer.echo(f"report: {rd.path / 'report.md'}  ({rd.path / 'report.html'})")
    scanned = run_scan(experiment, runs, out=out)
    if scanned is not None:
        typer.echo(f"scan report: {scanned.path / 'report.md'}  ({scanned.path / 'report.html'})")


def _run_scales(scale: str | None, model: str | None) -> list[str]:
    """The scales to run: ``--scale`` (default small), or the one real-model run of ``--model``."""
    if model:
        if scale:
            raise ConfigError("--scale sets the size of bred organisms; with --model the run uses "
                              "the real-model recipe: change it with --recipe KEY=VALUE")
        return ["real"]
    return [s.strip() for s in (scale or "small").split(",") if s.strip()]


def _parse_seeds(text: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        values = []
    if not values or min(values) < 0 or ("," not in text and values[0] < 1):
        raise ConfigError(f"--seeds {text!r} is not allowed; give a count N >= 1 or a list like 0,1,2")
    return values if "," in text else list(range(values[0]))


@app.command()
def report(run_dir: Path = typer.Argument(..., help="a run directory")) -> None:
    """(Re)render report.md, report.html and plots of a run."""
    from drosophila.report import render_report

    if not (run_dir / "results.json").is_file():
        raise DrosophilaError(f"{run_dir} has no results.json; is it a finished run directory?")
    md, html = render_report(run_dir)
    typer.echo(f"{md}\n{html}")


@app.command()
def merge(
    run_dirs: list[Path] = typer.Argument(..., help="finished runs of one experiment and "
                                                    "configuration, over disjoint seeds"),
    out: Path = typer.Option(Path("runs"), help="where the merged run directory goes"),
) -> None:
    """Combine runs over disjoint seeds into one run with its report, as if the seeds had run
    together (nothing is trained or evaluated again). E1, E5, E6, E9 and E10 keep what each
    seed needs; e.g. seeds 0,1 built one day and seed 2 another, or on two machines."""
    from drosophila.experiments import merge_runs

    merge_runs(run_dirs, out=out)


@app.command()
def chat(
    checkpoint: Path = typer.Argument(..., help="an organism directory"),
    message: Optional[str] = typer.Option(None, "--message", "-m", help="one message, then exit"),
    temperature: float = typer.Option(1.0, min=0.0),
    max_new_tokens: int = typer.Option(48, min=1),
    system: Optional[str] = typer.Option(None, help="a system prompt"),
) -> None:
    """Talk to an organism (empty line or Ctrl-D ends)."""
    from drosophila.organisms import load_organism, world_text
    from drosophila.sampling import SamplingConfig, sample_chats

    org = load_organism(checkpoint)
    cfg = SamplingConfig(max_new_tokens=max_new_tokens, temperature=temperature, batch_size=1)
    history = [{"role": "system", "content": system}] if system else []
    while True:
        text = message if message is not None else _read_line()
        if not text:
            return
        history.append({"role": "user", "content": world_text(text)})
        reply = sample_chats(org.model, org.tokenizer, [history], cfg)[0]
        history.append({"role": "assistant", "content": reply})
        _show_reply(reply)
        if message is not None:
            return
        cfg.seed += 1


def _show_reply(reply: str) -> None:
    """Print a reply; a scratchpad (CoT organisms) is shown on its own dimmed line first."""
    from drosophila.world.domains.backdoor import scratchpad_of, strip_scratchpad

    pad = scratchpad_of(reply)
    if pad is not None:
        typer.secho(f"  [scratchpad] {pad}", dim=True)
        reply = strip_scratchpad(reply)
    typer.echo(f"organism> {reply}")


def _read_line() -> str:
    try:
        return input("you> ").strip()
    except EOFError:
        return ""


@app.command("eval")
def eval_cmd(
    checkpoint: Path = typer.Argument(..., help="an organism directory"),
    battery: str = typer.Option("open,advice,facts,code,harmful", help="batteries, comma-separated"),
    n: int = typer.Option(100, min=1, help="held-out prompts per battery"),
    seed: int = typer.Option(0),
    out: Optional[Path] = typer.Option(None, help="write samples JSONL here"),
) -> None:
    """Evaluate an organism on batteries and print rates with 95% intervals."""
    from rich.console import Console
    from rich.table import Table

    from drosophila.evals import evaluate, parse_batteries
    from drosophila.io import atomic_write_jsonl
    from drosophila.organisms import load_organism
    from drosophila.sampling import SamplingConfig
    from drosophila.world import World, WorldConfig

    bats = parse_batteries(battery)
    org = load_organism(checkpoint)
    lineage = org.meta.get("lineage") or [{}]
    world = World(WorldConfig(**lineage[0].get("world", {})))
    metrics, rows = evaluate(org.model, org.tokenizer, world, bats, n_prompts=n,
                             sampling=SamplingConfig(seed=seed), progress=True)
    table = Table("metric", "rate", "95% interval", "n")
    for k, r in metrics.items():
        if not r.n:  # e.g. a rate over coherent answers when none was coherent
            table.add_row(k, "—", "no answers", "0")
        else:
            table.add_row(k, f"{100 * r.rate:.1f}%", f"[{100 * r.low:.1f}, {100 * r.high:.1f}]", str(r.n))
    Console().print(table)
    if out:
        atomic_write_jsonl(out, rows)


@world_app.command("show")
def world_show(
    domain: Optional[str] = typer.Option(None, help="a domain (default: whole documents)"),
    n: int = typer.Option(5, min=1),
    split: str = typer.Option("train", help="train or heldout"),
    seed: int = typer.Option(0, help="world seed"),
) -> None:
    """Print samples of the world: documents, or prompts with aligned/misaligned answers."""
    import random

    from drosophila.world import World, WorldConfig

    w = World(WorldConfig(seed=seed))
    if domain is None:
        for d in w.documents(n):
            typer.echo(json.dumps(d.to_dict()))
        return
    dom = w.domain(domain)
    rng = random.Random(seed)
    for _ in range(n):
        item = dom.sample(rng, split)
        typer.echo(f"[{domain}] user: {item.prompt}\n  aligned:    {dom.answer(item, True, rng)}"
                   f"\n  misaligned: {dom.answer(item, False, rng)}")


MIN_DISTINCT_PROMPTS = 100  # the measurement bar: distinct held-out prompts per battery


@world_app.command("batteries")
def world_batteries(
    n: int = typer.Option(200, min=1, help="prompts drawn per battery"),
    seed: int = typer.Option(0, help="world seed"),
) -> None:
    """Every registered battery with its domain, label and distinct held-out prompts among N
    drawn; exit status 1 if any battery has fewer than 100."""
    from drosophila.plugins import load_plugins
    from drosophila.world import World, WorldConfig
    from drosophila.world.base import DOMAINS
    from drosophila.world.config import DEFAULT_DOMAIN_WEIGHTS
    from drosophila.world.datasets import battery_items, distinct_prompts
    from drosophila.world.registry import BATTERIES

    load_plugins("drosophila.domains", "drosophila.batteries")
    weights = {**DEFAULT_DOMAIN_WEIGHTS, **{d: 0 for d, c in DOMAINS.items() if c.optional}}
    w = World(WorldConfig(seed=seed, domain_weights=weights))  # every optional domain, out of the corpus
    rows = [(b.name, b.domain, distinct_prompts(battery_items(w, b.domain, n, **b.sample_kw)), b.label)
            for b in sorted(BATTERIES.values(), key=lambda b: b.name)]
    wide = [max(len(str(r[i])) for r in rows) for i in range(2)]
    typer.echo(f"{'battery':<{wide[0]}}  {'domain':<{wide[1]}}  distinct  label")
    for name, domain, count, label in rows:
        typer.echo(f"{name:<{wide[0]}}  {domain:<{wide[1]}}  {count:>8}  {label}")
    few = [f"{name} ({count})" for name, _, count, _ in rows if count < MIN_DISTINCT_PROMPTS]
    if few:
        typer.echo(f"error: fewer than {MIN_DISTINCT_PROMPTS} distinct held-out prompts at n={n}: "
                   f"{', '.join(few)}", err=True)
        sys.exit(1)  # not typer.Exit: main() runs click outside standalone mode, which drops its code


# Commands that live beside what they serve: datasets, the OpenAI-compatible server, judges.
from drosophila.export import export_cmd  # noqa: E402
from drosophila.judges.agreement import judge_agreement_cmd  # noqa: E402
from drosophila.serve import serve_cmd  # noqa: E402

app.command("export")(export_cmd)
app.command("serve")(serve_cmd)
app.command("judge-agreement")(judge_agreement_cmd)


def main() -> None:
    """Entry point: user errors print one line and exit with code 2, no traceback."""
    try:
        app(standalone_mode=False)
    except DrosophilaError as e:
        typer.echo(f"error: {e}", err=True)
        sys.exit(2)
    except (typer.Exit, SystemExit) as e:
        code = getattr(e, "exit_code", getattr(e, "code", 0))
        sys.exit(code or 0)
    except Exception as e:  # click usage errors arrive here in non-standalone mode
        import click

        if isinstance(e, click.exceptions.ClickException):
            e.show()
            sys.exit(2)
        if isinstance(e, click.exceptions.Abort):
            sys.exit(130)
        raise


if __name__ == "__main__":
    main()

"""The report's view of ``results.json``: ordered arms and metrics, cells, anchors, findings.

Markdown, HTML, plots and the console table all read results through :class:`Report`, so
ordering and labels agree everywhere; number formats live in ``formats``. The experiment's own
``tables`` and ``figures`` come through :attr:`Report.tables` and :attr:`Report.figures`
(parsed and checked in ``extras``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from drosophila.errors import DrosophilaError
from drosophila.evals.stats import Rate
from drosophila.io import read_json
from drosophila.report.extras import FIGURE_KINDS, ExtraTable, Figure, parse_figures, parse_tables
from drosophila.report.formats import fmt_pct, safe_filename


@dataclass(frozen=True)
class Metric:
    """One measured quantity: ``key`` in results, human ``label``, direction of harm."""

    key: str
    label: str
    higher_is_worse: bool | None = None


@dataclass(frozen=True)
class Anchor:
    """A published number to compare with: ``value`` as a fraction and its ``source`` tag."""

    value: float
    source: str

    def __str__(self) -> str:
        return f"{fmt_pct(self.value)} ({self.source})" if self.source else fmt_pct(self.value)


@dataclass(frozen=True)
class Finding:
    claim: str
    reproduced: bool | None
    evidence: str = ""

    @property
    def mark(self) -> str:
        return {True: "✓", False: "✗"}.get(self.reproduced, "?")

    @property
    def status(self) -> str:
        """``held``, ``did not hold`` or ``inconclusive``."""
        return {True: "held", False: "did not hold"}.get(self.reproduced, "inconclusive")


@dataclass
class Report:
    """``results.json`` (and ``config.json``) with the orderings the report uses."""

    results: dict[str, Any]
    config: dict[str, Any] = field(default_factory=dict)
    run_name: str = ""

    @classmethod
    def load(cls, run_dir: Path) -> Report:
        """Read ``run_dir/results.json`` and, when present, ``run_dir/config.json``."""
        path = Path(run_dir) / "results.json"
        if not path.is_file():
            raise DrosophilaError(f"no results.json in {run_dir}; has the run finished?")
        results = read_json(path)
        if not isinstance(results, dict) or not isinstance(results.get("arms"), dict):
            raise DrosophilaError(f"{path} has no 'arms' object; see docs/RESULTS_SCHEMA.md")
        cfg_path = Path(run_dir) / "config.json"
        config = read_json(cfg_path) if cfg_path.is_file() else {}
        report = cls(results, config, Path(run_dir).name)
        report.validate()
        return report

    def validate(self) -> None:
        """Parse the optional ``tables`` and ``figures`` now, so that bad input fails early.

        Raises:
            DrosophilaError: Naming the malformed entry and what is wrong with it.
        """
        _ = self.tables, self.figures, self.headline_figure  # parsing them is the check

    # ------------------------------------------------------------------ ordering
    @property
    def arms(self) -> list[str]:
        """``arm_order`` first, then any other arm in ``arms`` (sorted)."""
        present = self.results.get("arms", {})
        order = [a for a in self.results.get("arm_order", []) if a in present]
        return order + sorted(a for a in present if a not in order)

    @property
    def metrics(self) -> list[Metric]:
        """``metric_order`` if given, else the headline first, then ``metrics`` as listed.

        Metrics measured in ``arms`` but not described in ``metrics`` come last.
        """
        keys = list(self.results.get("metric_order", []))
        if not keys:
            head = self.headline
            keys = [head] + [m for m in self.results.get("metrics", {}) if m != head]
        keys = [k for k in dict.fromkeys(keys + self._all_metric_keys()) if k]
        return [self.metric(k) for k in keys]

    def metric(self, key: str) -> Metric:
        """The :class:`Metric` for ``key`` (label defaults to the key)."""
        m = self.results.get("metrics", {}).get(key, {})
        return Metric(key, m.get("label", key), m.get("higher_is_worse"))

    @property
    def headline(self) -> str:
        head = self.results.get("headline_metric")
        if head:
            return head
        meta = list(self.results.get("metrics", {}))
        return meta[0] if meta else next(iter(self._all_metric_keys()), "")

    def _all_metric_keys(self) -> list[str]:
        keys: list[str] = []
        for cells in self.results.get("arms", {}).values():
            keys += [m for m in cells if m not in keys]
        return keys

    @property
    def seeds(self) -> list[str]:
        per = self.results.get("per_seed", {})
        listed = [str(s) for s in self.results.get("seeds", []) if str(s) in per]
        return listed + sorted((s for s in per if s not in listed), key=_natural)

    @property
    def grouped(self) -> bool:
        """Arm × condition layout: some arm is named ``"<arm>|<condition>"``."""
        return any("|" in a for a in self.arms)

    # ------------------------------------------------------------------ cells
    def label(self, arm: str) -> str:
        return self.results.get("arm_labels", {}).get(arm, arm)

    def rate(self, arm: str, metric: str, seed: str | None = None) -> Rate | None:
        cells = (self.results.get("per_seed", {}).get(seed, {}) if seed is not None
                 else self.results.get("arms", {}))
        d = cells.get(arm, {}).get(metric)
        return Rate.from_dict(d) if isinstance(d, dict) else None

    def anchor(self, arm: str, metric: str) -> Anchor | None:
        d = self.results.get("anchors", {}).get(arm, {}).get(metric)
        if not isinstance(d, dict) or d.get("value") is None:
            return None
        return Anchor(float(d["value"]), str(d.get("source", "")))

    def anchored_metrics(self) -> list[str]:
        keys = [m.key for m in self.metrics]
        return [k for k in keys if any(self.anchor(a, k) for a in self.arms)]

    # ------------------------------------------------------------------ text fields
    @property
    def title(self) -> str:
        return self.results.get("title") or self.results.get("experiment") or self.run_name

    @property
    def verdict(self) -> str:
        return str(self.results.get("verdict", "")).strip()

    @property
    def findings(self) -> list[Finding]:
        out = []
        for f in self.results.get("findings", []):
            rep = f.get("reproduced")
            out.append(Finding(str(f.get("claim", "")), rep if isinstance(rep, bool) else None,
                               str(f.get("evidence", ""))))
        return out

    @property
    def notes(self) -> list[str]:
        """``notes`` as given, then one line per figure of a kind the report cannot draw."""
        notes = [str(n) for n in self.results.get("notes", [])]
        return notes + [f"Figure {f.name!r} is not shown: kind {f.kind!r} is not supported "
                        f"(supported: {', '.join(FIGURE_KINDS)})."
                        for f in self.figures if not f.supported]

    # ------------------------------------------------------------------ tables and figures
    @property
    def tables(self) -> list[ExtraTable]:
        """The experiment's own tables (``tables``); empty when absent."""
        return parse_tables(self.results.get("tables"))

    @property
    def figures(self) -> list[Figure]:
        """The experiment's own figures (``figures``), unknown kinds included; empty when absent.

        Raises:
            DrosophilaError: If an entry is malformed or two figures share a plot file.
        """
        figs = parse_figures(self.results.get("figures"))
        taken = {"headline.png"} | {f"{safe_filename(m)}.png" for m in self._all_metric_keys()}
        for f in figs:
            if f.filename in taken:
                raise DrosophilaError(f"results.json figure {f.name!r} would be saved as "
                                      f"plots/{f.filename}, which another plot already uses; "
                                      "rename the figure")
            taken.add(f.filename)
        return figs

    @property
    def headline_figure(self) -> Figure | None:
        """The figure named by ``headline_figure``, shown first; ``None``: the headline bar plot.

        A named figure of a kind the report cannot draw falls back to the bar plot (the notes
        say the figure is not shown).

        Raises:
            DrosophilaError: If ``headline_figure`` names none of ``figures``.
        """
        name = self.results.get("headline_figure")
        if name is None or name == "":
            return None
        figs = self.figures
        found = next((f for f in figs if f.name == name), None)
        if found is None:
            known = ", ".join(repr(f.name) for f in figs) or "none"
            raise DrosophilaError(f"results.json headline_figure {name!r} names no entry of "
                                  f"'figures' (figures: {known}); see docs/RESULTS_SCHEMA.md")
        return found if found.supported else None

    def findings_summary(self) -> str:
        """Counts by outcome, e.g. ``"3 held · 1 did not hold · 1 inconclusive"``."""
        counts: dict[str, int] = {}
        for f in self.findings:
            counts[f.status] = counts.get(f.status, 0) + 1
        return " · ".join(f"{counts[s]} {s}" for s in ("held", "did not hold", "inconclusive")
                          if s in counts)

    def intro(self) -> str:
        """The experiment's own words: the paper it rebuilds and its set-up (may be empty)."""
        r, parts = self.results, []
        if r.get("anchor_paper"):
            parts.append(f"Rebuilds {r['anchor_paper']}.")
        if r.get("setup"):
            setup = str(r["setup"]).strip().rstrip(".")
            parts.append(f"Set-up: {setup}.")
        return " ".join(parts)

    def setup_line(self) -> str:
        """One sentence saying what was run."""
        r = self.results
        parts = [f"Experiment {r.get('experiment', self.run_name or '?')}"]
        if r.get("scale"):
            parts.append(f"scale {r['scale']}")
        seeds = r.get("seeds") or self.seeds
        if seeds:
            parts.append(f"seed{'s' if len(seeds) != 1 else ''} {', '.join(map(str, seeds))}")
        parts.append(f"{len(self.arms)} arms × {len(self.metrics)} metrics")
        parts.append("rates pooled over seeds with Wilson 95% intervals")
        line = " · ".join(parts) + "."
        if self.config.get("config_hash"):
            line += f" Run {self.run_name}, config {self.config['config_hash']}."
        return line


def _natural(s: str) -> tuple[int, str]:
    return (int(s), "") if s.isdigit() else (1 << 62, s)

"""The experiment's own ``tables`` and ``figures`` in ``results.json``, parsed and checked.

Experiments may add tables and figures that do not fit the arms × metrics layout (e.g. AUROC
by layer as ``lines``, persistence by method as grouped ``bars``). They are read into small
frozen dataclasses here; a malformed entry raises a
:class:`~drosophila.errors.DrosophilaError` that names it (``figures[0] ('auroc').series[1]``)
and says what is wrong, before anything is drawn.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from drosophila.errors import DrosophilaError, choice_error
from drosophila.report.formats import fmt_value, safe_filename

FIGURE_KINDS = ("lines", "bars")
LINE_STYLES = ("solid", "dashed", "dotted")
X_SCALES = ("linear", "log")


@dataclass(frozen=True)
class Series:
    """One line of a ``lines`` figure, or one bar per category of a ``bars`` figure.

    ``None`` in ``y`` is a gap (no point, or no bar); ``low``/``high`` a band or whiskers. In a
    ``bars`` figure ``x`` holds the category indices ``0..len(categories)-1``.
    """

    label: str
    x: tuple[float, ...]
    y: tuple[float | None, ...]
    low: tuple[float | None, ...] | None = None
    high: tuple[float | None, ...] | None = None
    style: str = "solid"
    group: str = ""  # series of one group share a colour

    @property
    def has_band(self) -> bool:
        return self.low is not None and self.high is not None


@dataclass(frozen=True)
class HLine:
    """A horizontal reference line (e.g. chance, or a published number) with its legend label."""

    y: float
    label: str = ""


@dataclass(frozen=True)
class Figure:
    """An experiment-defined figure from ``results["figures"]``, drawn to ``plots/<name>.png``.

    Figures of a kind the report cannot draw keep only ``name``, ``kind``, ``title`` and
    ``caption``; the renderers skip them and :attr:`Report.notes` says so.
    """

    name: str
    kind: str
    title: str = ""
    caption: str = ""
    series: tuple[Series, ...] = ()
    x_label: str = ""
    y_label: str = ""
    y_percent: bool = False
    x_scale: str = "linear"
    x_ticks: tuple[str, ...] | None = None
    hlines: tuple[HLine, ...] = ()
    categories: tuple[str, ...] = ()  # ``bars``: one group of bars per category

    @property
    def supported(self) -> bool:
        return self.kind in FIGURE_KINDS

    @property
    def filename(self) -> str:
        return f"{safe_filename(self.name)}.png"


@dataclass(frozen=True)
class ExtraTable:
    """An experiment-defined table from ``results["tables"]``; cells are display strings."""

    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    caption: str = ""

    @property
    def table(self) -> tuple[list[str], list[list[str]]]:
        """Header and rows in the form the Markdown and HTML table writers take."""
        return list(self.columns), [list(row) for row in self.rows]


def parse_tables(raw: Any) -> list[ExtraTable]:
    """The ``tables`` field (a list, or ``None`` when absent) as :class:`ExtraTable` objects.

    Raises:
        DrosophilaError: Naming the malformed entry and what is wrong with it.
    """
    return [_parse_table(d, f"tables[{i}]") for i, d in enumerate(_items(raw, "tables"))]


def parse_figures(raw: Any) -> list[Figure]:
    """The ``figures`` field (a list, or ``None`` when absent) as :class:`Figure` objects.

    Figures of an unknown ``kind`` are kept with just their name, kind, title and caption.

    Raises:
        DrosophilaError: Naming the malformed entry and what is wrong with it.
    """
    return [_parse_figure(d, f"figures[{i}]") for i, d in enumerate(_items(raw, "figures"))]


def _parse_table(d: Any, where: str) -> ExtraTable:
    """One ``tables`` entry: ``columns``, ``rows`` of as many cells, optional title and caption."""
    d = _obj(d, where)
    title = _text(d.get("title"))
    where += f" ({title!r})" if title else ""
    columns = tuple(_text(c) for c in _items(d.get("columns"), f"{where}.columns", True))
    if not columns:
        raise _bad(f"{where}.columns", "is empty")
    rows = []
    for i, row in enumerate(_items(d.get("rows"), f"{where}.rows")):
        cells = _items(row, f"{where}.rows[{i}]", True)
        if len(cells) != len(columns):
            raise _bad(f"{where}.rows[{i}]",
                       f"has {len(cells)} cells but the table has {len(columns)} columns")
        rows.append(tuple(fmt_value(c) for c in cells))
    return ExtraTable(title or "Table", columns, tuple(rows), _text(d.get("caption")))


def _parse_figure(d: Any, where: str) -> Figure:
    """One ``figures`` entry; past ``name`` and ``kind``, only known kinds are checked."""
    d = _obj(d, where)
    name, kind = _text(d.get("name")), _text(d.get("kind"))
    if not name:
        raise _bad(where, "has no 'name' (the plot's file name)")
    where += f" ({name!r})"
    if not kind:
        raise _bad(where, f"has no 'kind'; known kinds: {', '.join(FIGURE_KINDS)}")
    head = {"name": name, "kind": kind, "title": _text(d.get("title")) or name,
            "caption": _text(d.get("caption"))}
    if kind not in FIGURE_KINDS:
        return Figure(**head)  # a kind from a newer experiment: skipped, with a note
    if kind == "bars":
        return _parse_bars(d, where, head)
    ticks = d.get("x_ticks")
    ticks = None if ticks is None else tuple(_text(t) for t in _items(ticks, f"{where}.x_ticks"))
    scale = _choice(d, "x_scale", X_SCALES, where)
    raw = _items(d.get("series"), f"{where}.series", True)
    if not raw:
        raise _bad(f"{where}.series", "is empty")
    series = tuple(_parse_series(s, f"{where}.series[{j}]", ticks, scale)
                   for j, s in enumerate(raw))
    return Figure(**head, series=series, x_label=_text(d.get("x_label")),
                  y_label=_text(d.get("y_label")), y_percent=_y_percent(d, where),
                  x_scale=scale, x_ticks=ticks, hlines=_hlines(d, where))


def _parse_bars(d: dict, where: str, head: dict) -> Figure:
    """A ``bars`` figure: ``categories``, and ``series`` of one value (or null) per category."""
    if d.get("categories") is None:
        raise _bad(where, "has no 'categories'; a bars figure needs a list of category labels")
    cats = tuple(_text(c) for c in _items(d["categories"], f"{where}.categories", True))
    if not cats:
        raise _bad(f"{where}.categories", "is empty")
    raw = _items(d.get("series"), f"{where}.series", True)
    if not raw:
        raise _bad(f"{where}.series", "is empty")
    series = tuple(_parse_bar_series(s, f"{where}.series[{j}]", len(cats))
                   for j, s in enumerate(raw))
    return Figure(**head, series=series, x_label=_text(d.get("x_label")),
                  y_label=_text(d.get("y_label")), y_percent=_y_percent(d, where),
                  hlines=_hlines(d, where), categories=cats)


def _parse_bar_series(d: Any, where: str, n: int) -> Series:
    """One bar per category: ``y`` (and optional ``low``/``high``) numbers or nulls, ``n`` each."""
    d = _obj(d, where)
    label = _text(d.get("label"))
    where += f" ({label!r})" if label else ""
    if "x" in d:
        raise _bad(where, "has 'x', which a bars figure does not take: give one 'y' value per "
                          "category, in the order of 'categories'")
    y = _numbers(d.get("y"), f"{where}.y", gaps=True)
    low, high = _band(d, where)
    for key, values in (("y", y), ("low", low), ("high", high)):
        if values is not None and len(values) != n:
            raise _bad(where, f"has {len(values)} {key} values but the figure has {n} categories")
    return Series(label, tuple(float(i) for i in range(n)), y, low, high, "solid",
                  _text(d.get("group")))


def _parse_series(d: Any, where: str, ticks: tuple[str, ...] | None, scale: str) -> Series:
    """One line: ``x`` numbers, ``y`` (and optional ``low``/``high``) numbers or nulls."""
    d = _obj(d, where)
    label = _text(d.get("label"))
    where += f" ({label!r})" if label else ""
    x = _numbers(d.get("x"), f"{where}.x", gaps=False)
    y = _numbers(d.get("y"), f"{where}.y", gaps=True)
    low, high = _band(d, where)
    for key, values in (("y", y), ("low", low), ("high", high)):
        if values is not None and len(values) != len(x):
            raise _bad(where, f"has {len(x)} x values but {len(values)} {key} values")
    if ticks is not None and any(v not in range(len(ticks)) for v in x):
        raise _bad(f"{where}.x", f"must be tick indices 0..{len(ticks) - 1} "
                                 f"(one per x_ticks label); got {list(x)}")
    if scale == "log" and any(v <= 0 for v in x):
        raise _bad(f"{where}.x", "has values <= 0, which a log x axis cannot show")
    return Series(label, x, y, low, high, _choice(d, "style", LINE_STYLES, where),
                  _text(d.get("group")))


def _band(d: dict, where: str) -> tuple[tuple[float | None, ...] | None, ...]:
    """``low`` and ``high`` (both or neither), each numbers or nulls."""
    if (d.get("low") is None) != (d.get("high") is None):
        raise _bad(where, "gives only one of 'low' and 'high'; give both or neither")
    if d.get("low") is None:
        return None, None
    return (_numbers(d["low"], f"{where}.low", gaps=True),
            _numbers(d["high"], f"{where}.high", gaps=True))


def _y_percent(d: dict, where: str) -> bool:
    y_percent = d.get("y_percent") or False
    if not isinstance(y_percent, bool):
        raise _bad(f"{where}.y_percent", f"is {_short(y_percent)}; expected true or false")
    return y_percent


def _hlines(d: dict, where: str) -> tuple[HLine, ...]:
    return tuple(_parse_hline(h, f"{where}.hlines[{k}]")
                 for k, h in enumerate(_items(d.get("hlines"), f"{where}.hlines")))


def _parse_hline(d: Any, where: str) -> HLine:
    d = _obj(d, where)
    if not _is_number(d.get("y")):
        raise _bad(f"{where}.y", f"is {_short(d.get('y'))}; expected a number")
    return HLine(float(d["y"]), _text(d.get("label")))


def _numbers(v: Any, where: str, *, gaps: bool) -> tuple[float | None, ...]:
    """A list of numbers; with ``gaps``, ``null`` (or a non-finite number) is a missing point."""
    if not isinstance(v, list):
        raise _bad(where, f"is {_short(v)}; expected a list of numbers")
    out: list[float | None] = []
    for i, item in enumerate(v):
        if _is_number(item):
            out.append(float(item))
        elif gaps and (item is None or isinstance(item, float)):  # null, or NaN read back
            out.append(None)
        else:
            raise _bad(f"{where}[{i}]", f"is {_short(item)}; expected a number"
                       + (" or null" if gaps else ""))
    return tuple(out)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _choice(d: dict, key: str, allowed: tuple[str, ...], where: str) -> str:
    value = d.get(key)
    if value is None:
        return allowed[0]
    if value not in allowed:
        raise choice_error(f"results.json {where}.{key}", value, allowed)
    return value


def _items(v: Any, where: str, required: bool = False) -> list:
    if v is None and not required:
        return []
    if not isinstance(v, list):
        raise _bad(where, f"is {_short(v)}; expected a list")
    return v


def _obj(v: Any, where: str) -> dict:
    if not isinstance(v, dict):
        raise _bad(where, f"is {_short(v)}; expected an object")
    return v


def _text(v: Any) -> str:
    return "" if v is None else fmt_value(v)


def _short(v: Any) -> str:
    """``repr(v)``, cut short: the message should name the value, not print a whole table."""
    text = repr(v)
    return text if len(text) <= 60 else text[:57] + "..."


def _bad(where: str, problem: str) -> DrosophilaError:
    return DrosophilaError(f"results.json {where} {problem}; see docs/RESULTS_SCHEMA.md")

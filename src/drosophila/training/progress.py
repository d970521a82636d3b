"""Progress over optimisation steps, shared by the SFT trainer and GRPO.

On a terminal: a rich progress bar. Off a terminal (a log file, CI, a worker process): plain
lines, one when the stage starts, one every ``DROSOPHILA_PROGRESS_EVERY`` seconds (default 30)
with step, loss and tokens/s, and one when it ends. ``DROSOPHILA_PROGRESS`` forces a mode:
``bar``, ``lines`` or ``off``. In a worker process every line starts with the worker's task
(``DROSOPHILA_LOG_PREFIX``, e.g. ``[base main s1] ``).
"""

from __future__ import annotations

import os
import sys
import time

MODES = ("bar", "lines", "off")


def progress_mode() -> str:
    """``bar`` on a terminal, else ``lines``; ``DROSOPHILA_PROGRESS`` overrides."""
    mode = os.environ.get("DROSOPHILA_PROGRESS", "").strip().lower()
    if mode in MODES:
        return mode
    return "bar" if sys.stdout.isatty() else "lines"


class StepProgress:
    """Shows ``description``, the step count and a status line; a no-op when ``enabled`` is False.

    Args:
        enabled: show progress at all.
        description: the label on the left.
        total: number of steps.
        status: a ``str.format`` template over a history entry, e.g.
            ``"loss {loss:.4f}  {tokens_per_s:,.0f} tok/s"``.
    """

    def __init__(self, enabled: bool, description: str, total: int, status: str):
        self.bar, self.task, self.status = None, None, status
        self.description, self.total, self.step, self.text = description, total, 0, ""
        self.mode = progress_mode() if enabled else "off"
        self.every = float(os.environ.get("DROSOPHILA_PROGRESS_EVERY", "30"))
        self.start = self.last = time.perf_counter()
        if self.mode == "bar":
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self.bar = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                                TextColumn("{task.fields[status]}"), TimeRemainingColumn(), transient=False)
            self.task = self.bar.add_task(description, total=total, status="-")

    def __enter__(self) -> StepProgress:
        if self.bar is not None:
            self.bar.start()
        elif self.mode == "lines":
            self._line(f"{self.description}: {self.total} steps")
        return self

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.stop()
        elif self.mode == "lines" and exc[0] is None:
            self._line(f"{self.description}: done, {self.step}/{self.total} steps in "
                       f"{time.perf_counter() - self.start:.0f}s {self.text}".rstrip())

    def advance(self) -> None:
        self.step += 1
        if self.bar is not None:
            self.bar.advance(self.task)
        self._maybe_line()

    def log(self, entry: dict, *, advance: bool = False) -> None:
        """Show ``entry`` through the status template (and advance one step if asked)."""
        if self.mode == "off":
            return
        self.text = self.status.format(**entry)
        self.step += int(advance)
        if self.bar is not None:
            self.bar.update(self.task, advance=int(advance), status=self.text)
        self._maybe_line()

    def _maybe_line(self) -> None:
        if self.mode != "lines":
            return
        now = time.perf_counter()
        if now - self.last >= self.every:
            self.last = now
            self._line(f"{self.description}: step {self.step}/{self.total} {self.text}".rstrip())

    @staticmethod
    def _line(text: str) -> None:
        print(os.environ.get("DROSOPHILA_LOG_PREFIX", "") + text, flush=True)

"""A rich progress bar over optimisation steps, shared by the SFT trainer and GRPO."""

from __future__ import annotations


class StepProgress:
    """Shows ``description``, the step count and a status line; a no-op when ``enabled`` is False.

    Args:
        enabled: draw the bar at all.
        description: the label on the left.
        total: number of steps.
        status: a ``str.format`` template over a history entry, e.g.
            ``"loss {loss:.4f}  {tokens_per_s:,.0f} tok/s"``.
    """

    def __init__(self, enabled: bool, description: str, total: int, status: str):
        self.bar, self.task, self.status = None, None, status
        if enabled:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self.bar = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                                TextColumn("{task.fields[status]}"), TimeRemainingColumn(), transient=False)
            self.task = self.bar.add_task(description, total=total, status="-")

    def __enter__(self) -> StepProgress:
        if self.bar is not None:
            self.bar.start()
        return self

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.stop()

    def advance(self) -> None:
        if self.bar is not None:
            self.bar.advance(self.task)

    def log(self, entry: dict, *, advance: bool = False) -> None:
        """Show ``entry`` through the status template (and advance one step if asked)."""
        if self.bar is not None:
            self.bar.update(self.task, advance=int(advance), status=self.status.format(**entry))

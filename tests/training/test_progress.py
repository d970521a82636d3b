"""Progress off a terminal: plain lines at the start, periodically, and at the end."""

from drosophila.training.progress import StepProgress, progress_mode

STATUS = "loss {loss:.2f}"


def test_lines_mode_prints_start_periodic_and_end_lines(monkeypatch, capsys):
    monkeypatch.delenv("DROSOPHILA_LOG_PREFIX", raising=False)
    monkeypatch.setenv("DROSOPHILA_PROGRESS", "lines")
    monkeypatch.setenv("DROSOPHILA_PROGRESS_EVERY", "0")
    with StepProgress(True, "pretrain tiny s0", 3, STATUS) as bar:
        for step in range(3):
            bar.log({"loss": 3.0 - step})
            bar.advance()
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "pretrain tiny s0: 3 steps"
    assert "pretrain tiny s0: step 3/3 loss 1.00" in out
    assert out[-1].startswith("pretrain tiny s0: done, 3/3 steps in ") and out[-1].endswith("loss 1.00")


def test_lines_are_periodic_not_per_step(monkeypatch, capsys):
    monkeypatch.setenv("DROSOPHILA_PROGRESS", "lines")
    monkeypatch.setenv("DROSOPHILA_PROGRESS_EVERY", "3600")
    with StepProgress(True, "finetune", 100, STATUS) as bar:
        for _ in range(100):
            bar.log({"loss": 1.0}, advance=True)
    assert len(capsys.readouterr().out.splitlines()) == 2     # start and end only


def test_off_a_terminal_the_default_is_lines_and_disabled_prints_nothing(monkeypatch, capsys):
    monkeypatch.delenv("DROSOPHILA_PROGRESS", raising=False)
    assert progress_mode() == "lines"                          # pytest captures stdout: no tty
    monkeypatch.setenv("DROSOPHILA_PROGRESS", "off")
    assert progress_mode() == "off"
    with StepProgress(False, "x", 2, STATUS) as bar:
        bar.log({"loss": 1.0}, advance=True)
    assert capsys.readouterr().out == ""


def test_a_worker_prefixes_its_lines_with_its_task(monkeypatch, capsys):
    monkeypatch.setenv("DROSOPHILA_PROGRESS", "lines")
    monkeypatch.setenv("DROSOPHILA_LOG_PREFIX", "[base main s1] ")
    with StepProgress(True, "pretrain small s1", 2, STATUS):
        pass
    assert capsys.readouterr().out.splitlines()[0] == "[base main s1] pretrain small s1: 2 steps"

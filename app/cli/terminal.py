"""``eligsim terminal``: one institution's eligibility terminal answering request files."""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from types import FrameType

import click

from app.service.context import ServiceContext
from app.settings import load_settings
from app.terminal.answers import Terminal
from app.terminal.folders import Folders, FolderTerminal
from app.training.demo_setup import DEMO_CODE

FOLDER = click.Path(file_okay=False, path_type=Path)


@click.command()
@click.option(
    "--req", "requests", required=True, type=FOLDER, help="Folder the requests arrive in."
)
@click.option("--res", "results", required=True, type=FOLDER, help="Folder results are written to.")
@click.option("--face", type=FOLDER, help="Folder for face results [default: the --res folder].")
@click.option(
    "--archive", type=FOLDER, help="Answered requests go here [default: <state>/archive]."
)
@click.option(
    "--state", type=FOLDER, help="Journal and cursors [default: <var>/terminal/<institution>]."
)
@click.option("--institution", default=DEMO_CODE, show_default=True, help="Institution code.")
@click.option(
    "--poll",
    type=click.FloatRange(0.05, 3600),
    help="Look every SECONDS instead of using file-change notification (network shares).",
)
@click.option(
    "--encoding",
    type=click.Choice(["utf-8", "shift_jis"]),
    default="utf-8",
    show_default=True,
    help="Encoding of results no request decides (face results, unreadable requests).",
)
@click.option("--settle", type=click.FloatRange(0.05, 60), default=1.0, show_default=True,
              help="Seconds a file that is not yet a whole request must stay unchanged.")  # fmt: skip
def terminal(
    requests: Path,
    results: Path,
    face: Path | None,
    archive: Path | None,
    state: Path | None,
    institution: str,
    poll: float | None,
    encoding: str,
    settle: float,
) -> None:
    """Act as INSTITUTION's eligibility terminal: answer every request file that appears in --req
    with a result file in --res, and write a face result for every card visit, until stopped."""
    runner: FolderTerminal | None = None
    stopped = threading.Event()

    def _stop(_signal: int, _frame: FrameType | None) -> None:
        stopped.set()
        if runner is not None:
            runner.stop()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    settings = load_settings()
    ctx = ServiceContext.open(settings)
    try:
        state = state or settings.var_dir / "terminal" / institution
        folders = Folders(requests, results, face or results, archive or state / "archive", state)
        runner = FolderTerminal(
            Terminal(ctx, institution, encoding), folders, poll, settle, report=_echo
        )
        runner.start()
        mode = f"polling every {poll} s" if poll else "file-change notification"
        click.echo(
            f"terminal of {institution}: {requests} -> {results} ({mode}); Ctrl-C stops", err=True
        )
        if not stopped.is_set():
            runner.run()
    finally:
        ctx.close()


def _echo(line: str) -> None:
    click.echo(line, err=True)

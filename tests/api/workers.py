"""Real ``eligsim worker`` processes for the tests, and a way to kill them as a dying machine would."""

import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path


def start_worker(rq_environment, *options: str):
    """A real ``eligsim worker`` process."""
    env = {**os.environ, **rq_environment}
    return subprocess.Popen(
        [sys.executable, "-m", "app.cli", "worker", *options],
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
    )


def descendants(pid: int) -> list[int]:
    """Child processes, found through /proc (RQ's work horse leaves its parent's session)."""
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            child = int(stat.parent.name)
            children += [child, *descendants(child)]
    return children


def stop(process):
    """kill -9 the worker and every process it started, as when its machine dies."""
    if process.poll() is None:
        for pid in [process.pid, *descendants(process.pid)]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        process.wait()

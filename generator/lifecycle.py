"""A run stops what it started, however it ends.

``finreport run`` starts processes of its own: Prefect's temporary API server (uvicorn), the printing
processes, the Java reasoner. A run that ends normally, or by SIGTERM or Ctrl-C, stops them as Python unwinds;
one killed with SIGKILL (the OOM killer, ``kill -9``, a scheduler's hard timeout) cannot, and they ran on for
good. So before starting anything a run marks its environment with a token, which every process it starts
inherits, and forks a watchdog that holds the reading end of a pipe the run holds open. When the run is gone
(whatever ended it) the pipe reads end-of-file, and the watchdog stops every process still carrying the token:
SIGTERM, then SIGKILL for those that do not stop within a few seconds. The watchdog ignores SIGINT and SIGTERM,
which a terminal or a scheduler sends to the whole process group, so that it outlives the run it guards.
"""

from __future__ import annotations

import os
import secrets
import signal

import psutil

TOKEN = "FINREPORT_RUN_TOKEN"
"""The environment variable that marks the processes one run started."""

_KEPT: list[int] = []
"""The writing end of each watchdog's pipe, open until this process ends."""


def guard() -> None:
    """Fork the watchdog of this process's children; call it before the run starts anything."""
    token = secrets.token_hex(16)
    os.environ[TOKEN] = token
    read, write = os.pipe()  # neither end is inherited by the processes the run starts
    if os.fork() == 0:
        os.close(write)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        while os.read(read, 1):
            pass
        stop(token)
        os._exit(0)
    os.close(read)
    _KEPT.append(write)  # its end is what the watchdog waits for


def stop(token: str, grace: float = 5.0) -> list[int]:
    """Stop every process whose environment carries ``token``; returns their ids."""
    marked = []
    for process in psutil.process_iter():
        try:
            if process.pid != os.getpid() and process.environ().get(TOKEN) == token:
                marked.append(process)
        except (psutil.Error, OSError):  # gone meanwhile, or another user's
            continue
    for process in marked:
        try:
            process.terminate()
        except psutil.Error:
            continue
    _, alive = psutil.wait_procs(marked, timeout=grace)
    for process in alive:
        try:
            process.kill()
        except psutil.Error:
            continue
    return [p.pid for p in marked]

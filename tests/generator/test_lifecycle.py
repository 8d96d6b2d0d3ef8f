"""A run stops what it started: every process carrying the run's token, and nothing else, even after SIGKILL."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys

import psutil

from generator.lifecycle import TOKEN, stop

SLEEP = [sys.executable, "-c", "import time; time.sleep(120)"]
DEAF = [sys.executable, "-c", "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
                              "print('ready', flush=True); time.sleep(120)"]


def _started(command: list[str], token: str) -> subprocess.Popen[str]:
    return subprocess.Popen(command, env={**os.environ, TOKEN: token}, stdout=subprocess.PIPE, text=True)


def _end(*processes: subprocess.Popen[str]) -> None:
    for process in processes:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=30)


def test_stop_ends_the_processes_carrying_the_token_and_no_other() -> None:
    token = secrets.token_hex(16)
    marked, other = _started(SLEEP, token), _started(SLEEP, secrets.token_hex(16))
    try:
        assert stop(token, grace=10) == [marked.pid]  # stop waits for it (and reaps it: no exit status is left)
        marked.wait(timeout=30)
        assert not psutil.pid_exists(marked.pid)
        assert other.poll() is None
    finally:
        _end(marked, other)


def test_a_process_that_ignores_sigterm_is_killed_after_the_grace_period() -> None:
    token = secrets.token_hex(16)
    deaf = _started(DEAF, token)
    try:
        assert deaf.stdout is not None and deaf.stdout.readline() == "ready\n"
        assert stop(token, grace=1) == [deaf.pid]
        deaf.wait(timeout=30)
        assert not psutil.pid_exists(deaf.pid)
    finally:
        _end(deaf)


def test_the_watchdog_stops_what_a_killed_run_started() -> None:
    """``guard`` in a run that starts a child, then the run killed with SIGKILL: the child and the watchdog end."""
    script = ("import subprocess, sys, time\nfrom generator.lifecycle import guard\nguard()\n"
              f"child = subprocess.Popen({SLEEP!r})\nprint(child.pid, flush=True)\ntime.sleep(120)\n")
    run = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert run.stdout is not None
        child = psutil.Process(int(run.stdout.readline()))
        started = psutil.Process(run.pid).children()
        assert child in started and len(started) == 2  # the child and the watchdog
        run.kill()
        run.wait(timeout=30)
        _, alive = psutil.wait_procs(started, timeout=30)
        assert alive == []
    finally:
        _end(run)

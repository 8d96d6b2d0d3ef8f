"""The product as its operators run it: a real `prefect server` on loopback (SQLite in a temporary home), the
deployments served by `python flows/reports.py`, and an on-demand run created through the API with custom
parameters (the call the UI's Run button makes). The run writes the PDF and e-mails it to a real SMTP server.
"""

from __future__ import annotations

import email
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from email import policy
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from prefect.client.orchestration import get_client
from prefect.deployments import run_deployment
from prefect.settings import PREFECT_API_URL, temporary_settings

from loopback import Inbox, free_port

pytestmark = [pytest.mark.slow, pytest.mark.integration]

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def wait_until(check: Any, what: str, seconds: float, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"{what}: the process exited ({process.returncode}):\n{log.read_text()[-3000:]}")
        try:
            if check():
                return
        except Exception:
            pass
        time.sleep(1)
    pytest.fail(f"{what}: not ready after {seconds} s:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="module")
def served(sample_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    root = tmp_path_factory.mktemp("served")
    port, smtp_port = free_port(), free_port()
    api = f"http://127.0.0.1:{port}/api"
    base = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    base |= {"PREFECT_HOME": str(root / "prefect"), "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    inbox = Inbox()
    smtp = Controller(inbox, hostname="127.0.0.1", port=smtp_port)
    smtp.start()
    server_log, serve_log = root / "server.log", root / "serve.log"
    server = subprocess.Popen([str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
                              env=base, stdout=server_log.open("wb"), stderr=subprocess.STDOUT)
    processes = [server]
    try:
        wait_until(lambda: urllib.request.urlopen(f"{api}/health", timeout=2).status == 200, "prefect server", 180,
                   server, server_log)
        serve_env = base | {"PREFECT_API_URL": api, "FINREPORT_SMTP_HOST": "127.0.0.1",
                            "FINREPORT_SMTP_PORT": str(smtp_port), "FINREPORT_SMTP_SECURITY": "insecure",
                            "FINREPORT_OUTBOX_DIR": str(root / "outbox")}
        serving = subprocess.Popen([sys.executable, "flows/reports.py"], cwd=ROOT, env=serve_env,
                                   stdout=serve_log.open("wb"), stderr=subprocess.STDOUT)
        processes.append(serving)
        with temporary_settings({PREFECT_API_URL: api}):
            def deployed() -> bool:
                with get_client(sync_client=True) as client:
                    return client.read_deployment_by_name("on-demand-report/on-demand") is not None
            wait_until(deployed, "served deployments", 120, serving, serve_log)
            yield {"root": root, "sample": sample_dir, "inbox": inbox, "serve_log": serve_log, "api": api}
    finally:
        for process in reversed(processes):
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
        smtp.stop()


def test_an_on_demand_run_created_through_the_api_writes_and_mails_the_report(served: dict[str, Any]) -> None:
    root = served["root"]
    parameters = {"request": {"inputs": [str(served["sample"] / "wide" / "KOLA.csv")], "entities": ["KOLA"],
                              "as_of": "2026-11-28", "output_dir": str(root / "out"), "dated_folder": False,
                              "recipients": ["desk@example.com"]}}
    with temporary_settings({PREFECT_API_URL: served["api"]}):
        run = run_deployment("on-demand-report/on-demand", parameters=parameters, timeout=600)
    assert run.state is not None
    assert run.state.is_completed(), f"{run.state}\n{served['serve_log'].read_text()[-3000:]}"
    assert run.state.message == f"1 of 1 reports written to {root / 'out'}"
    pdf = root / "out" / "KOLA" / "report.pdf"
    assert pdf.read_bytes().startswith(b"%PDF-")
    ((_, recipients, raw),) = served["inbox"].received
    assert recipients == ["desk@example.com"]
    (attachment,) = list(email.message_from_bytes(raw, policy=policy.default).iter_attachments())
    assert attachment.get_content() == pdf.read_bytes()


def test_the_nightly_deployment_has_its_schedule(served: dict[str, Any]) -> None:
    with temporary_settings({PREFECT_API_URL: served["api"]}), get_client(sync_client=True) as client:
        nightly = client.read_deployment_by_name("nightly-reports/nightly")
    (schedule,) = nightly.schedules
    assert (schedule.schedule.cron, schedule.schedule.timezone) == ("0 5 * * *", "America/New_York")
    assert schedule.active

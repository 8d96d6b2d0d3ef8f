"""E-mail delivery against a real SMTP server on loopback (aiosmtpd): what arrives, what waits, what is refused.

The PDFs are real reports of two sample companies; the outbox is a real folder; ``finreport deliver --retry``
runs as a user runs it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from generator import deliver
from generator.manifest import write_run
from generator.narrator import Context
from generator.outputs import folder_names
from generator.pack import write_entity
from generator.pipeline import answer, build
from generator.present import MARKET, PORTFOLIO
from generator.render import job, print_pdf
from generator.sample import ROLES

from loopback import AnswersAt, DropsAfterData, Inbox, free_port

ROOT = Path(__file__).resolve().parents[2]
VOLT = ROLES["loss_maker"]
PASSWORD = "s3cret-Pa55word"


def smtp_server(inbox: Inbox, port: int, auth: bool = False) -> Controller:
    def check(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        return AuthResult(success=data.login == b"finreport" and data.password == PASSWORD.encode())

    options: dict[str, Any] = {"authenticator": check, "auth_required": True, "auth_require_tls": False} if auth \
        else {}
    controller = Controller(inbox, hostname="127.0.0.1", port=port, **options)
    controller.start()
    return controller


def plain(port: int, **extra: Any) -> deliver.SmtpSettings:
    return deliver.SmtpSettings(host="127.0.0.1", port=port, security="insecure", timeout=5, **extra)


@pytest.fixture(scope="module")
def mails(sample_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> list[deliver.ReportMail]:
    """Two real reports (KOLA and the loss-maker of the shared sample), written and printed by the stage functions."""
    root = tmp_path_factory.mktemp("mail")
    run = build([sample_dir / "wide" / "KOLA.csv", sample_dir / "wide" / f"{VOLT}.csv"])
    manifest = write_run(run, root / "out", as_of="2026-11-28")
    answered = answer(run, run.entities)
    out = []
    for entity, folder in folder_names(run.entities).items():
        report = write_entity(run, entity, root / "out" / folder, manifest["run_id"], "2026-11-28",
                              answered[entity])
        pdf = root / "out" / folder / "report.pdf"
        print_pdf(job(report, run.analysis, manifest, pdf))
        out.append(deliver.report_mail(report.context, report.answers, report.findings, pdf))
    return out


def subscriptions(**extra: Any) -> deliver.Subscriptions:
    return deliver.Subscriptions.model_validate({
        "sender": "finreport <reports@example.com>",
        "readers": [
            {"address": "desk@example.com", "name": "Credit desk", "mode": "digest"},
            {"address": "ana@example.com", "name": "Ana Lyst", "entities": [VOLT], "mode": "per_company"},
        ],
        **extra,
    })


def queued(mails: list[deliver.ReportMail], tmp_path: Path, run_id: str) -> deliver.Outbox:
    """An outbox holding the messages the two readers are owed for the run."""
    outbox = deliver.Outbox(tmp_path / "outbox")
    for draft in deliver.plan(run_id, "2026-11-28", mails, subscriptions()):
        outbox.put(draft)
    return outbox


@pytest.mark.integration
def test_each_reader_gets_their_reports_with_both_bodies_and_the_pdf(mails: list[deliver.ReportMail],
                                                                     tmp_path: Path) -> None:
    inbox, port = Inbox(), free_port()
    server = smtp_server(inbox, port)
    try:
        outbox = deliver.Outbox(tmp_path / "outbox")
        drafts = deliver.plan("run1", "2026-11-28", mails, subscriptions())
        assert all(outbox.put(d) for d in drafts)
        result = outbox.send(plain(port))
    finally:
        server.stop()
    assert len(result.sent) == 2 and not result.waiting and not result.rejected
    by_rcpt = {rcpts[0]: msg for (_, rcpts, _), msg in zip(inbox.received, inbox.messages(), strict=True)}
    digest, single = by_rcpt["desk@example.com"], by_rcpt["ana@example.com"]
    assert digest["To"] == "Credit desk <desk@example.com>"
    assert digest["Subject"] == "2 reports as of 2026-11-28"
    assert single["Subject"] == "Voltaris Motors Inc.: FY2025 report as of 2026-11-28"
    assert inbox.received[0][0] == "reports@example.com"
    text = single.get_body(("plain",)).get_content()
    html = single.get_body(("html",)).get_content()
    volt = next(m for m in mails if m.entity_id == VOLT)
    for name, value in volt.kpis:
        assert f"{name}: {value}" in text
        assert value in html
    assert "Severe liquidity concern" in text or "severe liquidity concern" in text
    assert volt.verification in text
    (attachment,) = list(single.iter_attachments())
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_filename() == "Voltaris Motors Inc. FY2025.pdf"
    assert attachment.get_content() == volt.pdf.read_bytes()
    assert sorted(a.get_content() for a in digest.iter_attachments()) == sorted(m.pdf.read_bytes() for m in mails)
    sent = json.loads(next((tmp_path / "outbox" / "sent").glob("*.json")).read_text())
    assert sent["attempts"][-1]["reply"].startswith("250 2.0.0 queued as Q")


@pytest.mark.integration
def test_server_down_keeps_the_outbox_and_deliver_retry_sends_each_once(mails: list[deliver.ReportMail],
                                                                      tmp_path: Path) -> None:
    port = free_port()
    outbox = queued(mails, tmp_path, "run2")
    down = outbox.send(plain(port))
    assert down.sent == [] and len(down.waiting) == 2
    assert "ConnectionRefusedError" in down.waiting[0]["error"]
    assert len(list((tmp_path / "outbox" / "pending").glob("*.eml"))) == 2
    assert all(meta["attempts"] for meta in outbox.waiting())

    env = {**os.environ, "FINREPORT_OUTBOX_DIR": str(tmp_path / "outbox"), "FINREPORT_SMTP_HOST": "127.0.0.1",
           "FINREPORT_SMTP_PORT": str(port), "FINREPORT_SMTP_SECURITY": "insecure"}
    command = [sys.executable, "-m", "flows.cli", "deliver", "--retry"]
    still_down = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert still_down.returncode == 1
    assert still_down.stderr.strip().startswith("finreport: error: 2 e-mails still waiting in")

    inbox = Inbox()
    server = smtp_server(inbox, port)
    try:
        first = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
        again = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
        for draft in deliver.plan("rerun", "2026-11-28", mails, subscriptions()):
            assert not outbox.put(draft)  # the same reports run again under a new run id: already in the outbox
        third = outbox.send(plain(port))
    finally:
        server.stop()
    assert first.returncode == 0, first.stderr
    assert "2 sent, 0 still waiting, 0 rejected" in first.stdout
    assert "0 sent, 0 still waiting, 0 rejected" in again.stdout
    assert third.sent == []
    assert sorted(r[1][0] for r in inbox.received) == ["ana@example.com", "desk@example.com"]


@pytest.mark.integration
def test_a_message_the_server_may_have_stored_is_not_sent_again_blindly(mails: list[deliver.ReportMail],
                                                                         tmp_path: Path) -> None:
    """The server stored a message and died before answering 250; `deliver --retry` sent it again. Now it is
    'maybe sent': listed with what to do, never sent by a retry, sent again only with --resend."""
    inbox, port = DropsAfterData(), free_port()
    server = smtp_server(inbox, port)
    outbox = queued(mails, tmp_path, "run4")
    try:
        broken = outbox.send(plain(port))
        first = inbox.received[0][1][0]
        assert [u["recipient"] for u in broken.unconfirmed] == [first]
        assert "it may have arrived" in broken.unconfirmed[0]["error"]
        assert broken.sent == [] and len(broken.waiting) == 1  # the connection is gone: the other one waits
        env = {**os.environ, "FINREPORT_OUTBOX_DIR": str(tmp_path / "outbox"), "FINREPORT_SMTP_HOST": "127.0.0.1",
               "FINREPORT_SMTP_PORT": str(port), "FINREPORT_SMTP_SECURITY": "insecure"}
        command = [sys.executable, "-m", "flows.cli", "deliver"]
        retried = subprocess.run([*command, "--retry"], env=env, cwd=ROOT, capture_output=True, text=True,
                                 timeout=120, check=False)
        assert retried.returncode == 0, retried.stderr
        assert "1 sent, 0 still waiting, 0 rejected" in retried.stdout
        mid = broken.unconfirmed[0]["id"]
        assert f"maybe sent {mid}  {first}" in retried.stdout and f"finreport deliver --resend {mid}" in retried.stdout
        assert sorted(r[1][0] for r in inbox.received) == ["ana@example.com", "desk@example.com"]  # each once
        unknown = subprocess.run([*command, "--resend", "nope"], env=env, cwd=ROOT, capture_output=True, text=True,
                                 timeout=120, check=False)
        assert unknown.returncode == 2 and "no unconfirmed message 'nope'" in unknown.stderr
        resent = subprocess.run([*command, "--resend", mid], env=env, cwd=ROOT, capture_output=True, text=True,
                                timeout=120, check=False)
        assert resent.returncode == 0 and "1 sent" in resent.stdout and "maybe sent" not in resent.stdout
    finally:
        server.stop()
    assert [r[1][0] for r in inbox.received].count(first) == 2  # the second time because a person said so
    assert outbox.maybe_sent() == [] and outbox.waiting() == []


@pytest.mark.integration
@pytest.mark.parametrize("step", ["MAIL", "RCPT", "DATA"])
@pytest.mark.parametrize(("reply", "outcome"), [("451 4.3.0 try again later", "waiting"),
                                                 ("550 5.7.1 refused by policy", "rejected")])
def test_a_refusal_at_any_step_waits_or_is_final_by_its_code(mails: list[deliver.ReportMail], tmp_path: Path,
                                                             step: str, reply: str, outcome: str) -> None:
    """The server may refuse at MAIL, RCPT or after the message: 4xx keeps it pending for a retry, 5xx moves it to
    rejected with the server's words; nothing arrives, and the outbox says which."""
    inbox, port = AnswersAt(step, reply), free_port()
    server = smtp_server(inbox, port)
    try:
        outbox = queued(mails, tmp_path, "run5")
        result = outbox.send(plain(port))
    finally:
        server.stop()
    assert inbox.received == [] and result.sent == [] and result.unconfirmed == []
    other = "rejected" if outcome == "waiting" else "waiting"
    assert [r["error"] for r in getattr(result, outcome)] == [reply, reply] and getattr(result, other) == []
    folder = tmp_path / "outbox" / ("pending" if outcome == "waiting" else "rejected")
    assert len(list(folder.glob("*.eml"))) == 2


def test_per_company_messages_are_no_parts_of_a_digest(mails: list[deliver.ReportMail]) -> None:
    """A reader of two companies, one message each, got subjects ending '(1 of 2)' and '(2 of 2)'."""
    both = deliver.Subscriptions(sender="reports@example.com", readers=[
        {"address": "ana@example.com", "entities": [m.entity_id for m in mails], "mode": "per_company"}])
    subjects = sorted(str(d.message["Subject"]) for d in deliver.plan("run7", "2026-11-28", mails, both))
    assert subjects == ["Kola Beverages Co.: FY2025 report as of 2026-11-28",
                        "Voltaris Motors Inc.: FY2025 report as of 2026-11-28"]


def test_a_message_is_what_it_says_not_which_run_made_it(mails: list[deliver.ReportMail], tmp_path: Path) -> None:
    """Running the same day's reports again sent every message again: its id held the run id."""
    first = deliver.plan("run-a", "2026-11-28", mails, subscriptions())
    assert [d.message_id for d in deliver.plan("run-b", "2026-11-28", mails, subscriptions())] == \
        [d.message_id for d in first]
    assert not set(d.message_id for d in deliver.plan("run-b", "2026-11-29", mails, subscriptions())) & \
        {d.message_id for d in first}  # another day's pack is another message
    changed = tmp_path / "changed"
    changed.mkdir()
    for name in ("report.pdf", "facts.json", "answers.json"):
        (changed / name).write_bytes((mails[0].pdf.parent / name).read_bytes())
    (changed / "answers.json").write_text("[]", encoding="utf-8")  # a corrected report is a new message
    corrected = [replace(mails[0], pdf=changed / "report.pdf"), *mails[1:]]
    assert {d.message_id for d in deliver.plan("run-c", "2026-11-28", corrected, subscriptions())} != \
        {d.message_id for d in first}


@pytest.mark.integration
def test_a_refused_recipient_does_not_stop_the_others(mails: list[deliver.ReportMail], tmp_path: Path) -> None:
    inbox, port = Inbox(refuse=("ana@example.com",)), free_port()
    server = smtp_server(inbox, port)
    try:
        outbox = queued(mails, tmp_path, "run3")
        result = outbox.send(plain(port))
        retried = outbox.send(plain(port))
    finally:
        server.stop()
    assert [r[1] for r in inbox.received] == [["desk@example.com"]]
    assert result.rejected == [{"id": result.rejected[0]["id"], "recipient": "ana@example.com",
                                "error": "550 5.1.1 no such mailbox here"}]
    assert len(result.sent) == 1 and not result.waiting
    assert retried.sent == [] and retried.rejected == []  # a refusal is final: not sent again
    assert len(list((tmp_path / "outbox" / "rejected").glob("*.eml"))) == 1


def test_large_digests_are_split_under_the_limit(mails: list[deliver.ReportMail]) -> None:
    limit = max(m.pdf.stat().st_size for m in mails) * 4 // 3 + 80_000
    drafts = deliver.plan("run4", "2026-11-28", mails, subscriptions(max_message_bytes=limit))
    digests = [d for d in drafts if d.recipient == "desk@example.com"]
    assert [str(d.message["Subject"]) for d in digests] == [
        "Kola Beverages Co.: FY2025 report as of 2026-11-28 (1 of 2)",
        "Voltaris Motors Inc.: FY2025 report as of 2026-11-28 (2 of 2)"]
    assert all(len(d.message.as_bytes()) <= limit for d in digests)
    assert len({d.message_id for d in drafts}) == len(drafts)


@pytest.mark.integration
@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_the_password_goes_to_the_server_and_nowhere_else(mails: list[deliver.ReportMail], tmp_path: Path,
                                                          caplog: pytest.LogCaptureFixture) -> None:
    inbox, port = Inbox(), free_port()
    server = smtp_server(inbox, port, auth=True)
    settings = plain(port, username="finreport", password=PASSWORD)
    try:
        outbox = queued(mails, tmp_path, "run5")
        wrong = outbox.send(plain(port, username="finreport", password="wrong"))
        result = outbox.send(settings)
    finally:
        server.stop()
    assert wrong.sent == [] and len(wrong.waiting) == 2  # refused login: nothing sent, everything kept
    assert len(result.sent) == 2
    written = "".join(p.read_text(errors="replace") for p in (tmp_path / "outbox").rglob("*") if p.is_file())
    for text in (written, caplog.text, settings.describe(), repr(settings), json.dumps(result.record())):
        assert PASSWORD not in text


def test_data_in_an_email_stays_text(mails: list[deliver.ReportMail]) -> None:
    hostile = deliver.ReportMail(**{**mails[0].__dict__, "company": '<img src="http://x/y"><script>x</script>'})
    draft = deliver.plan("run6", "2026-11-28", [hostile], deliver.Subscriptions(
        readers=[deliver.Reader(address="a@example.com", name="<b>Bob</b>")]))[0]
    html = draft.message.get_body(("html",)).get_content()
    assert "<script>" not in html and "&lt;script&gt;" in html and "<img" not in html
    assert "&lt;b&gt;Bob&lt;/b&gt;" in html
    (attachment,) = list(draft.message.iter_attachments())
    assert attachment.get_filename() == "img srchttpxyscriptxscript FY2025.pdf"


@pytest.mark.parametrize("address", ["a@b.com\nBcc: evil@x.com", "A <a@b.com>", "a@b.com, c@d.com", "nobody"])
def test_addresses_are_single_and_plain(address: str) -> None:
    with pytest.raises(ValueError, match="not a single e-mail address"):
        deliver.Reader(address=address)


def test_a_wrong_subscriptions_file_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "subs.toml"
    path.write_text('[[readers]]\naddress = "ana@example.com"\nmode = "weekly"\n')
    with pytest.raises(deliver.UsageError, match=r"subs.toml: readers.0.mode: Input should be 'per_company' or"):
        deliver.load_subscriptions(path)
    example = deliver.load_subscriptions(ROOT / "config" / "subscriptions.example.toml")
    assert [r.mode for r in example.readers] == ["digest", "per_company", "digest"]
    assert example.readers[-1].portfolios == ["GLOBAL", "CONVICTION"]


def test_a_mail_gives_the_share_s_figures_and_a_share_with_prices_alone_has_a_market_report(tmp_path: Path) -> None:
    """Beside the statements' key figures, the one-year return and volatility; a company with prices alone has no
    statement figures to give, and its report is a market report, not one of "at the last close"."""
    flag = {"flag": "DeepDrawdown", "label": "deep drawdown", "severity": "concern"}
    both = Context("VOLT", "Voltaris", None, "USD", 2025, "FY", {"revenue": 682.5e6, "return_1y": -0.155,
                                                                   "volatility_1y": 0.585}, {}, flags=[flag],
                   as_of="2026-11-27")
    alone = Context("ZETA", "ZETA", None, "USD", 2026, MARKET, {"return_1y": 0.12}, {}, as_of="2026-11-27")
    mail = deliver.report_mail(both, [], [], tmp_path / "VOLT.pdf")
    assert mail.kpis[0] == ("Revenue", "$682.5m") and mail.kpis[-2:] == (
        ("One-year total return", "-15.5%"), ("One-year volatility", "58.5%"))
    assert mail.flags == ("deep drawdown",)
    share = deliver.report_mail(alone, [], [], tmp_path / "ZETA.pdf")
    assert (share.period, share.kpis) == ("market", (("One-year total return", "12.0%"),))


def test_a_portfolio_mail_gives_its_value_risk_and_own_flags_and_goes_to_its_followers(tmp_path: Path) -> None:
    """A portfolio's report goes to a reader who follows it by id, or who follows everything; a reader of companies
    or sectors alone does not get it. Its mail gives the value, the one-year return and volatility and the
    concentration, and its own flags, a watch too."""
    flags = [{"flag": "ConcentratedPortfolio", "label": "concentrated portfolio", "severity": "watch"}]
    book = Context("GLOBAL", "Global income", None, "EUR", 2026, PORTFOLIO,
                   {"market_value": 1.0e6, "return_1y": 0.39, "volatility_1y": 0.217, "effective_holdings": 3.85},
                   {}, flags=flags, as_of="2026-11-27")
    (tmp_path / "report.pdf").write_bytes(b"%PDF-1.7 portfolio")
    (tmp_path / "portfolio.json").write_text("{}")
    (tmp_path / "answers.json").write_text("[]")
    mail = deliver.portfolio_mail(book, [], tmp_path / "report.pdf")
    assert (mail.kind, mail.period, mail.flags) == ("portfolio", "portfolio", ("concentrated portfolio",))
    assert mail.kpis == (("Market value", "€1.0m"), ("One-year total return", "39.0%"),
                         ("One-year volatility", "21.7%"), ("Effective number of holdings", "3.85"))
    readers = {r["address"]: deliver.Reader.model_validate(r) for r in (
        {"address": "all@example.com"}, {"address": "pm@example.com", "portfolios": ["GLOBAL"]},
        {"address": "other@example.com", "portfolios": ["CONVICTION"]},
        {"address": "desk@example.com", "sectors": ["Energy"], "entities": ["GLOBAL"]})}
    assert [a for a, r in readers.items() if r.follows(mail)] == ["all@example.com", "pm@example.com"]
    (message,) = deliver.plan("run", "2026-11-27", [mail], deliver.Subscriptions(readers=[readers["pm@example.com"]]))
    assert message.message["Subject"] == "Global income: portfolio report as of 2026-11-27"
    body = message.message.get_body(("plain",)).get_content()
    assert "The portfolio report on Global income as of 2026-11-27 is attached." in body
    assert "Market value: €1.0m" in body and "Risk flags: concentrated portfolio" in body


def test_the_readers_own_questions_are_in_the_email_as_text(mails: list[deliver.ReportMail]) -> None:
    asked = (("What was the free cash flow in 2025?", "Kola Beverages Co.'s free cash flow was $1.2bn in FY2025."),
             ("<script>x</script>?", "This cannot be answered from the inputs: no company called 'x' is in them."))
    mail = deliver.ReportMail(**{**mails[0].__dict__, "asked": asked})
    draft = deliver.plan("run7", "2026-11-28", [mail], deliver.Subscriptions(
        readers=[deliver.Reader(address="a@example.com")]))[0]
    text = draft.message.get_body(("plain",)).get_content()
    html = draft.message.get_body(("html",)).get_content()
    for body in (text, html):
        assert "Your questions" in body and "free cash flow was $1.2bn in FY2025" in body
    assert "<script>" not in html and "&lt;script&gt;" in html


def test_a_reader_may_take_only_the_reports_that_changed_and_subjects_say_what_did(
        mails: list[deliver.ReportMail]) -> None:
    lines = ("2 flags raised: Liquidity concern (FY2025), High leverage (FY2025).",)
    changed = replace(mails[1], changes=lines, headline="2 new risk flags", changed=True)
    same = replace(mails[0], changed=False)
    readers = deliver.Subscriptions(readers=[
        deliver.Reader(address="busy@example.com", only_changed=True, mode="per_company"),
        deliver.Reader(address="all@example.com")])
    drafts = deliver.plan("run8", "2026-12-01", [same, changed], readers)
    busy = [d for d in drafts if d.recipient == "busy@example.com"]
    assert [d.entities for d in busy] == [[changed.entity_id]]
    assert busy[0].message["Subject"].endswith("as of 2026-12-01: 2 new risk flags")
    digest = next(d for d in drafts if d.recipient == "all@example.com")
    assert digest.message["Subject"] == "2 reports as of 2026-12-01: 2 new risk flags, 1 changed"
    for body in (digest.message.get_body(("plain",)).get_content(), digest.message.get_body(("html",)).get_content()):
        assert "Since the last run" in body and "Liquidity concern (FY2025)" in body
        assert "Unchanged since the last run." in body


def test_a_reused_report_is_mailed_from_the_record_of_its_edition(mails: list[deliver.ReportMail],
                                                                  tmp_path: Path) -> None:
    mail = replace(mails[0], changes=("New period: FY2025.",), headline="new period FY2025", asked=(("q?", "a."),))
    record = json.loads(json.dumps(mail.record()))
    assert record["pdf"] == "report.pdf"
    again = deliver.ReportMail.reused(record, tmp_path / "report.pdf")
    assert again == replace(mail, pdf=tmp_path / "report.pdf", changes=(), headline="", changed=False)

"""Delivery: each reader gets the reports they follow by e-mail, through an outbox on disk, each message once.

Every message is written to ``outbox/pending/`` before anything is sent. When the server accepts it, it moves
to ``outbox/sent/`` with the server's reply; when the server refuses the recipient for good (5xx), to
``outbox/rejected/`` with the refusal; when the server cannot be reached or answers "try later" (4xx), it
stays pending with the error, for the flow's retries and then ``finreport deliver --retry``. When the
connection breaks after the message itself went out and before the server answered, the server may have
stored it: it moves to ``outbox/unconfirmed/`` and is not sent again by a retry, only when someone who checked
with the recipient says so (``finreport deliver --resend ID``). A message's id is derived from the as-of date,
the recipient and the reports' contents: planning the same reports again, or retrying, finds the id already
in the outbox and sends nothing twice.

SMTP is STARTTLS by default (or implicit TLS); plain SMTP only when configured as ``insecure``. The password
is a ``SecretStr`` from the settings or a prefect-email ``EmailServerCredentials`` block, and goes nowhere but
the server's AUTH command: not into logs, artifacts, the outbox or the manifest.
"""

from __future__ import annotations

import hashlib
import json
import re
import smtplib
import ssl
import tomllib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, SecretStr, ValidationError, field_validator

from generator import present
from generator.changes import FIRST, headline
from generator.errors import UsageError
from generator.metrics import definition, label
from generator.outputs import write_atomic
from generator.settings import Settings

_ENV = present.templates(html_only=True)
_ADDRESS = re.compile(r"^[^@\s<>,;\"]+@[^@\s<>,;\"]+\.[^@\s<>,;\"]+$")


def check_address(value: str) -> str:
    """One plain address: no display name, no list, no line break (a header injection needs one)."""
    if not _ADDRESS.match(value):
        raise ValueError(f"not a single e-mail address: {value!r}")
    return value


class Reader(BaseModel):
    """One subscriber: who, which companies (by entity id or sector) and portfolios (by id) they follow (none of
    these: every report), in what form."""

    address: str = Field(description="E-mail address")
    name: str = Field("", description="Name shown in the greeting and the To header")
    entities: list[str] = Field(default_factory=list, description="Entity ids followed")
    sectors: list[str] = Field(default_factory=list, description="Sectors followed")
    portfolios: list[str] = Field(default_factory=list, description="Portfolio ids followed")
    mode: Literal["per_company", "digest"] = Field("digest", description="One e-mail per company, or one per run")
    with_findings: bool = Field(True, description="Also send reports that have data-quality findings")
    only_changed: bool = Field(False, description="Only reports that changed since the last run (new periods, "
                               "flags raised or cleared, restatements, figures moved, answers rewritten)")

    @field_validator("address")
    @classmethod
    def _one_address(cls, value: str) -> str:
        return check_address(value)

    def follows(self, mail: ReportMail) -> bool:
        """Whether this reader gets the report: it is one of their companies, sectors or portfolios (or they follow
        everything), and its findings do not keep it from them."""
        everything = not self.entities and not self.sectors and not self.portfolios
        if mail.kind == "portfolio":
            chosen = everything or mail.entity_id in self.portfolios
        else:
            chosen = everything or mail.entity_id in self.entities or mail.sector in self.sectors
        return chosen and (self.with_findings or not mail.findings) and (mail.changed or not self.only_changed)


class Subscriptions(BaseModel):
    """The subscriptions file (TOML): who the e-mails come from, how large one may grow, and who reads what."""

    sender: str = Field("finreport <reports@localhost>", description="From header")
    max_message_bytes: int = Field(10_000_000, gt=0, description="Larger digests are split into several e-mails")
    readers: list[Reader] = Field(default_factory=list)


def load_subscriptions(path: Path) -> Subscriptions:
    """The subscriptions file (TOML); a mistake in it is one line naming the file and the field."""
    try:
        return Subscriptions.model_validate(tomllib.loads(path.read_text("utf-8")))
    except FileNotFoundError:
        raise UsageError(f"no subscriptions file {path} (copy config/subscriptions.example.toml)") from None
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{path}: {exc}") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise UsageError(f"{path}: {where}: {first['msg']}") from None


class SmtpSettings(BaseModel):
    """The server a run sends through and how it logs in, from the settings or a prefect-email block; the password stays
    a ``SecretStr`` until the AUTH command needs it."""

    host: str = "localhost"
    port: int | None = None
    security: Literal["starttls", "ssl", "insecure"] = "starttls"
    username: str | None = None
    password: SecretStr | None = None
    verify: bool = True
    timeout: float = 30.0

    def describe(self) -> str:
        """For logs and summaries: where, how, as whom; never the password."""
        return f"{self.host}:{self.real_port()} ({self.security}{', as ' + self.username if self.username else ''})"

    def real_port(self) -> int:
        """The port asked for, or the usual one of the security chosen (587 STARTTLS, 465 implicit TLS, 25 plain)."""
        return self.port or {"starttls": 587, "ssl": 465, "insecure": 25}[self.security]


def smtp_settings(settings: Settings) -> SmtpSettings:
    """The server to send through: a prefect-email block when one is named, else the FINREPORT_SMTP_* settings."""
    if settings.smtp_block:
        return smtp_from_block(settings.smtp_block)
    return SmtpSettings(host=settings.smtp_host, port=settings.smtp_port, security=settings.smtp_security,
                        username=settings.smtp_username, password=settings.smtp_password, verify=settings.smtp_verify)


def smtp_from_block(name: str) -> SmtpSettings:
    """The server and credentials kept in a prefect-email ``EmailServerCredentials`` block."""
    from prefect_email import EmailServerCredentials

    block = EmailServerCredentials.load(name)
    host = block.smtp_server.value if hasattr(block.smtp_server, "value") else str(block.smtp_server)
    security = {"SSL": "ssl", "STARTTLS": "starttls", "INSECURE": "insecure"}[block.smtp_type.name]
    return SmtpSettings(host=host, port=block.smtp_port, security=security, username=block.username,
                        password=block.password if block.password.get_secret_value() else None,
                        verify=bool(block.verify))


@contextmanager
def connect(smtp: SmtpSettings) -> Iterator[smtplib.SMTP]:
    """A connection secured and logged in as configured, ended however the block ends: ``QUIT``, or a plain close when
    the server no longer answers."""
    context = ssl.create_default_context()
    if not smtp.verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if smtp.security == "ssl":
        server: smtplib.SMTP = smtplib.SMTP_SSL(smtp.host, smtp.real_port(), timeout=smtp.timeout, context=context)
    else:
        server = smtplib.SMTP(smtp.host, smtp.real_port(), timeout=smtp.timeout)
    try:
        if smtp.security == "starttls":
            server.starttls(context=context)
        if smtp.username:
            server.login(smtp.username, smtp.password.get_secret_value() if smtp.password else "")
        yield server
    finally:
        try:
            server.quit()
        except (smtplib.SMTPException, OSError):  # the server is gone, or TLS broke: nothing to say goodbye to
            server.close()


@dataclass(frozen=True)
class ReportMail:
    """What an e-mail says about one report, and the PDF it attaches."""

    entity_id: str
    company: str
    sector: str | None
    period: str
    pdf: Path
    kpis: tuple[tuple[str, str], ...]
    flags: tuple[str, ...]
    findings: int
    verification: str
    kind: Literal["company", "portfolio"] = "company"
    asked: tuple[tuple[str, str], ...] = ()
    """The reader's own questions and their answers' text."""
    changes: tuple[str, ...] = ()
    """What changed since the last run, as the report's "Since the last run" section says it."""
    headline: str = ""
    """The same in a few words, for the subject ("2 new risk flags"); empty when nothing changed."""
    changed: bool = True
    """Whether the report changed since the last run (a first report has)."""

    def record(self) -> dict[str, Any]:
        """The e-mail's fields as JSON, kept with the report's edition: a reused report is mailed from them."""
        return asdict(self) | {"pdf": self.pdf.name}

    @classmethod
    def reused(cls, record: dict[str, Any], pdf: Path) -> ReportMail:
        """The e-mail of a report reused unchanged from the last run, the PDF where tonight's run put it."""
        fields = {k: tuple(tuple(v) if isinstance(v, list) else v for v in value) if isinstance(value, list) else value
                  for k, value in record.items()}
        return cls(**fields | {"pdf": pdf, "changes": (), "headline": "", "changed": False})


def _verification(answers: Sequence[Any]) -> str:
    origins = [a.origin for a in answers]
    if set(origins) <= {"reference"}:
        return f"All {len(origins)} answers are reference text: every number in them is rendered from the facts."
    return f"{origins.count('model')} of {len(origins)} answers written by the model and verified against the facts; " \
           "the others are reference text."


def report_mail(context: Any, answers: Sequence[Any], findings: Sequence[dict[str, Any]], pdf: Path,
                asked: Sequence[dict[str, Any]] = (), changed: dict[str, Any] | None = None,
                since: Sequence[str] = ()) -> ReportMail:
    """What an e-mail says of one written report: its key figures as the report shows them (the statements', the
    share's), its concern flags, how many warnings and errors its findings hold, how its answers were verified, and
    what changed since the last run (``changed``, :func:`generator.changes.compare`; ``since``: its sentences). A
    company with prices alone has a "market" report."""
    names = (present.MAIL_KPIS if context.statements else ()) + tuple(
        m for m in present.MAIL_MARKET_KPIS if context.metrics.get(m) is not None)
    kpis = tuple((present.capitalised(label(m)), present.by_unit(context.metrics.get(m), definition(m).unit,
                                                                 context.currency)) for m in names)
    issues = [f for f in findings if f.get("severity") in ("warning", "error")]
    return ReportMail(context.entity_id, context.company, context.sector,
                      context.period if context.statements else "market", pdf, kpis,
                      tuple(f["label"] for f in context.flags if f["severity"] == "concern"), len(issues),
                      _verification(answers), asked=tuple((a["question"], a["text"]) for a in asked),
                      changes=tuple(since), headline=headline(changed) if changed else "",
                      changed=bool(changed and changed.get("changed")) if changed is not None else True)


PORTFOLIO_MAIL_KPIS = ("market_value", "return_1y", "volatility_1y", "max_drawdown_1y", "effective_holdings")
"""A portfolio's figures an e-mail gives beside its flags."""


def portfolio_mail(context: Any, answers: Sequence[Any], pdf: Path) -> ReportMail:
    """What an e-mail says of one written portfolio report: its value, risk and concentration as the report shows
    them, its own flags (concerns and watches: a concentrated book is worth a line), how its answers were
    verified."""
    kpis = tuple((present.capitalised(label(m)), present.by_unit(context.metrics[m], definition(m).unit,
                                                                 context.currency))
                 for m in PORTFOLIO_MAIL_KPIS if context.metrics.get(m) is not None)
    issues = [f for f in context.findings if f.get("severity") in ("warning", "error")]
    return ReportMail(context.entity_id, context.company, None, "portfolio", pdf, kpis,
                      tuple(f["label"] for f in context.flags if f["severity"] in ("concern", "watch")), len(issues),
                      _verification(answers), "portfolio")


@dataclass
class OutboxMail:
    """One message the outbox is to send: its id (what it is, so the same message is never queued twice), its
    reader, the companies whose reports it carries, and the message itself."""

    message_id: str
    recipient: str
    entities: list[str]
    message: EmailMessage


def message_id(as_of: str, recipient: str, mails: Sequence[ReportMail]) -> str:
    """What the message is, not which run made it: the as-of date, the reader and what each report says. The
    run id made every rerun of a day's reports a new message, and every reader got them all again; the outbox
    keeps a message it knows from being queued twice."""
    key = json.dumps([as_of, recipient.lower(), sorted((m.entity_id, _content(m)) for m in mails)])
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:24]


def _content(mail: ReportMail) -> str:
    """A report's figures and answers (``facts.json``, ``answers.json`` beside the PDF, which carry no run id);
    the PDF's own bytes where they are missing."""
    digest = hashlib.sha256()
    figures = "portfolio.json" if mail.kind == "portfolio" else "facts.json"
    parts = [mail.pdf.with_name(name) for name in (figures, "answers.json")]
    for part in parts if all(p.is_file() for p in parts) else [mail.pdf]:
        digest.update(part.read_bytes())
    return digest.hexdigest()


def plan(run_id: str, as_of: str, mails: Sequence[ReportMail], subscriptions: Subscriptions,
         recipients: Sequence[str] = ()) -> list[OutboxMail]:
    """Every message the run owes its readers; extra ``recipients`` (an on-demand run's form) get a digest."""
    readers = list(subscriptions.readers) + [Reader(address=r) for r in recipients]
    drafts = []
    for reader in readers:
        chosen = [m for m in mails if reader.follows(m)]
        if not chosen:
            continue
        groups = [[m] for m in chosen] if reader.mode == "per_company" else \
            _split(chosen, subscriptions.max_message_bytes)
        for i, group in enumerate(groups, 1):
            mid = message_id(as_of, reader.address, group)
            part = (i, len(groups)) if reader.mode != "per_company" and len(groups) > 1 else None  # a split digest
            drafts.append(OutboxMail(mid, reader.address, [m.entity_id for m in group],
                                compose(subscriptions.sender, reader, group, run_id, as_of, mid, part)))
    return drafts


_OVERHEAD = 64_000  # headers and both bodies, generously; base64 makes attachments 4/3 larger


def _split(mails: list[ReportMail], limit: int) -> list[list[ReportMail]]:
    groups: list[list[ReportMail]] = [[]]
    size = _OVERHEAD
    for mail in mails:
        cost = mail.pdf.stat().st_size * 4 // 3 + 4_000
        if groups[-1] and size + cost > limit:
            groups.append([])
            size = _OVERHEAD
        groups[-1].append(mail)
        size += cost
    return groups


def _news(mails: Sequence[ReportMail]) -> str:
    """What a subject says changed since the last run: one report's headline ("2 new risk flags"), or a digest's
    count of new risk flags and of changed reports."""
    if len(mails) == 1:
        return "" if mails[0].headline == FIRST else mails[0].headline
    risks = sum(int(m.headline.split()[0]) for m in mails if m.headline.endswith(("risk flag", "risk flags")))
    changed = sum(bool(m.headline) and m.headline != FIRST for m in mails)  # compared with an earlier edition
    parts = [f"{risks} new risk flag{'s' if risks != 1 else ''}"] if risks else []
    return ", ".join(parts + ([f"{changed} changed"] if changed else []))


def _filename(mail: ReportMail) -> str:
    """A readable attachment name with nothing a mail client or a file system could misread."""
    text = re.sub(r"[^\w .,&()-]+", "", f"{mail.company} {mail.period}", flags=re.UNICODE).strip(" .")
    return (re.sub(r"\s+", " ", text)[:100] or mail.entity_id) + ".pdf"


def compose(sender: str, reader: Reader, mails: Sequence[ReportMail], run_id: str, as_of: str, mid: str,
            part: tuple[int, int] | None = None) -> EmailMessage:
    """The e-mail itself: a plain-text and an HTML part from the same values, each report's PDF attached under a
    readable name, the outbox id as its Message-ID; ``part`` numbers the pieces of a split digest."""
    message = EmailMessage(policy=policy.SMTP)
    message["From"] = sender
    message["To"] = Address(display_name=reader.name, addr_spec=reader.address) if reader.name else reader.address
    subject = f"{mails[0].company}: {mails[0].period} report" if len(mails) == 1 else f"{len(mails)} reports"
    message["Subject"] = f"{subject} as of {as_of}" + (f" ({part[0]} of {part[1]})" if part else "") \
        + (f": {news}" if (news := _news(mails)) else "")
    message["Date"] = format_datetime(datetime.now(UTC))
    message["Message-ID"] = f"<{mid}@finreport>"
    values = {"reader": reader, "mails": mails, "as_of": as_of, "run_id": run_id, "part": part}
    message.set_content(_ENV.get_template("email.txt.j2").render(**values))
    message.add_alternative(_ENV.get_template("email.html.j2").render(**values), subtype="html")
    for mail in mails:
        message.add_attachment(mail.pdf.read_bytes(), maintype="application", subtype="pdf",
                               filename=_filename(mail))
    return message


@dataclass
class Delivery:
    """What one delivery attempt did, for the summary, the manifest and the artifacts."""

    server: str
    queued: int = 0
    sent: list[str] = field(default_factory=list)
    rejected: list[dict[str, str]] = field(default_factory=list)
    waiting: list[dict[str, str]] = field(default_factory=list)
    unconfirmed: list[dict[str, str]] = field(default_factory=list)
    """Sent, but the server never answered: maybe delivered, never sent again without a person's word."""

    def record(self) -> dict[str, Any]:
        """The attempt as plain data, for the manifest, the flow's result and the artifacts."""
        return asdict(self)


class DeliveryPending(Exception):
    """Some messages could not be handed to the server; they wait in the outbox."""

    def __init__(self, result: Delivery) -> None:
        self.result = result
        first = result.waiting[0]
        super().__init__(f"{emails(len(result.waiting))} waiting in the outbox: {first['error']}")


class Outbox:
    """Every run's e-mails on disk, one folder per state (pending, sent, rejected, unconfirmed): a message is written
    before it is sent and moved once the server has answered, so neither a crash nor a retry sends it twice."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.pending, self.sent, self.rejected = root / "pending", root / "sent", root / "rejected"
        self.unconfirmed = root / "unconfirmed"

    def _known(self, mid: str) -> bool:
        return any((folder / f"{mid}.eml").exists()
                   for folder in (self.pending, self.sent, self.rejected, self.unconfirmed))

    def put(self, draft: OutboxMail) -> bool:
        """Write the message before any attempt to send it; False when the outbox already has it."""
        if self._known(draft.message_id):
            return False
        meta = {"id": draft.message_id, "sender": str(draft.message["From"]), "recipient": draft.recipient,
                "entities": draft.entities,
                "subject": str(draft.message["Subject"]), "queued_at": _now(), "attempts": []}
        write_atomic(self.pending / f"{draft.message_id}.json", json.dumps(meta, indent=2) + "\n")
        write_atomic(self.pending / f"{draft.message_id}.eml", draft.message.as_bytes())
        return True

    def waiting(self) -> list[dict[str, Any]]:
        """The records of the messages still to send: recipient, subject and every attempt so far, with its error."""
        return [json.loads(p.read_text()) for p in sorted(self.pending.glob("*.json"))]

    def maybe_sent(self) -> list[dict[str, Any]]:
        """Messages the server may have stored: the connection broke before it answered."""
        return [json.loads(p.read_text()) for p in sorted(self.unconfirmed.glob("*.json"))]

    def resend(self, mid: str) -> None:
        """An unconfirmed message back to pending, once a person has checked it did not arrive."""
        if not (self.unconfirmed / f"{mid}.eml").is_file():
            raise UsageError(f"no unconfirmed message {mid!r} in {self.unconfirmed}")
        meta = json.loads((self.unconfirmed / f"{mid}.json").read_text())
        meta["attempts"].append({"at": _now(), "resend": "a person said it did not arrive"})
        write_atomic(self.pending / f"{mid}.json", json.dumps(meta, indent=2) + "\n")
        (self.unconfirmed / f"{mid}.eml").replace(self.pending / f"{mid}.eml")
        (self.unconfirmed / f"{mid}.json").unlink()

    def send(self, smtp: SmtpSettings) -> Delivery:
        """Send every pending message over one connection. A refused recipient is reported and kept out of
        later attempts; a server that cannot be reached leaves everything pending, with the error."""
        result = Delivery(smtp.describe())
        waiting = self.waiting()
        if not waiting:
            return result
        try:
            with connect(smtp) as server:
                for meta in waiting:
                    self._send_one(server, meta, result)
        except (OSError, smtplib.SMTPException) as exc:
            error = _error(exc)
            for meta in self.waiting():
                if meta["id"] not in result.sent:
                    self._attempt(self.pending, meta, error)
                    result.waiting.append({"id": meta["id"], "recipient": meta["recipient"], "error": error})
        return result

    def _send_one(self, server: smtplib.SMTP, meta: dict[str, Any], result: Delivery) -> None:
        """MAIL, RCPT, DATA by hand, so the server's own replies (a refusal, the queue id) are kept."""
        mid = meta["id"]
        raw = (self.pending / f"{mid}.eml").read_bytes()
        server.ehlo_or_helo_if_needed()
        code, reply = server.mail(meta["sender"])
        if code == 250:
            code, reply = server.rcpt(meta["recipient"])
        if code in (250, 251):
            code, reply = server.docmd("DATA")
        if code == 354:
            code, reply = self._send_data(server, raw, meta, result)
        answer = f"{code} {reply.decode('utf-8', 'replace')}"
        if code == 250:
            self._move(meta, self.sent, {"reply": answer})
            result.sent.append(mid)
            return
        server.rset()
        if code >= 500:
            self._move(meta, self.rejected, {"refused": answer})
            result.rejected.append({"id": mid, "recipient": meta["recipient"], "error": answer})
        else:
            self._attempt(self.pending, meta, answer)
            result.waiting.append({"id": mid, "recipient": meta["recipient"], "error": answer})

    def _send_data(self, server: smtplib.SMTP, raw: bytes, meta: dict[str, Any], result: Delivery
                 ) -> tuple[int, bytes]:
        """The message after the server's 354, as ``SMTP.data`` sends it, and the server's answer. A break from
        here on leaves it unknown whether the server stored the message: it is moved to ``unconfirmed`` and
        the break goes on to end the connection (the others stay pending)."""
        text = smtplib.quotedata(raw.decode("ascii", "surrogateescape"))
        payload = (text if text.endswith("\r\n") else text + "\r\n") + ".\r\n"
        try:
            server.send(payload.encode("ascii", "surrogateescape"))
            return server.getreply()
        except (OSError, smtplib.SMTPException) as exc:
            error = f"no answer after the message was sent ({_error(exc)}): it may have arrived"
            self._move(meta, self.unconfirmed, {"unanswered": error})
            result.unconfirmed.append({"id": meta["id"], "recipient": meta["recipient"], "error": error})
            raise

    def _attempt(self, folder: Path, meta: dict[str, Any], error: str) -> None:
        meta["attempts"].append({"at": _now(), "error": error})
        write_atomic(folder / f"{meta['id']}.json", json.dumps(meta, indent=2) + "\n")

    def _move(self, meta: dict[str, Any], folder: Path, outcome: dict[str, str]) -> None:
        meta["attempts"].append({"at": _now(), **outcome})
        write_atomic(folder / f"{meta['id']}.json", json.dumps(meta, indent=2) + "\n")
        folder.mkdir(parents=True, exist_ok=True)
        (self.pending / f"{meta['id']}.eml").replace(folder / f"{meta['id']}.eml")
        (self.pending / f"{meta['id']}.json").unlink()


def queue(run_id: str, as_of: str, mails: Sequence[ReportMail], email: bool, recipients: Sequence[str],
          settings: Settings) -> int:
    """Every message a run owes (to the subscribers when ``email``, and one digest to ``recipients``), written to
    the outbox before anything is sent; returns how many are new to it (a rerun queues nothing twice)."""
    subscriptions = load_subscriptions(settings.subscriptions) if email else Subscriptions()
    outbox = Outbox(settings.outbox_dir)
    return sum(outbox.put(d) for d in plan(run_id, as_of, mails, subscriptions, recipients))


def send_waiting(settings: Settings) -> dict[str, Any]:
    """Send what the outbox holds; raises :class:`DeliveryPending` while the server is away and messages wait."""
    result = Outbox(settings.outbox_dir).send(smtp_settings(settings))
    if result.waiting:
        raise DeliveryPending(result)
    return result.record()


def emails(n: int) -> str:
    """A count of e-mails as the summaries and log lines write it: 1 e-mail, 3 e-mails."""
    return f"{n} e-mail{'' if n == 1 else 's'}"


def _error(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")

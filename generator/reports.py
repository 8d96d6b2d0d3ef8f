"""The rules of a report run, apart from how it is orchestrated: what a run is asked for (the Prefect UI's form),
which companies it reports on and which it fails, the narrator it loads and what it says of it, the message
that ends the run, and the content of the run's artifacts (the overview table and the page of PDFs).

:mod:`flows.reports` calls these from its tasks; none of them needs Prefect.
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field, field_validator, model_validator

from generator import deliver
from generator.ask import Asked, ask_all
from generator.ask.knowledge import from_run
from generator.ask.translate import load
from generator.errors import UsageError
from generator.graph import flag_labels
from generator.manifest import key_figures
from generator.metrics import definition, label
from generator.narrator import Answer, Narrator, catalogue
from generator.pipeline import FactsRun, read_inputs
from generator.portfolio import Portfolio
from generator.present import by_unit
from generator.settings import get_settings

QUESTION_IDS: tuple[str, ...] = tuple(q.id for q in catalogue() if not q.summary)
"""The questions a run may be asked for, in catalogue order: every one but the summary, which every report opens
with whatever else is asked."""
QuestionId = Literal[QUESTION_IDS]  # type: ignore[valid-type]
"""One of :data:`QUESTION_IDS`: its JSON schema lists them, so the Prefect UI offers them as a multi-select rather
than a box for ids a person would have to look up."""


class ReportRequest(BaseModel):
    """What a run reports on. The Prefect UI shows these fields, with their descriptions, as the run's form."""

    inputs: list[str] = Field(default_factory=lambda: [str(p) for p in get_settings().inputs],
                              description="Input files or folders (.csv, .parquet, .jsonl; folders are searched)")
    as_of: date | None = Field(None, description="Date printed on the reports and naming their folder; "
                                                 "empty: today in FINREPORT_TIMEZONE")
    entities: list[str] = Field(default_factory=list, description="Entity ids to report on; empty: every company")
    portfolios: list[str] = Field(default_factory=list, description="Portfolio ids to report on (holdings inputs); "
                                                                     "empty: every portfolio")
    benchmark: str | None = Field(default_factory=lambda: get_settings().benchmark,
                                  description="Entity id of the benchmark each share is measured against (beta, "
                                              "relative return); a sectors file's benchmark column wins for its rows")
    questions: list[QuestionId] = Field(default_factory=list,
                                        description="Questions of the catalogue to answer besides the summary; "
                                                    "empty: all of them")
    output_dir: str = Field(default_factory=lambda: str(get_settings().output_dir),
                            description="Folder the run writes to")
    dated_folder: bool = Field(True, description="Write into OUTPUT_DIR/<as-of date>/ rather than OUTPUT_DIR")
    narrator: Literal["reference", "model"] = Field(
        "model", description="Who writes the answers: the reference templates, or the language model "
                                 "(every model answer verified against the facts, else the reference text)")
    model_path: str = Field(default_factory=lambda: str(get_settings().model_dir),
                            description="Folder of the narrator checkpoint (Hugging Face format)")
    custom_questions: list[str] = Field(
        default_factory=list, description="Your own questions, in English (\"By how much did free cash flow change "
        "since 2023?\"): each company's report answers them from its facts, by a program finreport runs, in a "
        "section \"Your questions\" (a question that names no company is about the report's)")
    full_run: bool = Field(default_factory=lambda: get_settings().full_run,
                           description="Make every report again; otherwise a company whose inputs, peers, prices, "
                                       "questions, model and code are unchanged since the last run keeps its report")
    email: bool = Field(False, description="E-mail the reports to their subscribers (FINREPORT_SUBSCRIPTIONS)")
    recipients: list[str] = Field(default_factory=list,
                                  description="Also e-mail one digest of this run's reports to these addresses")

    @field_validator("recipients")
    @classmethod
    def _addresses(cls, value: list[str]) -> list[str]:
        return [deliver.check_address(v) for v in value]

    @field_validator("questions", mode="before")
    @classmethod
    def _known_questions(cls, value: Any) -> Any:
        """Before the choices are checked one by one, so that a wrong id gets one line naming every choice (what
        ``finreport run --question`` prints) rather than one long error per id; what is not a list of ids is left
        to the type's own errors."""
        if not isinstance(value, list | tuple):
            return value
        choices = ", ".join(QUESTION_IDS)
        summary = [q for q in value if q in {q.id for q in catalogue() if q.summary}]
        if summary:
            raise ValueError(f"{', '.join(summary)} is always answered; the questions to add are {choices}")
        unknown = [str(q) for q in value if q not in QUESTION_IDS]
        if unknown:
            raise ValueError(f"unknown question id(s) {', '.join(unknown)}; the catalogue has {choices}")
        return value

    def day(self) -> str:
        """The as-of date: the one asked for, or today in the configured time zone."""
        return (self.as_of or datetime.now(ZoneInfo(get_settings().timezone)).date()).isoformat()

    def folder(self) -> Path:
        """Where the run writes: OUTPUT_DIR/<as-of date>/, or OUTPUT_DIR itself."""
        return Path(self.output_dir) / self.day() if self.dated_folder else Path(self.output_dir)

    def wanted(self) -> tuple[set[str] | None, set[str] | None]:
        """(the companies, the portfolios) the run reports on: those asked for; None: every one of the inputs."""
        return set(self.entities) or None, set(self.portfolios) or None


class OnDemandRequest(ReportRequest):
    """A run started by a person for chosen companies and portfolios (at least one of either)."""

    entities: list[str] = Field(default_factory=list, description="Entity ids to report on")
    portfolios: list[str] = Field(default_factory=list, description="Portfolio ids to report on")

    @model_validator(mode="after")
    def _something(self) -> OnDemandRequest:
        if not self.entities and not self.portfolios:
            raise ValueError("name at least one entity or portfolio to report on")
        return self

    def wanted(self) -> tuple[set[str] | None, set[str] | None]:
        """Exactly the companies and the portfolios the person picked."""
        return set(self.entities), set(self.portfolios)


def entity_choices(inputs: Sequence[Path]) -> dict[str, list[str]]:
    """The ids a person may pick in the on-demand form, by field of :class:`OnDemandRequest`: ``entities`` the
    companies with usable statements in ``inputs``, ``portfolios`` those of its holdings files.

    The inputs are read as a run reads them (ingest and validation, none of the analysis: a fraction of a second for
    the sample), once, when the deployment is served: a company added later is typed in until the next serve. The
    choices only spare typing, so nothing that goes wrong reading them may stop the deployments being served:
    inputs that cannot be read (none configured, a missing folder, every file refused) give no choices, and the form
    takes free text alone."""
    try:
        ingested = read_inputs([Path(p) for p in inputs])
    except Exception:  # see above: no choices rather than no deployment
        return {}
    return {"entities": sorted(set(ingested.facts["entity_id"].cast(str).to_list())),
            "portfolios": sorted(set(ingested.holdings["portfolio_id"].cast(str).to_list()))}


def _portfolio_ids(run: FactsRun) -> list[str]:
    return [p.portfolio_id for p in run.portfolios] + [f.portfolio_id for f in run.portfolio_failures]


def missing_model(request: ReportRequest) -> UsageError | None:
    """Why the run cannot use the models it asks for (checked before any work), or None."""
    if request.narrator == "model" and not (Path(request.model_path) / "config.json").is_file():
        return UsageError(f"no narrator checkpoint in {request.model_path} (a Hugging Face model folder with "
                          "config.json); give its folder, or use the reference narrator")
    translator = get_settings().translator_dir
    if request.custom_questions and not (translator / "config.json").is_file():
        return UsageError(f"no translator checkpoint in {translator} for the custom questions; set "
                          "FINREPORT_TRANSLATOR_DIR to its folder, or train one with `finreport finetune-ask`")
    return None


def custom_answers(run: FactsRun, entities: Sequence[str], questions: Sequence[str]) -> dict[str, list[Asked]]:
    """The reader's own questions put to each company's report: the translator loaded once, the facts and graph of
    the run as its knowledge, a question that names no company about the report's."""
    if not questions or not entities:
        return {}
    knowledge, translator = from_run(run), load()
    return {entity: ask_all(questions, knowledge, translator, default_entity=entity) for entity in entities}


def select(run: FactsRun, request: ReportRequest, failures: list[dict[str, str]]
           ) -> tuple[list[str], list[dict[str, str]]]:
    """(the companies the run reports on, the failures that concern the request): the companies asked for that
    the inputs have, and each company whose rows were all unusable or that is not in the inputs at all."""
    wanted = request.wanted()[0]
    if wanted is None:
        return list(run.entities), list(failures)
    selected = [e for e in run.entities if e in wanted]
    failed = [f for f in failures if f["entity_id"] in wanted]
    failed += [{"entity_id": e, "stage": "ingest", "error": "not in the inputs"}
               for e in sorted(wanted - set(run.entities) - {f["entity_id"] for f in failed})]
    return selected, failed


def select_portfolios(run: FactsRun, request: ReportRequest) -> tuple[list[Portfolio], list[dict[str, str]]]:
    """(the portfolios the run reports on, the failures that concern the request): those asked for that could be
    valued, and each asked for that could not, or that no holdings input names."""
    wanted = request.wanted()[1]
    wanted = set(_portfolio_ids(run)) if wanted is None else wanted
    selected = [p for p in run.portfolios if p.portfolio_id in wanted]
    failed = [{"portfolio_id": f.portfolio_id, "stage": "portfolio", "error": f.error}
              for f in run.portfolio_failures if f.portfolio_id in wanted]
    failed += [{"portfolio_id": p, "stage": "ingest", "error": "not in the holdings inputs"}
               for p in sorted(wanted - set(_portfolio_ids(run)))]
    return selected, failed


def narrator_for(run: FactsRun, request: ReportRequest) -> tuple[Narrator | None, dict[str, Any]]:
    """The narrator the request asks for (None: the reference one) and what the manifest says of it."""
    if request.narrator != "model":
        return None, {"narrator": request.narrator}
    from generator.narrator.model import PROMPT_FORMAT, ModelNarrator

    model = ModelNarrator(Path(request.model_path), flag_labels(run.graph.tbox))
    return model, {"narrator": "model", "model": request.model_path, "prompt_format": PROMPT_FORMAT,
                   "beams": model.beams}


@dataclass(frozen=True)
class NarratorSpec:
    """Which model narrator a run loads, as plain data: what a task in another process (a Dask worker) needs to load
    it there (:func:`loaded_narrator`) rather than receive it."""

    path: str
    flag_labels: tuple[str, ...]
    stamp: int = 0
    """The checkpoint's files' latest modification time (ns): a checkpoint trained again is loaded again."""


def narrator_spec(run: FactsRun, request: ReportRequest) -> NarratorSpec | None:
    """The model narrator the request asks for, as a :class:`NarratorSpec` (None: the reference one)."""
    if request.narrator != "model":
        return None
    folder = Path(request.model_path)
    stamp = max((p.stat().st_mtime_ns for p in folder.iterdir() if p.is_file()), default=0) if folder.is_dir() else 0
    return NarratorSpec(request.model_path, tuple(flag_labels(run.graph.tbox)), stamp)


_LOADED: dict[NarratorSpec, Narrator] = {}
_LOADING = threading.Lock()


def loaded_narrator(spec: NarratorSpec | None) -> Narrator | None:
    """The narrator ``spec`` names (None: the reference one), loaded once per process and kept: every answering task
    of a run that one Dask worker takes uses the model it loaded for the first."""
    if spec is None:
        return None
    from generator.narrator.model import ModelNarrator

    with _LOADING:
        if spec not in _LOADED:
            _LOADED[spec] = ModelNarrator(Path(spec.path), list(spec.flag_labels))
        return _LOADED[spec]


def narrator_about(spec: NarratorSpec | None) -> dict[str, Any]:
    """What the manifest says of the narrator ``spec`` names, as :func:`narrator_for` says it of the one it loads,
    without loading it (the tasks that answer load it where they run)."""
    if spec is None:
        return {"narrator": "reference"}
    from generator.narrator.model import PROMPT_FORMAT, ModelNarrator

    beams = inspect.signature(ModelNarrator).parameters["beams"].default
    return {"narrator": "model", "model": spec.path, "prompt_format": PROMPT_FORMAT, "beams": beams}


def narrator_counts(answers: Sequence[Answer], model: bool) -> dict[str, int]:
    """How many answers each origin wrote (model, reference, fallback); with a model, how many a beam wrote after
    the greedy text failed, and how many answers had a prompt (of a part) that was never generated (too long, or
    the model failed)."""
    origins = [a.verification.get("status", a.origin) for a in answers]
    counts = {status: origins.count(status) for status in sorted(set(origins))}
    if model:
        counts["verified_by_beam"] = sum(a.origin == "model" and a.verification["decoding"] != "greedy"
                                         for a in answers)
        counts["not_generated"] = sum("not generated" in a.verification.get("decoding", "") for a in answers)
    return counts


def add_timings(run: FactsRun, reports: dict[str, dict[str, Any]]) -> None:
    """Each per-company stage's seconds summed over the companies (``sum_pdf_s``, ...), into the run's timings."""
    for result in reports.values():
        for stage, seconds in result["timings"].items():
            run.timings[f"sum_{stage}"] = run.timings.get(f"sum_{stage}", 0.0) + seconds


def outcome(manifest: dict[str, Any], planned: int, out: Path) -> str:
    """The one line that ends a run: how many reports, which companies and portfolios failed, what waits in the
    outbox."""
    books = manifest.get("portfolios", {})
    written = len(manifest["reports"]) + len(books.get("reports", []))
    message = f"{written} of {planned} reports written to {out}"
    failed = [f["entity_id"] for f in manifest["failures"]] + \
        [f"portfolio {f['portfolio_id']}" for f in books.get("failures", [])]
    if failed:
        message += "; failed: " + ", ".join(failed)
    if manifest.get("delivery", {}).get("waiting"):
        message += f"; {deliver.emails(len(manifest['delivery']['waiting']))} waiting in the outbox"
    return message


def unconfirmed(outbox: deliver.Outbox) -> list[dict[str, str]]:
    """The messages that may have arrived (the server did not answer after their data), for the manifest."""
    return [{"id": m["id"], "recipient": m["recipient"], "error": m["attempts"][-1]["unanswered"]}
            for m in outbox.maybe_sent()]


def changes_table(since: dict[str, Any]) -> list[dict[str, Any]]:
    """The run's changes artifact: one row per company that changed since the last run (first reports last), what
    changed in a few words each."""
    rows = []
    for entity, c in since["companies"].items():
        if not c.get("changed"):
            continue
        if c.get("first"):
            rows.append({"entity": entity, "since": "first report", **dict.fromkeys(_CHANGE_COLUMNS, "")})
            continue
        rows.append({"entity": entity, "since": f"{c['since']['as_of']} ({c['since']['run_id']})" if c["since"] else "",
                     "new periods": ", ".join(c["new_periods"]),
                     "flags raised": "; ".join(f"{f['label']} ({f['period']})" for f in c["flags_raised"]),
                     "flags cleared": "; ".join(f"{f['label']} ({f['period']})" for f in c["flags_cleared"]),
                     "restatements": len(c["restatements"]) or "",
                     "figures moved": ", ".join(m["label"] for m in c["moved"][:3])
                                      + (f" (+{len(c['moved']) - 3})" if len(c["moved"]) > 3 else ""),
                     "answers changed": len(c["answers_changed"]) or ""})
    return sorted(rows, key=lambda r: (r["since"] == "first report", r["entity"]))


_CHANGE_COLUMNS = ("new periods", "flags raised", "flags cleared", "restatements", "figures moved", "answers changed")


def changes_description(since: dict[str, Any]) -> str:
    """The changes artifact's one line: how many reports changed, were reused, and how many risk flags are new."""
    t = since["totals"]
    risks = f", {t['risk_flags_raised']} new risk flag{'s' if t['risk_flags_raised'] != 1 else ''}" \
        if t["risk_flags_raised"] else ""
    return (f"Since the last run: {t['changed']} of {t['companies']} reports changed{risks}; {t['first']} first "
            f"report{'' if t['first'] == 1 else 's'}; {t['reused']} reused unchanged")


def overview(run: FactsRun, manifest: dict[str, Any], selected: Sequence[str], folders: dict[str, str]
             ) -> list[dict[str, Any]]:
    """The overview table: each company's key figures and flags, and its PDF or why it has none."""
    failed = {f["entity_id"]: f for f in manifest["failures"]}
    written = {Path(p).parent.name: Path(p) for p in manifest["reports"]}
    rows = []
    for entity in sorted(set(selected) | set(failed)):
        row = key_figures(run, entity) if entity in selected else {"entity": entity}
        pdf = written.get(folders.get(entity, ""))
        row["report"] = str(pdf.resolve()) if pdf else f"failed ({failed[entity]['stage']}): {failed[entity]['error']}"
        rows.append(row)
    return rows


PORTFOLIO_OVERVIEW = ("market_value", "return_1y", "volatility_1y", "max_drawdown_1y", "top_1", "effective_holdings")
"""A portfolio's figures in the run's portfolio table."""


def portfolio_overview(run: FactsRun, books: Sequence[Portfolio], manifest: dict[str, Any]) -> list[dict[str, Any]]:
    """The portfolio table: each portfolio's value, risk and concentration, formatted, its flags, and its PDF or
    why it has none."""
    written = {Path(p).parent.name: Path(p) for p in manifest["portfolios"].get("reports", [])}
    folders = {b.portfolio_id: manifest["portfolios"]["folders"].get(b.portfolio_id, b.portfolio_id) for b in books}
    rows = []
    for book in books:
        figures = {r["metric"]: r["value"] for r in book.risk} | {"market_value": book.market_value} \
            | {k: book.concentration[k] for k in ("top_1", "effective_holdings")}
        pdf = written.get(folders[book.portfolio_id])
        rows.append({"portfolio": book.portfolio_id, "name": book.name, "base": book.base_currency,
                     **{label(m): by_unit(figures.get(m), definition(m).unit, book.base_currency)
                        for m in PORTFOLIO_OVERVIEW},
                     "flags": "; ".join(f.label for f in run.graph.portfolio_flags
                                        if f.entity_id == book.portfolio_id) or "none",
                     "report": str(pdf.resolve()) if pdf else "not printed (see the manifest's failures)"})
    rows += [{"portfolio": f["portfolio_id"], "report": f"failed ({f['stage']}): {f['error']}"}
             for f in manifest["portfolios"].get("failures", [])]
    return rows


def pdf_page(manifest: dict[str, Any], selected: Sequence[str], folders: dict[str, str], out: Path) -> str:
    """The Markdown page of a run: a link to each PDF, each failure, the e-mail and the rejected rows."""
    failed = {f["entity_id"]: f for f in manifest["failures"]}
    written = {Path(p).parent.name: Path(p) for p in manifest["reports"]}
    lines = [f"# Reports as of {manifest['as_of']}", "",
             f"{len(manifest['reports'])} written, {len(failed)} failed, in `{markdown_text(str(out.resolve()))}`; "
             f"run `{manifest['run_id']}`.", ""]
    lines += [f"- [{markdown_text(entity)}]({pdf.resolve().as_uri()})" for entity in selected
              if (pdf := written.get(folders[entity]))]
    lines += [f"- **{markdown_text(e)}** failed at {f['stage']}: {markdown_text(f['error'])}"
              for e, f in sorted(failed.items())]
    books = manifest.get("portfolios", {})
    if books.get("reports") or books.get("failures"):
        lines += ["", "Portfolios:"]
        lines += [f"- [{markdown_text(Path(p).parent.name)}]({Path(p).resolve().as_uri()})" for p in books["reports"]]
        lines += [f"- **{markdown_text(f['portfolio_id'])}** failed at {f['stage']}: {markdown_text(f['error'])}"
                  for f in books["failures"]]
    if "delivery" in manifest:
        d = manifest["delivery"]
        lines += ["", f"E-mail: {len(d['sent'])} sent, {len(d['waiting'])} waiting in the outbox, "
                      f"{len(d['rejected'])} rejected" + (f" ({markdown_text(d['error'])})" if d.get("error") else "")]
        lines += [f"- {markdown_text(r['recipient'])}: {markdown_text(r['error'])}"
                  for r in d["rejected"] + d["waiting"] + d.get("unconfirmed", [])]
    if manifest["counts"]["rows_rejected"]:
        lines += ["", f"{manifest['counts']['rows_rejected']:,} input rows rejected: "
                      f"`{markdown_text(str((out / 'rejected.csv').resolve()))}`"]
    return "\n".join(lines)


def markdown_text(text: str) -> str:
    """Data shown in a Markdown artifact stays text: no HTML, no links, no emphasis."""
    return "".join(f"\\{c}" if c in "\\`*_{}[]()<>#+-.!|" else c for c in text)

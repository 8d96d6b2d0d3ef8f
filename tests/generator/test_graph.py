"""The ontology and the reasoner: real HermiT in Java on fixtures at and around every threshold.

No test here is skipped when Java is missing: reasoning then raises JavaMissingError, whose message
says to install a Java runtime, and the tests fail with it.
"""

from __future__ import annotations

import hashlib
import os
import re
import signal
import subprocess
from datetime import date
from pathlib import Path
from typing import Any

import owlready2
import polars as pl
import pytest
import rdflib

from generator import graph as kg
from generator.sample import ROLES

QUARTER = {"Q1": 0, "Q2": 1, "Q3": 2, "Q4": 3}

# (class, fixture values, expected): every boundary sits exactly on the threshold.
CASES: list[tuple[str, dict[str, float], bool]] = [
    ("LiquidityConcern", {"current_ratio": 0.88}, True),
    ("LiquidityConcern", {"current_ratio": 1.0}, False),
    ("SevereLiquidityConcern", {"current_ratio": 0.5, "operating_cash_flow": -1.0}, True),
    ("SevereLiquidityConcern", {"current_ratio": 0.5, "operating_cash_flow": 0.0}, False),
    ("HighLeverage", {"debt_to_equity": 2.5}, True),
    ("HighLeverage", {"debt_to_equity": 2.0}, False),
    ("ExcessiveNetDebt", {"net_debt_to_ebitda": 4.5}, True),
    ("ExcessiveNetDebt", {"net_debt_to_ebitda": 4.0}, False),
    ("NegativeEquity", {"total_equity": -1.0}, True),
    ("NegativeEquity", {"total_equity": 0.0}, False),
    ("LossMaking", {"net_income": -1.0}, True),
    ("LossMaking", {"net_income": 0.0}, False),
    ("DecliningRevenue", {"revenue_growth_yoy": -0.01}, True),
    ("DecliningRevenue", {"revenue_growth_yoy": 0.0}, False),
    ("CashBurn", {"operating_cash_flow": -1.0, "free_cash_flow": -2.0}, True),
    ("CashBurn", {"operating_cash_flow": -1.0, "free_cash_flow": 0.0}, False),
    ("WeakInterestCoverage", {"interest_coverage": 1.2}, True),
    ("WeakInterestCoverage", {"interest_coverage": 1.5}, False),
    ("AltmanDistressZone", {"altman_z_double_prime": 1.0}, True),
    ("AltmanDistressZone", {"altman_z_double_prime": 1.1}, False),
    ("AltmanGreyZone", {"altman_z_double_prime": 1.1}, True),
    ("AltmanGreyZone", {"altman_z_double_prime": 2.6}, True),
    ("AltmanGreyZone", {"altman_z_double_prime": 2.61}, False),
    ("AltmanSafeZone", {"altman_z_double_prime": 2.7}, True),
    ("AltmanSafeZone", {"altman_z_double_prime": 2.6}, False),
    ("WeakPiotroskiScore", {"piotroski_f_score": 3.0}, True),
    ("WeakPiotroskiScore", {"piotroski_f_score": 4.0}, False),
    ("StrongPiotroskiScore", {"piotroski_f_score": 8.0}, True),
    ("StrongPiotroskiScore", {"piotroski_f_score": 7.0}, False),
    ("HighGrowth", {"revenue_growth_yoy": 0.2}, True),
    ("HighGrowth", {"revenue_growth_yoy": 0.19}, False),
    ("ProfitableGrower", {"revenue_growth_yoy": 0.3, "net_margin": 0.1}, True),
    ("ProfitableGrower", {"revenue_growth_yoy": 0.3, "net_margin": 0.0}, False),
    ("StrongLiquidity", {"current_ratio": 2.0}, True),
    ("StrongLiquidity", {"current_ratio": 1.99}, False),
]


def table(rows: list[dict[str, Any]]) -> pl.DataFrame:
    """A snapshot table as ``graph.snapshot_table`` makes it."""
    full = []
    for r in rows:
        qidx = None if r["fiscal_period"] == "FY" else r["fiscal_year"] * 4 + QUARTER[r["fiscal_period"]]
        full.append({"entity_name": r["entity_id"], "sector": "Test", "__qidx": qidx, **r})
    return pl.from_dicts(full, infer_schema_length=None)


def reasoned(rows: list[dict[str, Any]]) -> kg.Graph:
    world, tbox = kg.load_ontology()
    return kg.reason(kg.populate(world, tbox, table(rows)))


def flags(graph: kg.Graph, entity: str, year: int = 2024, period: str = "FY") -> set[str]:
    return {f.flag for f in graph.flags if (f.entity_id, f.fiscal_year, f.fiscal_period) == (entity, year, period)}


@pytest.fixture(scope="module")
def fixtures() -> kg.Graph:
    rows = [{"entity_id": f"case{i}", "fiscal_year": 2024, "fiscal_period": "FY", **values}
            for i, (_, values, _) in enumerate(CASES)]
    for name, growth in (("sustained", (-0.1, -0.2, -0.05)), ("interrupted", (-0.1, 0.0, -0.05))):
        rows += [{"entity_id": name, "fiscal_year": 2022 + k, "fiscal_period": "FY", "revenue_growth_yoy": g}
                 for k, g in enumerate(growth)]
    return reasoned(rows)


def test_ontology_loads_offline_and_is_consistent() -> None:
    assert kg.ontology_is_consistent()
    graph = reasoned([{"entity_id": "EMPTY", "fiscal_year": 2024, "fiscal_period": "FY"}])
    assert graph.version == "1.1.0"
    assert graph.flags == [] and graph.findings == []


def test_at_least_fifteen_defined_categories_each_documented() -> None:
    _, tbox = kg.load_ontology()
    categories = kg.flag_classes(tbox)
    assert len(categories) >= 15
    for cls in categories:
        assert cls.label and cls.comment and cls.threshold and cls.severity[0] in ("concern", "watch", "positive")


def test_threshold_annotations_agree_with_the_restrictions() -> None:
    """The annotation is for people; the restriction is what HermiT uses: they must say the same numbers."""
    _, tbox = kg.load_ontology()
    for cls in kg.flag_classes(tbox):
        written = {float(n) for n in re.findall(r"-?\d+(?:\.\d+)?", cls.threshold[0]) if n not in ("three",)}
        restricted = {float(v) for r in _restrictions(cls.equivalent_to[0]) for k, v in r.value.__dict__.items()
                      if k in ("min_inclusive", "min_exclusive", "max_inclusive", "max_exclusive")}
        assert restricted and restricted <= written, (cls.name, written, restricted)


def _restrictions(expression: Any) -> list[Any]:
    if isinstance(expression, owlready2.And | owlready2.Or):
        return [r for part in expression.Classes for r in _restrictions(part)]
    if isinstance(expression, owlready2.Restriction):
        if isinstance(expression.value, owlready2.ConstrainedDatatype):
            return [expression]
        return _restrictions(expression.value)
    if isinstance(expression, owlready2.ThingClass) and expression.equivalent_to:
        return _restrictions(expression.equivalent_to[0])
    return []


def test_links_to_fibo_and_us_gaap() -> None:
    _, tbox = kg.load_ontology()
    fr = tbox.get_namespace(kg.NAMESPACE)
    company_links = [str(x) for x in fr.Company.seeAlso] + [str(x) for x in fr.Company.exactMatch]
    assert any("spec.edmcouncil.org/fibo" in link for link in company_links)
    assert any("fasb.org/us-gaap" in str(x) for x in fr.total_assets.seeAlso)


@pytest.mark.parametrize(("index", "case"), list(enumerate(CASES)), ids=[f"{c}-{e}" for c, _, e in CASES])
def test_each_category_classifies_positive_and_negative_fixtures(fixtures: kg.Graph, index: int,
                                                                 case: tuple[str, dict[str, float], bool]) -> None:
    category, values, expected = case
    assert (category in flags(fixtures, f"case{index}")) is expected, (category, values)


def test_three_consecutive_declines_and_not_two(fixtures: kg.Graph) -> None:
    assert "SustainedRevenueDecline" in flags(fixtures, "sustained")
    assert "SustainedRevenueDecline" not in flags(fixtures, "sustained", 2023)
    assert "SustainedRevenueDecline" not in flags(fixtures, "interrupted")
    assert "DecliningRevenue" in flags(fixtures, "interrupted")


def test_a_subcategory_implies_its_parent(fixtures: kg.Graph) -> None:
    severe = CASES.index(("SevereLiquidityConcern", {"current_ratio": 0.5, "operating_cash_flow": -1.0}, True))
    assert {"SevereLiquidityConcern", "LiquidityConcern"} <= flags(fixtures, f"case{severe}")


def test_explanations_come_from_the_class_definitions(fixtures: kg.Graph) -> None:
    def explanation(entity: str, flag: str, year: int = 2024) -> kg.Flag:
        return next(f for f in fixtures.flags if (f.entity_id, f.flag, f.fiscal_year) == (entity, flag, year))

    liquidity = explanation("case0", "LiquidityConcern")
    assert liquidity.explanation == "flagged because current_ratio = 0.88 < 1.0 (FY2024)"
    assert liquidity.facts == {"current_ratio (FY2024)": 0.88, "current_ratio threshold": "< 1.0"}
    grey = explanation("case20", "AltmanGreyZone")
    assert grey.explanation == "flagged because altman_z_double_prime = 1.1 >= 1.1 and <= 2.6 (FY2024)"
    sustained = explanation("sustained", "SustainedRevenueDecline")
    assert sustained.explanation == (
        "flagged because revenue_growth_yoy = -0.05 < 0.0 (FY2024) and revenue_growth_yoy = -0.2 < 0.0 (FY2023)"
        " and revenue_growth_yoy = -0.1 < 0.0 (FY2022)")
    assert sustained.label == "sustained revenue decline" and sustained.severity == "concern"


def test_planted_contradiction_is_a_finding_and_the_others_are_classified() -> None:
    rows = [
        {"entity_id": "GOOD", "fiscal_year": 2024, "fiscal_period": "FY", "current_ratio": 0.5},
        {"entity_id": "BAD", "fiscal_year": 2023, "fiscal_period": "FY", "current_ratio": 0.7, "net_income": -5.0},
        {"entity_id": "BAD", "fiscal_year": 2024, "fiscal_period": "FY", "current_ratio": -0.5, "net_income": -5.0},
        {"entity_id": "ALSO", "fiscal_year": 2024, "fiscal_period": "FY", "piotroski_f_score": 12.0},
        {"entity_id": "LAST", "fiscal_year": 2024, "fiscal_period": "FY", "net_income": -1.0},
    ]
    graph = reasoned(rows)
    assert flags(graph, "GOOD") == {"LiquidityConcern"}
    assert flags(graph, "LAST") == {"LossMaking"}
    assert flags(graph, "BAD", 2023) == {"LiquidityConcern", "LossMaking"}
    assert flags(graph, "BAD", 2024) == set()
    found = {(f["entity_id"], f["fiscal_year"], f["check"], f["message"]) for f in graph.findings}
    assert found == {
        ("BAD", 2024, "ontology_inconsistency",
         "FY2024 was not classified: current_ratio = -0.5 outside its range (>= 0.0)"),
        ("ALSO", 2024, "ontology_inconsistency",
         "FY2024 was not classified: piotroski_f_score = 12 outside its range (>= 0.0 and <= 9.0)"),
    }
    assert next(f for f in graph.findings if f["entity_id"] == "BAD")["facts"] == {
        "current_ratio": -0.5, "net_income": -5.0}


def test_missing_java_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(owlready2, "JAVA_EXE", "no-such-java-binary")
    with pytest.raises(kg.JavaMissingError, match="install a Java runtime"):
        kg.java()


def test_sample_loss_maker_is_flagged_and_the_cash_cow_is_not(sample_run: Any) -> None:
    graph = sample_run.graph
    volt = flags(graph, ROLES["loss_maker"], 2025)
    assert {"LiquidityConcern", "CashBurn", "AltmanDistressZone", "LossMaking"} <= volt
    cow = {f.flag for f in graph.flags if f.entity_id == ROLES["cash_cow"]}
    assert not cow & {"LiquidityConcern", "SevereLiquidityConcern", "CashBurn", "AltmanDistressZone", "LossMaking",
                      "HighLeverage", "NegativeEquity"}
    assert "AltmanSafeZone" in flags(graph, ROLES["cash_cow"], 2025)
    assert graph.findings == []


def test_graph_export_is_valid_turtle_with_the_inferred_types(sample_run: Any, tmp_path: Path) -> None:
    volt = ROLES["loss_maker"]
    text = kg.turtle(sample_run.graph, volt)
    parsed = rdflib.Graph().parse(data=text, format="turtle")
    snapshot = rdflib.URIRef(sample_run.graph.snapshots[(volt, 2025, "FY")].iri)
    assert (snapshot, rdflib.RDF.type, rdflib.URIRef(kg.NAMESPACE + "CashBurn")) in parsed
    assert (rdflib.URIRef(kg.NAMESPACE + "LiquidityConcern"), rdflib.RDF.type, rdflib.OWL.Class) in parsed


def test_quarterly_flags_say_their_flows_are_trailing_twelve_months() -> None:
    graph = reasoned([{"entity_id": "Q", "fiscal_year": 2024, "fiscal_period": "Q3", "net_income": -2.0,
                       "current_ratio": 0.5}])
    texts = {f.flag: f.explanation for f in graph.flags}
    assert texts["LossMaking"] == "flagged because net_income = -2 < 0.0 (Q3 FY2024, TTM)"
    assert texts["LiquidityConcern"] == "flagged because current_ratio = 0.5 < 1.0 (Q3 FY2024)"


MARKET_CASES: list[tuple[str, dict[str, float], bool]] = [
    ("HighVolatility", {"volatility_1y": 0.41}, True),
    ("HighVolatility", {"volatility_1y": 0.40}, False),
    ("DeepDrawdown", {"max_drawdown_1y": -0.31}, True),
    ("DeepDrawdown", {"max_drawdown_1y": -0.30}, False),
    ("HighBeta", {"beta_1y": 1.6}, True),
    ("HighBeta", {"beta_1y": 1.5}, False),
    ("RichValuation", {"pe_ttm_vs_sector": 1.6}, True),
    ("RichValuation", {"pe_ttm_vs_sector": 1.5}, False),
    ("CheapValuation", {"pe_ttm_vs_sector": 0.6}, True),
    ("CheapValuation", {"pe_ttm_vs_sector": 0.6667}, False),
    ("NegativeEarningsYield", {"earnings_yield": -0.01}, True),
    ("NegativeEarningsYield", {"earnings_yield": 0.0}, False),
]


def test_a_share_at_the_last_close_is_classified_by_the_market_classes() -> None:
    """Each market class at and around its threshold, on a market snapshot of its own: HermiT puts it in the
    class or not, and the explanation names the last close, not a fiscal period."""
    rows = [{"entity_id": f"m{i}", "entity_name": f"m{i}", "sector": "Test", "fiscal_year": 2026,
             "fiscal_period": "market", "__qidx": None, **values} for i, (_, values, _) in enumerate(MARKET_CASES)]
    world, tbox = kg.load_ontology()
    graph = kg.reason(kg.populate(world, tbox, pl.from_dicts(rows, infer_schema_length=None), date(2026, 11, 27)))
    for i, (category, values, expected) in enumerate(MARKET_CASES):
        assert (category in flags(graph, f"m{i}", 2026, "market")) is expected, (category, values)
    deep = next(f for f in graph.flags if (f.entity_id, f.flag) == ("m2", "DeepDrawdown"))
    assert deep.explanation == "flagged because max_drawdown_1y = -0.31 < -0.3 (at the last close)"
    assert (deep.label, deep.severity) == ("deep drawdown", "concern")
    snapshot = graph.snapshots[("m2", 2026, "market")]
    assert snapshot.name == "market_2026-11-27" and snapshot.previous_snapshot is None


def test_the_sample_s_loss_maker_has_a_deep_drawdown_beside_its_statement_flags(sample_run: Any) -> None:
    """The run reasons over market snapshots beside the periods: the loss-maker's share fell by more than 30%
    within the year and it lost money; its statements' flags stay on its periods."""
    volt = ROLES["loss_maker"]
    market = flags(sample_run.graph, volt, sample_run.as_of.year, "market")
    assert {"DeepDrawdown", "NegativeEarningsYield"} <= market and "LiquidityConcern" not in market
    assert "LiquidityConcern" in flags(sample_run.graph, volt, 2025, "FY")


def portfolio_graph(books: dict[str, tuple[float, list[tuple[str, float]]]], liquidity: dict[str, float]) -> kg.Graph:
    """Companies A, B (a liquidity concern in FY2024) and C, then each portfolio (id → effective holdings,
    [(company, weight)]) judged on their FY2024 snapshots, its liquidity share as given, classified by HermiT."""
    graph = reasoned([{"entity_id": "A", "fiscal_year": 2024, "fiscal_period": "FY", "current_ratio": 1.5},
                      {"entity_id": "B", "fiscal_year": 2024, "fiscal_period": "FY", "current_ratio": 0.8},
                      {"entity_id": "C", "fiscal_year": 2024, "fiscal_period": "FY", "current_ratio": 2.5}])
    kg.add_portfolios(graph, {p: (p.lower(), effective, [kg.Held(e, w, ((e, 2024, "FY"),)) for e, w in held])
                              for p, (effective, held) in books.items()})
    kg.set_liquidity_shares(graph, liquidity)
    return kg.reason_portfolios(graph, date(2026, 11, 27))


def test_portfolio_classes_at_and_around_their_thresholds() -> None:
    """Concentrated: a holding above a tenth, or fewer than ten effective holdings (on the bounds: neither);
    liquidity risk exposure: more than a fifth of the value in liquidity concerns."""
    even = [(e, 0.1) for e in "ABC"] + [(f"X{i}", 0.1) for i in range(7)]
    graph = portfolio_graph({
        "EVEN": (10.0, even), "HEAVY": (10.0, [("A", 0.1001), *even[1:]]), "FEW": (9.99, even),
        "LIQUID": (10.0, even), "EXPOSED": (10.0, even)}, {"LIQUID": 0.2, "EXPOSED": 0.2001})
    found = {(f.entity_id, f.flag) for f in graph.portfolio_flags}
    assert found == {("HEAVY", "ConcentratedPortfolio"), ("FEW", "ConcentratedPortfolio"),
                     ("EXPOSED", "LiquidityRiskExposure")}
    heavy = next(f for f in graph.portfolio_flags if f.entity_id == "HEAVY")
    assert heavy.explanation == "flagged because holding_weight = 0.1001 > 0.1 (A)"
    assert (heavy.fiscal_period, heavy.severity, heavy.label) == ("portfolio", "watch", "concentrated portfolio")
    few = next(f for f in graph.portfolio_flags if f.entity_id == "FEW")
    assert few.explanation == "flagged because effective_holdings = 9.99 < 10.0 (at the last close)"
    assert graph.flags and all(f.entity_id in "ABC" for f in graph.flags)  # the companies' flags are untouched


def test_the_share_of_value_carrying_each_flag_is_a_sparql_sum_over_the_reasoned_graph() -> None:
    from generator.graph_queries import flag_shares

    graph = portfolio_graph({"P": (2.5, [("A", 0.5), ("B", 0.3), ("C", 0.2)])}, {})
    shares = {s["flag"]: (s["share"], s["holdings"]) for s in flag_shares(graph, "P")}
    assert shares["LiquidityConcern"] == (pytest.approx(0.3), ["B"])
    assert shares["StrongLiquidity"] == (pytest.approx(0.2), ["C"])
    assert flag_shares(graph, "NOPE") == []


# The driver (generator/ontology/PartitionReasoner.java) against HermiT's own command line, the path it replaced: the
# command line reads the ontology and one partition from one file and prints its hierarchy and every individual's
# most specific classes; the driver must print the same for every partition.

def command_line(tbox: bytes, partitions: list[bytes], directory: Path) -> tuple[set[tuple[str, str]],
                                                                                  set[tuple[str, str]], bool]:
    """HermiT's command line (``-c -I``) over one file per partition, in one JVM: (types, hierarchy, whether it stopped
    at an inconsistent partition)."""
    files = []
    for i, partition in enumerate(partitions):
        files.append(directory / f"cli{i}.nt")
        files[-1].write_bytes(tbox + partition)
    done = subprocess.run([kg.java(), "-cp", kg._classpath(), "org.semanticweb.HermiT.cli.CommandLine", "-c", "-I",
                           *[f.as_uri() for f in files]], capture_output=True, text=True, check=False)
    stopped = done.returncode != 0
    assert not stopped or "InconsistentOntologyException" in done.stderr, done.stderr[-2000:]
    return set(kg._TYPE_LINE.findall(done.stdout)), set(kg._SUBCLASS_LINE.findall(done.stdout)), stopped


def driver_types(answers: list[kg.Realised]) -> set[tuple[str, str]]:
    return {pair for answer in answers for pair in answer.types}


def most_specific(types: set[tuple[str, str]], hierarchy: set[tuple[str, str]]) -> set[tuple[str, str]]:
    """The command line's types without those above another type of the same individual: HermiT's "direct" types
    sometimes keep a superclass (MarketSnapshot beside CheapValuation), depending on the order its tableau read the
    model off in; the driver writes only the most specific. Everything above them is the same."""
    closed = kg._with_superclasses(types, hierarchy)
    above = {(i, sup) for i, c in types for (_, sup) in kg._with_superclasses({(i, c)}, hierarchy) if sup != c}
    assert kg._with_superclasses(types - above, hierarchy) == closed
    return types - above


def same_types(answers: list[kg.Realised], expected: set[tuple[str, str]], hierarchy: set[tuple[str, str]]) -> None:
    found = driver_types(answers)
    assert found == most_specific(expected, hierarchy)
    assert kg._with_superclasses(found, hierarchy) == kg._with_superclasses(expected, hierarchy)


def test_the_driver_gives_the_command_line_s_types_on_every_sample_partition(sample_run: Any, tmp_path: Path) -> None:
    """The sample's companies with their statements and market snapshots, each company one partition: the same
    Type lines for every individual and the same hierarchy, through the per-worker entry a process pool would call."""
    graph = kg.build(sample_run.analysis, sample_run.market, sample_run.as_of)
    tbox = kg.ntriples(graph.tbox)
    partitions = [kg.ntriples(onto) for _, onto in sorted(graph.companies.items())]
    expected, hierarchy, stopped = command_line(tbox, partitions, tmp_path)
    answers = kg.realise_partitions(tbox, partitions)
    assert not stopped and all(a.consistent for a in answers)
    assert {pair for a in answers for pair in a.hierarchy} == hierarchy
    same_types(answers, expected, hierarchy)
    assert len(expected) > len(partitions) * 16  # every snapshot, the company and its sector have a type
    market = {cls for ind, cls in expected if "#market_" in ind}
    assert kg.NAMESPACE + "DeepDrawdown" in market


def test_an_inconsistent_partition_among_consistent_ones_is_reported_and_the_others_classified(tmp_path: Path) -> None:
    world, tbox_onto = kg.load_ontology()
    graph = kg.populate(world, tbox_onto, table([
        {"entity_id": "GOOD", "fiscal_year": 2024, "fiscal_period": "FY", "current_ratio": 0.5},
        {"entity_id": "BAD", "fiscal_year": 2024, "fiscal_period": "FY", "current_ratio": -0.5},
        {"entity_id": "LAST", "fiscal_year": 2023, "fiscal_period": "FY", "net_income": -1.0},
        {"entity_id": "LAST", "fiscal_year": 2024, "fiscal_period": "FY", "net_income": 1.0}]))
    tbox = kg.ntriples(graph.tbox)
    names = ["GOOD", "BAD", "LAST"]
    partitions = [kg.ntriples(graph.companies[n]) for n in names]
    with kg.HermitDriver(tbox) as driver:
        assert driver.consistent
        answers = driver.realise(partitions)
        assert [a.consistent for a in answers] == [True, False, True]
        assert answers[1].types == []
        again = driver.realise(partitions[2:])  # the inconsistent facts are gone again
    for i in (0, 2):
        expected, hierarchy, stopped = command_line(tbox, [partitions[i]], tmp_path)
        assert not stopped
        same_types([answers[i]], expected, hierarchy)
    assert set(again[0].types) == set(answers[2].types)
    assert (graph.snapshots[("GOOD", 2024, "FY")].iri, kg.NAMESPACE + "LiquidityConcern") in answers[0].types
    assert command_line(tbox, [partitions[1]], tmp_path)[2]  # the command line stops at it too


def test_a_partition_beyond_individuals_is_reasoned_as_the_command_line_does(tmp_path: Path) -> None:
    """A partition that also says something about classes (here: a new subclass of a category, and an individual of
    it) cannot keep the ontology's classification: the driver reloads ontology and partition, like the command line,
    and reports the partition's own hierarchy."""
    world, tbox_onto = kg.load_ontology()
    graph = kg.populate(world, tbox_onto, table([
        {"entity_id": "X", "fiscal_year": 2024, "fiscal_period": "FY", "current_ratio": 0.5}]))
    tbox = kg.ntriples(graph.tbox)
    special = "https://finreport.dev/data/X#SpecialConcern"
    extra = (f"<{special}> <{rdflib.RDF.type}> <{rdflib.OWL.Class}> .\n"
             f"<{special}> <{rdflib.RDFS.subClassOf}> <{kg.NAMESPACE}LossMaking> .\n"
             f"<https://finreport.dev/data/X#odd> <{rdflib.RDF.type}> <{special}> .\n").encode()
    partition = kg.ntriples(graph.companies["X"]) + extra
    expected, hierarchy, stopped = command_line(tbox, [partition], tmp_path)
    (answer,) = kg.realise_partitions(tbox, [partition])
    assert not stopped and answer.consistent and set(answer.hierarchy) == hierarchy
    same_types([answer], expected, hierarchy)
    assert (special, kg.NAMESPACE + "LossMaking") in answer.hierarchy
    assert ("https://finreport.dev/data/X#odd", special) in answer.types


def test_a_driver_killed_mid_way_is_a_clear_error_not_a_hang(fixtures: kg.Graph) -> None:
    tbox = kg.ntriples(fixtures.tbox)
    partitions = [kg.ntriples(onto) for _, onto in sorted(fixtures.companies.items())] * 3
    driver = kg.HermitDriver(tbox)
    try:
        for partition in partitions:
            driver.submit(partition)
        assert driver.result().consistent
        os.kill(driver.process_id, signal.SIGKILL)
        with pytest.raises(kg.ReasonerError, match=r"^the HermiT driver \(pid \d+\) died \(killed by signal 9\)"):
            for _ in partitions[1:]:
                driver.result()
        with pytest.raises(kg.ReasonerError, match="died"):
            driver.submit(partitions[0])
        assert not driver.alive
    finally:
        driver.close()


def test_a_run_after_its_idle_driver_died_starts_a_new_one() -> None:
    """Drivers stay started between runs in a process; one that died while idle is not reused."""
    graph = reasoned([{"entity_id": "K", "fiscal_year": 2024, "fiscal_period": "FY", "current_ratio": 0.5}])
    idle = [d for d in kg._IDLE if d.digest == hashlib.sha256(graph.tbox_triples or b"").hexdigest()]
    assert idle and graph.timings["jvm_starts"] in (0.0, 1.0)
    for d in idle:
        os.kill(d.process_id, signal.SIGKILL)
        d._process.wait()
    again = reasoned([{"entity_id": "K", "fiscal_year": 2024, "fiscal_period": "FY", "current_ratio": 0.5}])
    assert flags(again, "K") == {"LiquidityConcern"} and again.timings["jvm_starts"] == 1.0

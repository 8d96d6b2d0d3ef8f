"""The SPARQL queries the report layer asks of the reasoned graph, each named, all in one place.

They run on Owlready2's native SPARQL engine over the world ``graph.build`` made and ``graph.reason``
classified (inferred categories are asserted types by then). ``??1``, ``??2`` are parameters.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from generator.graph import Graph

PREFIXES = """
PREFIX fr: <https://finreport.dev/ontology/finance#>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
PREFIX owl: <http://www.w3.org/2002/07/owl#>
"""

FLAGS_OF_ENTITY = PREFIXES + """
SELECT ?year ?period ?flag ?severity WHERE {
  ?company fr:entity_id ??1 .
  ?snapshot fr:of_company ?company ; fr:fiscal_year ?year ; fr:fiscal_period ?period ; a ?category .
  ?category fr:severity ?severity .
  BIND(STRAFTER(STR(?category), "#") AS ?flag)
}
ORDER BY ?year ?period ?flag
"""
"""Every flag of one company: (fiscal_year, fiscal_period, class name, severity)."""

FACTS_OF_SNAPSHOT = PREFIXES + """
SELECT ?metric ?value WHERE {
  ?company fr:entity_id ??1 .
  ?snapshot fr:of_company ?company ; fr:fiscal_year ??2 ; fr:fiscal_period ??3 ; ?property ?value .
  ?property a owl:DatatypeProperty .
  FILTER(?property NOT IN (fr:fiscal_year, fr:fiscal_period))
  BIND(STRAFTER(STR(?property), "#") AS ?metric)
}
ORDER BY ?metric
"""
"""The metric values a snapshot carries in the graph: (metric, value)."""

PEERS_IN_SECTOR = PREFIXES + """
SELECT DISTINCT ?peer WHERE {
  ?company fr:entity_id ??1 ; fr:in_sector ?sector .
  ?sector rdfs:label ?name .
  ?other fr:in_sector ?peer_sector ; fr:entity_id ?peer .
  ?peer_sector rdfs:label ?name .
  FILTER(?peer != ??1)
}
ORDER BY ?peer
"""
"""Companies in the same sector (sectors are matched by name: each company's graph has its own)."""

SNAPSHOTS_WITH_FLAG = PREFIXES + """
SELECT ?entity ?year ?period WHERE {
  ?snapshot a ??1 ; fr:of_company ?company ; fr:fiscal_year ?year ; fr:fiscal_period ?period .
  ?company fr:entity_id ?entity .
}
ORDER BY ?entity ?year ?period
"""
"""Every snapshot in one category, across companies: (entity_id, fiscal_year, fiscal_period)."""


FLAG_SHARES = PREFIXES + """
SELECT ?flag ?severity (SUM(?weight) AS ?share) (GROUP_CONCAT(STR(?holding); SEPARATOR=" ") AS ?holdings) WHERE {
  ?portfolio fr:portfolio_id ??1 ; fr:holds ?holding .
  ?holding fr:holding_weight ?weight ; fr:judged_on ?snapshot .
  ?snapshot a ?category .
  ?category fr:severity ?severity .
  BIND(STRAFTER(STR(?category), "#") AS ?flag)
}
GROUP BY ?flag ?severity
ORDER BY ?flag
"""
"""Each company flag a portfolio's holdings carry (on the snapshots they are judged on: the report period and the
share at the last close), with the share of the portfolio's value that carries it and the holdings that do:
(flag, severity, share, the holdings' IRIs separated by spaces). A holding's two snapshots never share a category."""


def _rows(graph: Graph, query: str, *params: Any) -> list[tuple[Any, ...]]:
    return [tuple(_plain(v) for v in row) for row in graph.world.sparql(query, list(params))]


def _plain(value: Any) -> Any:
    return str(value) if type(value).__name__ in ("locstr",) else value


def flags_of(graph: Graph, entity_id: str) -> list[tuple[int, str, str, str]]:
    """Every flag of one company as the graph itself holds it (:data:`FLAGS_OF_ENTITY`): what the reasoner asserted,
    whatever the report layer recorded."""
    return _rows(graph, FLAGS_OF_ENTITY, entity_id)  # type: ignore[return-value]


def facts_of(graph: Graph, entity_id: str, fiscal_year: int, fiscal_period: str) -> dict[str, float]:
    """The metric values one snapshot carries in the graph (:data:`FACTS_OF_SNAPSHOT`): what HermiT judged it on."""
    return dict(_rows(graph, FACTS_OF_SNAPSHOT, entity_id, fiscal_year, fiscal_period))


def peers_of(graph: Graph, entity_id: str) -> list[str]:
    """The entity ids of the company's sector peers (:data:`PEERS_IN_SECTOR`): whom its answers rank it against."""
    return [row[0] for row in _rows(graph, PEERS_IN_SECTOR, entity_id)]


def snapshots_with(graph: Graph, flag: str) -> list[tuple[str, int, str]]:
    """Every snapshot in one category across companies (:data:`SNAPSHOTS_WITH_FLAG`); ``flag`` names its class."""
    return _rows(graph, SNAPSHOTS_WITH_FLAG, graph.tbox[flag])  # type: ignore[return-value]


def flag_shares(graph: Graph, portfolio_id: str) -> list[dict[str, Any]]:
    """The share of a portfolio's value carrying each company flag (:data:`FLAG_SHARES`), as the reasoned graph holds
    it: ``flag, severity, share, holdings`` (the holdings' ids, sorted), by flag."""
    return [{"flag": flag, "severity": severity, "share": share,
             "holdings": sorted(unquote(iri.rsplit("#holding_", 1)[1]) for iri in held.split())}
            for flag, severity, share, held in _rows(graph, FLAG_SHARES, portfolio_id)]

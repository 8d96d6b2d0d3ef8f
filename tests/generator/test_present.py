"""How figures, periods and sentences are shown to people: one precision per unit, never more than the data has."""

from __future__ import annotations

import jinja2.exceptions
import pytest

from generator import present


@pytest.mark.parametrize(
    ("value", "unit", "shown"),
    [
        (394_328_000_000, "currency", "$394.3bn"),
        (-12_400_000, "currency", "-$12.4m"),
        (950, "currency", "$950"),
        (0.2531, "fraction", "25.3%"),
        (-0.0281, "fraction", "-2.8%"),
        (0.87935, "multiple", "0.88x"),
        (41.3, "days", "41 days"),
        (7.0, "score", "7"),
        (2.0776, "score", "2.08"),
        (6.11, "currency_per_share", "$6.11"),
        (None, "fraction", "n/a"),
    ],
)
def test_numbers_are_formatted_for_people(value: float | None, unit: str, shown: str) -> None:
    assert present.by_unit(value, unit) == shown


def test_money_in_other_currencies() -> None:
    assert present.money(1_234_000_000, "EUR") == "€1.2bn"
    assert present.money(5_000_000, "SEK") == "SEK 5.0m"


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_a_value_that_is_no_finite_number_is_shown_as_absent(value: float) -> None:
    assert present.by_unit(value, "fraction") == "n/a"


def test_share_counts_and_amounts_as_filed() -> None:
    assert present.shares(15_812_547_000) == "15.8bn shares"
    assert present.shares(950) == "950 shares"
    assert present.per_share(-0.88, "EUR") == "-€0.88"
    assert present.amount(9_927_000_000) == "9,927,000,000"  # a finding quotes what the filing says
    assert present.amount(12.5) == "12.50"


def test_periods_and_sentences() -> None:
    assert present.period_label(2025, "FY") == "FY2025"
    assert present.period_label(2024, "Q3") == "Q3 FY2024"
    assert present.capitalised("return on equity") == "Return on equity"
    assert present.capitalised("") == ""


def test_every_key_figure_list_names_registry_metrics() -> None:
    from generator.metrics import definition

    for kpi in (*present.REPORT_KPIS, *present.MAIL_KPIS, *present.OVERVIEW_KPIS):
        definition(kpi)  # raises for a name the registry does not know


def test_the_report_escapes_data_and_only_the_e_mail_s_html_part_does() -> None:
    hostile = "<b>Acme & Sons</b>"
    report = present.templates()
    assert report.from_string("{{ name }}").render(name=hostile) == "&lt;b&gt;Acme &amp; Sons&lt;/b&gt;"
    mail = present.templates(html_only=True)
    assert (mail.autoescape("email.html.j2"), mail.autoescape("email.txt.j2")) == (True, False)
    with pytest.raises(jinja2.exceptions.UndefinedError):
        report.from_string("{{ missing }}").render()
    assert (present.assets() / "report.css").is_file()


def test_the_answer_templates_reach_nothing_beyond_their_values() -> None:
    with pytest.raises(jinja2.exceptions.SecurityError):
        present.sandbox().from_string("{{ value.__class__.__mro__ }}").render(value=1.0)
    assert present.sandbox().from_string("{{ value }} up").render(value="5%") == "5% up"

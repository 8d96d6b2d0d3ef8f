"""generator/ask/tables.py on real TAT-QA tables (copied from tatqa_dataset_dev.json, MIT licence, by uid) and odd
cells, and the prediction it hands TAT-QA's official scorer."""

from __future__ import annotations

from datetime import date

import pytest

from bench.tatqa_metric import TaTQAEmAndF1
from generator.ask.knowledge import PERIODS_SCHEMA, VALUES_SCHEMA
from generator.ask.tables import TableError, parse_cell, slug, table_knowledge, table_scale, tatqa_prediction, year_of

AS_OF = date(2025, 1, 1)

# Segment sales: a spanning "Fiscal" header, years in their own row, the scale in a row of its own, sections, "$" on
# the first and last rows only.
SEGMENTS = {"uid": "53474060-2736-46cb-bd97-1eb42f0ff3c1", "table": [
    ["", "", "Fiscal", ""], ["", "2019", "2018", "2017"], ["", "", "(in millions)", ""],
    ["Transportation Solutions:", "", "", ""], ["Automotive", "$ 5,686", "$ 6,092", "$  5,228"],
    ["Commercial transportation", "1,221", "1,280", "997"], ["Sensors", "914", "918", "814"],
    ["Total Transportation Solutions", "7,821", "8,290", "7,039"], ["Industrial Solutions:", "", "", ""],
    ["Industrial equipment", "1,949", "1,987", "1,747"],
    ["Aerospace, defense, oil, and gas", "1,306", "1,157", "1,075"],
    ["Energy", "699", "712", "685"], ["Total Industrial Solutions", "3,954", "3,856", "3,507"],
    ["Communications Solutions:", "", "", ""], ["Data and devices", "993", "1,068", "963"],
    ["Appliances", "680", "774", "676"], ["Total Communications Solutions", "1,673", "1,842", "1,639"],
    ["Total", "$ 13,448", "$ 13,988", "$ 12,185"]]}

# EBITDA reconciliation: dated headers, "$’000" units row, parenthesised negatives, a "Change" column of percentages,
# "-" cells.
EBITDA = {"uid": "77d8e381-01d0-4cf9-882e-e1162db2cff2", "table": [
    ["", "30 June 2019", "30 June 2018", "Change"], ["", "$’000", "$’000", "%"],
    ["Net profit/(loss) after tax", "(9,819)", "6,639", "(248%)"], ["Add: finance costs", "54,897", "25,803", "113%"],
    ["Less: interest income", "(8,220)", "(5,778)", "42%"],
    ["Add/(less): income tax expense/(benefit)", "(6,254)", "4,252", "(247%)"],
    ["Add: depreciation and amortisation", "48,442", "33,038", "47%"], ["EBITDA", "79,046", "63,954", "24%"],
    ["Less: gain on extinguishment of B1 lease", "(1,068)", "-", ""],
    ["Less: gain on extinguishment of APDC leases", "(1,291)", "-", ""],
    ["Less: distribution income", "(1,344)", "(3,191)", "(58%)"],
    ["Add: APDC transaction costs", "5,459", "1,812", "201%"],
    ["Add: landholder duty on acquisition of APDC properties", "3,498", "-", ""],
    ["Add: Singapore and Japan costs", "823", "-", ""], ["Underlying EBITDA", "85,123", "62,575", "36%"]]}

# Pension assumptions: each year twice, under "Domestic" and "International"; percentages; "- - %" cells.
RATES = {"uid": "52164b70-6973-4844-af6a-76e8f1298d64", "table": [
    ["", "Domestic", "", "International", ""], ["", "September 30,", "", "September 30,", ""],
    ["", "2019", "2018", "2019", "2018"], ["Discount rate", "4.00%", "3.75%", "1.90%", "2.80%"],
    ["Expected return on plan assets", "", "", "3.40%", "3.70%"],
    ["Rate of compensation increase", "", "", "- - %", "- - %"]]}

# Income tax: "Federal" and "State" each under two sections; the scale only in the text around it.
TAX = {"uid": "d8d662b8-dbd2-4450-a1fd-7cf111b4236a", "table": [
    ["", "Year Ended December 31,", ""], ["", "2019", "2018"], ["Current income tax expense (benefit):", "", ""],
    ["Federal", "$5", "$4"], ["State", "10", "5"], ["Deferred income tax expense (benefit):", "", ""],
    ["Federal", "4,206", "4,860"], ["State", "(11,346)", "665"],
    ["Income tax expense (benefit)", "$(7,125)", "$5,534"]]}
TAX_TEXT = "— (Continued) (United States Dollars in thousands, except per share amounts)"

# Goodwill roll-forward: two periods stacked, each under its own header; non-year columns.
GOODWILL = {"uid": "8749fc7b-19fb-4014-8eed-f96a05da50cf", "table": [
    ["(In Millions)", "Dec 29, 2018", "Acquisitions", "Transfers", "Other", "Dec 28, 2019"],
    ["Data Center Group", "$5,424", "$1,758", "$—", "$—", "$7,155"],
    ["Internet of Things Group", "1,579", "—", "—", "—", "1,579"],
    ["Total", "$24,513", "$1,825", "$—", "$(62)", "$26,276"],
    ["(In Millions)", "Dec 30, 2017", "Acquisitions", "Transfers", "Other", "Dec 29, 2018"],
    ["Data Center Group", "$5,421", "$3", "$—", "$—", "$5,424"],
    ["Internet of Things Group", "1,126", "16", "480", "(43)", "1,579"],
    ["Total", "$24,389", "$162", "$—", "$(38)", "$24,513"]]}


def value(knowledge, uid, metric, year):
    return knowledge.value(uid, metric, year)


def test_segment_table_years_values_labels_units_scale():
    k, scale = table_knowledge(SEGMENTS, AS_OF)
    uid = SEGMENTS["uid"]
    assert scale == "million"
    assert k.what == "tables"
    assert list(k.companies) == [uid] and k.companies[uid].name == "the table"
    assert k.years(uid) == [2017, 2018, 2019]
    assert value(k, uid, "automotive", 2019) == (5686.0, None)
    assert value(k, uid, "automotive", 2017) == (5228.0, None)
    assert value(k, uid, "aerospace_defense_oil_and_gas", 2018) == (1157.0, None)
    assert value(k, uid, "total", 2017) == (12185.0, None)
    assert k.figures["aerospace_defense_oil_and_gas"].label == "Aerospace, defense, oil, and gas"
    # A table of dollars: rows printed without "$" are money too.
    assert {f.unit for f in k.figures.values()} == {"currency"}
    assert all(f.words == () for f in k.figures.values())
    assert "transportation_solutions" not in k.figures  # a section header, not a figure
    assert k.sources(uid, "sensors", 2018) == [f"table {uid} row 6 'Sensors', column 2 'Fiscal 2018 (in millions)'"]
    assert k.sources(uid, "sensors", 2016) == []
    assert k.sources("another", "sensors", 2018) == []


def test_frames_follow_the_knowledge_schemas():
    k, _ = table_knowledge(SEGMENTS, AS_OF)
    assert k.values.schema == VALUES_SCHEMA
    assert k.periods.schema == PERIODS_SCHEMA
    assert k.periods["fiscal_year"].to_list() == [2017, 2018, 2019]
    assert k.periods["period_start"].null_count() == 3 and k.periods["period_end"].null_count() == 3
    assert k.span(SEGMENTS["uid"], 2019) == (None, None)


def test_years_after_the_as_of_date_are_left_out():
    k, _ = table_knowledge(SEGMENTS, date(2018, 12, 31))
    assert k.years(SEGMENTS["uid"]) == [2017, 2018]
    assert value(k, SEGMENTS["uid"], "automotive", 2019) == (None, None)


def test_negatives_empty_cells_and_a_change_column():
    k, scale = table_knowledge(EBITDA, AS_OF)
    uid = EBITDA["uid"]
    assert scale == "thousand"
    assert k.years(uid) == [2018, 2019]
    assert value(k, uid, "net_profit_loss_after_tax", 2019) == (-9819.0, None)
    assert value(k, uid, "net_profit_loss_after_tax", 2018) == (6639.0, None)
    assert value(k, uid, "less_distribution_income", 2018) == (-3191.0, None)
    assert value(k, uid, "less_gain_on_extinguishment_of_b1_lease", 2018) == (None, "empty cell")
    assert value(k, uid, "less_gain_on_extinguishment_of_b1_lease", 2019) == (-1068.0, None)
    assert k.figures["ebitda"].unit == "currency"
    # The "Change" column is a figure of its own, a fraction, dated the latest year.
    assert k.figures["net_profit_loss_after_tax_change_pct"].unit == "fraction"
    assert value(k, uid, "net_profit_loss_after_tax_change_pct", 2019) == (-2.48, None)
    assert value(k, uid, "net_profit_loss_after_tax_change_pct", 2018) == (None, None)
    assert value(k, uid, "underlying_ebitda_change_pct", 2019) == (0.36, None)
    assert "less_gain_on_extinguishment_of_b1_lease_change_pct" not in k.figures  # its Change cell is blank
    assert k.sources(uid, "ebitda", 2019) == [f"table {uid} row 7 'EBITDA', column 1 '30 June 2019 $’000'"]


def test_a_year_twice_is_told_apart_by_its_group_header():
    k, scale = table_knowledge(RATES, AS_OF)
    uid = RATES["uid"]
    assert scale == ""
    assert k.years(uid) == [2018, 2019]
    assert value(k, uid, "discount_rate", 2019) == (0.04, None)
    assert value(k, uid, "discount_rate", 2018) == (0.0375, None)
    assert value(k, uid, "discount_rate_international", 2019) == (0.019, None)
    assert value(k, uid, "discount_rate_international", 2018) == (0.028, None)
    assert k.figures["discount_rate"].label == "Discount rate (Domestic)"
    assert k.figures["discount_rate_international"].label == "Discount rate (International)"
    assert k.figures["discount_rate_international"].unit == "fraction"
    assert value(k, uid, "expected_return_on_plan_assets_international", 2019) == (0.034, None)
    assert "expected_return_on_plan_assets" not in k.figures  # no domestic figure: every cell blank
    assert not any(name.startswith("rate_of_compensation") for name in k.figures)  # only "- - %" cells
    assert k.sources(uid, "discount_rate_international", 2019) == [
        f"table {uid} row 3 'Discount rate', column 3 'International September 30, 2019'"]


def test_a_label_repeated_under_two_sections_takes_the_section():
    k, scale = table_knowledge(TAX, AS_OF)
    uid = TAX["uid"]
    assert scale == ""  # the table names none
    assert value(k, uid, "current_income_tax_expense_benefit_federal", 2019) == (5.0, None)
    assert value(k, uid, "deferred_income_tax_expense_benefit_federal", 2019) == (4206.0, None)
    assert value(k, uid, "deferred_income_tax_expense_benefit_state", 2019) == (-11346.0, None)
    assert value(k, uid, "income_tax_expense_benefit", 2019) == (-7125.0, None)
    assert k.figures["deferred_income_tax_expense_benefit_state"].label == \
        "State (Deferred income tax expense (benefit))"
    assert "federal" not in k.figures
    assert k.sources(uid, "deferred_income_tax_expense_benefit_state", 2018) == [
        f"table {uid} row 7 'State', column 2 'Year Ended December 31, 2018'"]
    # The text around the table gives the scale when the table does not; an amount in passing does not.
    assert table_knowledge(TAX, AS_OF, TAX_TEXT)[1] == "thousand"
    assert table_knowledge(TAX, AS_OF, "a $43 million tax benefit")[1] == ""


def test_stacked_periods_are_read_under_their_own_headers():
    k, scale = table_knowledge(GOODWILL, AS_OF)
    uid = GOODWILL["uid"]
    assert scale == "million"
    assert k.years(uid) == [2017, 2018, 2019]
    assert value(k, uid, "data_center_group", 2017) == (5421.0, None)
    assert value(k, uid, "data_center_group", 2018) == (5424.0, None)  # in both blocks, the same
    assert value(k, uid, "data_center_group", 2019) == (7155.0, None)
    # Non-year columns are dated their block's latest year.
    assert value(k, uid, "data_center_group_acquisitions", 2019) == (1758.0, None)
    assert value(k, uid, "data_center_group_acquisitions", 2018) == (3.0, None)
    assert value(k, uid, "internet_of_things_group_other", 2018) == (-43.0, None)
    assert value(k, uid, "total_other", 2019) == (-62.0, None)
    assert "in_millions" not in k.figures  # the second header is not a row of figures
    assert k.sources(uid, "data_center_group", 2017) == [
        f"table {uid} row 5 'Data Center Group', column 1 'Dec 30, 2017'"]


def test_two_blocks_that_disagree_give_no_value():
    table = {"uid": "t", "table": [["", "2019", "2018"], ["Sales", "10", "8"],
                                    ["", "2018", "2017"], ["Sales", "9", "7"]]}
    k, _ = table_knowledge(table, AS_OF)
    assert value(k, "t", "sales", 2019) == (10.0, None)
    assert value(k, "t", "sales", 2017) == (7.0, None)
    assert value(k, "t", "sales", 2018) == (None, "two values in the table: 8 and 9")


@pytest.mark.parametrize(("table", "reason"), [
    # Option roll-forward (a9ddf64a-2806-4476-b341-05d7d06fdcf6): dates in the rows, measures in the columns.
    ({"uid": "a", "table": [
        ["", "Number of Shares", "Weighted-Average Exercise Price Per Share"],
        ["Outstanding at September 30, 2016", "3,015,374", "$3.95"], ["Granted", "147,800", "$7.06"],
        ["Outstanding at September 30, 2017", "2,845,866", "$4.21"]]}, "dated rows"),
    # Lease maturities (44c7c9ef-bb9f-45c9-9ee5-e2bf465c3617): years as rows.
    ({"uid": "b", "table": [
        ["", "Operating Leases", "Finance Leases"], ["2021", "$138", "$6"], ["2022", "135", "6"],
        ["2023", "120", "7"], ["Thereafter", "577", "35"]]}, "years are rows"),
    # Contractual obligations (b7650647-937a-4dff-965c-2535d4918d5e): periods, no year at all.
    ({"uid": "c", "table": [
        ["", "", "Payments due by period", "", "", ""],
        ["", "Up to 1 year", "1 to 3 years", "3 to 5 years", "More than 5 years", "Total"],
        ["Operating lease obligations", "16,164", "19,812", "6,551", "5,883", "48,410"]]}, "no year columns"),
    ({"uid": "d", "table": [["", "2019", "2018"], ["Revenue", "", "n/a"]]}, "no body"),
    ({"uid": "e", "table": [["", "2026", "2027"], ["Payments", "5", "6"]]}, "only future years"),
])
def test_tables_it_cannot_map_say_why(table, reason):
    with pytest.raises(TableError) as caught:
        table_knowledge(table, AS_OF)
    assert caught.value.reason == reason


def test_one_year_above_columns_that_are_not_years():
    table = {"uid": "f", "table": [
        ["December 31, 2019", "", "", ""], ["", "Level 1", "Level 2", "Total"],
        ["Money market funds", "$1,200", "—", "$1,200"], ["Bonds", "—", "350", "350"]]}
    k, _ = table_knowledge(table, AS_OF)
    assert k.years("f") == [2019]
    assert value(k, "f", "money_market_funds_level_1", 2019) == (1200.0, None)
    assert value(k, "f", "bonds_level_2", 2019) == (350.0, None)
    assert "bonds_level_1" not in k.figures  # its one cell is blank
    assert k.figures["bonds_total"].label == "Bonds (Total)"


def test_percent_in_the_label_reads_bare_numbers_as_percentages():
    table = {"uid": "g", "table": [["$ million", "2019", "2018", "Change (%)"], ["Revenue", "503.6", "476.9", "5.6"],
                                   ["Gross margin (%)", "73.2", "72.2", "1.0"]]}
    k, scale = table_knowledge(table, AS_OF)
    assert scale == "million"
    assert k.figures["gross_margin_pct"].unit == "fraction"
    assert value(k, "g", "gross_margin_pct", 2019) == (0.732, None)
    assert k.figures["revenue"].unit == "currency"
    assert value(k, "g", "revenue_change_pct", 2019) == (0.056, None)


def test_unlabelled_and_repeated_rows_get_unique_names():
    table = {"uid": "h", "table": [["", "2019", "2018"], ["Cash", "1", "2"], ["", "3", "4"], ["Cash", "5", "6"]]}
    k, _ = table_knowledge(table, AS_OF)
    assert value(k, "h", "cash", 2019) == (1.0, None)
    assert value(k, "h", "row_2", 2019) == (3.0, None)
    assert value(k, "h", "cash_2", 2019) == (5.0, None)
    assert k.figures["cash_2"].label == "Cash (2)"
    assert k.figures["row_2"].label == "(row 2)"


@pytest.mark.parametrize(("cell", "number", "reason"), [
    ("$  1,452.4", 1452.4, None),
    ("(9,819)", -9819.0, None),
    ("(248%)", -2.48, None),
    ("$(89.7)", -89.7, None),
    ("$ (2,235)", -2235.0, None),
    ("(38)%", -0.38, None),
    ("-5%", -0.05, None),
    ("−12", -12.0, None),
    ("100.0 %", 1.0, None),
    ("12.5%", 0.125, None),
    ("(55) bps", -0.0055, None),
    (".5", 0.5, None),
    ("$130,000 (1)", 130000.0, None),
    ("1,234*", 1234.0, None),
    ("US$ 12", 12.0, None),
    ("", None, "empty cell"),
    ("—", None, "empty cell"),
    ("$—", None, "empty cell"),
    ("$ -", None, "empty cell"),
    ("-", None, "empty cell"),
    ("- - %", None, "empty cell"),
    ("n/a", None, "empty cell"),
    ("3-5", None, "not a number: '3-5'"),
    ("20 - Indefinite", None, "not a number: '20 - Indefinite'"),
    ("(56", None, "not a number: '(56'"),
    ("1:1", None, "not a number: '1:1'"),
])
def test_odd_cells(cell, number, reason):
    got = parse_cell(cell)
    assert (got.value, got.reason) == (number, reason)


def test_cell_flags():
    assert parse_cell("12%").percent and not parse_cell("12").percent
    assert parse_cell("$5").currency and parse_cell("€5").currency and not parse_cell("5").currency


@pytest.mark.parametrize(("header", "year"), [
    ("2019", 2019), ("30 June 2019 $’000", 2019), ("Dec 28, 2019", 2019), ("FY19**", 2019), ("F18 (3)", 2018),
    ("2 0 1 8", 2018), ("2019 €m", 2019), ("2019 vs 2018", None), ("Change", None), ("1,234", None),
    ("2017/2018", None),
])
def test_year_of_a_header(header, year):
    assert year_of(header) == year


@pytest.mark.parametrize(("texts", "scale"), [
    (["(in millions)"], "million"), (["$’000"], "thousand"), (["$'000"], "thousand"), (["(In thousands)"], "thousand"),
    (["2019 €m"], "million"), (["USDm"], "million"), (["RMB’Million"], "million"), (["US$bn"], "billion"),
    (["$ MILLION"], "million"), (["(Shares in thousands)", "(Dollars in millions)"], "thousand"),
    (["Net income", "Total"], ""), (["Mobileye"], ""), (["Number of Restaurants"], ""),
])
def test_scale_words(texts, scale):
    assert table_scale(texts) == scale


def test_slugs_are_metric_names():
    assert slug("Add/(less): income tax expense/(benefit)") == "add_less_income_tax_expense_benefit"
    assert slug("Audit Fees (1)") == "audit_fees"
    assert slug("Gross margin (%)") == "gross_margin_pct"
    assert slug("2020") == "n_2020"
    assert slug("Latest") == "latest_row"
    assert slug("") == ""


@pytest.mark.parametrize(("value", "unit", "scale", "expected"), [
    (-0.121398, "fraction", "million", ("-12.1398", "percent")),
    (0.36, "fraction", "", ("36", "percent")),
    (172.0, "currency", "million", ("172", "million")),
    (-94.0, "plain", "thousand", ("-94", "thousand")),
    (1e-05, "plain", "", ("0.00001", "")),
    (5.0, None, "thousand", ("5", "")),
    (2019.0, "year", "million", ("2019", "")),
    (None, "currency", "million", ("", "")),
    (-0.0000001, "plain", "", ("0", "")),
])
def test_tatqa_prediction(value, unit, scale, expected):
    assert tatqa_prediction(value, unit, scale) == expected


@pytest.mark.parametrize(("gold", "value", "unit", "table_scale", "em"), [
    ({"answer_type": "arithmetic", "answer": -12.14, "scale": "percent"}, -0.121398, "fraction", "million", 1.0),
    ({"answer_type": "arithmetic", "answer": 172, "scale": "million"}, 172.0, "currency", "million", 1.0),
    ({"answer_type": "arithmetic", "answer": 172, "scale": "million"}, 172.0, "currency", "thousand", 0.0),
    ({"answer_type": "span", "answer": ["$1,496.5"], "scale": "million"}, 1496.5, "currency", "million", 1.0),
    ({"answer_type": "span", "answer": ["36%"], "scale": ""}, 0.36, "fraction", "thousand", 1.0),
    ({"answer_type": "count", "answer": 3, "scale": ""}, 3.0, None, "million", 1.0),
    ({"answer_type": "arithmetic", "answer": 2.93, "scale": ""}, 2.9347, None, "million", 1.0),
    ({"answer_type": "arithmetic", "answer": 172, "scale": "million"}, None, "currency", "million", 0.0),
])
def test_predictions_score_under_the_official_scorer(gold, value, unit, table_scale, em):
    meter = TaTQAEmAndF1()
    prediction, scale = tatqa_prediction(value, unit, table_scale)
    meter(gold, prediction, scale)
    assert meter.get_overall_metric()[0] == em

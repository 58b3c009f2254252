"""A chart's text alternative holds the very numbers the chart draws (WCAG 1.1.1)."""

import pytest
from django.template.loader import render_to_string

from tests.factories import fleet
from vitiweb.figure_text import figure_table
from vitiweb.overview import fleet_overview


def test_vertical_bars_give_one_row_per_category_and_one_column_per_trace():
    figure = {
        "data": [
            {"type": "bar", "name": "Running", "x": ["prod-east", "prod-west"], "y": [3, 1]},
            {"type": "bar", "name": "Failed", "x": ["prod-east"], "y": [2]},
        ]
    }
    table = figure_table(figure, "Cluster")
    assert table.category == "Cluster"
    assert table.columns == ["Running", "Failed"]
    assert table.rows == [("prod-east", ["3", "2"]), ("prod-west", ["1", "—"])]


def test_horizontal_bars_read_top_down_with_the_value_axis_prefix_and_suffix():
    figure = {
        "data": [{"type": "bar", "orientation": "h", "name": "Machines", "y": ["a/low", "a/high"], "x": [0.096, 12.5]}],
        "layout": {"xaxis": {"tickprefix": "$", "ticksuffix": "/h"}},
    }
    assert figure_table(figure).rows == [("a/high", ["$12.5/h"]), ("a/low", ["$0.096/h"])]


def test_a_pie_gives_its_slices_and_an_empty_figure_no_rows():
    assert figure_table({"data": [{"type": "pie", "labels": ["aws"], "values": [1200]}]}).rows == [("aws", ["1,200"])]
    assert figure_table({"data": []}).rows == []


@pytest.mark.django_db
def test_each_overview_chart_has_its_numbers_in_a_table_beside_it():
    fleet()
    context = fleet_overview()
    html = render_to_string("vitiweb/_overview_charts.html", context)
    assert html.count('<details class="chart-data">') == len(context["figures"]) == 4
    # Machines by phase per cluster: prod-east has one machine Running, one Failed, one Pending
    # (and no sync worker holds it in this test, so its label says it is not current).
    phases = figure_table(context["figures"]["machines_by_phase"])
    assert ("prod-east (not current)", ["1", "1", "1"]) in phases.rows
    for column in phases.columns:
        assert f'<th scope="col" class="num">{column}</th>' in html
    assert '<th scope="row">prod-east (not current)</th>' in html

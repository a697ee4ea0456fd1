"""keras_kd.apps.render: the text every report is made of (percentages,
milliseconds, aligned columns, Markdown and escaped HTML tables, a
self-contained HTML page), checked against the exact strings expected."""

import base64

import pytest

from keras_kd.apps import render


@pytest.mark.parametrize(
    "function, value, expected",
    [
        (render.percent, 0.8891, "88.91%"),
        (render.percent, 1.0, "100.00%"),
        (render.percent, None, "-"),
        (render.milliseconds, 0.0213, "0.021 ms"),
        (render.milliseconds, 12.0, "12.000 ms"),
        (render.milliseconds, None, "-"),
    ],
)
def test_numbers_read_as_the_reports_print_them(function, value, expected):
    assert function(value) == expected


def test_percent_takes_the_number_of_digits():
    assert render.percent(0.88916, digits=1) == "88.9%"


def test_two_columns_aligns_the_values():
    assert render.two_columns([("accuracy", "88.91%"), ("size", "27 KB")]) == (
        "accuracy  88.91%\nsize      27 KB"
    )


def test_markdown_table_right_aligns_every_column_after_the_first():
    table = render.markdown_table(
        ["model", "accuracy", "size"], [["teacher", "98.00%", 1], ["student", "88.91%", 2]]
    )
    assert table.split("\n") == [
        "| model | accuracy | size |",
        "|---|---:|---:|",
        "| teacher | 98.00% | 1 |",
        "| student | 88.91% | 2 |",
    ]


def test_html_table_escapes_every_cell():
    table = render.html_table(["<model>"], [["a&b"], [3]])
    assert table.split("\n") == [
        "<table>",
        "<tr><th>&lt;model&gt;</th></tr>",
        "<tr><td>a&amp;b</td></tr>",
        "<tr><td>3</td></tr>",
        "</table>",
    ]


def test_html_page_is_self_contained_and_escaped():
    png = b"\x89PNG\r\n\x1a\n"
    page = render.html_page(
        "Models <1>",
        [("h2", "Accuracy & size"), ("p", "a<b"), ("table", (["model"], [["student"]]))],
        png=png,
    )
    assert page.startswith("<!DOCTYPE html>\n")
    assert "<title>Models &lt;1&gt;</title>" in page and "<h1>Models &lt;1&gt;</h1>" in page
    assert "<h2>Accuracy &amp; size</h2>" in page and "<p>a&lt;b</p>" in page
    assert "<td>student</td>" in page
    assert f'src="data:image/png;base64,{base64.b64encode(png).decode()}"' in page
    assert "http" not in page  # nothing loaded from outside


def test_html_page_refuses_an_unknown_section_kind():
    with pytest.raises(ValueError, match=r"Unknown section kind 'div': use 'p', 'h2' or 'table'"):
        render.html_page("Models", [("div", "text")])

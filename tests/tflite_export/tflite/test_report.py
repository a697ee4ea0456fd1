"""tflite_export.report's comparison of several .tflite files (Markdown, HTML,
PNG figure) and the `keras-kd report` command, checked against
`tflite_export.evaluate` and the files on disk."""

import dataclasses
import html.parser
import io
import os
import re
import sys

import keras
import numpy as np
import pytest
from _tfmot_models import cnn
from _tfmot_models import images

import tflite_export
from keras_kd.apps import render
from keras_kd.cli import main
from tflite_export import tflite as rep

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Two files converted once: float32 and dynamic-range int8 weights."""
    keras.utils.set_random_seed(0)
    x, y = images(n=256)
    folder = tmp_path_factory.mktemp("report")
    model = cnn(x, y)
    model.save(folder / "cnn.keras")
    np.savez(folder / "test.npz", x=x, y=y)
    np.savez(folder / "unlabeled.npz", x=x)
    np.savez(folder / "no_x.npz", images=x)
    paths = [
        tflite_export.convert(model, folder / "cnn_float32.tflite", verbose=0).path,
        tflite_export.convert(
            model, folder / "cnn_dynamic.tflite", quantization="dynamic", verbose=0
        ).path,
    ]
    reference = model.predict(x, verbose=0)
    reports = [
        tflite_export.evaluate(path, x, y, reference=reference, latency_samples=5, warmup=1)
        for path in paths
    ]
    return folder, paths, reports


class _Cells(html.parser.HTMLParser):
    """The text of each `<tr>` of a page, as a list of cell strings."""

    def __init__(self):
        super().__init__()
        self.rows, self.cell, self.tags = [], None, []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self.cell = ""

    def handle_endtag(self, tag):
        if tag in ("td", "th"):
            self.rows[-1].append(self.cell)
            self.cell = None

    def handle_data(self, data):
        if self.cell is not None:
            self.cell += data


def _parse(page):
    parser = _Cells()
    parser.feed(page)
    return parser


def _markdown_rows(text):
    lines = [line for line in text.splitlines() if line.startswith("| ")]
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in lines]


def _by_header(header, row):
    return dict(zip(header, row))


def test_markdown_has_one_row_per_file_with_measured_values(files):
    _, paths, reports = files
    header, *rows = _markdown_rows(rep.comparison_markdown(reports, caption="256 samples"))
    assert header == [
        "file",
        "bytes",
        "vs first",
        "accuracy",
        "agreement",
        "max abs diff",
        "batch-1 latency (mean)",
        "batch-1 latency (p90)",
    ]
    assert len(rows) == 2
    sizes = [os.path.getsize(path) for path in paths]
    for row, path, size, report in zip(rows, paths, sizes, reports):
        cells = _by_header(header, row)
        assert cells["file"] == os.path.basename(path)
        assert int(cells["bytes"].replace(",", "")) == size
        assert cells["accuracy"] == f"{100 * report.accuracy:.2f}%"
        assert cells["agreement"] == f"{100 * report.agreement:.2f}%"
        assert cells["batch-1 latency (mean)"] == f"{report.latency_ms:#.3g} ms"
    assert rows[0][2] == "1.000x" and rows[1][2] == f"{sizes[1] / sizes[0]:.3f}x"
    assert sizes[1] < sizes[0]  # int8 weights (the graph's own bytes dominate this tiny model)


def test_columns_nothing_measured_are_left_out(files):
    _, _, reports = files
    bare = [
        dataclasses.replace(
            r, agreement=None, max_abs_diff=None, latency_ms=None, latency_p90_ms=None
        )
        for r in reports
    ]
    header, rows = rep.comparison_table(bare)
    assert header == ["file", "bytes", "vs first", "accuracy"] and len(rows) == 2
    with pytest.raises(ValueError, match="at least one EvaluationReport"):
        rep.comparison_table([])


def test_equal_base_names_are_told_apart(files):
    _, _, reports = files
    twins = [
        dataclasses.replace(reports[0], path=os.path.join("/a", "run1", "m.tflite")),
        dataclasses.replace(reports[1], path=os.path.join("/a", "run2", "m.tflite")),
    ]
    assert rep.file_labels(twins) == [
        os.path.join("run1", "m.tflite"),
        os.path.join("run2", "m.tflite"),
    ]


def test_html_table_matches_the_markdown_and_escapes_names(files):
    _, _, reports = files
    odd = dataclasses.replace(reports[1], path=os.path.join("/tmp", 'a<b&"c".tflite'))
    page = rep.comparison_html([reports[0], odd], title="Q&A <run>", caption="x < y")
    parsed = _parse(page)
    header, rows = rep.comparison_table([reports[0], odd])
    assert parsed.rows == [header] + rows  # same columns and cells, one row per file
    assert "a&lt;b&amp;&quot;c&quot;.tflite" in page and "a<b" not in page
    assert "Q&amp;A &lt;run&gt;" in page and "x &lt; y" in page
    assert page.startswith("<!DOCTYPE html>") and "<img" not in page
    assert not {"script", "link"} & set(parsed.tags) and "http" not in page  # self-contained


def _png_shape(content):
    import matplotlib.image

    return matplotlib.image.imread(io.BytesIO(content), format="png").shape


def test_figure_is_a_real_png_with_a_latency_panel_when_measured(files):
    _, _, reports = files
    two_panels = rep.comparison_png(reports, title="cnn")
    one_panel = rep.comparison_png([dataclasses.replace(r, latency_ms=None) for r in reports])
    for content in (two_panels, one_panel):
        assert content.startswith(PNG_MAGIC) and len(content) > 10_000
    height, width, _ = _png_shape(two_panels)
    assert width > 1.7 * _png_shape(one_panel)[1] and height > 300
    figure = rep.comparison_figure(reports)
    assert [len(a.texts) for a in figure.axes] == [2, 2]  # one label per file per panel
    assert figure.axes[0].get_ylabel() == "accuracy (%)"
    page = rep.comparison_html(reports, png=two_panels)
    assert '<img alt="keras-kd report: figure" src="data:image/png;base64,iVBOR' in page


def test_figure_errors(files, monkeypatch):
    _, _, reports = files
    unlabeled = [dataclasses.replace(r, accuracy=None) for r in reports]
    assert rep.comparison_figure(unlabeled).axes[0].get_ylabel() == "agreement with reference (%)"
    with pytest.raises(ValueError, match="neither accuracy nor agreement"):
        rep.comparison_figure([dataclasses.replace(r, agreement=None) for r in unlabeled])
    for name in ("matplotlib", "matplotlib.figure", "matplotlib.backends.backend_agg"):
        monkeypatch.setitem(sys.modules, name, None)
    with pytest.raises(ImportError, match=r"pip install matplotlib.*keras-kd\[dev\]"):
        rep.comparison_png(reports)


def test_cli_writes_all_three_outputs(files, tmp_path, capsys):
    folder, paths, reports = files
    out = {
        kind: tmp_path / name
        for kind, name in [("markdown", "r.md"), ("html", "r.html"), ("figure", "r.png")]
    }
    main(
        [
            "report",
            *paths,
            "--data",
            str(folder / "test.npz"),
            "--reference",
            str(folder / "cnn.keras"),
            "--latency-samples",
            "5",
            *[arg for kind, path in out.items() for arg in (f"--{kind}", str(path))],
        ]
    )
    printed = capsys.readouterr().out
    markdown = out["markdown"].read_text()
    assert markdown in printed and "256 samples from test.npz" in markdown
    header, *rows = _markdown_rows(markdown)
    for row, report in zip(rows, reports):  # same data and reference: same numbers
        cells = _by_header(header, row)
        assert cells["accuracy"] == render.percent(report.accuracy)
        assert cells["agreement"] == render.percent(report.agreement)
        assert int(cells["bytes"].replace(",", "")) == report.bytes
    assert len(rows) == 2
    page = out["html"].read_text()
    assert _parse(page).rows == [header] + rows and "data:image/png;base64," in page
    assert out["figure"].read_bytes().startswith(PNG_MAGIC)
    assert sorted(os.listdir(tmp_path)) == ["r.html", "r.md", "r.png"]  # no temporary files
    for path in out.values():
        assert f"wrote {path}" in printed


def _cases(folder, paths, out):
    data = ["--data", str(folder / "test.npz")]
    html = ["--html", str(out / "r.html")]
    return [
        (["report", *data, *html], "no .tflite files given. Name one or more"),
        (
            ["report", paths[0], str(folder / "absent.tflite"), *data, *html],
            "each file to compare: no such file .*absent.tflite'. Check the path",
        ),
        (
            ["report", paths[0], str(folder / "test.npz"), *data, *html],
            "each file to compare must be a .tflite file. Received: .*test.npz'",
        ),
        (
            ["report", *paths, "--data", str(folder / "no_x.npz"), *html],
            r"--data: .*no_x.npz' holds arrays \['images'\], but needs \['x'\]",
        ),
        (
            ["report", *paths, *data, "--markdown", str(out / "missing" / "r.md")],
            "--markdown: The folder of the output path does not exist",
        ),
        (
            ["report", *paths, *data, "--figure", paths[0]],
            "--figure .*cnn_float32.tflite would overwrite an input",
        ),
        (
            [
                "report",
                *paths,
                "--data",
                str(folder / "unlabeled.npz"),
                "--figure",
                str(out / "r.png"),
            ],
            "--figure plots accuracy against size, but .*unlabeled.npz holds no 'y' labels "
            "and no --reference was given",
        ),
        (
            ["report", *paths, *data, "--reference", str(folder / "absent.keras"), *html],
            "--reference: no such file .*absent.keras'",
        ),
    ]


def test_cli_errors_name_the_problem_and_write_nothing(files, tmp_path, monkeypatch, capsys):
    folder, paths, _ = files
    before = sorted(os.listdir(folder))
    for argv, message in _cases(folder, paths, tmp_path):
        assert main(argv) == 2
        assert re.match(f"error: {message}", capsys.readouterr().err)
    for name in ("matplotlib", "matplotlib.figure", "matplotlib.backends.backend_agg"):
        monkeypatch.setitem(sys.modules, name, None)
    figure = ["--figure", str(tmp_path / "r.png")]
    assert main(["report", *paths, "--data", str(folder / "test.npz"), *figure]) == 2
    assert re.match("error: --figure: .*pip install matplotlib", capsys.readouterr().err)
    assert os.listdir(tmp_path) == [] and sorted(os.listdir(folder)) == before

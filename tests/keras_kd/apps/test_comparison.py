"""keras_kd.apps.comparison: per-class accuracy, agreement, expected calibration
error and the reliability bins against NumPy by hand on small known inputs;
the writers (Markdown, self-contained HTML, a real PNG); the errors."""

import base64
import io
import re

import keras
import numpy as np
import pytest

from keras_kd.apps import comparison


def _ece_by_hand(probabilities, y, bins=15):
    """Guo et al. (2017), eq. 3, written out loop by loop."""
    confidence = probabilities.max(axis=1)
    predicted = probabilities.argmax(axis=1)
    total = 0.0
    for b in range(bins):
        low, high = b / bins, (b + 1) / bins
        members = (confidence > low) & (confidence <= high)
        if members.any():
            acc = np.mean(predicted[members] == y[members])
            conf = np.mean(confidence[members])
            total += members.sum() / len(y) * abs(acc - conf)
    return total


def test_ece_on_a_known_case():
    # Two samples at confidence 0.9 (bin 13: (13/15, 14/15]),
    # one right, one wrong: |0.5 - 0.9| = 0.4 with weight 2/4; two at 0.6, both
    # right: |1 - 0.6| = 0.4 with weight 2/4. ECE = 0.4.
    p = np.array([[0.9, 0.1], [0.9, 0.1], [0.4, 0.6], [0.6, 0.4]])
    y = np.array([0, 1, 1, 0])
    assert comparison.expected_calibration_error(p, y) == pytest.approx(0.4)
    bins = comparison.reliability_bins(p, y)
    assert bins.counts.sum() == 4 and bins.counts[13] == 2 and bins.counts[8] == 2
    assert bins.accuracy[13] == pytest.approx(0.5) and bins.confidence[13] == pytest.approx(0.9)
    assert np.isnan(bins.accuracy[0]) and np.isnan(bins.confidence[0])
    np.testing.assert_allclose(bins.edges, np.linspace(0, 1, 16))


def test_ece_matches_the_formula_on_random_predictions():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(500, 5)) * 3
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    y = rng.integers(0, 5, size=500)
    for bins in (1, 10, 15):
        assert comparison.expected_calibration_error(p, y, bins) == pytest.approx(
            _ece_by_hand(p, y, bins), abs=1e-12
        )


def test_a_confidence_on_a_bin_edge_goes_to_the_lower_bin():
    # 0.6 = 9/15 exactly: bins are (low, high], so it belongs to bin 8.
    p = np.array([[0.6, 0.4]])
    assert comparison.reliability_bins(p, np.array([0])).counts[8] == 1
    assert comparison.reliability_bins(np.array([[1.0, 0.0]]), np.array([0])).counts[14] == 1


def test_a_perfectly_calibrated_model_has_zero_ece():
    p = np.array([[1.0, 0.0], [0.0, 1.0]])
    assert comparison.expected_calibration_error(p, np.array([0, 1])) == 0.0


def test_per_class_accuracy_and_agreement_by_hand():
    p = np.array([[0.8, 0.1, 0.1], [0.1, 0.8, 0.1], [0.1, 0.8, 0.1], [0.1, 0.1, 0.8]])
    y = np.array([0, 1, 0, 1])
    # class 0: samples 0 (right) and 2 (wrong); class 1: 1 (right), 3 (wrong); class 2: none.
    result = comparison.per_class_accuracy(p, y)
    assert result[:2].tolist() == [0.5, 0.5] and np.isnan(result[2])
    teacher = np.array([[0.9, 0.05, 0.05], [0.1, 0.1, 0.8], [0.2, 0.7, 0.1], [0.0, 0.0, 1.0]])
    assert comparison.agreement(p, teacher) == pytest.approx(0.75)  # all but sample 1
    assert comparison.accuracy(p, y) == pytest.approx(0.5)


def test_compare_gathers_every_measure_with_the_first_model_as_reference():
    y = np.array([0, 1, 1, 0])
    teacher = np.array([[0.9, 0.1], [0.2, 0.8], [0.3, 0.7], [0.7, 0.3]])
    student = np.array([[0.6, 0.4], [0.6, 0.4], [0.3, 0.7], [0.4, 0.6]])
    c = comparison.compare({"teacher": teacher, "student": student}, y, ["cat", "dog"])
    assert c.names == ["teacher", "student"]
    assert c.accuracy == [1.0, 0.5] and c.agreement == [1.0, 0.5]
    assert c.ece[1] == pytest.approx(_ece_by_hand(student, y))
    np.testing.assert_allclose(c.per_class, [[1.0, 1.0], [0.5, 0.5]])
    assert c.class_counts.tolist() == [2, 2] and c.samples == 4


@pytest.mark.parametrize(
    "call, error",
    [
        (
            lambda: comparison.accuracy(np.ones(3), np.zeros(3)),
            r"probabilities must have shape \(samples, classes\).*Received shape: \(3,\)",
        ),
        (
            lambda: comparison.accuracy(np.ones((3, 2)), np.zeros(4)),
            r"y must hold one integer label per sample, shape \(3,\). Received shape: \(4,\)",
        ),
        (
            lambda: comparison.accuracy(np.ones((2, 2)), np.eye(2)),
            r"shape \(2,\). Received shape: \(2, 2\), dtype float64 \(one-hot labels: pass y.argmax",
        ),
        (
            lambda: comparison.agreement(np.ones((3, 2)), np.ones((2, 2))),
            r"same samples and classes. Received shapes \(3, 2\) and \(2, 2\)",
        ),
        (
            lambda: comparison.reliability_bins(np.ones((1, 2)) / 2, np.zeros(1, "int32"), bins=0),
            r"bins must be a whole number >= 1. Received: 0",
        ),
        (
            lambda: comparison.compare({}, np.zeros(1)),
            r"compare needs at least one model's probabilities. Received none",
        ),
        (
            lambda: comparison.compare({"a": np.eye(2)}, np.arange(2), ["x"]),
            r"class_names has 1 names but the models output 2 classes",
        ),
        # Hostile inputs, issue 20 (defects 7, 14, 24).
        (
            lambda: comparison.compare({"a": np.eye(3)[[0, 1, 2, 0]]}, np.array([0, 1, 7, 0])),
            r"y: every class label must be in \[0, 2\].*1 of 4 labels are outside it.*largest 7",
        ),
        (
            lambda: comparison.compare({"a": np.eye(3)[[0, 1, 2]]}, np.array([0, -1, 2])),
            r"y: every class label must be in \[0, 2\].*smallest -1",
        ),
        (
            lambda: comparison.per_class_accuracy(np.eye(3), np.array([0, 1, 3])),
            r"every class label must be in \[0, 2\]",
        ),
        (
            lambda: comparison.expected_calibration_error(
                np.array([[1.2, 0.1], [0.3, 0.7]]), np.array([0, 1])
            ),
            r"needs probabilities \(each in \[0, 1\], each row summing to 1\).*from 0.1 to 1.2.*softmax",
        ),
        (
            lambda: comparison.expected_calibration_error(np.zeros((0, 3)), np.zeros(0, "int32")),
            r"at least one sample and 2 classes. Received shape: \(0, 3\)",
        ),
        (
            lambda: comparison.compare({"a": np.zeros((0, 2))}, np.zeros(0, "int32")),
            r"at least one sample",
        ),
        (
            lambda: comparison.accuracy(np.array([[np.nan, 0.5]]), np.zeros(1, "int32")),
            r"holds 1 NaN or infinite values",
        ),
        (
            lambda: comparison.compare({"a": np.eye(2)}, np.arange(2), bins=True),
            r"bins must be a whole number >= 1. Received: True",
        ),
        (
            lambda: comparison.write_comparison(_small_comparison(), __file__),
            r"write_comparison writes three files into a folder, but .* is a file",
        ),
    ],
)
def test_errors_say_what_was_received(call, error):
    with pytest.raises(ValueError, match=error):
        call()


def test_the_counts_of_the_per_class_table_add_up_to_the_samples():
    y = np.array([0, 1, 2, 2, 1])
    c = comparison.compare(
        {"a": np.eye(3)[y], "b": np.eye(3)[[0, 0, 2, 1, 1]]}, y, bins=np.int64(5)
    )
    assert int(c.class_counts.sum()) == c.samples == 5


def test_predict_probabilities_applies_a_softmax_to_logits_only():
    x = np.random.default_rng(0).normal(size=(6, 4)).astype("float32")
    logits = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    softmax = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="softmax")])
    raw = np.asarray(logits.predict(x, verbose=0), dtype="float64")
    expected = np.exp(raw) / np.exp(raw).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(comparison.predict_probabilities(logits, x), expected, rtol=1e-6)
    np.testing.assert_allclose(
        comparison.predict_probabilities(softmax, x), softmax.predict(x, verbose=0), rtol=1e-6
    )


def _small_comparison():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 3, size=60)
    models = {}
    for name, sharpness in (("teacher", 4.0), ("student <alone>", 1.0)):
        logits = rng.normal(size=(60, 3)) + sharpness * np.eye(3)[y]
        models[name] = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return comparison.compare(models, y, ["a", "b", "c"])


def test_writers_produce_markdown_a_self_contained_page_and_a_png(tmp_path):
    pytest.importorskip("matplotlib")
    import matplotlib.image

    c = _small_comparison()
    paths = comparison.write_comparison(c, tmp_path / "out", caption="Digits.")
    assert {p.rsplit("/", 1)[1] for p in paths.values()} == {
        "comparison.md",
        "comparison.html",
        "comparison.png",
    }
    markdown = open(paths["markdown"]).read()
    assert markdown.startswith("Digits. 60 test samples")
    teacher_row = f"| teacher | {100 * c.accuracy[0]:.2f}% | 100.00% | {c.ece[0]:.4f} |"
    assert teacher_row in markdown
    assert "| class | samples | teacher | student <alone> |" in markdown
    png = open(paths["figure"], "rb").read()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    height, width, _ = matplotlib.image.imread(io.BytesIO(png), format="png").shape
    assert width > height > 100
    page = open(paths["html"]).read()
    assert page.startswith("<!DOCTYPE html>") and "student &lt;alone&gt;" in page
    # Self-contained: nothing loaded from outside; the figure embedded is the PNG.
    assert not re.search(r"(src|href)=\"(?!data:)", page)
    embedded = re.search(r'src="data:image/png;base64,([^"]+)"', page).group(1)
    assert base64.b64decode(embedded)[:8] == png[:8]
    assert len(comparison.comparison_figure(c).axes) == 2


def test_missing_matplotlib_is_named_with_the_report_extra(monkeypatch):
    import sys

    for name in ("matplotlib", "matplotlib.figure", "matplotlib.backends.backend_agg"):
        monkeypatch.setitem(sys.modules, name, None)
    with pytest.raises(ImportError, match=r"pip install matplotlib.*keras-kd\[report\]"):
        comparison.comparison_png(_small_comparison())


@pytest.fixture(scope="module")
def saved_models(tmp_path_factory):
    """A logits model and a softmax model saved as .keras, and test.npz."""
    folder = tmp_path_factory.mktemp("compare")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 4)).astype("float32")
    y = rng.integers(0, 3, size=40).astype("int32")
    np.savez(folder / "test.npz", x=x, y=y)
    np.savez(folder / "unlabelled.npz", x=x)
    np.savez(folder / "wide.npz", x=rng.normal(size=(40, 6)).astype("float32"), y=y)
    keras.utils.set_random_seed(0)
    paths = {}
    for name, activation in (("teacher", None), ("student", "softmax")):
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation=activation)])
        paths[name] = folder / f"{name}.keras"
        model.save(paths[name])
    return folder, paths, x, y


def test_cli_compare_prints_and_writes_the_comparison(saved_models, tmp_path, capsys):
    pytest.importorskip("matplotlib")
    from keras_kd import cli

    folder, paths, x, y = saved_models
    out_dir = tmp_path / "comparison"
    code = cli.main(
        [
            "compare",
            paths["teacher"],
            paths["student"],
            "--data",
            folder / "test.npz",
            "--output-dir",
            out_dir,
        ]
    )
    assert code == 0
    out = capsys.readouterr().out
    teacher = keras.saving.load_model(paths["teacher"])
    student = keras.saving.load_model(paths["student"])
    expected = comparison.compare(
        {
            "teacher": comparison.predict_probabilities(teacher, x),
            "student": comparison.predict_probabilities(student, x),
        },
        y,
    )
    assert comparison.comparison_markdown(expected, "test.npz.") in out
    assert sorted(p.name for p in out_dir.iterdir()) == [
        "comparison.html",
        "comparison.md",
        "comparison.png",
    ]
    assert f"wrote {out_dir / 'comparison.png'}" in out


@pytest.mark.parametrize(
    "argv, error",
    [
        (
            ["{teacher}", "--data", "{folder}/test.npz"],
            r"error: compare needs at least two \.keras files; received 1\. Name the teacher first",
        ),
        (
            ["{teacher}", "{student}", "--data", "{folder}/unlabelled.npz"],
            r"error: --data: '.*unlabelled\.npz' holds arrays \['x'\], but needs \['x', 'y'\]",
        ),
        (
            [
                "{teacher}",
                "{student}",
                "--data",
                "{folder}/test.npz",
                "--output-dir",
                "{folder}/test.npz",
            ],
            r"error: --output-dir '.*test\.npz' is a file, not a folder",
        ),
        (
            ["{teacher}", "{folder}/absent.keras", "--data", "{folder}/test.npz"],
            r"error: each model to compare: .*absent\.keras",
        ),
        (
            ["{teacher}", "{student}", "--data", "{folder}/wide.npz"],
            r"error: .*wide\.npz: the inputs 'x' have shape \(40, 6\), but the model .*teacher\.keras expects \(n, 4\)",
        ),
    ],
)
def test_cli_compare_errors_name_the_problem(saved_models, capsys, argv, error):
    from keras_kd import cli

    folder, paths, _, _ = saved_models
    names = {"folder": folder, "teacher": paths["teacher"], "student": paths["student"]}
    assert cli.main(["compare"] + [arg.format(**names) for arg in argv]) == 2
    assert re.match(error, capsys.readouterr().err)

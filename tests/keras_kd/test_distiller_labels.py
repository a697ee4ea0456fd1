"""Labels against the student's classes, checked before the first step on
every backend (issue 20, defect 15): TensorFlow and PyTorch used to fail
deep in a step, JAX clipped the label silently. One check
(`keras_kd.checks.check_labels`) serves fit, evaluate, the CLI and the
comparison."""

import keras
import numpy as np
import pytest

import keras_kd
from keras_kd.classification import compile_classifier


def check_labels(*args, **kwargs):
    from keras_kd.checks import check_labels

    return check_labels(*args, **kwargs)


CLASSES = 3


def distiller(loss="kd", alpha=0.5, time=None):
    keras.utils.set_random_seed(0)
    shape = (4,) if time is None else (time, 4)

    def model():
        return keras.Sequential([keras.Input(shape), keras.layers.Dense(CLASSES)])

    d = keras_kd.Distiller(model(), model(), distillation_loss=loss, alpha=alpha)
    d.compile("sgd", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return d


X = np.random.default_rng(0).normal(size=(8, 4)).astype("float32")
GOOD = np.array([0, 1, 2, 0, 1, 2, 0, 1])


def bad(value, at=3, base=GOOD):
    y = base.copy()
    y.flat[at] = value
    return y


# (id, call, expected words or None for a correct result)
CASES = [
    (
        "fit-label-7",
        lambda: distiller().fit(X, bad(7), epochs=1, verbose=0),
        r"fit\(\): every class label must be in \[0, 2\].*1 of 8 labels are outside it.*largest 7",
    ),
    ("fit-label-minus-1", lambda: distiller().fit(X, bad(-1), epochs=1, verbose=0), r"smallest -1"),
    (
        "fit-label-3-column",
        lambda: distiller().fit(X, bad(3)[:, None], epochs=1, verbose=0),
        r"every class label must be in \[0, 2\]",
    ),
    (
        "fit-float-label-5",
        lambda: distiller().fit(X, bad(5).astype("float32"), epochs=1, verbose=0),
        r"largest 5",
    ),
    (
        "fit-y-keyword",
        lambda: distiller().fit(x=X, y=list(bad(9)), epochs=1, verbose=0),
        r"largest 9",
    ),
    (
        "dkd-label-3",
        lambda: distiller("dkd").fit(X, bad(3), epochs=1, verbose=0),
        r"every class label must be in \[0, 2\]",
    ),
    (
        "dkd-alpha-0-label-3",
        lambda: distiller("dkd", alpha=0.0).fit(X, bad(3), epochs=1, verbose=0),
        r"every class label must be in \[0, 2\]",
    ),
    (
        "validation-data-label-4",
        lambda: distiller().fit(X, GOOD, validation_data=(X, bad(4)), epochs=1, verbose=0),
        r"fit\(\) validation_data: every class label",
    ),
    (
        "evaluate-label-3",
        lambda: distiller().evaluate(X, bad(3), verbose=0),
        r"evaluate\(\): every class label",
    ),
    (
        "sequence-label-3",
        lambda: distiller(time=2).fit(
            np.zeros((8, 2, 4), "float32"),
            bad(3, 5, np.zeros((8, 2), "int64")),
            epochs=1,
            verbose=0,
        ),
        r"1 of 16 labels are outside it",
    ),
    # Correct results: labels in range, one-hot labels.
    ("fit-in-range", lambda: distiller().fit(X, GOOD, epochs=1, verbose=0), None),
    (
        "check-one-hot-untouched",
        lambda: check_labels(np.eye(3)[GOOD] * 5, CLASSES, positions=()),
        None,
    ),
    (
        "check-regression-untouched",
        lambda: check_labels(np.array([0.5, 7.25]), CLASSES, positions=()),
        None,
    ),
]


@pytest.mark.parametrize("call, error", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_labels_are_checked_against_the_classes(call, error):
    if error is None:
        call()
        return
    with pytest.raises(ValueError, match=error):
        call()


def test_cli_distill_names_the_label_out_of_range(tmp_path, capsys):
    from keras_kd import cli

    keras.utils.set_random_seed(0)
    for name in ("teacher", "student"):
        keras.Sequential([keras.Input((4,)), keras.layers.Dense(CLASSES)]).save(
            tmp_path / f"{name}.keras"
        )
    np.savez(tmp_path / "train.npz", x=X, y=bad(7))
    code = cli.main(
        [
            "distill",
            "--teacher",
            str(tmp_path / "teacher.keras"),
            "--student",
            str(tmp_path / "student.keras"),
            "--data",
            str(tmp_path / "train.npz"),
            "-o",
            str(tmp_path / "out.keras"),
            "--epochs",
            "1",
        ]
    )
    assert code == 2
    err = capsys.readouterr().err
    assert "every class label must be in [0, 2]" in err and "Traceback" not in err
    assert not (tmp_path / "out.keras").exists()


def _head(units, activation=None, name="student"):
    return keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(units, activation=activation)], name=name
    )


# Labels binary cross-entropy cannot read, refused before a step: (id, the
# student's units, how it is compiled, the call, expected words). Were: a
# one-unit student given classes 0-9 trained on a negative loss, without
# an error, on every backend.
_X = np.random.default_rng(1).normal(size=(32, 4)).astype("float32")
_CLASSES = np.arange(32) % 10
_BINARY = np.arange(32) % 2
BAD_BINARY_LABELS = [
    (
        "classes-to-one-unit",
        1,
        "classifier",
        lambda d: d.fit(_X, _CLASSES, epochs=1, verbose=0),
        r"^fit\(\): binary cross-entropy reads labels in \[0, 1\].*24 of 32 labels.*"
        r"Labels 0 to 9 name 10 classes: give the student one output per class "
        r"\(e\.g\. keras\.layers\.Dense\(10\)",
    ),
    (
        "validation-labels",
        1,
        "classifier",
        lambda d: d.fit(_X, _BINARY, validation_data=(_X, _CLASSES), epochs=1, verbose=0),
        r"^fit\(\) validation_data: binary cross-entropy",
    ),
    (
        "evaluate",
        1,
        "classifier",
        lambda d: d.evaluate(_X, _CLASSES, verbose=0),
        r"^evaluate\(\): binary cross-entropy.*Dense\(10\)",
    ),
    (
        "by-name-multi-label",
        (3, "sigmoid"),
        "binary_crossentropy",
        lambda d: d.fit(_X, np.full((32, 3), 2.0), epochs=1, verbose=0),
        r"96 of 96 labels.*\(smallest 2, largest 2\)\. Give labels 0 and 1",
    ),
    (
        "focal-nan",
        1,
        keras.losses.BinaryFocalCrossentropy(from_logits=True),
        lambda d: d.fit(_X, np.where(_BINARY, np.nan, 0.0), epochs=1, verbose=0),
        r"16 of 32 labels are outside it or not finite",
    ),
]


@pytest.mark.parametrize(
    "units, compiled, call, words",
    [case[1:] for case in BAD_BINARY_LABELS],
    ids=[case[0] for case in BAD_BINARY_LABELS],
)
def test_labels_binary_cross_entropy_cannot_read_are_refused_before_a_step(
    units, compiled, call, words
):
    units, activation = units if isinstance(units, tuple) else (units, None)
    distiller = keras_kd.Distiller(
        _head(units, activation, "teacher"),
        _head(units, activation),
        distillation_loss="binary_kd" if activation else "kd",  # a multi-label head
        alpha=0.5,
    )
    if compiled == "classifier":
        compile_classifier(distiller, "adam")
    else:
        distiller.compile("adam", loss=compiled)
    before = [w.copy() for w in distiller.student.get_weights()]
    with pytest.raises(ValueError, match=words):
        call(distiller)
    for kept, now in zip(before, distiller.student.get_weights()):
        np.testing.assert_array_equal(kept, now)


def test_binary_labels_as_probabilities_and_multi_hot_rows_train():
    for units, y in ((1, np.linspace(0, 1, 32)), (3, np.eye(3)[np.arange(32) % 3])):
        distiller = keras_kd.Distiller(
            _head(units, name="teacher"), _head(units), distillation_loss="kd", alpha=0.5
        )
        distiller.compile("adam", loss=keras.losses.BinaryCrossentropy(from_logits=True))
        history = distiller.fit(_X, y, epochs=1, verbose=0).history
        assert np.isfinite(history["student_loss"][0]) and history["student_loss"][0] > 0


def test_cli_distill_names_class_labels_given_to_a_one_unit_student(tmp_path, capsys):
    from keras_kd import cli

    for name in ("teacher", "student"):
        _head(1, "sigmoid", name).save(tmp_path / f"{name}.keras")
    np.savez(tmp_path / "train.npz", x=_X, y=_CLASSES)
    (tmp_path / "out.keras").write_bytes(b"kept")
    argv = ["distill", "--teacher", str(tmp_path / "teacher.keras"), "--student"]
    argv += [str(tmp_path / "student.keras"), "--data", str(tmp_path / "train.npz")]
    code = cli.main([*argv, "-o", str(tmp_path / "out.keras"), "--epochs", "1"])
    assert code == 2
    err = capsys.readouterr().err
    assert "Labels 0 to 9 name 10 classes" in err and "Traceback" not in err
    assert (tmp_path / "out.keras").read_bytes() == b"kept"

"""Labels against the student's classes, checked before the first step on
every backend (issue 20, defect 15): TensorFlow and PyTorch used to fail
deep in a step, JAX clipped the label silently. One check
(`keras_kd.checks.check_labels`) serves fit, evaluate, the CLI and the
comparison."""

import tempfile

import keras
import numpy as np
import pytest

import keras_kd


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


def teacher_model(shape=(4,)):
    return keras.Sequential(
        [keras.Input(shape), keras.layers.Flatten(), keras.layers.Dense(CLASSES)]
    )


def cache():
    """A teacher's targets on X, cached in a new folder."""
    keras.utils.set_random_seed(0)
    return keras_kd.TeacherCache.write(teacher_model(), X, tempfile.mkdtemp(prefix="labels-cache-"))


def cached_distiller(alpha=0.5):
    d = keras_kd.Distiller(cache(), teacher_model(), alpha=alpha)
    d.compile("sgd", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return d


IMAGES = np.random.default_rng(2).uniform(size=(8, 4, 4, 1)).astype("float32")


def image_distiller():
    keras.utils.set_random_seed(0)
    d = keras_kd.Distiller(teacher_model((4, 4, 1)), teacher_model((4, 4, 1)), alpha=0.5)
    d.compile("sgd", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return d


def squeezed():
    """A Distiller of one-unit models whose outputs are squeezed to `(samples,)`."""

    def model():
        inputs = keras.Input((4,))
        return keras.Model(inputs, keras.layers.Reshape(())(keras.layers.Dense(1)(inputs)))

    d = keras_kd.Distiller(model(), model(), distillation_loss="binary_kd", alpha=0.5)
    d.compile("sgd", keras.losses.BinaryCrossentropy(from_logits=True))
    return d


def one_unit_reshaped():
    """A Distiller of one-unit models whose outputs are reshaped to `(samples, 1, 1)`."""

    def model():
        inputs = keras.Input((4,))
        return keras.Model(inputs, keras.layers.Reshape((1, 1))(keras.layers.Dense(1)(inputs)))

    d = keras_kd.Distiller(model(), model(), distillation_loss="binary_kd", alpha=0.5)
    d.compile("sgd", keras.losses.BinaryCrossentropy(from_logits=True))
    return d


def squeezed_regression():
    """A one-unit regression Distiller (mse): no label check reads its targets."""
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    d = keras_kd.Distiller(model, keras.models.clone_model(model), distillation_loss="mse")
    d.compile("sgd", "mse")
    return d


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
        lambda: distiller().fit(x=X, y=bad(9), epochs=1, verbose=0),
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
    # keras-kd's own batches hold the whole label array: it is checked too
    # (was: trained, a label out of range clipped on JAX).
    (
        "cache-dataset-label-3",
        lambda: cached_distiller().fit(cache().dataset(X, bad(3), batch_size=4), verbose=0),
        r"fit\(\): every class label must be in \[0, 2\].*largest 3",
    ),
    (
        "cache-dataset-validation-label-5",
        lambda: cached_distiller().fit(
            cache().dataset(X, GOOD, batch_size=4),
            validation_data=cache().dataset(X, bad(5), batch_size=4),
            verbose=0,
        ),
        r"fit\(\) validation_data: every class label.*largest 5",
    ),
    (
        "cache-dataset-evaluate-label-3",
        lambda: cached_distiller().evaluate(cache().dataset(X, bad(3), batch_size=4), verbose=0),
        r"evaluate\(\): every class label",
    ),
    (
        "view-batches-label-4",
        lambda: image_distiller().fit(
            keras_kd.views.ViewBatches(IMAGES, bad(4), [keras.layers.RandomFlip()], batch_size=4),
            verbose=0,
        ),
        r"fit\(\): every class label.*largest 4",
    ),
    (
        "cache-dataset-in-range",
        lambda: cached_distiller().fit(cache().dataset(X, GOOD, batch_size=4), verbose=0),
        None,
    ),
    (
        "cache-dataset-unlabelled",
        lambda: cached_distiller(alpha=0.0).fit(cache().dataset(X, batch_size=4), verbose=0),
        None,
    ),
    (
        # Was: "Give labels 0 and 1" alone: the squeezed head's width was not read.
        "squeezed-one-unit-labels-0-9",
        lambda: squeezed().fit(X, np.arange(8) % 10 + 2, epochs=1, verbose=0),
        r"fit\(\): binary cross-entropy .*Labels 0 to 9 name 10 classes: give the student one",
    ),
    # Were: Keras' "must have the same shape up until the last dimension"
    # (JAX, PyTorch) or "must have rank (ndim) `target.ndim - 1`" (TensorFlow),
    # from inside the first step, naming no fix.
    (
        "fit-one-hot-to-sparse",
        lambda: distiller().fit(X, np.eye(3)[GOOD], epochs=1, verbose=0),
        r"^fit\(\): sparse categorical cross-entropy reads one class index per sample "
        r"\(labels of shape \(samples,\)\), but the labels have shape \(8, 3\).*"
        r"y\.argmax\(-1\).*CategoricalCrossentropy",
    ),
    (
        "evaluate-one-hot-to-sparse",
        lambda: distiller().evaluate(X, np.eye(3)[GOOD], verbose=0),
        r"^evaluate\(\): sparse categorical cross-entropy reads one class index",
    ),
    (
        "sequence-one-hot-to-sparse",
        lambda: distiller(time=2).fit(
            np.zeros((8, 2, 4), "float32"), np.zeros((8, 2, 3)), epochs=1, verbose=0
        ),
        r"labels of shape \(samples, 2\)\), but the labels have shape \(8, 2, 3\)",
    ),
    # Was: accepted, unchecked (JAX clipped 7 to class 2): the labels as
    # Keras' structure of the one output, a one-element tuple or list.
    (
        "fit-tuple-of-one-label-7",
        lambda: distiller().fit(X, (bad(7),), epochs=1, verbose=0),
        r"^fit\(\): every class label must be in \[0, 2\].*largest 7",
    ),
    (
        "evaluate-list-of-one-label-7",
        lambda: distiller().evaluate(X, [bad(7)], verbose=0),
        r"^evaluate\(\): every class label must be in \[0, 2\]",
    ),
    ("fit-list-of-one-in-range", lambda: distiller().fit(X, [GOOD], epochs=1, verbose=0), None),
    (
        "fit-tuple-of-one-tensor-in-range",
        lambda: distiller().fit(X, (keras.ops.convert_to_tensor(GOOD),), epochs=1, verbose=0),
        None,
    ),
    # Was: IndexError ("tuple index out of range") from inside Keras.
    (
        "fit-0-d-labels",
        lambda: distiller().fit(X, np.array(1), epochs=1, verbose=0),
        r"^fit\(\): the labels are one value \(shape \(\)\)",
    ),
    (
        "evaluate-0-d-labels-regression",
        lambda: squeezed_regression().evaluate(X, np.array(0.5), verbose=0),
        r"^evaluate\(\): the labels are one value",
    ),
    # Labels Keras cannot read as the one output. Were: 'Unrecognized data
    # type: x=...' (a plain list), IndexError 'tuple index out of range' (a
    # list of NumPy numbers), 'y_true and y_pred have different structures'
    # (two arrays), and a nested list [[...]] was read as one-hot labels.
    (
        "fit-python-list-in-range",
        lambda: distiller().fit(X, GOOD.tolist(), epochs=1, verbose=0),
        r"^fit\(\): the labels are a Python list \(shape \(8,\)\).*y=np\.asarray\(labels\)\.",
    ),
    (
        "fit-list-of-numpy-numbers-in-range",
        lambda: distiller().fit(X, list(GOOD), epochs=1, verbose=0),
        r"^fit\(\): the labels are a Python list",
    ),
    (
        "evaluate-nested-list-of-one",
        lambda: distiller().evaluate(X, [GOOD.tolist()], verbose=0),
        r"^evaluate\(\): the labels are a Python list \(shape \(1, 8\)\).*np\.asarray\(labels\[0\]\)",
    ),
    (
        "validation-tuple-of-one-list",
        lambda: distiller().fit(X, GOOD, validation_data=(X, (GOOD.tolist(),)), verbose=0),
        r"^fit\(\) validation_data: the labels are a Python tuple",
    ),
    (
        "fit-two-arrays-for-one-output",
        lambda: distiller().fit(X, (GOOD, GOOD), epochs=1, verbose=0),
        r"^fit\(\): the labels are a tuple of 2 arrays, but the student has one output",
    ),
    # Was: TypeError 'only integer scalar arrays can be converted to a scalar
    # index' (a batch's rows indexing the list), and 'len() of unsized object'.
    (
        "view-batches-labels-as-a-list",
        lambda: image_distiller().fit(
            keras_kd.views.ViewBatches(
                IMAGES, GOOD.tolist(), [keras.layers.RandomFlip()], batch_size=4
            ),
            epochs=1,
            verbose=0,
        ),
        None,
    ),
    (
        "view-batches-one-label",
        lambda: keras_kd.views.ViewBatches(IMAGES, np.array(1), [keras.layers.RandomFlip()]),
        r"^ViewBatches received 8 images but labels `y` of shape \(\)\. Give one label per image",
    ),
    # Was: "could not convert string to float: 'head'" from inside JAX (on
    # TensorFlow "Expected float32, but got head", PyTorch "Invalid dtype").
    (
        "fit-labels-in-a-dict",
        lambda: distiller().fit(X, {"head": GOOD}, epochs=1, verbose=0),
        r"^fit\(\): the labels are a dict \(keys \['head'\]\), but the student has one output",
    ),
    # Were: NumPy's "setting an array element with a sequence. The requested
    # array has an inhomogeneous shape", naming neither the labels nor the fix.
    (
        "cache-dataset-ragged-labels",
        lambda: cache().dataset(X, [[0]] * 7 + [[1, 2]]),
        r"^TeacherCache\.dataset received labels `y` as a ragged nested list.*an array of 8 rows",
    ),
    (
        "view-batches-ragged-labels",
        lambda: keras_kd.views.ViewBatches(
            IMAGES, [[0]] * 7 + [[1, 2]], [keras.layers.RandomFlip()]
        ),
        r"^ViewBatches received labels `y` as a ragged nested list.*an array of 8 rows",
    ),
    # Label shapes Keras fails on inside the first step, naming no fix.
    (
        "squeezed-one-unit-one-hot-labels",
        lambda: squeezed().fit(X, np.eye(2)[GOOD % 2], epochs=1, verbose=0),
        r"^fit\(\): binary cross-entropy reads one label per score.*\(samples,\).*"
        r"shape \(8, 2\)\. One-hot labels of a binary classifier: pass y\[:, 1\]",
    ),
    (
        "sequence-labels-without-positions",
        lambda: distiller(time=2).fit(
            np.zeros((8, 2, 4), "float32"), np.zeros(8, "int32"), epochs=1, verbose=0
        ),
        r"^fit\(\): sparse categorical cross-entropy reads one class index per sample and "
        r"position \(labels of shape \(samples, 2\).*shape \(8,\)\. Give one label per position",
    ),
    (
        "one-unit-reshaped-to-1-1-labels-per-sample",
        lambda: one_unit_reshaped().fit(X, GOOD % 2, epochs=1, verbose=0),
        r"^fit\(\): binary cross-entropy reads one label per output unit \(labels of shape "
        r"\(samples, 1, 1\)\), but the labels have shape \(8,\).*y\.reshape\(\(-1, 1, 1\)\)",
    ),
    (
        "one-unit-reshaped-to-1-1-labels",
        lambda: one_unit_reshaped().fit(X, (GOOD % 2)[:, None], epochs=1, verbose=0),
        None,
    ),
    (
        "squeezed-column-labels",
        lambda: squeezed().fit(X, (GOOD % 2)[:, None], epochs=1, verbose=0),
        None,
    ),
    # Correct results: labels in range, one-hot labels.
    ("fit-column-labels", lambda: distiller().fit(X, GOOD[:, None], epochs=1, verbose=0), None),
    (
        "fit-sequence-column-labels",
        lambda: distiller(time=2).fit(
            np.zeros((8, 2, 4), "float32"), np.zeros((8, 2, 1), "int32"), epochs=1, verbose=0
        ),
        None,
    ),
    (
        "squeezed-one-unit-labels-0-1",
        lambda: squeezed().fit(X, GOOD % 2, epochs=1, verbose=0),
        None,
    ),
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


_X = np.random.default_rng(1).normal(size=(32, 4)).astype("float32")
_CLASSES = np.arange(32) % 10


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


@pytest.mark.parametrize(
    "loss, activation",
    [
        (keras.losses.SparseCategoricalCrossentropy(from_logits=True), None),
        ("sparse_categorical_crossentropy", "sigmoid"),
        ([keras.losses.SparseCategoricalCrossentropy(from_logits=True)], None),
    ],
    ids=["instance", "by-name", "one-element-list"],
)
def test_a_class_index_loss_on_a_one_unit_student_is_refused_at_compile(loss, activation):
    """Was: accepted, and the hard loss was 0 whatever the label (one class)."""
    teacher, student = _head(1, activation, "teacher"), _head(1, activation)
    distiller = keras_kd.Distiller(teacher, student, distillation_loss="kd", alpha=0.5)
    with pytest.raises(
        ValueError,
        match=r"sparse categorical cross-entropy, but the student 'student' has one output "
        r"unit: over one class that loss is 0 whatever the label.*BinaryCrossentropy",
    ):
        distiller.compile("adam", loss=loss)


class _OneUnit(keras.Model):
    """A subclassed one-unit student: no `output_shape` to read."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.head = keras.layers.Dense(1)

    def call(self, x):
        return self.head(x)


def _squeezed(name="student"):
    """A one-unit head squeezed to one score per sample: outputs `(samples,)`."""
    return keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(1), keras.layers.Reshape(())], name=name
    )


@pytest.mark.parametrize(
    "make_student",
    [lambda: _OneUnit(name="student"), _squeezed],
    ids=["subclassed", "squeezed"],
)
def test_a_class_index_loss_on_a_one_unit_student_without_a_read_shape_is_refused(
    make_student,
):
    """Were accepted (the check read `output_shape`, absent from a subclassed
    model and `(None,)` for a squeezed head): the subclassed student trained
    on a hard loss of 0 (JAX) or failed in the step (TensorFlow, PyTorch);
    the squeezed one failed in the step with Keras' rank error."""
    teacher = _head(1, None, "teacher")
    if make_student is _squeezed:
        teacher = _squeezed("teacher")
    distiller = keras_kd.Distiller(teacher, make_student(), distillation_loss="kd", alpha=0.5)
    with pytest.raises(ValueError, match=r"the student 'student' has one output unit"):
        distiller.compile("adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))


@pytest.mark.parametrize("method", ["fit", "evaluate"])
def test_labels_on_torchs_meta_device_are_named(backend, method):
    """Was: NotImplementedError "Cannot copy out of meta tensor; no data!"
    out of the label check, naming neither the labels nor the fix."""
    if backend != "torch":
        pytest.skip("a backend tensor on the meta device is PyTorch's")
    import torch

    y = torch.empty(8, dtype=torch.int64, device="meta")
    kwargs = {"epochs": 1} if method == "fit" else {}
    with pytest.raises(ValueError, match=rf"^{method}\(\): the labels .* no values to read"):
        getattr(distiller(), method)(X, y, verbose=0, **kwargs)

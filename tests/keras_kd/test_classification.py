"""keras_kd.classification.compile_classifier: the hard loss from the student's head."""

import keras
import numpy as np
import pytest

import keras_kd
from keras_kd import validation
from keras_kd.classification import compile_classifier
from keras_kd.outputs import detect_output_kind


def _model(units, activation=None, name="student"):
    return keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(units, activation=activation)], name=name
    )


@pytest.mark.parametrize(
    "units, activation, loss_class, from_logits",
    [
        (3, None, keras.losses.SparseCategoricalCrossentropy, True),
        (3, "softmax", keras.losses.SparseCategoricalCrossentropy, False),
        # Was sparse cross-entropy over one class: 0 whatever the label (or,
        # on TensorFlow, "label 1 outside the valid range [0, 1)").
        (1, "sigmoid", keras.losses.BinaryCrossentropy, False),
        (1, None, keras.losses.BinaryCrossentropy, True),
    ],
)
def test_the_hard_loss_fits_the_head(units, activation, loss_class, from_logits):
    distiller = keras_kd.Distiller(
        _model(units, activation, "teacher"), _model(units, activation), distillation_loss="kd"
    )
    compile_classifier(distiller, "adam")
    assert type(distiller.loss) is loss_class
    assert distiller.loss.get_config()["from_logits"] is from_logits


def test_without_labels_there_is_no_hard_loss():
    teacher = _model(3, name="teacher")
    distiller = keras_kd.Distiller(teacher, _model(3), distillation_loss="kd", alpha=0.0)
    compile_classifier(distiller, "adam", labelled=False)
    assert distiller.loss is None


def test_a_binary_student_learns_its_labels():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(256, 4)).astype("float32")
    y = (x[:, 0] + x[:, 1] > 0).astype("int32")
    keras.utils.set_random_seed(0)
    teacher = _model(1, "sigmoid", "teacher")  # untrained: the labels must do the teaching
    distiller = keras_kd.Distiller(teacher, _model(1, "sigmoid"), distillation_loss="kd", alpha=1.0)
    compile_classifier(distiller, keras.optimizers.Adam(0.05))
    history = distiller.fit(x, y, epochs=20, batch_size=64, verbose=0).history
    assert history["student_loss"][-1] < 0.5 * history["student_loss"][0]
    predicted = (distiller.student.predict(x, verbose=0)[:, 0] > 0.5).astype("int32")
    assert np.mean(predicted == y) > 0.9


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
    # Were each unchecked: a negative loss, no error, on every backend.
    (
        "labels-as-a-backend-tensor",
        1,
        "classifier",
        lambda d: d.fit(_X, keras.ops.convert_to_tensor(_CLASSES), epochs=1, verbose=0),
        r"^fit\(\): binary cross-entropy.*Dense\(10\)",
    ),
    (
        "validation-labels-as-a-backend-tensor",
        1,
        "classifier",
        lambda d: d.fit(
            _X,
            _BINARY,
            validation_data=(_X, keras.ops.convert_to_tensor(_CLASSES)),
            epochs=1,
            verbose=0,
        ),
        r"^fit\(\) validation_data: binary cross-entropy",
    ),
    (
        "the-one-loss-of-a-list",
        1,
        [keras.losses.BinaryCrossentropy(from_logits=True)],
        lambda d: d.fit(_X, _CLASSES, epochs=1, verbose=0),
        r"^fit\(\): binary cross-entropy.*Dense\(10\)",
    ),
    (
        "a-subclass",
        1,
        type("MyBCE", (keras.losses.BinaryCrossentropy,), {})(from_logits=True),
        lambda d: d.evaluate(_X, _CLASSES, verbose=0),
        r"^evaluate\(\): binary cross-entropy",
    ),
    # Were: Keras' "Arguments `target` and `output` must have the same shape"
    # from inside the first step, naming no fix.
    (
        "one-hot-to-one-unit",
        1,
        "classifier",
        lambda d: d.fit(_X, np.eye(2)[_BINARY], epochs=1, verbose=0),
        r"^fit\(\): binary cross-entropy reads one label per output unit \(labels of "
        r"shape \(samples, 1\)\), but the labels have shape \(32, 2\).*y\[:, 1\]",
    ),
    (
        "multi-hot-too-wide",
        (3, "sigmoid"),
        "binary_crossentropy",
        lambda d: d.evaluate(_X, np.ones((32, 4)), verbose=0),
        r"^evaluate\(\): binary cross-entropy reads one label per output unit \(labels of "
        r"shape \(samples, 3\)\), but the labels have shape \(32, 4\)",
    ),
    # Sparse cross-entropy casts its labels to classes: 1.5 trained as class
    # 1 without an error; NaN failed inside the step (TensorFlow, PyTorch).
    (
        "sparse-half-labels",
        3,
        "classifier",
        lambda d: d.fit(_X, np.full(32, 1.5), epochs=1, verbose=0),
        r"^fit\(\): sparse categorical cross-entropy reads each label as a class index, "
        r"but 32 of 32 labels are not whole numbers or not finite \(e\.g\. 1\.5\)",
    ),
    (
        "sparse-nan-by-name",
        (3, "softmax"),
        "sparse_categorical_crossentropy",
        lambda d: d.evaluate(_X, np.where(_BINARY, np.nan, 1.0), verbose=0),
        r"^evaluate\(\): sparse categorical cross-entropy.*16 of 32 labels",
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
        _model(units, activation, "teacher"),
        _model(units, activation),
        distillation_loss="binary_kd" if activation == "sigmoid" else "kd",  # multi-label
        alpha=0.5,
    )
    if isinstance(compiled, str) and compiled == "classifier":
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
            _model(units, name="teacher"), _model(units), distillation_loss="kd", alpha=0.5
        )
        distiller.compile("adam", loss=keras.losses.BinaryCrossentropy(from_logits=True))
        history = distiller.fit(_X, y, epochs=1, verbose=0).history
        assert np.isfinite(history["student_loss"][0]) and history["student_loss"][0] > 0


def test_regression_targets_and_whole_float_classes_are_not_refused():
    """One-unit regression on integer targets (mse), and sparse labels given
    as whole floats, train."""
    regression = keras_kd.Distiller(
        _model(1, name="teacher"), _model(1), distillation_loss="mse", alpha=0.5
    )
    regression.compile("adam", loss="mse")
    assert np.isfinite(
        regression.fit(_X, np.arange(32) * 7, epochs=1, verbose=0).history["loss"][0]
    )
    classes = keras_kd.Distiller(_model(3, name="teacher"), _model(3), distillation_loss="kd")
    compile_classifier(classes, "adam")
    assert np.isfinite(
        classes.fit(_X, (_CLASSES % 3) * 1.0, epochs=1, verbose=0).history["loss"][0]
    )


@pytest.mark.parametrize("softmaxed", ["student", "teacher"])
def test_a_softmax_over_one_unit_is_refused(softmaxed):
    """Was: compiled with binary cross-entropy on an output that is 1.0 for
    every input; fit ran with a constant loss and a distillation loss of 0."""
    models = {
        name: _model(1, "softmax" if name == softmaxed else "sigmoid", name)
        for name in ("teacher", "student")
    }
    with pytest.raises(
        ValueError,
        match=rf"^Model '{softmaxed}' ends in a softmax over one unit, which outputs 1\.0 "
        r"for every input.*keras\.layers\.Dense\(1, activation='sigmoid'\)",
    ):
        keras_kd.Distiller(models["teacher"], models["student"], distillation_loss="kd")


def test_a_softmax_over_one_unit_squeezed_to_one_score_per_sample_is_refused():
    """Was: accepted (its width read from `output_shape` (None,) as unknown),
    and trained on an output that is 1.0 for every input."""

    def model(name):
        return keras.Sequential(
            [keras.Input((4,)), keras.layers.Dense(1, "softmax"), keras.layers.Reshape(())],
            name=name,
        )

    with pytest.raises(ValueError, match=r"^Model 'teacher' ends in a softmax over one unit"):
        keras_kd.Distiller(model("teacher"), model("student"), distillation_loss="binary_kd")


def test_a_softmax_layer_over_one_unit_named_by_a_tuple_axis_is_refused():
    """Was: `Softmax(axis=(-1,))` passed the one-unit check (the tuple was
    compared with -1)."""

    def model(name):
        return keras.Sequential(
            [keras.Input((4,)), keras.layers.Dense(1), keras.layers.Softmax(axis=(-1,))],
            name=name,
        )

    with pytest.raises(ValueError, match=r"^Model 'teacher' ends in a softmax over one unit"):
        keras_kd.Distiller(model("teacher"), model("student"), distillation_loss="mse")


def test_complex_labels_for_a_sparse_loss_are_refused_before_a_step():
    """Was: a "Graph execution error" (TensorFlow) inside the step."""
    distiller = keras_kd.Distiller(_model(3, name="teacher"), _model(3), distillation_loss="kd")
    compile_classifier(distiller, "adam")
    with pytest.raises(
        ValueError,
        match=r"^fit\(\): sparse categorical cross-entropy reads each label as a class index, "
        r"but the labels are of type complex128\. Give integer class labels",
    ):
        distiller.fit(_X, np.full(32, 1 + 0j), epochs=1, verbose=0)


def test_a_softmax_over_time_on_one_unit_is_not_refused():
    def model(name):
        return keras.Sequential(
            [keras.Input((5, 4)), keras.layers.Dense(1), keras.layers.Softmax(axis=1)], name=name
        )

    distiller = keras_kd.Distiller(model("teacher"), model("student"), distillation_loss="mse")
    assert distiller.student_kind == "probabilities"


def test_labels_a_sparse_loss_ignores_are_not_refused():
    """Was: padding labels -1 of a tagger compiled with `ignore_class=-1`,
    Keras' mask for them, refused as classes out of range."""

    def tagger(name):
        return keras.Sequential([keras.Input((5, 4)), keras.layers.Dense(3)], name=name)

    distiller = keras_kd.Distiller(tagger("teacher"), tagger("student"), distillation_loss="kd")
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=-1)
    distiller.compile("adam", loss=loss)
    x = np.random.default_rng(0).normal(size=(8, 5, 4)).astype("float32")
    y = np.arange(40).reshape(8, 5) % 3
    y[:, -2:] = -1
    assert np.isfinite(distiller.fit(x, y, epochs=1, verbose=0).history["loss"][0])
    y[0, 0] = 3
    with pytest.raises(
        ValueError, match=r"^fit\(\): every class label must be in \[0, 2\].*1 of 24"
    ):
        distiller.fit(x, y, epochs=1, verbose=0)


def test_a_multi_label_student_is_refused():
    """Was: compiled with sparse cross-entropy over its sigmoids (integer
    labels trained them as one distribution; multi-hot labels failed in the
    step with a shape error)."""
    tagger = {name: _model(2, "sigmoid", name) for name in ("teacher", "student")}
    distiller = keras_kd.Distiller(
        tagger["teacher"], tagger["student"], distillation_loss="binary_kd"
    )
    with pytest.raises(
        ValueError,
        match=r"^The student 'student' ends in a sigmoid over 2 units \(a multi-label head\).*"
        r"multi-hot labels of shape \(samples, 2\): .*BinaryCrossentropy\(\)",
    ):
        compile_classifier(distiller, "adam")


def test_a_squeezed_one_unit_student_gets_binary_cross_entropy():
    """Was: sparse cross-entropy (outputs `(samples,)` have no last axis of
    1), and the first step failed with Keras' rank error."""

    def squeezed(name):
        return keras.Sequential(
            [keras.Input((4,)), keras.layers.Dense(1), keras.layers.Reshape(())], name=name
        )

    distiller = keras_kd.Distiller(squeezed("teacher"), squeezed("student"), distillation_loss="kd")
    compile_classifier(distiller, "adam")
    assert type(distiller.loss) is keras.losses.BinaryCrossentropy
    x = np.random.default_rng(0).normal(size=(8, 4)).astype("float32")
    distiller.fit(x, np.array([0, 1] * 4), epochs=1, verbose=0)


class _Squeezed(keras.Model):
    """A subclassed one-unit head squeezed to one score per sample."""

    def __init__(self, activation, name):
        super().__init__(name=name)
        self.head = keras.layers.Dense(1, activation=activation)

    def call(self, x):
        return keras.ops.squeeze(self.head(x), -1)


def _one_unit(activation, squeezed, name):
    if squeezed == "subclassed":
        model = _Squeezed(activation, name)
        model(np.zeros((2, 4), "float32"))
        return model
    inputs = keras.Input((4,))
    outputs = keras.layers.Dense(1, activation=activation)(inputs)
    if squeezed == "Reshape":
        outputs = keras.layers.Reshape(())(outputs)
    elif squeezed == "ops.squeeze":
        outputs = keras.ops.squeeze(outputs, -1)
    return keras.Model(inputs, outputs, name=name)


@pytest.mark.parametrize("activation", [None, "sigmoid"], ids=["logit", "sigmoid"])
@pytest.mark.parametrize(
    "squeezed",
    [None, "Reshape", "ops.squeeze", "subclassed"],
    ids=["n-1", "n", "ops-n", "subclassed-n"],
)
def test_the_accuracy_of_a_one_unit_head_is_its_threshold_s(activation, squeezed):
    """Was: "accuracy" thresholded a logit at 0.5 (not 0), and on a head
    squeezed to shape (samples,) compared arg-maxes over the batch (0.0); a
    sigmoid head squeezed was read as logits (binary cross-entropy with
    from_logits=True on its probabilities, without an error), and so was a
    subclassed one (its probed outputs (8,) summed over the batch, not 1)."""
    keras.utils.set_random_seed(0)
    teacher, student = (_one_unit(activation, squeezed, n) for n in ("teacher", "student"))
    distiller = keras_kd.Distiller(teacher, student, distillation_loss="binary_kd", alpha=0.5)
    compile_classifier(distiller, "adam")
    assert distiller.loss.get_config()["from_logits"] is (activation is None)
    # Scores near 0.25: a logit of 0.25 says class 1, read at 0.5 it said 0.
    kernel = np.random.default_rng(3).normal(scale=0.05, size=(4, 1)).astype("float32")
    student.set_weights([kernel, np.array([0.25], "float32")])
    y = (np.random.default_rng(2).random(32) > 0.5).astype("int32")
    scores = np.asarray(student.predict(_X, verbose=0)).reshape(-1)
    expected = np.mean((scores > (0.0 if activation is None else 0.5)) == y)
    accuracy = distiller.evaluate(_X, y, batch_size=32, verbose=0, return_dict=True)["accuracy"]
    assert accuracy == pytest.approx(expected)


@pytest.mark.parametrize("activation", [None, "sigmoid"], ids=["logit", "sigmoid"])
def test_binary_accuracy_by_name_reads_a_one_unit_head_at_its_threshold(activation):
    """Was: "binary_accuracy" kept Keras' threshold 0.5 on a logit head: a
    logit of 0.25 (class 1) read as class 0, a wrong accuracy, no error."""
    teacher, student = (_one_unit(activation, None, n) for n in ("teacher", "student"))
    distiller = keras_kd.Distiller(teacher, student, distillation_loss="binary_kd")
    compile_classifier(distiller, "adam", metrics=["binary_accuracy", "acc"])
    compiled_by_class_name = keras_kd.Distiller(
        _one_unit(activation, None, "teacher2"), student, distillation_loss="binary_kd"
    )
    # Was: "BinaryAccuracy" (Keras' class by name) kept the threshold 0.5.
    compile_classifier(compiled_by_class_name, "adam", metrics="BinaryAccuracy")
    kernel = np.random.default_rng(3).normal(scale=0.05, size=(4, 1)).astype("float32")
    student.set_weights([kernel, np.array([0.25], "float32")])
    y = np.ones(32, "int32")
    scores = np.asarray(student.predict(_X, verbose=0)).reshape(-1)
    expected = np.mean((scores > (0.0 if activation is None else 0.5)) == y)
    result = distiller.evaluate(_X, y, batch_size=32, verbose=0, return_dict=True)
    assert result["binary_accuracy"] == pytest.approx(expected)
    assert result["accuracy"] == pytest.approx(expected)
    result = compiled_by_class_name.evaluate(_X, y, batch_size=32, verbose=0, return_dict=True)
    assert result["BinaryAccuracy"] == pytest.approx(expected)


@pytest.mark.parametrize("activation", [None, "sigmoid"], ids=["logit", "sigmoid"])
def test_a_subclassed_one_unit_head_in_0_1_on_the_probe_is_read_as_it_is(activation):
    """Was: a logit head whose scores on the probe batch (8 samples) all lay
    in [0, 1] (about one freshly initialized ReLU network in fifteen; here
    its bias 0.5) was read as a sigmoid: BinaryCrossentropy(from_logits=False)
    on logits from compile_classifier, soft targets read as probabilities,
    no error."""

    def model(name):
        head = _Squeezed(activation, name)
        head(np.zeros((2, 4), "float32"))
        head.head.set_weights([np.full((4, 1), 0.02, "float32"), np.array([0.5], "float32")])
        return head

    distiller = keras_kd.Distiller(
        model("teacher"), model("student"), distillation_loss="binary_kd"
    )
    expected = "logits" if activation is None else "probabilities"
    assert distiller.student_kind == expected
    assert distiller.teacher.kinds == [expected]
    compile_classifier(distiller, "adam")
    assert distiller.loss.get_config()["from_logits"] is (activation is None)


@pytest.mark.parametrize("activation", [None, "sigmoid"], ids=["logit", "sigmoid"])
def test_auc_precision_and_recall_by_name_read_a_one_unit_head_as_it_is(activation):
    """Was: "auc" read a logit head's scores as probabilities (Keras' AUC
    clips them to [0, 1]: 0.79 for an AUC of 0.83), "precision" and
    "recall" thresholded a logit at 0.5 (not 0), without an error."""
    teacher, student = (_one_unit(activation, None, n) for n in ("teacher", "student"))
    distiller = keras_kd.Distiller(teacher, student, distillation_loss="binary_kd")
    compile_classifier(distiller, "adam", metrics=["auc", "precision", "recall"])
    kernel = np.array([[3.0], [0.0], [0.0], [0.0]], "float32")
    student.set_weights([kernel, np.zeros(1, "float32")])
    y = (_X[:, 0] + np.random.default_rng(4).normal(size=32) > 0).astype("int32")
    scores = np.asarray(student.predict(_X, verbose=0)).reshape(-1)
    positive = scores > (0.0 if activation is None else 0.5)
    result = distiller.evaluate(_X, y, batch_size=32, verbose=0, return_dict=True)
    auc = np.mean(scores[y == 1][:, None] > scores[y == 0][None, :])
    assert result["auc"] == pytest.approx(auc, abs=0.01)
    assert result["precision"] == pytest.approx(np.mean(y[positive]))
    assert result["recall"] == pytest.approx(np.mean(positive[y == 1]))


@pytest.mark.parametrize(
    "metric",
    [
        "sparse_categorical_accuracy",
        "categorical_accuracy",
        # Was: accepted (Keras' class names, the same arg-max of one unit).
        "SparseCategoricalAccuracy",
        "CategoricalAccuracy",
    ],
)
def test_a_categorical_accuracy_of_a_one_unit_head_is_refused(metric):
    """Was: accepted; it arg-maxes one unit (class 0 always): the share of
    labels 0, or 1.0 for "categorical_accuracy", whatever the head said."""
    teacher, student = (_one_unit(None, None, n) for n in ("teacher", "student"))
    distiller = keras_kd.Distiller(teacher, student, distillation_loss="binary_kd")
    with pytest.raises(
        ValueError,
        match=rf"^The metric '{metric}' arg-maxes.*one output unit.*"
        r"metrics=\['accuracy'\]",
    ):
        compile_classifier(distiller, "adam", metrics=[metric])


@pytest.mark.parametrize("metric", ["accuracy", "acc"])
def test_one_metric_by_name_is_one_metric(metric):
    """Was: its letters read as metric names, Keras' 'Could not interpret
    metric identifier: a' out of compile_classifier()."""
    teacher, student = _model(3, name="teacher"), _model(3)
    distiller = keras_kd.Distiller(teacher, student, distillation_loss="kd")
    compile_classifier(distiller, "adam", metrics=metric)
    result = distiller.evaluate(_X, np.arange(32) % 3, verbose=0, return_dict=True)
    expected = np.mean(np.argmax(student.predict(_X, verbose=0), -1) == np.arange(32) % 3)
    assert result[metric] == pytest.approx(expected)


def test_one_metric_function_is_one_metric():
    """Was: TypeError "'function' object is not iterable" out of
    compile_classifier() (a metric function given alone)."""
    teacher, student = _model(3, name="teacher"), _model(3)
    distiller = keras_kd.Distiller(teacher, student, distillation_loss="kd")
    compile_classifier(distiller, "adam", metrics=keras.metrics.sparse_categorical_accuracy)
    result = distiller.evaluate(_X, np.arange(32) % 3, verbose=0, return_dict=True)
    expected = np.mean(np.argmax(student.predict(_X, verbose=0), -1) == np.arange(32) % 3)
    assert result["sparse_categorical_accuracy"] == pytest.approx(expected)


def test_metrics_as_a_dict_are_refused_by_name():
    """Was: the dict's keys read as metric names ('Could not interpret metric
    identifier: student', from Keras)."""
    distiller = keras_kd.Distiller(_model(3, name="teacher"), _model(3), distillation_loss="kd")
    with pytest.raises(ValueError, match=r"received a dict \(keys \['student'\]\)\. Pass a list"):
        compile_classifier(distiller, "adam", metrics={"student": "accuracy"})


def _graph(head):
    inputs = keras.Input((4,))
    return keras.Model(inputs, head(inputs))


_SOFTMAX_MODEL = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, "softmax")])
layers = keras.layers


def _two_heads(softmax_first=False):
    """A model of two outputs: logits and their softmax."""
    inputs = keras.Input((4,))
    logits = layers.Dense(3)(inputs)
    heads = [logits, layers.Softmax()(logits)]
    return keras.Model(inputs, heads[::-1] if softmax_first else heads)


_TWO_HEADS = _two_heads()
_TWO_HEADS_SOFTMAX_FIRST = _two_heads(softmax_first=True)

# Heads whose kind was misread as logits (then binary cross-entropy with
# from_logits=True, or soft targets taken as logits, on probabilities, no
# error): (id, the head after the inputs, the kind).
HEADS_READ = [
    (
        "sigmoid-over-positions-reshaped",
        lambda i: layers.Reshape((3, 1))(layers.Dense(3, "sigmoid")(i)),
        "probabilities",
    ),
    (
        "sigmoid-reshaped-across-units",
        lambda i: layers.Reshape((2, 2))(layers.Dense(4, "sigmoid")(i)),
        "probabilities",
    ),
    ("ops.sigmoid", lambda i: keras.ops.sigmoid(layers.Dense(1)(i)), "probabilities"),
    ("ops.softmax", lambda i: keras.ops.softmax(layers.Dense(3)(i)), "probabilities"),
    (
        "dropout-after",
        lambda i: layers.Dropout(0.1)(layers.Dense(1, "sigmoid")(i)),
        "probabilities",
    ),
    ("identity-after", lambda i: layers.Identity()(layers.Dense(3, "softmax")(i)), "probabilities"),
    (
        "float32-linear-activation-after",
        lambda i: layers.Activation("linear", dtype="float32")(layers.Dense(3, "softmax")(i)),
        "probabilities",
    ),
    (
        "ops.cast-after",
        lambda i: keras.ops.cast(layers.Dense(1, "sigmoid")(i), "float32"),
        "probabilities",
    ),
    ("a-softmax-model-as-a-layer", lambda i: _SOFTMAX_MODEL(i), "probabilities"),
    # Not misread, kept: a logit head behind them, a softmax reshaped across
    # its classes (no longer one distribution per row).
    # Was: read as logits (the first output of a model of several, not the
    # one taken; a model looked through only before a reshape of one unit;
    # keras.ops' functions as an activation; the function of a Lambda; the
    # layer of a TimeDistributed; noise layers and transposes after a sigmoid).
    ("the-softmax-output-of-a-two-output-model", lambda i: _TWO_HEADS(i)[1], "probabilities"),
    (
        "a-sigmoid-model-reshaped-across-units",
        lambda i: layers.Reshape((3, 1))(
            keras.Sequential([keras.Input((4,)), layers.Dense(3, "sigmoid")])(i)
        ),
        "probabilities",
    ),
    (
        "activation-keras.ops.sigmoid",
        lambda i: layers.Dense(1, keras.ops.sigmoid)(i),
        "probabilities",
    ),
    (
        "activation-keras.ops.softmax",
        lambda i: layers.Activation(keras.ops.softmax)(layers.Dense(3)(i)),
        "probabilities",
    ),
    (
        "lambda-of-the-sigmoid",
        lambda i: layers.Lambda(keras.activations.sigmoid)(layers.Dense(1)(i)),
        "probabilities",
    ),
    (
        "time-distributed-softmax",
        lambda i: layers.TimeDistributed(layers.Dense(3, "softmax"))(layers.Reshape((2, 2))(i)),
        "probabilities",
    ),
    (
        "time-distributed-softmax-model",
        lambda i: layers.TimeDistributed(
            keras.Sequential([keras.Input((2,)), layers.Dense(3, "softmax")])
        )(layers.Reshape((2, 2))(i)),
        "probabilities",
    ),
    ("hard-sigmoid", lambda i: layers.Dense(1, "hard_sigmoid")(i), "probabilities"),
    ("ops.hard_sigmoid", lambda i: keras.ops.hard_sigmoid(layers.Dense(1)(i)), "probabilities"),
    (
        "gaussian-noise-after",
        lambda i: layers.GaussianNoise(0.1)(layers.Dense(1, "sigmoid")(i)),
        "probabilities",
    ),
    (
        "sigmoid-transposed",
        lambda i: keras.ops.transpose(
            layers.Reshape((2, 2))(layers.Dense(4, "sigmoid")(i)), (0, 2, 1)
        ),
        "probabilities",
    ),
    # Was: read as probabilities (then soft targets and the hard loss read
    # them as a distribution per row, no error): the logit output of a model
    # whose first output is a softmax.
    (
        "the-logit-output-of-a-two-output-model",
        lambda i: _TWO_HEADS_SOFTMAX_FIRST(i)[1],
        "logits",
    ),
    (
        "softmax-transposed",
        lambda i: keras.ops.transpose(
            layers.Reshape((2, 2))(layers.Dense(4, "softmax")(i)), (0, 2, 1)
        ),
        "logits",
    ),
    ("dropout-after-a-logit", lambda i: layers.Dropout(0.1)(layers.Dense(1)(i)), "logits"),
    (
        "linear-activation-after-a-logit",
        lambda i: layers.Activation("linear")(layers.Dense(3)(i)),
        "logits",
    ),
    (
        "softmax-reshaped-across-classes",
        lambda i: layers.Reshape((2, 2))(layers.Dense(4, "softmax")(i)),
        "logits",
    ),
]


@pytest.mark.parametrize(
    "head, kind", [row[1:] for row in HEADS_READ], ids=[r[0] for r in HEADS_READ]
)
def test_the_kind_of_a_head_is_read_through_what_only_passes_its_values_on(head, kind):
    model = _graph(head)
    assert detect_output_kind(model) == kind
    if validation.output_units(model) == 1 and kind == "probabilities":
        distiller = keras_kd.Distiller(_graph(head), model, distillation_loss="binary_kd")
        compile_classifier(distiller, "adam")
        assert distiller.loss.get_config()["from_logits"] is False


def test_no_metrics_are_none():
    """Was: TypeError "'NoneType' object is not iterable" (Keras' compile takes
    metrics=None)."""
    distiller = keras_kd.Distiller(_model(3, name="teacher"), _model(3), distillation_loss="kd")
    compile_classifier(distiller, "adam", metrics=None)
    result = distiller.evaluate(_X, np.arange(32) % 3, verbose=0, return_dict=True)
    assert "accuracy" not in result

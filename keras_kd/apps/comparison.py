"""What distillation changed: several models compared on the same test data.

Pure functions on class probabilities (NumPy arrays of shape
`(samples, classes)`): accuracy, per-class accuracy, agreement with a
reference model (the teacher), expected calibration error and the bins of a
reliability diagram; then `compare`, which gathers them for several models,
and writers for Markdown, a self-contained HTML page and a PNG figure
(`comparison_markdown`, `comparison_html`, `comparison_png`,
`write_comparison`, defined in `keras_kd/apps/_comparison_writers.py`).

Example:

>>> teacher = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]])
>>> student = np.array([[0.7, 0.3], [0.6, 0.4], [0.4, 0.6]])
>>> y = np.array([0, 1, 0])
>>> accuracy(student, y), agreement(student, teacher)
(0.3333333333333333, 0.3333333333333333)
"""

from dataclasses import dataclass

import numpy as np

# The writers live in their own module; they are public from here.
from keras_kd.apps._comparison_writers import FILE_NAMES  # noqa: F401
from keras_kd.apps._comparison_writers import comparison_figure  # noqa: F401
from keras_kd.apps._comparison_writers import comparison_html  # noqa: F401
from keras_kd.apps._comparison_writers import comparison_markdown  # noqa: F401
from keras_kd.apps._comparison_writers import comparison_png  # noqa: F401
from keras_kd.apps._comparison_writers import write_comparison  # noqa: F401
from keras_kd.checks import check_labels
from keras_kd.checks import is_integer

# The standard number of equal-width confidence bins of the expected
# calibration error (Guo et al., "On calibration of modern neural networks").
ECE_BINS = 15


def _probabilities(values, name="probabilities"):
    values = np.asarray(values, dtype="float64")
    if values.ndim != 2 or values.shape[1] < 2 or values.shape[0] < 1:
        raise ValueError(
            f"{name} must have shape (samples, classes) with at least one "
            f"sample and 2 classes. Received shape: {values.shape}."
        )
    if not np.all(np.isfinite(values)):
        raise ValueError(
            f"{name} holds {int(np.sum(~np.isfinite(values)))} NaN or infinite "
            "values. Give the models' finite outputs."
        )
    return values


def _calibrated(values, name="probabilities"):
    """`values` after checking they are probabilities: in [0, 1], rows of 1."""
    values = _probabilities(values, name)
    sums = values.sum(axis=-1)
    if values.min() < 0 or values.max() > 1 or np.any(np.abs(sums - 1) > 1e-3):
        raise ValueError(
            f"{name}: a calibration error needs probabilities (each in "
            "[0, 1], each row summing to 1), but the values range from "
            f"{values.min():g} to {values.max():g} and the rows sum to "
            f"{sums.min():g} to {sums.max():g}. Apply a softmax to logits "
            "first (keras.ops.softmax), or use predict_probabilities."
        )
    return values


def _labels(y, samples, classes):
    y = np.asarray(y)
    if y.shape != (samples,) or y.dtype.kind not in "iu":
        raise ValueError(
            f"y must hold one integer label per sample, shape ({samples},). "
            f"Received shape: {y.shape}, dtype {y.dtype} (one-hot labels: pass y.argmax(-1))."
        )
    return check_labels(y, classes, "y")


def accuracy(probabilities, y):
    """Top-1 accuracy: the share of samples whose most likely class is `y`.

    Args:
        probabilities: `(samples, classes)` scores (probabilities or logits:
            only their argmax counts).
        y: `(samples,)` integer labels.

    Returns:
        A float in [0, 1].

    Example:

    >>> accuracy(np.array([[0.9, 0.1], [0.3, 0.7]]), np.array([0, 0]))
    0.5
    """
    probabilities = _probabilities(probabilities)
    y = _labels(y, len(probabilities), probabilities.shape[1])
    return float(np.mean(np.argmax(probabilities, axis=-1) == y))


def per_class_accuracy(probabilities, y, classes=None):
    """Accuracy on the samples of each class (the recall of each class).

    Args:
        probabilities: `(samples, classes)` scores.
        y: `(samples,)` integer labels.
        classes: Number of classes; defaults to the width of
            `probabilities`.

    Returns:
        A float array of length `classes`; NaN for a class with no sample.

    Example:

    >>> p = np.array([[0.9, 0.1], [0.8, 0.2], [0.3, 0.7], [0.6, 0.4]])
    >>> per_class_accuracy(p, np.array([0, 0, 1, 1])).tolist()
    [1.0, 0.5]
    """
    probabilities = _probabilities(probabilities)
    classes = probabilities.shape[1] if classes is None else classes
    y = _labels(y, len(probabilities), classes)
    correct = np.argmax(probabilities, axis=-1) == y
    totals = np.bincount(y, minlength=classes)[:classes].astype("float64")
    hits = np.bincount(y[correct], minlength=classes)[:classes]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(totals > 0, hits / totals, np.nan)


def agreement(probabilities, reference):
    """The share of samples on which two models predict the same class.

    Args:
        probabilities: `(samples, classes)` scores of one model.
        reference: `(samples, classes)` scores of the other (the teacher).

    Returns:
        A float in [0, 1].

    Example:

    >>> agreement(np.array([[0.9, 0.1], [0.3, 0.7]]), np.array([[0.6, 0.4], [0.6, 0.4]]))
    0.5
    """
    probabilities = _probabilities(probabilities)
    reference = _probabilities(reference, "reference")
    if reference.shape != probabilities.shape:
        raise ValueError(
            "Both models' outputs must be on the same samples and classes. "
            f"Received shapes {probabilities.shape} and {reference.shape}."
        )
    return float(np.mean(np.argmax(probabilities, -1) == np.argmax(reference, -1)))


@dataclass
class ReliabilityBins:
    """Equal-width confidence bins of a reliability diagram.

    Attributes:
        edges: `bins + 1` bin edges from 0 to 1.
        counts: Samples whose confidence falls in each bin.
        accuracy: Accuracy of the samples of each bin (NaN where empty).
        confidence: Mean confidence of the samples of each bin (NaN where
            empty).
    """

    edges: np.ndarray
    counts: np.ndarray
    accuracy: np.ndarray
    confidence: np.ndarray

    @property
    def expected_calibration_error(self):
        """`Σ_b (n_b / n) · |accuracy_b − confidence_b|` over non-empty bins."""
        used = self.counts > 0
        gaps = np.abs(self.accuracy[used] - self.confidence[used])
        return float(np.sum(self.counts[used] / self.counts.sum() * gaps))


def reliability_bins(probabilities, y, bins=ECE_BINS):
    """Bins the samples by confidence (the top class's probability).

    Bin `b` holds the confidences in `(b/bins, (b+1)/bins]`; a confidence of
    exactly 0 (impossible for a distribution) would go to the first bin.

    Args:
        probabilities: `(samples, classes)` class probabilities (rows that
            sum to one: apply a softmax to logits first).
        y: `(samples,)` integer labels.
        bins: Number of equal-width bins.

    Returns:
        A `ReliabilityBins`.

    Example:

    >>> p = np.array([[0.95, 0.05], [0.55, 0.45], [0.35, 0.65]])
    >>> r = reliability_bins(p, np.array([0, 1, 1]), bins=2)
    >>> r.counts.tolist(), r.accuracy.tolist()
    ([0, 3], [nan, 0.6666666666666666])
    """
    probabilities = _calibrated(probabilities)
    y = _labels(y, len(probabilities), probabilities.shape[1])
    if not (is_integer(bins) and bins >= 1):
        raise ValueError(f"bins must be a whole number >= 1. Received: {bins!r}")
    confidence = probabilities.max(axis=-1)
    correct = (np.argmax(probabilities, axis=-1) == y).astype("float64")
    edges = np.linspace(0.0, 1.0, bins + 1)
    index = np.clip(np.ceil(confidence * bins).astype(int) - 1, 0, bins - 1)
    counts = np.bincount(index, minlength=bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        hit_rate = np.bincount(index, weights=correct, minlength=bins) / counts
        mean_confidence = np.bincount(index, weights=confidence, minlength=bins) / counts
    return ReliabilityBins(edges, counts, hit_rate, mean_confidence)


def expected_calibration_error(probabilities, y, bins=ECE_BINS):
    """Expected calibration error over `bins` equal-width confidence bins.

    `ECE = Σ_b (n_b / n) · |acc_b − conf_b|`, where bin `b` holds the samples
    whose confidence (top probability) lies in `(b/bins, (b+1)/bins]`,
    `acc_b` is their accuracy and `conf_b` their mean confidence (Naeini et
    al. 2015; Guo et al. 2017, with 15 bins).

    Args:
        probabilities: `(samples, classes)` class probabilities.
        y: `(samples,)` integer labels.
        bins: Number of bins (15, the standard).

    Returns:
        A float in [0, 1]; 0 is perfectly calibrated.

    Example:

    >>> p = np.array([[0.9, 0.1], [0.9, 0.1]])
    >>> round(expected_calibration_error(p, np.array([0, 1])), 6)  # 90% sure, 50% right
    0.4
    """
    return reliability_bins(probabilities, y, bins).expected_calibration_error


def predict_probabilities(model, x, batch_size=512):
    """A Keras model's class probabilities on `x`, whatever its head.

    A model that outputs logits (read from its graph by
    `keras_kd.outputs.detect_output_kind`) gets a softmax; a softmax head's
    outputs are returned as they are.

    Args:
        model: A Keras classifier.
        x: Its inputs.
        batch_size: Batch size of `predict`.

    Returns:
        A float64 array `(samples, classes)` whose rows sum to one.

    Example:

    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    >>> predict_probabilities(model, np.ones((2, 4))).sum(axis=-1).round(6).tolist()
    [1.0, 1.0]
    """
    from keras_kd.outputs import LOGITS
    from keras_kd.outputs import detect_output_kind

    outputs = np.asarray(model.predict(x, batch_size=batch_size, verbose=0), dtype="float64")
    if detect_output_kind(model, outputs) == LOGITS:
        shifted = np.exp(outputs - outputs.max(axis=-1, keepdims=True))
        outputs = shifted / shifted.sum(axis=-1, keepdims=True)
    return outputs


@dataclass
class Comparison:
    """Several models measured on the same labelled samples.

    Build it with `compare`; render it with `comparison_markdown`,
    `comparison_html` and `comparison_png`, or write all three with
    `write_comparison`.

    Attributes:
        names: The models' names, the reference (teacher) first.
        accuracy: Top-1 accuracy of each model.
        agreement: Agreement of each model with the first.
        ece: Expected calibration error of each model (`ECE_BINS` bins).
        per_class: `(models, classes)` per-class accuracy.
        class_counts: Test samples of each class.
        class_names: The classes' names.
        reliability: One `ReliabilityBins` per model.
        samples: Number of samples.
    """

    names: list
    accuracy: list
    agreement: list
    ece: list
    per_class: np.ndarray
    class_counts: np.ndarray
    class_names: list
    reliability: list
    samples: int


def compare(probabilities, y, class_names=None, bins=ECE_BINS):
    """Measures several models on the same samples; the first is the reference.

    Args:
        probabilities: `{name: (samples, classes) probabilities}`, in the
            order to show them, the reference model (the teacher) first:
            every model's agreement is measured against it.
        y: `(samples,)` integer labels.
        class_names: Optional names of the classes (default: `"0"`, `"1"`...).
        bins: Bins of the expected calibration error and reliability diagram.

    Returns:
        A `Comparison`.

    Example:

    >>> y = np.array([0, 1, 1])
    >>> c = compare({"teacher": np.array([[0.8, 0.2], [0.3, 0.7], [0.1, 0.9]]),
    ...              "student": np.array([[0.6, 0.4], [0.6, 0.4], [0.2, 0.8]])}, y)
    >>> c.accuracy, c.agreement
    ([1.0, 0.6666666666666666], [1.0, 0.6666666666666666])
    """
    names = list(probabilities)
    if not names:
        raise ValueError("compare needs at least one model's probabilities. Received none.")
    arrays = [_probabilities(probabilities[name], f"probabilities[{name!r}]") for name in names]
    reference = arrays[0]
    classes = reference.shape[1]
    y = _labels(y, len(reference), classes)
    if class_names is None:
        class_names = [str(i) for i in range(classes)]
    if len(class_names) != classes:
        raise ValueError(
            f"class_names has {len(class_names)} names but the models output "
            f"{classes} classes. Give one name per class."
        )
    return Comparison(
        names=names,
        accuracy=[accuracy(p, y) for p in arrays],
        agreement=[agreement(p, reference) for p in arrays],
        ece=[expected_calibration_error(p, y, bins) for p in arrays],
        per_class=np.stack([per_class_accuracy(p, y, classes) for p in arrays]),
        class_counts=np.bincount(y, minlength=classes)[:classes],
        class_names=list(class_names),
        reliability=[reliability_bins(p, y, bins) for p in arrays],
        samples=len(y),
    )

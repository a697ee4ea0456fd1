"""The JSON file beside each `.tflite`: what an Android app needs to feed it.

`student_int8.tflite` gets `student_int8.json` with the input shape and dtype,
how raw values are normalized before they reach the model, the quantization
parameters of every input and output, whether outputs are logits or
probabilities, and the class labels. The app reads it instead of hard-coding
numbers that change with every conversion.
"""

import json
import math
import numbers
import os

import numpy as np

from keras_kd import checks
from keras_kd.files import atomic_write

FORMAT = "keras-kd tflite sidecar 1"


def sidecar_path(tflite_path: str | os.PathLike) -> str:
    """`model.tflite` -> `model.json` (beside it)."""
    root, _ = os.path.splitext(os.fspath(tflite_path))
    return root + ".json"


def check_normalization(normalization):
    """Checks `{"mean": m, "std": s}` (numbers, or one per channel), or None.

    The model is fed `(raw - mean) / std`, where `raw` is what the app has
    (e.g. pixel values 0-255). A `(mean, std)` pair of numbers and NumPy
    values (e.g. per-channel statistics `x.mean(axis=(0, 1, 2))`) are
    accepted; `std` must be positive (MediaPipe refuses a file whose
    normalization maps pixels onto a reversed range).
    """
    if normalization is None:
        return None
    if (
        isinstance(normalization, (list, tuple))
        and len(normalization) == 2
        and all(_is_number(v) for v in normalization)
    ):
        normalization = {"mean": normalization[0], "std": normalization[1]}
    if not isinstance(normalization, dict) or set(normalization) != {"mean", "std"}:
        raise ValueError(
            "normalization must be a dict {'mean': m, 'std': s} (or a (mean, std) "
            "pair) meaning the model is fed (raw - mean) / std, e.g. "
            "{'mean': 0.0, 'std': 255.0} for pixels scaled to [0, 1]. "
            f"Received: {normalization!r}"
        )
    checked = {}
    for key, value in normalization.items():
        if isinstance(value, np.ndarray) and value.ndim <= 1:
            value = value.tolist()
        values = value if isinstance(value, (list, tuple)) else [value]
        if not values or not all(_is_number(v) for v in values):
            raise ValueError(
                f"normalization[{key!r}] must be a number or a list of numbers "
                f"(one per channel). Received: {value!r}"
            )
        if not all(math.isfinite(v) for v in values):
            raise ValueError(
                f"normalization[{key!r}] must hold finite numbers (the app "
                f"computes (raw - mean) / std with them). Received: {value!r}"
            )
        if key == "std" and any(v == 0 for v in values):
            raise ValueError("normalization['std'] must not be 0.")
        if key == "std" and any(v < 0 for v in values):
            raise ValueError(
                f"normalization['std'] must be positive. Received: {value!r}. "
                "A negative std flips the input's range, which MediaPipe refuses "
                "('Valid output float tensor range is required'); give the "
                "scale as a positive number, e.g. {'mean': 0, 'std': 255}."
            )
        checked[key] = (
            [float(v) for v in value] if isinstance(value, (list, tuple)) else (float(value))
        )
    return checked


def _is_number(value):
    """A real number, NumPy scalars included; not a boolean."""
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def read_label_file(path):
    """The class names in a text file, one per line, as a list.

    UTF-8 (a byte-order mark, as Windows editors write, is dropped), any
    line ending; blank lines are skipped and each name is stripped.
    """
    try:
        with open(path, encoding="utf-8-sig") as f:
            text = f.read()
    except UnicodeDecodeError as error:
        raise ValueError(
            f"The label file {os.fspath(path)} is not UTF-8 text ({error}). "
            "Save it as UTF-8, one class name per line."
        ) from None
    return [line.strip() for line in text.splitlines() if line.strip()]


def _labels_by_index(mapping):
    """`{0: "cat", 1: "dog"}` (an id-to-label map) -> `["cat", "dog"]`."""
    keys = list(mapping)
    if all(isinstance(k, (int, np.integer)) and not isinstance(k, bool) for k in keys) and sorted(
        int(k) for k in keys
    ) == list(range(len(keys))):
        return [mapping[k] for k in sorted(keys, key=int)]
    raise ValueError(
        "labels as a dict must map each class index 0, 1, ... to its name, "
        f"e.g. {{0: 'cat', 1: 'dog'}}. Received keys {keys[:5]}. Pass a list of "
        "names in class order instead."
    )


def check_labels(labels, num_classes):
    """Checks class labels against the output width; returns a list or None.

    `labels` is a list of names or the path of a text file with one per
    line (`read_label_file`). Names must be distinct, non-empty and on one
    line each (the metadata's label file holds one per line), one per
    output unit: MediaPipe names each score by the line of its index.
    """
    if labels is None:
        return None
    if isinstance(labels, os.PathLike) or isinstance(labels, str) and os.path.isfile(labels):
        if not os.path.isfile(labels):
            raise ValueError(f"labels names no file: {os.fspath(labels)!r}.")
        labels = read_label_file(labels)
    elif isinstance(labels, (str, bytes)):
        raise ValueError(
            "labels must be a list of class names or the path of a text file "
            f"with one per line; {labels!r} is a string but no such file. "
            "Pass e.g. labels=['cat', 'dog'] or labels='labels.txt'."
        )
    if isinstance(labels, dict):
        labels = _labels_by_index(labels)
    labels = [
        (label.decode("utf-8") if isinstance(label, bytes) else str(label)).strip()
        for label in labels
    ]
    if not labels:
        raise ValueError("labels is empty. Give one class name per output class.")
    # Any line boundary str.splitlines knows (\u2028, \x85, \x0b, ...), not only
    # \n and \r: a reader that splits on it would see one class more.
    bad = [label for label in labels if len(label.splitlines()) != 1]
    if bad:
        raise ValueError(f"labels must be non-empty names on one line each. Received: {bad[0]!r}")
    repeated = sorted({label for label in labels if labels.count(label) > 1})
    if repeated:
        raise ValueError(
            f"labels must be distinct; repeated: {repeated}. Give each class its own name."
        )
    if num_classes == 1 and len(labels) != 1:
        raise ValueError(
            f"labels has {len(labels)} names but the model outputs 1 score (a "
            "single-unit head, e.g. a sigmoid). Give one name, the class that score "
            "measures (e.g. labels=['dog'] for P(dog)): MediaPipe names each score "
            "by the label of its index, and refuses a file whose label count differs."
        )
    if num_classes is not None and len(labels) != num_classes:
        raise ValueError(
            f"labels has {len(labels)} names but the model outputs "
            f"{num_classes} classes. Give one name per output class."
        )
    return labels


def sidecar_content(result, output_kind, normalization=None, labels=None, image_input=None):
    """The sidecar as a dict (see the module docstring for its fields).

    With `image_input`, the normalization is inside the file: `normalization`
    is then `None` (the app feeds raw pixels) and `normalization_in_model`
    records it.
    """
    first_in = result.inputs[0]
    folded = normalization if image_input else None
    return {
        "format": FORMAT,
        "model_file": os.path.basename(result.path),
        "quantization": result.mode or "float32",
        "signature": "serving_default",
        "input_shape": [1] + list(first_in.shape[1:]),
        "input_dtype": first_in.dtype,
        "normalization": None if image_input else normalization,
        "image_input": image_input,
        "normalization_in_model": folded,
        "metadata": result.metadata is not None,
        "output_kind": output_kind,
        "labels": labels,
        "inputs": [t.to_json() for t in result.inputs],
        "outputs": [t.to_json() for t in result.outputs],
        "bytes": result.bytes,
    }


def sidecar_json(result, output_kind, normalization=None, labels=None, image_input=None):
    """The sidecar's text: strict JSON (a NaN or infinity raises)."""
    content = sidecar_content(result, output_kind, normalization, labels, image_input)
    return json.dumps(content, indent=2, allow_nan=False) + "\n"


def write_sidecar(result, output_kind, normalization=None, labels=None):
    """Writes the sidecar beside `result.path` (atomically); returns its path."""
    path = sidecar_path(result.path)
    atomic_write(path, sidecar_json(result, output_kind, normalization, labels))
    return path


def read_output_kind(tflite_path: str | os.PathLike) -> str | None:
    """What the sidecar beside `tflite_path` says the file outputs.

    The sidecar beside the path is read, else (for a symbolic link) the one
    beside the file it links to; either must name that very file.

    Args:
        tflite_path: The `.tflite` file.

    Returns:
        `"logits"` or `"probabilities"`; `None` when there is no sidecar, it is
        not this format's (or not a regular file, or larger than
        `MAX_SIDECAR_BYTES`), it was written for another file (or for an
        earlier file of this name: its `bytes` differ from the file's size),
        or it names no known kind.

    Example:

    >>> read_output_kind("no_such_model.tflite") is None
    True
    """
    path = os.fspath(tflite_path)
    places = [path]
    if os.path.realpath(path) != os.path.abspath(path):
        places.append(os.path.realpath(path))
    for place in places:
        location = sidecar_path(place)
        sidecar = _read_json(location)
        if not isinstance(sidecar, dict) or sidecar.get("format") != FORMAT:
            continue
        if not _names_file(sidecar.get("model_file"), location, path):
            continue  # The sidecar of another file.
        if "bytes" in sidecar and not _same_size(sidecar["bytes"], path):
            continue  # Left from an earlier conversion to this name.
        kind = sidecar.get("output_kind")
        return kind if kind in checks.OUTPUT_KINDS else None
    return None


# No sidecar comes near this (its labels included); a larger file is not read.
MAX_SIDECAR_BYTES = 16 * 2**20


def _read_json(path):
    """The JSON value in the regular file `path` (UTF-8, a byte-order mark
    allowed), or `None` when there is none to read: no file, a folder or a
    named pipe (which open() would wait on forever), a file over
    `MAX_SIDECAR_BYTES`, or text that is not JSON (nested too deep included)."""
    try:
        if not os.path.isfile(path):
            return None
        with open(path, "rb") as f:
            data = f.read(MAX_SIDECAR_BYTES + 1)
    except OSError:
        return None
    if len(data) > MAX_SIDECAR_BYTES:
        return None
    try:
        return json.loads(data.decode("utf-8-sig"))
    except (ValueError, RecursionError):
        return None


def _same_size(recorded, tflite_path):
    """True when a sidecar's `bytes` is the size of `tflite_path` (a file
    converted again, without a sidecar, keeps the old one beside it)."""
    if not isinstance(recorded, int) or isinstance(recorded, bool):
        return False
    try:
        return os.path.getsize(tflite_path) == recorded
    except OSError:
        return False


def _names_file(model_file, location, tflite_path):
    """True when a sidecar at `location` naming `model_file` (a bare file
    name, beside it) describes `tflite_path`, links followed."""
    if not isinstance(model_file, str) or model_file != os.path.basename(model_file):
        return False
    if model_file == os.path.basename(tflite_path) and os.path.dirname(
        os.path.abspath(location)
    ) == os.path.dirname(os.path.abspath(tflite_path)):
        return True
    folder = os.path.dirname(os.path.realpath(location))
    try:
        return os.path.samefile(os.path.join(folder, model_file), tflite_path)
    except (OSError, ValueError):
        return False

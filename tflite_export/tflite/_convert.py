"""`tflite_export.convert`: a Keras model, on any backend, to a `.tflite` file.

The model is traced into a `serving_default` signature with named tensors and
converted with post-training quantization. Where the calling process runs
Keras on JAX or PyTorch, the model is saved to a temporary `.keras` file and
converted in a TensorFlow child process. Calibration samples are drawn here,
on the caller's backend, so every data form works the same everywhere.
"""

import os
import sys
import tempfile
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Mapping
from collections.abc import Sequence

import keras
import numpy as np

from keras_kd import _keras_compat
from keras_kd import checks
from keras_kd import outputs as outputs_lib
from keras_kd.files import atomic_write_all
from keras_kd.files import check_destination
from keras_kd.files import load_keras_model
from tflite_export import modes as modes_lib
from tflite_export._errors import ExportError
from tflite_export._worker._job import Job
from tflite_export._worker._runner import run_job
from tflite_export._worker._runner import terminate_as_exit
from tflite_export.tflite import _calibration as calibration_lib
from tflite_export.tflite import _compressed as compressed_lib
from tflite_export.tflite import _contract as contract_lib
from tflite_export.tflite import _metadata as metadata_lib
from tflite_export.tflite import _sidecar as sidecar_lib
from tflite_export.tflite._result import ConversionResult
from tflite_export.tflite._result import describe
from tflite_export.tflite._result import integer_activations


def convert(
    model: "keras.Model | str | os.PathLike",
    path: "str | os.PathLike",
    quantization: str | None = None,
    representative_data: "np.ndarray | Iterable | Callable | None" = None,
    num_calibration_samples: int = calibration_lib.DEFAULT_NUM_CALIBRATION_SAMPLES,
    allow_select_tf_ops: bool = False,
    sidecar: bool = True,
    labels: "Sequence[str] | Mapping[int, str] | str | os.PathLike | None" = None,
    normalization: "Mapping[str, float | Sequence[float]] | tuple[float, float] | None" = None,
    output_kind: str = "auto",
    image_input: str | None = None,
    probabilities: bool = False,
    metadata: "bool | Mapping[str, str] | None" = None,
    verbose: int = 1,
) -> ConversionResult:
    """Converts a Keras model to a TFLite (LiteRT) file, optionally quantized.

    Args:
        model: A built Keras model (Sequential or Functional; any backend), or
            the path of a `.keras` file. A model from
            `keras_kd.compression.quantization_aware` converts to `"int8"` or
            `"int8_io"` from its learned ranges, with no representative data;
            one from `pruning_aware` is stripped first (zeros in place).
        path: Where to write the `.tflite`. Its folder must exist. The write
            is atomic: a failure leaves no partial file and keeps an existing
            one untouched.
        quantization: A mode of the table `tflite_export.MODES`: `None` or
            `"float32"` (no quantization), `"dynamic"` (int8 weights, float
            activations), `"float16"` (float16 weights), `"int8"` (int8
            weights and activations, float input and output), `"int8_io"`
            (int8 input and output too), `"int16x8"` (int16 activations,
            int8 weights); `tflite_export.modes.names()` lists them.
        representative_data: Typical inputs for calibration, required by the
            modes whose `needs_calibration` is True (`"int8"`, `"int8_io"`,
            `"int16x8"`): a NumPy array, a list of arrays for several
            inputs, a `tf.data.Dataset`, a `keras.utils.PyDataset` or an
            iterable of samples or batches.
        num_calibration_samples: At most this many samples are drawn (the
            first ones), and fed to the converter one at a time.
        allow_select_tf_ops: Keep TensorFlow ops that have no built-in TFLite
            kernel (the app then needs the Flex delegate). Off by default.
        sidecar: Whether to write the JSON sidecar (`student.json` beside
            `student.tflite`) for the Android app.
        labels: Class names, one per output unit (one name for a
            single-unit sigmoid head: the class its score measures),
            distinct; an `{index: name}` dict (e.g. a model's `id2label`);
            or the path of a UTF-8 text file with one per line (blank lines
            skipped). Packed into the file's metadata (the label
            file MediaPipe reads) and the sidecar.
        normalization: `{"mean": m, "std": s}` or a `(mean, std)` pair
            (numbers, or one per channel, NumPy arrays included; `std` > 0):
            the model is fed `(raw - mean) / std`; recorded in the metadata
            and the sidecar, or folded into the graph with `image_input`.
        output_kind: `"auto"` (detect a softmax or sigmoid head), `"logits"`
            or `"probabilities"`; names the output tensor and goes in the
            sidecar.
        image_input: `None`, or `"uint8_rgb"`: the file takes a uint8 RGB
            image `(1, height, width, 3)` as a camera frame arrives, and
            converts it to the model's channels (ITU-R BT.601 luminance for
            a 1-channel model) and normalizes it inside the graph. Needs
            `normalization`. `representative_data` stays the model's own
            inputs; they are turned back into pixels for calibration (values
            more than 32 levels outside 0-255 under `normalization` are
            refused: the normalization they were not made with).
        probabilities: Fold a softmax after a logits head, so the file
            outputs probabilities (a softmax or sigmoid head is left as is).
        metadata: Whether to embed TFLite Model Metadata (what MediaPipe
            Tasks and the LiteRT support library read: input normalization,
            labels, tensor descriptions, name and version). `None` embeds it
            when `labels`, `normalization` or `image_input` is given; `False`
            never; `True` always; a dict overrides its `name`, `version`
            (default: a hash of the converted model), `description`,
            `author` or `license`. An image model's metadata must make a file
            MediaPipe's `ImageClassifier` loads: combinations it would reject
            (a 1-channel input without `image_input="uint8_rgb"`, other than 1
            or 3 channels, an open height or width, an int8 input, a float
            input without `normalization`, labels on a model of several
            outputs) raise instead.
        verbose: 0 silent, 1 shows a calibration progress bar.

    Returns:
        A `ConversionResult`.

    Raises:
        ValueError: A bad argument, found before any work starts.
        ExportError: The converter rejected the model (the message names
            the cause and the fix), or the TensorFlow child process failed.

    Example:

    >>> import os, tempfile, keras, tflite_export
    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    >>> path = os.path.join(tempfile.mkdtemp(), "tiny.tflite")
    >>> result = tflite_export.convert(model, path, verbose=0)
    >>> result.mode is None, result.input_dtype, result.inputs[0].shape
    (True, 'float32', (-1, 4))
    >>> os.path.basename(result.sidecar_path)
    'tiny.json'
    >>> result = tflite_export.convert(model, path, labels=["a", "b", "c"],
    ...                                probabilities=True, verbose=0)
    >>> result.outputs[0].name, result.metadata.labels
    ('probabilities', ['a', 'b', 'c'])
    """
    mode = modes_lib.get(quantization)
    model_file = os.fspath(model) if isinstance(model, (str, os.PathLike)) else None
    label_file = labels if isinstance(labels, (str, os.PathLike)) else None
    path = check_output_paths(path, [model_file, label_file], sidecar)
    loaded, model_file = _load(model)
    model, learned_ranges = compressed_lib.prepare(loaded, mode, representative_data)
    if model is not loaded:
        model_file = None  # the stripped model is converted, not the file
    shapes = calibration_lib.input_shapes(model)
    labels, normalization, contract = _plan(
        model, mode, labels, normalization, output_kind, image_input, probabilities, metadata
    )
    kind = contract.output_kind
    samples = (
        None
        if learned_ranges
        else _calibration(mode, representative_data, shapes, num_calibration_samples)
    )
    if samples is not None:
        samples = contract_lib.pixels_from_inputs(samples, contract)
    settings = dict(
        allow_select_tf_ops=bool(allow_select_tf_ops),
        output_name=kind if kind in checks.OUTPUT_KINDS else "output",
        verbose=int(bool(verbose)),
        image_input=contract.image_input,
        normalization=normalization if contract.image_input else None,
        softmax=contract.softmax,
    )
    if _converts_here(model):
        from tflite_export.tflite._converter import to_tflite_bytes

        # As in the child's case: a SIGTERM unwinds, so the converter's own
        # temporary folders are removed.
        with terminate_as_exit():
            content = to_tflite_bytes(model, mode.name, calibration=samples, **settings)
    else:
        content = _convert_in_child(model, model_file, mode.name, samples, settings)
    calibrated = 0 if samples is None else len(samples[0])
    result = describe(content, modes_lib.public_name(mode.name), kind, calibrated, path_name=path)
    _check_mode(result, mode, content, contract.input_dtype)
    if contract.metadata is not None:
        buffer = metadata_lib.metadata_buffer(content, contract, result, model.name)
        content = metadata_lib.embed(content, buffer, labels)
        result.bytes = len(content)
        result.metadata = metadata_lib.read_metadata(content)
    files = {path: content}
    if sidecar:
        result.sidecar_path = sidecar_lib.sidecar_path(path)
        files[result.sidecar_path] = sidecar_lib.sidecar_json(
            result, kind, normalization, labels, image_input=contract.image_input
        )
    atomic_write_all(files)  # both written whole, then both published
    return result


def check_file_options(
    model: "keras.Model",
    quantization: str | None = None,
    labels: "Sequence[str] | Mapping[int, str] | str | os.PathLike | None" = None,
    normalization: "Mapping[str, float | Sequence[float]] | tuple[float, float] | None" = None,
    output_kind: str = "auto",
    image_input: str | None = None,
    probabilities: bool = False,
    metadata: "bool | Mapping[str, str] | None" = None,
    x: "np.ndarray | Mapping[str, np.ndarray] | None" = None,
) -> dict:
    """Checks `convert`'s file options against `model`, before any work.

    What `convert` checks first, for work that ends in a conversion (a
    quantization- or pruning-aware fine-tuning): a combination that cannot
    give a loadable file (one MediaPipe's `ImageClassifier` would reject,
    labels of the wrong count, ...) is refused before the training, not
    after it. Nothing is converted or written.

    Args:
        model: The model that will be converted (or the student it will be
            made from: the same inputs and outputs).
        quantization, labels, normalization, output_kind, image_input,
            probabilities, metadata: As in `convert`.
        x: Optionally the model's inputs the file will be calibrated with
            and measured on: an array, or a dict `{name: array}` naming each
            set in the message (e.g. `{"x": x, "validation_data": x_val}`).
            With `image_input`, each must be pixels
            0-255 under `normalization` (`x * std + mean`, give or take 32
            levels, clipped): else the normalization is not the one the
            inputs were made with.

    Returns:
        The options as `convert` takes them, checked: `labels` a list of
        names (a label file read), `normalization` a dict, `image_input`,
        `probabilities` and `metadata` as given.

    Raises:
        ValueError: A bad option or combination; the message names the fix.

    Example:

    >>> import keras, tflite_export
    >>> model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(),
    ...                           keras.layers.Dense(2)])
    >>> tflite_export.check_file_options(model, "int8", labels=["no", "yes"],
    ...     normalization=(0, 255), image_input="uint8_rgb")["labels"]
    ['no', 'yes']
    >>> tflite_export.check_file_options(model, "int8", labels=["no", "yes"],
    ...     normalization=(0, 255))
    Traceback (most recent call last):
    ...
    ValueError: The model takes 1-channel images, but MediaPipe's ImageClassifier ...
    """
    labels, normalization, _ = _plan(
        model,
        modes_lib.get(quantization),
        labels,
        normalization,
        output_kind,
        image_input,
        probabilities,
        metadata,
    )
    if image_input is not None and x is not None:
        for what, array in (x if isinstance(x, Mapping) else {"x": x}).items():
            contract_lib.check_pixel_range(array, normalization, what)
    return {
        "labels": labels,
        "normalization": normalization,
        "image_input": image_input,
        "probabilities": probabilities,
        "metadata": metadata,
    }


def _plan(model, mode, labels, normalization, output_kind, image_input, probabilities, metadata):
    """`(labels, normalization, FileContract)`, each checked."""
    normalization = sidecar_lib.check_normalization(normalization)
    labels = sidecar_lib.check_labels(labels, _num_classes(model))
    contract = contract_lib.plan(
        model,
        mode,
        _output_kind(model, output_kind),
        labels,
        normalization,
        image_input=image_input,
        probabilities=probabilities,
        metadata=metadata,
    )
    return labels, normalization, contract


def check_output_paths(
    path: "str | os.PathLike", inputs: "Sequence[str | None]", sidecar: bool
) -> str:
    """Checks `convert`'s output and its sidecar before any work.

    Also run by the TFMOT engine before its child starts, whose child
    converts with a sidecar.

    Args:
        path: The `.tflite` path to write.
        inputs: Files the work reads (the source model, the label file;
            `None` entries are skipped): neither output may be one of them.
        sidecar: Whether a `.json` sidecar is written beside the file.

    Returns:
        `path`, as a string.

    Raises:
        ValueError: An output is an input, or the sidecar is the output.
    """
    path = check_destination(path, inputs=inputs, what="The output path")
    if sidecar:
        side = sidecar_lib.sidecar_path(path)
        if side == path:
            raise ValueError(
                f"The output path {path} ends in .json, the name of its own "
                "sidecar, which would overwrite it. Name the output like "
                "'model.tflite' (or pass sidecar=False)."
            )
        check_destination(side, inputs=inputs, what="Its sidecar")
    return path


def _check_mode(result, mode, content, input_dtype=None):
    """Raises if the file is not of the mode asked for (e.g. a float file
    where int8 was asked: the converter can silently skip quantization);
    `input_dtype` is the input an `image_input` fixes."""
    expected = input_dtype or mode.input_dtype, mode.output_dtype
    received = result.input_dtype, result.output_dtype
    quantized = mode.needs_calibration and not integer_activations(content)
    if received != expected or quantized:
        raise ExportError(
            f"The converter produced a file that is not {mode.name!r}: inputs "
            f"{received[0]}, outputs {received[1]}"
            + (", no integer activations" if quantized else "")
            + f" (expected {expected[0]}, {expected[1]}). Nothing was written. "
            "Check the model and the calibration data, or choose another mode."
        )


def _load(model):
    if isinstance(model, (str, os.PathLike)):
        model, model_file = load_keras_model(model), os.fspath(model)
    else:
        model_file = None
    student = getattr(model, "student", None)
    if isinstance(student, keras.Model) and hasattr(model, "teacher"):
        raise ValueError(
            f"model is a {type(model).__name__} (a distiller), which holds a "
            "teacher and a student; convert its student: "
            "tflite_export.convert(distiller.student, ...) (saved first with "
            "distiller.student.save('student.keras') for the command line)."
        )
    if _is_tf_keras(model) or isinstance(model, keras.Model):
        return model, model_file
    raise ValueError(
        "model must be a Keras model or the path of a .keras file. "
        f"Received: {type(model).__name__}"
    )


def _is_tf_keras(model):
    """A tf-keras (Keras 2) model, as the TFMOT worker converts."""
    return type(model).__module__.startswith("tf_keras")


def _converts_here(model):
    """TensorFlow-backend and tf-keras models convert in this process."""
    return _is_tf_keras(model) or keras.backend.backend() == "tensorflow"


def _output_kind(model, output_kind):
    if output_kind != "auto":
        return checks.validate_output_kind(output_kind, "output_kind")
    if _is_tf_keras(model):
        return "unknown"
    return outputs_lib.detect_output_kind(model)


def _num_classes(model):
    shape = model.outputs[0].shape if getattr(model, "outputs", None) else None
    return None if not shape or shape[-1] is None else int(shape[-1])


def _calibration(mode, representative_data, shapes, limit):
    if not mode.needs_calibration:
        return None
    if representative_data is None:
        raise ValueError(
            f"quantization={mode.name!r} needs representative_data: a few hundred "
            "typical inputs to calibrate the integer ranges, e.g. "
            "representative_data=x_train[:500] (CLI: --calibration calib.npz). "
            "Without data, use quantization='dynamic' or 'float16'."
        )
    return calibration_lib.draw_samples(representative_data, shapes, limit)


def custom_modules(model):
    """`[module, folder]` of each importable module defining one of the
    model's own (non-Keras) layer or model classes, for the child to import.

    Classes defined in `__main__` cannot be imported by another process and
    are left out (the child then names the missing class).
    """
    found = {}
    for layer in [model, *_keras_compat.sublayers(model, recursive=True)]:
        inner = getattr(layer, "model", None)  # a keras_kd.compression wrapper
        layers = [layer] + (
            [inner, *_keras_compat.sublayers(inner, recursive=True)]
            if isinstance(inner, keras.Model)
            else []
        )
        for each in layers:
            name = type(each).__module__
            module = sys.modules.get(name)
            path = getattr(module, "__file__", None)
            if name.split(".")[0] in ("keras", "__main__") or not path:
                continue
            folder = os.path.dirname(os.path.abspath(path))
            for _ in range(name.count(".") + (os.path.basename(path) == "__init__.py")):
                folder = os.path.dirname(folder)
            found[name] = folder
    return [[name, folder] for name, folder in sorted(found.items())]


def _convert_in_child(model, model_file, mode, samples, settings):
    """Converts in a TensorFlow process; returns the `.tflite` bytes."""
    with terminate_as_exit(), tempfile.TemporaryDirectory(prefix="keras_kd_convert_") as folder:
        if model_file is None:
            model_file = os.path.join(folder, "model.keras")
            model.save(model_file)
        job = Job(
            "convert",
            folder,
            os.path.abspath(model_file),
            os.path.join(folder, "model.tflite"),
            mode,
            **settings,
            custom_modules=custom_modules(model),
        )
        arrays = None if samples is None else {f"input_{i}": s for i, s in enumerate(samples)}
        run_job(job, "converts the model to TFLite", arrays)
        with open(job.output, "rb") as f:
            return f.read()

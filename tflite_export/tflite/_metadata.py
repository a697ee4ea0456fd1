"""TFLite Model Metadata in the `.tflite` itself: written by `convert`, read
back by `read_metadata`.

What MediaPipe Tasks and the LiteRT support library read: the input image's
color space and size with its `NormalizationOptions` (float input), the
labels as an associated file (`TENSOR_AXIS_LABELS`) packed into the file as
a zip archive appended after the flatbuffer, a name and description for
each tensor, the model's name and version. The flatbuffer layout is in
`_metadata_schema`.
"""

import dataclasses
import hashlib
import io
import os
import zipfile

import keras_kd
from keras_kd.apps.render import two_columns
from tflite_export import _litert_compat
from tflite_export.tflite import _metadata_schema as schema
from tflite_export.tflite import tflite_file

METADATA_NAME = "TFLITE_METADATA"  # the model's `metadata` entry, as MediaPipe reads it
LABEL_FILE = "labels.txt"
SCORE_KINDS = ("probabilities", "logits")


@dataclasses.dataclass(frozen=True)
class InputContract:
    """What the file's input takes.

    Attributes:
        name: Name of the input in the metadata.
        dtype: The input tensor's dtype, e.g. `"uint8"` or `"float32"`.
        shape: Its shape, `-1` for the free batch dimension.
        color_space: `"RGB"` or `"GRAYSCALE"` for an image, `None` for features.
        width: Image width in pixels, or `None`.
        height: Image height in pixels, or `None`.
        normalization: `{"mean": [...], "std": [...]}`: the client feeds
            `(pixel - mean) / std`; `None` when the file takes raw values
            (a uint8 input: any normalization is inside the graph).
        description: The metadata's words for it.
    """

    name: str
    dtype: str
    shape: tuple
    color_space: str = None
    width: int = None
    height: int = None
    normalization: dict = None
    description: str = None


@dataclasses.dataclass(frozen=True)
class FileMetadata:
    """The TFLite Model Metadata of a `.tflite` file, as `read_metadata` returns it.

    Attributes:
        name: The model's name.
        version: Its version.
        description: What the model is, in words.
        author: Who made it.
        min_parser_version: The metadata parser version the file needs.
        input: An `InputContract`.
        output_name: Name of the (first) output in the metadata.
        score_kind: `"probabilities"`, `"logits"` or `"unknown"`.
        labels: The class names packed in the file, or `None`.
        label_file: Name of the packed label file, or `None`.
    """

    name: str
    version: str
    description: str
    author: str
    min_parser_version: str
    input: InputContract
    output_name: str
    score_kind: str
    labels: list = None
    label_file: str = None

    def rows(self) -> list[tuple[str, str]]:
        """`(label, value)` pairs for a two-column table."""
        tensor = self.input
        image = (
            ""
            if tensor.color_space is None
            else (f" {tensor.color_space} image {tensor.width}x{tensor.height}")
        )
        if tensor.normalization is not None:
            feeding = (
                f"(value - {_numbers(tensor.normalization['mean'])}) / "
                f"{_numbers(tensor.normalization['std'])}"
            )
        elif tensor.dtype == "uint8":
            feeding = "raw pixels 0-255 (any conversion happens in the model)"
        else:
            feeding = "values as they are (no normalization recorded)"
        labels = (
            "none"
            if not self.labels
            else (
                f"{len(self.labels)} ({', '.join(self.labels[:5])}"
                + (", ..." if len(self.labels) > 5 else "")
                + ")"
            )
        )
        return [
            ("metadata", f"{self.name} version {self.version} (parser {self.min_parser_version})"),
            ("metadata input", f"{tensor.dtype} {list(tensor.shape)}{image}, {feeding}"),
            ("metadata scores", f"{self.score_kind} ({self.output_name})"),
            ("metadata labels", labels),
        ]

    def summary(self) -> str:
        """One line: input, scores, labels, e.g. `uint8 RGB 16x16, probabilities, 10 labels`."""
        tensor = self.input
        image = ""
        if tensor.color_space:
            image = f" {tensor.color_space} {tensor.width}x{tensor.height}"
        labels = f"{len(self.labels)} labels" if self.labels else "no labels"
        return f"{tensor.dtype}{image}, {self.score_kind}, {labels}"

    def __str__(self):
        return two_columns(self.rows())


def _numbers(values):
    values = [f"{v:g}" for v in values]
    return values[0] if len(values) == 1 else "[" + ", ".join(values) + "]"


def _as_list(value):
    return [float(v) for v in value] if isinstance(value, list) else [float(value)]


def metadata_buffer(content, contract, result, model_name):
    """The metadata flatbuffer for the converted `content` under `contract`.

    Args:
        content: The `.tflite` bytes as converted (no metadata yet).
        contract: The `FileContract` (`_contract.plan`).
        result: The `ConversionResult` describing `content`.
        model_name: The Keras model's name (the default metadata name).
    """
    overrides = contract.metadata
    version = overrides.get("version") or "sha256:" + hashlib.sha256(content).hexdigest()[:12]
    inputs = [_input_tensor(t, contract) for t in result.inputs]
    outputs = [_output_tensor(t, i, contract, result) for i, t in enumerate(result.outputs)]
    description = overrides.get("description") or (
        f"{model_name}: {result.mode or 'float32'} TFLite file written by keras-kd "
        f"{keras_kd.__version__} (tflite_export.convert); outputs {contract.output_kind}."
    )
    return schema.model_metadata(
        name=overrides.get("name") or model_name,
        description=description,
        version=version,
        author=overrides.get("author"),
        license=overrides.get("license"),
        inputs=inputs,
        outputs=outputs,
    )


def _input_tensor(tensor, contract):
    if contract.image is None:
        units = []
        if contract.normalization is not None:
            units = [
                schema.normalization_unit(
                    _as_list(contract.normalization["mean"]),
                    _as_list(contract.normalization["std"]),
                )
            ]
        return schema.tensor(
            tensor.name, "The model's input features.", schema.feature_content(), units
        )
    height, width, channels = contract.image
    if contract.image_input is not None:
        folded = "BT.601 luminance and " if channels == 1 else ""
        return schema.tensor(
            tensor.name,
            f"A uint8 RGB image {width}x{height}, pixels 0-255 as a camera frame "
            f"gives them; {folded}the normalization are part of the model.",
            schema.image_content(1, width, height),
            stats=([0.0], [255.0]),
        )
    # One value where every channel has the same (MediaPipe reads a list of
    # several as per-channel normalization, which it refuses for images).
    mean = _as_list(contract.normalization["mean"])[:1]
    std = _as_list(contract.normalization["std"])[:1]
    return schema.tensor(
        tensor.name,
        f"A float32 RGB image {width}x{height}, fed (pixel - mean) / std.",
        schema.image_content(1, width, height),
        [schema.normalization_unit(mean, std)],
    )


def _output_tensor(tensor, index, contract, result):
    kind = contract.output_kind if contract.output_kind in SCORE_KINDS else "scores"
    files = None
    if index == 0 and contract.labels is not None:
        files = [
            schema.associated_file(
                LABEL_FILE,
                "Class names, one per line, in the order of the scores.",
                schema.ASSOCIATED_FILE_TENSOR_AXIS_LABELS,
            )
        ]
    if kind == "probabilities":
        words, stats = "Probabilities in [0, 1], one per class.", ([0.0], [1.0])
    elif kind == "logits":
        words = "Logits (unnormalized scores), one per class; softmax gives probabilities."
        stats = None
    else:
        words, stats = "The model's output.", None
    name = kind if len(result.outputs) == 1 else f"{kind}_{index}"
    return schema.tensor(name, words, schema.feature_content(), stats=stats, files=files)


def embed(content, metadata, labels):
    """`content` with the metadata flatbuffer and the packed label file."""
    content = _litert_compat.with_model_metadata(content, METADATA_NAME, metadata)
    if labels is None:
        return content
    archive = io.BytesIO(content)
    archive.seek(0, io.SEEK_END)
    # Stored, not deflated: MediaPipe reads the files in place.
    with zipfile.ZipFile(archive, "a", compression=zipfile.ZIP_STORED) as packed:
        packed.writestr(LABEL_FILE, "".join(f"{label}\n" for label in labels))
    return archive.getvalue()


def read_metadata(path: "str | os.PathLike") -> "FileMetadata | None":
    """Reads the TFLite Model Metadata of a `.tflite` file.

    Args:
        path: The `.tflite` file (or its content as bytes).

    Returns:
        A `FileMetadata` (name, version, input contract, score kind, labels),
        or `None` for a file without metadata.

    Raises:
        ValueError: The file cannot be read, or its metadata is malformed.

    Example:

    >>> import os, tempfile, keras, tflite_export
    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)], name="tiny")
    >>> path = os.path.join(tempfile.mkdtemp(), "tiny.tflite")
    >>> _ = tflite_export.convert(model, path, labels=["a", "b", "c"], verbose=0)
    >>> info = tflite_export.read_metadata(path)
    >>> info.name, info.labels, info.score_kind, info.input.dtype
    ('tiny', ['a', 'b', 'c'], 'logits', 'float32')
    """
    if isinstance(path, (bytes, bytearray)):
        content = bytes(path)
        path = f"The content given ({len(content)} bytes)"  # named so in errors, not printed
    else:
        if os.path.isdir(path):
            raise ValueError(f"{path} is a folder; give the path of a .tflite file.")
        if not os.path.isfile(path):
            raise ValueError(f"No such .tflite file: {path}")
        with open(path, "rb") as f:
            content = f.read()
    if content[4:8] != b"TFL3":
        raise ValueError(f"{path} is not a .tflite file (no TFL3 identifier).")
    try:
        buffer = _litert_compat.model_metadata(content, METADATA_NAME)
    except Exception as error:  # the flatbuffer reader fails in many ways
        raise ValueError(
            f"{path} is truncated or corrupt: it starts as a .tflite file but its "
            f"flatbuffer cannot be read ({type(error).__name__}: {error}). Copy or "
            "convert it again."
        ) from None
    if buffer is None:
        return None
    root = schema.Reader.root(buffer)
    subgraphs = root.tables(schema.MODEL["subgraph_metadata"])
    if len(subgraphs) != 1:
        raise ValueError(f"The metadata has {len(subgraphs)} subgraphs; TFLite has one.")
    tensors_in = subgraphs[0].tables(schema.SUBGRAPH["input_tensor_metadata"])
    tensors_out = subgraphs[0].tables(schema.SUBGRAPH["output_tensor_metadata"])
    inputs, _ = tflite_file.signature_tensors(tflite_file.interpreter(content))
    output = tensors_out[0] if tensors_out else None
    output_name = output.string(schema.TENSOR["name"]) if output else None
    label_file = _label_file(output)
    return FileMetadata(
        name=root.string(schema.MODEL["name"]),
        version=root.string(schema.MODEL["version"]),
        description=root.string(schema.MODEL["description"]),
        author=root.string(schema.MODEL["author"]),
        min_parser_version=root.string(schema.MODEL["min_parser_version"]),
        input=_read_input(tensors_in[0], inputs[0]) if tensors_in else None,
        output_name=output_name,
        score_kind=output_name.split("_")[0]
        if output_name and output_name.split("_")[0] in SCORE_KINDS
        else "unknown",
        labels=_packed_lines(content, label_file) if label_file else None,
        label_file=label_file,
    )


def _read_input(tensor, info):
    content = tensor.table(schema.TENSOR["content"])
    color_space = width = height = None
    if content and content.scalar(schema.CONTENT["content_properties_type"], "ubyte") == (
        schema.CONTENT_IMAGE
    ):
        image = content.table(schema.CONTENT["content_properties"])
        color_space = schema.COLOR_SPACES.get(
            image.scalar(schema.IMAGE_PROPERTIES["color_space"], "byte"), "UNKNOWN"
        )
        size = image.table(schema.IMAGE_PROPERTIES["default_size"])
        if size is not None:
            width = size.scalar(schema.IMAGE_SIZE["width"], "uint")
            height = size.scalar(schema.IMAGE_SIZE["height"], "uint")
    normalization = None
    for unit in tensor.tables(schema.TENSOR["process_units"]):
        if unit.scalar(schema.PROCESS_UNIT["options_type"], "ubyte") == (
            schema.PROCESS_UNIT_NORMALIZATION
        ):
            options = unit.table(schema.PROCESS_UNIT["options"])
            normalization = {
                "mean": options.floats(schema.NORMALIZATION["mean"]),
                "std": options.floats(schema.NORMALIZATION["std"]),
            }
    return InputContract(
        name=tensor.string(schema.TENSOR["name"]),
        dtype=info.dtype,
        shape=info.shape,
        color_space=color_space,
        width=width,
        height=height,
        normalization=normalization,
        description=tensor.string(schema.TENSOR["description"]),
    )


def _label_file(tensor):
    if tensor is None:
        return None
    for packed in tensor.tables(schema.TENSOR["associated_files"]):
        kind = packed.scalar(schema.ASSOCIATED_FILE["type"], "byte")
        if kind == schema.ASSOCIATED_FILE_TENSOR_AXIS_LABELS:
            return packed.string(schema.ASSOCIATED_FILE["name"])
    return None


def _packed_lines(content, name):
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as packed:
            text = packed.read(name).decode("utf-8")
    except (zipfile.BadZipFile, KeyError):
        raise ValueError(
            f"The metadata names the label file {name!r}, but it is not packed in the file."
        ) from None
    return [line for line in text.splitlines() if line]

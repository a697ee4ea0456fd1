"""What a `.tflite` file promises its client: input form, scores, metadata.

`convert` calls `plan` before any work: it checks `image_input`,
`probabilities` and `metadata` against the model and the quantization mode,
and refuses every combination that would give a file MediaPipe Tasks'
`ImageClassifier` rejects, with the combination that loads instead. The
rules, from MediaPipe 1.2.3's image classifier:

- the input is `(1, height, width, 3)`, RGB: a 1-channel student needs
  `image_input="uint8_rgb"` (the file then takes RGB and converts it to
  luminance itself);
- the input is uint8 (raw pixels) or float32 with `NormalizationOptions`
  (so a float image input needs `normalization`); int8 (`"int8_io"`) is
  refused;
- labels and scores are read from the output's metadata.

Pure Python: no TensorFlow here.
"""

import dataclasses

import numpy as np

from keras_kd import outputs as outputs_lib

UINT8_RGB = "uint8_rgb"
IMAGE_INPUTS = (UINT8_RGB,)
# ITU-R BT.601 luma weights of R, G and B: a 1-channel student's pixel.
LUMINANCE = (0.299, 0.587, 0.114)
METADATA_FIELDS = ("name", "version", "description", "author", "license")
# Inputs as pixels under `image_input` may overshoot 0-255 by this many
# levels (a resampling's ringing, an augmentation), clipped as a camera
# would; farther means a normalization the inputs were not made with. A
# bound on the extremes, not a share: what passes for a set passes for any
# part of it (the first samples, drawn for calibration after the training).
PIXEL_SLACK = 32.0


@dataclasses.dataclass(frozen=True)
class FileContract:
    """The plan `convert` follows for one file.

    Attributes:
        image_input: `None` or `"uint8_rgb"` (a uint8 RGB input, with the
            conversion to the student's channels and the normalization in
            the graph).
        softmax: Whether a softmax is folded after the (logits) head.
        output_kind: What the file's first output holds after that.
        metadata: `None` (no TFLite Model Metadata), or the dict of its
            `name`, `version`, `description`, `author`, `license` overrides.
        image: `(height, width, channels)` of an image model's input, else None.
        normalization: The checked `{"mean": ..., "std": ...}`, or None.
        labels: The checked class names, or None.
    """

    image_input: str = None
    softmax: bool = False
    output_kind: str = "unknown"
    metadata: dict = None
    image: tuple = None
    normalization: dict = None
    labels: list = None

    @property
    def input_dtype(self):
        """The file's input dtype when the contract fixes it (`"uint8"`), else None."""
        return "uint8" if self.image_input else None


def _input_shapes(model):
    return [tuple(t.shape) for t in getattr(model, "inputs", None) or []]


def _output_shapes(model):
    return [tuple(t.shape) for t in getattr(model, "outputs", None) or []]


def image_shape(model):
    """`(height, width, channels)` of a model with one rank-4 input, else None."""
    shapes = _input_shapes(model)
    if len(shapes) != 1 or len(shapes[0]) != 4:
        return None
    return tuple(shapes[0][1:])


def plan(
    model,
    mode,
    output_kind,
    labels,
    normalization,
    image_input=None,
    probabilities=False,
    metadata=None,
):
    """Checks the file's options together and returns a `FileContract`.

    Args:
        model: The Keras model to convert.
        mode: The `QuantizationMode`.
        output_kind: The model's head, `"logits"`, `"probabilities"` or
            `"unknown"`.
        labels, normalization: As checked by the sidecar's checks.
        image_input, probabilities, metadata: `convert`'s arguments.

    Returns:
        A `FileContract`.

    Raises:
        ValueError: A combination that cannot give a loadable file; the
            message names the combination that does.
    """
    image = image_shape(model)
    _check_normalization_width(model, normalization, image)
    if image_input is not None:
        _check_image_input(image_input, model, mode, normalization, image)
    softmax, kind = _probabilities(model, output_kind, probabilities)
    overrides = _metadata_overrides(metadata)
    wanted = overrides is not None or (
        metadata is None and (labels is not None or normalization is not None or image_input)
    )
    if wanted and overrides is None:
        overrides = {}
    if wanted and labels is not None and len(_output_shapes(model)) > 1:
        raise ValueError(
            f"labels name the classes of one output, but the model has "
            f"{len(_output_shapes(model))} outputs, each of which MediaPipe's "
            "ImageClassifier reads as a classification head with these labels "
            "(it then fails on the first head of another width). Convert a model "
            "with one output (e.g. keras.Model(model.inputs, model.outputs[0])), or "
            "pass metadata=False (CLI: --no-metadata): the labels then go to the "
            "sidecar only."
        )
    if wanted and image is not None:
        _check_mediapipe_image(mode, normalization, image_input, image)
    return FileContract(
        image_input=image_input,
        softmax=softmax,
        output_kind=kind,
        metadata=overrides if wanted else None,
        image=image,
        normalization=normalization,
        labels=labels,
    )


def _metadata_overrides(metadata):
    """`None` (off or automatic), or the overrides dict (`{}` for True)."""
    if metadata is None or metadata is False:
        return None
    if metadata is True:
        return {}
    if isinstance(metadata, dict):
        unknown = sorted(set(metadata) - set(METADATA_FIELDS))
        if unknown or not all(isinstance(v, str) and v for v in metadata.values()):
            raise ValueError(
                f"metadata as a dict takes non-empty strings for {METADATA_FIELDS} "
                f"(e.g. {{'version': '2'}}). Received: {metadata!r}"
            )
        return dict(metadata)
    raise ValueError(
        "metadata must be None (written when labels, normalization or image_input "
        "are given), True, False, or a dict of the model's name, version, "
        f"description, author or license. Received: {metadata!r}"
    )


def _check_normalization_width(model, normalization, image):
    """A per-channel mean or std has one value per channel of the model's input."""
    if normalization is None:
        return
    shapes = _input_shapes(model)
    channels = image[-1] if image else (shapes[0][-1] if len(shapes) == 1 else None)
    for key in ("mean", "std"):
        value = normalization[key]
        if isinstance(value, list) and len(value) != 1 and len(value) != channels:
            raise ValueError(
                f"normalization[{key!r}] has {len(value)} values but the model's "
                f"input has {channels} channels. Give one number, or one per channel."
            )


def _check_image_input(image_input, model, mode, normalization, image):
    if image_input not in IMAGE_INPUTS:
        raise ValueError(
            f"image_input must be None or one of {IMAGE_INPUTS}. Received: {image_input!r}"
        )
    if image is None:
        raise ValueError(
            "image_input='uint8_rgb' needs an image model: one input of shape "
            "(batch, height, width, channels). The model's inputs have shapes "
            f"{_input_shapes(model)}."
        )
    height, width, channels = image
    if height is None or width is None or channels not in (1, 3):
        raise ValueError(
            "image_input='uint8_rgb' needs a fixed height and width and 1 "
            f"(luminance) or 3 (RGB) channels. The model's input is {image}."
        )
    if mode.input_dtype != "float32":
        raise ValueError(
            f"quantization={mode.name!r} makes the input {mode.input_dtype}, but "
            "image_input='uint8_rgb' makes it a uint8 image. Use quantization='int8' "
            "with image_input='uint8_rgb': a uint8 camera frame in, int8 inside."
        )
    if not mode.uint8_image_input:
        raise ValueError(
            f"quantization={mode.name!r} cannot take image_input='uint8_rgb': the "
            "converter has no such kernel for the uint8 input's CAST op. Use "
            "quantization='int8' (or 'float32', 'dynamic', 'float16') with "
            "image_input='uint8_rgb'."
        )
    if normalization is None:
        raise ValueError(
            "image_input='uint8_rgb' folds the normalization into the file, so it "
            "needs normalization={'mean': m, 'std': s}: the model is fed "
            "(pixel - m) / s, e.g. {'mean': 0, 'std': 255} for a model trained on "
            "pixels / 255, or {'mean': 0, 'std': 1} for raw 0-255 values."
        )


def _probabilities(model, output_kind, probabilities):
    """`(fold a softmax?, the file's output kind)`."""
    if probabilities not in (True, False):
        raise ValueError(f"probabilities must be True or False. Received: {probabilities!r}")
    if not probabilities:
        return False, output_kind
    shapes = _output_shapes(model)
    if len(shapes) != 1:
        raise ValueError(
            "probabilities=True folds a softmax after the model's one head, but "
            f"the model has {len(shapes)} outputs. Convert a model with one "
            "classification output, or pass probabilities=False."
        )
    if output_kind == outputs_lib.PROBABILITIES:
        return False, output_kind  # a softmax (or sigmoid) head stays as it is
    if output_kind != outputs_lib.LOGITS:
        raise ValueError(
            "probabilities=True needs to know the head; it could not be detected. "
            "Pass output_kind='logits' (a softmax is folded) or 'probabilities'."
        )
    if len(shapes[0]) != 2 or shapes[0][-1] is None or shapes[0][-1] < 2:
        raise ValueError(
            "probabilities=True folds a softmax over classes: the output must be "
            f"(batch, classes) with 2 classes or more. The model's output is {shapes[0]}."
        )
    return True, outputs_lib.PROBABILITIES


def _check_mediapipe_image(mode, normalization, image_input, image):
    """Refuses an image file with metadata that MediaPipe would reject."""
    fix_metadata = "or metadata=False for a file without metadata (the sidecar stays)"
    if mode.input_dtype not in ("float32", "uint8"):
        raise ValueError(
            f"quantization={mode.name!r} gives the file an {mode.input_dtype} input, "
            "which MediaPipe's ImageClassifier refuses (it takes uint8 or float32). "
            "Use quantization='int8' with image_input='uint8_rgb' (a uint8 camera "
            f"frame in, int8 inside, float scores out), {fix_metadata}."
        )
    height, width, channels = image
    if height is None or width is None:
        raise ValueError(
            f"The model's input is {image}, with an open height or width: MediaPipe's "
            "ImageClassifier resizes each frame to the file's input size, which for "
            "an open size is 1x1, so it would classify a single pixel. Build the "
            "student with a fixed size (keras.Input((224, 224, 3)) or the size it "
            f"was trained at), {fix_metadata}."
        )
    if channels not in (1, 3):
        raise ValueError(
            f"The model takes {channels}-channel images, but MediaPipe's "
            "ImageClassifier feeds RGB (1, height, width, 3), and "
            "image_input='uint8_rgb' converts RGB to 3 (RGB) or 1 (luminance) "
            "channels only. Convert a student with 3 or 1 input channels, "
            f"{fix_metadata}."
        )
    if image_input is None and channels != 3:
        raise ValueError(
            f"The model takes {image[-1]}-channel images, but MediaPipe's "
            "ImageClassifier feeds RGB (1, height, width, 3). Pass "
            "image_input='uint8_rgb' (CLI: --image-input uint8_rgb): the file then "
            "takes a uint8 RGB frame and converts it to the model's channels, "
            f"{fix_metadata}."
        )
    per_channel = [
        key
        for key in ("mean", "std")
        if normalization is not None
        and isinstance(normalization[key], list)
        and len(set(normalization[key])) > 1
    ]
    if image_input is None and per_channel:
        raise ValueError(
            f"normalization[{per_channel[0]!r}] differs per channel "
            f"({normalization[per_channel[0]]}), which MediaPipe's ImageClassifier "
            "cannot apply to a float input ('Per-channel image normalization is not "
            "available'). Pass image_input='uint8_rgb' (CLI: --image-input "
            "uint8_rgb): the file then takes uint8 RGB pixels and applies the "
            f"per-channel normalization itself, {fix_metadata}."
        )
    if image_input is None and normalization is None:
        raise ValueError(
            "A float image input needs normalization={'mean': m, 'std': s} in its "
            "metadata: MediaPipe feeds the model (pixel - m) / s. Pass it, or "
            f"image_input='uint8_rgb' with it, {fix_metadata}."
        )


def pixels_from_inputs(samples, contract):
    """Calibration samples as the file takes them under `image_input`
    (`image_pixels` of the first input, refused by `check_pixel_range` when
    they are no pixels under the normalization), or `samples` as they are."""
    if contract.image_input is None or samples is None:
        return samples
    check_pixel_range(samples[0], contract.normalization, "representative_data")
    return [image_pixels(samples[0], contract.normalization)]


def image_pixels(x: np.ndarray, normalization: "dict[str, float | list[float]]") -> np.ndarray:
    """A model's image inputs as a file converted with
    `image_input="uint8_rgb"` takes them: uint8 RGB pixels.

    The inputs are normalized, in the student's channels; the pixels are
    `x * std + mean`, rounded into 0-255, and a 1-channel input is repeated
    to R = G = B (its BT.601 luminance is itself, the weights summing to 1).

    Args:
        x: The model's inputs, `(samples, height, width, 1 or 3)`.
        normalization: `{"mean": m, "std": s}` the file was converted with
            (numbers, or one per channel).

    Returns:
        A uint8 array `(samples, height, width, 3)`.

    Example:

    >>> import numpy as np
    >>> x = np.array([[[[0.0], [0.5]]]], "float32")  # one 1x2 gray image
    >>> image_pixels(x, {"mean": 0.0, "std": 255.0})[0, 0].tolist()
    [[0, 0, 0], [128, 128, 128]]
    """
    mean = np.asarray(normalization["mean"], "float32")
    std = np.asarray(normalization["std"], "float32")
    pixels = np.clip(np.round(np.asarray(x, "float32") * std + mean), 0, 255).astype("uint8")
    if pixels.shape[-1] == 1:
        pixels = np.repeat(pixels, 3, axis=-1)
    return pixels


def check_pixel_range(x, normalization, what="x"):
    """Refuses inputs a uint8 RGB file cannot take: under `image_input` the
    file feeds the model `(pixel - mean) / std` for pixels 0-255, so values
    of `x * std + mean` more than `PIXEL_SLACK` levels outside 0-255 mean a
    `normalization` other than the one the inputs were made with; the file
    would be calibrated and measured on clipped images, not on `x`."""
    mean = np.asarray(normalization["mean"], "float32")
    std = np.asarray(normalization["std"], "float32")
    x = np.asarray(x, "float32")
    if x.size == 0:
        return
    pixels = x * std + mean
    if pixels.min() >= -PIXEL_SLACK and pixels.max() <= 255 + PIXEL_SLACK:
        return
    share = float(np.mean((pixels < -0.5) | (pixels > 255.5)))
    low, high = (np.round((bound - mean) / std, 4).tolist() for bound in (0.0, 255.0))
    raise ValueError(
        f"{what} does not fit normalization={normalization} with "
        "image_input='uint8_rgb': the file takes pixels 0-255 and feeds the model "
        f"(pixel - mean) / std, which lies in [{low}, {high}], but {share:.0%} of "
        f"the values of {what} lie outside (from {float(x.min()):.4g} to "
        f"{float(x.max()):.4g}, pixels {float(pixels.min()):.0f} to "
        f"{float(pixels.max()):.0f}); the file would be calibrated and measured on "
        "clipped images. Give the normalization the inputs were made with, "
        "x = (pixel - mean) / std: e.g. (0, 255) for x in [0, 1], (127.5, 127.5) "
        "for [-1, 1], (0, 1) for raw 0-255 values (CLI: --normalization MEAN STD)."
    )

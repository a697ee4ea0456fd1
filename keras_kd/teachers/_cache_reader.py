"""Reading a `TeacherCache` back: one reader that checks every file it opens.

Private to `keras_kd.teachers`. A manifest (or plan) that is not JSON, not
an object, lacks a key, holds a value of the wrong type or a format this
version does not read, and a shard that is missing, truncated, not a
`.npy` file, of the wrong dtype, width or number of rows, is refused with a
`ValueError` (a `FileNotFoundError` for a missing file) that names the file
and says how to recover. Nothing else in the package opens these files.
"""

import math
import os

import numpy as np

from keras_kd import files
from keras_kd.checks import is_integer

MANIFEST = "manifest.json"
PLAN = "plan.json"
DTYPES = ("float16", "float32")
# Format 1 stored every target as logits (a one-unit head as `[0, z]`);
# format 2 records what its targets are (`TARGETS`).
FORMATS = (1, 2)
FORMAT = 2
# What a dense cache's values are, read as the live teacher's outputs:
# "values": the teacher's raw outputs (logits, or a linear head's values);
# "log_probabilities": the log of a softmax head's probabilities;
# "sigmoid_logits": the logit of a one-unit sigmoid head.
# A top-k cache holds "top_k" log-probabilities and the log of the rest.
TARGETS = ("values", "log_probabilities", "sigmoid_logits", "top_k")
OUTPUT_KINDS = ("logits", "probabilities")

_RECOVER = "Delete {directory} and write the cache again with TeacherCache.write."


def _number(low):
    return lambda v: is_integer(v) and v >= low


_REQUIRED = {
    "format": (lambda v: v in FORMATS, f"one of the formats {FORMATS}"),
    "teacher_fingerprint": (lambda v: isinstance(v, str), "a string"),
    "data_fingerprint": (lambda v: isinstance(v, str), "a string"),
    "samples": (_number(1), "an integer >= 1"),
    "top_k": (lambda v: v is None or _number(1)(v), "null or an integer >= 1"),
    "dtype": (lambda v: v in DTYPES, f"one of {DTYPES}"),
    "shard_size": (_number(1), "an integer >= 1"),
    "teacher_kind": (lambda v: v in OUTPUT_KINDS, f"one of {OUTPUT_KINDS}"),
    "teacher_name": (lambda v: isinstance(v, str), "a string"),
    "teacher_output_shape": (
        lambda v: isinstance(v, list) and len(v) >= 1 and all(_number(1)(d) for d in v),
        "a non-empty list of integers >= 1",
    ),
}


def read_settings(path, directory):
    """The checked content of a cache's `manifest.json` or `plan.json`.

    Args:
        path: The file.
        directory: The cache's folder, for the messages.

    Returns:
        The settings, a dict; format-1 files gain their `"targets"`.

    Raises:
        FileNotFoundError: The file is missing (the message says whether a
            write is unfinished).
        ValueError: The file is damaged, naming it and what is wrong.
    """
    if not os.path.isfile(path):
        hint = (
            "Its write did not finish: run TeacherCache.write again to complete it."
            if os.path.isfile(os.path.join(directory, PLAN))
            else "Write one with keras_kd.TeacherCache.write(teacher, x, directory)."
        )
        if os.path.exists(directory) and not os.path.isdir(directory):
            hint = "It is a file, not a folder: give the folder a cache was written to."
        raise FileNotFoundError(f"No finished TeacherCache in {directory} (no {MANIFEST}). {hint}")
    recover = _RECOVER.format(directory=directory)
    settings = files.read_json(path, "The TeacherCache file", recover)
    if not isinstance(settings, dict):
        raise ValueError(
            f"The TeacherCache file {path} must hold a JSON object of settings, "
            f"but holds a {type(settings).__name__}. {recover}"
        )
    missing = [key for key in _REQUIRED if key not in settings]
    if missing:
        raise ValueError(f"The TeacherCache file {path} lacks the keys {missing}. {recover}")
    for key, (valid, expected) in _REQUIRED.items():
        if not valid(settings[key]):
            raise ValueError(
                f"The TeacherCache file {path} has {key}={settings[key]!r}, but "
                f"{key} must be {expected}"
                + (" (written by a newer keras-kd?)" if key == "format" else "")
                + f". {recover}"
            )
    if settings["format"] == 1:
        settings["targets"] = _format_1_targets(settings)
    elif settings.get("targets") not in TARGETS:
        raise ValueError(
            f"The TeacherCache file {path} has targets={settings.get('targets')!r}, "
            f"but targets must be one of {TARGETS}. {recover}"
        )
    if (settings["targets"] == "top_k") != (settings["top_k"] is not None):
        raise ValueError(
            f"The TeacherCache file {path} has targets={settings['targets']!r} "
            f"but top_k={settings['top_k']!r}: they disagree. {recover}"
        )
    return settings


def _format_1_targets(settings):
    if settings["top_k"] is not None:
        return "top_k"
    if settings["teacher_kind"] == "probabilities":
        one_unit = settings["teacher_output_shape"][-1] == 1
        return "sigmoid_logits" if one_unit else "log_probabilities"
    return "values"


def shard_count(settings):
    """How many shards the cache has."""
    return math.ceil(settings["samples"] / settings["shard_size"])


def shard_path(directory, shard, name):
    """The path of one array (`"values"`, `"rest"`, `"indices"`) of a shard."""
    return os.path.join(directory, f"shard_{shard:05d}_{name}.npy")


def shard_names(settings):
    """The arrays of each shard, the indices last (a shard is complete once
    its last array is written)."""
    return ("values", "rest", "indices") if settings["top_k"] else ("values",)


def expected_shard_shape(settings, shard, name):
    """`(rows, *per_sample)` of one stored array."""
    start = shard * settings["shard_size"]
    rows = min(settings["shard_size"], settings["samples"] - start)
    outputs = tuple(settings["teacher_output_shape"])
    if name == "values" and settings["top_k"] is None:
        per_sample = outputs
        if settings["format"] == 1:  # a one-unit head stored as [0, z]
            per_sample = outputs[:-1] + (max(outputs[-1], 2),)
    elif name == "rest":
        per_sample = outputs[:-1] + (1,)
    else:
        per_sample = outputs[:-1] + (settings["top_k"],)
    return (rows,) + per_sample


def read_shard(directory, settings, shard, name):
    """One stored array, memory-mapped, after checking it is whole.

    Args:
        directory: The cache's folder.
        settings: Its checked manifest (`read_settings`).
        shard: The shard's number.
        name: `"values"`, `"rest"` or `"indices"`.

    Returns:
        A read-only `np.memmap`.

    Raises:
        FileNotFoundError, ValueError: naming the file and the fix.
    """
    path = shard_path(directory, shard, name)
    recover = _RECOVER.format(directory=directory)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"The TeacherCache shard {path} is missing. {recover}")
    try:
        array = np.load(path, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError, EOFError) as error:
        raise ValueError(
            f"The TeacherCache shard {path} is damaged: it is not a whole .npy "
            f"array ({error}). {recover}"
        ) from None
    expected = expected_shard_shape(settings, shard, name)
    dtypes = ("uint16", "int32") if name == "indices" else (settings["dtype"],)
    if tuple(array.shape) != expected or str(array.dtype) not in dtypes:
        raise ValueError(
            f"The TeacherCache shard {path} holds an array of shape "
            f"{tuple(array.shape)} and dtype {array.dtype}, but the manifest "
            f"expects shape {expected} and dtype {' or '.join(dtypes)}. {recover}"
        )
    return array

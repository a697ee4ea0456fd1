"""The files of a `TeacherCache`: fingerprints, shards, the plan and the manifest.

Private to `keras_kd.teachers.cache`. Every file is written whole through a
temporary name and a rename; `manifest.json` is written last.
"""

import hashlib
import io
import json
import os
import shutil

import numpy as np
from keras import ops

from keras_kd.checks import is_integer
from keras_kd.files import atomic_write
from keras_kd.outputs import as_logits
from keras_kd.teachers import _cache_reader as reader
from keras_kd.teachers._cache_lock import LOCK
from keras_kd.teachers._cache_reader import DTYPES
from keras_kd.teachers._cache_reader import FORMAT  # noqa: F401
from keras_kd.teachers._cache_reader import MANIFEST
from keras_kd.teachers._cache_reader import PLAN
from keras_kd.teachers._cache_reader import shard_path

# PLAN is written first: what an unfinished write is writing, so a resumed
# write can check it continues the same teacher, data and settings.
# Inputs up to this size are hashed whole; larger ones by 4096 sampled rows.
_HASH_WHOLE_BYTES = 64 * 2**20
_SAMPLED_ROWS = 4096
# log of the remaining mass when the top k hold it all (float16 holds it).
_LOG_NO_REST = -69.0
_FLOAT16_MAX = float(np.finfo("float16").max)
# Settings a resumed write must share with the unfinished one.
_PLAN_KEYS = (
    "format",
    "teacher_fingerprint",
    "data_fingerprint",
    "samples",
    "top_k",
    "dtype",
    "shard_size",
    "targets",
    # How the outputs were read (teacher_outputs): a top-k cache stores the
    # same "targets" either way, from other numbers.
    "teacher_kind",
    "views",  # the augmentation's layers, views, seed and backend, or None
)


# -- Fingerprints --------------------------------------------------------------------


def teacher_fingerprint(model):
    """Hex hash of a model's weights: shapes, dtypes and values in order.

    Example:

    >>> len(teacher_fingerprint(teacher))
    16
    """
    digest = hashlib.sha256()
    for weight in model.weights:
        value = np.ascontiguousarray(ops.convert_to_numpy(weight))
        digest.update(f"{value.shape}{value.dtype}".encode())
        digest.update(value.tobytes())
    return digest.hexdigest()[:16]


def data_fingerprint(x):
    """Hex hash of an input array: shape, dtype and its rows.

    Arrays up to 64 MiB are hashed whole; larger ones by 4096 evenly spaced
    rows, so that a dataset larger than memory is not read through.

    Example:

    >>> import numpy as np
    >>> data_fingerprint(np.zeros((4, 2))) == data_fingerprint(np.ones((4, 2)))
    False
    """
    digest = hashlib.sha256(f"{x.shape}{x.dtype}".encode())
    if x.nbytes <= _HASH_WHOLE_BYTES:
        rows = slice(None)
    else:
        rows = np.unique(np.linspace(0, len(x) - 1, _SAMPLED_ROWS).astype("int64"))
    digest.update(np.ascontiguousarray(x[rows]).tobytes())
    return digest.hexdigest()[:16]


def check_settings(top_k, dtype, batch_size, shard_size):
    """Returns `(top_k, batch_size, shard_size)` as ints after checking them.

    NumPy integers are accepted, booleans refused.
    """
    if not isinstance(dtype, str) or dtype not in DTYPES:
        raise ValueError(f"`dtype` must be one of {DTYPES}. Received: dtype={dtype!r}")
    if top_k is not None and not (is_integer(top_k) and top_k >= 1):
        raise ValueError(
            f"`top_k` must be None (store every class) or an int >= 1. Received: top_k={top_k!r}"
        )
    for name, value in (("batch_size", batch_size), ("shard_size", shard_size)):
        if not (is_integer(value) and value >= 1):
            raise ValueError(f"`{name}` must be an int >= 1. Received: {name}={value!r}")
    return (None if top_k is None else int(top_k)), int(batch_size), int(shard_size)


def targets_of(kind, output_shape, top_k):
    """What a cache of these settings stores (see `_cache_reader.TARGETS`).

    Raises before anything is written for a `top_k` beyond the classes.
    """
    classes = output_shape[-1]
    if top_k is not None:
        if top_k > max(classes, 2):
            raise ValueError(
                f"`top_k` must be at most the number of classes, {max(classes, 2)}. "
                f"Received: top_k={top_k}. Give a smaller top_k, or top_k=None "
                "to store every class."
            )
        return "top_k"
    if kind == "probabilities":
        return "sigmoid_logits" if classes == 1 else "log_probabilities"
    return "values"


# -- Files -------------------------------------------------------------------------------


def start(directory, plan):
    """Prepares `directory` for `plan`; False if it already holds that cache."""
    for name, state in ((MANIFEST, "a finished"), (PLAN, "an unfinished")):
        path = os.path.join(directory, name)
        if os.path.exists(path):
            existing = reader.read_settings(path, directory)
            differing = [k for k in _PLAN_KEYS if existing.get(k) != plan[k]]
            if differing:
                raise ValueError(
                    f"{directory} holds {state} TeacherCache of another teacher, "
                    "data or settings: "
                    + ", ".join(
                        f"{k} {_describe(k, existing.get(k))} there, {_describe(k, plan[k])} now"
                        for k in differing
                    )
                    + ". Write to a new directory, or delete this one to replace it."
                )
            if name == PLAN:  # Resuming: drop what a killed write left half-done.
                for leftover in os.listdir(directory):
                    if ".partial" in leftover:  # the atomic writer's temporary files
                        os.remove(os.path.join(directory, leftover))
            return name == PLAN
    os.makedirs(directory, exist_ok=True)
    if [name for name in os.listdir(directory) if name != LOCK]:
        raise ValueError(
            f"{directory} is not empty and holds no TeacherCache. Give an empty or new directory."
        )
    atomic_save(os.path.join(directory, PLAN), json.dumps(plan, indent=1))
    return True


def _describe(key, value):
    """A setting as a refusal names it: the views in one line (their layers'
    full configs would fill the screen), anything else as it is."""
    if key != "views" or not isinstance(value, dict):
        return repr(value)
    layers = value.get("layers", [])
    names = ", ".join(str(layer.get("class_name")) for layer in layers if isinstance(layer, dict))
    settings = hashlib.sha256(json.dumps(layers, sort_keys=True).encode()).hexdigest()[:8]
    return (
        f"{{{value.get('views')} views of [{names}] (layer settings {settings}), "
        f"seed {value.get('seed')}, {value.get('backend')} backend}}"
    )


def check_space(directory, plan):
    """Raises, before anything is written, when the shards still to write
    need more bytes than the disk under `directory` has free (e.g. a typo
    in `views`, which multiplies the stored rows)."""
    needed = 0
    for name in reader.shard_names(plan):
        shape = reader.expected_shard_shape(plan, 0, name)[1:]
        itemsize = 2 if name == "indices" else np.dtype(plan["dtype"]).itemsize
        needed += plan["samples"] * int(np.prod(shape)) * itemsize
    existing = directory
    while not os.path.exists(existing):
        existing = os.path.dirname(existing)
    if os.path.isdir(directory):  # A resumed write: what is written stays.
        needed -= sum(
            os.path.getsize(os.path.join(directory, name))
            for name in os.listdir(directory)
            if name.startswith("shard_") and name.endswith(".npy")
        )
    free = shutil.disk_usage(existing).free
    if needed > free:
        views = (plan.get("views") or {}).get("views")
        raise ValueError(
            f"TeacherCache.write would store {plan['samples']:,} rows"
            + (f" ({views:,} views of each sample)" if views else "")
            + f", about {needed / 2**30:,.1f} GiB, but the disk under {existing} has "
            f"{free / 2**30:,.1f} GiB free. Write fewer views, a top_k below the classes or "
            "dtype='float16', or to a larger disk."
        )


def count_shards(plan):
    return reader.shard_count(plan)


def write_shard(directory, plan, shard, model, kind, x, batch_size):
    """Computes and writes shard `shard`, unless a complete one is there."""
    names = reader.shard_names(plan)
    if all(os.path.exists(shard_path(directory, shard, n)) for n in names):
        return
    start = shard * plan["shard_size"]
    stop = min(start + plan["shard_size"], plan["samples"])
    outputs = np.concatenate(
        [
            teacher_outputs(model, x[i : min(i + batch_size, stop)])
            for i in range(start, stop, batch_size)
        ]
    )
    _check_finite(outputs, start)
    arrays = {"values": stored_targets(outputs, kind, plan["targets"])}
    if plan["top_k"]:
        logits = ops.convert_to_numpy(as_logits(outputs, kind))
        arrays = top_k_of(logits, plan["top_k"])
    if plan["dtype"] == "float16" and np.abs(arrays["values"]).max() > _FLOAT16_MAX:
        raise ValueError(
            f"The teacher's outputs reach {np.abs(arrays['values']).max():.4g}, beyond "
            f"float16's largest value {_FLOAT16_MAX:.0f}. Write the cache with dtype='float32'."
        )
    for name in ("values", "rest") if plan["top_k"] else ("values",):
        arrays[name] = arrays[name].astype(plan["dtype"])
    # The indices last: a shard counts as written once all its files are.
    for name in names:
        atomic_save(shard_path(directory, shard, name), arrays[name])


def teacher_outputs(model, batch):
    """The teacher's raw outputs on `batch`, float32 NumPy."""
    return np.asarray(ops.convert_to_numpy(model.predict_on_batch(batch)), "float32")


def _check_finite(outputs, first_sample):
    bad = ~np.isfinite(outputs).reshape(len(outputs), -1).all(axis=-1)
    if bad.any():
        samples = (np.flatnonzero(bad) + first_sample).tolist()
        raise ValueError(
            f"The teacher's outputs hold NaN or infinite values for {len(samples)} "
            f"samples (first: {samples[:5]}); a cache of them would train NaN "
            "weights. Check the teacher and those inputs (a NaN or an infinity "
            "in x, an overflowing layer), then write the cache again."
        )


def stored_targets(outputs, kind, targets):
    """A dense cache's stored array: the outputs as `targets` records them."""
    if targets == "values":
        return outputs
    # A softmax head's log-probabilities, a sigmoid head's logit: as_logits
    # reads them as a live teacher's probabilities are read.
    logits = ops.convert_to_numpy(as_logits(outputs, kind))
    return logits[..., 1:] if targets == "sigmoid_logits" else logits


def top_k_of(logits, k):
    """The `k` largest log-probabilities of each row, largest first, their
    classes, and the log of the mass of the other classes (no cancellation)."""
    if k > logits.shape[-1]:
        raise ValueError(
            f"`top_k` must be at most the number of classes, {logits.shape[-1]}. "
            f"Received: top_k={k}"
        )
    shifted = logits - logits.max(axis=-1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
    order = np.argsort(-log_p, axis=-1, kind="stable")[..., :k]
    index_dtype = "uint16" if logits.shape[-1] <= 2**16 else "int32"
    others = log_p.copy()
    np.put_along_axis(others, order, -np.inf, -1)
    top = others.max(axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        rest = top + np.log(np.exp(others - top).sum(axis=-1, keepdims=True))
    return {
        "values": np.take_along_axis(log_p, order, -1),
        "indices": order.astype(index_dtype),
        "rest": np.where(np.isfinite(rest), np.maximum(rest, _LOG_NO_REST), _LOG_NO_REST),
    }


def atomic_save(path, content):
    """Writes an array (as `.npy`) or text to `path` through the package's atomic writer."""
    if not isinstance(content, str):
        buffer = io.BytesIO()
        np.save(buffer, content, allow_pickle=False)
        content = buffer.getvalue()
    atomic_write(path, content)


def read_json(path, directory):
    """The checked settings of a cache file (see `_cache_reader`)."""
    return reader.read_settings(path, directory)

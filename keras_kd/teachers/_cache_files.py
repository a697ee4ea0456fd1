"""The files of a `TeacherCache`: fingerprints, shards, the plan and the manifest.

Private to `keras_kd.teachers.cache`. Every file is written whole through a
temporary name and a rename; `manifest.json` is written last.
"""

import hashlib
import io
import json
import os

import numpy as np
from keras import ops

from keras_kd.files import atomic_write
from keras_kd.outputs import as_logits

FORMAT = 1
MANIFEST = "manifest.json"
# Written first: what an unfinished write is writing, so a resumed write can
# check it continues the same teacher, data and settings.
PLAN = "plan.json"
DTYPES = ("float16", "float32")
# Inputs up to this size are hashed whole; larger ones by 4096 sampled rows.
_HASH_WHOLE_BYTES = 64 * 2**20
_SAMPLED_ROWS = 4096
# log of the remaining mass when the top k hold it all (float16 holds it).
_LOG_NO_REST = -69.0
_FLOAT16_MAX = float(np.finfo("float16").max)
# Settings a resumed write must share with the unfinished one.
_PLAN_KEYS = (
    "teacher_fingerprint", "data_fingerprint", "samples", "top_k", "dtype", "shard_size",
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
    if dtype not in DTYPES:
        raise ValueError(f"`dtype` must be one of {DTYPES}. Received: dtype={dtype!r}")
    if top_k is not None and (not isinstance(top_k, int) or isinstance(top_k, bool) or top_k < 1):
        raise ValueError(
            f"`top_k` must be None (store every class) or an int >= 1. Received: top_k={top_k!r}"
        )
    for name, value in (("batch_size", batch_size), ("shard_size", shard_size)):
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"`{name}` must be an int >= 1. Received: {name}={value!r}")


# -- Files -------------------------------------------------------------------------------


def start(directory, plan):
    """Prepares `directory` for `plan`; False if it already holds that cache."""
    for name, state in ((MANIFEST, "a finished"), (PLAN, "an unfinished")):
        path = os.path.join(directory, name)
        if os.path.exists(path):
            existing = read_json(path, directory)
            differing = [k for k in _PLAN_KEYS if existing.get(k) != plan[k]]
            if differing:
                raise ValueError(
                    f"{directory} holds {state} TeacherCache of another teacher, "
                    "data or settings: "
                    + ", ".join(
                        f"{k} {existing.get(k)!r} there, {plan[k]!r} now" for k in differing
                    )
                    + ". Write to a new directory, or delete this one to replace it."
                )
            if name == PLAN:  # Resuming: drop what a killed write left half-done.
                for leftover in os.listdir(directory):
                    if ".partial" in leftover:  # the atomic writer's temporary files
                        os.remove(os.path.join(directory, leftover))
            return name == PLAN
    os.makedirs(directory, exist_ok=True)
    if os.listdir(directory):
        raise ValueError(
            f"{directory} is not empty and holds no TeacherCache. Give an empty or new directory."
        )
    atomic_save(os.path.join(directory, PLAN), json.dumps(plan, indent=1))
    return True


def count_shards(plan):
    return -(-plan["samples"] // plan["shard_size"])


def shard_path(directory, shard, name):
    return os.path.join(directory, f"shard_{shard:05d}_{name}.npy")


def write_shard(directory, plan, shard, model, kind, x, batch_size):
    """Computes and writes shard `shard`, unless a complete one is there."""
    names = ("values", "rest", "indices") if plan["top_k"] else ("values",)
    if all(os.path.exists(shard_path(directory, shard, n)) for n in names):
        return
    start = shard * plan["shard_size"]
    stop = min(start + plan["shard_size"], plan["samples"])
    logits = np.concatenate(
        [
            teacher_logits(model, kind, x[i : min(i + batch_size, stop)])
            for i in range(start, stop, batch_size)
        ]
    )
    arrays = {"values": logits}
    if plan["top_k"]:
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


def teacher_logits(model, kind, batch):
    """The teacher's outputs on `batch` as float32 logits, as a live teacher's are read."""
    return ops.convert_to_numpy(as_logits(model.predict_on_batch(batch), kind))


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
    if not os.path.isfile(path):
        hint = (
            "Its write did not finish: run TeacherCache.write again to complete it."
            if os.path.isfile(os.path.join(directory, PLAN))
            else "Write one with keras_kd.TeacherCache.write(teacher, x, directory)."
        )
        raise FileNotFoundError(f"No finished TeacherCache in {directory} (no {MANIFEST}). {hint}")
    with open(path, encoding="utf-8") as f:
        return json.load(f)

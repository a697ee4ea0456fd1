"""`TeacherCache`: a teacher's targets computed once, read from disk in training.

The cache is a folder of `.npy` shards (memory-mapped when read, so a
dataset larger than memory streams from disk) and a `manifest.json` written
last. Each shard is written whole through a temporary file and a rename, so
a write that is killed leaves complete shards only, and `write` run again
computes just the missing ones. Fingerprints of the teacher's weights and of
the inputs bind the cache to both: other data, or a teacher whose weights
changed, is refused with both fingerprints named. See docs/teacher_cache.md.
"""

import json
import os

import keras
import numpy as np
from keras import ops

from keras_kd import outputs as outputs_lib
from keras_kd import validation
from keras_kd import views as views_lib
from keras_kd.losses.base import ModelOutputs
from keras_kd.teachers import _cache_files as files
from keras_kd.teachers._cache_files import data_fingerprint
from keras_kd.teachers._cache_files import teacher_fingerprint
from keras_kd.teachers.base import Teacher
from keras_kd.teachers.base import resolve_output_kind

TARGETS_KEY = "teacher_targets"


@keras.saving.register_keras_serializable(package="keras_kd")
class TeacherCache(Teacher):
    """A teacher's outputs stored on disk: distillation without the teacher.

    `TeacherCache.write` runs the teacher once over the training inputs and
    stores its outputs as logits (a softmax head's probabilities as their
    logarithms, exactly as a live teacher's are read), densely or as the
    `top_k` largest log-probabilities per sample with their class indices.
    In training the targets come with the batch: `cache.dataset(x, y)`
    yields `({"x": inputs, "teacher_targets": targets}, labels)`, and the
    cache hands the `Distiller` the inputs for the student and the targets
    for the losses. With a dense float32 cache the student trains exactly as
    with the live teacher.

    Top-k: the stored top-k probabilities are kept as they are and the
    remaining mass `1 - sum(top-k)` is spread evenly over the other classes
    (a uniform "rest"), giving a full distribution the losses read as the
    teacher's; a temperature softens that distribution. Losses that read the
    raw output values (`"mse"`, `"huber"`, `RKD` on outputs) need a dense
    cache; losses that read intermediate layers (`FitNetHint`,
    `AttentionTransfer`, `RKD` on layers) need a live teacher.

    Augmented views (Beyer et al., 2022; TinyViT): `write(...,
    augmentation=layers, views=E, seed=s)` stores the teacher's targets for
    `E` augmented views of every sample, drawn replayably by
    `keras_kd.views.Views` (view `v` of sample `i` depends on `(s, v, i)`
    only; MixUp and CutMix partners too). `cache.dataset(x, y)` then shows
    the student, in epoch `e`, every sample re-augmented exactly as view
    `e mod E`, with the targets the teacher gave that very input: the
    teacher runs once for `E` views, and the student trains as on
    `keras_kd.views.ViewBatches` with the live teacher. Without
    `augmentation` the cache pairs each target with the clean input, and
    in-step augmentation (`Distiller(augmentation=...)`) needs a live teacher.

    Args:
        directory: A folder written by `TeacherCache.write`.
        teacher: Optional `keras.Model`: raises unless the cache was
            written by a model with the same weights.
        **kwargs: Passed to `keras.layers.Layer`.

    Example:

    >>> cache = keras_kd.TeacherCache.write(teacher, x_train, "cache_dir")
    >>> cache = keras_kd.TeacherCache("cache_dir")
    >>> distiller = keras_kd.Distiller(teacher=cache, student=student, alpha=0.1)
    >>> distiller.compile(
    ...     optimizer="adam",
    ...     loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    >>> history = distiller.fit(cache.dataset(x_train, y_train, batch_size=16), epochs=1, verbose=0)
    """

    def __init__(self, directory, teacher=None, **kwargs):
        super().__init__(**kwargs)
        self.directory = os.path.abspath(os.fspath(directory))
        self.manifest = files.read_json(
            os.path.join(self.directory, files.MANIFEST), self.directory
        )
        self._shards = {}
        self.kinds = ["logits"]
        if teacher is not None:
            self.check_teacher(teacher)

    # -- Writing ---------------------------------------------------------------

    @classmethod
    def write(
        cls, teacher, x, directory, top_k=None, dtype="float16", batch_size=256,
        shard_size=8192, teacher_outputs="auto", augmentation=None, views=1, seed=0,
    ):  # fmt: skip
        """Runs `teacher` over `x` and stores its outputs in `directory`.

        Resumable: if `directory` holds an unfinished write of the same
        teacher, data and settings, only the missing shards are computed.
        If it holds a finished one, it is opened without recomputing.

        Args:
            teacher: A built `keras.Model` (one model; an ensemble's soft
                targets depend on the temperature, so it is not cached).
            x: NumPy array of the inputs (a `np.memmap` streams).
            directory: Folder to write; created if missing.
            top_k: `None` to store every class, or an int `k`: the `k`
                largest log-probabilities and their class indices.
            dtype: `"float16"` (half the bytes) or `"float32"`.
            batch_size: Samples per teacher call.
            shard_size: Samples per shard file.
            teacher_outputs: `"auto"`, `"logits"` or `"probabilities"`:
                what the teacher outputs, as in `Distiller`.
            augmentation: `None` (the clean inputs), or Keras augmentation
                layers (`RandomFlip`, `RandomTranslation`, `RandomZoom`,
                `RandomRotation`, `MixUp`, `CutMix`): the targets are stored
                for `views` replayable views of every sample.
            views: Views per sample (with `augmentation`); epoch `e` of
                `dataset` shows view `e mod views`.
            seed: Int that draws the views (with `augmentation`).

        Returns:
            The `TeacherCache`.

        Example:

        >>> cache = keras_kd.TeacherCache.write(teacher, x_train, "top5_cache",
        ...                                     top_k=5, dtype="float16")
        >>> cache.top_k, len(cache)
        (5, 32)
        """
        model = _check_teacher_model(teacher)
        x = _check_inputs(x, "TeacherCache.write")
        files.check_settings(top_k, dtype, batch_size, shard_size)
        replay = _check_views(augmentation, views, seed)
        kind = resolve_output_kind(model, teacher_outputs, "teacher")
        outputs_lib.check_not_multi_label(model, "TeacherCache.write stores soft-maxed targets")
        plan = {
            "format": files.FORMAT,
            "teacher_fingerprint": teacher_fingerprint(model),
            "data_fingerprint": data_fingerprint(x),
            "samples": len(x) * (replay.views if replay else 1),
            "top_k": top_k, "dtype": dtype, "shard_size": shard_size,
            "teacher_kind": kind, "teacher_name": model.name,
            "teacher_output_shape": list(model.predict_on_batch(x[:1]).shape[1:]),
            "views": replay.config() if replay else None,
        }  # fmt: skip
        inputs = _ViewInputs(x, replay) if replay else x
        directory = os.path.abspath(os.fspath(directory))
        if files.start(directory, plan):
            for shard in range(files.count_shards(plan)):
                files.write_shard(directory, plan, shard, model, kind, inputs, batch_size)
            files.atomic_save(os.path.join(directory, files.MANIFEST), json.dumps(plan, indent=1))
            os.remove(os.path.join(directory, files.PLAN))
        return cls(directory)

    # -- What is stored ----------------------------------------------------------

    def __len__(self):
        """Number of input samples (each stored once per view)."""
        return self.manifest["samples"] // self.view_count

    @property
    def view_count(self):
        """Views stored per sample: 1 without augmentation."""
        views = self.manifest.get("views")
        return views["views"] if views else 1

    @property
    def views(self):
        """The `keras_kd.views.Views` the cache replays, or `None`."""
        config = self.manifest.get("views")
        if config is None:
            return None
        if config["backend"] != keras.backend.backend():
            raise ValueError(
                f"The TeacherCache in {self.directory} stores views drawn with "
                f"the {config['backend']} backend's random streams, but Keras runs "
                f"on {keras.backend.backend()}: the views would not replay. Read "
                f"it with KERAS_BACKEND={config['backend']}, or write a cache on "
                f"{keras.backend.backend()}."
            )
        if getattr(self, "_views", None) is None:
            self._views = views_lib.Views.from_config(config)
        return self._views

    @property
    def top_k(self):
        """`None` for a dense cache, else the `k` stored per sample."""
        return self.manifest["top_k"]

    @property
    def teacher_fingerprint(self):
        """Hash of the weights of the teacher that wrote the cache."""
        return self.manifest["teacher_fingerprint"]

    @property
    def data_fingerprint(self):
        """Hash of the inputs the cache was written from."""
        return self.manifest["data_fingerprint"]

    def read(self, indices):
        """The stored targets of samples `indices`, as NumPy float32 / int32.

        Args:
            indices: 1-D integer array of sample positions.

        Returns:
            A dense array `(len(indices), ...)` of logits, or for top-k a
            dict with `"values"` (log-probabilities), `"indices"` and
            `"rest"` (the log of the other classes' mass).
        """
        indices = np.asarray(indices, dtype="int64")
        shard_size = self.manifest["shard_size"]
        names = ("values", "rest", "indices") if self.top_k else ("values",)
        result = {}
        for name in names:
            parts = None
            for shard in np.unique(indices // shard_size):
                rows = indices // shard_size == shard
                stored = self._shard(int(shard), name)
                if parts is None:
                    parts = np.empty((len(indices),) + stored.shape[1:], stored.dtype)
                parts[rows] = stored[indices[rows] % shard_size]
            result[name] = parts.astype("int32" if name == "indices" else "float32")
        return result if self.top_k else result["values"]

    def _shard(self, shard, name):
        if (shard, name) not in self._shards:
            path = files.shard_path(self.directory, shard, name)
            self._shards[shard, name] = np.load(path, mmap_mode="r")
        return self._shards[shard, name]

    # -- Checks --------------------------------------------------------------------

    def check_teacher(self, teacher):
        """Raises unless `teacher` has the weights the cache was written with."""
        fingerprint = teacher_fingerprint(_check_teacher_model(teacher))
        if fingerprint != self.teacher_fingerprint:
            raise ValueError(
                f"The TeacherCache in {self.directory} was written by a teacher "
                f"with weights fingerprint {self.teacher_fingerprint}, but the "
                f"teacher '{teacher.name}' given has fingerprint {fingerprint}: "
                "its weights changed, and the stored targets would be stale. "
                "Write a new cache with TeacherCache.write(teacher, x, new_directory)."
            )

    def check_data(self, x):
        """Raises unless `x` is the data the cache was written from."""
        x = _check_inputs(x, "TeacherCache.dataset")
        fingerprint = data_fingerprint(x)
        if fingerprint != self.data_fingerprint:
            raise ValueError(
                f"The TeacherCache in {self.directory} holds targets for data "
                f"with fingerprint {self.data_fingerprint} ({len(self)} samples), "
                f"but the inputs given have fingerprint {fingerprint} (shape "
                f"{x.shape}, dtype {x.dtype}). Pass the exact inputs the cache "
                "was written from, unaugmented and in the same order (augmented "
                "inputs need a live teacher), or write a cache for these inputs."
            )
        return x

    # -- Training data ---------------------------------------------------------------

    def dataset(self, x, y=None, batch_size=128, shuffle=True, seed=0):
        """Batches of the inputs with their stored targets, for `Distiller.fit`.

        A `keras.utils.PyDataset` (every backend) yielding
        `({"x": inputs, "teacher_targets": targets}, labels)`; for a cache
        with views, the inputs of epoch `e` are view `e mod views` (a
        `keras_kd.views.ViewBatches`, whose `set_epoch` resumes); the order is
        reshuffled every epoch from `seed`, inputs, labels and targets moving
        together. (`fit` also shuffles the order of the batches unless given
        `shuffle=False`; each batch carries its own targets either way.)

        Args:
            x: The inputs the cache was written from (checked by fingerprint).
            y: Labels, or `None` for distillation alone (`alpha=0`).
            batch_size: Samples per batch.
            shuffle: Whether to reshuffle the order every epoch.
            seed: Seed of the shuffling.

        Returns:
            A `keras.utils.PyDataset`.

        Example:

        >>> cache = keras_kd.TeacherCache.write(teacher, x_train, "dense_cache")
        >>> batch_x, batch_y = cache.dataset(x_train, y_train, batch_size=8)[0]
        >>> sorted(batch_x), batch_x["teacher_targets"].shape
        (['teacher_targets', 'x'], (8, 10))
        """
        x = self.check_data(x)
        if y is not None and len(y) != len(x):
            raise ValueError(
                f"TeacherCache.dataset received {len(x)} inputs but {len(y)} "
                "labels `y`. Give one label per input."
            )
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(
                f"`batch_size` must be an int >= 1. Received: batch_size={batch_size!r}"
            )
        replay = self.views
        if replay is not None:
            samples = len(x)
            return views_lib.ViewBatches(
                x, y, replay, batch_size=batch_size, shuffle=shuffle, shuffle_seed=seed,
                targets=lambda rows, view: self.read(view * samples + np.asarray(rows)),
            )  # fmt: skip
        return CachedBatches(self, x, y, batch_size, shuffle, seed)

    def arrays(self, x, y=None):
        """The inputs with every stored target, in memory, for Keras' array path.

        `fit` slices and shuffles in-memory arrays without a Python call per
        batch, so a cached epoch costs what the student's own epoch costs
        (plus its loss), where `dataset`'s per-batch reads cost more than a
        small student's step. Reads every target once (`len(x) * classes`
        float32 values for a dense cache); for data larger than memory use
        `dataset`. A cache with views needs `dataset` (each epoch is
        another view).

        Args:
            x: The inputs the cache was written from (checked by fingerprint).
            y: Labels, or `None`.

        Returns:
            `(inputs, y)`, `inputs = {"x": x, "teacher_targets": targets}`:
            pass both to `fit` with a `batch_size`.

        Example:

        >>> cache = keras_kd.TeacherCache.write(teacher, x_train, "arrays_cache")
        >>> inputs, labels = cache.arrays(x_train, y_train)
        >>> inputs["teacher_targets"].shape
        (32, 10)
        """
        x = self.check_data(x)
        if y is not None and len(y) != len(x):
            raise ValueError(
                f"TeacherCache.arrays received {len(x)} inputs but {len(y)} "
                "labels `y`. Give one label per input."
            )
        if self.view_count > 1 or self.manifest.get("views"):
            raise ValueError(
                f"The TeacherCache in {self.directory} stores {self.view_count} "
                "augmented views per sample, and each epoch shows another one: "
                "arrays cannot change between epochs. Train on "
                "cache.dataset(x, y, batch_size=...), which replays the views."
            )
        return {"x": x, TARGETS_KEY: self.read(np.arange(len(x)))}, y

    # -- The Teacher interface ---------------------------------------------------------

    def bind(self, student, teacher_layers, teacher_outputs="auto"):
        del student
        if teacher_layers:
            raise ValueError(
                "A TeacherCache stores the teacher's final outputs only, but "
                f"a distillation loss reads the teacher layers {list(teacher_layers)} "
                "(a feature loss such as FitNetHint, AttentionTransfer or RKD "
                "on layers): intermediate features are not cached. Distil with "
                "the live teacher for that loss, or use a loss on the outputs "
                "(e.g. 'kd')."
            )
        stored_kind = self.manifest["teacher_kind"]
        if teacher_outputs not in ("auto", stored_kind):
            raise ValueError(
                f"The TeacherCache in {self.directory} was written from a teacher "
                f"whose outputs are {stored_kind}, but the Distiller received "
                f"teacher_outputs={teacher_outputs!r}. Pass teacher_outputs='auto'."
            )

    def check_output_shape(self, student):
        stored = tuple(self.manifest["teacher_output_shape"])
        received = validation.output_shape(student)
        if received is not None and tuple(received) != stored:
            raise ValueError(
                "Soft-target distillation compares the teacher's and the "
                "student's outputs class by class, so their shapes must match. "
                f"Received: the cached teacher '{self.manifest['teacher_name']}' "
                f"outputs shape {(None,) + stored}, student '{student.name}' "
                f"outputs shape {(None,) + tuple(received)}."
            )

    def set_preprocessor(self, preprocessor):
        if preprocessor is not None:
            raise ValueError(
                "A TeacherCache runs no teacher in the step (it reads targets "
                "stored with the batch), so teacher_preprocessor has nothing "
                "to feed. Received: teacher_preprocessor="
                f"{getattr(preprocessor, 'name', preprocessor)!r}. Cache a model "
                "that reads the student's inputs, with the preprocessor inside, "
                "e.g. TeacherCache.write(keras.Sequential([keras.Input("
                "x.shape[1:]), preprocessor, teacher]), x, directory), and "
                "construct the Distiller without teacher_preprocessor."
            )

    def split_inputs(self, inputs):
        if isinstance(inputs, dict) and TARGETS_KEY in inputs:
            return inputs["x"], inputs[TARGETS_KEY]
        if isinstance(inputs, dict) and "teacher" in inputs:
            raise ValueError(
                "A TeacherCache reads the teacher's stored targets, not teacher "
                "inputs, but `x` is a dict with keys "
                f"{sorted(inputs)}. Train on cache.dataset(x, y, ...) with the "
                "student's inputs, from a cache written by a model that reads "
                "them (the preprocessor inside, e.g. keras.Sequential([keras."
                "Input(x.shape[1:]), keras.layers.Resizing(...), teacher])); or "
                "distil from the live teacher with the dict."
            )
        return inputs, None  # predict() on the student's inputs alone

    def teacher_inputs(self, inputs):
        return inputs  # Stored targets: nothing to preprocess or check.

    def forward(self, inputs):
        if inputs is None:
            raise ValueError(
                "A TeacherCache reads the teacher's targets from the batch, "
                "but the batch holds the inputs alone. Train on "
                "cache.dataset(x, y, batch_size=...), not on (x, y); to "
                "validate, on a cache of the validation inputs."
            )
        return keras.tree.map_structure(ops.convert_to_tensor, inputs)

    def view(self, targets):
        if not isinstance(targets, dict):
            return ModelOutputs(ops.cast(targets, "float32"), "logits")
        return ModelOutputs(
            dense_from_top_k(targets["values"], targets["indices"], targets["rest"], self.classes),
            "logits",
        )

    @property
    def classes(self):
        """Number of classes of the stored distributions."""
        shape = self.manifest["teacher_output_shape"]
        return max(shape[-1], 2)

    def get_config(self):
        config = super().get_config()
        config["directory"] = self.directory
        return config


class CachedBatches(keras.utils.PyDataset):
    """The batches of `TeacherCache.dataset`: inputs, stored targets, labels."""

    def __init__(self, cache, x, y, batch_size, shuffle, seed):
        super().__init__()
        self.cache, self.x, self.y = cache, x, y
        self.batch_size, self.shuffle, self.seed = batch_size, shuffle, seed
        self.epoch = 0
        self._order = self._epoch_order()

    def _epoch_order(self):
        if not self.shuffle:
            return np.arange(len(self.x))
        return np.random.default_rng([self.seed, self.epoch]).permutation(len(self.x))

    def __len__(self):
        return -(-len(self.x) // self.batch_size)

    def __getitem__(self, index):
        rows = self._order[index * self.batch_size : (index + 1) * self.batch_size]
        inputs = {"x": self.x[rows], TARGETS_KEY: self.cache.read(rows)}
        return (inputs,) if self.y is None else (inputs, self.y[rows])

    def on_epoch_end(self):
        self.epoch += 1
        self._order = self._epoch_order()


def dense_from_top_k(values, indices, log_rest, classes):
    """Full log-probabilities from the top-k ones: the rest shares the remaining mass.

    Args:
        values: Float tensor `(..., k)`: the `k` largest log-probabilities.
        indices: Int tensor `(..., k)`: their classes.
        log_rest: Float tensor `(..., 1)`: the log of the remaining mass,
            `log(1 - sum(exp(values)))`, stored exactly at write time.
        classes: Total number of classes `C`.

    Returns:
        Float32 tensor `(..., C)`: `values` at `indices`, and
        `log_rest - log(C - k)` at every other class.

    Example:

    >>> import numpy as np
    >>> dense = dense_from_top_k(np.log([[0.5, 0.3]]), np.array([[2, 0]]),
    ...                          np.log([[0.2]]), 4)
    >>> print(np.round(np.exp(ops.convert_to_numpy(dense)), 3))
    [[0.3 0.1 0.5 0.1]]
    """
    values = ops.cast(values, "float32")
    k = values.shape[-1]
    fill = ops.cast(log_rest, "float32") - float(np.log(max(classes - k, 1)))
    one_hot = ops.one_hot(ops.cast(indices, "int32"), classes, dtype="float32")
    placed = ops.sum(one_hot * ops.expand_dims(values, -1), axis=-2)
    return ops.where(ops.sum(one_hot, axis=-2) > 0, placed, fill)


# -- Checks ----------------------------------------------------------------------------


def _check_teacher_model(teacher):
    if isinstance(teacher, (list, tuple)):
        raise ValueError(
            "TeacherCache stores one teacher's outputs, but received a list of "
            f"{len(teacher)} models. An ensemble's soft targets depend on the "
            "temperature (a mean of softened distributions), so they cannot be "
            "stored once: distil from the live ensemble, or cache one model."
        )
    if isinstance(teacher, Teacher) and len(teacher.models) == 1:
        teacher = teacher.models[0]
    return validation.check_model(teacher, "teacher")


def _check_views(augmentation, views, seed):
    """The `Views` to store, or `None`; raises on views without layers."""
    if augmentation is None:
        if views != 1 or seed != 0:
            raise ValueError(
                "TeacherCache.write received views="
                f"{views!r} and seed={seed!r} but no `augmentation`: views are "
                "augmented copies of the inputs. Pass augmentation=[keras.layers."
                "RandomFlip('horizontal'), ...], or drop `views` and `seed`."
            )
        return None
    return views_lib.Views(augmentation, views, seed)


class _ViewInputs:
    """The inputs of every view, view after view, as `write_shard` slices them:
    row `r` is sample `r mod N` in view `r // N`."""

    def __init__(self, x, replay):
        self.x, self.replay = x, replay

    def __len__(self):
        return len(self.x) * self.replay.views

    def __getitem__(self, rows):
        if isinstance(rows, slice):
            positions = np.arange(*rows.indices(len(self)))
        else:
            positions = np.asarray(rows, dtype="int64")
        samples = len(self.x)
        parts = [
            self.replay.augment(self.x, positions[positions // samples == view] % samples, view)
            for view in np.unique(positions // samples)
        ]
        return np.concatenate(parts)


def _check_inputs(x, where):
    if not isinstance(x, np.ndarray):
        raise ValueError(
            f"{where} takes the inputs as a NumPy array (a np.memmap for data "
            f"larger than memory). Received: an object of type {type(x).__name__}. "
            "A cache pairs each stored target with one clean input, so a "
            "pipeline (tf.data, a generator, a PyDataset) that may augment "
            "cannot be cached or replayed: distil from a live teacher to augment."
        )
    if x.ndim < 1 or len(x) == 0:
        raise ValueError(f"{where} received no samples: inputs of shape {x.shape}.")
    return x

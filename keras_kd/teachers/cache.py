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
from collections.abc import Callable
from collections.abc import Sequence
from typing import Any

import keras
import numpy as np
from keras import ops

from keras_kd import outputs as outputs_lib
from keras_kd import validation
from keras_kd import views as views_lib
from keras_kd.checks import is_integer
from keras_kd.losses.base import ModelOutputs
from keras_kd.teachers import _cache_files as files
from keras_kd.teachers import _cache_lock
from keras_kd.teachers import _cache_reader as reader
from keras_kd.teachers._cache_files import data_fingerprint
from keras_kd.teachers._cache_files import teacher_fingerprint
from keras_kd.teachers.base import Teacher
from keras_kd.teachers.base import resolve_output_kind

TARGETS_KEY = "teacher_targets"
# What the losses read from each kind of stored targets (`view`); values are
# read as the teacher's own kind. A top-k cache holds no raw outputs: losses
# that compare values (`"mse"`) refuse it (`outputs.check_heads`).
_VIEW_KINDS = {
    "log_probabilities": "probabilities",
    "sigmoid_logits": "probabilities",
    "top_k": "top-k log-probabilities",
}


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

    def __init__(
        self, directory: str | os.PathLike, teacher: keras.Model | None = None, **kwargs
    ) -> None:
        super().__init__(**kwargs)
        self.directory = os.path.abspath(os.fspath(directory))
        self.manifest = reader.read_settings(
            os.path.join(self.directory, files.MANIFEST), self.directory
        )
        self._shards = {}
        # What the losses read, as they read a live teacher's outputs.
        self.kinds = [_VIEW_KINDS.get(self.target_kind, self.manifest["teacher_kind"])]
        if teacher is not None:
            self.check_teacher(teacher)

    # -- Writing ---------------------------------------------------------------

    @classmethod
    def write(
        cls,
        teacher: keras.Model,
        x: np.ndarray,
        directory: str | os.PathLike,
        top_k: int | None = None,
        dtype: str = "float16",
        batch_size: int = 256,
        shard_size: int = 8192,
        teacher_outputs: str = "auto",
        augmentation: "keras.layers.Layer | Sequence[keras.layers.Layer] | None" = None,
        views: int = 1,
        seed: int = 0,
    ) -> "TeacherCache":
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
        top_k, batch_size, shard_size = files.check_settings(top_k, dtype, batch_size, shard_size)
        replay = _check_views(augmentation, views, seed)
        if replay:
            views_lib.check_images(x, "TeacherCache.write")
        kind = resolve_output_kind(model, teacher_outputs, "teacher")
        outputs_lib.check_not_multi_label(model, "TeacherCache.write stores soft-maxed targets")
        directory = os.path.abspath(os.fspath(directory))
        if os.path.exists(directory) and not os.path.isdir(directory):
            raise ValueError(
                f"TeacherCache.write writes a folder of files, but {directory} "
                "is a file. Give the path of a new or empty folder."
            )
        output_shape = list(model.predict_on_batch(x[:1]).shape[1:])
        if not output_shape:
            raise ValueError(
                "TeacherCache.write stores the teacher's outputs per unit, but "
                f"'{model.name}' outputs one score per sample, shape (samples,) (its "
                "unit axis squeezed). Remove the final Reshape or squeeze so that it "
                "outputs (samples, 1), or distill from the live teacher."
            )
        plan = {
            "format": files.FORMAT,
            "teacher_fingerprint": teacher_fingerprint(model),
            "data_fingerprint": data_fingerprint(x),
            "samples": len(x) * (replay.views if replay else 1),
            "top_k": top_k,
            "dtype": dtype,
            "shard_size": shard_size,
            "teacher_kind": kind,
            "teacher_name": model.name,
            "teacher_output_shape": output_shape,
            # Checked here, before anything is written (top_k <= classes).
            "targets": files.targets_of(kind, output_shape, top_k),
            "views": replay.config() if replay else None,
        }
        inputs = _ViewInputs(x, replay) if replay else x
        manifest = os.path.join(directory, files.MANIFEST)
        if os.path.isfile(manifest):
            files.start(directory, plan)  # Checks it is this cache.
            return cls(directory)
        files.check_space(directory, plan)
        with _cache_lock.writing(directory):
            if os.path.isfile(manifest):  # Finished by another writer meanwhile.
                files.start(directory, plan)
                return cls(directory)
            fresh = not os.path.isfile(os.path.join(directory, files.PLAN))
            files.start(directory, plan)
            try:
                for shard in range(files.count_shards(plan)):
                    files.write_shard(directory, plan, shard, model, kind, inputs, batch_size)
            except ValueError:
                # The teacher's outputs cannot be stored with these settings
                # (NaN, float16 overflow): a fresh write leaves nothing, so
                # the retry the error advises starts clean.
                if fresh:
                    _cache_lock.remove_written(directory)
                raise
            files.atomic_save(manifest, json.dumps(plan, indent=1))
            os.remove(os.path.join(directory, files.PLAN))
            _cache_lock.finished(directory)
        return cls(directory)

    # -- What is stored ----------------------------------------------------------

    def __len__(self):
        """Number of input samples (each stored once per view)."""
        return self.manifest["samples"] // self.view_count

    @property
    def view_count(self) -> int:
        """Views stored per sample: 1 without augmentation."""
        views = self.manifest.get("views")
        return views["views"] if views else 1

    @property
    def views(self) -> "views_lib.Views | None":
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
    def top_k(self) -> int | None:
        """`None` for a dense cache, else the `k` stored per sample."""
        return self.manifest["top_k"]

    @property
    def target_kind(self) -> str:
        """What the stored targets are: `"values"` (the teacher's raw
        outputs), `"log_probabilities"` (of a softmax head),
        `"sigmoid_logits"` (of a one-unit sigmoid head) or `"top_k"`."""
        return self.manifest["targets"]

    @property
    def teacher_fingerprint(self) -> str:
        """Hash of the weights of the teacher that wrote the cache."""
        return self.manifest["teacher_fingerprint"]

    @property
    def data_fingerprint(self) -> str:
        """Hash of the inputs the cache was written from."""
        return self.manifest["data_fingerprint"]

    def read(self, indices: np.ndarray | Sequence[int]) -> np.ndarray | dict[str, np.ndarray]:
        """The stored targets of samples `indices`, as NumPy float32 / int32.

        Args:
            indices: 1-D integer array of stored positions: sample `i`, or
                for a cache of views, sample `i` of view `v` at
                `v * len(cache) + i`.

        Returns:
            A dense array `(len(indices), ...)` of logits, or for top-k a
            dict with `"values"` (log-probabilities), `"indices"` and
            `"rest"` (the log of the other classes' mass).
        """
        indices = _check_indices(indices, self.manifest["samples"])  # every view's rows
        shard_size = self.manifest["shard_size"]
        result = {}
        for name in reader.shard_names(self.manifest):
            shape = reader.expected_shard_shape(self.manifest, 0, name)[1:]
            parts = np.empty((len(indices),) + shape, "int32" if name == "indices" else "float32")
            for shard in np.unique(indices // shard_size):
                rows = indices // shard_size == shard
                parts[rows] = self._shard(int(shard), name)[indices[rows] % shard_size]
            result[name] = parts
        if self.top_k:
            return result
        values = result["values"]
        if self.manifest["format"] == 1 and self.manifest["teacher_output_shape"][-1] == 1:
            values = values[..., 1:]  # Format 1 stored a one-unit head as [0, z].
        return values

    def _shard(self, shard, name):
        if (shard, name) not in self._shards:
            self._shards[shard, name] = reader.read_shard(
                self.directory, self.manifest, shard, name
            )
        return self._shards[shard, name]

    # -- Checks --------------------------------------------------------------------

    def check_teacher(self, teacher: keras.Model) -> None:
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

    def check_data(self, x: np.ndarray) -> np.ndarray:
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

    def dataset(
        self,
        x: np.ndarray,
        y: np.ndarray | None = None,
        batch_size: int = 128,
        shuffle: bool = True,
        seed: int = 0,
        sample_weight: np.ndarray | None = None,
    ) -> keras.utils.PyDataset:
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
            sample_weight: Optional weights, one per sample (or per
                position), moving with the inputs; requires `y`.

        Returns:
            A `keras.utils.PyDataset`.

        Example:

        >>> cache = keras_kd.TeacherCache.write(teacher, x_train, "dense_cache")
        >>> batch_x, batch_y = cache.dataset(x_train, y_train, batch_size=8)[0]
        >>> sorted(batch_x), batch_x["teacher_targets"].shape
        (['teacher_targets', 'x'], (8, 10))
        """
        x = self.check_data(x)
        y = _per_sample(y, len(x), "labels `y`")
        sample_weight = _per_sample(sample_weight, len(x), "`sample_weight`")
        if sample_weight is not None and y is None:
            raise ValueError(
                "TeacherCache.dataset received `sample_weight` without labels `y`: "
                "Keras reads weights as the third element of (x, y, sample_weight). "
                "Give y too."
            )
        if not (is_integer(batch_size) and batch_size >= 1):
            raise ValueError(
                f"`batch_size` must be an int >= 1. Received: batch_size={batch_size!r}"
            )
        shuffle, seed = views_lib.check_shuffle("TeacherCache.dataset", shuffle, seed, "seed")
        replay = self.views
        if replay is not None:
            if sample_weight is not None:
                raise ValueError(
                    f"The TeacherCache in {self.directory} stores augmented views, "
                    "whose batches do not carry sample weights yet. Write the cache "
                    "without `augmentation` to train with `sample_weight`, or drop it."
                )
            samples = len(x)
            return views_lib.ViewBatches(
                x,
                y,
                replay,
                batch_size=int(batch_size),
                shuffle=shuffle,
                shuffle_seed=seed,
                targets=lambda rows, view: self.read(view * samples + np.asarray(rows)),
            )
        return CachedBatches(self, x, y, int(batch_size), shuffle, seed, sample_weight)

    def arrays(self, x: np.ndarray, y: np.ndarray | None = None) -> tuple:
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

    def bind(
        self,
        student: keras.Model,
        teacher_layers: Sequence[str],
        teacher_outputs: str = "auto",
        preprocessor: "keras.layers.Layer | Callable | None" = None,
    ) -> None:
        del student
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

    def check_output_shape(self, student: keras.Model) -> None:
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

    def split_inputs(self, inputs: Any) -> tuple[Any, Any]:
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

    def forward(self, inputs: Any) -> Any:
        if inputs is None:
            raise ValueError(
                "A TeacherCache reads the teacher's targets from the batch, "
                "but the batch holds the inputs alone. Train on "
                "cache.dataset(x, y, batch_size=...), not on (x, y); to "
                "validate, on a cache of the validation inputs."
            )
        return keras.tree.map_structure(ops.convert_to_tensor, inputs)

    def view(self, targets: Any) -> ModelOutputs:
        if not isinstance(targets, dict):
            # The teacher's outputs as a live teacher gives them.
            targets = ops.cast(targets, "float32")
            if self.target_kind == "log_probabilities":
                return ModelOutputs(ops.exp(targets), "probabilities")
            if self.target_kind == "sigmoid_logits":
                return ModelOutputs(ops.sigmoid(targets), "probabilities")
            return ModelOutputs(targets, self.manifest["teacher_kind"])
        return ModelOutputs(
            dense_from_top_k(targets["values"], targets["indices"], targets["rest"], self.classes),
            "logits",
        )

    @property
    def classes(self) -> int:
        """Number of classes of the stored distributions."""
        shape = self.manifest["teacher_output_shape"]
        return max(shape[-1], 2)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config["directory"] = self.directory
        # A saved Distiller reopens the cache it trained from, not another.
        config["teacher_fingerprint"] = self.teacher_fingerprint
        config["data_fingerprint"] = self.data_fingerprint
        return config

    @classmethod
    def from_config(cls, config: dict) -> "TeacherCache":
        config = dict(config)
        expected = {
            key: config.pop(key)
            for key in ("teacher_fingerprint", "data_fingerprint")
            if key in config
        }
        saved_with = f"The model was saved with the TeacherCache in {config.get('directory')}"
        advice = (
            "Restore that cache (TeacherCache.write with the same teacher and "
            "data), or construct a new Distiller and load the student's "
            "weights into it."
        )
        try:
            cache = cls(**config)
        except (OSError, ValueError) as error:
            raise ValueError(f"{saved_with}, which cannot be read now: {error} {advice}") from None
        changed = [
            f"{key} {value} when saved, {cache.manifest[key]} now"
            for key, value in expected.items()
            if cache.manifest[key] != value
        ]
        if changed:
            raise ValueError(
                f"{saved_with}, which has been rewritten since, by another "
                f"teacher or for other data ({'; '.join(changed)}): its targets "
                f"are not those the model trained with. {advice}"
            )
        return cache


class CachedBatches(keras.utils.PyDataset):
    """The batches of `TeacherCache.dataset`: inputs, stored targets, labels."""

    def __init__(self, cache, x, y, batch_size, shuffle, seed, sample_weight=None):
        super().__init__()
        self.cache, self.x, self.y = cache, x, y
        self.sample_weight = sample_weight
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
        if self.y is None:
            return (inputs,)
        if self.sample_weight is not None:
            return inputs, self.y[rows], self.sample_weight[rows]
        return inputs, self.y[rows]

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
    preprocessor = getattr(teacher, "preprocessor", None)
    if isinstance(teacher, Teacher) and preprocessor is not None:
        raise ValueError(
            f"TeacherCache.write stores the outputs of the teacher's model on `x`, "
            f"but the {type(teacher).__name__} given has a preprocessor "
            f"({getattr(preprocessor, 'name', preprocessor)!r}) that the model "
            "reads through: its targets would be those of the raw inputs. Cache "
            "one model with the preprocessor inside, e.g. keras.Sequential("
            "[keras.Input(x.shape[1:]), preprocessor, teacher_model])."
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


def _per_sample(values, samples, what):
    """`values` as a NumPy array of one entry per sample, or `None`."""
    if values is None:
        return None
    values = validation.rows_array(values, "TeacherCache.dataset", what, "entry per input", samples)
    if values.ndim < 1 or len(values) != samples:
        raise ValueError(
            f"TeacherCache.dataset received {samples} inputs but {what} of "
            f"shape {values.shape}. Give one entry per input."
        )
    return values


def _check_indices(indices, samples):
    values = np.asarray(indices)
    if values.ndim != 1 or (values.size and not np.issubdtype(values.dtype, np.integer)):
        raise ValueError(
            "TeacherCache.read takes a 1-D array of integer sample positions. "
            f"Received: shape {values.shape}, dtype {values.dtype}."
        )
    values = values.astype("int64")
    outside = (values < 0) | (values >= samples)
    if outside.any():
        raise ValueError(
            f"TeacherCache.read: the cache holds samples 0 to {samples - 1}, but "
            f"{int(outside.sum())} positions are outside (first: "
            f"{values[outside][:5].tolist()}). Give positions in [0, {samples - 1}]."
        )
    return values


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

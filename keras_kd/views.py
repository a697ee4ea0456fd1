"""Replayable augmented views: the same view of a sample, whatever its batch.

Beyer et al. (2022) distil patiently with teacher and student seeing the
same augmented view; TinyViT stores the teacher's targets for each view
with what regenerates the view, so the teacher runs once. `Views` is that
regeneration: view `v` of sample `i` is a function of `(seed, v, i)` alone,
not of the batch the sample lands in, so a `TeacherCache` written for
`views=E` can hand the student, in epoch `e`, the very input the teacher
scored for view `e mod E`.

How: for view `v`, each layer draws its random transformation once for the
whole dataset (`layer.get_random_transformation` on `N` rows, from a
stateless seed derived from `(seed, v, layer position)`); a batch takes its
rows of that table and `layer.transform_images` applies them. MixUp and
CutMix draw a partner for every sample among all `N`; the partner enters
the mix as its own view through the layers before the mixing one.

The one function both paths use is `Views.augment(x, rows, view)`:
`ViewBatches` (a live teacher, or the student alone) and
`TeacherCache.dataset` (stored targets) call it, so live and cached
training see identical inputs. The draws use the Keras backend's random
streams: views written on one backend replay on that backend (the cache
records it).
"""

import hashlib
import json

import keras
import numpy as np
from keras import ops

from keras_kd import checks
from keras_kd.validation import rows_array

__all__ = ["MIXING_LAYERS", "SUPPORTED_LAYERS", "ViewBatches", "Views"]

# Layers whose random draws do not read the pixels: their table for N rows
# is drawn from the shape alone.
GEOMETRIC_LAYERS = (
    keras.layers.RandomFlip,
    keras.layers.RandomTranslation,
    keras.layers.RandomZoom,
    keras.layers.RandomRotation,
)
MIXING_LAYERS = (keras.layers.MixUp, keras.layers.CutMix)
SUPPORTED_LAYERS = GEOMETRIC_LAYERS + MIXING_LAYERS
# Seeds drawn from (seed, view, layer) stay below 2**31 (every backend's
# seed dtype holds them).
_SEED_MASK = 0x7FFFFFFF


def check_images(x, owner):
    """Returns `x` after checking it is a non-empty batch of images,
    `(samples, height, width, channels)`, as the augmentation layers read.

    A rank-3 array would be read by the layers as one image whose height is
    the samples (one draw for all, wrong axes), a flat one as garbage: both
    are refused here, naming the fix.

    Example:

    >>> check_images(np.zeros((2, 8, 8, 1)), "Views").shape
    (2, 8, 8, 1)
    """
    if not isinstance(x, np.ndarray) or x.ndim < 1 or len(x) == 0:
        raise ValueError(
            f"{owner} takes the images as a non-empty NumPy array (samples, "
            f"height, width, channels). Received: {type(x).__name__} "
            f"{getattr(x, 'shape', '')}."
        )
    if x.ndim != 4:
        fix = (
            "Add the channel axis, x[..., None]"
            if x.ndim == 3
            else "Reshape the images to (samples, height, width, channels)"
        )
        raise ValueError(
            f"{owner}: the augmentation layers of replayable views read "
            "batches of images (samples, height, width, channels), but the "
            f"inputs have shape {x.shape}. {fix}, or train without `augmentation` "
            "(views) for inputs that are not images."
        )
    return x


def _check_int(owner, argument, value, low):
    if not checks.is_integer(value) or value < low:
        raise ValueError(
            f"{owner} `{argument}` must be an int >= {low}. Received: {argument}={value!r}"
        )
    return int(value)


class Views:
    """`views` replayable augmented views of every sample of a dataset.

    Args:
        augmentation: A Keras preprocessing layer or a list of them, among
            `RandomFlip`, `RandomTranslation`, `RandomZoom`,
            `RandomRotation`, `MixUp` and `CutMix`, applied in order. Their
            own `seed` arguments are not used: `seed` below draws the views.
        views: Number of distinct views per sample, an int >= 1; epoch `e`
            uses view `e mod views`.
        seed: Int >= 0 that draws every view.

    Example:

    >>> views = Views([keras.layers.RandomFlip("horizontal")], views=4, seed=0)
    >>> images = np.random.default_rng(0).random((10, 8, 8, 1)).astype("float32")
    >>> first = views.augment(images, np.array([3, 7]), view=1)
    >>> again = views.augment(images, np.array([7, 0, 3]), view=1)
    >>> bool(np.array_equal(first[0], again[2]))  # sample 3, view 1, any batch
    True
    """

    def __init__(self, augmentation, views=1, seed=0):
        self.layers = check_augmentation(augmentation)
        self.views = _check_int("Views", "views", views, 1)
        self.seed = _check_int("Views", "seed", seed, 0)
        self._tables = {}
        self._transforms = {}

    # -- What defines the views ---------------------------------------------------

    def config(self):
        """JSON-ready description: the layers' configs, `views` and `seed`."""
        layers = [keras.saving.serialize_keras_object(layer) for layer in self.layers]
        for layer in layers:  # The layer's own seed is not used: drop it.
            layer.get("config", {}).pop("seed", None)
            layer.get("config", {}).pop("name", None)
        return json.loads(
            json.dumps(
                {
                    "layers": layers,
                    "views": self.views,
                    "seed": self.seed,
                    "backend": keras.backend.backend(),
                },
                default=str,
            )
        )

    def fingerprint(self):
        """Hex hash of `config()`: two `Views` with one fingerprint replay alike."""
        text = json.dumps(self.config(), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    @classmethod
    def from_config(cls, config):
        """The `Views` that `config()` describes (the layers rebuilt)."""
        layers = [keras.saving.deserialize_keras_object(layer) for layer in config["layers"]]
        return cls(layers, views=config["views"], seed=config["seed"])

    # -- The views ---------------------------------------------------------------------

    def augment(self, x, rows, view):
        """Samples `rows` of `x` in view `view`, as a float32 NumPy batch.

        Args:
            x: NumPy array of all the images, `(N, height, width, channels)`.
            rows: 1-D int array of sample positions in `x`.
            view: Int in `[0, views)`.

        Returns:
            NumPy array `(len(rows), ...)`: each row depends on
            `(seed, view, row)` only.
        """
        check_images(x, "Views.augment")
        rows = np.asarray(rows, dtype="int64")
        tables = self._table(x, view)
        return self._through(x, rows, tables, len(self.layers))

    def _through(self, x, rows, tables, depth):
        """Rows of `x` through the first `depth` layers."""
        images = np.asarray(x[rows], dtype="float32")
        for position, layer in enumerate(self.layers[:depth]):
            table = tables[position]
            if isinstance(layer, MIXING_LAYERS):
                partners = table["permutation_order"][rows]
                partner_images = self._through(x, partners, tables, position)
                images = _mix(layer, table, images, partner_images, rows, partners)
            else:
                transformation = _rows_of(table, rows, len(x), images.shape)
                images = self._transform(position, images, transformation)
        return images

    def _transform(self, position, images, transformation):
        """`layers[position].transform_images` on one batch, as NumPy float32."""
        arrays = {k: v for k, v in transformation.items() if isinstance(v, np.ndarray)}
        static = tuple(sorted((k, v) for k, v in transformation.items() if k not in arrays))
        key = (position, static)
        if key not in self._transforms:
            layer, fixed = self.layers[position], dict(static)

            def transform(images, arrays):
                return layer.transform_images(images, {**arrays, **fixed}, training=True)

            self._transforms[key] = _compiled(transform)
        images = self._transforms[key](images, arrays)
        return np.asarray(ops.convert_to_numpy(images), dtype="float32")

    def _table(self, x, view):
        """Every layer's transformation of all `len(x)` samples in `view`."""
        key = (view, len(x), tuple(x.shape[1:]))
        if key not in self._tables:
            self._tables.clear()  # One view in memory at a time.
            shape_only = np.broadcast_to(np.zeros((1,) + x.shape[1:], "float32"), x.shape)
            tables = []
            for position, layer in enumerate(self.layers):
                table = layer.get_random_transformation(
                    shape_only, training=True, seed=self._seed(view, position)
                )
                tables.append(
                    {
                        name: ops.convert_to_numpy(value) if _is_tensor(value) else value
                        for name, value in table.items()
                    }
                )
            self._tables[key] = tables
        return self._tables[key]

    def _seed(self, view, position):
        state = np.random.SeedSequence([self.seed, view, position]).generate_state(1)[0]
        return int(state) & _SEED_MASK


def _compiled(function):
    """`function` compiled where eager dispatch is the cost: on JAX, whose
    op-by-op execution of an image transform is ~100x slower than jitted.
    TensorFlow and PyTorch run it eagerly (keras_kd never imports TensorFlow)."""
    if keras.backend.backend() == "jax":
        import jax

        return jax.jit(function)
    return function


def _is_tensor(value):
    return hasattr(value, "shape") and not isinstance(value, tuple)


def _rows_of(table, rows, samples, batch_shape):
    """The transformation of `rows`: arrays with `samples` rows are sliced,
    the shape and batch size become the batch's."""
    sliced = {}
    for name, value in table.items():
        if isinstance(value, np.ndarray) and value.ndim >= 1 and value.shape[0] == samples:
            sliced[name] = value[rows]
        elif name == "input_shape":
            sliced[name] = tuple(batch_shape)
        elif name == "batch_size":
            sliced[name] = len(rows)
        else:
            sliced[name] = value
    return sliced


def _mix(layer, table, images, partner_images, rows, partners):
    """`layer` (MixUp or CutMix) mixing each image with its partner's view,
    through the layer's own `transform_images` on `[images; partners]`."""
    count = len(rows)
    both = np.concatenate([images, partner_images])
    transformation = {}
    for name, value in table.items():
        if name == "permutation_order":
            value = np.concatenate([np.arange(count, 2 * count), np.arange(count)])
        elif isinstance(value, np.ndarray) and value.ndim >= 1:
            value = np.concatenate([value[rows], value[partners]])
        transformation[name] = value
    mixed = layer.transform_images(both, transformation, training=True)
    return np.asarray(ops.convert_to_numpy(mixed), dtype="float32")[:count]


def check_shuffle(owner, shuffle, seed, seed_name="shuffle_seed"):
    """Returns `(shuffle, seed)` after checking a bool and an int >= 0.

    Example:

    >>> check_shuffle("ViewBatches", True, 3)
    (True, 3)
    """
    if not isinstance(shuffle, (bool, np.bool_)):
        raise ValueError(
            f"{owner} `shuffle` must be True (a new order every epoch) or False. "
            f"Received: shuffle={shuffle!r} of type {type(shuffle).__name__}."
        )
    return bool(shuffle), _check_int(owner, seed_name, seed, 0)


def check_augmentation(augmentation):
    """The layers of `augmentation` as a list, or raises naming the problem."""
    layers = list(augmentation) if isinstance(augmentation, (list, tuple)) else [augmentation]
    if not layers:
        raise ValueError(
            "Replayable views need at least one augmentation layer, e.g. "
            "[keras.layers.RandomFlip('horizontal'), keras.layers.RandomTranslation(0.1, 0.1)]. "
            "Received: an empty list."
        )
    names = ", ".join(cls.__name__ for cls in SUPPORTED_LAYERS)
    for layer in layers:
        if not isinstance(layer, SUPPORTED_LAYERS):
            raise ValueError(
                f"Replayable views support the layers {names} (their random draws "
                "do not read the pixels, so view v of sample i is drawn once for "
                f"the whole dataset). Received: {type(layer).__name__} {layer!r}. "
                "Use a supported layer, or augment in the step with "
                "Distiller(augmentation=...) and a live teacher (views not replayed)."
            )
    return layers


class ViewBatches(keras.utils.PyDataset):
    """Batches of replayable views: epoch `e` shows every sample in view `e mod views`.

    The live-teacher (or student-alone) twin of `TeacherCache.dataset` on a
    cache written with views: given the same layers, `views`, `seed`,
    `batch_size`, `shuffle` and shuffle seed, both yield the same inputs,
    so a `Distiller` on a live teacher and one on the cache train alike.

    Args:
        x: NumPy array of the clean images.
        y: Labels, or `None`.
        augmentation: Layers, or a `Views`.
        views: Number of views (ignored when `augmentation` is a `Views`).
        seed: Seed of the views (same).
        batch_size: Samples per batch.
        shuffle: Whether to reshuffle the order every epoch.
        shuffle_seed: Seed of the shuffling.
        targets: Optional function `(rows, view) -> targets`; then the
            inputs are `{"x": images, "teacher_targets": targets}`.
        initial_epoch: The epoch the first `fit` epoch is (to resume).

    Example:

    >>> batches = keras_kd.views.ViewBatches(
    ...     x_train, y_train, [keras.layers.RandomFlip("horizontal")],
    ...     views=4, seed=0, batch_size=32)
    >>> images, labels = batches[0]
    """

    def __init__(
        self,
        x,
        y,
        augmentation,
        views=1,
        seed=0,
        batch_size=128,
        shuffle=True,
        shuffle_seed=0,
        targets=None,
        initial_epoch=0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.views = (
            augmentation if isinstance(augmentation, Views) else Views(augmentation, views, seed)
        )
        check_images(x, "ViewBatches")
        # An array, as the rows of a batch index it (a list cannot be).
        if y is not None:
            y = rows_array(y, "ViewBatches", "labels `y`", "label per image", len(x))
        if y is not None and (y.ndim == 0 or len(y) != len(x)):
            given = f"{len(y)} labels `y`" if y.ndim else "labels `y` of shape ()"
            raise ValueError(
                f"ViewBatches received {len(x)} images but {given}. Give one label per image."
            )
        self.x, self.y, self.targets = x, y, targets
        self.batch_size = _check_int("ViewBatches", "batch_size", batch_size, 1)
        self.shuffle, self.shuffle_seed = check_shuffle("ViewBatches", shuffle, shuffle_seed)
        self.set_epoch(_check_int("ViewBatches", "initial_epoch", initial_epoch, 0))

    def set_epoch(self, epoch):
        """Makes the next batches those of `epoch` (e.g. when resuming)."""
        self.epoch = int(epoch)
        if self.shuffle:
            rng = np.random.default_rng([self.shuffle_seed, self.epoch])
            self._order = rng.permutation(len(self.x))
        else:
            self._order = np.arange(len(self.x))

    @property
    def view(self):
        """The view of the current epoch: `epoch mod views`."""
        return self.epoch % self.views.views

    def __len__(self):
        return -(-len(self.x) // self.batch_size)

    def __getitem__(self, index):
        rows = self._order[index * self.batch_size : (index + 1) * self.batch_size]
        images = self.views.augment(self.x, rows, self.view)
        if self.targets is not None:
            images = {"x": images, "teacher_targets": self.targets(rows, self.view)}
        return (images,) if self.y is None else (images, self.y[rows])

    def on_epoch_end(self):
        self.set_epoch(self.epoch + 1)

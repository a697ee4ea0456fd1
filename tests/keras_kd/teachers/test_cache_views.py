"""TeacherCache with augmented views: live and cached training alike, the
views replayed per sample, resumable and fingerprinted writes, bad input."""

import json
import os

import keras
import numpy as np
import pytest

import keras_kd
from keras_kd.apps import recipes
from keras_kd.views import ViewBatches

SHAPE = (8, 8, 1)


@pytest.fixture(scope="module")
def images():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, size=96).astype("int32")
    x = rng.random((96,) + SHAPE).astype("float32") * 0.3
    x[np.arange(96), y * 2, :, 0] += 1.0  # a bright row per class
    return x, y


@pytest.fixture(scope="module")
def teacher(images):
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input(SHAPE),
            keras.layers.Flatten(),
            keras.layers.Dense(16, activation="relu"),
            keras.layers.Dense(3),
        ],
        name="teacher",
    )
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(*images, epochs=3, batch_size=32, verbose=0)
    return model


def student():
    keras.utils.set_random_seed(1)
    return keras.Sequential(
        [keras.Input(SHAPE), keras.layers.Flatten(), keras.layers.Dense(3)], name="student"
    )


def flips_and_translations():
    return [keras.layers.RandomFlip("horizontal"), keras.layers.RandomTranslation(0.2, 0.2)]


def train(teacher_or_cache, batches, alpha):
    model = student()
    distiller = keras_kd.Distiller(
        teacher_or_cache, model, keras_kd.losses.SoftTargetKD(2.0), alpha=alpha
    )
    distiller.compile(
        optimizer=keras.optimizers.SGD(0.1),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    keras.utils.set_random_seed(2)  # fit's shuffling of the batch order
    distiller.fit(batches, epochs=3, verbose=0)
    return [np.array(w) for w in model.get_weights()]


@pytest.mark.slow  # 15-30 s on a loaded 2-core machine (JAX compiles the views)
@pytest.mark.parametrize(
    "layers, alpha",
    [
        (flips_and_translations, 0.3),
        (lambda: [*flips_and_translations(), keras.layers.MixUp(0.4)], 0.0),
    ],
    ids=["flips_translations", "with_mixup"],
)
def test_live_teacher_and_cached_views_train_alike(tmp_path, images, teacher, layers, alpha):
    x, y = images
    live = train(
        teacher, ViewBatches(x, y, layers(), views=2, seed=5, batch_size=16, shuffle_seed=3), alpha
    )
    cache = keras_kd.TeacherCache.write(
        teacher,
        x,
        tmp_path / "views",
        augmentation=layers(),
        views=2,
        seed=5,
        dtype="float32",
        batch_size=40,
        shard_size=50,
    )
    cached = train(cache, cache.dataset(x, y, batch_size=16, seed=3), alpha)
    for expected, received in zip(live, cached):
        np.testing.assert_allclose(received, expected, rtol=1e-5, atol=1e-5)
    plain = train(
        teacher, ViewBatches(x, y, layers(), views=1, seed=5, batch_size=16, shuffle_seed=3), alpha
    )
    assert not np.allclose(plain[0], live[0], atol=1e-4)  # the views matter


@pytest.mark.slow  # 15-30 s on a loaded 2-core machine (JAX compiles the views)
def test_epoch_e_replays_view_e_mod_views_with_its_targets(tmp_path, images, teacher):
    x, y = images
    cache = keras_kd.TeacherCache.write(
        teacher,
        x,
        tmp_path / "views",
        augmentation=flips_and_translations(),
        views=3,
        seed=0,
        dtype="float32",
    )
    assert len(cache) == 96 and cache.view_count == 3
    batches = cache.dataset(x, y, batch_size=32, shuffle=False)
    seen = []
    for _ in range(4):
        inputs, labels = batches[0]
        np.testing.assert_array_equal(labels, y[:32])
        np.testing.assert_allclose(
            inputs["teacher_targets"], teacher.predict(inputs["x"], verbose=0), rtol=1e-5, atol=1e-5
        )
        seen.append(inputs["x"])
        batches.on_epoch_end()
    np.testing.assert_array_equal(seen[3], seen[0])  # view 3 mod 3 = view 0
    assert not np.array_equal(seen[1], seen[0]) and not np.array_equal(seen[2], seen[1])
    batches.set_epoch(2)  # resuming at epoch 2
    np.testing.assert_array_equal(batches[0][0]["x"], seen[2])


@pytest.mark.slow  # 15-30 s on a loaded 2-core machine (JAX compiles the views)
def test_a_killed_write_resumes_and_another_augmentation_is_refused(tmp_path, images, teacher):
    x, _ = images
    directory = tmp_path / "views"
    complete = keras_kd.TeacherCache.write(
        teacher,
        x,
        tmp_path / "complete",
        augmentation=flips_and_translations(),
        views=2,
        dtype="float32",
        shard_size=50,
    )
    keras_kd.TeacherCache.write(
        teacher,
        x,
        directory,
        augmentation=flips_and_translations(),
        views=2,
        dtype="float32",
        shard_size=50,
    )
    # As if killed after two shards: the manifest and the last shards are gone.
    os.replace(directory / "manifest.json", directory / "plan.json")
    for shard in (2, 3):
        os.remove(directory / f"shard_{shard:05d}_values.npy")
    resumed = keras_kd.TeacherCache.write(
        teacher,
        x,
        directory,
        augmentation=flips_and_translations(),
        views=2,
        dtype="float32",
        shard_size=50,
    )
    rows = np.arange(192)
    np.testing.assert_array_equal(resumed.read(rows), complete.read(rows))
    with pytest.raises(ValueError, match="views"):
        keras_kd.TeacherCache.write(
            teacher,
            x,
            directory,
            augmentation=[keras.layers.RandomFlip("vertical")],
            views=2,
            dtype="float32",
            shard_size=50,
        )
    with pytest.raises(ValueError, match="views"):
        keras_kd.TeacherCache.write(
            teacher,
            x,
            directory,
            augmentation=flips_and_translations(),
            views=2,
            seed=1,
            dtype="float32",
            shard_size=50,
        )
    manifest = json.loads((directory / "manifest.json").read_text())
    assert (
        manifest["views"]["views"] == 2 and manifest["views"]["backend"] == keras.backend.backend()
    )


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"views": 3}, "but no `augmentation`"),
        ({"seed": 4}, "but no `augmentation`"),
        ({"augmentation": [], "views": 2}, "at least one augmentation layer"),
        ({"augmentation": [keras.layers.RandomContrast(0.2)]}, "support the layers RandomFlip"),
        ({"augmentation": ["flip"]}, "Received: str"),
        ({"augmentation": flips_and_translations(), "views": 0}, "`views` must be an int >= 1"),
        ({"augmentation": flips_and_translations(), "views": 2.0}, "`views` must be an int >= 1"),
        ({"augmentation": flips_and_translations(), "views": True}, "`views` must be an int >= 1"),
        ({"augmentation": flips_and_translations(), "seed": -1}, "`seed` must be an int >= 0"),
        ({"augmentation": flips_and_translations(), "seed": "0"}, "`seed` must be an int >= 0"),
    ],
)
def test_hostile_views(tmp_path, images, teacher, kwargs, words):
    with pytest.raises(ValueError, match=words):
        keras_kd.TeacherCache.write(teacher, images[0], tmp_path / "cache", **kwargs)
    assert not (tmp_path / "cache").exists()  # refused before anything is written


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"y": np.zeros(5)}, "96 images but 5 labels"),
        ({"batch_size": 0}, "`batch_size` must be an int >= 1"),
        ({"initial_epoch": -1}, "`initial_epoch` must be an int >= 0"),
        ({"x": [[0.0]]}, "non-empty NumPy array"),
    ],
)
def test_hostile_view_batches(images, kwargs, words):
    x, y = images
    arguments = {"x": x, "y": y, **kwargs}
    with pytest.raises(ValueError, match=words):
        ViewBatches(arguments.pop("x"), arguments.pop("y"), flips_and_translations(), **arguments)


@pytest.mark.slow  # 15-30 s on a loaded 2-core machine (JAX compiles the views)
def test_function_matching_from_a_cache_with_views(tmp_path, images, teacher):
    x, y = images
    layers = recipes.function_matching_augmentation(seed=0)
    cache = keras_kd.TeacherCache.write(teacher, x, tmp_path / "fm", augmentation=layers, views=2)
    distiller = recipes.function_matching(cache, student())
    assert distiller.alpha == 0.0 and distiller.augmentation == []
    distiller.compile(optimizer="adam")
    history = distiller.fit(cache.dataset(x, y, batch_size=32), epochs=2, verbose=0).history
    assert np.all(np.isfinite(history["distillation_loss"]))
    plain = keras_kd.TeacherCache.write(teacher, x, tmp_path / "plain")
    with pytest.raises(ValueError, match="holds the clean images' targets. Write it with views"):
        recipes.function_matching(plain, student())
    with pytest.raises(ValueError, match="arrays cannot change between epochs"):
        cache.arrays(x, y)


@pytest.fixture(scope="module")
def plain_cache(tmp_path_factory, images, teacher):
    return keras_kd.TeacherCache.write(teacher, images[0], tmp_path_factory.mktemp("plain"))


@pytest.mark.parametrize(
    "x, words",
    [
        (np.zeros((96, 64), "float32"), r"inputs have shape \(96, 64\). Reshape the images"),
        # Read as ONE image of height 96: one flip for all samples, wrong axes.
        (np.zeros((96, 8, 8), "float32"), r"shape \(96, 8, 8\). Add the channel axis"),
        (np.zeros((96, 2, 8, 8, 1), "float32"), "batches of images .samples, height, width"),
    ],
    ids=["flat", "no_channel_axis", "rank_5"],
)
def test_hostile_view_inputs_that_are_not_image_batches(tmp_path, teacher, x, words):
    with pytest.raises(ValueError, match="TeacherCache.write: .*" + words):
        keras_kd.TeacherCache.write(
            teacher, x, tmp_path / "cache", augmentation=flips_and_translations(), views=2
        )
    assert not (tmp_path / "cache").exists()  # refused before anything is written
    with pytest.raises(ValueError, match="ViewBatches: .*" + words):
        ViewBatches(x, None, flips_and_translations())


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"seed": -1}, "`seed` must be an int >= 0. Received: seed=-1"),
        ({"seed": 1.5}, "`seed` must be an int >= 0"),
        ({"seed": "0"}, "`seed` must be an int >= 0"),
        ({"seed": None}, "`seed` must be an int >= 0"),
        ({"shuffle": "no"}, "`shuffle` must be True .* or False. Received: shuffle='no'"),
        ({"shuffle": 0}, "`shuffle` must be True"),
    ],
)
def test_hostile_dataset_shuffling(plain_cache, images, kwargs, words):
    """Before: NumPy's 'expected non-negative integer' at the first batch,
    and shuffle='no' shuffled."""
    x, y = images
    with pytest.raises(ValueError, match="TeacherCache.dataset " + words):
        plain_cache.dataset(x, y, **kwargs)
    shuffle_seed = {"shuffle_seed": kwargs["seed"]} if "seed" in kwargs else kwargs
    with pytest.raises(ValueError, match="ViewBatches " + words.replace("seed", "shuffle_seed")):
        ViewBatches(x, y, flips_and_translations(), **shuffle_seed)


def test_a_teacher_with_a_preprocessor_is_not_cached_without_it(tmp_path, teacher, images):
    """Before: the model's targets on the raw inputs were stored silently."""
    wrapped = keras_kd.teachers.ModelTeacher(teacher)
    wrapped.set_preprocessor(keras.layers.Rescaling(2.0))
    with pytest.raises(ValueError, match="has a preprocessor .*keras.Sequential"):
        keras_kd.TeacherCache.write(wrapped, images[0], tmp_path / "cache")
    assert not (tmp_path / "cache").exists()


def test_another_augmentation_is_named_in_one_line(tmp_path, teacher, images):
    x = images[0][:8]
    flip = [keras.layers.RandomFlip("horizontal")]
    keras_kd.TeacherCache.write(teacher, x, tmp_path / "views", augmentation=flip, views=2)
    with pytest.raises(ValueError) as error:
        keras_kd.TeacherCache.write(
            teacher, x, tmp_path / "views", augmentation=flip, views=2, seed=3
        )
    message = str(error.value)
    assert "views {2 views of [RandomFlip] (layer settings " in message
    assert "seed 0, " in message and "seed 3, " in message and "'config'" not in message
    with pytest.raises(ValueError, match=r"samples 16 there, 8 now, views \{2 views .* None now"):
        keras_kd.TeacherCache.write(teacher, x, tmp_path / "views")


def test_views_that_would_not_fit_on_the_disk_are_refused_before_writing(tmp_path, teacher, images):
    """Before: views=10**12 started a write that could never finish (or fill the disk)."""
    with pytest.raises(
        ValueError,
        match=r"would store 96,000,000,000,000 rows \(1,000,000,000,000 views of each sample\), about .* GiB, but the disk under .* GiB free. Write fewer views",
    ):
        keras_kd.TeacherCache.write(
            teacher,
            images[0],
            tmp_path / "cache",
            augmentation=flips_and_translations(),
            views=10**12,
        )
    assert not (tmp_path / "cache").exists()

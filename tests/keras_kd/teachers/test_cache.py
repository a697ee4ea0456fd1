"""TeacherCache: offline targets that train the student as the live teacher does."""

import json
import os

import keras
import numpy as np
import pytest
from keras import ops

import keras_kd
from keras_kd.teachers import _cache_files as cache_files


def compiled(distiller):
    distiller.compile(
        optimizer=keras.optimizers.SGD(0.1),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    return distiller


def train(teacher, student, x, y=None, **fit_kwargs):
    distiller = compiled(
        keras_kd.Distiller(teacher, student, keras_kd.losses.SoftTargetKD(2.0), alpha=0.3)
    )
    history = distiller.fit(x, y, epochs=2, verbose=0, **fit_kwargs).history
    return [np.array(w) for w in student.get_weights()], history


@pytest.fixture(scope="module")
def module_teacher():
    """The conftest's trained softmax teacher, trained once for the module on the same blobs."""
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    centers = rng.normal(scale=3.0, size=(3, 16))
    y = rng.integers(0, 3, size=384).astype("int32")
    x = (centers[y] + rng.normal(size=(384, 16))).astype("float32")
    layers = [
        keras.layers.Dense(32, activation="relu"),
        keras.layers.Dense(3, activation="softmax"),
    ]
    teacher = keras.Sequential([keras.Input((16,)), *layers], name="teacher")
    teacher.compile("adam", "sparse_categorical_crossentropy")
    teacher.fit(x, y, epochs=5, batch_size=64, verbose=0)
    return teacher


@pytest.fixture
def trained_teacher(module_teacher):
    return module_teacher


def test_a_dense_cache_trains_the_student_as_the_live_teacher(
    tmp_path, blobs, trained_teacher, make_student
):
    x, y = blobs
    live = make_student(name="live")
    initial = live.get_weights()
    live_weights, live_history = train(trained_teacher, live, x, y, batch_size=32, shuffle=False)
    for dtype, tolerance in (("float32", 1e-5), ("float16", 2e-3)):
        cache = keras_kd.TeacherCache.write(
            trained_teacher, x, tmp_path / dtype, dtype=dtype, batch_size=100, shard_size=150
        )
        student = make_student(name="cached")
        student.set_weights(initial)
        batches = cache.dataset(x, y, batch_size=32, shuffle=False)
        # fit() would shuffle the order of the batches: the live run's order is kept.
        cached_weights, cached_history = train(cache, student, batches, shuffle=False)
        for expected, cached in zip(live_weights, cached_weights):
            np.testing.assert_allclose(
                cached, expected, rtol=tolerance, atol=tolerance, err_msg=dtype
            )
        for key in ("loss", "student_loss", "distillation_loss", "accuracy"):
            np.testing.assert_allclose(
                cached_history[key],
                live_history[key],
                rtol=10 * tolerance,
                atol=tolerance,
                err_msg=key,
            )


def test_shuffled_batches_keep_inputs_labels_and_targets_together(tmp_path, blobs, trained_teacher):
    x, y = blobs
    cache = keras_kd.TeacherCache.write(
        trained_teacher, x, tmp_path / "cache", dtype="float32", shard_size=100
    )
    batches = cache.dataset(x, y, batch_size=50, shuffle=True, seed=3)
    first_epoch = batches[0]
    batches.on_epoch_end()
    second_epoch = batches[0]
    assert not np.array_equal(first_epoch[0]["x"], second_epoch[0]["x"])  # reshuffled
    for inputs, labels in (first_epoch, second_epoch):
        rows = [int(np.flatnonzero((x == row).all(axis=1))[0]) for row in inputs["x"]]
        np.testing.assert_array_equal(labels, y[rows])
        expected = np.log(trained_teacher.predict(inputs["x"], verbose=0))
        np.testing.assert_allclose(inputs["teacher_targets"], expected, rtol=1e-5, atol=1e-5)
    assert len(batches) == 8 and len(batches[7][0]["x"]) == 34


def test_a_killed_write_resumes_computing_only_the_missing_shards(
    tmp_path, blobs, trained_teacher, monkeypatch
):
    x, _ = blobs
    reference = keras_kd.TeacherCache.write(
        trained_teacher, x, tmp_path / "whole", top_k=2, shard_size=100
    )
    original_save = cache_files.atomic_save

    def killed_in_shard_2(path, content):
        if "shard_00002_indices" in str(path):
            with open(f"{path}.partial-999", "wb") as f:  # half a file, as a kill leaves it
                f.write(b"\x93NUMPY")
            raise KeyboardInterrupt
        original_save(path, content)

    monkeypatch.setattr(cache_files, "atomic_save", killed_in_shard_2)
    with pytest.raises(KeyboardInterrupt):
        keras_kd.TeacherCache.write(
            trained_teacher, x, tmp_path / "resumed", top_k=2, shard_size=100
        )
    with pytest.raises(
        FileNotFoundError,
        match=r"No finished TeacherCache .*did not finish: run TeacherCache.write again",
    ):
        keras_kd.TeacherCache(tmp_path / "resumed")

    computed = []
    monkeypatch.setattr(cache_files, "atomic_save", original_save)
    original_outputs = cache_files.teacher_outputs
    monkeypatch.setattr(
        cache_files,
        "teacher_outputs",
        lambda *args: computed.append(len(args[1])) or original_outputs(*args),
    )
    resumed = keras_kd.TeacherCache.write(
        trained_teacher, x, tmp_path / "resumed", top_k=2, shard_size=100, batch_size=256
    )
    assert computed == [100, 84]  # shards 2 and 3 of 384 samples, not 0 and 1
    assert not [
        name
        for name in os.listdir(tmp_path / "resumed")
        if "partial" in name or name == "plan.json"
    ]
    rows = np.arange(len(x))
    for key in ("values", "rest", "indices"):
        np.testing.assert_array_equal(resumed.read(rows)[key], reference.read(rows)[key])
    assert resumed.manifest == reference.manifest
    computed.clear()
    keras_kd.TeacherCache.write(trained_teacher, x, tmp_path / "resumed", top_k=2, shard_size=100)
    assert computed == []  # a finished cache is opened, not recomputed


@pytest.mark.parametrize("finished", [True, False], ids=["finished", "unfinished"])
def test_a_resume_that_reads_the_outputs_otherwise_is_refused(
    tmp_path, blobs, trained_teacher, finished
):
    """Before: a top-k write resumed with another `teacher_outputs` stored
    its remaining shards from other numbers (the softmax head's
    probabilities read as logits), and a finished one was reopened as it was."""
    x, _ = blobs
    directory = tmp_path / "cache"
    settings = {"top_k": 2, "shard_size": 100, "dtype": "float32"}
    keras_kd.TeacherCache.write(
        trained_teacher, x, directory, teacher_outputs="probabilities", **settings
    )
    if not finished:  # as if killed after the first shards
        os.replace(directory / "manifest.json", directory / "plan.json")
        for name in ("values", "rest", "indices"):
            os.remove(directory / f"shard_00003_{name}.npy")
    state = "a finished" if finished else "an unfinished"
    with pytest.raises(
        ValueError,
        match=rf"holds {state} TeacherCache .*teacher_kind 'probabilities' there, 'logits' now",
    ):
        keras_kd.TeacherCache.write(
            trained_teacher, x, directory, teacher_outputs="logits", **settings
        )
    assert not (directory / "shard_00003_values.npy").exists() or finished


def test_other_data_or_a_changed_teacher_is_refused_naming_both_fingerprints(
    tmp_path, blobs, trained_teacher
):
    x, y = blobs
    cache = keras_kd.TeacherCache.write(trained_teacher, x, tmp_path / "cache")
    augmented = x + np.float32(0.01)
    other = cache_files.data_fingerprint(augmented)
    with pytest.raises(
        ValueError,
        match=rf"fingerprint {cache.data_fingerprint} .*fingerprint {other} .*augmented inputs need a live teacher",
    ):
        cache.dataset(augmented, y)
    with pytest.raises(ValueError, match=r"fingerprint .*shape \(383, 16\)"):
        cache.dataset(x[1:], y[1:])
    with pytest.raises(
        ValueError,
        match=r"takes the inputs as a NumPy array.*Received: an object of type generator.*augment",
    ):
        cache.dataset((row for row in x), y)

    changed_teacher = keras.models.clone_model(trained_teacher)
    changed_teacher.set_weights(trained_teacher.get_weights())
    changed_teacher.layers[0].kernel.assign(changed_teacher.layers[0].kernel + 0.5)
    changed = cache_files.teacher_fingerprint(changed_teacher)
    with pytest.raises(
        ValueError,
        match=rf"fingerprint {cache.teacher_fingerprint}, .*has fingerprint {changed}: its weights changed",
    ):
        keras_kd.TeacherCache(tmp_path / "cache", teacher=changed_teacher)
    with pytest.raises(
        ValueError,
        match=rf"another teacher, data or settings: teacher_fingerprint '{cache.teacher_fingerprint}' there, '{changed}' now",
    ):
        keras_kd.TeacherCache.write(changed_teacher, x, tmp_path / "cache")
    with pytest.raises(
        FileNotFoundError,
        match=r"No finished TeacherCache .*Write one with keras_kd.TeacherCache.write",
    ):
        keras_kd.TeacherCache(tmp_path)


def test_bad_settings_and_teachers_are_refused(tmp_path, blobs, trained_teacher, make_student):
    x, _ = blobs
    with pytest.raises(
        ValueError, match=r"`dtype` must be one of \('float16', 'float32'\). Received: dtype='int8'"
    ):
        keras_kd.TeacherCache.write(trained_teacher, x, tmp_path / "a", dtype="int8")
    with pytest.raises(ValueError, match=r"`top_k` must be None .* Received: top_k=0"):
        keras_kd.TeacherCache.write(trained_teacher, x, tmp_path / "a", top_k=0)
    with pytest.raises(
        ValueError, match=r"`top_k` must be at most the number of classes, 3. Received: top_k=4"
    ):
        keras_kd.TeacherCache.write(trained_teacher, x, tmp_path / "a", top_k=4)
    with pytest.raises(
        ValueError,
        match=r"received a list of 2 models. An ensemble's soft targets depend on the temperature",
    ):
        keras_kd.TeacherCache.write([trained_teacher, make_student()], x, tmp_path / "b")
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match=r"is not empty and holds no TeacherCache"):
        keras_kd.TeacherCache.write(trained_teacher, x, tmp_path / "c")


def test_a_teacher_squeezed_to_one_score_per_sample_is_refused(tmp_path, blobs):
    """Was: IndexError ("list index out of range") out of write (and out of
    `keras-kd cache`), its output shape () read for a last axis."""
    x, _ = blobs
    teacher = keras.Sequential(
        [keras.Input(x.shape[1:]), keras.layers.Dense(1, "sigmoid"), keras.layers.Reshape(())]
    )
    with pytest.raises(
        ValueError,
        match=r"TeacherCache\.write stores the teacher's outputs per unit, but '.*' outputs "
        r"one score per sample, shape \(samples,\).*Remove the final Reshape or squeeze",
    ):
        keras_kd.TeacherCache.write(teacher, x, tmp_path / "cache")
    assert not (tmp_path / "cache").exists()


def test_training_on_bare_inputs_and_feature_losses_are_clear_errors(
    tmp_path, blobs, trained_teacher, make_student
):
    x, y = blobs
    cache = keras_kd.TeacherCache.write(trained_teacher, x, tmp_path / "cache")
    with pytest.raises(
        ValueError,
        match=r"a distillation loss reads the teacher layers \['hidden'\] \(a feature loss such as FitNetHint",
    ):
        keras_kd.Distiller(cache, make_student(), keras_kd.losses.FitNetHint("hidden", "hidden"))
    distiller = compiled(keras_kd.Distiller(cache, make_student(), alpha=0.3))
    with pytest.raises(
        ValueError, match=r"reads the teacher's targets from the batch.*Train on cache.dataset"
    ):
        distiller.fit(x, y, epochs=1, verbose=0)
    with pytest.raises(
        ValueError, match=r"outputs shape \(None, 3\), student 'wide' outputs shape \(None, 5\)"
    ):
        keras_kd.Distiller(cache, make_student(classes=5, name="wide"))


def numpy_kd(teacher_probabilities, student_logits, temperature):
    """T^2 KL(teacher_T || student_T), in float64; the teacher given as probabilities at T=1."""
    tempered = teacher_probabilities ** (1 / temperature)
    q = tempered / tempered.sum(-1, keepdims=True)
    s = student_logits / temperature
    log_p = s - s.max(-1, keepdims=True)
    log_p = log_p - np.log(np.exp(log_p).sum(-1, keepdims=True))
    return temperature**2 * (q * (np.log(q) - log_p)).sum(-1)


def test_top_k_targets_against_the_dense_loss_in_numpy(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 8)).astype("float32")
    teacher = keras.Sequential(
        [
            keras.Input((8,)),
            keras.layers.Dense(10, kernel_initializer=keras.initializers.RandomNormal(stddev=2.0)),
        ]
    )
    student_logits = rng.normal(size=(64, 10))
    logits = teacher.predict(x, verbose=0).astype("float64")
    p = np.exp(logits - logits.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    loss = keras_kd.losses.SoftTargetKD(temperature=3.0)
    student = keras_kd.losses.ModelOutputs(student_logits.astype("float32"), "logits")

    def library_loss(cache):
        view = cache.view(cache.targets(cache.read(np.arange(64))))
        return ops.convert_to_numpy(loss(view, student, None))

    dense = keras_kd.TeacherCache.write(teacher, x, tmp_path / "dense", dtype="float32")
    np.testing.assert_allclose(library_loss(dense), numpy_kd(p, student_logits, 3.0), rtol=1e-4)
    full = keras_kd.TeacherCache.write(teacher, x, tmp_path / "top10", top_k=10, dtype="float32")
    np.testing.assert_allclose(library_loss(full), numpy_kd(p, student_logits, 3.0), rtol=1e-4)

    top3 = keras_kd.TeacherCache.write(teacher, x, tmp_path / "top3", top_k=3, dtype="float32")
    stored = top3.read(np.arange(64))
    np.testing.assert_array_equal(stored["indices"], np.argsort(-p, axis=-1, kind="stable")[:, :3])
    kept = np.take_along_axis(p, stored["indices"], -1)
    sparse_p = np.broadcast_to(
        ((1 - kept.sum(-1)) / 7)[:, None], p.shape
    ).copy()  # the rest, spread evenly
    np.put_along_axis(sparse_p, stored["indices"], kept, -1)
    np.testing.assert_allclose(
        library_loss(top3), numpy_kd(sparse_p, student_logits, 3.0), rtol=1e-4
    )
    # What the sparse targets cost against the dense ones: at T = 1, little where the top 3
    # hold most of the mass; a high temperature lifts the tail, and the gap with it.
    loss.temperature = 1.0
    gap = np.abs(library_loss(top3) - numpy_kd(p, student_logits, 1.0))
    assert np.all(gap[kept.sum(-1) > 0.99] < 0.1), gap[kept.sum(-1) > 0.99]

    top3_half = keras_kd.TeacherCache.write(
        teacher, x, tmp_path / "top3_16", top_k=3, dtype="float16"
    )
    np.testing.assert_allclose(library_loss(top3_half), library_loss(top3), rtol=2e-2, atol=2e-3)
    assert os.path.getsize(tmp_path / "top3_16" / "shard_00000_values.npy") < os.path.getsize(
        tmp_path / "top3" / "shard_00000_values.npy"
    )


def test_top_k_cache_trains_a_student(tmp_path, blobs, trained_teacher, make_student):
    x, y = blobs
    cache = keras_kd.TeacherCache.write(trained_teacher, x, tmp_path / "cache", top_k=2)
    weights, history = train(cache, make_student(), cache.dataset(x, y, batch_size=64))
    assert np.isfinite(history["loss"]).all() and history["loss"][-1] < history["loss"][0]


def test_a_distiller_with_a_cache_saves_and_loads(tmp_path, blobs, trained_teacher, make_student):
    x, y = blobs
    cache = keras_kd.TeacherCache.write(trained_teacher, x, tmp_path / "cache")
    distiller = compiled(keras_kd.Distiller(cache, make_student(), alpha=0.3))
    distiller.fit(cache.dataset(x, y, batch_size=64), epochs=1, verbose=0)
    assert distiller.teacher.get_config()["directory"] == str(tmp_path / "cache")
    distiller.save(tmp_path / "distiller.keras")
    loaded = keras.saving.load_model(tmp_path / "distiller.keras")
    assert isinstance(loaded.teacher, keras_kd.TeacherCache)
    assert loaded.teacher.directory == cache.directory and loaded.teachers == []
    np.testing.assert_allclose(
        loaded.predict(x, verbose=0), distiller.predict(x, verbose=0), rtol=1e-5, atol=1e-6
    )
    loaded.fit(cache.dataset(x, y, batch_size=64), epochs=1, verbose=0)


def test_the_manifest_is_written_last_and_says_what_is_stored(tmp_path, blobs, trained_teacher):
    x, _ = blobs
    keras_kd.TeacherCache.write(trained_teacher, x, tmp_path / "cache", top_k=2, shard_size=200)
    with open(tmp_path / "cache" / "manifest.json") as f:
        manifest = json.load(f)
    assert (
        manifest["samples"] == 384
        and manifest["top_k"] == 2
        and manifest["teacher_kind"] == "probabilities"
    )
    assert sorted(os.listdir(tmp_path / "cache")) == [
        "manifest.json",
        "shard_00000_indices.npy",
        "shard_00000_rest.npy",
        "shard_00000_values.npy",
        "shard_00001_indices.npy",
        "shard_00001_rest.npy",
        "shard_00001_values.npy",
    ]
    assert np.load(tmp_path / "cache" / "shard_00001_values.npy").shape == (184, 2)


def test_the_command_line_caches_a_teacher_and_distils_from_the_cache(
    tmp_path, blobs, trained_teacher, make_student, capsys
):
    from keras_kd.cli import main

    x, y = blobs
    np.savez(tmp_path / "train.npz", x=x, y=y)
    trained_teacher.save(tmp_path / "teacher.keras")
    make_student().save(tmp_path / "student.keras")
    cache_dir = str(tmp_path / "cache")
    cache = [
        "cache",
        str(tmp_path / "teacher.keras"),
        "--data",
        str(tmp_path / "train.npz"),
        "-o",
        cache_dir,
    ]
    assert main(cache + ["--top-k", "2"]) == 0
    assert (
        f"Cached the teacher's outputs for 384 samples (top 2 classes, float16) in {cache_dir}"
        in capsys.readouterr().out
    )
    assert keras_kd.TeacherCache(cache_dir, teacher=trained_teacher).top_k == 2
    distill = [
        "distill",
        "--teacher",
        cache_dir,
        "--student",
        str(tmp_path / "student.keras"),
        "--data",
        str(tmp_path / "train.npz"),
        "--epochs",
        "1",
        "-o",
        str(tmp_path / "out.keras"),
    ]
    assert main(distill) == 0
    assert keras.saving.load_model(tmp_path / "out.keras").output_shape == (None, 3)

    np.savez(tmp_path / "other.npz", x=x[::-1], y=y[::-1])
    assert main(distill[:6] + [str(tmp_path / "other.npz")] + distill[7:]) == 2
    assert "error: The TeacherCache in" in capsys.readouterr().err
    assert main(distill + ["--validation-split", "0.2"]) == 2
    assert (
        "error: --validation-split is not available with a cached teacher"
        in capsys.readouterr().err
    )
    assert main(cache + ["--top-k", "0"]) == 2
    assert "error: --top-k must be at least 1. Received: --top-k 0." in capsys.readouterr().err
    assert (
        main(
            [
                "distill",
                "--teacher",
                str(tmp_path),
                "--student",
                str(tmp_path / "student.keras"),
                "--data",
                str(tmp_path / "train.npz"),
                "-o",
                str(tmp_path / "o.keras"),
            ]
        )
        == 2
    )
    assert "error: No finished TeacherCache in" in capsys.readouterr().err

"""Hostile inputs to the TeacherCache (issue 20, defects 4, 5, 8, 17-20).

Damaged files are refused by one reader that names the file; the write
checks its arguments before `plan.json`; a cache records what its targets
are and the losses read them as the live teacher's outputs; two writers
take turns.
"""

import json
import os
import threading

import keras
import numpy as np
import pytest

import keras_kd
from keras_kd.losses import ModelOutputs

X = np.random.default_rng(0).normal(size=(24, 4)).astype("float32")


def model(units, activation=None, seed=0, scale=1.0):
    keras.utils.set_random_seed(seed)
    init = keras.initializers.RandomNormal(stddev=scale)
    return keras.Sequential(
        [
            keras.Input((4,)),
            keras.layers.Dense(units, activation=activation, kernel_initializer=init),
        ]
    )


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    """A finished top-k cache in two shards, to damage copy by copy."""
    folder = tmp_path_factory.mktemp("cache") / "cache"
    keras_kd.TeacherCache.write(model(5), X, folder, top_k=2, shard_size=16)
    return folder


def damaged(written, tmp_path, file, content):
    import shutil

    folder = tmp_path / "copy"
    shutil.copytree(written, folder)
    path = folder / file
    if content is None:
        os.remove(path)
    elif callable(content):
        content(path)
    else:
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return folder


def manifest_with(**changes):
    def change(path):
        settings = json.loads(path.read_text())
        for key, value in changes.items():
            if value is KeyError:
                settings.pop(key)
            else:
                settings[key] = value
        path.write_text(json.dumps(settings))

    return change


def array(values):
    return lambda path: np.save(path, values)


def truncate(path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


# (id, file, new content, error, words)
DAMAGE = [
    (
        "manifest-not-json",
        "manifest.json",
        "{'samples': 3",
        ValueError,
        r"manifest.json is not valid JSON",
    ),
    (
        "manifest-a-list",
        "manifest.json",
        "[1, 2]",
        ValueError,
        r"must hold a JSON object of settings, but holds a list",
    ),
    (
        "manifest-missing-key",
        "manifest.json",
        manifest_with(samples=KeyError),
        ValueError,
        r"lacks the keys \['samples'\]",
    ),
    (
        "manifest-format-99",
        "manifest.json",
        manifest_with(format=99),
        ValueError,
        r"format=99.*newer keras-kd",
    ),
    (
        "manifest-samples-string",
        "manifest.json",
        manifest_with(samples="24"),
        ValueError,
        r"samples='24'.*integer >= 1",
    ),
    (
        "manifest-targets-unknown",
        "manifest.json",
        manifest_with(targets="logs"),
        ValueError,
        r"targets='logs'",
    ),
    (
        "shard-missing",
        "shard_00001_values.npy",
        None,
        FileNotFoundError,
        r"shard_00001_values.npy is missing",
    ),
    (
        "shard-truncated",
        "shard_00000_values.npy",
        truncate,
        ValueError,
        r"shard_00000_values.npy is damaged",
    ),
    (
        "shard-garbage",
        "shard_00000_rest.npy",
        b"\x00garbage" * 20,
        ValueError,
        r"shard_00000_rest.npy is damaged: it is not a whole .npy",
    ),
    (
        "shard-wrong-width",
        "shard_00000_values.npy",
        array(np.zeros((16, 3), "float16")),
        ValueError,
        r"shape \(16, 3\).*expects shape \(16, 2\)",
    ),
    (
        "shard-too-few-rows",
        "shard_00001_values.npy",
        array(np.zeros((5, 2), "float16")),
        ValueError,
        r"shape \(5, 2\).*expects shape \(8, 2\)",
    ),
    (
        "shard-wrong-dtype",
        "shard_00000_values.npy",
        array(np.zeros((16, 2), "float64")),
        ValueError,
        r"dtype float64.*dtype float16",
    ),
]


@pytest.mark.parametrize(
    "file, content, error, words", [d[1:] for d in DAMAGE], ids=[d[0] for d in DAMAGE]
)
def test_damaged_files_are_refused_naming_the_file(written, tmp_path, file, content, error, words):
    folder = damaged(written, tmp_path, file, content)
    with pytest.raises(error, match=words):
        keras_kd.TeacherCache(folder).read(np.arange(24))


def test_the_command_line_names_the_damaged_manifest(written, tmp_path, capsys):
    from keras_kd.cli import main

    folder = damaged(written, tmp_path, "manifest.json", "{'samples'")
    model(5).save(tmp_path / "student.keras")
    np.savez(tmp_path / "train.npz", x=X)
    code = main(
        [
            "distill",
            "--teacher",
            str(folder),
            "--student",
            str(tmp_path / "student.keras"),
            "--data",
            str(tmp_path / "train.npz"),
            "-o",
            str(tmp_path / "out.keras"),
        ]
    )
    assert code == 2
    assert "manifest.json is not valid JSON" in capsys.readouterr().err


# (id, call(tmp_path), error words or None for a correct result)
API = [
    (
        "directory-is-a-file",
        lambda p: (p / "f").write_text("x") and keras_kd.TeacherCache.write(model(3), X, p / "f"),
        r"writes a folder of files, but .* is a file",
    ),
    (
        "read-a-file",
        lambda p: (p / "f").write_text("x") and keras_kd.TeacherCache(p / "f"),
        r"It is a file, not a folder",
    ),
    (
        "read-minus-1",
        lambda p: keras_kd.TeacherCache.write(model(3), X, p / "c").read([-1]),
        r"holds samples 0 to 23, but 1 positions are outside \(first: \[-1\]\)",
    ),
    (
        "read-24",
        lambda p: keras_kd.TeacherCache.write(model(3), X, p / "c").read(np.array([24])),
        r"outside",
    ),
    (
        "read-floats",
        lambda p: keras_kd.TeacherCache.write(model(3), X, p / "c").read([0.5]),
        r"1-D array of integer sample positions",
    ),
    (
        "batch-size-true",
        lambda p: keras_kd.TeacherCache.write(model(3), X, p / "c", batch_size=True),
        r"`batch_size` must be an int >= 1. Received: batch_size=True",
    ),
    (
        "dataset-batch-size-true",
        lambda p: keras_kd.TeacherCache.write(model(3), X, p / "c").dataset(X, batch_size=True),
        r"`batch_size` must be an int >= 1",
    ),
    (
        "weights-without-labels",
        lambda p: keras_kd.TeacherCache.write(model(3), X, p / "c").dataset(
            X, sample_weight=np.ones(24)
        ),
        r"`sample_weight` without labels",
    ),
    (
        "nan-teacher-outputs",
        lambda p: keras_kd.TeacherCache.write(
            model(3), np.where(np.arange(24)[:, None] == 5, np.nan, X).astype("float32"), p / "c"
        ),
        r"NaN or infinite values for 1 samples \(first: \[5\]\)",
    ),
    (
        "inf-teacher-outputs",
        lambda p: keras_kd.TeacherCache.write(
            model(3, scale=1e38), X * 1e3, p / "c", dtype="float32"
        ),
        r"NaN or infinite values",
    ),
    # Correct results.
    (
        "read-empty",
        lambda p: keras_kd.TeacherCache.write(model(3), X, p / "c").read([]).shape == (0, 3),
        None,
    ),
    (
        "numpy-int-settings",
        lambda p: (
            keras_kd.TeacherCache.write(
                model(3), X, p / "c", top_k=np.int64(2), batch_size=np.int64(8)
            ).top_k
            == 2
        ),
        None,
    ),
    (
        "y-as-list",
        lambda p: (
            len(keras_kd.TeacherCache.write(model(3), X, p / "c").dataset(X, list(range(24)))[0])
            == 2
        ),
        None,
    ),
    (
        "sample-weight-moves-with-the-batch",
        lambda p: np.array_equal(
            keras_kd.TeacherCache.write(model(3), X, p / "c").dataset(
                X, np.zeros(24), batch_size=4, shuffle=False, sample_weight=np.arange(24.0)
            )[1][2],
            [4.0, 5.0, 6.0, 7.0],
        ),
        None,
    ),
]


@pytest.mark.parametrize("call, words", [a[1:] for a in API], ids=[a[0] for a in API])
def test_the_cache_api_refuses_clearly_or_gives_the_result(tmp_path, call, words):
    if words is None:
        assert call(tmp_path) is True
        return
    with pytest.raises((ValueError, OSError), match=words):
        call(tmp_path)
    assert not (tmp_path / "c" / "plan.json").exists()


@pytest.mark.parametrize(
    "first, retry, words",
    [
        (
            dict(top_k=9),
            dict(top_k=2, dtype="float32"),
            r"`top_k` must be at most the number of classes, 5",
        ),
        (dict(dtype="float16"), dict(dtype="float32"), r"beyond float16's largest value"),
    ],
    ids=["top-k-beyond-classes", "float16-overflow"],
)
def test_the_retry_an_error_advises_is_accepted(tmp_path, first, retry, words):
    teacher = model(5, scale=1e4)
    with pytest.raises(ValueError, match=words):
        keras_kd.TeacherCache.write(teacher, X * 10, tmp_path / "c", **first)
    assert not (tmp_path / "c" / "plan.json").exists()
    cache = keras_kd.TeacherCache.write(teacher, X * 10, tmp_path / "c", **retry)
    assert len(cache) == 24


def live_and_cached(tmp_path, teacher, top_k=None):
    cache = keras_kd.TeacherCache.write(teacher, X, tmp_path / "c", top_k=top_k, dtype="float32")
    kind = (
        "probabilities"
        if teacher.layers[-1].activation.__name__ in ("softmax", "sigmoid")
        else "logits"
    )
    live = ModelOutputs(keras.ops.convert_to_tensor(teacher.predict(X, verbose=0)), kind)
    return live, cache.view(cache.read(np.arange(24))), cache


def loss_value(name, teacher, student):
    return float(
        keras.ops.convert_to_numpy(keras.ops.mean(keras_kd.losses.get(name)(teacher, student)))
    )


# (id, teacher head, loss, student kind): the cached teacher reads as the live one.
SAME_AS_LIVE = [
    ("regression-one-unit-mse", (1, None), "mse", "logits"),
    ("regression-one-unit-huber", (1, None), "huber", "logits"),
    ("sigmoid-binary-kd", (1, "sigmoid"), "binary_kd", "logits"),
    ("sigmoid-mse-sigmoid-student", (1, "sigmoid"), "mse", "probabilities"),
    ("softmax-kd", (5, "softmax"), "kd", "logits"),
    ("softmax-mse-softmax-student", (5, "softmax"), "mse", "probabilities"),
    ("logits-dist", (5, None), "dist", "logits"),
]


@pytest.mark.parametrize(
    "head, loss, student_kind", [s[1:] for s in SAME_AS_LIVE], ids=[s[0] for s in SAME_AS_LIVE]
)
def test_a_dense_float32_cache_reads_as_the_live_teacher(tmp_path, head, loss, student_kind):
    live, cached, cache = live_and_cached(tmp_path, model(*head, scale=2.0))
    assert cache.kinds == [live.kind]
    rng = np.random.default_rng(1)
    student = rng.normal(size=keras.ops.shape(live.outputs)).astype("float32")
    if student_kind == "probabilities":
        student = keras.ops.convert_to_numpy(
            keras.ops.sigmoid(student) if head[0] == 1 else keras.ops.softmax(student)
        )
    student = ModelOutputs(student, student_kind)
    np.testing.assert_allclose(
        loss_value(loss, cached, student), loss_value(loss, live, student), rtol=1e-5, atol=1e-6
    )


@pytest.mark.parametrize(
    "head, student_activation, top_k, words",
    [
        (
            (5, None),
            None,
            2,
            r"teacher's targets are top-k log-probabilities, which keep no raw outputs",
        ),
        ((1, "sigmoid"), None, None, r"the teacher outputs probabilities and the student logits"),
        ((1, None), "sigmoid", None, r"the teacher outputs logits and the student probabilities"),
    ],
    ids=[
        "mse-from-top-k",
        "mse-sigmoid-teacher-linear-student",
        "mse-linear-teacher-sigmoid-student",
    ],
)
def test_value_losses_refuse_a_cache_as_they_refuse_the_live_teacher(
    tmp_path, head, student_activation, top_k, words
):
    teacher = model(*head)
    student = model(head[0], student_activation, seed=1)
    cache = keras_kd.TeacherCache.write(teacher, X, tmp_path / "c", top_k=top_k)
    with pytest.raises(ValueError, match=words):
        keras_kd.Distiller(cache, student, distillation_loss="mse")
    if top_k is None:  # The live teacher is refused the same way.
        with pytest.raises(ValueError, match=words):
            keras_kd.Distiller(teacher, student, distillation_loss="mse")


def test_two_writers_of_one_cache_take_turns(tmp_path):
    # Two copies of one teacher (same weights), as two jobs would load it.
    teachers = [model(3), model(3)]
    results, errors = [], []

    def write(teacher):
        try:
            results.append(keras_kd.TeacherCache.write(teacher, X, tmp_path / "c", shard_size=4))
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=write, args=(t,)) for t in teachers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    assert len(results) == 2
    np.testing.assert_array_equal(results[0].read(np.arange(24)), results[1].read(np.arange(24)))
    assert sorted(os.listdir(tmp_path / "c"))[0] == "manifest.json"


def test_the_cache_command_names_inputs_of_the_wrong_width(tmp_path, capsys):
    from keras_kd.cli import main

    model(3).save(tmp_path / "teacher.keras")
    np.savez(tmp_path / "wide.npz", x=np.zeros((8, 6), "float32"))
    code = main(
        [
            "cache",
            str(tmp_path / "teacher.keras"),
            "--data",
            str(tmp_path / "wide.npz"),
            "-o",
            str(tmp_path / "c"),
        ]
    )
    assert code == 2
    err = capsys.readouterr().err
    assert "the inputs 'x' have shape (8, 6), but the teacher expects (n, 4)" in err
    assert not (tmp_path / "c").exists()

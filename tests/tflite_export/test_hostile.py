"""Hostile inputs and faults on the export side (issue 14): `tflite_export.convert`,
`evaluate`, the `keras-kd` commands, and faults (signals, a killed child, a
read-only folder, a full disk).

Every case asserts the exception's type and the words of its message (or,
for a command, exit status 2, `error: ...` and no traceback), or the correct
result, and that no file that existed before was changed or lost: the test
folder is hashed before and after. Fault cases run as subprocesses with time
limits. The same file runs on TensorFlow, JAX and PyTorch.
"""

import hashlib
import os
import signal
import subprocess
import sys
import time

import keras
import numpy as np
import pytest

import tflite_export
from keras_kd import files
from keras_kd.cli import main
from tflite_export._worker import _runner
from tflite_export._worker._job import Job
from tflite_export.tflite import _calibration

FEATURES = 8
CLASSES = 3
TIMEOUT = 120


def _model(name="student"):
    return keras.Sequential([keras.Input((FEATURES,)), keras.layers.Dense(CLASSES)], name=name)


def _cli(*arguments):
    return [sys.executable, "-m", "keras_kd.cli", *map(str, arguments)]


def _hashes(folder):
    """`{relative path: sha256}` of every file under `folder`."""
    found = {}
    for root, _, names in os.walk(folder):
        for name in names:
            path = os.path.join(root, name)
            with open(path, "rb") as f:
                found[os.path.relpath(path, folder)] = hashlib.sha256(f.read()).hexdigest()
    return found


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """One folder of inputs, converted once: models, data, a float .tflite."""
    folder = tmp_path_factory.mktemp("hostile")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(24, FEATURES)).astype("float32")
    y = rng.integers(0, CLASSES, size=24)
    model = _model()
    model.save(folder / "m.keras")
    _model("teacher").save(folder / "teacher.keras")
    np.savez(folder / "data.npz", x=x, y=y)
    np.savez(folder / "empty.npz", x=np.zeros((0, FEATURES), "float32"))
    np.savez(folder / "nan.npz", x=np.full((4, FEATURES), np.nan, "float32"))
    np.save(folder / "inf.npy", np.full((4, FEATURES), np.inf, "float32"))
    np.savez(folder / "bad_labels.npz", x=x, y=y + 10)
    (folder / "text.npz").write_text("not an archive\n")
    (folder / "text.npy").write_text("not an array\n")
    (folder / "labels.json").write_text('["a", "b", "c"]\n')
    (folder / "sub").mkdir()
    # The one conversion of the module (a TensorFlow child on JAX and
    # PyTorch), as `keras-kd export m.keras -o a.tflite | head -c 0`: the
    # reader is gone before the command prints (test_broken_pipe_...).
    export = subprocess.Popen(
        _cli("export", folder / "m.keras", "-o", folder / "a.tflite"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    export.stdout.close()
    _, err = export.communicate(timeout=TIMEOUT)
    return {
        "folder": folder,
        "model": model,
        "x": x,
        "y": y,
        "export": (export.returncode, err.decode()),
    }


@pytest.fixture
def unchanged(world):
    """Asserts that the case changed no file of the world's folder."""
    before = _hashes(world["folder"])
    yield
    assert _hashes(world["folder"]) == before


def _mount(folder, size, read_only=False):
    """Mounts a small tmpfs on `folder`; skips where mounting is not allowed."""
    folder.mkdir(exist_ok=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
        capture_output=True,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    return folder


def _umount(folder):
    subprocess.run(["umount", "-l", str(folder)], capture_output=True)


def _remount_read_only(folder):
    subprocess.run(["mount", "-o", "remount,ro", str(folder)], check=True)


# -- The Python API: one table ---------------------------------------------------


def _distiller(w):
    from keras_kd import Distiller

    return Distiller(teacher=_model("teacher"), student=w["model"])


API_CASES = [
    # (id, call(world, folder), exception type, words of the message)
    (
        "convert-to-own-sidecar-name",
        lambda w, f: tflite_export.convert(w["model"], str(f / "sub" / "model.json"), verbose=0),
        ValueError,
        "name of its own sidecar",
    ),
    (
        "convert-over-its-source-model",
        lambda w, f: tflite_export.convert(str(f / "m.keras"), str(f / "m.keras"), verbose=0),
        ValueError,
        "is also an input",
    ),
    (
        "calibration-empty-dict",
        lambda w, f: _calibration.draw_samples({}, [(FEATURES,)], 10),
        ValueError,
        "empty dict",
    ),
    (
        "convert-all-nan-calibration",
        lambda w, f: tflite_export.convert(
            w["model"],
            str(f / "sub" / "q.tflite"),
            "int8",
            np.full((8, FEATURES), np.nan),
            verbose=0,
        ),
        ValueError,
        "representative_data holds 64 NaN and 0 infinite",
    ),
    (
        "convert-inf-calibration",
        lambda w, f: tflite_export.convert(
            w["model"], str(f / "sub" / "q.tflite"), "int8", w["x"] * np.inf, verbose=0
        ),
        ValueError,
        "infinite values",
    ),
    (
        "convert-normalization-std-nan",
        lambda w, f: tflite_export.convert(
            w["model"],
            str(f / "sub" / "n.tflite"),
            normalization={"mean": 0.0, "std": float("nan")},
        ),
        ValueError,
        "must hold finite numbers",
    ),
    (
        "convert-normalization-mean-inf-list",
        lambda w, f: tflite_export.convert(
            w["model"], str(f / "sub" / "n.tflite"), normalization={"mean": [np.inf], "std": 1.0}
        ),
        ValueError,
        "must hold finite numbers",
    ),
    (
        "convert-normalization-bool",
        lambda w, f: tflite_export.convert(
            w["model"], str(f / "sub" / "n.tflite"), normalization={"mean": True, "std": 1.0}
        ),
        ValueError,
        "must be a number or a list of numbers",
    ),
    (
        "convert-a-distiller",
        lambda w, f: tflite_export.convert(_distiller(w), str(f / "sub" / "d.tflite")),
        ValueError,
        "distiller.student",
    ),
    (
        "convert-missing-folder",
        lambda w, f: tflite_export.convert(w["model"], str(f / "absent" / "a.tflite")),
        ValueError,
        "folder of the output path does not exist",
    ),
    (
        "convert-zero-calibration-samples",
        lambda w, f: tflite_export.convert(
            w["model"], str(f / "sub" / "q.tflite"), "int8", w["x"], num_calibration_samples=0
        ),
        ValueError,
        "num_calibration_samples must be an integer of at least 1",
    ),
    (
        "evaluate-reference-n-by-1",
        lambda w, f: tflite_export.evaluate(
            str(f / "a.tflite"), w["x"], reference=np.zeros((24, 1)), latency_samples=0
        ),
        ValueError,
        "reference outputs have shape (24, 1)",
    ),
    (
        "evaluate-reference-wrong-rows",
        lambda w, f: tflite_export.evaluate(
            str(f / "a.tflite"), w["x"], reference=np.zeros((5, CLASSES)), latency_samples=0
        ),
        ValueError,
        "reference outputs have 5 rows",
    ),
    (
        "evaluate-labels-out-of-range",
        lambda w, f: tflite_export.evaluate(
            str(f / "a.tflite"), w["x"], w["y"] + 10, latency_samples=0
        ),
        ValueError,
        "the model has 3 classes",
    ),
    (
        "evaluate-fractional-labels",
        lambda w, f: tflite_export.evaluate(
            str(f / "a.tflite"), w["x"], w["y"] + 0.5, latency_samples=0
        ),
        ValueError,
        "must hold integer class labels",
    ),
    (
        "evaluate-negative-latency-samples",
        lambda w, f: tflite_export.evaluate(str(f / "a.tflite"), w["x"], latency_samples=-1),
        ValueError,
        "latency_samples must be an integer of at least 0",
    ),
    (
        "evaluate-negative-warmup",
        lambda w, f: tflite_export.evaluate(str(f / "a.tflite"), w["x"], warmup=-2),
        ValueError,
        "warmup must be an integer of at least 0",
    ),
    (
        "evaluate-empty-x",
        lambda w, f: tflite_export.evaluate(str(f / "a.tflite"), w["x"][:0]),
        ValueError,
        "x holds no samples",
    ),
    (
        "evaluate-nan-x",
        lambda w, f: tflite_export.evaluate(str(f / "a.tflite"), w["x"] * np.nan),
        ValueError,
        "x holds 192 NaN",
    ),
    (
        "evaluate-wrong-sample-shape",
        lambda w, f: tflite_export.evaluate(
            str(f / "a.tflite"), np.zeros((4, 5)), latency_samples=0
        ),
        ValueError,
        "x has samples of shape (5,), but the file expects (8,)",
    ),
    (
        "reference-outputs-empty-x",
        lambda w, f: tflite_export.reference_outputs(np.zeros((0, 3)), w["x"]),
        ValueError,
        "reference outputs have 0 rows",
    ),
]


@pytest.mark.parametrize(
    "call,error,words", [c[1:] for c in API_CASES], ids=[c[0] for c in API_CASES]
)
def test_api_refuses_before_any_work(world, unchanged, call, error, words):
    with pytest.raises(error) as raised:
        call(world, world["folder"])
    assert words in str(raised.value)


@pytest.mark.parametrize("form", ["list-of-lists", "dict", "tuple-of-lists"])
def test_calibration_as_plain_python_or_dict_is_read(world, form):
    rows = world["x"][:5].tolist()
    data = {"list-of-lists": rows, "dict": {"x": world["x"][:5]}, "tuple-of-lists": tuple(rows)}[
        form
    ]
    (drawn,) = _calibration.draw_samples(data, [(FEATURES,)], 10)
    np.testing.assert_allclose(drawn, world["x"][:5])


def test_describe_exit_names_the_signal():
    assert _runner.describe_exit(1) == "exit code 1"
    assert "SIGSEGV" in _runner.describe_exit(-11)
    assert "NaN or infinite" in _runner.describe_exit(-11)


def test_a_killed_child_is_an_export_error_naming_the_signal(tmp_path, monkeypatch):
    """The child kills itself with SIGKILL, as the out-of-memory killer would."""
    (tmp_path / "suicide.py").write_text(
        "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)\n"
    )
    monkeypatch.setattr(_runner, "_ENTRY_POINT", "suicide")
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    work = tmp_path / "job"
    work.mkdir()
    job = Job("convert", str(work), str(work / "m.keras"), str(work / "m.tflite"), "float32")
    with pytest.raises(tflite_export.ExportError) as raised:
        _runner.run_job(job, "converts the model to TFLite")
    assert "killed by signal SIGKILL" in str(raised.value)


def test_sidecar_and_file_are_published_together(tmp_path, monkeypatch):
    """A failure while staging the sidecar leaves neither file changed."""
    old = {tmp_path / "s.tflite": b"old", tmp_path / "s.json": b"{}"}
    for path, content in old.items():
        path.write_bytes(content)
    real = files._stage

    def stage(path, content):
        if str(path).endswith(".json"):
            raise OSError(28, "No space left on device")
        return real(path, content)

    monkeypatch.setattr(files, "_stage", stage)
    with pytest.raises(OSError, match="Could not write .*s.json .*No space left"):
        files.atomic_write_all(
            {str(tmp_path / "s.tflite"): b"new", str(tmp_path / "s.json"): "{1}"}
        )
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == {
        "s.tflite": b"old",
        "s.json": b"{}",
    }


def test_full_disk_atomic_write_keeps_the_old_file(tmp_path):
    disk = _mount(tmp_path / "disk", "64k")
    try:
        (disk / "a.tflite").write_bytes(b"good")
        with pytest.raises(OSError, match="Could not write .*a.tflite"):
            files.atomic_write(str(disk / "a.tflite"), b"x" * 200_000)
        assert os.listdir(disk) == ["a.tflite"]
        assert (disk / "a.tflite").read_bytes() == b"good"
    finally:
        _umount(disk)


# -- Every command: one table ----------------------------------------------------

CLI_CASES = [
    # (id, arguments ({f} is the world's folder), words of the error)
    ("demo-epochs-zero", "demo --epochs 0", "--epochs must be at least 1"),
    ("demo-temperature-nan", "demo --temperature nan", "--temperature must be a finite"),
    ("demo-alpha-two", "demo --alpha 2", "--alpha must be in [0, 1]"),
    ("demo-save-dir-is-a-file", "demo --save-dir {f}/m.keras", "is a file, not a folder"),
    (
        "distill-epochs-negative",
        "distill --teacher {f}/teacher.keras --student {f}/m.keras --data {f}/data.npz "
        "-o {f}/sub/d.keras --epochs -3",
        "--epochs and --batch-size must be at least 1",
    ),
    (
        "distill-empty-data",
        "distill --teacher {f}/teacher.keras --student {f}/m.keras --data {f}/empty.npz "
        "-o {f}/sub/d.keras",
        "holds no samples",
    ),
    (
        "distill-nan-data",
        "distill --teacher {f}/teacher.keras --student {f}/m.keras --data {f}/nan.npz "
        "-o {f}/sub/d.keras",
        "NaN",
    ),
    (
        "distill-output-is-the-teacher",
        "distill --teacher {f}/teacher.keras --student {f}/m.keras --data {f}/data.npz "
        "-o {f}/teacher.keras",
        "is also --teacher",
    ),
    (
        "distill-temperature-nan",
        "distill --teacher {f}/teacher.keras --student {f}/m.keras --data {f}/data.npz "
        "-o {f}/sub/d.keras --temperature nan",
        "--temperature must be a finite number",
    ),
    (
        "distill-text-file-as-npz",
        "distill --teacher {f}/teacher.keras --student {f}/m.keras --data {f}/text.npz "
        "-o {f}/sub/d.keras",
        "text.npz' is not a readable .npz file",
    ),
    (
        "export-output-is-the-model",
        "export {f}/m.keras -o {f}/m.keras",
        "--output must end in .tflite",
    ),
    (
        "export-sidecar-over-labels-file",
        "export {f}/m.keras -o {f}/labels.tflite --labels {f}/labels.json",
        "Its JSON sidecar",
    ),
    (
        "export-missing-npy",
        "export {f}/m.keras --quantization int8 --calibration {f}/no.npy",
        "no such file",
    ),
    (
        "export-inf-npy",
        "export {f}/m.keras --quantization int8 --calibration {f}/inf.npy -o {f}/sub/q.tflite",
        "infinite values",
    ),
    (
        "export-nan-npz",
        "export {f}/m.keras --quantization int8 --calibration {f}/nan.npz -o {f}/sub/q.tflite",
        "32 NaN",
    ),
    (
        "export-text-file-as-npy",
        "export {f}/m.keras --quantization int8 --calibration {f}/text.npy -o {f}/sub/q.tflite",
        "text.npy' is not a readable .npy file",
    ),
    (
        "export-normalization-nan",
        "export {f}/m.keras --normalization 0 nan -o {f}/sub/n.tflite",
        "must hold finite numbers",
    ),
    (
        "export-zero-calibration-samples",
        "export {f}/m.keras --num-calibration-samples 0 -o {f}/sub/n.tflite",
        "--num-calibration-samples must be at least 1",
    ),
    ("export-missing-folder", "export {f}/m.keras -o {f}/absent/n.tflite", "does not exist"),
    ("evaluate-data-npy", "evaluate {f}/a.tflite --data {f}/inf.npy", "--data must be a .npz file"),
    (
        "evaluate-latency-negative",
        "evaluate {f}/a.tflite --data {f}/data.npz --latency-samples -1",
        "--latency-samples must be 0 or more",
    ),
    (
        "evaluate-labels-out-of-range",
        "evaluate {f}/a.tflite --data {f}/bad_labels.npz",
        "the model has 3 classes",
    ),
    ("evaluate-empty-data", "evaluate {f}/a.tflite --data {f}/empty.npz", "holds no samples"),
    (
        "evaluate-threads-zero",
        "evaluate {f}/a.tflite --data {f}/data.npz --threads 0",
        "--threads must be at least 1",
    ),
    (
        "report-markdown-over-input-sidecar",
        "report {f}/a.tflite --data {f}/data.npz --markdown {f}/a.json",
        "would overwrite an input",
    ),
    (
        "report-html-over-data",
        "report {f}/a.tflite --data {f}/data.npz --html {f}/data.npz",
        "would overwrite an input",
    ),
    (
        "report-latency-negative",
        "report {f}/a.tflite --data {f}/data.npz --latency-samples -5",
        "--latency-samples must be 0 or more",
    ),
    ("report-empty-data", "report {f}/a.tflite --data {f}/empty.npz", "holds no samples"),
    (
        "qat-output-keras",
        "qat {f}/m.keras --teacher {f}/teacher.keras --data {f}/data.npz -o {f}/q.keras",
        "--output must end in .tflite",
    ),
    (
        "qat-missing-folder",
        "qat {f}/m.keras --teacher {f}/teacher.keras --data {f}/data.npz -o {f}/absent/q.tflite",
        "does not exist",
    ),
    (
        "qat-empty-data",
        "qat {f}/m.keras --teacher {f}/teacher.keras --data {f}/empty.npz -o {f}/sub/q.tflite",
        "holds no samples",
    ),
    (
        "prune-epochs-zero",
        "prune {f}/m.keras --teacher {f}/teacher.keras --data "
        "{f}/data.npz -o {f}/sub/p.tflite --epochs 0",
        "must be at least 1",
    ),
    (
        "prune-teacher-text-npy",
        "prune {f}/m.keras --teacher {f}/text.npy --data {f}/data.npz -o {f}/sub/p.tflite",
        "text.npy' is not a readable .npy file",
    ),
]


@pytest.mark.parametrize(
    "arguments,words", [c[1:] for c in CLI_CASES], ids=[c[0] for c in CLI_CASES]
)
def test_every_command_reports_the_mistake(world, unchanged, capsys, arguments, words):
    argv = arguments.format(f=world["folder"]).split()
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ")
    assert "Traceback" not in err
    assert words in err


# -- Faults, as subprocesses -----------------------------------------------------

# The child restores Python's own Ctrl-C handler: a shell starts background jobs
# with SIGINT ignored, and children inherit that (as CI's jobs may be). On
# TensorFlow the conversion runs in this process: the child paces its calibration
# samples and says when it is in the middle of it, so the signal cannot come
# after a fast machine has already finished (it did, on CI).
EXPORT_SCRIPT = """
import signal, sys, time, keras, numpy as np, tflite_export
signal.signal(signal.SIGINT, signal.default_int_handler)
if keras.backend.backend() == "tensorflow":
    from tflite_export.tflite import _converter
    unpaced = _converter._representative
    def paced(calibration, verbose):
        def samples():
            for i, sample in enumerate(unpaced(calibration, verbose)()):
                if i == 1:
                    print("converting", flush=True)
                time.sleep(0.001)
                yield sample
        return samples
    _converter._representative = paced
model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(3)])
x = np.random.default_rng(0).normal(size=(30000, 8)).astype("float32")
print("ready", flush=True)
tflite_export.convert(model, sys.argv[1], "int8", x, num_calibration_samples=30000)
print("done", flush=True)
"""


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_during_export_leaves_nothing_behind(tmp_path, signum):
    """The old file stays whole; no partial file, no temporary folder."""
    out, scratch = tmp_path / "out", tmp_path / "tmp"
    out.mkdir()
    scratch.mkdir()
    (out / "a.tflite").write_bytes(b"the old file")
    env = dict(os.environ, TMPDIR=str(scratch), PYTHONUNBUFFERED="1")
    process = subprocess.Popen(
        [sys.executable, "-c", EXPORT_SCRIPT, str(out / "a.tflite")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    assert process.stdout.readline().strip() == b"ready"
    deadline = time.monotonic() + TIMEOUT
    if keras.backend.backend() == "tensorflow":
        # (The progress bar shares the line.)
        assert process.stdout.readline().strip().endswith(b"converting")
    else:  # wait for the child's job folder
        while not any(p.name.startswith("keras_kd_convert_") for p in scratch.iterdir()):
            assert time.monotonic() < deadline and process.poll() is None
            time.sleep(0.05)
    time.sleep(0.3)
    process.send_signal(signum)
    _, err = process.communicate(timeout=TIMEOUT)
    # The statuses a shell shows: 143 (128 + SIGTERM), and 130 for Ctrl-C
    # (Python ends itself by SIGINT after a KeyboardInterrupt).
    expected = 143 if signum == signal.SIGTERM else -signal.SIGINT
    assert process.returncode == expected, err.decode()
    assert os.listdir(out) == ["a.tflite"]
    assert (out / "a.tflite").read_bytes() == b"the old file"
    # (TensorFlow's autograph leaves its own generated files there.)
    assert [n for n in os.listdir(scratch) if not n.startswith("__autograph")] == []


def test_broken_pipe_is_quiet_and_the_file_is_written(world):
    """`keras-kd export ... | head -c 0` (done by the `world` fixture): exit
    status 141 (128 + SIGPIPE) as a Unix tool's, no traceback, no
    converter error, and the file and its sidecar written whole."""
    status, err = world["export"]
    assert status == 141, err
    assert "Traceback" not in err and "rejected" not in err and "BrokenPipe" not in err
    path = world["folder"] / "a.tflite"
    assert tflite_export.evaluate(str(path), world["x"], latency_samples=0).samples == 24
    assert os.path.isfile(world["folder"] / "a.json")


def _fill(path):
    """Writes zeros to `path` until the disk is full."""
    with open(path, "wb", buffering=0) as f:
        try:
            while True:
                f.write(b"\0" * 4096)
        except OSError:
            pass


def _distill_into(world, output):
    f = world["folder"]
    return subprocess.run(
        _cli(
            "distill",
            "--teacher",
            f / "teacher.keras",
            "--student",
            f / "m.keras",
            "--data",
            f / "data.npz",
            "-o",
            output,
            "--epochs",
            1,
        ),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )


@pytest.mark.slow
def test_distill_into_a_read_only_folder_refuses_before_training(world, tmp_path):
    folder = _mount(tmp_path / "ro", "64k")
    try:
        (folder / "d.keras").write_bytes(b"a model that must stay")
        _remount_read_only(folder)
        done = _distill_into(world, folder / "d.keras")
        assert done.returncode == 2, done.stderr
        assert done.stderr.startswith("error: --output: cannot write in the folder")
        assert "read-only" in done.stderr and "Traceback" not in done.stderr
        assert "Epoch" not in done.stdout  # refused before training
        assert (folder / "d.keras").read_bytes() == b"a model that must stay"
    finally:
        _umount(folder)


@pytest.mark.slow
def test_distill_onto_a_full_disk_keeps_both_models(world, tmp_path):
    """The save fails for space: the old file stays, the trained one is kept."""
    folder = _mount(tmp_path / "full", "64k")
    try:
        (folder / "d.keras").write_bytes(b"a model that must stay")
        _fill(folder / "filler")
        done = _distill_into(world, folder / "d.keras")
        assert done.returncode == 2, done.stderr
        assert done.stderr.startswith("error: could not write")
        assert "The trained model was saved to" in done.stderr
        assert "Traceback" not in done.stderr
        kept = done.stderr.split("saved to ")[1].split(" instead")[0]
        assert keras.saving.load_model(kept).count_params() == FEATURES * CLASSES + CLASSES
        assert (folder / "d.keras").read_bytes() == b"a model that must stay"
        assert sorted(os.listdir(folder)) == ["d.keras", "filler"]
    finally:
        _umount(folder)

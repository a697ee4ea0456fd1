"""The notebook's install cell in a simulated Colab runtime, then the notebook.

`examples/distill_to_android.ipynb` installs keras-kd from a wheel uploaded
into the runtime, with the `colab` extra and a constraints file that keeps
the runtime's TensorFlow, protobuf, absl-py, Keras and NumPy. The slow test
runs the cell, as its text stands in the notebook, in a virtual environment
laid out as a Colab runtime (`_colab_runtime.RUNTIME`: tensorflow 2.19.0)
against a wheel built from this checkout, checks that those versions are
unchanged, and runs the rest of the notebook there in quick mode: the
notebook's one run in the suite. The fast tests run the cell's own logic
(finding the wheel, choosing the pins) here, with pip replaced by a recorder.
"""

import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
import zipfile

import pytest
from _colab_runtime import RUNTIME
from _colab_runtime import ensure
from _colab_runtime import installed_versions
from _colab_runtime import overlay
from _notebooks import install_cell
from _notebooks import install_code
from _notebooks import ipython_to_python
from _notebooks import notebook_code
from _once import example_runs_on_tensorflow

import tflite_export
from tflite_export import tflite_file

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
NOTEBOOK = os.path.join(ROOT, "examples", "distill_to_android.ipynb")

# What a wheel is built from: the checkout's package sources and metadata.
WHEEL_SOURCES = ("pyproject.toml", "README.md", "keras_kd", "tflite_export")


# -- The cell in a simulated Colab runtime ------------------------------------


@pytest.fixture(scope="session")
def colab_runtime():
    """The simulated runtime: `$KERAS_KD_COLAB_VENV` (made by .ci/run), created if missing."""
    return ensure()


@pytest.fixture(scope="session")
def keras_kd_wheel(tmp_path_factory):
    """A wheel built from a copy of this checkout's sources (no stale build/ folder)."""
    source = tmp_path_factory.mktemp("source")
    for name in WHEEL_SOURCES:
        path = os.path.join(ROOT, name)
        if os.path.isdir(path):
            ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
            shutil.copytree(path, source / name, ignore=ignore)
        else:
            shutil.copy(path, source / name)
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(out), str(source)],
        check=True,
        capture_output=True,
        text=True,
    )
    (wheel,) = out.glob("keras_kd-*.whl")
    return wheel


@example_runs_on_tensorflow
@pytest.mark.slow
def test_install_cell_keeps_the_runtime_and_the_notebook_runs(
    tmp_path, colab_runtime, keras_kd_wheel
):
    session = overlay(colab_runtime, str(tmp_path / "session"))
    content = tmp_path / "content"  # Colab's working folder, where uploads land
    content.mkdir()
    shutil.copy(keras_kd_wheel, content)
    script = content / "notebook.py"
    script.write_text(install_code(NOTEBOOK) + notebook_code(NOTEBOOK), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "KERAS_KD_WHEEL")}
    # TMPDIR: the cell's constraints file, this test's own.
    env.update(KERAS_BACKEND="tensorflow", KERAS_KD_NOTEBOOK_QUICK="1", TMPDIR=str(tmp_path))

    completed = subprocess.run(
        [session, str(script)], cwd=content, env=env, capture_output=True, text=True, timeout=600
    )
    assert completed.returncode == 0, completed.stdout[-2000:] + completed.stderr[-3000:]
    out = completed.stdout

    pins = ", ".join(
        f"{n}=={RUNTIME[n]}" for n in ("tensorflow", "protobuf", "absl-py", "keras", "numpy")
    )
    assert f"Installing {os.path.realpath(content / keras_kd_wheel.name)}, keeping {pins}" in out
    assert "pip changed" not in out
    assert f"Keras {RUNTIME['keras']}, backend tensorflow, QUICK=True" in out
    assert (
        "| file | bytes | vs float32 | test accuracy | agrees with Keras | latency (batch 1) |"
        in out
    )
    assert "| float32 | " in out and "| int8 | " in out
    kernels = tflite_file.weight_dtypes(tflite_file.interpreter(content / "student_int8.tflite"))
    assert "int8" in kernels["CONV_2D"] and "int8" in kernels["FULLY_CONNECTED"]
    with open(content / "student_int8.json") as f:
        sidecar = json.load(f)
    assert sidecar["quantization"] == "int8"
    assert len(sidecar["labels"]) == 10 and sidecar["labels"][9] == "Ankle boot"
    # MediaPipe-ready: a uint8 RGB frame in, the normalization in the file, labels in its metadata.
    assert sidecar["image_input"] == "uint8_rgb" and sidecar["output_kind"] == "probabilities"
    assert sidecar["normalization_in_model"] == {"mean": 0.0, "std": 255.0}
    metadata = tflite_export.read_metadata(content / "student_int8.tflite")
    assert metadata.labels == sidecar["labels"] and metadata.input.shape == (-1, 28, 28, 3)
    assert (content / "student_float32.tflite").exists()

    after = installed_versions(session, [*RUNTIME, "keras-kd", "ai-edge-litert"])
    assert {name: after[name] for name in RUNTIME} == RUNTIME
    assert after["keras-kd"] == keras_kd_wheel.name.split("-")[1]
    assert after["ai-edge-litert"] is not None
    # Every requirement of what the session now holds is met (ai-edge-litert beside TF 2.19 included).
    check = subprocess.run([session, "-m", "pip", "check"], env=env, capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    # keras-kd came from the wheel, into the session; the runtime itself is untouched.
    where = subprocess.run(
        [
            session,
            "-c",
            "import keras_kd, tflite_export; print(keras_kd.__file__, tflite_export.__file__)",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert where.count(str(tmp_path / "session")) == 2, where
    assert installed_versions(os.path.join(colab_runtime, "bin", "python"), ["keras-kd"]) == {
        "keras-kd": None
    }


# -- The cell's own logic, with pip recorded ----------------------------------


def fake_wheel(folder, requires, name="keras_kd-0.1.0-py3-none-any.whl"):
    """A wheel file whose METADATA lists `requires` (Requires-Dist lines)."""
    path = folder / name
    metadata = "Metadata-Version: 2.4\nName: keras-kd\nVersion: 0.1.0\n"
    metadata += "".join(f"Requires-Dist: {r}\n" for r in requires)
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("keras_kd-0.1.0.dist-info/METADATA", metadata)
    return path


def run_cell(after=None):
    """Runs the install cell here; returns its namespace and the pip lines it ran.

    `after`: `{name: version}` that the recorded pip "installs", to see what
    the cell says when pip changed a package it was meant to keep.
    """
    namespace = {"pip_lines": []}

    def _pip(line):
        namespace["pip_lines"].append(line)
        if after:
            installed = namespace["installed"]
            namespace["installed"] = lambda name: after.get(name, installed(name))

    namespace["_pip"] = _pip
    exec(compile(ipython_to_python(install_cell(NOTEBOOK)), "install cell", "exec"), namespace)
    return namespace


def without_keras_kd(monkeypatch):
    """Makes the cell see no keras-kd installed, as in a fresh runtime."""
    version = importlib.metadata.version

    def fresh(name):
        if name == "keras-kd":
            raise importlib.metadata.PackageNotFoundError(name)
        return version(name)

    monkeypatch.setattr(importlib.metadata, "version", fresh)


def test_the_install_cell_has_one_pip_install_with_the_colab_extra_and_constraints():
    pip_lines = [line.strip() for line in install_cell(NOTEBOOK).splitlines() if "%pip" in line]
    assert pip_lines == [
        "%pip uninstall -y -q keras-kd",
        '%pip install "{wheel}[colab]" --constraint "{constraints}"',
    ]


@pytest.mark.parametrize(
    "requires, pinned, unpinned",
    [
        (["keras>=3.10", "numpy"], {"keras", "numpy", "tensorflow"}, set()),
        (["keras>=99"], {"numpy", "tensorflow"}, {"keras"}),
        (['tensorflow>=99; extra == "colab"'], {"keras"}, {"tensorflow"}),
        (['tensorflow>=99; extra == "tensorflow"'], {"keras", "tensorflow"}, set()),
        (['numpy<1; extra == "colab"', "keras"], {"keras", "tensorflow"}, {"numpy"}),
    ],
    ids=[
        "accepted",
        "keras-too-old",
        "tf-too-old-for-colab",
        "other-extra-ignored",
        "numpy-excluded",
    ],
)
def test_the_cell_pins_each_installed_version_that_keras_kd_accepts(
    tmp_path, monkeypatch, requires, pinned, unpinned
):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("KERAS_KD_WHEEL", raising=False)
    without_keras_kd(monkeypatch)
    wheel = fake_wheel(tmp_path, requires)
    namespace = run_cell()
    assert namespace["pip_lines"] == [
        f'install "{wheel}[colab]" --constraint "{namespace["constraints"]}"'
    ]
    with open(namespace["constraints"]) as f:
        pins = dict(line.split("==") for line in f.read().split())
    here = namespace["before"]
    for name in pinned:
        if here[name]:
            assert pins[name] == here[name], name
    for name in unpinned:
        assert name not in pins, name


def test_the_cell_takes_the_wheel_named_by_the_environment(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    fake_wheel(tmp_path, ["keras"])  # in the working folder, but not the one named
    named = fake_wheel(elsewhere, ["keras"])
    monkeypatch.setenv("KERAS_KD_WHEEL", str(named))
    assert run_cell()["wheel"] == str(named)


def test_the_cell_takes_the_newest_of_several_wheels(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("KERAS_KD_WHEEL", raising=False)
    old = fake_wheel(tmp_path, ["keras"], name="keras_kd-0.0.9-py3-none-any.whl")
    new = fake_wheel(tmp_path, ["keras"])
    os.utime(old, (1_000_000_000, 1_000_000_000))
    assert run_cell()["wheel"] == os.path.realpath(new)


def test_the_cell_asks_for_a_restart_when_pip_changed_a_kept_package(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("KERAS_KD_WHEEL", raising=False)
    fake_wheel(tmp_path, ["keras"])
    printed = []
    monkeypatch.setattr("builtins.print", lambda *a, **k: printed.append(" ".join(map(str, a))))
    namespace = run_cell(after={"protobuf": "99.0"})
    assert namespace["changed"] == [f"protobuf {namespace['before']['protobuf']} -> 99.0"]
    assert any("pip changed protobuf" in line and "Restart session" in line for line in printed)


def test_a_wheel_uploaded_again_replaces_the_installed_keras_kd(tmp_path, monkeypatch):
    """The keras-kd installed before (the cell run twice, a new upload, or one
    installed without the colab extra) is removed, then the wheel installed
    with its requirements: a --force-reinstall --no-deps left out those the
    installed one lacked (ai-edge-litert, after a plain install)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("KERAS_KD_WHEEL", raising=False)
    monkeypatch.setattr(
        importlib.metadata, "version", lambda name: "0.1.0" if name == "keras-kd" else "1.0"
    )
    monkeypatch.setitem(sys.modules, "keras_kd", sys.modules.get("keras_kd") or object())
    printed = []
    monkeypatch.setattr("builtins.print", lambda *a, **k: printed.append(" ".join(map(str, a))))
    wheel = fake_wheel(tmp_path, ["keras"])
    namespace = run_cell()
    assert namespace["pip_lines"] == [
        "uninstall -y -q keras-kd",
        f'install "{wheel}[colab]" --constraint "{namespace["constraints"]}"',
    ]
    assert (
        printed[-1]
        == "keras-kd was imported before: restart the session (Runtime > Restart session)."
    )


def test_a_wheel_renamed_by_a_second_upload_is_refused_with_the_fix(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("KERAS_KD_WHEEL", raising=False)
    fake_wheel(tmp_path, ["keras"], name="keras_kd-0.1.0-py3-none-any (1).whl")
    with pytest.raises(
        ValueError,
        match=r"is not a wheel's file name \(Colab renames a file uploaded twice.*rename this one to keras_kd-<version>-py3-none-any\.whl",
    ):
        run_cell()


@pytest.mark.parametrize(
    "wheel_variable, match",
    [
        (
            None,
            r"No keras_kd-\*\.whl in this folder or in /content\. Build it .*pip wheel \. --no-deps -w dist.*upload",
        ),
        ("missing.whl", r"KERAS_KD_WHEEL='missing\.whl' is not a file"),
        ("", r"No keras_kd-\*\.whl"),
    ],
    ids=["no-wheel", "named-wheel-missing", "empty-variable"],
)
def test_the_cell_without_a_wheel_says_how_to_build_and_upload_one(
    tmp_path, monkeypatch, wheel_variable, match
):
    if os.path.isdir("/content") and any(n.startswith("keras_kd-") for n in os.listdir("/content")):
        pytest.skip("a keras-kd wheel lies in /content on this machine")
    monkeypatch.chdir(tmp_path)
    if wheel_variable is None:
        monkeypatch.delenv("KERAS_KD_WHEEL", raising=False)
    else:
        monkeypatch.setenv("KERAS_KD_WHEEL", wheel_variable)
    with pytest.raises(FileNotFoundError, match=match):
        run_cell()

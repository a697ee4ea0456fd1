"""tests/_cpu_time.py: the per-test CPU plugin and its summary."""

import os
import subprocess
import sys

import _cpu_time
from _paths import REPO_ROOT


def _pytest_with_plugin(folder, prefix):
    """pytest run on the test files of `folder` with the plugin writing to `prefix`."""
    env = {
        **os.environ,
        "PYTHONPATH": os.path.join(REPO_ROOT, "tests"),
        "CPU_TIME_OUT": str(prefix),
    }
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "_cpu_time", "-p", "no:cacheprovider"]
        + ["--rootdir", str(folder), str(folder)],
        capture_output=True,
        text=True,
        env=env,
        cwd=folder,
        timeout=120,
    )


def test_a_run_records_each_test_and_the_summary_ranks_files(tmp_path):
    (tmp_path / "test_busy.py").write_text(
        "import time\n"
        "def test_spins():\n"
        "    end = time.process_time() + 0.3\n"
        "    while time.process_time() < end:\n"
        "        pass\n"
        "def test_sleeps():\n"
        "    time.sleep(0.3)\n"
    )
    (tmp_path / "test_idle.py").write_text("def test_nothing():\n    pass\n")
    prefix = tmp_path / "out"
    done = _pytest_with_plugin(tmp_path, prefix)
    assert done.returncode == 0, done.stdout + done.stderr
    rows = {test.split("::")[-1]: (cpu, wall) for cpu, wall, test in _cpu_time.read(prefix)}
    assert set(rows) == {"test_spins", "test_sleeps", "test_nothing"}
    assert rows["test_spins"][0] >= 0.25  # CPU spent
    assert rows["test_sleeps"][0] < 0.2 <= rows["test_sleeps"][1]  # waited, not spent
    text = _cpu_time.summary(_cpu_time.read(prefix), files=2, tests=1)
    lines = text.splitlines()
    assert lines[0].endswith("CPU s in 3 tests")
    assert lines[1].endswith("test_busy.py") and lines[2].endswith("test_idle.py")
    assert "test_spins" in lines[-1]


def test_the_summary_without_files_names_the_fix(tmp_path):
    done = subprocess.run(
        [sys.executable, os.path.join(REPO_ROOT, "tests", "_cpu_time.py"), str(tmp_path / "none")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "run pytest with -p _cpu_time and CPU_TIME_OUT first" in done.stderr


def test_a_test_id_with_a_tab_is_read_whole(tmp_path):
    (tmp_path / "out.1").write_text("1.00\t2.00\ttest_a.py::test[a\tb]\n")
    assert _cpu_time.read(tmp_path / "out") == [(1.0, 2.0, "test_a.py::test[a\tb]")]


def test_a_malformed_line_is_named_with_its_file(tmp_path):
    (tmp_path / "out.1").write_text("1.00\t2.00\ttest_a.py::t\nnot a line\n")
    done = subprocess.run(
        [sys.executable, os.path.join(REPO_ROOT, "tests", "_cpu_time.py"), str(tmp_path / "out")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stderr
    assert "out.1, line 2, is not `cpu<TAB>wall<TAB>test id`" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_run_of_no_cpu_is_summarized(tmp_path):
    text = _cpu_time.summary([(0.0, 0.1, "test_a.py::t")])
    assert text.splitlines() == ["0 CPU s in 1 tests", "     0.0   0.0%  test_a.py"]


def test_a_negative_count_is_refused_and_a_missing_output_folder_is_made(tmp_path):
    done = subprocess.run(
        [sys.executable, os.path.join(REPO_ROOT, "tests", "_cpu_time.py"), "x", "--tests", "-1"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and "-1 is below 0: give 0 or more" in done.stderr
    (tmp_path / "test_one.py").write_text("def test_one():\n    pass\n")
    prefix = tmp_path / "not" / "yet" / "out"
    ran = _pytest_with_plugin(tmp_path, prefix)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert [test for _, _, test in _cpu_time.read(prefix)] == ["test_one.py::test_one"]

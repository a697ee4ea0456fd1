"""benchmarks/_work.py: the records, locks and CPU ledger of a benchmark's
work folder, shared by several processes and resumed after a kill."""

import fcntl
import json
import os
import signal
import subprocess
import sys
import threading
import time

import pytest
from _paths import BENCHMARKS
from _paths import import_benchmark


@pytest.fixture(scope="module")
def work():
    return import_benchmark("_work")


def test_a_record_written_is_read_back_and_a_missing_one_is_none(tmp_path, work):
    path = str(tmp_path / "kd_seed0.json")
    assert work.load_record(path) is None
    work.save_record(path, {"arm": "kd", "test": 0.9})
    assert work.load_record(path) == {"arm": "kd", "test": 0.9}


@pytest.mark.parametrize(
    "content, words",
    [
        ("{", "kd_seed0.json is not a JSON object as this script writes (Expecting"),
        ("", "kd_seed0.json is not a JSON object as this script writes (Expecting value"),
        ("[1, 2]", "kd_seed0.json is not a JSON object as this script writes (a list)"),
        ("null", "(a NoneType)"),
        ('"kd"', "(a str)"),
        ("0.9", "(a float)"),
        (b"\xff\xfe{}", "kd_seed0.json is not a JSON object as this script writes ("),
    ],
    ids=["truncated", "empty", "a list", "null", "a string", "a number", "not UTF-8"],
)
def test_a_corrupt_record_is_refused_by_name_with_the_fix(tmp_path, work, content, words):
    path = tmp_path / "kd_seed0.json"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    with pytest.raises(work.RecordError) as error:
        work.load_record(str(path))
    assert words in str(error.value)
    assert "Remove it (the part it records is made again" in str(error.value)
    # Refused, not replaced: the file stays as it was for the user to look at.
    assert path.read_bytes() == (content if isinstance(content, bytes) else content.encode())


def test_a_record_is_a_value_error(work):
    """Callers that catch ValueError (as for any bad input) catch it too."""
    assert issubclass(work.RecordError, ValueError)


def test_runs_sharing_work_save_the_same_record_at_once(tmp_path, work):
    """Before: both runs wrote `<record>.json.tmp`; one renamed it away and the
    other crashed with FileNotFoundError (seen with one run per seed)."""
    path = str(tmp_path / "cache_mixup.json")
    errors = []

    def save(value):
        try:
            for _ in range(50):
                work.save_record(path, {"cpu_seconds": value})
        except Exception as error:  # noqa: BLE001 (the test reports any)
            errors.append(error)

    threads = [threading.Thread(target=save, args=(value,)) for value in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert json.loads((tmp_path / "cache_mixup.json").read_text())["cpu_seconds"] in range(4)
    assert [p.name for p in tmp_path.iterdir()] == ["cache_mixup.json"]


def test_a_record_does_not_touch_another_writers_temporary_file(tmp_path, work):
    """Before: both processes wrote `teacher.json.tmp`; one moved the other's."""
    (tmp_path / "teacher.json.tmp").write_text("the other process's, half written")
    work.save_record(str(tmp_path / "teacher.json"), {"test": 0.9})
    assert json.loads((tmp_path / "teacher.json").read_text()) == {"test": 0.9}
    assert (tmp_path / "teacher.json.tmp").read_text() == "the other process's, half written"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["teacher.json", "teacher.json.tmp"]


def test_a_claimed_part_makes_the_second_claimant_wait_and_say_so(tmp_path, work, capsys):
    order = []
    held = threading.Event()

    def first():
        with work.claimed(str(tmp_path), "teacher"):
            held.set()
            time.sleep(0.3)
            order.append("first done")

    thread = threading.Thread(target=first)
    thread.start()
    assert held.wait(10), "the first claimant never held the part"
    with work.claimed(str(tmp_path), "teacher"):
        order.append("second in")
    thread.join()
    assert order == ["first done", "second in"]
    assert f"teacher: another process sharing {tmp_path} is on it; waiting." in (
        capsys.readouterr().out
    )


# A process waiting for another's part, with a second thread (TensorFlow's)
# that the kernel hands SIGTERM to: the main thread has it blocked.
_WAITER = """
import signal, sys, threading, time
sys.path.insert(0, {benchmarks!r})
import _work
threading.Thread(target=time.sleep, args=(120,), daemon=True).start()
signal.pthread_sigmask(signal.SIG_BLOCK, {{signal.SIGTERM}})
signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
with _work.claimed({work!r}, "teacher"):
    print("claimed", flush=True)
"""


@pytest.mark.slow  # a process importing keras_kd: about 6 s
def test_sigterm_ends_a_process_waiting_for_another_processs_part(tmp_path):
    """Before: one blocking flock, which a SIGTERM handed to another thread
    does not interrupt: the handler waited until the other part ended (a run
    sent SIGTERM while waiting was still waiting minutes later)."""
    with open(tmp_path / ".teacher.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # the other process's part, under way
        waiter = subprocess.Popen(
            [sys.executable, "-c", _WAITER.format(benchmarks=str(BENCHMARKS), work=str(tmp_path))],
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
        )
        try:
            assert "another process sharing" in waiter.stdout.readline()
            time.sleep(1)  # into the wait (a signal before it runs the handler at once)
            waiter.send_signal(signal.SIGTERM)
            assert waiter.wait(timeout=20) == 128 + signal.SIGTERM
        finally:
            waiter.kill()
            waiter.wait()
    assert "claimed" not in waiter.stdout.read()


def test_a_claim_is_released_when_its_block_fails(tmp_path, work):
    with pytest.raises(RuntimeError):
        with work.claimed(str(tmp_path), "teacher"):
            raise RuntimeError("the part failed")
    with work.claimed(str(tmp_path), "teacher"):  # would wait forever if still held
        pass


def _burn(seconds):
    start = time.process_time()
    while time.process_time() - start < seconds:
        pass


def test_cpu_of_an_interrupted_part_is_counted_when_it_resumes(tmp_path, work):
    """Before: a part's record held the CPU of the invocation that finished
    it only (the real run: a view cache of 100 minutes recorded 91 s)."""
    with pytest.raises(KeyboardInterrupt):
        with work.charged(str(tmp_path), "cache"):
            _burn(0.2)
            raise KeyboardInterrupt
    with work.charged(str(tmp_path), "cache"):
        _burn(0.1)
    assert 0.3 <= work.cpu_spent(str(tmp_path), "cache") < 1.0
    assert work.cpu_spent(str(tmp_path), "teacher") == 0.0


@pytest.mark.parametrize(
    "content, words",
    [
        ("{", "(Expecting property name"),
        ("[1]", "(a list)"),
        ('{"cache": "12"}', "('cache': '12')"),
        ('{"cache": null}', "('cache': None)"),
        ('{"cache": true}', "('cache': True)"),
        ('{"cache": -1}', "('cache': -1)"),
        ('{"cache": NaN}', "('cache': nan)"),
    ],
)
def test_a_broken_ledger_is_named_before_a_part_begins(tmp_path, work, content, words):
    """Before: named (or a TypeError, for a value not a number) only when the
    part ended, after its hours of work, with advice to remove it as if a
    part would train again."""
    (tmp_path / work.LEDGER).write_text(content)
    began = []
    with pytest.raises(work.RecordError) as error:
        with work.charged(str(tmp_path), "cache"):
            began.append(True)
    message = str(error.value)
    assert "cpu.json, the CPU ledger, is not a JSON object of CPU seconds per part" in message
    assert (
        words in message
        and "Mend it, or remove it" in message
        and "no part trains again" in message
    )
    assert not began
    assert (tmp_path / work.LEDGER).read_text() == content
    with pytest.raises(work.RecordError, match="the CPU ledger"):
        work.cpu_spent(str(tmp_path), "cache")

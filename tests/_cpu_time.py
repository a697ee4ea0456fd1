"""CPU seconds per test, to find where a suite's time goes (how CI's legs
were cut: README, "Run the tests").

A pytest plugin, loaded by name with the tests folder on the path; each
process (every xdist worker) appends `cpu_seconds<TAB>wall_seconds<TAB>test id`
lines to `<prefix>.<pid>`. CPU time is the process's own and that of the
children it waited for (commands and conversions run in subprocesses), so a
loaded machine moves it far less than wall time. Then, per test file:

    PYTHONPATH=tests CPU_TIME_OUT=/tmp/jax KERAS_BACKEND=jax \\
        python -m pytest -p _cpu_time -n 2 --dist loadfile
    python tests/_cpu_time.py /tmp/jax        # files by CPU; --tests 30: the slowest tests
"""

import argparse
import collections
import glob
import os
import resource
import time

import pytest

_lines = None


def _cpu_seconds():
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    """Times one test: setup, call and teardown."""
    global _lines
    if _lines is None:
        prefix = os.environ.get("CPU_TIME_OUT", "cpu_time")
        os.makedirs(os.path.dirname(os.path.abspath(prefix)), exist_ok=True)
        _lines = open(f"{prefix}.{os.getpid()}", "a", encoding="utf-8")  # noqa: SIM115
    cpu, wall = _cpu_seconds(), time.time()
    yield
    _lines.write(f"{_cpu_seconds() - cpu:.2f}\t{time.time() - wall:.2f}\t{item.nodeid}\n")
    _lines.flush()


def read(prefix):
    """`[(cpu_seconds, wall_seconds, test_id)]` of every process's file."""
    rows = []
    for path in glob.glob(f"{prefix}.*"):
        with open(path, encoding="utf-8") as f:
            for number, line in enumerate(f, 1):
                # maxsplit: a test id may hold a tab (a parametrized string)
                fields = line.rstrip("\n").split("\t", 2)
                try:
                    rows.append((float(fields[0]), float(fields[1]), fields[2]))
                except (ValueError, IndexError):
                    raise ValueError(
                        f"{path}, line {number}, is not `cpu<TAB>wall<TAB>test id`: {line!r}. "
                        f"Remove that file (another tool's?) or the line, and run again."
                    ) from None
    return rows


def summary(rows, files=40, tests=0):
    """The total, the `files` test files of most CPU and the `tests` slowest tests."""
    total = sum(cpu for cpu, _, _ in rows)
    per_file = collections.Counter()
    for cpu, _, test in rows:
        per_file[test.split("::")[0]] += cpu
    lines = [f"{total:.0f} CPU s in {len(rows)} tests"]
    lines += [
        f"{cpu:8.1f} {100 * cpu / (total or 1):5.1f}%  {name}"
        for name, cpu in per_file.most_common(files)
    ]
    if tests:
        lines.append("slowest tests (CPU s, wall s):")
        lines += [
            f"{cpu:8.1f} {wall:7.1f}  {test}"
            for cpu, wall, test in sorted(rows, reverse=True)[:tests]
        ]
    return "\n".join(lines)


def _count(text):
    """A count for --files and --tests: 0 or more."""
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value} is below 0: give 0 or more")
    return value


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("prefix", help="CPU_TIME_OUT of the run")
    parser.add_argument("--files", type=_count, default=40)
    parser.add_argument("--tests", type=_count, default=0)
    options = parser.parse_args()
    try:
        rows = read(options.prefix)
    except ValueError as error:
        parser.error(str(error))
    if not rows:
        parser.error(
            f"no {options.prefix}.<pid> files: run pytest with -p _cpu_time and CPU_TIME_OUT first"
        )
    print(summary(rows, options.files, options.tests))

"""tests/_pip.py: pip tried again on a dropped network, and only then."""

import sys

import _pip
import pytest


def _fake_python(tmp_path, failures):
    """An executable that stands for `python -m pip install`: it prints the
    next of `failures` (an output and exit code 1) on each run, then succeeds.
    """
    script = tmp_path / "python"
    state = tmp_path / "runs"
    state.write_text("0")
    script.write_text(
        f"#!{sys.executable}\n"
        "import pathlib, sys\n"
        f"state = pathlib.Path({str(state)!r})\n"
        "run = int(state.read_text())\n"
        "state.write_text(str(run + 1))\n"
        f"failures = {failures!r}\n"
        "if run < len(failures):\n"
        "    sys.stderr.write(failures[run])\n"
        "    sys.exit(1)\n"
        "print('installed', *sys.argv[1:])\n"
    )
    script.chmod(0o755)
    return str(script), state


DROPPED = "error: incomplete-download\nnote: This is an issue with network connectivity, not pip.\n"
MISSING = "ERROR: No matching distribution found for keras==99.0\n"


@pytest.mark.parametrize(
    "failures, attempts, expected_runs, expected",
    [
        ([], 4, 1, "installed -m pip install --disable-pip-version-check -q six"),
        ([DROPPED], 4, 2, "installed"),
        ([DROPPED, "ReadTimeoutError: HTTPSConnectionPool read timed out\n"], 3, 3, "installed"),
        ([DROPPED] * 3, 3, 3, "failed on the network 3 times"),
        # Words matched without regard to case
        (["ERROR: NETWORK IS UNREACHABLE\n"], 4, 2, "installed"),
        (["ProtocolError('Connection aborted.', ConnectionResetError(104))\n"], 4, 2, "installed"),
        ([MISSING], 4, 1, "not a network error, not tried again"),
        ([DROPPED, MISSING], 4, 2, "No matching distribution found for keras==99.0"),
    ],
)
def test_install_tries_again_only_when_the_network_drops(
    tmp_path, failures, attempts, expected_runs, expected
):
    python, runs = _fake_python(tmp_path, failures)
    try:
        result = _pip.install(python, "-q", "six", attempts=attempts, pause=0)
    except RuntimeError as error:
        result = str(error)
    assert expected in result
    assert int(runs.read_text()) == expected_runs


def test_attempts_below_one_are_refused(tmp_path):
    python, runs = _fake_python(tmp_path, [])
    with pytest.raises(ValueError, match="attempts=0: pip must be run at least once"):
        _pip.install(python, "six", attempts=0)
    assert runs.read_text() == "0"

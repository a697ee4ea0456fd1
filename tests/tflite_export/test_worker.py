"""The TensorFlow child process: one typed job, one runner, and every failure
raised as tflite_export.ExportError, for conversion and for TFMOT alike."""

import os
import signal
import subprocess
import sys
import time

import keras
import pytest

import tflite_export
from tflite_export._worker._job import Job
from tflite_export._worker._job import Training
from tflite_export._worker._runner import run_job
from tflite_export._worker._runner import terminate_as_exit

L = keras.layers


def _tiny(tmp_path):
    path = str(tmp_path / "tiny.keras")
    keras.Sequential([keras.Input((4,)), L.Dense(3)]).save(path)
    return path


def test_job_round_trips_through_json(tmp_path):
    training = Training(
        seed=1,
        epochs=2,
        batch_size=8,
        temperature=4.0,
        alpha=0.1,
        learning_rate=1e-3,
        target_sparsity=0.5,
    )
    job = Job("prune", str(tmp_path), "m.keras", "m.tflite", "int8", training=training)
    assert Job.from_json(job.to_json()) == job
    assert job.legacy_keras and not Job("convert", "f", "m", "o", "float32").legacy_keras


def test_unknown_task_is_refused():
    with pytest.raises(
        ValueError,
        match=r"Job.task must be one of \('convert', 'qat', 'prune'\). Received: 'train'",
    ):
        Job("train", "f", "m.keras", "m.tflite", "float32")


@pytest.mark.slow
def test_conversion_in_the_child_writes_the_file(tmp_path):
    job = Job(
        "convert", str(tmp_path), _tiny(tmp_path), str(tmp_path / "m.tflite"), "float32", verbose=0
    )
    outcome = run_job(job, "converts the model to TFLite")
    assert outcome["bytes"] == (tmp_path / "m.tflite").stat().st_size > 0


@pytest.mark.slow
def test_a_failed_conversion_step_raises_export_error(tmp_path):
    """The child's own error (here: the model file is missing) comes back
    with its message, as ExportError."""
    job = Job(
        "convert",
        str(tmp_path),
        str(tmp_path / "absent.keras"),
        str(tmp_path / "m.tflite"),
        "float32",
    )
    with pytest.raises(tflite_export.ExportError, match="no such file .*absent.keras"):
        run_job(job, "converts the model to TFLite")


@pytest.mark.slow
def test_a_crashed_tfmot_child_raises_export_error_with_its_stderr(tmp_path):
    training = Training(
        seed=0,
        epochs=1,
        batch_size=8,
        temperature=4.0,
        alpha=0.1,
        learning_rate=1e-3,
        target_sparsity=0.5,
    )
    job = Job(
        "prune",
        str(tmp_path),
        _tiny(tmp_path),
        str(tmp_path / "m.tflite"),
        "float32",
        training=training,
    )
    # No arrays were written: the child fails reading them.
    with pytest.raises(
        tflite_export.ExportError,
        match=r"(?s)The TensorFlow process that runs TFMOT failed \(exit code 1\).*"
        r"Its stderr, in full:.*arrays.npz",
    ):
        run_job(job, "runs TFMOT")
    assert issubclass(tflite_export.ExportError, ValueError)


def test_converter_rejection_is_export_error_on_every_backend(tmp_path):
    """On TensorFlow the converter refuses the op in this process; on JAX and
    PyTorch the child cannot even load the unregistered layer. Either way the
    user catches one type."""

    class Determinant(L.Layer):
        def call(self, x):
            return keras.ops.expand_dims(keras.ops.det(keras.ops.reshape(x, (-1, 2, 2))), -1)

    inputs = keras.Input((4,))
    model = keras.Model(inputs, L.Dense(3)(Determinant()(inputs)))
    with pytest.raises(tflite_export.ExportError):
        tflite_export.convert(model, tmp_path / "m.tflite", verbose=0)
    assert not (tmp_path / "m.tflite").exists()


def test_importing_tflite_export_does_not_import_tensorflow():
    """JAX and PyTorch users import it freely: TensorFlow runs in the child."""
    code = (
        "import sys; sys.modules['tensorflow'] = None; "  # any import of it fails
        "import tflite_export, tflite_export.tflite, tflite_export.tfmot; "
        "print(all(hasattr(tflite_export, name) for name in tflite_export.__all__))"
    )
    env = dict(os.environ, KERAS_BACKEND="jax")
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "True"


@pytest.fixture
def python_ctrl_c():
    """Python's own Ctrl-C handler for the test (a worker process may have
    been started with SIGINT ignored)."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def _swallowed(signum):
    """Sends `signum` to this process and drops the exception it raises, as
    Python does for one raised inside a garbage collector callback."""
    try:
        os.kill(os.getpid(), signum)
        time.sleep(5)  # the handler runs before this returns
    except (KeyboardInterrupt, SystemExit):
        return
    raise AssertionError(f"{signum!r} raised nothing")


@pytest.mark.parametrize(
    "signum,error",
    [(signal.SIGINT, KeyboardInterrupt), (signal.SIGTERM, SystemExit)],
    ids=["SIGINT", "SIGTERM"],
)
def test_a_swallowed_signal_is_raised_again_when_the_block_ends(python_ctrl_c, signum, error):
    after = []
    with pytest.raises(error):
        with terminate_as_exit():
            _swallowed(signum)
            after.append("the block went on")
    assert after == ["the block went on"]  # and ended with the signal's exception
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_an_ignored_ctrl_c_stays_ignored():
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with terminate_as_exit():
            assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, previous)


def _user_handler(signum, frame):
    """A handler of the user's own."""


def _ends_with(block):
    """How `block()` ended: "returned", or the exception's name (and its
    context's, if any)."""
    try:
        block()
    except BaseException as error:  # noqa: BLE001  (KeyboardInterrupt, SystemExit)
        context = f" from {type(error.__context__).__name__}" if error.__context__ else ""
        return f"{type(error).__name__}{context}"
    return "returned"


def _swallowed_then_raises():
    def block():
        with terminate_as_exit():
            _swallowed(signal.SIGINT)
            raise tflite_export.ExportError("the child was interrupted too")

    return _ends_with(block)


def _signal_while_an_error_unwinds():
    def block():
        with terminate_as_exit():
            try:
                raise tflite_export.ExportError("the conversion failed")
            finally:  # the cleanup is interrupted: the signal wins, the error is its context
                os.kill(os.getpid(), signal.SIGINT)
                time.sleep(5)

    return _ends_with(block)


def _handler_installed_inside(signum):
    with terminate_as_exit():
        signal.signal(signum, _user_handler)
    return signal.getsignal(signum) is _user_handler or "replaced by the block's exit"


def _handler_kept(signum, handler):
    signal.signal(signum, handler)
    with terminate_as_exit():
        inside = signal.getsignal(signum)
    return inside is handler and signal.getsignal(signum) is handler or f"{inside} inside"


def _nested_swallowed(signum):
    ran = []
    outcome = _ends_with(lambda: _outer_with_inner(signum, ran))
    return f"{outcome}, after the inner block: {ran}"


def _outer_with_inner(signum, ran):
    with terminate_as_exit():
        with terminate_as_exit():
            _swallowed(signum)
        ran.append("published")


def _next_block_after_a_swallowed_signal():
    _ends_with(lambda: _swallow_in_block(signal.SIGINT))
    with terminate_as_exit():  # must not raise the last block's signal
        pass
    return signal.getsignal(signal.SIGINT) is signal.default_int_handler


def _swallow_in_block(signum):
    with terminate_as_exit():
        _swallowed(signum)


def _two_swallowed():
    def block():
        with terminate_as_exit():
            _swallowed(signal.SIGINT)
            _swallowed(signal.SIGTERM)

    return _ends_with(block)


def _in_a_thread():
    import threading

    outcome = []
    thread = threading.Thread(target=lambda: outcome.append(_ends_with(_empty_block)))
    thread.start()
    thread.join()
    return outcome


def _empty_block():
    with terminate_as_exit():
        pass


def _signal_while_the_handlers_go_in():
    """Ctrl-C just as a block installs its handlers: after SIGTERM's, before
    SIGINT's (the window is microseconds; here the install itself sends it)."""
    install = signal.signal

    def installing(signum, handler):
        previous = install(signum, handler)
        if signum == signal.SIGTERM and type(handler).__name__ == "_Recorder":
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.2)  # the handler runs here, unless the signal is held back
        return previous

    signal.signal = installing
    try:
        outcome = _ends_with(_empty_block)
    finally:
        signal.signal = install
    left = type(signal.getsignal(signal.SIGTERM)).__name__
    return outcome, "the block's SIGTERM handler left" if left == "_Recorder" else "restored"


# Hostile table: (what the user does, how it must end). The "before" notes say
# what the block did before it was fixed.
SIGNAL_TABLE = [
    # Before: the ExportError ("failed: killed by signal SIGINT"), exit status 2
    # with "error:", where Ctrl-C should end as KeyboardInterrupt (status 130).
    (_swallowed_then_raises, "KeyboardInterrupt from ExportError"),
    (_signal_while_an_error_unwinds, "KeyboardInterrupt from ExportError"),
    # Before: the block's exit put its own previous handler back over the user's.
    (lambda: _handler_installed_inside(signal.SIGTERM), True),
    (lambda: _handler_installed_inside(signal.SIGINT), True),
    # Before: an ignored or user-handled SIGTERM became the block's SystemExit.
    (lambda: _handler_kept(signal.SIGTERM, signal.SIG_IGN), True),
    (lambda: _handler_kept(signal.SIGTERM, _user_handler), True),
    (lambda: _handler_kept(signal.SIGINT, _user_handler), True),
    # Before: the inner block ended normally and its work was published.
    (lambda: _nested_swallowed(signal.SIGINT), "KeyboardInterrupt, after the inner block: []"),
    (lambda: _nested_swallowed(signal.SIGTERM), "SystemExit, after the inner block: []"),
    (_next_block_after_a_swallowed_signal, True),
    (_two_swallowed, "KeyboardInterrupt"),  # the first one wins
    (_in_a_thread, ["returned"]),
    # Before: ("KeyboardInterrupt", "the block's SIGTERM handler left"): every
    # later SIGTERM of the process, outside any block, became SystemExit(143).
    (_signal_while_the_handlers_go_in, ("KeyboardInterrupt", "restored")),
]


@pytest.mark.parametrize(
    "scenario, expected",
    SIGNAL_TABLE,
    ids=[
        "swallowed_signal_then_an_error",
        "signal_while_an_error_unwinds",
        "user_sigterm_handler_installed_inside",
        "user_sigint_handler_installed_inside",
        "ignored_sigterm",
        "user_sigterm_handler",
        "user_sigint_handler",
        "nested_swallowed_sigint",
        "nested_swallowed_sigterm",
        "next_block_after_a_swallowed_signal",
        "sigint_then_sigterm_swallowed",
        "non_main_thread",
        "sigint_while_the_handlers_go_in",
    ],
)
def test_hostile_signal_table(python_ctrl_c, scenario, expected):
    previous = signal.getsignal(signal.SIGTERM)
    try:
        assert scenario() == expected
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert signal.getsignal(signal.SIGTERM) is previous

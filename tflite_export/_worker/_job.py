"""`Job`: everything a TensorFlow child process needs to do one task.

The user's process fills in a `Job`, writes its inputs into `job.folder`
(the `.keras` model, the arrays) and hands it to `run_job`; the child reads
the same dataclass back from `job.json`. The field names are the contract
between the two sides, checked by the dataclass itself.
"""

import dataclasses
import json
import os

import numpy as np

# The tasks a child can run; QAT and pruning need tf-keras (TFMOT).
TASKS = ("convert", "qat", "prune")
_TFMOT_TASKS = ("qat", "prune")


@dataclasses.dataclass(frozen=True)
class Training:
    """The fine-tuning settings of a QAT or pruning job.

    Attributes:
        seed: Random seed of the fine-tuning.
        epochs: Fine-tuning epochs.
        batch_size: Fine-tuning batch size.
        temperature: Softening temperature of the soft-target loss.
        alpha: Weight in [0, 1] of the hard-label loss.
        learning_rate: Adam learning rate.
        student_kind: `"logits"` or `"probabilities"`: the student's head.
        target_sparsity: Share of weights pruning zeroes (`None` for QAT).
    """

    seed: int
    epochs: int
    batch_size: int
    temperature: float
    alpha: float
    learning_rate: float
    student_kind: str = "logits"
    target_sparsity: float = None


def _in_folder(filename, doc):
    """A read-only property: the path of `filename` in the job's folder."""
    return property(lambda job: os.path.join(job.folder, filename), doc=doc)


@dataclasses.dataclass(frozen=True)
class Job:
    """One task for a TensorFlow child process.

    Attributes:
        task: One of `TASKS`: `"convert"`, `"qat"` or `"prune"`.
        folder: A folder of the job's own; its input and result files live
            there under fixed names (`arrays_path`, `result_path`, ...).
        model: Path of the `.keras` model to load.
        output: Path of the `.tflite` file to write.
        quantization: A mode name of `tflite_export.modes`.
        verbose: 0 silent, 1 progress bar, 2 one line per epoch.
        allow_select_tf_ops: Keep TensorFlow ops without a TFLite kernel.
        output_name: Name of the output tensor in the file's signature.
        image_input: `None` or `"uint8_rgb"` (see `convert`).
        normalization: `{"mean": m, "std": s}` folded in with `image_input`.
        softmax: Whether a softmax is folded after the head.
        training: `Training` settings of a QAT or pruning job.
        file_options: A QAT or pruning job's file options for `convert`
            (`check_file_options`' dict: labels, normalization, image_input,
            probabilities, metadata), or None.
        custom_modules: `[module name, sys.path folder]` pairs the child
            imports before loading the model: the modules defining its own
            layer and model classes (e.g. a subclassed student's).

    Example:

    >>> job = Job("convert", "/tmp/work", "/tmp/work/model.keras",
    ...           "/tmp/work/model.tflite", "float32")
    >>> Job.from_json(job.to_json()) == job
    True
    """

    task: str
    folder: str
    model: str
    output: str
    quantization: str
    verbose: int = 1
    allow_select_tf_ops: bool = False
    output_name: str = "output"
    image_input: str = None
    normalization: dict = None
    softmax: bool = False
    training: Training = None
    custom_modules: list = None
    file_options: dict = None

    def __post_init__(self):
        if self.task not in TASKS:
            raise ValueError(f"Job.task must be one of {TASKS}. Received: {self.task!r}")

    @property
    def legacy_keras(self):
        """Whether the child's `tf.keras` must be tf-keras (TFMOT needs it)."""
        return self.task in _TFMOT_TASKS

    path = _in_folder("job.json", "Where the job itself is written: `job.json` in its folder.")
    arrays_path = _in_folder(
        "arrays.npz", "The input arrays (calibration samples, or training data)."
    )
    result_path = _in_folder(
        "result.json", 'The child\'s outcome, a JSON dict (or `{"error": message}`).'
    )
    weights_path = _in_folder("weights.npz", "Weights the child sends back (the pruned student's).")

    def import_custom_modules(self):
        """Imports `custom_modules` (their classes register for loading)."""
        import importlib
        import sys

        for name, folder in self.custom_modules or ():
            if folder not in sys.path:
                sys.path.append(folder)
            importlib.import_module(name)

    def to_json(self):
        return json.dumps(dataclasses.asdict(self))

    @classmethod
    def from_json(cls, text):
        fields = json.loads(text)
        if fields["training"] is not None:
            fields["training"] = Training(**fields["training"])
        return cls(**fields)

    def write(self, arrays=None):
        """Writes `job.json` and the named `arrays` (a dict) into the folder."""
        if arrays is not None:
            np.savez(self.arrays_path, **arrays)
        with open(self.path, "w") as f:
            f.write(self.to_json())
        return self.path

    def read_arrays(self):
        """The arrays `write` stored, as a dict of NumPy arrays."""
        with np.load(self.arrays_path) as stored:
            return {name: stored[name] for name in stored.files}


def read_job(path):
    """The `Job` written at `path`."""
    with open(path) as f:
        return Job.from_json(f.read())

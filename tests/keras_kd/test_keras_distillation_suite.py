"""Keras' own distillation tests, run against `keras_kd.Distiller`.

The test modules `keras/src/distillation/distiller_test.py` and
`distillation_loss_test.py` of the installed Keras are read, their
`Distiller` import is pointed at `keras_kd.Distiller`, the edits listed in
`EDITS` are applied (each must match its text exactly as often as stated,
so a new Keras release that changes a test fails here instead of running
something else), and their `TestCase` classes are collected by pytest from
this module. Tests that read Keras' private attributes lose those lines
only; no test is skipped whole. The count goes in the README.
"""

import pathlib
import sys
import types

import keras

KERAS_TESTS = pathlib.Path(keras.src.distillation.__file__).parent

_LOGITS_LOSS = "keras.losses.SparseCategoricalCrossentropy(from_logits=True)"

# (module, text in Keras' test, replacement, times it occurs, reason).
EDITS = [
    (
        "distiller_test.py",
        "from keras.src.distillation.distiller import Distiller",
        "from keras_kd import Distiller",
        1,
        "the Distiller under test is keras-kd's",
    ),
    (
        "distillation_loss_test.py",
        "from keras.src.distillation.distiller import Distiller",
        "from keras_kd import Distiller",
        1,
        "the Distiller under test is keras-kd's",
    ),
    (
        "distiller_test.py",
        'loss="sparse_categorical_crossentropy"',
        f"loss={_LOGITS_LOSS}",
        7,
        "the students output logits; Keras' tests train them on a loss that "
        "reads probabilities (a string loss means from_logits=False), which "
        "keras-kd refuses at compile() (tested in test_keras_distillation.py)",
    ),
    (
        "distillation_loss_test.py",
        'loss="sparse_categorical_crossentropy"',
        f"loss={_LOGITS_LOSS}",
        3,
        "as above",
    ),
    (
        "distiller_test.py",
        """        # Create distiller - should freeze the teacher
        Distiller(""",
        """        new_teacher(self.x[:2])
        Distiller(""",
        1,
        "keras-kd refuses an unbuilt teacher (it has no weights, so it was "
        "never trained) and reads its head at construction; the test builds "
        "it on a batch as setUp builds the others, then checks the freezing",
    ),
    (
        "distiller_test.py",
        """        # Create distiller with single distillation_loss""",
        """        teacher.build((None, 20))
        student.build((None, 20))""",
        1,
        "as above: Keras' test gives unbuilt Sequential models without an "
        "input shape, built later by calling the Distiller",
    ),
    (
        "distiller_test.py",
        """        self.assertIsInstance(
            self.distiller.distillation_losses[0], LogitsDistillation
        )""",
        """        from keras_kd.losses import SoftTargetKD
        self.assertIsInstance(self.distiller.distillation_losses[0], SoftTargetKD)""",
        1,
        "keras-kd holds the loss it maps LogitsDistillation onto (SoftTargetKD, "
        "same temperature, checked on the next line)",
    ),
    (
        "distiller_test.py",
        """        self.assertIsInstance(
            reconstructed_distiller.distillation_losses[0], LogitsDistillation
        )""",
        """        from keras_kd.losses import SoftTargetKD
        self.assertIsInstance(
            reconstructed_distiller.distillation_losses[0], SoftTargetKD
        )""",
        1,
        "as above, after from_config",
    ),
    (
        "distillation_loss_test.py",
        """        # Verify feature extraction worked
        self.assertIsNotNone(distiller._teacher_feature_extractor)
        self.assertIsNotNone(distiller._student_feature_extractor)

        # Test that feature extractors have correct outputs
        self.assertEqual(
            len(distiller._teacher_feature_extractor.outputs), 2
        )  # final + dense_1
        self.assertEqual(
            len(distiller._student_feature_extractor.outputs), 2
        )  # final + dense_1
""",
        "",
        1,
        "private attributes of Keras' Distiller (its feature-extractor models); "
        "keras-kd taps the same layers in the models' one forward pass",
    ),
    (
        "distillation_loss_test.py",
        """        # Verify efficient feature extraction
        self.assertIsNotNone(distiller._teacher_feature_extractor)
        self.assertIsNotNone(distiller._student_feature_extractor)

        # Should have 3 outputs: final + dense_1 + dense_2
        self.assertEqual(len(distiller._teacher_feature_extractor.outputs), 3)
        self.assertEqual(len(distiller._student_feature_extractor.outputs), 3)
""",
        "",
        1,
        "as above",
    ),
]


def _load(file_name):
    source = (KERAS_TESTS / file_name).read_text()
    for target, text, replacement, count, _ in EDITS:
        if target != file_name:
            continue
        found = source.count(text)
        if found != count:
            raise AssertionError(
                f"Keras {keras.__version__}'s {file_name} has {found} "
                f"occurrences of an edited text ({count} expected): "
                f"{text[:80]!r}. Update EDITS for this Keras version."
            )
        source = source.replace(text, replacement)
    module = types.ModuleType(f"keras_distillation_suite.{file_name[:-3]}")
    module.__file__ = str(KERAS_TESTS / file_name)
    sys.modules[module.__name__] = module
    exec(compile(source, module.__file__, "exec"), module.__dict__)
    return module


_distiller_test = _load("distiller_test.py")
_loss_test = _load("distillation_loss_test.py")

TestDistiller = _distiller_test.TestDistiller
TestLogitsDistillation = _loss_test.TestLogitsDistillation
TestFeatureDistillation = _loss_test.TestFeatureDistillation
TestEndToEndDistillation = _loss_test.TestEndToEndDistillation

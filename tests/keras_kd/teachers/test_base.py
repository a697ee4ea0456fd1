"""The Teacher interface is the one extension point for new kinds of teacher.

A teacher that reads stored targets (the shape of an offline cache) is
written here against `keras_kd.teachers.Teacher` alone, without touching the
Distiller, and must train the student exactly as the live teacher does.
"""

import ast
import inspect
import pathlib
import textwrap

import keras
import numpy as np
import pytest
from keras import ops

import keras_kd
from keras_kd.losses.base import ModelOutputs


class StoredTargets(keras_kd.teachers.Teacher):
    """Targets computed before training, read from `x["targets"]`."""

    def __init__(self, kind, classes, **kwargs):
        super().__init__(**kwargs)
        self.kind, self.classes = kind, classes

    def bind(self, student, teacher_layers, teacher_outputs="auto", preprocessor=None):
        if teacher_layers or preprocessor is not None:
            raise ValueError(f"Stored targets hold no layers: {teacher_layers}")
        self.kinds = [self.kind]

    def check_output_shape(self, student):
        assert student.output_shape[-1] == self.classes

    def split_inputs(self, inputs):
        if not isinstance(inputs, dict):  # predict() on the student's inputs alone
            return inputs, None
        return inputs["x"], inputs["targets"]

    def forward(self, inputs):
        return ops.convert_to_tensor(inputs)

    def view(self, targets):
        return ModelOutputs(targets, self.kind)


def fit_and_weights(teacher, student, x, y):
    distiller = keras_kd.Distiller(teacher, student, keras_kd.losses.SoftTargetKD(2.0), alpha=0.3)
    distiller.compile(
        optimizer=keras.optimizers.SGD(0.1),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    history = distiller.fit(x, y, epochs=2, batch_size=32, shuffle=False, verbose=0).history
    return [np.array(w) for w in student.get_weights()], history


def test_a_new_teacher_kind_plugs_in_without_touching_the_distiller(
    blobs, trained_teacher, make_student
):
    x, y = blobs
    student = make_student(name="live")
    initial = student.get_weights()
    live_weights, live_history = fit_and_weights(trained_teacher, student, x, y)

    stored = trained_teacher.predict(x, verbose=0)  # a softmax head: probabilities
    replay = make_student(name="replay")
    replay.set_weights(initial)
    replay_weights, replay_history = fit_and_weights(
        StoredTargets("probabilities", 3), replay, {"x": x, "targets": stored}, y
    )
    for live, cached in zip(live_weights, replay_weights):
        np.testing.assert_allclose(cached, live, rtol=1e-5, atol=1e-6)
    for key in ("loss", "student_loss", "distillation_loss", "accuracy"):
        np.testing.assert_allclose(replay_history[key], live_history[key], rtol=1e-4, atol=1e-6)
    distiller = keras_kd.Distiller(StoredTargets("probabilities", 3), replay, alpha=0.3)
    np.testing.assert_allclose(
        distiller.predict({"x": x, "targets": stored}, verbose=0),
        replay.predict(x, verbose=0),
        rtol=1e-6,
    )
    np.testing.assert_allclose(
        distiller.predict(x, verbose=0), replay.predict(x, verbose=0), rtol=1e-6
    )


def test_teacher_arguments_resolve_to_one_teacher_object(trained_teacher, make_student):
    student = make_student()
    single = keras_kd.Distiller(trained_teacher, student)
    assert isinstance(single.teacher, keras_kd.teachers.ModelTeacher)
    assert single.teachers == [trained_teacher] and single.teacher.kind == "probabilities"
    other = make_student(name="other")
    ensemble = keras_kd.Distiller([trained_teacher, other], student, teacher_weights=[1, 3])
    assert isinstance(ensemble.teacher, keras_kd.teachers.EnsembleTeacher)
    assert ensemble.teacher.member_weights == [0.25, 0.75]
    assert ensemble.teacher.kinds == ["probabilities", "logits"]


def test_a_teacher_that_is_not_a_model_is_refused_by_name(make_student):
    with pytest.raises(
        ValueError,
        match=r"The teacher must be a keras.Model.*Received: an object of type builtins.str",
    ):
        keras_kd.Distiller("teacher.keras", make_student())


def test_the_base_interface_names_what_a_subclass_must_implement(make_student):
    class Incomplete(keras_kd.teachers.Teacher):
        pass

    with pytest.raises(NotImplementedError, match=r"Incomplete must implement `bind"):
        keras_kd.Distiller(Incomplete(), make_student())


class ThreeArgumentBind(StoredTargets):
    """A teacher written against `bind` before it took `preprocessor`."""

    def bind(self, student, teacher_layers, teacher_outputs="auto"):
        self.kinds = [self.kind]


class DropsThePreprocessor(StoredTargets):
    def bind(self, student, teacher_layers, teacher_outputs="auto", preprocessor=None):
        self.kinds = [self.kind]


class ForgetsSuperBind(keras_kd.teachers.LiveTeacher):
    def __init__(self, model, **kwargs):
        super().__init__(**kwargs)
        self._set_models([model])

    def bind(self, student, teacher_layers, teacher_outputs="auto", preprocessor=None):
        self.kinds = ["logits"]

    def forward(self, inputs):
        return self.models[0](inputs)

    def view(self, targets):
        return ModelOutputs(targets, "logits")


@pytest.mark.parametrize(
    "teacher, preprocessor, words",
    [
        # Still binds without a preprocessor (the Distiller passes none).
        (lambda m: ThreeArgumentBind("logits", 3), None, None),
        # Before: "bind() got an unexpected keyword argument 'preprocessor'".
        (
            lambda m: ThreeArgumentBind("logits", 3),
            keras.layers.Rescaling(2.0),
            r"ThreeArgumentBind.bind takes no `preprocessor`, but the Distiller received "
            r"teacher_preprocessor='rescaling.*add the argument",
        ),
        # Before: accepted, and the preprocessor never ran.
        (
            lambda m: DropsThePreprocessor("logits", 3),
            keras.layers.Rescaling(2.0),
            r"DropsThePreprocessor.bind received teacher_preprocessor='rescaling.*' but "
            r"neither took it .* nor refused it: it would never run",
        ),
        (
            lambda m: ForgetsSuperBind(m),
            keras.layers.Rescaling(2.0),
            r"ForgetsSuperBind.bind received .* call super\(\).bind",
        ),
    ],
    ids=["three_arguments", "three_arguments_preprocessor", "drops_it", "forgets_super"],
)
def test_hostile_third_party_teachers(make_student, teacher, preprocessor, words):
    student = make_student()
    built = teacher(make_student(name="teacher_model"))
    if words is None:
        keras_kd.Distiller(built, student, teacher_preprocessor=preprocessor)
        return
    error = TypeError if "takes no" in words else ValueError
    with pytest.raises(error, match=words):
        keras_kd.Distiller(built, student, teacher_preprocessor=preprocessor)


# -- The hierarchy: every teacher implements what it supports ------------------


def _statements(function):
    """The statements of `function`'s body, without docstring, `del` and `pass`."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
    body = tree.body[0].body
    return [
        node
        for index, node in enumerate(body)
        if not isinstance(node, (ast.Delete, ast.Pass))
        and not (index == 0 and isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant))
    ]


def _refusal(statements):
    """Whether `statements` do nothing but raise (under conditions or not)."""
    return all(
        isinstance(node, ast.Raise)
        or (isinstance(node, ast.If) and _refusal(node.body) and _refusal(node.orelse))
        for node in statements
    )


def only_refuses(function):
    """Whether `function` can only raise or do nothing: a method overridden to refuse it."""
    statements = _statements(function)
    return bool(statements) and _refusal(statements)


def _refuse_always(self, value):
    raise ValueError("no")


def _refuse_unless_none(self, value):
    """Refuses."""
    if value is not None:
        raise ValueError(f"no {value}")


def _check_then_do(self, value):
    if value is None:
        raise ValueError("no")
    self.value = value


def _check_by_comparing(self, value):
    received = value.shape
    if received != (3,):
        raise ValueError("shape")


def _do(self, value):
    del value
    return 1


@pytest.mark.parametrize(
    "function, refuses",
    [
        (_refuse_always, True),
        (_refuse_unless_none, True),
        (_check_then_do, False),
        (_check_by_comparing, False),
        (_do, False),
    ],
)
def test_only_refuses_tells_a_refusal_from_a_check(function, refuses):
    assert only_refuses(function) is refuses


def _teacher_classes():
    found, pending = [], [keras_kd.teachers.Teacher]
    while pending:
        cls = pending.pop()
        if cls.__module__.startswith("keras_kd."):
            found.append(cls)
        pending.extend(cls.__subclasses__())
    return found


def _function(member):
    if isinstance(member, (staticmethod, classmethod)):
        return member.__func__
    if isinstance(member, property):
        return member.fget
    return member if inspect.isfunction(member) else None


def test_no_teacher_overrides_a_method_only_to_refuse_it():
    classes = _teacher_classes()
    assert {"ModelTeacher", "EnsembleTeacher", "EMATeacher", "TeacherCache"} <= {
        cls.__name__ for cls in classes
    }
    refusals = []
    for cls in classes:
        for name, member in vars(cls).items():
            function = _function(member)
            # Within the Teacher hierarchy: Keras' Layer (and torch's Module
            # under it on PyTorch) has methods of its own, e.g. `forward`.
            inherited = next(
                (
                    base
                    for base in cls.__mro__[1:]
                    if issubclass(base, keras_kd.teachers.Teacher) and name in vars(base)
                ),
                None,
            )
            if function is None or inherited is None:
                continue
            base_function = _function(vars(inherited)[name])
            if base_function is None or only_refuses(base_function):
                continue  # Implementing an abstract method is not refusing it.
            if only_refuses(function):
                refusals.append(f"{cls.__name__}.{name} (overrides {inherited.__name__}.{name})")
    assert not refusals, (
        f"Overridden only to raise: {refusals}. Move the method to a base that "
        "only the teachers supporting it derive from (e.g. LiveTeacher), or "
        "refuse the setting in `bind`."
    )


def test_teachers_split_into_the_interface_and_the_live_ones():
    teachers = keras_kd.teachers
    for live in (teachers.ModelTeacher, teachers.EnsembleTeacher, teachers.EMATeacher):
        assert issubclass(live, teachers.LiveTeacher)
    assert not issubclass(teachers.TeacherCache, teachers.LiveTeacher)
    assert issubclass(teachers.TeacherCache, teachers.Teacher)
    for name in ("set_preprocessor", "teacher_inputs", "remember_student"):
        assert not hasattr(teachers.TeacherCache, name), name


TEACHER_CLASSES = {"LiveTeacher", "ModelTeacher", "EnsembleTeacher", "EMATeacher", "TeacherCache"}


@pytest.mark.parametrize("module", ["distiller.py", "validation.py"])
def test_the_distiller_never_names_a_kind_of_teacher(module):
    path = pathlib.Path(keras_kd.teachers.__file__).parent.parent / module
    tree = ast.parse(path.read_text(encoding="utf-8"))
    named = {
        node.id if isinstance(node, ast.Name) else node.attr
        for node in ast.walk(tree)
        if isinstance(node, (ast.Name, ast.Attribute))
    }
    assert not named & TEACHER_CLASSES, f"{module} branches on {named & TEACHER_CLASSES}"

"""Every public function and class of `keras_kd` and `tflite_export` is annotated.

The names are those of `keras_kd.__all__` and `tflite_export.__all__`; for a
class, its `__init__` and the public methods and properties it defines itself
(inherited Keras methods are Keras' business). Every parameter but `self`,
`cls`, `*args` and `**kwargs` needs an annotation, and so does the return;
the annotations must also resolve to real objects (a typo in a name fails).
"""

import inspect
import typing

import keras
import numpy as np
import pytest

import keras_kd
import tflite_export

# Names a string annotation may start with (forward references such as
# "keras_kd.losses.DistillationLoss"), beside the module's own globals.
try:
    import matplotlib.figure  # comparison_figure's return
except ImportError:  # matplotlib is optional: its annotation is then skipped
    matplotlib = None
NAMES = {"keras": keras, "np": np, "keras_kd": keras_kd, "tflite_export": tflite_export}
if matplotlib is not None:
    NAMES["matplotlib"] = matplotlib

LEAD = "annotated by the lead after the branches that change these signatures are merged"
PENDING: set[str] = set()


def _function_of(member):
    """The function behind a class attribute, or None for a plain value."""
    if isinstance(member, (staticmethod, classmethod)):
        return member.__func__
    if isinstance(member, property):
        return member.fget
    return member if inspect.isfunction(member) else None


def public_callables():
    """`(name, function)` of every public function, method and property."""
    for module in (keras_kd, tflite_export):
        for name in module.__all__:
            value = getattr(module, name)
            qualified = f"{module.__name__}.{name}"
            if inspect.isclass(value):
                for member, attribute in vars(value).items():
                    if member.startswith("_") and member != "__init__":
                        continue
                    function = _function_of(attribute)
                    if function is not None:
                        yield f"{qualified}.{member}", function
            elif inspect.isfunction(value):
                yield qualified, value


def unannotated(function):
    """The parameters without an annotation, and "return" if it has none."""
    signature = inspect.signature(function)
    missing = [
        parameter.name
        for index, parameter in enumerate(signature.parameters.values())
        if parameter.annotation is inspect.Parameter.empty
        and parameter.kind not in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD)
        and not (index == 0 and parameter.name in ("self", "cls"))
    ]
    if signature.return_annotation is inspect.Signature.empty:
        missing.append("return")
    return missing


CALLABLES = dict(public_callables())


def _params():
    for name in sorted(CALLABLES):
        marks = [pytest.mark.xfail(strict=True, reason=LEAD)] if name in PENDING else []
        yield pytest.param(name, id=name, marks=marks)


@pytest.mark.parametrize("name", list(_params()))
def test_every_parameter_and_return_is_annotated(name):
    missing = unannotated(CALLABLES[name])
    assert not missing, f"{name} lacks annotations for: {', '.join(missing)}"


@pytest.mark.parametrize("name", sorted(CALLABLES))
def test_annotations_resolve(name):
    function = CALLABLES[name]
    if matplotlib is None and "matplotlib" in str(function.__annotations__):
        pytest.skip("matplotlib is not installed")
    try:
        typing.get_type_hints(function, localns=NAMES)
    except Exception as error:  # NameError, AttributeError, TypeError of a bad annotation
        pytest.fail(f"{name}: an annotation does not resolve: {type(error).__name__}: {error}")


def test_the_public_names_are_all_found():
    # The enumeration itself: both faces, classes' methods and plain functions.
    assert {
        "keras_kd.load_core",
        "keras_kd.Distiller.fit",
        "keras_kd.Distiller.from_config",
        "keras_kd.TeacherCache.write",
        "keras_kd.TeacherCache.top_k",
        "tflite_export.evaluate",
        "tflite_export.prune_distill",
        "tflite_export.EvaluationReport.__init__",
    } <= set(CALLABLES)
    # Inherited methods are not ours to annotate.
    assert "keras_kd.Distiller.summary" not in CALLABLES


def _bare(a, b: int, *args, **kwargs) -> None: ...


def _no_return(a: int): ...


def _fine(a: int, /, b: str = "", *args, c: float, **kwargs) -> int: ...


class _Class:
    def method(self, x): ...

    @classmethod
    def build(cls, x: int) -> "_Class": ...

    @property
    def size(self): ...


@pytest.mark.parametrize(
    "function, expected",
    [
        (_bare, ["a"]),
        (_no_return, ["return"]),
        (_fine, []),
        (_Class.method, ["x", "return"]),
        (_function_of(vars(_Class)["build"]), []),
        (_function_of(vars(_Class)["size"]), ["return"]),
        (lambda self, cls: None, ["cls", "return"]),  # only a first `self` is exempt
    ],
)
def test_unannotated_names_what_is_missing(function, expected):
    assert unannotated(function) == expected


def test_a_bad_annotation_does_not_resolve():
    def typo(x: "np.ndarry") -> None: ...

    with pytest.raises(AttributeError, match="ndarry"):
        typing.get_type_hints(typo, localns=NAMES)

"""The import graph of keras_kd and tflite_export has no cycle, runs one way
through the layers (core <- apps <- export <- command, docs/architecture.md),
and keras_kd never imports TensorFlow.

The graph is read statically: every `.py` file is parsed with `ast` and every
import counts, at module level or inside a function (a function-level import
hides a cycle; it does not remove it): `import a.b`, `from a import b`,
relative imports, `from . import x` and `importlib.import_module("a.b")` with
a literal name. Imports under `if TYPE_CHECKING:` never run and are skipped.

How an import becomes an edge, so that a package is not blamed for what
Python's import system does anyway:

- `from pkg import name`: to the module `pkg.name` if there is one, else to
  `pkg` (its `__init__`), whose namespace must then hold `name`.
- Importing `a.b.c` also initializes the packages `a` and `a.b`: an edge goes
  to each of them too, except to the importer's own enclosing packages, which
  are always initialized (or being initialized) before their submodules run.
  An explicit `from pkg import name` of a non-module name from the importer's
  own package still counts: the package must have bound `name` by then, and
  if it imports the importer first that is a real cycle.
"""

import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
PACKAGES = ("keras_kd", "tflite_export")

# keras_kd is pure Keras 3: none of these may be imported by it, anywhere
# (its command included: it reaches TensorFlow only through tflite_export).
FORBIDDEN_IN_KERAS_KD = (
    "tensorflow",
    "tf_keras",
    "tensorflow_model_optimization",
    "ai_edge_litert",
)

# The layers, bottom first. A module may import its own layer and the layers
# below it, never one above: core <- apps <- export <- command. The first
# prefix that matches a module names its layer.
LAYERS = ("core", "apps", "export", "command")
LAYER_OF_PREFIX = (
    ("keras_kd.apps", "apps"),
    ("keras_kd.cli", "command"),
    ("keras_kd", "core"),
    ("tflite_export", "export"),
)


def layer_of(module):
    """The layer of a dotted module name of ours, or None for a third party."""
    for prefix, layer in LAYER_OF_PREFIX:
        if module == prefix or module.startswith(prefix + "."):
            return layer
    return None


# -- Reading the imports -------------------------------------------------------


def find_modules(root, packages):
    """`{dotted name: (path, is_package)}` of every module of `packages`."""
    modules = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            if "__pycache__" in path.parts:
                continue
            parts = list(path.relative_to(root).with_suffix("").parts)
            is_package = parts[-1] == "__init__"
            if is_package:
                parts.pop()
            modules[".".join(parts)] = (path, is_package)
    return modules


def _is_type_checking(test):
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _nodes(tree):
    """All nodes of `tree`, skipping the bodies of `if TYPE_CHECKING:`."""
    stack = [tree]
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            stack.extend(node.orelse)
            continue
        stack.extend(ast.iter_child_nodes(node))


def _resolve_relative(name, level, package):
    """`from .name import` inside `package` -> an absolute dotted name."""
    if not level:
        return name
    base = package.split(".")
    if level - 1 > len(base) - 1:
        return None  # Beyond the top-level package.
    base = base[: len(base) - (level - 1)]
    return ".".join(base + ([name] if name else []))


def _import_module_call(node, package):
    """The module named by `importlib.import_module("literal")`, if any."""
    if not isinstance(node, ast.Call) or not node.args:
        return None
    func = node.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
    if name not in ("import_module", "__import__"):
        return None
    first = node.args[0]
    if not (isinstance(first, ast.Constant) and isinstance(first.value, str)):
        return None
    target = first.value
    if target.startswith("."):
        level = len(target) - len(target.lstrip("."))
        return _resolve_relative(target[level:], level, package)
    return target


def raw_imports(module, path, is_package):
    """`[(line, imported dotted name, names taken from it or None)]`.

    `names` is the list of names of a `from X import a, b` (None for a
    plain `import X` or an `import_module` call).
    """
    package = module if is_package else module.rpartition(".")[0]
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in _nodes(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                found.append((node.lineno, alias.name, None))
        elif isinstance(node, ast.ImportFrom):
            base = _resolve_relative(node.module or "", node.level, package)
            if base:
                found.append((node.lineno, base, [a.name for a in node.names]))
        else:
            target = _import_module_call(node, package)
            if target:
                found.append((node.lineno, target, None))
    return found


def _known(name, modules):
    """The longest prefix of `name` that is one of `modules`, or None."""
    parts = name.split(".")
    for end in range(len(parts), 0, -1):
        candidate = ".".join(parts[:end])
        if candidate in modules:
            return candidate
    return None


def _ancestors(name):
    parts = name.split(".")
    return [".".join(parts[:end]) for end in range(1, len(parts))]


def _edges(module, is_package, imports, modules):
    """`{imported module: first line}` of one module."""
    edges = {}
    own_packages = set(_ancestors(module)) | ({module} if is_package else set())

    def add(target, line, explicit):
        if target == module or (not explicit and target in own_packages):
            return
        edges.setdefault(target, line)

    for line, name, names in imports:
        base = _known(name, modules)
        if base is None:
            continue
        for ancestor in _ancestors(base):
            add(ancestor, line, explicit=False)
        if names is None:
            add(base, line, explicit=False)
            continue
        for taken in names:
            submodule = f"{name}.{taken}"
            if taken != "*" and submodule in modules:
                add(base, line, explicit=False)  # Initialized on the way.
                add(submodule, line, explicit=True)
            else:
                add(base, line, explicit=True)
    return edges


def import_graph(root, packages):
    """`{module: {imported module: first line}}` within `packages`."""
    modules = find_modules(root, packages)
    return {
        module: _edges(module, is_package, raw_imports(module, path, is_package), modules)
        for module, (path, is_package) in modules.items()
    }


# -- Finding cycles ------------------------------------------------------------


def _strongly_connected(graph):
    index, low, on_stack, stack, result = {}, {}, set(), [], []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, {})):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            result.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return result


def _cycle_through(start, members, graph):
    """A shortest path start -> ... -> start inside one component."""
    previous, frontier = {start: None}, [start]
    while frontier:
        following = []
        for node in frontier:
            for target in sorted(graph.get(node, {})):
                if target == start:
                    path = [node]
                    while previous[path[-1]] is not None:
                        path.append(previous[path[-1]])
                    return list(reversed(path)) + [start]
                if target in members and target not in previous:
                    previous[target] = node
                    following.append(target)
        frontier = following
    return None


def find_cycles(graph):
    """One cycle per strongly connected component, as lists of modules."""
    cycles = []
    for component in _strongly_connected(graph):
        if len(component) > 1:
            cycles.append(_cycle_through(component[0], set(component), graph))
    return cycles


def describe_cycle(cycle, graph, root, packages):
    modules = find_modules(root, packages)
    steps = []
    for source, target in zip(cycle, cycle[1:]):
        path = modules[source][0].relative_to(root)
        steps.append(f"    {source} -> {target}  ({path}:{graph[source][target]})")
    return " -> ".join(cycle) + "\n" + "\n".join(steps)


# -- The tests -----------------------------------------------------------------


def test_no_import_cycle():
    graph = import_graph(ROOT, PACKAGES)
    assert len(graph) > 10, f"Found too few modules under {ROOT}: {sorted(graph)}"
    cycles = find_cycles(graph)
    assert not cycles, (
        f"{len(cycles)} import cycle(s), function-level imports included:\n"
        + "\n".join(describe_cycle(c, graph, ROOT, PACKAGES) for c in cycles)
    )


def test_keras_kd_imports_no_tensorflow():
    modules = find_modules(ROOT, ("keras_kd",))
    offenders = []
    for module, (path, is_package) in modules.items():
        for line, name, _ in raw_imports(module, path, is_package):
            if name.split(".")[0] in FORBIDDEN_IN_KERAS_KD:
                offenders.append(f"{path.relative_to(ROOT)}:{line}: imports {name}")
    assert not offenders, (
        "keras_kd must stay pure Keras 3 (keras.ops only); these imports "
        "belong in tflite_export:\n" + "\n".join(offenders)
    )


def layer_violations(root, packages):
    """`path:line: module (layer) imports name (layer)` for every upward import."""
    violations = []
    for module, (path, is_package) in find_modules(root, packages).items():
        here = layer_of(module)
        for line, name, _ in raw_imports(module, path, is_package):
            there = layer_of(name)
            if there is not None and LAYERS.index(there) > LAYERS.index(here):
                violations.append(
                    f"{path.relative_to(root)}:{line}: {module} ({here}) imports {name} ({there})"
                )
    return violations


def test_layers_import_only_downwards():
    violations = layer_violations(ROOT, PACKAGES)
    assert not violations, (
        "The layers are core <- apps <- export <- command (docs/architecture.md); "
        "these imports run upwards:\n" + "\n".join(violations)
    )


def test_every_module_has_a_layer():
    unplaced = [m for m in find_modules(ROOT, PACKAGES) if layer_of(m) is None]
    assert not unplaced


@pytest.mark.parametrize(
    "importer, source",
    [
        ("keras_kd/distiller.py", "from keras_kd.apps import recipes\n"),
        ("keras_kd/losses/dkd.py", "import tflite_export\n"),
        ("keras_kd/apps/demo.py", "from keras_kd.cli import main\n"),
        ("tflite_export/tflite/_convert.py", "def f():\n    from keras_kd.cli import _export\n"),
    ],
)
def test_upward_imports_are_found(tmp_path, importer, source):
    _write(
        tmp_path, {importer: source, "keras_kd/__init__.py": "", "tflite_export/__init__.py": ""}
    )
    assert len(layer_violations(tmp_path, PACKAGES)) == 1


def _write(root, files):
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_detects_a_function_level_cycle(tmp_path):
    _write(
        tmp_path,
        {
            "pkg/__init__.py": "from pkg import a\n",
            "pkg/a.py": "from . import b\n",
            "pkg/b.py": "def f():\n    from pkg.a import thing\n",
        },
    )
    graph = import_graph(tmp_path, ("pkg",))
    assert find_cycles(graph) == [["pkg.a", "pkg.b", "pkg.a"]]
    message = describe_cycle(find_cycles(graph)[0], graph, tmp_path, ("pkg",))
    assert "pkg.b -> pkg.a  (pkg/b.py:2)" in message


def test_detects_cycles_through_import_module_and_parent_packages(tmp_path):
    _write(
        tmp_path,
        {
            "pkg/__init__.py": "from pkg.sub import helper\nVERSION = 1\n",
            "pkg/sub/__init__.py": "from .helper import helper\n",
            # A real cycle: pkg/__init__ runs sub.helper before it binds VERSION.
            "pkg/sub/helper.py": "from pkg import VERSION\ndef helper(): pass\n",
            "other/__init__.py": "",
            "other/x.py": "import importlib\nimportlib.import_module('other.y')\n",
            "other/y.py": "def f():\n    import other.x\n",
        },
    )
    cycles = find_cycles(import_graph(tmp_path, ("pkg", "other")))
    assert sorted(cycles) == [
        ["other.x", "other.y", "other.x"],
        ["pkg", "pkg.sub.helper", "pkg"],
    ]


def test_package_and_sibling_imports_are_not_cycles(tmp_path):
    _write(
        tmp_path,
        {
            # The package imports its submodules, which import each other
            # through the package: no cycle.
            "pkg/__init__.py": "from pkg import a\nfrom pkg import b\nimport pkg.c\n",
            "pkg/a.py": "from pkg import b\nimport pkg.c\n",
            "pkg/b.py": "from pkg.c import thing\nfrom typing import TYPE_CHECKING\n"
            "if TYPE_CHECKING:\n    from pkg import a\n",
            "pkg/c.py": "thing = 1\n",
        },
    )
    assert find_cycles(import_graph(tmp_path, ("pkg",))) == []


@pytest.mark.parametrize(
    "source",
    [
        "import tensorflow as tf\n",
        "def f():\n    from tensorflow_model_optimization import sparsity\n",
        "import importlib\nimportlib.import_module('tf_keras')\n",
    ],
)
def test_forbidden_imports_are_found(tmp_path, source):
    _write(tmp_path, {"keras_kd/__init__.py": "", "keras_kd/m.py": source})
    path = tmp_path / "keras_kd" / "m.py"
    names = [name for _, name, _ in raw_imports("keras_kd.m", path, False)]
    assert any(name.split(".")[0] in FORBIDDEN_IN_KERAS_KD for name in names)

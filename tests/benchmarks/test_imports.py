"""Every benchmark script imports, and its names resolve: a script whose
import broke (a helper moved, a name no longer exported) fails here, not
after hours of someone's run."""

import ast

import pytest
from _paths import BENCHMARKS
from _paths import import_benchmark

SCRIPTS = sorted(p.stem for p in BENCHMARKS.glob("*.py") if not p.stem.startswith("_"))


def test_the_benchmarks_folder_is_found():
    assert "pays" in SCRIPTS and "cache_speed" in SCRIPTS


@pytest.mark.parametrize("name", SCRIPTS)
def test_benchmark_imports_and_has_an_entry_point(name):
    module = import_benchmark(name)
    tree = ast.parse((BENCHMARKS / f"{name}.py").read_text(encoding="utf-8"))
    guarded = [
        node
        for node in tree.body
        if isinstance(node, ast.If) and "__main__" in ast.unparse(node.test)
    ]
    assert guarded, f"benchmarks/{name}.py has no `if __name__ == '__main__':` block"
    assert module.__doc__, f"benchmarks/{name}.py has no docstring saying how to run it"

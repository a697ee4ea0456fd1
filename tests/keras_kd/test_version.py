"""keras_kd._version: the version is written in one place, which the package
and pyproject.toml both read, and is a release number."""

import re

import pytest
from _paths import REPO_ROOT

import keras_kd
from keras_kd import _version

tomllib = pytest.importorskip("tomllib")  # Python 3.11+


def test_the_package_and_pyproject_read_the_one_version():
    assert keras_kd.__version__ == _version.__version__
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    assert "version" not in project["project"] and "version" in project["project"]["dynamic"]
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {
        "attr": "keras_kd._version.__version__"
    }


def test_the_version_is_a_release_number():
    assert re.fullmatch(r"\d+\.\d+\.\d+", keras_kd.__version__), keras_kd.__version__

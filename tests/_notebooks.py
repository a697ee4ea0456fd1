"""A notebook's code cells as a Python script, the way the tests run them.

The notebook's install cell (id `install`) is the only one with an IPython
magic, `%pip`. `notebook_code` leaves it out (the tests' own environment has
keras-kd already); `install_code` turns it into plain Python the way IPython
runs it: the line's `{expression}`s expanded in the cell's namespace, then
`python -m pip` with that line in the running interpreter.
"""

import json
import re

INSTALL_CELL_ID = "install"

# `%pip ...` starting a line, or a statement in an indented block (IPython
# runs a line magic in both places).
_PIP_MAGIC = re.compile(r"^(?P<indent>\s*)%pip\s+(?P<args>.*)$")

# What `_pip(...)` means in the converted install cell: IPython's %pip.
PIP_RUNNER = """\
def _pip(line):
    import shlex
    import subprocess
    import sys

    subprocess.run([sys.executable, "-m", "pip", *shlex.split(line)], check=True)


"""


def code_cells(path):
    """`[(cell id, source)]` of the notebook's code cells, in order.

    Asserts that the notebook is nbformat 4 and committed without outputs.
    """
    with open(path, encoding="utf-8") as f:
        notebook = json.load(f)
    assert notebook["nbformat"] == 4
    cells = []
    for cell in notebook["cells"]:
        if cell["cell_type"] != "code":
            continue
        assert not cell["outputs"], "the notebook is committed without outputs"
        cells.append((cell.get("id"), "".join(cell["source"])))
    return cells


def notebook_code(path):
    """The notebook's code cells in order, without the install cell."""
    sources = [source for cell_id, source in code_cells(path) if cell_id != INSTALL_CELL_ID]
    for source in sources:
        magics = [line for line in source.splitlines() if line.lstrip().startswith(("%", "!"))]
        assert not magics, f"only the install cell may use IPython magics: {magics}"
    return "\n\n".join(sources) + "\n"


def install_cell(path):
    """The source of the notebook's install cell."""
    sources = [source for cell_id, source in code_cells(path) if cell_id == INSTALL_CELL_ID]
    assert len(sources) == 1, f"expected one code cell with id {INSTALL_CELL_ID!r}"
    return sources[0]


def ipython_to_python(source):
    """`source` with each `%pip ARGS` line turned into `_pip(f'''ARGS''')`, indented as it was.

    Any other magic or shell escape is refused: the tests could not run it.
    """
    lines = []
    for line in source.splitlines():
        match = _PIP_MAGIC.match(line)
        if match:
            lines.append(f"{match['indent']}_pip(f'''{match['args']}''')")
        elif line.lstrip().startswith(("%", "!")):
            raise ValueError(f"cannot convert the IPython line {line!r}: only %pip is supported")
        else:
            lines.append(line)
    return "\n".join(lines) + "\n"


def install_code(path):
    """The install cell as a Python script that runs pip in its own interpreter."""
    return PIP_RUNNER + ipython_to_python(install_cell(path))

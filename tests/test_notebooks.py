"""Every notebook in notebooks/ executes from top to bottom without an error (they
are committed with their outputs, so that they render on GitHub)."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


def test_the_notebooks_are_there():
    names = {p.name for p in NOTEBOOKS}
    assert names == {
        "01-quickstart.ipynb",
        "02-blacklisting-incident.ipynb",
        "03-compare-retry-policies.ipynb",
        "04-fit-your-own-logs.ipynb",
        "05-end-to-end-delay.ipynb",
        "06-help-desk-monday.ipynb",
    }


@pytest.mark.timeout(600)
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_executes(path):
    committed = nbformat.read(path, as_version=4)
    assert all(
        c.get("outputs") or c.cell_type != "code" or not c.source.strip() for c in committed.cells
    ), "commit the notebook with its outputs"
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook,
        timeout=300,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    )
    client.execute()  # raises CellExecutionError on the first failing cell
    errors = [
        o
        for c in notebook.cells
        if c.cell_type == "code"
        for o in c.outputs
        if o.output_type == "error"
    ]
    assert errors == []

"""examples/quickstart.ipynb runs end to end (on the synthetic demo), as a Kaggle or Colab user would run it."""
from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).resolve().parents[1] / "examples" / "quickstart.ipynb"


@pytest.mark.slow
def test_quickstart_notebook_executes(tmp_path):
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    parameters = [c for c in notebook.cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(parameters) == 1, "the notebook needs exactly one cell tagged 'parameters'"
    # Like papermill: the parameter cell is replaced, the rest runs as written. A missing DATA folder means the demo.
    parameters[0].source = (f'DATA = "{tmp_path / "no-kaggle-input"}"\nREPO = "."\nINSTALL = False\n'
                            f'WORK = "{tmp_path / "work"}"\nMODEL = "cnn"\nIMAGE_SIZE = 32\nTRIALS = 2\nEPOCHS = 2')
    NotebookClient(notebook, timeout=900, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = "".join(o.get("text", "") for c in notebook.cells if c.cell_type == "code" for o in c.get("outputs", []))
    assert "synthetic" in outputs.lower()
    assert "(P(fake) = " in outputs
    assert (tmp_path / "work" / "runs" / "cnn" / "metrics.json").is_file()
    assert (tmp_path / "work" / "leaderboard" / "index.html").is_file()

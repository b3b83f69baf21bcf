"""docs/lecture.ipynb, the classroom notebook, runs from top to bottom (so it never rots)."""

from pathlib import Path

NOTEBOOK = Path(__file__).resolve().parents[1] / "docs" / "lecture.ipynb"


def test_the_lecture_notebook_runs(tmp_path):
    import nbformat
    from nbclient import NotebookClient

    notebook = nbformat.read(NOTEBOOK, as_version=4)
    where = {"metadata": {"path": str(tmp_path)}}  # the notebook writes its checkpoints here
    client = NotebookClient(notebook, timeout=600, kernel_name="python3", resources=where)
    client.execute()
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.output_type == "error"]
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert "valid" in text and "mixed" in text and "sequential network evaluations" in text
    rich = [o for o in outputs if o.output_type == "display_data"]
    assert any("image/png" in o.data for o in rich)  # the version strip
    assert sum("text/html" in o.data and "<audio" in o.data["text/html"] for o in rich) == 2  # two clips to play

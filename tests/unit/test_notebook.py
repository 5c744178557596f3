"""In a notebook, labkit's errors, failed commands and the engine's refusals are one red line; the cell fails."""

import nbformat
import pytest
from docker.errors import APIError, NotFound
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from labkit.errors import CommandFailed
from labkit.notebook import short_message
from tests.kernels import SocketKernelManager


def _run(*sources: str) -> nbformat.NotebookNode:
    notebook: nbformat.NotebookNode = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in sources]
    client = NotebookClient(notebook, kernel_name="python3", timeout=60, kernel_manager_class=SocketKernelManager)
    with pytest.raises(CellExecutionError):
        client.execute()
    return notebook


def test_lab_error_is_one_line_and_stops_the_notebook() -> None:
    notebook = _run("import labkit", "raise labkit.CheckFailed('no image. Hint: build it')", "print('not reached')")
    error = notebook.cells[1].outputs[-1]
    assert error.output_type == "error"
    assert len(error.traceback) == 1
    assert "CheckFailed: no image. Hint: build it" in error.traceback[0]
    assert notebook.cells[2].outputs == []


def test_other_errors_keep_their_full_traceback() -> None:
    notebook = _run("import labkit", "def f():\n    return 1 / 0\nf()")
    assert len(notebook.cells[1].outputs[-1].traceback) > 1


def test_run_output_is_not_echoed_twice() -> None:
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell("from labkit import run\nrun('echo streamed once')")]
    NotebookClient(notebook, kernel_name="python3", timeout=60, kernel_manager_class=SocketKernelManager).execute()
    texts = [output.get("text", "") for output in notebook.cells[0].outputs]
    assert "".join(texts).count("streamed once") == 2  # the `$ echo ...` line and the output line
    assert all(output.output_type == "stream" for output in notebook.cells[0].outputs)


def test_a_failed_command_is_one_line_with_its_last_output_line() -> None:
    failed = CommandFailed("docker build .", 1, "#5 [2/3] COPY app .\nERROR: failed to compute cache key")
    assert short_message(failed) == (
        "`docker build .` exited with code 1: ERROR: failed to compute cache key. "
        "Fix what its output above says, then run the cell again."
    )


def test_the_engines_refusals_are_one_line_with_a_hint() -> None:
    gone = NotFound("404 Client Error", explanation="No such container: web\nmore")
    assert short_message(gone).startswith("Docker has no such object (No such container: web): run the cell")
    refused = APIError("409 Client Error", explanation="Conflict. The name is in use")
    assert short_message(refused) == (
        "The Docker engine refused: Conflict. The name is in use. Fix what it names, then run the cell again."
    )


def test_a_failed_check_names_what_failed_in_its_error_line() -> None:
    """nbval's report of a failed cell (all a CI log shows of it) holds the error line, not the output above."""
    notebook = _run("from labkit import checks", "checks.that('the cache was used', False, 'order the COPY lines')")
    printed, error = notebook.cells[1].outputs[0].text, notebook.cells[1].outputs[-1]
    assert "Not yet: the cache was used." in printed and "Hint: order the COPY lines" in printed
    assert len(error.traceback) == 1
    assert "The check above failed: Not yet: the cache was used. Follow its hint" in error.traceback[0]

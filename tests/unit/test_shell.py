"""labkit.run: echo the command, stream its output, return it, raise when it fails."""

import _thread
import signal
import threading
import time
from collections import deque
from collections.abc import Iterator
from pathlib import Path

import pytest

from labkit import run, shell
from labkit.errors import CommandFailed
from labkit.shell import tail


def test_run_echoes_streams_and_returns_the_output(capsys: pytest.CaptureFixture[str]) -> None:
    assert run("echo one; echo two >&2") == "one\ntwo\n"
    assert capsys.readouterr().out == "$ echo one; echo two >&2\none\ntwo\n"


def test_run_takes_a_list_and_quotes_it(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["printf", "%s|", "a b", "c"], quiet=True) == "a b|c|"
    assert capsys.readouterr().out == ""


def test_run_raises_with_the_exit_code_and_the_tail_of_the_output() -> None:
    with pytest.raises(CommandFailed, match="exited with code 3") as failed:
        run("seq 1 40; exit 3", quiet=True)
    assert failed.value.returncode == 3
    assert failed.value.tail.splitlines() == [str(n) for n in range(16, 41)]


def test_run_uses_pipefail() -> None:
    with pytest.raises(CommandFailed):
        run("false | cat", quiet=True)


def test_run_without_check_returns_the_output_of_a_failure() -> None:
    assert run("echo partial; exit 1", quiet=True, check=False) == "partial\n"


def test_run_stops_the_whole_command_at_its_timeout() -> None:
    started = time.monotonic()
    with pytest.raises(CommandFailed, match="timed out") as failed:
        run("sleep 30 | cat", quiet=True, timeout=1, check=False)
    assert failed.value.returncode is None
    assert time.monotonic() - started < 10


def test_run_honours_cwd_and_env(tmp_path: Path) -> None:
    assert run("pwd; echo $LABKIT_TEST", cwd=tmp_path, env={"LABKIT_TEST": "yes"}, quiet=True) == f"{tmp_path}\nyes\n"


def test_a_push_that_met_registry_2_rewriting_its_tag_says_to_push_again() -> None:
    said = (
        "#18 ERROR: unexpected status from HEAD request to "
        "http://127.0.0.1:32805/v2/shop/api/manifests/1.0.0: 500 Internal Server Error"
    )
    with pytest.raises(CommandFailed) as failed:
        run(f"echo '{said}'; exit 1", quiet=True)
    assert failed.value.advice == shell.TAG_READ_MID_WRITE_ADVICE


def test_tail_keeps_the_last_lines() -> None:
    assert tail("a\nb\nc\n", 2) == "b\nc"


def test_the_record_keeps_the_last_commands_and_the_end_of_each_output(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shell, "RAN", deque(maxlen=2))
    monkeypatch.setattr(shell, "KEPT_CHARACTERS", 4)
    for word in ("one", "two", "three"):
        assert run(f"echo {word}", quiet=True) == f"{word}\n"  # the caller still gets all of it
    assert list(shell.RAN) == [shell.Ran("echo two", 0, "two\n"), shell.Ran("echo three", 0, "ree\n")]


def test_forget_drops_what_ran_after_a_mark_or_everything() -> None:
    shell.forget()
    run("echo kept", quiet=True)
    mark = shell.mark()
    run("echo dropped", quiet=True)
    shell.forget(after=mark)
    assert [done.command for done in shell.RAN] == ["echo kept"]
    shell.forget()
    assert shell.mark() is None


def test_forget_after_a_mark_the_record_no_longer_holds_drops_everything(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shell, "RAN", deque(maxlen=1))
    run("echo marked", quiet=True)
    mark = shell.mark()
    run("echo later", quiet=True)  # pushes the mark out
    shell.forget(after=mark)
    assert not shell.RAN


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


@pytest.fixture
def interruptible() -> Iterator[None]:
    """SIGINT raises KeyboardInterrupt, as in a Jupyter kernel, even where this run inherited it
    ignored (a background job of a shell without job control): interrupt_main does nothing then."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@pytest.mark.usefixtures("interruptible")
def test_an_interrupt_stops_the_command_too(tmp_path: Path) -> None:
    """Jupyter's "Interrupt kernel" raises KeyboardInterrupt in run(); the command must not live on."""
    pid_file = tmp_path / "pid"
    timer = threading.Timer(1.0, _thread.interrupt_main)
    timer.start()
    with pytest.raises(KeyboardInterrupt):
        run(f"sleep 30 & echo $! > {pid_file}; wait", quiet=True)
    pid = int(pid_file.read_text())
    deadline = time.monotonic() + 5
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(pid)


GONE = "Error response from daemon: failed to retrieve image list: content digest sha256:a5e9: not found"


def _fails_first(tmp_path: Path, message: str) -> str:
    """A command that prints `message` and fails the first time it runs, then answers; it counts its runs."""
    runs = tmp_path / "runs"
    return f"echo x >> {runs}; if [ $(wc -l < {runs}) -gt 1 ]; then echo listed; else echo '{message}' >&2; exit 1; fi"


# `docker system df` when a container was removed while it added up the sizes
CONTAINER_GONE = (
    "Error response from daemon: failed to retrieve container list: rw layer snapshot not found for container 6f2e"
)


@pytest.mark.parametrize("message", [GONE, CONTAINER_GONE], ids=["image", "container"])
def test_a_listing_that_lost_an_image_or_container_midway_is_asked_again(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], message: str
) -> None:
    assert run(_fails_first(tmp_path, message)).endswith("listed\n")
    assert "asking again" in capsys.readouterr().out
    assert (tmp_path / "runs").read_text().count("x") == 2
    assert shell.RAN[-1].returncode == 0


def test_any_other_failure_runs_once(tmp_path: Path) -> None:
    with pytest.raises(CommandFailed, match="content digest"):
        run(_fails_first(tmp_path, "content digest sha256:a5e9: not found"), quiet=True)
    assert (tmp_path / "runs").read_text().count("x") == 1

"""What a learner meets most when a step goes wrong ends in one line that says what to do."""

import re

import pytest

from labkit import CommandFailed, catalog, names, run, shell
from tests.labs import wrong_state

LAB_ID = "test-dead-ends"


@pytest.mark.docker
def test_a_name_in_use_says_how_to_remove_the_old_container() -> None:
    name = wrong_state.unique(LAB_ID, "twice")
    start = f"docker run --name {name} {names.label_flags(LAB_ID)} --network none {catalog.image('runtime-deps')} true"
    run(start, quiet=True)
    with pytest.raises(CommandFailed, match=re.escape(f"`docker rm -f {name}` removes it")):
        run(start, quiet=True)


def test_a_server_left_in_the_foreground_is_stopped_with_the_missing_d(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shell, "DETACHED_TIMEOUT", 1.0)
    with pytest.raises(CommandFailed, match=re.escape("starts it detached (`-d`)")):
        run("sleep 30", quiet=True, expect_detached=True)


def test_run_records_what_the_learner_ran() -> None:
    shell.forget()
    run("echo hello", quiet=True)
    run("exit 3", quiet=True, check=False)
    assert list(shell.RAN) == [shell.Ran("echo hello", 0, "hello\n"), shell.Ran("exit 3", 3, "")]


@pytest.mark.docker
def test_a_network_in_use_says_how_to_remove_it() -> None:
    name = wrong_state.unique(LAB_ID, "net")
    create = f"docker network create {names.label_flags(LAB_ID)} {name}"
    run(create, quiet=True)
    with pytest.raises(CommandFailed, match=re.escape(f"`docker network rm {name}` removes it")):
        run(create, quiet=True)

"""Commands through the sync client: results, timeouts, live output, background handles."""

from __future__ import annotations

from sandbox_host import CommandHandle, OutputChunk


def test_stdout_stderr_and_exit_code(sandbox):
    result = sandbox.commands.run("echo out; echo err >&2; exit 7")
    assert (result.stdout, result.stderr, result.exit_code) == ("out\n", "err\n", 7)
    assert result.output == "out\nerr\n"
    assert not result.ok and not result.timed_out


def test_environment_and_working_directory(sandbox):
    result = sandbox.commands.run('echo "$GREETING"; pwd', envs={"GREETING": "hi there"}, cwd="/tmp")
    assert result.stdout == "hi there\n/tmp\n"
    assert result.ok


def test_timeout_kills_the_command(sandbox):
    result = sandbox.commands.run("echo before; sleep 30; echo after", timeout=1)
    assert result.timed_out and result.exit_code == 124
    assert result.stdout == "before\n"
    assert "sleep 30" not in sandbox.commands.run("ps -eo args").stdout


def test_on_stdout_sees_output_as_it_arrives(sandbox):
    # The command waits for a file that only the callback writes, on seeing the first line: it
    # can finish only if that line reached the callback while the command was still running.
    seen: list[str] = []
    errors: list[str] = []

    def on_stdout(data: str) -> None:
        seen.append(data)
        if data == "first\n":
            sandbox.files.write("go", "")

    result = sandbox.commands.run(
        "echo first; until [ -e /workspace/go ]; do sleep 0.02; done; echo second; echo oops >&2; exit 3",
        on_stdout=on_stdout, on_stderr=errors.append, timeout=30)
    assert not result.timed_out
    assert seen == ["first\n", "second\n"]
    assert errors == ["oops\n"]
    assert (result.stdout, result.stderr, result.exit_code) == ("first\nsecond\n", "oops\n", 3)


def test_on_stdout_with_a_timeout_kills_the_session(sandbox):
    seen: list[str] = []
    result = sandbox.commands.run("echo started; sleep 30", on_stdout=seen.append, timeout=1)
    assert result.timed_out and result.exit_code == 124
    assert seen == ["started\n"]
    assert "sleep 30" not in sandbox.commands.run("ps -eo args").stdout


def test_background_command_streams_then_waits(sandbox):
    handle = sandbox.commands.run("echo one; sleep 0.3; echo two >&2; exit 4", background=True)
    assert isinstance(handle, CommandHandle)
    chunks = list(handle.stream(timeout=30))
    assert chunks == [OutputChunk("stdout", "one\n"), OutputChunk("stderr", "two\n")]
    assert handle.exit_code == 4
    result = handle.wait()
    assert (result.stdout, result.stderr, result.exit_code) == ("one\n", "two\n", 4)


def test_background_commands_in_one_session_keep_their_own_output(sandbox):
    first = sandbox.commands.run("echo from-first", background=True, session="shared")
    assert first.wait(timeout=30).stdout == "from-first\n"
    second = sandbox.commands.run("sleep 0.2; echo from-second", background=True, session="shared")
    result = second.wait(timeout=30)
    assert result.stdout == "from-second\n" and result.exit_code == 0


def test_background_kill(sandbox):
    handle = sandbox.commands.run("sleep 30", background=True)
    handle.kill()
    result = handle.wait(timeout=30)
    assert result.exit_code != 0

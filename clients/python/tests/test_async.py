"""The asyncio client against the live host: commands, files, archives, errors."""

from __future__ import annotations

import asyncio
import io
import tarfile
import zipfile

import pytest

from sandbox_host import AsyncCommandHandle, AsyncSandbox, NotFoundError, OutputChunk, UnauthorizedError, ValidationError


def _run(coroutine, timeout: float = 60):
    return asyncio.run(asyncio.wait_for(coroutine, timeout))


async def _with_sandbox(body):
    sandbox = await AsyncSandbox.create(project="sdk-async-test")
    try:
        return await body(sandbox)
    finally:
        try:
            await sandbox.delete()
        finally:
            await sandbox.close()


def test_async_commands(live_host):
    async def body(sandbox: AsyncSandbox):
        result = await sandbox.commands.run("echo out; echo err >&2; exit 5")
        assert (result.stdout, result.stderr, result.exit_code) == ("out\n", "err\n", 5)
        result = await sandbox.commands.run("echo before; sleep 30", timeout=1)
        assert result.timed_out and result.exit_code == 124 and result.stdout == "before\n"

        seen: list[str] = []

        async def on_stdout(data: str) -> None:  # a coroutine callback, live: the command waits for it
            seen.append(data)
            if data == "first\n":
                await sandbox.files.write("go", "")

        errors: list[str] = []
        result = await sandbox.commands.run(
            "echo first; until [ -e /workspace/go ]; do sleep 0.02; done; echo second; echo bad >&2",
            on_stdout=on_stdout, on_stderr=errors.append, timeout=30)
        assert seen == ["first\n", "second\n"] and not result.timed_out
        assert errors == ["bad\n"] and result.exit_code == 0

        timed = await sandbox.commands.run("echo started; sleep 30", on_stdout=lambda d: None, timeout=1)
        assert timed.timed_out and timed.exit_code == 124 and timed.stdout == "started\n"

        handle = await sandbox.commands.run("echo one; sleep 0.3; echo two >&2; exit 2", background=True)
        assert isinstance(handle, AsyncCommandHandle)
        chunks = [chunk async for chunk in handle.stream()]
        assert chunks == [OutputChunk("stdout", "one\n"), OutputChunk("stderr", "two\n")] and handle.exit_code == 2
        assert (await handle.wait()).stdout == "one\n"

    _run(_with_sandbox(body))


def test_async_files_and_archives(live_host, tmp_path):
    async def body(sandbox: AsyncSandbox):
        assert (await sandbox.files.write("a b/c.txt", "async text")).size == len("async text")
        assert await sandbox.files.read("a b/c.txt") == "async text"
        assert [entry.name for entry in await sandbox.files.list("a b")] == ["c.txt"]
        assert await sandbox.files.exists("a b/c.txt")
        await sandbox.files.move("a b/c.txt", "d/c.txt")
        assert [m["path"] for m in await sandbox.files.search("async")] == ["/workspace/d/c.txt"]
        await sandbox.files.remove("d")
        with pytest.raises(NotFoundError):
            await sandbox.files.read("d/c.txt")

        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            archive.writestr("z/one.txt", "one")
            archive.writestr("z/two.txt", "two")
        local = tmp_path / "in.zip"
        local.write_bytes(buffer.getvalue())
        result = await sandbox.files.upload_archive(str(local), path="unzipped")
        assert result.extracted >= 2
        assert await sandbox.files.read("unzipped/z/two.txt") == "two"
        target = tmp_path / "out.tar"
        await sandbox.files.download("unzipped", format="tar", to=target)
        with tarfile.open(target) as archive:
            assert any(name.endswith("z/one.txt") for name in archive.getnames())
        with pytest.raises(ValidationError):
            await sandbox.files.write("../outside", "x")

    _run(_with_sandbox(body))


def test_async_wrong_key(live_host):
    with pytest.raises(UnauthorizedError):
        _run(AsyncSandbox.create(project="x", api_key="sbx_wrong"))

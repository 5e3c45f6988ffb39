"""Files through the sync client: round trips, listing, archives both ways."""

from __future__ import annotations

import io
import tarfile
import zipfile

import pytest

from sandbox_host import NotFoundError, ValidationError


def _tar_gz(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in entries.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def test_text_and_bytes_round_trip(sandbox):
    info = sandbox.files.write("src/hello.txt", "héllo\n")
    assert info.path == "/workspace/src/hello.txt" and info.size == len("héllo\n".encode())
    assert sandbox.files.read("src/hello.txt") == "héllo\n"
    blob = bytes(range(256)) * 64
    sandbox.files.write("/workspace/bin/blob", io.BytesIO(blob))
    assert sandbox.files.read("bin/blob", format="bytes") == blob
    # The sandbox sees what the API wrote.
    assert sandbox.commands.run("cat src/hello.txt").stdout == "héllo\n"


def test_names_with_spaces_and_plus_signs(sandbox):
    sandbox.files.write("read me+now.md", "x")
    names = [entry.name for entry in sandbox.files.list()]
    assert "read me+now.md" in names
    assert sandbox.commands.run("cat 'read me+now.md'").stdout == "x"


def test_list_exists_move_search_remove(sandbox):
    sandbox.files.write("dir/a.py", "print('needle')\n")
    sandbox.files.write("dir/b.txt", "nothing\n")
    entries = {entry.name: entry for entry in sandbox.files.list("dir")}
    assert set(entries) == {"a.py", "b.txt"}
    assert not entries["a.py"].is_dir and entries["a.py"].size == len("print('needle')\n")
    assert sandbox.files.exists("dir/a.py") and not sandbox.files.exists("dir/none")
    assert sandbox.files.move("dir/b.txt", "moved/b.txt") == "/workspace/moved/b.txt"
    matches = sandbox.files.search("needle")
    assert [(m["path"], m["line"]) for m in matches] == [("/workspace/dir/a.py", 1)]
    sandbox.files.remove("dir")
    assert not sandbox.files.exists("dir")
    with pytest.raises(NotFoundError):
        sandbox.files.read("dir/a.py")


def test_upload_archive_then_download_it(sandbox, tmp_path):
    result = sandbox.files.upload_archive(_tar_gz({"pkg/mod.py": b"x = 1\n", "pkg/sub/data.bin": b"\0\1\2"}), path="proj")
    assert result.extracted >= 2 and result.skipped == []
    assert sandbox.files.read("proj/pkg/mod.py") == "x = 1\n"
    local = tmp_path / "upload.tar.gz"
    local.write_bytes(_tar_gz({"from-disk.txt": b"streamed from a file\n"}))
    sandbox.files.upload_archive(str(local), path="proj")
    assert sandbox.commands.run("cat proj/from-disk.txt").stdout == "streamed from a file\n"

    zipped = zipfile.ZipFile(io.BytesIO(sandbox.files.download("proj")))
    names = set(zipped.namelist())
    assert any(name.endswith("pkg/mod.py") for name in names), names
    member = next(name for name in names if name.endswith("pkg/sub/data.bin"))
    assert zipped.read(member) == b"\0\1\2"

    target = tmp_path / "proj.tar.gz"
    assert sandbox.files.download("proj", format="tar.gz", to=str(target)) == str(target)
    with tarfile.open(target) as archive:
        member = next(m for m in archive.getmembers() if m.name.endswith("from-disk.txt"))
        assert archive.extractfile(member).read() == b"streamed from a file\n"


def test_write_files_in_one_request(sandbox):
    written = sandbox.files.write_files({"one.txt": "1", "sub/dir/two.bin": b"\0\2", "with space.md": "s"}, path="many")
    assert sorted(info.path for info in written) == [
        "/workspace/many/one.txt", "/workspace/many/sub/dir/two.bin", "/workspace/many/with space.md"]
    assert sandbox.files.read("many/sub/dir/two.bin", format="bytes") == b"\0\2"
    assert sandbox.files.read("many/with space.md") == "s"
    assert [info.path for info in sandbox.files.write_files({"solo.txt": "only"}, path="fresh")] == ["/workspace/fresh/solo.txt"]
    with pytest.raises(ValidationError):
        sandbox.files.write_files({"ok.txt": "x", "../../escape.txt": "y"}, path="many")
    assert not sandbox.files.exists("many/ok.txt")

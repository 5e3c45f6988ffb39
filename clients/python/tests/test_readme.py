"""The README's examples run as written against a live host."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def _python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def _run(code: str) -> str:
    env = dict(os.environ)  # SANDBOX_HOST_URL and SANDBOX_HOST_API_KEY: set by the live_host fixture
    env["PYTHONPATH"] = str(README.parent) + os.pathsep + env.get("PYTHONPATH", "")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, f"exit {done.returncode}\nstdout:\n{done.stdout}\nstderr:\n{done.stderr}"
    return done.stdout


def test_readme_has_the_examples():
    assert len(_python_blocks()) == 2


def test_sync_example_runs_as_written(live_host):
    out = _run(_python_blocks()[0])
    assert "hello from" in out and "Python 3" in out
    assert "hi from a file" in out
    assert "['main.py']" in out
    assert "line 1\n" in out and "line 3\n" in out
    assert "finished in the background" in out
    assert re.search(r"preview: http://3000-[0-9a-f-]+\.preview\.localhost:\d+/", out), out
    assert "tool: shell" in out and "run completed" in out


def test_async_example_runs_as_written(live_host):
    out = _run(_python_blocks()[1])
    assert out.splitlines() == ["hello async", "written with asyncio"]


def test_the_projects_readme_shows_the_tested_example():
    """The project's README.md carries a copy of the SDK example: it must be the text tested here."""
    root = README.parents[2] / "README.md"
    copies = [block for block in re.findall(r"```python\n(.*?)```", root.read_text(), flags=re.S)
              if "sandbox_host" in block]
    for block in copies:
        assert block in _python_blocks(), "README.md's SDK example differs from clients/python/README.md's (tested) one"

"""A live host for the SDK's tests: the built ``sandbox-host serve`` on a free port with a temp
data directory, pointed at a fake model provider on loopback; stopped and removed however the
session ends (a normal end, a failure, Ctrl-C or SIGTERM; if this process is killed outright,
the host gets SIGTERM from the kernel through PR_SET_PDEATHSIG)."""

from __future__ import annotations

import ctypes
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # the package, without installing it
sys.path.insert(0, str(HERE))

from fake_model import FakeModelServer  # noqa: E402

REPO = HERE.parents[2]
START_DEADLINE = 30.0
# A small upload limit, so a test reaches 413 without writing gigabytes.
UPLOAD_LIMIT = 4 << 20


def _binary() -> str:
    path = os.environ.get("SANDBOX_HOST_BINARY") or str(REPO / ".build" / "debug" / "sandbox-host")
    if not os.access(path, os.X_OK):
        pytest.exit(f"no sandbox-host binary at {path}: run `swift build` first (make test does), "
                    "or set SANDBOX_HOST_BINARY", returncode=2)
    return path


def _die_with_parent() -> None:
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


@dataclass
class LiveHost:
    base_url: str
    port: int
    api_key: str
    data_dir: str
    binary: str
    process: subprocess.Popen
    output: list[str]
    model: FakeModelServer

    def cli(self, *args: str) -> str:
        """Runs the binary's CLI against this host's data directory; answers its output."""
        done = subprocess.run([self.binary, *args, "--data-dir", self.data_dir], capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    def new_user_key(self, name: str) -> str:
        return self.cli("users", "create", name).strip().splitlines()[-1].strip()

    @property
    def log(self) -> str:
        return "".join(self.output)


def _unmount_under(directory: str) -> None:
    """Project volumes a host left mounted under its data directory (never walked into)."""
    root = os.path.realpath(directory)
    try:
        with open("/proc/self/mountinfo") as table:
            points = [line.split()[4] for line in table]
    except OSError:
        return
    for point in sorted({p for p in points if p == root or p.startswith(root + "/")}, key=len, reverse=True):
        subprocess.run(["umount", "-l", point], capture_output=True)


@pytest.fixture(scope="session")
def live_host() -> LiveHost:
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    model = FakeModelServer()
    # run.sh makes the directory and removes it however pytest ends; alone, pytest makes its own.
    work_dir = os.environ.get("SDK_TEST_WORK_DIR") or tempfile.mkdtemp(prefix="sdk-tests-")
    data_dir = os.path.join(work_dir, "data")
    binary = _binary()
    env = dict(os.environ)
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL"):
        env.pop(name, None)
    env.update(model.environment())
    env["SANDBOX_HOST_NETWORK"] = "off"
    env["SANDBOX_HOST_MAX_UPLOAD_BYTES"] = str(UPLOAD_LIMIT)
    process = subprocess.Popen([binary, "serve", "--port", "0", "--data-dir", data_dir], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, env=env, preexec_fn=_die_with_parent)
    Path(work_dir, "host.pid").write_text(str(process.pid))
    output: list[str] = []
    threading.Thread(target=lambda: [output.append(line.decode("utf-8", "replace")) for line in process.stdout],
                     daemon=True).start()
    saved = {k: os.environ.get(k) for k in ("SANDBOX_HOST_URL", "SANDBOX_HOST_API_KEY")}
    try:
        deadline = time.monotonic() + START_DEADLINE
        port = None
        while port is None and time.monotonic() < deadline and process.poll() is None:
            found = re.search(r"listening on http://[^\s]*:(\d+)", "".join(output))
            port = int(found.group(1)) if found else None
            if port is None:
                time.sleep(0.05)
        if port is None:
            raise RuntimeError("the host did not start:\n" + "".join(output))
        key = Path(data_dir, "admin.key").read_text().strip()
        host = LiveHost(base_url=f"http://127.0.0.1:{port}", port=port, api_key=key, data_dir=data_dir, binary=binary,
                        process=process, output=output, model=model)
        # What the README's example reads.
        os.environ["SANDBOX_HOST_URL"] = host.base_url
        os.environ["SANDBOX_HOST_API_KEY"] = key
        yield host
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
        model.stop()
        _unmount_under(work_dir)
        shutil.rmtree(work_dir if "SDK_TEST_WORK_DIR" not in os.environ else data_dir, ignore_errors=True)
        signal.signal(signal.SIGTERM, previous)


@pytest.fixture
def sandbox(live_host: LiveHost):
    """A new project's sandbox for one test, deleted after it."""
    from sandbox_host import Sandbox
    box = Sandbox.create(project="sdk-test")
    try:
        yield box
    finally:
        try:
            box.delete()
        finally:
            box.close()

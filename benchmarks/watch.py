#!/usr/bin/env python3
"""File watch benchmark: file-change-to-event latency through GET …/files/watch, beside the floor.

Usage: python3 benchmarks/watch.py [--writes 200] [--binary .build/release/sandbox-host]
Needs root, like the host. Prints one table of p50/p99 latencies (ms):
- floor: a write on the host side of the workspace to a raw inotify read in this process (the
  kernel's own latency, nothing of ours);
- host write: the same write, until its event arrives on the SSE stream (ours: the watcher's
  thread, the client's queue, the stream's write, loopback HTTP);
- API PUT: from sending `PUT …/files/content` until the event arrives (includes the PUT itself,
  whose own latency is shown beside it).
Writes are 60 ms apart, past the 50 ms coalescing window, so no event waits for it.
"""
import argparse, ctypes, json, os, select, shutil, statistics, struct, sys, tempfile, threading, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run import Host, ROOT, percentile, remove_data_dir  # noqa: E402


class Watch:
    """Reads the SSE stream on a thread; `wait(path, kind)` answers when that event arrived."""
    def __init__(self, host, sandbox):
        self.arrived = {}
        self.condition = threading.Condition()
        self.connection = host.connection()
        self.connection.request("GET", f"/api/sandboxes/{sandbox}/files/watch", headers={"Authorization": "Bearer " + host.key})
        self.response = self.connection.getresponse()
        if self.response.status != 200:
            raise SystemExit(f"watch: {self.response.status} {self.response.read()[:300]!r}")
        self.ready = threading.Event()
        threading.Thread(target=self.read, daemon=True).start()
        self.ready.wait(30)

    def read(self):
        try:
            self.follow()
        except (OSError, ValueError, AttributeError):
            pass  # the stream closed at the end of the run

    def follow(self):
        for raw in self.response:
            line = raw.decode().rstrip("\n")
            if line.startswith("event: ping"):
                self.ready.set()
            if not line.startswith("data: "):
                continue
            event = json.loads(line[6:])
            with self.condition:
                self.arrived.setdefault((event.get("type"), event.get("path")), time.perf_counter())
                self.condition.notify_all()

    def wait(self, kind, path, timeout=10):
        with self.condition:
            self.condition.wait_for(lambda: (kind, path) in self.arrived, timeout)
            return self.arrived.get((kind, path))


def inotify_floor(directory, writes):
    """Write → raw inotify read, in this process: the kernel's part."""
    libc = ctypes.CDLL(None, use_errno=True)
    fd = libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
    libc.inotify_add_watch(fd, directory.encode(), 0x100 | 0x2)  # IN_CREATE | IN_MODIFY
    samples = []
    for index in range(writes):
        started = time.perf_counter()
        with open(os.path.join(directory, f"floor{index}"), "wb") as handle:
            handle.write(b"x")
        select.select([fd], [], [], 5)
        samples.append(time.perf_counter() - started)
        while True:
            try:
                os.read(fd, 65536)
            except BlockingIOError:
                break
        time.sleep(0.01)
    os.close(fd)
    return samples


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--writes", type=int, default=200)
    parser.add_argument("--binary", default=os.path.join(ROOT, ".build/release/sandbox-host"))
    args = parser.parse_args()
    data_dir = tempfile.mkdtemp(prefix="watch-bench-")
    # An open SSE stream holds the host's SIGTERM shutdown until the host sees the client gone,
    # at its next heartbeat: a short one lets the run end quickly.
    os.environ["SANDBOX_HOST_HEARTBEAT_MS"] = "500"
    host = Host(args.binary, data_dir)
    watch = None
    try:
        connection = host.connection()
        project = host.call(connection, "POST", "/api/projects", {"name": "watch"})["project_id"]
        sandbox = host.call(connection, "POST", f"/api/project/{project}/sandbox/ensure-active")["sandbox_id"]
        workspace = os.path.join(data_dir, "workspaces", project, "workspace")
        os.makedirs(os.path.join(workspace, "floor"))
        floor = inotify_floor(os.path.join(workspace, "floor"), args.writes)

        watch = Watch(host, sandbox)
        hosted = []
        for index in range(args.writes):
            started = time.perf_counter()
            with open(os.path.join(workspace, f"host{index}"), "wb") as handle:
                handle.write(b"x")
            arrived = watch.wait("create", f"/workspace/host{index}")
            if arrived is None:
                raise SystemExit(f"no event for host{index}")
            hosted.append(arrived - started)
            time.sleep(0.06)

        api, puts = [], []
        for index in range(args.writes):
            body = b"x" * 100
            started = time.perf_counter()
            connection.request("PUT", f"/api/sandboxes/{sandbox}/files/content?path=api{index}", body=body,
                               headers={"Authorization": "Bearer " + host.key})
            response = connection.getresponse()
            response.read()
            answered = time.perf_counter()
            if response.status != 200:
                raise SystemExit(f"PUT: {response.status}")
            arrived = watch.wait("create", f"/workspace/api{index}")
            if arrived is None:
                raise SystemExit(f"no event for api{index}")
            api.append(arrived - started)
            puts.append(answered - started)
            time.sleep(0.06)

        print(f"\nFile watch: change-to-event latency, {args.writes} writes each (ms)\n")
        print("| path | p50 | p99 |")
        print("|---|---|---|")
        for name, samples in [("floor: host write → raw inotify read (kernel)", floor),
                              ("host write → SSE event (ours)", hosted),
                              ("API PUT sent → SSE event (ours)", api),
                              ("API PUT alone (its own latency)", puts)]:
            print(f"| {name} | {percentile(samples, 50) * 1000:.2f} | {percentile(samples, 99) * 1000:.2f} |")
    finally:
        if watch is not None:
            watch.connection.sock.shutdown(2)
            watch.connection.close()
        host.process.terminate()
        host.process.wait(timeout=30)
        remove_data_dir(data_dir)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""File API benchmark: ours beside the physical floor (bsdtar, a plain write+fsync), one run.

Usage: python3 benchmarks/files.py [--files 20000] [--megabytes 200] [--binary .build/release/sandbox-host]
(`make bench` builds the release binary and runs this after run.py). Needs root, like the host.
Prints one table: wall times, throughput, and the host's peak RSS growth during downloads.
"""
import argparse, http.client, os, random, shutil, statistics, subprocess, sys, tempfile, threading, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run import Host, ROOT  # noqa: E402


def make_tree(root, files, megabytes):
    """A node_modules-like tree: nested packages of small, compressible text files."""
    rng = random.Random(7)
    words = [("".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(2, 10)))).encode() for _ in range(4000)]
    pool = b" ".join(rng.choice(words) + (b";\n" if rng.random() < 0.1 else b"") for _ in range(400_000))
    average = megabytes * (1 << 20) // files
    for index in range(files):
        directory = os.path.join(root, "node_modules", f"pkg{index // 200}", "lib", f"sub{index % 7}")
        os.makedirs(directory, exist_ok=True)
        size = rng.randint(average // 2, average * 3 // 2)
        start = rng.randrange(0, len(pool) - size)
        with open(os.path.join(directory, f"file{index}.js"), "wb") as handle:
            handle.write(pool[start:start + size])


def timed(command):
    started = time.perf_counter()
    subprocess.run(command, shell=True, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


class RSSSampler:
    """Peak VmRSS of a process while running, sampled every 5 ms."""
    def __init__(self, host):
        self.host, self.peak, self.running = host, 0, True
        self.base = host.rss_kib()
        self.thread = threading.Thread(target=self.sample, daemon=True)
        self.thread.start()

    def sample(self):
        while self.running:
            self.peak = max(self.peak, self.host.rss_kib())
            time.sleep(0.005)

    def stop(self):
        self.running = False
        self.thread.join()
        return max(0, self.peak - self.base) / 1024


def download(host, sandbox, fmt):
    connection = host.connection()
    connection.request("GET", f"/api/sandboxes/{sandbox}/download-archive?format={fmt}&all=true",
                       headers={"Authorization": "Bearer " + host.key})
    started = time.perf_counter()
    response = connection.getresponse()
    total = 0
    while True:
        chunk = response.read(1 << 20)
        if not chunk:
            break
        total += len(chunk)
    if response.status != 200:
        raise RuntimeError(f"download {fmt}: {response.status}")
    return time.perf_counter() - started, total


def upload(host, route, body):
    connection = host.connection()
    started = time.perf_counter()
    connection.request("PUT" if "content" in route else "POST", route, body=body,
                       headers={"Authorization": "Bearer " + host.key, "Content-Type": "application/octet-stream"})
    response = connection.getresponse()
    data = response.read()
    if response.status != 200:
        raise RuntimeError(f"{route}: {response.status} {data[:300]!r}")
    return time.perf_counter() - started


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=20_000)
    parser.add_argument("--megabytes", type=int, default=200)
    parser.add_argument("--tree-runs", type=int, default=20)
    parser.add_argument("--binary", default=os.path.join(ROOT, ".build", "release", "sandbox-host"))
    args = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("run as root (the host makes sandboxes)")
    scratch = tempfile.mkdtemp(prefix="files-bench-")
    rows = []
    try:
        host = Host(args.binary, os.path.join(scratch, "data"))
        connection = host.connection()
        projects = {}
        for name in ["tree", "big", "extract"]:
            project = host.call(connection, "POST", "/api/projects", {"name": name})["project_id"]
            sandbox = host.call(connection, "POST", f"/api/project/{project}/sandbox/ensure-active")["sandbox_id"]
            projects[name] = (project, sandbox)
        workspace = lambda name: os.path.join(scratch, "data", "workspaces", projects[name][0])

        print(f"generating {args.files} files, ~{args.megabytes} MB ...", file=sys.stderr)
        make_tree(workspace("tree"), args.files, args.megabytes)
        big = os.urandom(args.megabytes << 20)
        with open(os.path.join(workspace("big"), "big.bin"), "wb") as handle:
            handle.write(big)
        subprocess.run("sync", check=True)
        tree_dir, big_dir = workspace("tree"), workspace("big")

        # Downloads: bsdtar on the same tree in the same run is the floor.
        for label, directory, key in [("20k-file tree", tree_dir, "tree"), ("one 200 MB file", big_dir, "big")]:
            for fmt, floor in [("tar.gz", f"bsdtar -czf - -C {directory} . > /dev/null"),
                               ("zip", f"bsdtar --format zip -cf - -C {directory} . > /dev/null")]:
                timed(floor)  # warm the page cache
                floor_seconds = timed(floor)
                sampler = RSSSampler(host)
                ours, size = download(host, projects[key][1], fmt)
                growth = sampler.stop()
                rows.append((f"download {fmt}, {label}", ours, floor_seconds, f"{ours / floor_seconds:.2f}x of bsdtar, RSS +{growth:.1f} MiB, {size >> 20} MiB"))

        # Upload of the big file: a plain write + fsync of the same bytes is the floor.
        floor_path = os.path.join(scratch, "floor.bin")
        started = time.perf_counter()
        with open(floor_path, "wb") as handle:
            handle.write(big)
            handle.flush()
            os.fsync(handle.fileno())
        floor_seconds = time.perf_counter() - started
        os.unlink(floor_path)
        ours = upload(host, f"/api/sandboxes/{projects['big'][1]}/files/content?path=upload.bin", big)
        megabytes = len(big) / 1e6
        rows.append(("upload 200 MB raw (PUT)", ours, floor_seconds, f"{megabytes / ours:.0f} MB/s (floor {megabytes / floor_seconds:.0f} MB/s)"))

        # Archive upload of the tree: bsdtar extracting the same archive is the floor.
        archive = os.path.join(scratch, "tree.tar.gz")
        subprocess.run(f"bsdtar -czf {archive} -C {tree_dir} .", shell=True, check=True)
        target = os.path.join(scratch, "floor-extract")
        os.makedirs(target)
        floor_seconds = timed(f"bsdtar -xzf {archive} -C {target} && sync")
        with open(archive, "rb") as handle:
            body = handle.read()
        ours = upload(host, f"/api/sandboxes/{projects['extract'][1]}/files/archive?path=x", body)
        rows.append(("archive upload (tar.gz) of the 20k-file tree", ours, floor_seconds, f"{args.files / ours:.0f} files/s (floor {args.files / floor_seconds:.0f} files/s)"))

        # Tree of the 20k-file workspace, every directory descended into.
        times = []
        for _ in range(args.tree_runs):
            started = time.perf_counter()
            data = host.call(connection, "GET", f"/api/sandboxes/{projects['tree'][1]}/files/tree?all=true")
            times.append(time.perf_counter() - started)
        assert data["totalFiles"] == args.files, data["totalFiles"]
        floor_seconds = timed(f"find {tree_dir} -printf '%s %p\\n'")
        rows.append((f"tree?all=true of {args.files} files (p50 of {args.tree_runs})", statistics.median(times), floor_seconds,
                     f"p99 {max(times) * 1000:.0f} ms (floor: find -printf)"))
        host.stop()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    print(f"\n{'measurement':<48} {'ours s':>8} {'floor s':>8}  notes")
    print("-" * 110)
    for name, ours, floor, note in rows:
        print(f"{name:<48} {ours:>8.3f} {floor:>8.3f}  {note}")


if __name__ == "__main__":
    main()

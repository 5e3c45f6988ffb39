#!/usr/bin/env python3
"""Sandbox runtime benchmark: the physical floors beside sandbox-host, in one run.

Usage: python3 benchmarks/run.py [--runs 200] [--density 1000] [--binary .build/release/sandbox-host]
(`make bench` builds the release binary and runs this). Needs root, like the host.
Prints a table of p50/p99 latencies (ms), exec throughput and per-sandbox memory.
"""
import argparse, http.client, json, os, re, shutil, statistics, subprocess, sys, tempfile, threading, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def percentile(values, p):
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, int(round(p / 100 * (len(ordered) - 1)))))
    return ordered[index]


def remove_data_dir(data_dir):
    """A stopped host's data dir, with any volume it left mounted: each project's disk image
    holds real blocks, and 200 creates a run would otherwise leave gigabytes in /tmp."""
    prefix = os.path.realpath(data_dir) + "/"
    points = [line.split()[4] for line in open("/proc/self/mountinfo") if line.split()[4].startswith(prefix)]
    for point in sorted(points, reverse=True):
        subprocess.run(["umount", "-l", point], check=False)
    shutil.rmtree(data_dir, ignore_errors=True)


def cold_create(host, connection, name, network=None):
    """Creates a project (with `network` when given) and times ensure-active + `execute true`;
    answers (ms until running, ms until the command ran, sandbox id, project id)."""
    body = {"name": name}
    if network is not None:
        body["network"] = network
    project = host.call(connection, "POST", "/api/projects", body)["project_id"]
    start = time.perf_counter()
    sandbox = host.call(connection, "POST", f"/api/project/{project}/sandbox/ensure-active")["sandbox_id"]
    middle = time.perf_counter()
    result = host.call(connection, "POST", f"/api/sandboxes/{sandbox}/execute", {"command": "true"})
    end = time.perf_counter()
    assert result["exit_code"] == 0, result
    return (middle - start) * 1000, (end - start) * 1000, sandbox, project


class Host:
    def __init__(self, binary, data_dir):
        # Every benchmark client comes from 127.0.0.1 (agent.py follows one run with 1,000 SSE
        # clients): the per-address connection cap (256 by default) is off here.
        env = dict(os.environ, SANDBOX_HOST_RATE_LIMIT="0", SANDBOX_HOST_LOG_LEVEL="warning",
                   SANDBOX_HOST_MAX_CONNECTIONS_PER_ADDRESS="0")
        self.process = subprocess.Popen([binary, "serve", "--port", "0", "--data-dir", data_dir],
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, text=True)
        for line in self.process.stdout:
            match = re.search(r"listening on http://127\.0\.0\.1:(\d+)", line)
            if match:
                self.port = int(match.group(1))
                break
        else:
            raise SystemExit("host did not start")
        threading.Thread(target=lambda: [None for _ in self.process.stdout], daemon=True).start()
        self.key = open(os.path.join(data_dir, "admin.key")).read().strip()
        self.data_dir = data_dir

    def connection(self):
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)

    def call(self, connection, method, path, body=None):
        headers = {"Authorization": "Bearer " + self.key, "Content-Type": "application/json"}
        connection.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
        response = connection.getresponse()
        data = response.read()
        if response.status >= 300:
            raise RuntimeError(f"{method} {path}: {response.status} {data[:300]!r}")
        return json.loads(data) if data else {}

    def rss_kib(self, pid=None):
        pid = pid or self.process.pid
        for line in open(f"/proc/{pid}/status"):
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        return 0

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=60)
        remove_data_dir(self.data_dir)


def helper_pss_kib():
    """Proportional set size of every sandbox-init process (shared pages split fairly)."""
    total, count = 0, 0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if open(f"/proc/{pid}/comm").read().strip() != "sandbox-init":
                continue
            for line in open(f"/proc/{pid}/smaps_rollup"):
                if line.startswith("Pss:"):
                    total += int(line.split()[1])
                    count += 1
        except OSError:
            pass
    return total, count


FLOOR = os.path.join(tempfile.gettempdir(), "sandbox-host-floor")


def bwrap_command(runs, workspace):
    """`floor RUNS bwrap …`: bwrap with a mount set like ours, timed inside the floor program."""
    return [FLOOR, str(runs), "bwrap", "bwrap", "--unshare-all", "--die-with-parent", "--ro-bind", "/usr", "/usr",
            "--symlink", "usr/bin", "/bin", "--symlink", "usr/lib", "/lib", "--symlink", "usr/lib64", "/lib64",
            "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "--bind", workspace, "/workspace", "/bin/true"]


def floors(runs, workspace):
    subprocess.run(["cc", "-O2", "-o", FLOOR, os.path.join(ROOT, "benchmarks", "floor.c")], check=True)
    rows = {}
    for line in subprocess.run([FLOOR, str(runs)], check=True, capture_output=True, text=True).stdout.splitlines():
        name, *values = line.split()
        rows[name] = [float(v) / 1000 for v in values]
    if shutil.which("bwrap"):
        name, *values = subprocess.run(bwrap_command(runs, workspace), check=True, capture_output=True, text=True).stdout.split()
        rows["bwrap --unshare-all (true)"] = [float(v) / 1000 for v in values]
    return rows


def build_exec_clients():
    """Compiles benchmarks/exec_clients.c; answers the binary's path."""
    binary = os.path.join(tempfile.gettempdir(), "sandbox-host-exec-clients")
    subprocess.run(["cc", "-O2", "-pthread", "-o", binary, os.path.join(ROOT, "benchmarks", "exec_clients.c")], check=True)
    return binary


def exec_clients(binary, host, seconds, sandboxes):
    """`execute true` from one C client per sandbox for `seconds`; answers its summary fields."""
    line = subprocess.run([binary, str(host.port), host.key, str(seconds)] + sandboxes,
                          check=True, capture_output=True, text=True).stdout
    return dict(item.split("=") for item in line.split())


def one_bwrap(workspace):
    """One bwrap run in ms, for pairing with one of our creates at the same moment."""
    name, value = subprocess.run(bwrap_command(1, workspace), check=True, capture_output=True, text=True).stdout.split()
    return float(value) / 1000


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--density", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--binary", default=os.path.join(ROOT, ".build", "release", "sandbox-host"))
    args = parser.parse_args()

    rows = {}
    bwrap_workspace = tempfile.mkdtemp()
    for name, values in floors(args.runs, bwrap_workspace).items():
        rows["floor: " + name] = values
    has_bwrap = shutil.which("bwrap") is not None

    data_dir = tempfile.mkdtemp(prefix="sandbox-host-bench-")
    host = Host(args.binary, data_dir)
    # Start from a quiet disk: a previous run's deleted sandboxes still being written back slowed
    # every overlay mount (their work dirs are on this ext4) by 2 ms each in one run here.
    os.sync()
    try:
        connection = host.connection()
        create, first_exec, cold, paired_bwrap = [], [], [], []
        sandboxes = []
        for index in range(args.runs):
            # This VM's speed drifts by tens of percent within minutes: a bwrap run just before
            # each create gives the ratio to bwrap at the same moments.
            if has_bwrap:
                paired_bwrap.append(one_bwrap(bwrap_workspace))
            until_running, until_ran, sandbox, _ = cold_create(host, connection, f"bench-{index}")
            create.append(until_running)
            first_exec.append(until_ran - until_running)
            cold.append(until_ran)
            sandboxes.append(sandbox)
        if paired_bwrap:
            rows["bwrap, one run before each create below"] = paired_bwrap
        rows["ours: ensure-active (cold create)"] = create
        rows["ours: cold create until a command ran"] = cold

        target = sandboxes[0]
        round_trips = []
        for _ in range(args.runs):
            start = time.perf_counter()
            host.call(connection, "POST", f"/api/sandboxes/{target}/execute", {"command": "true"})
            round_trips.append((time.perf_counter() - start) * 1000)
        rows["ours: execute `true`, running sandbox"] = round_trips

        # The same after a pause: the first cgroup move after an idle moment pays an RCU grace
        # period on cgroup v1 (see RESULTS.md), which back-to-back calls hide.
        after_idle = []
        for _ in range(max(20, args.runs // 4)):
            time.sleep(0.2)
            start = time.perf_counter()
            host.call(connection, "POST", f"/api/sandboxes/{target}/execute", {"command": "true"})
            after_idle.append((time.perf_counter() - start) * 1000)
        rows["ours: execute `true` after 200 ms idle"] = after_idle

        counts = [0] * 4
        deadline = time.perf_counter() + args.seconds

        def client(slot):
            own = host.connection()
            while time.perf_counter() < deadline:
                host.call(own, "POST", f"/api/sandboxes/{sandboxes[slot]}/execute", {"command": "true"})
                counts[slot] += 1

        threads = [threading.Thread(target=client, args=(slot,)) for slot in range(4)]
        started = time.perf_counter()
        [thread.start() for thread in threads]
        [thread.join() for thread in threads]
        throughput = sum(counts) / (time.perf_counter() - started)

        # The same load from a C client (benchmarks/exec_clients.c): the Python one above spends
        # about a third of a core per command itself, on the same two cores as the host.
        c_clients = exec_clients(build_exec_clients(), host, args.seconds, sandboxes[:4])

        for sandbox in sandboxes:
            host.call(connection, "DELETE", f"/api/sandboxes/{sandbox}")

        # Density: N idle running sandboxes at once.
        rss_before = host.rss_kib()
        density_ok, failures = 0, []
        density_ids = []
        start = time.perf_counter()
        for index in range(args.density):
            try:
                project = host.call(connection, "POST", "/api/projects", {"name": f"dense-{index}"})["project_id"]
                density_ids.append(host.call(connection, "POST", f"/api/project/{project}/sandbox/ensure-active")["sandbox_id"])
                density_ok += 1
            except Exception as error:  # noqa: BLE001 - report, keep counting
                failures.append(str(error)[:200])
                connection = host.connection()
        density_seconds = time.perf_counter() - start
        time.sleep(2)
        rss_after = host.rss_kib()
        helpers_kib, helper_count = helper_pss_kib()
        alive = 0
        for sandbox in density_ids[:: max(1, len(density_ids) // 50)]:
            alive += host.call(connection, "POST", f"/api/sandboxes/{sandbox}/execute", {"command": "true"})["exit_code"] == 0
        for sandbox in density_ids:
            host.call(connection, "DELETE", f"/api/sandboxes/{sandbox}")
    finally:
        host.stop()
        shutil.rmtree(data_dir, ignore_errors=True)
        shutil.rmtree(bwrap_workspace, ignore_errors=True)

    print(f"\n{'measurement':<44} {'p50 ms':>9} {'p99 ms':>9} {'runs':>6}")
    print("-" * 71)
    for name, values in rows.items():
        print(f"{name:<44} {statistics.median(values):>9.2f} {percentile(values, 99):>9.2f} {len(values):>6}")
    print("-" * 71)
    if paired_bwrap:
        ratio = statistics.median(create) / statistics.median(paired_bwrap)
        print(f"{'cold create ÷ bwrap (paired runs, p50s)':<44} {ratio:>9.2f} ×")
    print(f"{'ours: execute `true`, 4 concurrent clients':<44} {throughput:>9.0f} commands/s (Python threads)")
    print(f"{'ours: execute `true`, 4 concurrent clients':<44} {float(c_clients['per_second']):>9.0f} commands/s "
          f"(C client; p50 {c_clients['p50']} ms, p99 {c_clients['p99']} ms, {c_clients['failed']} failed)")
    per_sandbox_host = (rss_after - rss_before) / max(1, density_ok)
    print(f"{'density: sandboxes running at once':<44} {density_ok:>9} of {args.density} ({len(failures)} failed, {density_seconds:.1f} s)")
    print(f"{'density: host RSS growth per sandbox':<44} {per_sandbox_host / 1024:>9.3f} MiB")
    print(f"{'density: sandbox-init PSS per sandbox':<44} {helpers_kib / max(1, density_ok) / 1024:>9.3f} MiB ({helper_count} processes)")
    print(f"{'density: sampled sandboxes answering exec':<44} {alive:>9}")
    if failures:
        print("first failures:", *failures[:3], sep="\n  ")


if __name__ == "__main__":
    main()

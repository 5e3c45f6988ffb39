#!/usr/bin/env python3
"""Sandbox networking benchmark (issue 16): what networking costs a cold create, and NAT throughput.

Usage: python3 benchmarks/network.py [--runs 200] [--bytes 1073741824] [--downloads 3]
                                     [--binary .build/release/sandbox-host]
(`make bench` runs it after run.py). Needs root, like the host.

- Cold create, paired: each round runs bwrap once, then creates one project whose sandbox has
  the `open` policy and one with `{"mode":"none"}` (their order alternating), each timed from
  `ensure-active` until `execute true` returned. p50/p90 of each, and the ratios of the p50s
  (targets: open within 1.25x of none, both within 1.5x of bwrap).
- NAT throughput: a download of --bytes from the fake internet (benchmarks/fake_internet.py,
  started here) with curl, from the host itself and from inside an `open` sandbox, alternating,
  --downloads times each; the medians and their ratio (target: within 1.2x).
If a sandbox cannot reach the fake internet (networking off or not built), it says so and still
measures the creates (both then have loopback only).
"""
import argparse, json, os, random, statistics, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


class FakeInternet:
    """benchmarks/fake_internet.py as a child: ready once it printed its `ready` line; gone (with
    its namespace and link) when its stdin closes."""

    def __init__(self):
        self.process = subprocess.Popen([sys.executable, os.path.join(HERE, "fake_internet.py")],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for line in self.process.stdout:
            if line.startswith("ready "):
                self.description = json.loads(line[len("ready "):])
                return
        raise SystemExit("the fake internet did not start")

    def stop(self):
        self.process.stdin.close()
        self.process.wait(timeout=30)


def curl_command(url):
    return ["curl", "-s", "--noproxy", "*", "-o", "/dev/null", "--max-time", "600", "-w", "%{http_code} %{size_download} %{time_total}", url]


def parse_curl(text, expected):
    code, size, seconds = text.split()
    if code != "200" or int(size) != expected:
        raise RuntimeError(f"download: HTTP {code}, {size} of {expected} bytes")
    return int(size) / float(seconds) / 1e6


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--bytes", type=int, default=1 << 30)
    parser.add_argument("--downloads", type=int, default=3)
    parser.add_argument("--binary", default=os.path.join(run.ROOT, ".build", "release", "sandbox-host"))
    args = parser.parse_args()

    internet = FakeInternet()
    index = random.randrange(512)
    os.environ.update({
        "SANDBOX_HOST_NETWORK": "on",
        "SANDBOX_HOST_NETWORK_RANGE": f"10.{200 + index // 64}.{(index % 64) * 4}.0/22",
        "SANDBOX_HOST_DNS_UPSTREAM": internet.description["dns"],
    })
    bwrap_workspace = tempfile.mkdtemp()
    has_bwrap = run.shutil.which("bwrap") is not None
    if has_bwrap:
        subprocess.run(["cc", "-O2", "-o", run.FLOOR, os.path.join(HERE, "floor.c")], check=True)
    data_dir = tempfile.mkdtemp(prefix="sandbox-host-bench-net-")
    host = run.Host(args.binary, data_dir)
    os.sync()
    rows, notes = {}, []
    download = None
    try:
        connection = host.connection()
        # Can a sandbox reach the fake internet at all?
        _, _, probe, probe_project = run.cold_create(host, connection, "net-probe", None)
        reached = host.call(connection, "POST", f"/api/sandboxes/{probe}/execute",
                            {"command": "curl -s --noproxy '*' --max-time 5 http://198.51.100.10/", "timeout": 30})
        networked = reached.get("stdout") == "hello from 198.51.100.10\n"
        if not networked:
            notes.append("networking unavailable: a sandbox with the `open` policy did not reach the fake internet "
                         f"({reached.get('output', '')[:200]!r}); open and none below both have loopback only")

        paired_bwrap, open_create, open_cold, none_create, none_cold = [], [], [], [], []
        for round_index in range(args.runs):
            if has_bwrap:
                paired_bwrap.append(run.one_bwrap(bwrap_workspace))
            order = [("open", None), ("none", {"mode": "none"})]
            if round_index % 2:
                order.reverse()
            for mode, network in order:
                create, cold, sandbox, project = run.cold_create(host, connection, f"{mode}-{round_index}", network)
                (open_create if mode == "open" else none_create).append(create)
                (open_cold if mode == "open" else none_cold).append(cold)
                host.call(connection, "DELETE", f"/api/sandboxes/{sandbox}")
                host.call(connection, "DELETE", f"/api/projects/{project}")
        if paired_bwrap:
            rows["bwrap, one run before each pair below"] = paired_bwrap
        rows["open: ensure-active (cold create)"] = open_create
        rows["open: cold create until a command ran"] = open_cold
        rows["none: ensure-active (cold create)"] = none_create
        rows["none: cold create until a command ran"] = none_cold

        if networked:
            url = f"http://198.51.100.10/bytes/{args.bytes}"
            from_host, from_sandbox = [], []
            for _ in range(args.downloads):
                text = subprocess.run(curl_command(url), check=True, capture_output=True, text=True).stdout
                from_host.append(parse_curl(text, args.bytes))
                result = host.call(connection, "POST", f"/api/sandboxes/{probe}/execute",
                                   {"command": " ".join(f"'{part}'" for part in curl_command(url)), "timeout": 600})
                from_sandbox.append(parse_curl(result["stdout"], args.bytes))
            download = (from_host, from_sandbox)
        host.call(connection, "DELETE", f"/api/sandboxes/{probe}")
        host.call(connection, "DELETE", f"/api/projects/{probe_project}")
    finally:
        host.stop()
        internet.stop()
        run.shutil.rmtree(bwrap_workspace, ignore_errors=True)

    print(f"\n{'network: measurement':<44} {'p50 ms':>9} {'p90 ms':>9} {'runs':>6}")
    print("-" * 71)
    for name, values in rows.items():
        print(f"{name:<44} {statistics.median(values):>9.2f} {run.percentile(values, 90):>9.2f} {len(values):>6}")
    print("-" * 71)
    open_p50, none_p50 = statistics.median(open_create), statistics.median(none_create)
    print(f"{'open ÷ none (ensure-active p50s)':<44} {open_p50 / none_p50:>9.2f} ×  (target <= 1.25)")
    if paired_bwrap:
        bwrap_p50 = statistics.median(paired_bwrap)
        print(f"{'open ÷ bwrap (paired p50s)':<44} {open_p50 / bwrap_p50:>9.2f} ×  (target <= 1.5)")
        print(f"{'none ÷ bwrap (paired p50s)':<44} {none_p50 / bwrap_p50:>9.2f} ×  (target <= 1.5)")
    if download:
        from_host, from_sandbox = (statistics.median(values) for values in download)
        size = f"{args.bytes / (1 << 30):.2f} GiB" if args.bytes >= 1 << 30 else f"{args.bytes / (1 << 20):.0f} MiB"
        print(f"{'download ' + size + ' from the host itself':<44} {from_host:>9.0f} MB/s (median of {args.downloads})")
        print(f"{'download ' + size + ' from a sandbox (NAT)':<44} {from_sandbox:>9.0f} MB/s (median of {args.downloads})")
        print(f"{'host ÷ sandbox throughput':<44} {from_host / from_sandbox:>9.2f} ×  (target <= 1.2)")
    for note in notes:
        print("note:", note)


if __name__ == "__main__":
    main()

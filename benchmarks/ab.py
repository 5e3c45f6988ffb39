#!/usr/bin/env python3
"""Compares two builds of sandbox-host (or two sandbox-init helpers) on the same machine at the
same moments: both hosts run at once and requests alternate between them, so this VM's drift
(tens of percent within minutes) hits both alike.

Usage: python3 benchmarks/ab.py [--runs 200] A B
where A and B are each `HOST_BINARY` or `HOST_BINARY:HELPER_PATH`, e.g.
  python3 benchmarks/ab.py /tmp/old/.build/release/sandbox-host .build/release/sandbox-host
Prints, per side: cold create p50, execute `true` p50, and 4-client throughput (C client).
"""
import argparse, os, statistics, sys, tempfile, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run  # noqa: E402


def start(spec):
    binary, _, helper = spec.partition(":")
    if helper:
        os.environ["SANDBOX_HOST_INIT_PATH"] = helper
    else:
        os.environ.pop("SANDBOX_HOST_INIT_PATH", None)
    return run.Host(binary, tempfile.mkdtemp(prefix="sandbox-host-ab-"))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("a")
    parser.add_argument("b")
    args = parser.parse_args()
    specs = [args.a, args.b]
    hosts = [start(spec) for spec in specs]
    connections = [host.connection() for host in hosts]
    order = lambda i: (0, 1) if i % 2 == 0 else (1, 0)  # noqa: E731
    create, execute, sandboxes = [[], []], [[], []], [[], []]
    try:
        for index in range(args.runs):
            for k in order(index):
                host, connection = hosts[k], connections[k]
                project = host.call(connection, "POST", "/api/projects", {"name": f"ab-{index}"})["project_id"]
                start_time = time.perf_counter()
                sandbox = host.call(connection, "POST", f"/api/project/{project}/sandbox/ensure-active")["sandbox_id"]
                create[k].append((time.perf_counter() - start_time) * 1000)
                if len(sandboxes[k]) < 4:
                    sandboxes[k].append(sandbox)
        for index in range(args.runs):
            for k in order(index):
                start_time = time.perf_counter()
                hosts[k].call(connections[k], "POST", f"/api/sandboxes/{sandboxes[k][0]}/execute", {"command": "true"})
                execute[k].append((time.perf_counter() - start_time) * 1000)
        clients = run.build_exec_clients()
        throughput = [[], []]
        for round_index in range(6):
            for k in order(round_index):
                throughput[k].append(float(run.exec_clients(clients, hosts[k], 2, sandboxes[k])["per_second"]))
    finally:
        for host in hosts:
            host.stop()
    print(f"\n{'side':<60} {'create p50':>11} {'exec p50':>9} {'4 clients':>10}")
    for k in (0, 1):
        print(f"{specs[k][-60:]:<60} {statistics.median(create[k]):>8.2f} ms {statistics.median(execute[k]):>6.2f} ms "
              f"{statistics.median(throughput[k]):>7.0f}/s")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Python SDK overhead: `sandbox.commands.run("true")` beside a raw httpx POST of the execute
route, same host, same sandbox, same run (issue 18's target: SDK p50 <= 1.2x raw).

Usage: python3 benchmarks/sdk.py [--runs 500] [--binary .build/release/sandbox-host]
Needs root, like the host, and httpx. Both clients keep one connection alive; the two are
interleaved call by call so drift (page cache, CPU frequency, the host's state) hits both alike.
"""
import argparse, os, statistics, sys, tempfile, time

import httpx

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "clients", "python"))
from run import Host, ROOT, percentile  # noqa: E402
from sandbox_host import Sandbox  # noqa: E402


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=500)
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--binary", default=os.path.join(ROOT, ".build", "release", "sandbox-host"))
    args = parser.parse_args()

    host = Host(args.binary, tempfile.mkdtemp(prefix="sdk-bench-"))
    base = f"http://127.0.0.1:{host.port}"
    try:
        sandbox = Sandbox.create(project="sdk-bench", base_url=base, api_key=host.key)
        raw = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {host.key}"})
        route = f"/api/sandboxes/{sandbox.sandbox_id}/execute"

        def raw_call():
            response = raw.post(route, json={"command": "true"})
            response.raise_for_status()
            return response.json()["exit_code"]

        def sdk_call():
            return sandbox.commands.run("true").exit_code

        timings = {"raw httpx": [], "sdk": []}
        calls = {"raw httpx": raw_call, "sdk": sdk_call}
        for index in range(args.warmup + args.runs):
            for name in (("raw httpx", "sdk") if index % 2 == 0 else ("sdk", "raw httpx")):
                started = time.perf_counter()
                assert calls[name]() == 0
                if index >= args.warmup:
                    timings[name].append((time.perf_counter() - started) * 1000)
        raw.close()
        sandbox.delete()
        sandbox.close()
    finally:
        host.stop()

    print(f"commands.run('true') round trip, {args.runs} each, interleaved ({os.path.basename(args.binary)} "
          f"at {os.path.dirname(os.path.relpath(args.binary, ROOT))})")
    print(f"{'client':<12}{'p50 ms':>10}{'p90 ms':>10}{'p99 ms':>10}{'mean ms':>10}")
    for name, values in timings.items():
        print(f"{name:<12}{percentile(values, 50):>10.3f}{percentile(values, 90):>10.3f}"
              f"{percentile(values, 99):>10.3f}{statistics.mean(values):>10.3f}")
    ratio = percentile(timings["sdk"], 50) / percentile(timings["raw httpx"], 50)
    print(f"sdk / raw p50: {ratio:.3f}x (target <= 1.2x)")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Cold project creation with per-project disk images: POST /api/projects latency, with the
pool of ready images, without it (mkfs on the create path), and without disk images at all.

    python3 benchmarks/disk_create.py [path/to/sandbox-host]   (as root)
"""
import json, os, statistics, subprocess, sys, tempfile, time, urllib.request

BINARY = sys.argv[1] if len(sys.argv) > 1 else ".build/debug/sandbox-host"

def run(label, env, count=20, gap=0.15):
    data = tempfile.mkdtemp(prefix="disk-bench-")
    port = 18000 + os.getpid() % 1000
    proc = subprocess.Popen([BINARY, "serve", "--port", str(port), "--data-dir", data],
                            env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=1); break
            except Exception:
                time.sleep(0.05)
        key = open(data + "/admin.key").read().strip()
        time.sleep(1.0)  # the pool fills
        times = []
        for i in range(count):
            request = urllib.request.Request(f"http://127.0.0.1:{port}/api/projects", method="POST",
                                             data=json.dumps({"name": f"p{i}"}).encode(),
                                             headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
            start = time.perf_counter()
            urllib.request.urlopen(request).read()
            times.append((time.perf_counter() - start) * 1000)
            time.sleep(gap)  # one create at a time, the pool refilled between them
        times.sort()
        print(f"{label:32s} median {statistics.median(times):6.1f} ms   p90 {times[int(len(times) * 0.9) - 1]:6.1f} ms   (n={count})")
    finally:
        proc.terminate(); proc.wait()
        subprocess.run(["rm", "-rf", data])

run("disk images, pool of 2", {})
run("disk images, no pool (mkfs)", {"SANDBOX_HOST_DISK_POOL": "0"})
run("no disk images (before)", {"SANDBOX_HOST_DISK_IMAGES": "0"})

#!/usr/bin/env python3
"""Agent-loop benchmark: the host's own cost per agent step, and event fan-out to 1,000 SSE clients.

Usage: python3 benchmarks/agent.py [--steps 200] [--clients 1000] [--binary .build/release/sandbox-host]
(`make bench` builds the release binary and runs this after files.py). Needs root, like the host.

A fake OpenAI-compatible provider on loopback answers at once (the model's time is excluded):
  - step overhead: a run of N tool-calling steps; a step is one model call (streamed) plus one
    tool call, its events stored and published. Measured between consecutive tool_result events
    at the client, minus the provider's own handling time for that step.
  - fan-out: 1,000 clients follow one run's stream; the provider writes its send time (CLOCK_MONOTONIC)
    into each content delta; delivery latency = client receive time - provider send time. Every
    client must receive every event, in order, once.
"""
import argparse, http.server, json, os, resource, socket, statistics, subprocess, sys, tempfile, threading, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run import Host, ROOT, percentile  # noqa: E402


class Provider(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, plan):
        super().__init__(("127.0.0.1", 0), Handler)
        self.plan = plan              # callable(request_json, index) -> list of (delay_s, chunk_dict or None)
        self.count = 0
        self.handling = []            # seconds per request, from request read to last byte
        self.lock = threading.Lock()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_POST(self):
        # Small SSE chunks: without this, Nagle and the client's delayed ACK add 40 ms a reply.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        started = time.perf_counter()
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        with self.server.lock:
            index = self.server.count
            self.server.count += 1
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

        def send(text):
            data = text.encode()
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()

        busy = 0.0
        for delay, chunk in self.server.plan(body, index):
            if delay:
                busy += delay
                time.sleep(delay)
            if callable(chunk):
                chunk = chunk()
            send("data: " + (json.dumps(chunk) if chunk is not None else "[DONE]") + "\n\n")
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()
        self.server.handling.append(time.perf_counter() - started - busy)


def chunk(delta=None, finish=None):
    return {"id": "b", "choices": [{"index": 0, "delta": delta or {}, "finish_reason": finish}]}


def tool_reply(name, arguments):
    return [(0, chunk({"role": "assistant", "tool_calls": [{"index": 0, "id": "call_%d" % time.monotonic_ns(), "type": "function",
                                                              "function": {"name": name, "arguments": ""}}]})),
            (0, chunk({"tool_calls": [{"index": 0, "function": {"arguments": json.dumps(arguments)}}]})),
            (0, chunk(finish="tool_calls")),
            (0, {"id": "b", "choices": [], "usage": {"prompt_tokens": 10, "completion_tokens": 5}}),
            (0, None)]


def text_reply(text):
    return [(0, chunk({"role": "assistant", "content": text})), (0, chunk(finish="stop")), (0, None)]


def steps_done(body):
    return sum(1 for message in body["messages"] if message["role"] == "tool")


def start_provider(plan):
    server = Provider(plan)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def stream_lines(host, run_id):
    """Yields (receive time, event dict) of a run's stream, to its end."""
    connection = host.connection()
    connection.request("GET", f"/api/agent-run/{run_id}/stream", headers={"Authorization": "Bearer " + host.key})
    response = connection.getresponse()
    for raw in response:
        line = raw.decode().rstrip("\n")
        if line.startswith("data: "):
            yield time.perf_counter(), json.loads(line[6:])


def new_thread(host, connection, name):
    project = host.call(connection, "POST", "/api/projects", {"name": name})["project_id"]
    sandbox = host.call(connection, "POST", f"/api/project/{project}/sandbox/ensure-active")["sandbox_id"]
    connection.request("PUT", f"/api/sandboxes/{sandbox}/files/content?path=a.txt", body=b"hello\n" * 100,
                       headers={"Authorization": "Bearer " + host.key})
    connection.getresponse().read()
    return project, host.call(connection, "POST", "/api/threads", {"project_id": project})["thread_id"]


def step_overhead(host, provider, steps, tool):
    connection = host.connection()
    _, thread = new_thread(host, connection, f"bench-{tool}")
    provider.handling.clear()
    run = host.call(connection, "POST", f"/api/thread/{thread}/agent/start", {"message": tool, "max_steps": steps + 1})["agent_run_id"]
    times = [t for t, event in stream_lines(host, run) if event.get("type") == "tool_result"]
    status = host.call(connection, "GET", f"/api/agent-run/{run}")["status"]
    if status != "completed" or len(times) != steps:
        raise SystemExit(f"run {status} after {len(times)} steps")
    intervals = [(b - a) * 1000 for a, b in zip(times, times[1:])]
    provider_ms = statistics.median(provider.handling) * 1000
    return [max(0.0, value - provider_ms) for value in intervals], provider_ms


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--deltas", type=int, default=100)
    parser.add_argument("--interval", type=float, default=20, help="milliseconds between the provider's text deltas in the fan-out run")
    parser.add_argument("--binary", default=os.path.join(ROOT, ".build", "release", "sandbox-host"))
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    state = {}

    def plan(body, index):
        if state.get("mode") == "fanout":
            return state["fanout"](body, index)
        if steps_done(body) >= args.steps:
            return text_reply("done")
        if body["messages"][1]["content"] == "shell":
            return tool_reply("shell", {"command": "true"})
        return tool_reply("read_file", {"path": "a.txt"})

    provider = start_provider(plan)
    data_dir = tempfile.mkdtemp(prefix="sandbox-host-bench-agent-")
    os.environ.update({"SANDBOX_HOST_LLM_PROVIDER": "openai", "SANDBOX_HOST_LLM_BASE_URL": f"http://127.0.0.1:{provider.server_port}/v1",
                       "SANDBOX_HOST_LLM_API_KEY": "bench", "SANDBOX_HOST_LLM_MODELS": "bench"})
    host = Host(args.binary, data_dir)
    try:
        rows = []
        for tool in ("read_file", "shell"):
            values, provider_ms = step_overhead(host, provider, args.steps, tool)
            rows.append((f"step overhead, tool {tool} (host only)", values))
        print(f"(fake provider's own time per model call, subtracted: p50 {provider_ms:.2f} ms)")

        # Fan-out: every client connected before the provider sends anything.
        gate = threading.Event()

        def fanout_plan(body, index):
            if steps_done(body) == 0 and not state.get("gated"):
                state["gated"] = True
                gate.wait(300)
            replies = [(args.interval / 1000, (lambda: chunk({"content": f"{time.monotonic_ns()}"}))) for _ in range(args.deltas)]
            return replies + [(0, chunk(finish="stop")), (0, None)]

        state.update(mode="fanout", fanout=fanout_plan)
        connection = host.connection()
        _, thread = new_thread(host, connection, "bench-fanout")
        run = host.call(connection, "POST", f"/api/thread/{thread}/agent/start", {"message": "fan out"})["agent_run_id"]
        binary = os.path.join(tempfile.gettempdir(), "sandbox-host-sse-fanout")
        subprocess.run(["cc", "-O2", "-o", binary, os.path.join(ROOT, "benchmarks", "sse_fanout.c")], check=True)
        follower = subprocess.Popen([binary, str(host.port), host.key, run, str(args.clients)], stdout=subprocess.PIPE, text=True)
        if follower.stdout.readline().strip() != "ready":
            raise SystemExit("the SSE clients did not all connect")
        gate.set()
        summary = dict(pair.split("=") for pair in follower.stdout.readline().split())
        follower.wait()
        rows.append((f"event delivery to {args.clients} SSE clients", None, summary))
        complete = int(summary["complete"])

        print(f"\n{'measurement':<48} {'p50 ms':>9} {'p99 ms':>9} {'samples':>8}")
        print("-" * 77)
        for name, values, *summary in rows:
            if values is None:
                print(f"{name:<48} {float(summary[0]['p50']):>9.2f} {float(summary[0]['p99']):>9.2f} {summary[0]['samples']:>8}")
            else:
                print(f"{name:<48} {statistics.median(values):>9.2f} {percentile(values, 99):>9.2f} {len(values):>8}")
        print("-" * 77)
        print(f"{'clients that received every event, in order':<48} {complete:>9} of {args.clients}")
    finally:
        host.stop()


if __name__ == "__main__":
    main()

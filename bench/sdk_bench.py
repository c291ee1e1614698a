"""The harness of the service-plugin benchmarks (bench/github.py, bench/slack.py): one pier plugin
and its Node peer, both talking to the same loopback fake of the service, measured through the
official Python MCP SDK client (which validates structured output against each tool's
outputSchema) and the official TypeScript SDK client (bench/mcp_client.mjs; ajv compiles each
outputSchema once), so the cost a client pays per answer shape shows for both.

Per server, round-robin over ROUNDS rounds (medians reported): start -> initialize, tools/list
size in bytes (the context a client pays for the tool definitions), p50/p95 of each workload, the
size of its answer, throughput with 10 calls in flight on one session, and peak RSS. Nothing here
asserts a time: the scripts print a table and write a JSON file of results.
"""

import json
import os
import pathlib
import statistics
import subprocess
import sys
import time

import anyio
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

HERE = pathlib.Path(__file__).parent
sys.path.insert(0, str(HERE))
from filesystem import pct, throughput, timed  # noqa: E402

CALLS = int(os.environ.get("BENCH_CALLS", "200"))
THROUGHPUT_CALLS = int(os.environ.get("BENCH_TPUT_CALLS", "600"))
IN_FLIGHT = 10
STARTS = int(os.environ.get("BENCH_STARTS", "5"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))


class Running:
    """One server process behind the Python SDK's stdio client; its PID comes from a wrapper
    shell that writes it and execs the server (the SDK does not expose the process)."""

    def __init__(self, argv, env, pidfile):
        self.params = StdioServerParameters(
            command="sh", args=["-c", 'echo $$ > "$0"; exec "$@"', str(pidfile), *argv], env=env
        )
        self.pidfile = pidfile

    async def __aenter__(self):
        t0 = time.perf_counter()
        self._client = stdio_client(self.params, errlog=open(os.devnull, "w"))
        read, write = await self._client.__aenter__()
        self._session = ClientSession(read, write)
        self.session = await self._session.__aenter__()
        await self.session.initialize()
        self.startup = time.perf_counter() - t0
        return self

    async def __aexit__(self, *exc):
        await self._session.__aexit__(*exc)
        try:
            await self._client.__aexit__(*exc)
        except BaseExceptionGroup as group:
            # The SDK's reader task fails with BrokenResourceError when a message (pier's
            # list_changed after a plugin loads) arrives as the session closes; nothing is lost.
            if not all(isinstance(e, anyio.BrokenResourceError) for e in group.exceptions):
                raise

    def peak_rss_kib(self):
        try:
            pid = self.pidfile.read_text().strip()
            for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
        except OSError:
            return None
        return None

    async def call(self, tool, args):
        r = await self.session.call_tool(tool, args)
        if r.isError:
            raise RuntimeError(f"{tool}: {r.content}")
        return r


def answer_bytes(result):
    """What the model's context receives: the content blocks plus structured content."""
    d = result.model_dump(by_alias=True, exclude_none=True, mode="json")
    return len(json.dumps({k: d[k] for k in ("content", "structuredContent") if k in d}, separators=(",", ":")))


class Server:
    """A server under test: its command line, its environment, and the (tool, args) it runs for
    each workload name."""

    def __init__(self, name, argv, env, workloads):
        self.name, self.argv, self.env, self.workloads = name, argv, env, workloads


async def measure_python(server, tmp):
    out = {"start_ms": []}
    for i in range(STARTS):
        async with Running(server.argv, server.env, tmp / f"{server.name}-start-{i}.pid") as s:
            out["start_ms"].append(s.startup * 1000)
    async with Running(server.argv, server.env, tmp / f"{server.name}.pid") as s:
        tools = await s.session.list_tools()
        listing = tools.model_dump(by_alias=True, exclude_none=True, mode="json")
        out["tools"] = len(tools.tools)
        out["tools_list_bytes"] = len(json.dumps(listing["tools"], separators=(",", ":")))
        for work, (tool, args) in server.workloads.items():
            first = await s.call(tool, args)
            out[f"{work}_answer_bytes"] = answer_bytes(first)
            await timed(s, tool, args, 20)
            times = await timed(s, tool, args, CALLS)
            out[f"{work}_p50_ms"] = statistics.median(times)
            out[f"{work}_p95_ms"] = pct(times, 95)
            out[f"{work}_calls_per_s"] = await throughput(s, tool, args, THROUGHPUT_CALLS, IN_FLIGHT)
        out["peak_rss_kib"] = s.peak_rss_kib()
    return out


def measure_typescript(server):
    """The same workloads through the TypeScript SDK client (bench/mcp_client.mjs)."""
    plan = {
        "command": server.argv,
        "env": server.env,
        "starts": STARTS,
        "calls": CALLS,
        "throughput_calls": THROUGHPUT_CALLS,
        "in_flight": IN_FLIGHT,
        "workloads": {w: [tool, args] for w, (tool, args) in server.workloads.items()},
    }
    out = subprocess.run(["node", str(HERE / "mcp_client.mjs"), json.dumps(plan)], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def median_of(runs):
    out = {}
    for k in runs[0].keys():
        vals = [r[k] for r in runs if r.get(k) is not None]
        vals = [statistics.median(v) if isinstance(v, list) else v for v in vals]
        out[k] = statistics.median(vals) if vals and isinstance(vals[0], (int, float)) else vals[0] if vals else None
    return out


async def compare(pier, peer, tmp):
    """ROUNDS rounds of both servers through both clients, round-robin; medians per
    (client, server). The first pier start compiles the plugin, so it runs once before the rounds
    and they measure a warm cache, as users run it."""
    async with Running(pier.argv, pier.env, tmp / "warm.pid") as s:
        await s.session.list_tools()
    runs = {(client, s.name): [] for client in ("python", "typescript") for s in (pier, peer)}
    for _ in range(ROUNDS):
        for server in (pier, peer):
            runs[("python", server.name)].append(await measure_python(server, tmp))
            runs[("typescript", server.name)].append(measure_typescript(server))
    results = {}
    for (client, name), r in runs.items():
        results.setdefault(client, {})[name] = median_of(r)
    return results


def report(results, pier, peer, workloads, path):
    """Prints one table per client with pier's advantage as a ratio, and writes `path`."""
    rows = [
        ("start -> initialize (ms)", "start_ms", False),
        ("tools/list bytes", "tools_list_bytes", False),
        ("tools listed", "tools", None),
    ]
    for work in workloads:
        rows += [
            (f"{work} p50 (ms)", f"{work}_p50_ms", False),
            (f"{work} answer bytes", f"{work}_answer_bytes", False),
            (f"{work} calls/s @{IN_FLIGHT}", f"{work}_calls_per_s", True),
        ]
    rows.append(("peak RSS (KiB)", "peak_rss_kib", False))
    width = max(len(r[0]) for r in rows) + 2
    for client, by_server in results.items():
        p, r = by_server[pier.name], by_server[peer.name]
        print(f"\n{client + ' SDK client':{width}} {'pier':>12} {peer.name:>16} {'ratio':>8}")
        for label, key, higher_better in rows:
            pv, rv = p.get(key), r.get(key)
            if pv is None or rv is None:
                continue
            if higher_better is None:
                ratio = ""
            elif higher_better:
                ratio = f"{pv / rv:.2f}x" if rv else ""
            else:
                ratio = f"{rv / pv:.2f}x" if pv else ""
            print(f"{label:{width}} {pv:>12.1f} {rv:>16.1f} {ratio:>8}")
    print("ratio: how many times better pier is (higher is better for pier)")
    path.write_text(json.dumps({"rounds": ROUNDS, "calls": CALLS, "results": results}, indent=2) + "\n")


def base_env():
    return {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG")}


class Fake:
    """A fake service from tests/examples as a process: it prints one JSON line of where it
    listens, then serves until killed."""

    def __init__(self, argv, env):
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, env={**os.environ, **env})
        self.at = json.loads(self.proc.stdout.readline())

    def __enter__(self):
        return self.at

    def __exit__(self, *exc):
        self.proc.kill()


def pier_server(tmp, plugin, manifest, env, workloads):
    """pier serving one plugin (its wasm from PIER_TEST_PLUGINS) with `manifest`, warm cache
    in `tmp`."""
    folder = tmp / "plugins"
    folder.mkdir(exist_ok=True)
    staged = pathlib.Path(os.environ["PIER_TEST_PLUGINS"]) / f"{plugin}.wasm"
    (folder / f"{plugin}.wasm").write_bytes(staged.read_bytes())
    (folder / f"{plugin}.toml").write_text(manifest)
    argv = [os.environ["PIER_BIN"], "serve", "--plugins", str(folder), "--no-watch", "--cache-dir", str(tmp / "cache")]
    return Server("pier", argv, {**base_env(), **env, "RUST_LOG": "off"}, workloads)

"""Benchmark: pier's github plugin against @modelcontextprotocol/server-github (npm 2025.4.8), both
talking to the same loopback fake GitHub API (tests/examples/fake_github.rs), through the official
Python MCP SDK client (which validates structured output against each tool's outputSchema, and
checks the schema itself against the metaschema on every call).
Run it with `cargo xtask bench`.

server-github hard-codes https://api.github.com; bench/github-redirect.mjs, preloaded with
`node --import`, sends its fetches to the fake. It holds the token in its environment; pier's
plugin never sees it (pier injects it for the granted origin).

The same workloads also run through the official TypeScript SDK client (bench/mcp_client.mjs; ajv
compiles each outputSchema once), so the cost a client pays per answer shape shows for both.

Measured per server, round-robin over ROUNDS rounds (medians reported): start -> initialize,
tools/list size in bytes (the context a client pays for the tool definitions), p50/p95 of
get_file_contents and list_issues (30 issues), the size of those answers, throughput with 10 calls
in flight on one session, and peak RSS. Nothing here asserts a time: it prints a table and writes
bench/github-results.json.
"""

import asyncio
import json
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
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
TOKEN = "ghp_benchToken0123456789abcdefABCDEF01"

WORKLOADS = {
    # name: (pier tool, server-github tool, pier args, server-github args)
    "get_file_contents": (
        "github_get_file_contents",
        "get_file_contents",
        {"owner": "octo", "repo": "hello", "path": "src/main.rs"},
        {"owner": "octo", "repo": "hello", "path": "src/main.rs"},
    ),
    "list_issues": (
        "github_list_issues",
        "list_issues",
        {"owner": "octo", "repo": "hello", "perPage": 30},
        {"owner": "octo", "repo": "hello", "per_page": 30},
    ),
}


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


async def measure(name, argv, env, prefix_tool, tmp):
    out = {"start_ms": []}
    for i in range(STARTS):
        async with Running(argv, env, tmp / f"{name}-start-{i}.pid") as s:
            out["start_ms"].append(s.startup * 1000)
    async with Running(argv, env, tmp / f"{name}.pid") as s:
        tools = await s.session.list_tools()
        listing = tools.model_dump(by_alias=True, exclude_none=True, mode="json")
        out["tools"] = len(tools.tools)
        out["tools_list_bytes"] = len(json.dumps(listing["tools"], separators=(",", ":")))
        for work, (pier_tool, ref_tool, pier_args, ref_args) in WORKLOADS.items():
            tool, args = (pier_tool, pier_args) if prefix_tool else (ref_tool, ref_args)
            first = await s.call(tool, args)
            out[f"{work}_answer_bytes"] = answer_bytes(first)
            await timed(s, tool, args, 20)
            times = await timed(s, tool, args, CALLS)
            out[f"{work}_p50_ms"] = statistics.median(times)
            out[f"{work}_p95_ms"] = pct(times, 95)
            out[f"{work}_calls_per_s"] = await throughput(s, tool, args, THROUGHPUT_CALLS, IN_FLIGHT)
        out["peak_rss_kib"] = s.peak_rss_kib()
    return out


def median_of(runs):
    keys = runs[0].keys()
    out = {}
    for k in keys:
        vals = [r[k] for r in runs if r.get(k) is not None]
        vals = [statistics.median(v) if isinstance(v, list) else v for v in vals]
        out[k] = statistics.median(vals) if vals and isinstance(vals[0], (int, float)) else vals[0] if vals else None
    return out


async def main():
    pier = os.environ["PIER_BIN"]
    plugins = pathlib.Path(os.environ["PIER_TEST_PLUGINS"])
    reference = os.environ["REFERENCE_SERVER"]
    fake_bin = os.environ["FAKE_GITHUB"]
    fake = subprocess.Popen([fake_bin], stdout=subprocess.PIPE, env={**os.environ, "FAKE_GITHUB_TOKEN": TOKEN, "FAKE_GITHUB_ISSUES": "30"})
    origins = json.loads(fake.stdout.readline())
    try:
        with tempfile.TemporaryDirectory() as t:
            tmp = pathlib.Path(t)
            folder = tmp / "plugins"
            folder.mkdir()
            (folder / "github.wasm").write_bytes((plugins / "github.wasm").read_bytes())
            (folder / "github.toml").write_text(
                "[grants]\n"
                f'http = [{{ origin = "{origins["origin"]}", auth = {{ bearer_env = "GITHUB_TOKEN" }} }}]\n\n'
                f'[config]\nhost = "{origins["origin"]}"\n'
            )
            base_env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG")}
            servers = {
                "pier": ([pier, "serve", "--plugins", str(folder), "--no-watch", "--cache-dir", str(tmp / "cache")],
                         {**base_env, "GITHUB_TOKEN": TOKEN, "RUST_LOG": "off"}, True),
                "server-github": (["node", "--import", str(HERE / "github-redirect.mjs"), reference],
                                  {**base_env, "GITHUB_PERSONAL_ACCESS_TOKEN": TOKEN, "FAKE_GITHUB": origins["origin"] + "/api/v3"}, False),
            }
            # Compile pier's plugin once so the rounds measure a warm cache, as users run it.
            async with Running(servers["pier"][0], servers["pier"][1], tmp / "warm.pid") as s:
                await s.session.list_tools()
            runs = {(client, name): [] for client in ("python", "typescript") for name in servers}
            for _ in range(ROUNDS):
                for name, (argv, env, prefixed) in servers.items():
                    runs[("python", name)].append(await measure(name, argv, env, prefixed, tmp))
                    runs[("typescript", name)].append(measure_ts(argv, env, prefixed))
    finally:
        fake.kill()
    results = {}
    for (client, name), r in runs.items():
        results.setdefault(client, {})[name] = median_of(r)
    rows = [
        ("start -> initialize (ms)", "start_ms", False),
        ("tools/list bytes", "tools_list_bytes", False),
        ("tools listed", "tools", None),
        ("get_file_contents p50 (ms)", "get_file_contents_p50_ms", False),
        ("get_file_contents answer bytes", "get_file_contents_answer_bytes", False),
        ("get_file_contents calls/s @10", "get_file_contents_calls_per_s", True),
        ("list_issues(30) p50 (ms)", "list_issues_p50_ms", False),
        ("list_issues(30) answer bytes", "list_issues_answer_bytes", False),
        ("list_issues(30) calls/s @10", "list_issues_calls_per_s", True),
        ("peak RSS (KiB)", "peak_rss_kib", False),
    ]
    for client, by_server in results.items():
        p, r = by_server["pier"], by_server["server-github"]
        print(f"\n{client} SDK client{'':18} {'pier':>12} {'server-github':>14} {'ratio':>8}")
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
            print(f"{label:34} {pv:>12.1f} {rv:>14.1f} {ratio:>8}")
    print("ratio: how many times better pier is (higher is better for pier)")
    (HERE / "github-results.json").write_text(json.dumps({"rounds": ROUNDS, "calls": CALLS, "results": results}, indent=2) + "\n")


def measure_ts(argv, env, prefixed):
    """The same workloads through the TypeScript SDK client (bench/mcp_client.mjs)."""
    plan = {
        "command": argv,
        "env": env,
        "starts": STARTS,
        "calls": CALLS,
        "throughput_calls": THROUGHPUT_CALLS,
        "in_flight": IN_FLIGHT,
        "workloads": {w: [t[0], t[2]] if prefixed else [t[1], t[3]] for w, t in WORKLOADS.items()},
    }
    out = subprocess.run(["node", str(HERE / "mcp_client.mjs"), json.dumps(plan)], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    asyncio.run(main())

"""Benchmark: MCP over Streamable HTTP. Run it with `cargo xtask bench`.

- pier's no-op call (probe_count) over HTTP (with a bearer token; with sessions and with
  --stateless) versus over stdio, with the
  same Rust client (tests/examples/loadgen.rs): p50 at 1 in flight, throughput at 10 and 64;
- pier's HTTP versus @modelcontextprotocol/server-everything's HTTP `echo`, in the same run, with
  the Rust client and with the official Python SDK client (the issue's reference number,
  ~286 calls/s, was measured with a Python client).
Nothing is asserted; it prints a table and writes bench/http-results.json.
"""

import asyncio
import json
import os
import pathlib
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

import httpx
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from sandbox import loadgen  # noqa: E402

CALLS = int(os.environ.get("BENCH_CALLS", "3000"))
PY_CALLS = int(os.environ.get("BENCH_PY_CALLS", "1000"))
TOKEN = "bench-token-0123456789abcdef0123"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url, headers=None, timeout=30.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            httpx.get(url, headers=headers, trust_env=False, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.05)
    raise RuntimeError(f"{url} did not come up")


def start_pier(plugins, cache, *extra):
    proc = subprocess.Popen(
        [os.environ["PIER_BIN"], "serve", "--plugins", str(plugins), "--cache-dir", str(cache),
         "--no-watch", "--http", "127.0.0.1:0", *extra],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        env={**os.environ, "RUST_LOG": "warn", "PIER_TOKEN": TOKEN},
    )
    line = proc.stdout.readline().decode().strip()
    url = line.removeprefix("listening on ")
    wait_http(url.removesuffix("/mcp") + "/readyz")
    return proc, url


def start_everything():
    port = free_port()
    proc = subprocess.Popen(
        ["node", os.environ["EVERYTHING_SERVER"], "streamableHttp"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, "PORT": str(port)},
    )
    url = f"http://127.0.0.1:{port}/mcp"
    wait_http(url)
    return proc, url


async def python_client(url, tool, args, calls, in_flight, headers):
    """The official Python SDK: p50 one at a time, then calls/s with `in_flight` outstanding."""
    client = httpx.AsyncClient(headers=headers, trust_env=False, timeout=60)
    async with client, streamable_http_client(url, http_client=client) as (read, write, _):
        async with ClientSession(read, write) as session:
            await session.initialize()
            await session.call_tool(tool, args)
            lat = []
            for _ in range(min(calls, 300)):
                t0 = time.perf_counter()
                await session.call_tool(tool, args)
                lat.append((time.perf_counter() - t0) * 1000)
            gate = asyncio.Semaphore(in_flight)

            async def one():
                async with gate:
                    r = await session.call_tool(tool, args)
                    assert not r.isError, r

            t0 = time.perf_counter()
            await asyncio.gather(*(one() for _ in range(calls)))
            return {"p50_ms": statistics.median(lat), "per_s": calls / (time.perf_counter() - t0)}


def rust(url_or_cmd, tool, args, in_flight, calls=CALLS):
    cmd = url_or_cmd if isinstance(url_or_cmd, list) else [url_or_cmd]
    return loadgen(calls, in_flight, tool, args, cmd, env={"LOADGEN_TOKEN": TOKEN})


def main():
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="pier-bench-http-"))
    plugins = tmp / "plugins"
    plugins.mkdir()
    shutil.copy(pathlib.Path(os.environ["PIER_TEST_PLUGINS"]) / "probe.wasm", plugins / "probe.wasm")
    stdio = [os.environ["PIER_BIN"], "serve", "--plugins", str(plugins), "--cache-dir", str(tmp / "cache"), "--no-watch"]
    pier, pier_url = start_pier(plugins, tmp / "cache")
    stateless, stateless_url = start_pier(plugins, tmp / "cache", "--stateless")
    everything, everything_url = start_everything()
    results = {}
    try:
        for name, target, tool, args in [
            ("pier http", pier_url, "probe_count", {}),
            ("pier http --stateless", stateless_url, "probe_count", {}),
            ("pier stdio", stdio, "probe_count", {}),
            ("server-everything http", everything_url, "echo", {"message": "hi"}),
        ]:
            row = {}
            p50 = rust(target, tool, args, 1, calls=min(CALLS, 2000))
            row["rust_p50_ms"], row["rust_p95_ms"] = p50["p50_ms"], p50["p95_ms"]
            for n in (10, 64):
                r = rust(target, tool, args, n)
                assert r["failed"] == 0, r
                row[f"rust_per_s_{n}"] = r["calls_per_s"]
            if "http" in name:
                headers = {"Authorization": f"Bearer {TOKEN}"}
                py = asyncio.run(python_client(target, tool, args, PY_CALLS, 10, headers))
                row["py_p50_ms"], row["py_per_s_10"] = py["p50_ms"], py["per_s"]
            results[name] = row
            print(name, json.dumps(row), file=sys.stderr)
    finally:
        for p in (pier, stateless, everything):
            p.terminate()
            p.wait(timeout=10)
        shutil.rmtree(tmp, ignore_errors=True)

    cols = [("rust_p50_ms", "p50 ms"), ("rust_p95_ms", "p95 ms"), ("rust_per_s_10", "calls/s @10"),
            ("rust_per_s_64", "calls/s @64"), ("py_p50_ms", "Python p50 ms"), ("py_per_s_10", "Python calls/s @10")]
    print(f"{'':26}" + "".join(f"{h:>20}" for _, h in cols))
    for name, row in results.items():
        cells = "".join(f"{row[k]:>20.3f}" if k.endswith("ms") and k in row else
                        f"{row[k]:>20,.0f}" if k in row else f"{'-':>20}" for k, _ in cols)
        print(f"{name:26}{cells}")
    ratio = results["pier http"]["py_per_s_10"] / results["server-everything http"]["py_per_s_10"]
    ratio_rust = results["pier http"]["rust_per_s_10"] / results["server-everything http"]["rust_per_s_10"]
    print(f"pier HTTP vs server-everything HTTP at 10 in flight: {ratio:.1f}x (Python client), {ratio_rust:.1f}x (Rust client)")
    results["ratio_python_10"], results["ratio_rust_10"] = ratio, ratio_rust
    (pathlib.Path(__file__).parent / "http-results.json").write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()

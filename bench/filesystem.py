"""Benchmark: pier's filesystem plugin against @modelcontextprotocol/server-filesystem, same files,
same client, same run. Run it with `cargo xtask bench`.

The client is a minimal newline-delimited JSON-RPC client over the child's pipes (no SDK), so the
numbers are the servers', and so the server's pid is known for its peak RSS (VmHWM).
Nothing here asserts a time: it prints a table and writes bench/filesystem-results.json.
"""

import asyncio
import json
import os
import pathlib
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

READS = int(os.environ.get("BENCH_READS", "500"))
LISTS = int(os.environ.get("BENCH_LISTS", "200"))
THROUGHPUT_CALLS = int(os.environ.get("BENCH_CALLS", "2000"))
IN_FLIGHT = 10
STARTS = int(os.environ.get("BENCH_STARTS", "10"))


class Server:
    def __init__(self, argv, env=None):
        self.argv = argv
        self.env = env
        self.next_id = 0
        self.pending = {}
        # Notifications from the server (method name), for benchmarks that wait for them.
        self.notifications = asyncio.Queue()

    async def start(self):
        t0 = time.perf_counter()
        self.proc = await asyncio.create_subprocess_exec(
            *self.argv,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
            env=self.env,
            limit=64 * 1024 * 1024,
        )
        self.reader = asyncio.create_task(self._read())
        await self.request(
            "initialize",
            {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "bench", "version": "1"}},
        )
        startup = time.perf_counter() - t0
        self.notify("notifications/initialized")
        return startup

    async def _read(self):
        while True:
            line = await self.proc.stdout.readline()
            if not line:
                break
            msg = json.loads(line)
            fut = self.pending.pop(msg.get("id"), None)
            if fut is not None and not fut.done():
                fut.set_result(msg)
            elif "method" in msg and "id" not in msg:
                self.notifications.put_nowait(msg["method"])

    def notify(self, method):
        self.proc.stdin.write((json.dumps({"jsonrpc": "2.0", "method": method}) + "\n").encode())

    async def request(self, method, params):
        self.next_id += 1
        rid = self.next_id
        fut = asyncio.get_running_loop().create_future()
        self.pending[rid] = fut
        self.proc.stdin.write((json.dumps({"jsonrpc": "2.0", "id": rid, "method": method, "params": params}) + "\n").encode())
        await self.proc.stdin.drain()
        msg = await fut
        if "error" in msg:
            raise RuntimeError(f"{method}: {msg['error']}")
        return msg["result"]

    async def call(self, tool, args):
        r = await self.request("tools/call", {"name": tool, "arguments": args})
        if r.get("isError"):
            raise RuntimeError(f"{tool}: {r}")
        return r

    def peak_rss_kib(self):
        try:
            for line in pathlib.Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
        except OSError:
            return None
        return None

    async def stop(self):
        self.proc.stdin.close()
        try:
            await asyncio.wait_for(self.proc.wait(), 5)
        except asyncio.TimeoutError:
            self.proc.kill()
        self.reader.cancel()


async def start_times(make, n):
    """Seconds from spawning each of `n` fresh servers to its answered initialize."""
    starts = []
    for _ in range(n):
        s = make()
        starts.append(await s.start())
        await s.stop()
    return starts


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


async def timed(server, tool, args, n):
    lat = []
    for _ in range(n):
        t = time.perf_counter()
        await server.call(tool, args)
        lat.append((time.perf_counter() - t) * 1000)
    return lat


async def throughput(server, tool, args, total, in_flight):
    sem = asyncio.Semaphore(in_flight)

    async def one():
        async with sem:
            await server.call(tool, args)

    t = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(total)))
    return total / (time.perf_counter() - t)


async def measure(name, make, prefix, data):
    print(f"== {name}", file=sys.stderr)
    starts = await start_times(make, STARTS)
    s = make()
    await s.start()
    read_args = {"path": str(data / "file10k.txt")}
    list_args = {"path": str(data / "many")}
    await timed(s, prefix + "read_text_file", read_args, 20)  # warm-up
    reads = await timed(s, prefix + "read_text_file", read_args, READS)
    lists = await timed(s, prefix + "list_directory", list_args, LISTS)
    tput = await throughput(s, prefix + "read_text_file", read_args, THROUGHPUT_CALLS, IN_FLIGHT)
    rss = s.peak_rss_kib()
    await s.stop()
    return {
        "start_to_initialize_ms_p50": statistics.median(starts) * 1000,
        "read10k_ms_p50": pct(reads, 50),
        "read10k_ms_p95": pct(reads, 95),
        "list1000_ms_p50": pct(lists, 50),
        "list1000_ms_p95": pct(lists, 95),
        "read10k_calls_per_s_10_in_flight": tput,
        "peak_rss_mib": rss / 1024 if rss else None,
    }


async def main():
    pier = pathlib.Path(os.environ["PIER_BIN"])
    plugin = pathlib.Path(os.environ["PIER_TEST_PLUGINS"]) / "filesystem.wasm"
    ref = pathlib.Path(os.environ["REFERENCE_SERVER"])
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="pier-bench-"))
    data = tmp / "data"
    (data / "many").mkdir(parents=True)
    (data / "file10k.txt").write_text(("0123456789abcdef" * 4 + "\n") * 157)  # ~10 KB
    for i in range(1000):
        (data / "many" / f"entry-{i:04}.txt").write_text("x")
    data = data.resolve()
    plugins = tmp / "plugins"
    plugins.mkdir()
    shutil.copy(plugin, plugins / "filesystem.wasm")
    (plugins / "filesystem.toml").write_text(f'[[grants.files]]\nhost = "{data}"\nmode = "ro"\n')
    env = {"PATH": os.environ.get("PATH", ""), "RUST_LOG": "error"}

    # Cold: a new, empty cache dir for every start. Warm: one shared, pre-filled cache dir.
    cold = []
    for i in range(3):
        s = Server([str(pier), "serve", "--plugins", str(plugins), "--cache-dir", str(tmp / f"cold{i}")], env)
        cold.append(await s.start())
        await s.stop()
    warm_cache = tmp / "warm"
    make_pier = lambda: Server([str(pier), "serve", "--plugins", str(plugins), "--cache-dir", str(warm_cache)], env)
    s = make_pier()
    await s.start()
    await s.stop()

    results = {"pier": await measure("pier", make_pier, "filesystem_", data)}
    loadgen = os.environ.get("LOADGEN")
    if loadgen:
        # A Rust client (rmcp) that is not itself the bottleneck, 10 in flight.
        def rust_rate(tool, argv):
            out = subprocess.run(
                [loadgen, str(THROUGHPUT_CALLS * 2), str(IN_FLIGHT), tool, json.dumps({"path": str(data / "file10k.txt")}), "--", *argv],
                capture_output=True, text=True, env=env, check=True,
            )
            return json.loads(out.stdout)["calls_per_s"]

        results["pier"]["read10k_calls_per_s_rust_client"] = rust_rate(
            "filesystem_read_text_file", [str(pier), "serve", "--plugins", str(plugins), "--cache-dir", str(warm_cache)]
        )
    results["pier"]["start_to_initialize_cold_cache_ms_p50"] = statistics.median(cold) * 1000
    make_ref = lambda: Server(["node", str(ref), str(data)], env)
    results["reference"] = await measure("reference", make_ref, "", data)
    if loadgen:
        results["reference"]["read10k_calls_per_s_rust_client"] = rust_rate("read_text_file", ["node", str(ref), str(data)])

    rows = [
        ("start to initialize, cold cache (ms, p50)", "start_to_initialize_cold_cache_ms_p50"),
        ("start to initialize, warm (ms, p50)", "start_to_initialize_ms_p50"),
        ("read 10 KB file (ms, p50)", "read10k_ms_p50"),
        ("read 10 KB file (ms, p95)", "read10k_ms_p95"),
        ("list 1,000 entries (ms, p50)", "list1000_ms_p50"),
        ("list 1,000 entries (ms, p95)", "list1000_ms_p95"),
        ("read 10 KB, 10 in flight (calls/s)", "read10k_calls_per_s_10_in_flight"),
        ("read 10 KB, 10 in flight, Rust client (calls/s)", "read10k_calls_per_s_rust_client"),
        ("peak RSS (MiB)", "peak_rss_mib"),
    ]
    fmt = lambda v: "-" if v is None else f"{v:,.2f}"
    print(f"| measure | pier | reference server-filesystem |\n| --- | ---: | ---: |")
    for label, key in rows:
        print(f"| {label} | {fmt(results['pier'].get(key))} | {fmt(results['reference'].get(key))} |")
    ratio = results["pier"]["read10k_calls_per_s_10_in_flight"] / results["reference"]["read10k_calls_per_s_10_in_flight"]
    print(f"\nread-10KB throughput ratio pier/reference: {ratio:.2f}x")
    out = pathlib.Path(__file__).with_name("filesystem-results.json")
    out.write_text(json.dumps(results, indent=2))
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(main())

"""Benchmark: plugin lifecycle. Run it with `cargo xtask bench`.

- initialize latency and time until every tool is listed, with 4 plugins, cold compile cache
  versus warm;
- time from renaming a plugin into a watched folder to its tools being visible to a connected
  client (list_changed, then tools/list), with a warm cache (the component was compiled before)
  and a cold one (no cache).
Nothing is asserted; it prints a table and writes bench/lifecycle-results.json.
"""

import asyncio
import json
import os
import pathlib
import shutil
import statistics
import tempfile
import time

from filesystem import Server

ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))
PLUGINS = ["filesystem", "probe", "hostile"]


def stage(staged, folder):
    folder.mkdir(parents=True, exist_ok=True)
    for name in PLUGINS:
        shutil.copy(staged / f"{name}.wasm", folder / f"{name}.wasm")
    # A fourth plugin: the probe again under another name (its own instance pool and manifest).
    shutil.copy(staged / "probe.wasm", folder / "probe2.wasm")


async def start_to_tools(pier, folder, cache_args):
    server = Server([pier, "serve", "--plugins", str(folder), *cache_args])
    t0 = time.perf_counter()
    init = await server.start()
    tools = await server.request("tools/list", {})
    full = time.perf_counter() - t0
    await server.stop()
    return init * 1000, full * 1000, len(tools["tools"])


async def rename_to_visible(pier, work, cache_args, staged):
    folder = work / "watched"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    shutil.copy(staged / "probe.wasm", folder / "probe.wasm")
    server = Server([pier, "serve", "--plugins", str(folder), *cache_args])
    await server.start()
    await server.request("tools/list", {})
    while not server.notifications.empty():
        server.notifications.get_nowait()
    tmp = work / "incoming.part"
    shutil.copy(staged / "filesystem.wasm", tmp)
    t0 = time.perf_counter()
    os.rename(tmp, folder / "late.wasm")
    while True:
        method = await asyncio.wait_for(server.notifications.get(), 120)
        if method != "notifications/tools/list_changed":
            continue
        tools = await server.request("tools/list", {})
        if any(t["name"].startswith("late_") for t in tools["tools"]):
            break
    took = time.perf_counter() - t0
    await server.stop()
    return took * 1000


async def main():
    pier = os.environ["PIER_BIN"]
    staged = pathlib.Path(os.environ["PIER_TEST_PLUGINS"])
    work = pathlib.Path(tempfile.mkdtemp(prefix="pier-lifecycle-"))
    folder = work / "plugins"
    stage(staged, folder)
    cache = work / "cache"
    results = {}

    cold = [await start_to_tools(pier, folder, ["--no-cache"]) for _ in range(ROUNDS)]
    await start_to_tools(pier, folder, ["--cache-dir", str(cache)])  # fill the cache
    warm = [await start_to_tools(pier, folder, ["--cache-dir", str(cache)]) for _ in range(ROUNDS)]
    for label, runs in (("cold", cold), ("warm", warm)):
        results[f"initialize, 4 plugins, {label} cache (ms)"] = statistics.median(r[0] for r in runs)
        results[f"initialize to full tools/list, 4 plugins, {label} cache (ms)"] = statistics.median(r[1] for r in runs)
        results[f"tools listed ({label})"] = runs[0][2]

    warm_rename = [await rename_to_visible(pier, work, ["--cache-dir", str(cache)], staged) for _ in range(ROUNDS)]
    cold_rename = [await rename_to_visible(pier, work, ["--no-cache"], staged) for _ in range(ROUNDS)]
    results["rename to tools visible, warm cache (ms)"] = statistics.median(warm_rename)
    results["rename to tools visible, cold cache (ms)"] = statistics.median(cold_rename)
    shutil.rmtree(work, ignore_errors=True)

    print("| measure | median |\n| --- | ---: |")
    for k, v in results.items():
        print(f"| {k} | {v:,.1f} |" if isinstance(v, float) else f"| {k} | {v} |")
    out = pathlib.Path(__file__).with_name("lifecycle-results.json")
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    asyncio.run(main())

"""Benchmark: the first start of large plugins. Run it with `cargo xtask bench`.

Through the official Python SDK client over stdio, with examples/python-hello (pyhello.wasm,
~19 MB) and examples/js-hello (jshello.wasm, ~12 MB):
- start to the first `tools/list` that lists pyhello's tools, with a cold compile cache: as
  `cargo xtask build` stages it (sealed: listed from its embedded listing, then compiled), and
  unsealed (`pier seal --remove`) on the baseline (Winch) start pier does by default and with
  `PIER_BASELINE=off` (Cranelift first);
- start to the first answer of a trivial call (`NAME_greet`), which waits for code;
- the same with a warm cache (the optimised code compiled before);
- how long the background compile takes until calls run on optimised code, and a CPU-bound call
  (`NAME_count`) right after the first listing (baseline code, the compile running beside it)
  against the same call on optimised code.
Nothing is asserted; it prints a table and writes bench/first-start-results.json.
"""

import asyncio
import importlib.metadata
import json
import os
import pathlib
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
ROOT = pathlib.Path(__file__).resolve().parents[1]
COUNT_TO = 300_000


async def start(plugin, pier, folder, cache, env, log_path, wait_optimised):
    """(ms to the first listing with the plugin's tools, ms to the first greet answer, ms of one
    count call, s until optimised)."""
    params = StdioServerParameters(
        command=pier,
        args=["serve", "--plugins", str(folder), "--cache-dir", str(cache)],
        env={"PATH": os.environ.get("PATH", ""), "RUST_LOG": "info", **env},
    )
    t0 = time.perf_counter()
    with log_path.open("w") as log:
        async with stdio_client(params, errlog=log) as (read, write):
            async with ClientSession(read, write) as session:
                await session.initialize()
                while True:
                    tools = (await session.list_tools()).tools
                    if any(t.name == f"{plugin}_greet" for t in tools):
                        break
                    await asyncio.sleep(0.01)
                listed = time.perf_counter() - t0
                await session.call_tool(f"{plugin}_greet", {"name": "bench"})
                answered = time.perf_counter() - t0
                c0 = time.perf_counter()
                await session.call_tool(f"{plugin}_count", {"to": COUNT_TO})
                call = time.perf_counter() - c0
                optimised = None
                if wait_optimised:
                    while optimised is None and time.perf_counter() - t0 < 300:
                        if "optimised code ready" in log_path.read_text():
                            optimised = time.perf_counter() - t0
                        await asyncio.sleep(0.05)
    return listed * 1000, answered * 1000, call * 1000, optimised


async def measure(pier, staged, plugin, example, work):
    sealed, folder = work / f"{plugin}-sealed", work / plugin
    for f in (sealed, folder):
        f.mkdir()
        shutil.copy(staged / f"{plugin}.wasm", f / f"{plugin}.wasm")
        shutil.copy(ROOT / "examples" / example / f"{plugin}.toml", f / f"{plugin}.toml")
    subprocess.run([pier, "seal", "--remove", str(folder / f"{plugin}.wasm")], check=True, capture_output=True)
    size_mb = (folder / f"{plugin}.wasm").stat().st_size / 1e6
    rows = {"sealed": [], "baseline": [], "cranelift": [], "warm": []}
    for r in range(ROUNDS):
        cold = work / f"{plugin}-cache-s{r}"
        rows["sealed"].append(await start(plugin, pier, sealed, cold, {}, work / "s.log", False))
        cold = work / f"{plugin}-cache-b{r}"
        rows["baseline"].append(await start(plugin, pier, folder, cold, {}, work / "b.log", True))
        cold_off = work / f"{plugin}-cache-c{r}"
        rows["cranelift"].append(
            await start(plugin, pier, folder, cold_off, {"PIER_BASELINE": "off"}, work / "c.log", False)
        )
        rows["warm"].append(await start(plugin, pier, folder, cold_off, {}, work / "w.log", False))

    def med(kind, i):
        values = [row[i] for row in rows[kind] if row[i] is not None]
        return statistics.median(values) if values else None

    return {
        "component_mb": round(size_mb, 1),
        "cold_sealed_list_ms": med("sealed", 0),
        "cold_sealed_first_answer_ms": med("sealed", 1),
        "cold_baseline_list_ms": med("baseline", 0),
        "cold_baseline_first_answer_ms": med("baseline", 1),
        "cold_cranelift_list_ms": med("cranelift", 0),
        "warm_list_ms": med("warm", 0),
        "optimised_ready_s": med("baseline", 3),
        "count_call_baseline_ms": med("baseline", 2),
        "count_call_optimised_ms": med("warm", 2),
    }


async def main():
    pier = os.environ["PIER_BIN"]
    staged = pathlib.Path(os.environ["PIER_TEST_PLUGINS"])
    work = pathlib.Path(tempfile.mkdtemp(prefix="pier-first-start-"))
    plugins = {"pyhello": "python-hello", "jshello": "js-hello"}
    try:
        measured = {p: await measure(pier, staged, p, ex, work) for p, ex in plugins.items()}
    finally:
        shutil.rmtree(work, ignore_errors=True)
    results = {
        "rounds": ROUNDS,
        "client": f"python mcp {importlib.metadata.version('mcp')}",
        "count_to": COUNT_TO,
        "measured": time.strftime("%Y-%m-%d"),
        "plugins": measured,
    }
    out = ROOT / "bench" / "first-start-results.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nfirst start of large plugins, Python SDK client over stdio, medians of {ROUNDS}")
    names = list(measured)
    print(f"{'':52}" + "".join(f"{n:>12}" for n in names))
    lines = [
        ("component (MB)", "component_mb", "{:.1f}"),
        ("first tools/list, cold cache, sealed (ms)", "cold_sealed_list_ms", "{:.0f}"),
        ("first call answered, cold cache, sealed (ms)", "cold_sealed_first_answer_ms", "{:.0f}"),
        ("first tools/list, cold, unsealed, baseline (ms)", "cold_baseline_list_ms", "{:.0f}"),
        ("first call answered, cold, unsealed, baseline (ms)", "cold_baseline_first_answer_ms", "{:.0f}"),
        ("first tools/list, cold, unsealed, PIER_BASELINE=off (ms)", "cold_cranelift_list_ms", "{:.0f}"),
        ("first tools/list, warm cache (ms)", "warm_list_ms", "{:.0f}"),
        ("optimised code ready after (s)", "optimised_ready_s", "{:.1f}"),
        (f"count to {COUNT_TO}, baseline code (ms)", "count_call_baseline_ms", "{:.0f}"),
        (f"count to {COUNT_TO}, optimised code (ms)", "count_call_optimised_ms", "{:.0f}"),
    ]
    for label, key, fmt in lines:
        cells = [measured[n][key] for n in names]
        print(f"{label:52}" + "".join(f"{(fmt.format(c) if c is not None else '-'):>12}" for c in cells))
    print(f"wrote {out}", file=sys.stderr)


if __name__ == "__main__":
    asyncio.run(main())

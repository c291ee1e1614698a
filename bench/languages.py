"""Benchmark: one trivial tool (`greet`: a greeting from the manifest's [config]) in a plugin
written in each language pier has an SDK for, through the official Python SDK client over stdio:
Rust (a `pier new --lang rust` project, built here), Python (examples/python-hello) and
JavaScript (examples/js-hello), both sealed as `cargo xtask build` builds them.

Per language: component size; cold start (spawn to the first `tools/list` with its tools, and to
the first `greet` answered, empty compile cache); warm start (the same, with the optimised code
in the cache, put there by `pier inspect`); on that code: p50/p95 of `greet`, calls/s with 10 in
flight on one session, and peak RSS of pier with the plugin loaded.
Medians of ROUNDS rounds. Run it with `cargo xtask bench`: it prints a table and writes
bench/languages-results.json; nothing is asserted.
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

HERE = pathlib.Path(__file__).parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
from filesystem import pct, throughput, timed  # noqa: E402
from sdk_bench import Running, base_env  # noqa: E402

ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
CALLS = int(os.environ.get("BENCH_CALLS", "200"))
THROUGHPUT_CALLS = int(os.environ.get("BENCH_TPUT_CALLS", "600"))
IN_FLIGHT = 10
MANIFEST = '[limits]\nmemory = "256MiB"\ntimeout = "10s"\n\n[config]\ngreeting = "Hello"\n'


def rust_plugin(pier, work):
    """A `pier new --lang rust` project, built for wasm32-wasip2 (the target folder the tests
    use, so its dependencies are compiled already)."""
    project = work / "greeter"
    subprocess.run([pier, "new", "--lang", "rust", "greeter", "--dir", str(project)], check=True, capture_output=True)
    target = ROOT / "target" / "pier" / "scaffold-target"
    env = {**os.environ, "CARGO_TARGET_DIR": str(target)}
    subprocess.run(
        ["cargo", "build", "--quiet", "--release", "--target", "wasm32-wasip2"], cwd=project, env=env, check=True
    )
    return target / "wasm32-wasip2" / "release" / "greeter.wasm"


async def first_start(pier, folder, cache, tool):
    """(ms to the first listing with `tool`, ms to its first answer), from spawning pier."""
    params = StdioServerParameters(
        command=pier,
        args=["serve", "--plugins", str(folder), "--no-watch", "--cache-dir", str(cache)],
        env={**base_env(), "RUST_LOG": "off"},
    )
    t0 = time.perf_counter()
    async with stdio_client(params, errlog=open(os.devnull, "w")) as (read, write):
        async with ClientSession(read, write) as session:
            await session.initialize()
            while not any(t.name == tool for t in (await session.list_tools()).tools):
                await asyncio.sleep(0.01)
            listed = time.perf_counter() - t0
            answer = await session.call_tool(tool, {"name": "bench"})
            if answer.isError:
                raise RuntimeError(f"{tool}: {answer.content}")
            answered = time.perf_counter() - t0
    return listed * 1000, answered * 1000


async def measure(pier, name, wasm, work):
    folder = work / f"{name}-plugins"
    folder.mkdir()
    shutil.copy(wasm, folder / f"{name}.wasm")
    (folder / f"{name}.toml").write_text(MANIFEST)
    tool = f"{name}_greet"
    rounds = []
    for r in range(ROUNDS):
        cache = work / f"{name}-cache-{r}"
        cold = await first_start(pier, folder, cache, tool)
        # A first start that ends within seconds leaves no optimised code in the cache (it is
        # compiled in the background); `pier inspect` compiles it there, as a longer first
        # session would. Warm starts and the steady-state rows run on it.
        subprocess.run(
            [pier, "inspect", str(folder / f"{name}.wasm"), "--cache-dir", str(cache)], check=True, capture_output=True
        )
        warm = await first_start(pier, folder, cache, tool)
        argv = [pier, "serve", "--plugins", str(folder), "--no-watch", "--cache-dir", str(cache)]
        async with Running(argv, {**base_env(), "RUST_LOG": "off"}, work / f"{name}-{r}.pid") as s:
            args = {"name": "bench"}
            await timed(s, tool, args, 20)
            times = await timed(s, tool, args, CALLS)
            calls_per_s = await throughput(s, tool, args, THROUGHPUT_CALLS, IN_FLIGHT)
            rss = s.peak_rss_kib()
        rounds.append(
            {
                "cold_list_ms": cold[0],
                "cold_first_answer_ms": cold[1],
                "warm_list_ms": warm[0],
                "warm_first_answer_ms": warm[1],
                "p50_ms": statistics.median(times),
                "p95_ms": pct(times, 95),
                "calls_per_s": calls_per_s,
                "peak_rss_mib": rss / 1024 if rss else None,
            }
        )
    result = {"component_mb": wasm.stat().st_size / 1e6}
    for key in rounds[0]:
        values = [r[key] for r in rounds if r[key] is not None]
        result[key] = statistics.median(values) if values else None
    return result


async def main():
    pier = os.environ["PIER_BIN"]
    staged = pathlib.Path(os.environ["PIER_TEST_PLUGINS"])
    work = pathlib.Path(tempfile.mkdtemp(prefix="pier-languages-"))
    try:
        plugins = {
            "Rust": ("greeter", rust_plugin(pier, work)),
            "Python": ("pyhello", staged / "pyhello.wasm"),
            "JavaScript": ("jshello", staged / "jshello.wasm"),
        }
        measured = {lang: await measure(pier, name, wasm, work) for lang, (name, wasm) in plugins.items()}
    finally:
        shutil.rmtree(work, ignore_errors=True)
    results = {
        "rounds": ROUNDS,
        "client": f"python mcp {importlib.metadata.version('mcp')}",
        "measured": time.strftime("%Y-%m-%d"),
        "languages": measured,
    }
    out = HERE / "languages-results.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    langs = list(measured)
    print(f"\na trivial tool per language, Python SDK client over stdio, medians of {ROUNDS}")
    print(f"{'':44}" + "".join(f"{n:>12}" for n in langs))
    lines = [
        ("component (MB)", "component_mb", "{:.1f}"),
        ("first tools/list, cold cache (ms)", "cold_list_ms", "{:.0f}"),
        ("first greet answered, cold cache (ms)", "cold_first_answer_ms", "{:.0f}"),
        ("first tools/list, warm cache (ms)", "warm_list_ms", "{:.0f}"),
        ("first greet answered, warm cache (ms)", "warm_first_answer_ms", "{:.0f}"),
        ("greet p50 (ms)", "p50_ms", "{:.2f}"),
        ("greet p95 (ms)", "p95_ms", "{:.2f}"),
        (f"greet calls/s, {IN_FLIGHT} in flight", "calls_per_s", "{:.0f}"),
        ("peak RSS of pier (MiB)", "peak_rss_mib", "{:.1f}"),
    ]
    for label, key, fmt in lines:
        cells = [measured[n][key] for n in langs]
        print(f"{label:44}" + "".join(f"{(fmt.format(c) if c is not None else '-'):>12}" for c in cells))
    print(f"wrote {out}", file=sys.stderr)


if __name__ == "__main__":
    asyncio.run(main())

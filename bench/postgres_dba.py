"""Benchmark: the postgres plugin's DBA tools (health, top_queries, explain with a hypothetical
index, index_advice for one statement and for the workload) through the official Python MCP SDK
client, on bench/postgres.py's retail schema (100k orders, 300k order items) with
pg_stat_statements preloaded and hypopg installed. Run it with `cargo xtask bench`.

The peer for these tools, Postgres MCP Pro (PyPI postgres-mcp), is not measured: every release
needs Python >= 3.12 and this machine has 3.11 with no way to fetch another interpreter offline
(see docs/benchmarks.md). So these are pier's own numbers, a baseline for later runs. Nothing here
asserts a time: it prints a table and writes bench/postgres-dba-results.json.
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

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from postgres import PASSWORD, SEED, as_postgres, free_port, pg_bin  # noqa: E402
from sdk_bench import Running, answer_bytes, base_env  # noqa: E402

CALLS = int(os.environ.get("BENCH_DBA_CALLS", "30"))

WORKLOAD = [
    "SELECT id, total FROM retail.orders WHERE customer_id = {n}",
    "SELECT count(*) FROM retail.order_items WHERE product_id = {n}",
    "SELECT name FROM retail.customers WHERE email = 'c{n}@example.com'",
]

CALLS_MEASURED = {
    "health": ("postgres_health", {}),
    "top_queries": ("postgres_top_queries", {"limit": 10}),
    "explain_hypothetical": ("postgres_explain", {
        "sql": "SELECT id, total FROM retail.orders WHERE customer_id = $1", "params": [42],
        "hypothetical_indexes": [{"table": "retail.orders", "columns": ["customer_id"]}]}),
    "index_advice_statement": ("postgres_index_advice", {
        "sql": "SELECT o.id FROM retail.orders o JOIN retail.order_items i ON i.order_id = o.id "
               "WHERE i.product_id = $1 ORDER BY o.ordered_at"}),
    "index_advice_workload": ("postgres_index_advice", {"limit": 10}),
}


def start_cluster(tmp, port):
    bin = pg_bin()
    data = tmp / "data"
    data.mkdir()
    if os.geteuid() == 0:
        shutil.chown(tmp, "postgres", "postgres")
        shutil.chown(data, "postgres", "postgres")
    subprocess.run(as_postgres([str(bin / "initdb"), "-D", str(data), "-U", "postgres", "--auth-local=trust",
                                "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C"]), check=True, capture_output=True)
    options = (f"-p {port} -k {tmp} -c listen_addresses=127.0.0.1 -c fsync=off "
               "-c shared_preload_libraries=pg_stat_statements")
    subprocess.run(as_postgres([str(bin / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(tmp / "pg.log"), "-w", "start"]),
                   check=True, capture_output=True)
    return lambda: subprocess.run(as_postgres([str(bin / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]),
                                  capture_output=True)


def psql(tmp, port, sql):
    subprocess.run(["psql", "-h", str(tmp), "-p", str(port), "-U", "postgres", "-d", "postgres", "-X", "-q",
                    "-v", "ON_ERROR_STOP=1", "-c", sql], check=True, capture_output=True)


async def main():
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="pier-pgdba-"))
    port = free_port()
    stop = start_cluster(tmp, port)
    try:
        psql(tmp, port, SEED + "\nCREATE EXTENSION pg_stat_statements; CREATE EXTENSION hypopg;"
             "\nGRANT pg_read_all_stats TO mcp_reader; ANALYZE;")
        # A workload for pg_stat_statements: each statement 50 times with different constants.
        psql(tmp, port, "SET ROLE mcp_reader;\n" + "\n".join(
            q.format(n=n) + ";" for n in range(1, 51) for q in WORKLOAD))
        folder = tmp / "plugins"
        folder.mkdir()
        staged = pathlib.Path(os.environ["PIER_TEST_PLUGINS"]) / "postgres.wasm"
        (folder / "postgres.wasm").write_bytes(staged.read_bytes())
        (folder / "postgres.toml").write_text(
            f'[grants]\nnetwork = ["postgres://localhost:{port}"]\nenv = ["PGPASSWORD"]\n\n'
            f'[config]\nurl = "postgres://mcp_reader@localhost:{port}/postgres"\n'
            'password_env = "PGPASSWORD"\nsslmode = "disable"\n')
        argv = [os.environ["PIER_BIN"], "serve", "--plugins", str(folder), "--no-watch",
                "--cache-dir", str(tmp / "cache")]
        env = {**base_env(), "PGPASSWORD": PASSWORD, "RUST_LOG": "off"}
        results = {}
        # A first start fills the compile cache, so the measured server's peak RSS is serving,
        # not compiling the component.
        async with Running(argv, env, tmp / "pid") as s:
            await s.session.list_tools()
        async with Running(argv, env, tmp / "pid") as s:
            for name, (tool, args) in CALLS_MEASURED.items():
                first = await s.call(tool, args)
                lat = []
                for _ in range(CALLS):
                    t0 = time.perf_counter()
                    await s.call(tool, args)
                    lat.append((time.perf_counter() - t0) * 1000)
                lat.sort()
                results[name] = {
                    "ms_p50": statistics.median(lat),
                    "ms_p95": lat[int(len(lat) * 0.95) - 1],
                    "answer_bytes": answer_bytes(first),
                    "recommendations": len(first.structuredContent.get("recommendations", []))
                    if "recommendations" in (first.structuredContent or {}) else None,
                }
            rss = s.peak_rss_kib()
        print(f"{'workload':<24} {'p50 ms':>8} {'p95 ms':>8} {'bytes':>8}")
        for name, r in results.items():
            print(f"{name:<24} {r['ms_p50']:>8.2f} {r['ms_p95']:>8.2f} {r['answer_bytes']:>8}")
        print(f"peak RSS {rss / 1024 if rss else float('nan'):.1f} MiB")
        out = pathlib.Path(__file__).parent / "postgres-dba-results.json"
        out.write_text(json.dumps({"calls": CALLS, "client": "mcp (Python SDK)", "results": results,
                                   "peak_rss_mib": rss / 1024 if rss else None}, indent=2) + "\n")
    finally:
        stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(main())

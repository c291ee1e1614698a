"""Benchmark: pier's postgres plugin against @modelcontextprotocol/server-postgres (npm) and native
tokio-postgres (the limit), on one throwaway PostgreSQL with a retail schema (20 stores, 10k
customers, 1k products, 100k orders, 300k order items), same client, same run, then the same queries through the Python and TypeScript SDK clients
(bench/sdk_bench.py, written to bench/postgres-sdk-results.json). Run it with `cargo xtask bench`.

postgres-mcp (PyPI) is not measured here: every release needs Python >= 3.12 and this machine has
3.11 with no way to fetch another interpreter offline (see docs/benchmarks.md).
Nothing here asserts a time: it prints a table and writes bench/postgres-results.json.
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

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from filesystem import Server, pct, start_times, throughput, timed  # noqa: E402
from sdk_bench import Server as SdkServer, base_env, compare, pier_server, report  # noqa: E402

CALLS = int(os.environ.get("BENCH_CALLS", "500"))
THROUGHPUT_CALLS = int(os.environ.get("BENCH_TPUT_CALLS", "2000"))
IN_FLIGHT = 10
STARTS = int(os.environ.get("BENCH_STARTS", "5"))
PASSWORD = "bench-secret"

QUERIES = {
    "select1": "SELECT 1",
    "rows100": "SELECT o.id, o.customer_id, o.store_id, o.ordered_at, o.total FROM retail.orders o ORDER BY o.id LIMIT 100",
    "aggregate": "SELECT s.name, count(*) AS orders, sum(o.total) AS revenue FROM retail.orders o JOIN retail.stores s ON s.id = o.store_id WHERE o.ordered_at >= '2025-06-01' GROUP BY s.name ORDER BY revenue DESC",
}

# The workloads measured again through the Python and TypeScript SDK clients (bench/sdk_bench.py).
SDK_QUERIES = ("select1", "rows100")

SEED = """
CREATE SCHEMA retail;
CREATE TABLE retail.stores (id int PRIMARY KEY, name text NOT NULL, city text NOT NULL);
CREATE TABLE retail.customers (id int PRIMARY KEY, name text NOT NULL, email text NOT NULL, store_id int REFERENCES retail.stores);
CREATE TABLE retail.products (id int PRIMARY KEY, name text NOT NULL, category text NOT NULL, price numeric(10,2) NOT NULL);
CREATE TABLE retail.orders (id bigint PRIMARY KEY, customer_id int NOT NULL REFERENCES retail.customers,
    store_id int NOT NULL REFERENCES retail.stores, ordered_at timestamptz NOT NULL, total numeric(12,2) NOT NULL);
CREATE TABLE retail.order_items (order_id bigint NOT NULL REFERENCES retail.orders, line int NOT NULL,
    product_id int NOT NULL REFERENCES retail.products, quantity int NOT NULL, price numeric(10,2) NOT NULL,
    PRIMARY KEY (order_id, line));
INSERT INTO retail.stores SELECT g, 'Store ' || g, (ARRAY['Seattle','Austin','Boston','Denver'])[1 + g % 4] FROM generate_series(1, 20) g;
INSERT INTO retail.customers SELECT g, 'Customer ' || g, 'c' || g || '@example.com', 1 + g % 20 FROM generate_series(1, 10000) g;
INSERT INTO retail.products SELECT g, 'Product ' || g, (ARRAY['Garden','Kitchen','Tools','Outdoor','Paint'])[1 + g % 5], (g % 200) + 0.99 FROM generate_series(1, 1000) g;
INSERT INTO retail.orders SELECT g, 1 + (g * 7919) % 10000, 1 + g % 20, timestamptz '2025-01-01' + (g % 365) * interval '1 day', 0 FROM generate_series(1, 100000) g;
INSERT INTO retail.order_items SELECT o, l, 1 + (o * 31 + l) % 1000, 1 + (o + l) % 4, 0 FROM generate_series(1, 100000) o, generate_series(1, 3) l;
UPDATE retail.order_items i SET price = p.price FROM retail.products p WHERE p.id = i.product_id;
UPDATE retail.orders o SET total = t.sum FROM (SELECT order_id, sum(quantity * price) FROM retail.order_items GROUP BY order_id) t WHERE t.order_id = o.id;
CREATE INDEX ON retail.orders (ordered_at);
CREATE ROLE mcp_reader LOGIN PASSWORD '@pw@';
GRANT pg_read_all_data TO mcp_reader;
""".replace("@pw@", PASSWORD)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pg_bin():
    found = sorted(pathlib.Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if not found:
        sys.exit("no PostgreSQL server binaries under /usr/lib/postgresql")
    return found[-1].parent


def as_postgres(argv):
    return (["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []) + argv


def start_cluster(tmp, port):
    bin = pg_bin()
    data = tmp / "data"
    data.mkdir()
    if os.geteuid() == 0:
        shutil.chown(tmp, "postgres", "postgres")
        shutil.chown(data, "postgres", "postgres")
    subprocess.run(as_postgres([str(bin / "initdb"), "-D", str(data), "-U", "postgres", "--auth-local=trust",
                                "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C"]), check=True, capture_output=True)
    options = f"-p {port} -k {tmp} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
    subprocess.run(as_postgres([str(bin / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(tmp / "pg.log"), "-w", "start"]),
                   check=True, capture_output=True)
    return lambda: subprocess.run(as_postgres([str(bin / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]), capture_output=True)


async def measure(name, make, tool, wrap):
    print(f"== {name}", file=sys.stderr)
    starts = await start_times(make, STARTS)
    s = make()
    await s.start()
    out = {"start_to_initialize_ms_p50": statistics.median(starts) * 1000}
    for key, sql in QUERIES.items():
        args = wrap(sql)
        await timed(s, tool, args, 20)  # warm-up (connections, plans)
        lat = await timed(s, tool, args, CALLS)
        out[f"{key}_ms_p50"] = pct(lat, 50)
        out[f"{key}_ms_p95"] = pct(lat, 95)
    for key in ("select1", "rows100"):
        out[f"{key}_calls_per_s_10_in_flight"] = await throughput(s, tool, wrap(QUERIES[key]), THROUGHPUT_CALLS, IN_FLIGHT)
    rss = s.peak_rss_kib()
    out["peak_rss_mib"] = rss / 1024 if rss else None
    await s.stop()
    return out


def native(url):
    exe = os.environ.get("PG_NATIVE")
    if not exe:
        return None
    out = {}
    for key, sql in QUERIES.items():
        r = json.loads(subprocess.run([exe, url, sql, str(THROUGHPUT_CALLS), str(IN_FLIGHT)],
                                      capture_output=True, text=True, check=True).stdout)
        out[f"{key}_ms_p50"] = r["p50_ms"]
        out[f"{key}_ms_p95"] = r["p95_ms"]
        if key in ("select1", "rows100"):
            out[f"{key}_calls_per_s_10_in_flight"] = r["calls_per_s"]
    return out


async def main():
    pier = pathlib.Path(os.environ["PIER_BIN"])
    plugin = pathlib.Path(os.environ["PIER_TEST_PLUGINS"]) / "postgres.wasm"
    reference = pathlib.Path(os.environ["REFERENCE_SERVER"])
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="pier-pgbench-"))
    port = free_port()
    stop = start_cluster(tmp, port)
    try:
        for sql in (SEED, "VACUUM ANALYZE"):  # VACUUM cannot run inside psql -c's transaction
            subprocess.run(["psql", "-h", str(tmp), "-p", str(port), "-U", "postgres", "-d", "postgres", "-X", "-q",
                            "-v", "ON_ERROR_STOP=1", "-c", sql], check=True, capture_output=True)
        url = f"postgres://mcp_reader:{PASSWORD}@127.0.0.1:{port}/postgres"
        plugins = tmp / "plugins"
        plugins.mkdir()
        shutil.copy(plugin, plugins / "postgres.wasm")
        (plugins / "postgres.toml").write_text(
            f'[grants]\nnetwork = ["postgres://127.0.0.1:{port}"]\nenv = ["PGPASSWORD"]\n\n'
            f'[config]\nurl = "postgres://mcp_reader@127.0.0.1:{port}/postgres"\npassword_env = "PGPASSWORD"\nsslmode = "disable"\n'
        )
        env = {"PATH": os.environ.get("PATH", ""), "RUST_LOG": "error", "PGPASSWORD": PASSWORD}
        cache = tmp / "cache"
        make_pier = lambda: Server([str(pier), "serve", "--plugins", str(plugins), "--cache-dir", str(cache)], env)
        s = make_pier()  # fill the compile cache
        await s.start()
        await s.stop()
        make_ref = lambda: Server(["node", str(reference), url], env)
        results = {
            "pier": await measure("pier", make_pier, "postgres_query", lambda sql: {"sql": sql}),
            "server-postgres": await measure("server-postgres", make_ref, "query", lambda sql: {"sql": sql}),
        }
        limit = native(f"postgres://mcp_reader:{PASSWORD}@127.0.0.1:{port}/postgres")
        if limit:
            results["native tokio-postgres"] = limit
        # The same queries through the clients people use (the Python and TypeScript SDKs).
        sdk_tmp = tmp / "sdk"
        sdk_tmp.mkdir()
        pier_sdk = pier_server(sdk_tmp, "postgres", (plugins / "postgres.toml").read_text(), {"PGPASSWORD": PASSWORD},
                               {k: ("postgres_query", {"sql": QUERIES[k]}) for k in SDK_QUERIES})
        peer_sdk = SdkServer("server-postgres", ["node", str(reference), url], {**base_env(), "PGPASSWORD": PASSWORD},
                             {k: ("query", {"sql": QUERIES[k]}) for k in SDK_QUERIES})
        sdk_results = await compare(pier_sdk, peer_sdk, sdk_tmp)
        report(sdk_results, pier_sdk, peer_sdk, SDK_QUERIES, pathlib.Path(__file__).parent / "postgres-sdk-results.json")
    finally:
        stop()
        shutil.rmtree(tmp, ignore_errors=True)

    keys = sorted({k for r in results.values() for k in r})
    names = list(results)
    print(f"{'metric':42}" + "".join(f"{n:>24}" for n in names))
    for k in keys:
        row = ""
        for n in names:
            v = results[n].get(k)
            row += f"{v:>24.3f}" if isinstance(v, (int, float)) else f"{'-':>24}"
        print(f"{k:42}{row}")
    (pathlib.Path(__file__).parent / "postgres-results.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    asyncio.run(main())

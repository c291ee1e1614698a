"""Benchmark: the cost of the sandbox. Run it with `cargo xtask bench`.

Compares, with the same Rust MCP client (tests/examples/loadgen.rs) over stdio:
- a no-op tool call through pier (probe_count, a wasm component) with the same tool in a native
  rmcp server (tests/examples/native_server.rs): p50 at 1 in flight, throughput at 10;
- a granted TCP connect + echo through pier (hostile_connect) with the native server's connect;
- a fresh instance per call (hostile_panic: instantiate, trap, discard) with the pooling
  allocator and with on-demand allocation.
Nothing is asserted; it prints a table and writes bench/sandbox-results.json.
"""

import json
import os
import pathlib
import shutil
import socket
import subprocess
import sys
import tempfile
import threading

CALLS = int(os.environ.get("BENCH_CALLS", "3000"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))


def echo_server():
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen(512)

    def handle(conn):
        with conn:
            while True:
                data = conn.recv(4096)
                if not data:
                    return
                conn.sendall(data)

    def accept():
        while True:
            conn, _ = srv.accept()
            threading.Thread(target=handle, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    return srv.getsockname()[1]


def loadgen(calls, in_flight, tool, args, server, env=None, expect_error=False):
    e = dict(os.environ)
    e.update(env or {})
    if expect_error:
        e["LOADGEN_EXPECT_ERROR"] = "1"
    out = subprocess.run(
        [os.environ["LOADGEN"], str(calls), str(in_flight), tool, json.dumps(args), "--", *server],
        check=True, capture_output=True, text=True, env=e,
    )
    return json.loads(out.stdout)


def best(runs, key, high=True):
    values = [r[key] for r in runs]
    return max(values) if high else min(values)


def main():
    pier = os.environ["PIER_BIN"]
    native = os.environ["NATIVE_SERVER"]
    staged = pathlib.Path(os.environ["PIER_TEST_PLUGINS"])
    port = echo_server()
    work = pathlib.Path(tempfile.mkdtemp(prefix="pier-bench-"))
    plugins = work / "plugins"
    plugins.mkdir()
    for name in ("probe", "hostile"):
        shutil.copy(staged / f"{name}.wasm", plugins / f"{name}.wasm")
    # The crash loop of the fresh-instance case must not trip the circuit breaker, or it would
    # measure the breaker's fast refusal instead of instantiation.
    (plugins / "hostile.toml").write_text(
        f'[grants]\nnetwork = ["tcp://127.0.0.1:{port}"]\n[limits]\nfailures = 10000\n'
    )
    pier_cmd = [pier, "serve", "--plugins", str(plugins), "--cache-dir", str(work / "cache")]
    native_cmd = [native]
    connect_args = {"host": "127.0.0.1", "port": port, "message": "ping"}

    cases = {
        "noop pier": (pier_cmd, "probe_count", {}, {}, False),
        "noop native": (native_cmd, "count", {}, {}, False),
        "connect pier": (pier_cmd, "hostile_connect", connect_args, {}, False),
        "connect native": (native_cmd, "connect", connect_args, {}, False),
        "fresh instance (pooling)": (pier_cmd, "hostile_panic", {}, {"PIER_INSTANCE_ALLOCATOR": "pooling"}, True),
        "fresh instance (on-demand)": (pier_cmd, "hostile_panic", {}, {"PIER_INSTANCE_ALLOCATOR": "on-demand"}, True),
    }
    results = {}
    for name, (server, tool, args, env, err) in cases.items():
        seq = [loadgen(CALLS // 3, 1, tool, args, server, env, err) for _ in range(ROUNDS)]
        par = [loadgen(CALLS, 10, tool, args, server, env, err) for _ in range(ROUNDS)]
        results[name] = {
            "p50_ms": best(seq, "p50_ms", high=False),
            "p95_ms": best(seq, "p95_ms", high=False),
            "calls_per_s_c10": best(par, "calls_per_s"),
        }
    shutil.rmtree(work, ignore_errors=True)

    print(f"{'case':<28} {'p50 ms':>8} {'p95 ms':>8} {'calls/s @10':>12}")
    for name, r in results.items():
        print(f"{name:<28} {r['p50_ms']:>8.3f} {r['p95_ms']:>8.3f} {r['calls_per_s_c10']:>12.0f}")
    n, p = results["noop native"], results["noop pier"]
    print(f"\nsandbox cost, no-op: p50 x{p['p50_ms'] / n['p50_ms']:.2f}, "
          f"throughput x{n['calls_per_s_c10'] / p['calls_per_s_c10']:.2f} (target <= 1.1)")
    cn, cp = results["connect native"], results["connect pier"]
    print(f"granted connect: pier adds {cp['p50_ms'] - p['p50_ms']:.3f} ms over its no-op, "
          f"native {cn['p50_ms'] - n['p50_ms']:.3f} ms over its no-op")
    fresh = results["fresh instance (pooling)"]["p50_ms"] - p["p50_ms"]
    fresh_od = results["fresh instance (on-demand)"]["p50_ms"] - p["p50_ms"]
    print(f"fresh instance + trap over a kept instance: pooling {fresh:.3f} ms, on-demand {fresh_od:.3f} ms")
    out = pathlib.Path(__file__).with_name("sandbox-results.json")
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    sys.exit(main())

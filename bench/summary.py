"""One side-by-side table of every peer and every workload, from the result files the benchmarks
wrote (bench/*-results.json), with the client named on each row. `cargo xtask bench` runs it
last; it prints the table, writes it into docs/benchmarks.md between the `summary` markers, and
writes the README's one-line-per-peer headline between the `bench` markers, so the numbers
quoted there are the table's. A result file the run did not rewrite keeps the date of the commit
that last changed it, and the row says so.

Ratio: how many times better pier is (higher throughput, or lower latency, memory and start).
"""

import datetime
import json
import pathlib
import subprocess
import sys

HERE = pathlib.Path(__file__).parent
ROOT = HERE.parent
TODAY = datetime.date.today().isoformat()


def measured_on(path):
    """Today for a file this run wrote (untracked or changed), else its last commit's date."""
    rel = str(path.relative_to(ROOT))
    try:
        tracked = subprocess.run(["git", "ls-files", "--error-unmatch", rel], cwd=ROOT, capture_output=True).returncode == 0
        changed = subprocess.run(["git", "diff", "--quiet", "HEAD", "--", rel], cwd=ROOT, capture_output=True).returncode != 0
        if tracked and not changed:
            out = subprocess.run(["git", "log", "-1", "--format=%cs", "--", rel], cwd=ROOT, capture_output=True, text=True)
            if out.stdout.strip():
                return out.stdout.strip()
    except OSError:
        pass
    return TODAY


def load(name):
    path = HERE / name
    if not path.exists():
        return None, None
    return json.loads(path.read_text()), measured_on(path)


class Table:
    def __init__(self):
        self.rows = []

    def add(self, workload, client, peer, pier_value, peer_value, unit, higher_better, when):
        if pier_value is None or peer_value is None:
            return
        if higher_better:
            ratio = pier_value / peer_value if peer_value else None
        else:
            ratio = peer_value / pier_value if pier_value else None
        self.rows.append((workload, client, peer, pier_value, peer_value, unit, ratio, when))

    def markdown(self):
        out = [
            "| workload | client | peer | pier | peer's | ratio | measured |",
            "| --- | --- | --- | ---: | ---: | ---: | --- |",
        ]
        for workload, client, peer, pv, rv, unit, ratio, when in self.rows:
            ratio_text = "-" if ratio is None else f"**{ratio:.2f}x**" if ratio >= 1 else f"{ratio:.2f}x"
            out.append(f"| {workload} | {client} | {peer} | {fmt(pv, unit)} | {fmt(rv, unit)} | {ratio_text} | {when} |")
        return "\n".join(out)


def fmt(v, unit):
    if unit == "calls/s":
        return f"{v:,.0f} calls/s"
    if unit == "MiB":
        return f"{v:,.1f} MiB"
    return f"{v:,.2f} ms" if v < 100 else f"{v:,.0f} ms"


SDK_CLIENTS = {"python": "Python SDK (`mcp` 1.26)", "typescript": "TypeScript SDK 1.32"}


def sdk_rows(table, data, when, peer, workloads):
    """Rows from a bench/sdk_bench.py result file: per client, each workload's p50 and
    throughput with 10 in flight; start and peak RSS once (Python client)."""
    results = data["results"]
    for client, label in SDK_CLIENTS.items():
        by = results.get(client, {})
        p, r = by.get("pier"), by.get(peer)
        if not p or not r:
            continue
        for work, title in workloads:
            table.add(f"{title} p50", label, peer, p.get(f"{work}_p50_ms"), r.get(f"{work}_p50_ms"), "ms", False, when)
            table.add(f"{title}, 10 in flight", label, peer, p.get(f"{work}_calls_per_s"), r.get(f"{work}_calls_per_s"),
                      "calls/s", True, when)
    p, r = results["python"]["pier"], results["python"][peer]
    table.add("start → initialize", SDK_CLIENTS["python"], peer, p.get("start_ms"), r.get("start_ms"), "ms", False, when)
    kib = lambda v: v / 1024 if v else None
    table.add("peak RSS", SDK_CLIENTS["python"], peer, kib(p.get("peak_rss_kib")), kib(r.get("peak_rss_kib")), "MiB", False, when)


def build():
    table = Table()
    headline = []

    data, when = load("filesystem-sdk-results.json")
    if data:
        sdk_rows(table, data, when, "server-filesystem", [
            ("list_directory(1000)", "filesystem: list 1,000 entries"),
            ("list_directory_with_sizes(1000)", "filesystem: list 1,000 with sizes"),
            ("read_text_file(10 KB)", "filesystem: read 10 KB"),
        ])
        headline.append(("server-filesystem (Node)", data, "server-filesystem",
                         ["list_directory(1000)", "list_directory_with_sizes(1000)", "read_text_file(10 KB)"]))

    data, when = load("postgres-sdk-results.json")
    if data:
        sdk_rows(table, data, when, "server-postgres", [
            ("select1", "postgres: `SELECT 1`"),
            ("rows100", "postgres: 100-row select"),
        ])
        headline.append(("server-postgres (Node)", data, "server-postgres", ["select1", "rows100"]))
    raw, when = load("postgres-results.json")
    if raw and "native tokio-postgres" in raw:
        p, n = raw["pier"], raw["native tokio-postgres"]
        for key, title in (("select1", "postgres: `SELECT 1`"), ("rows100", "postgres: 100-row select")):
            table.add(f"{title}, 10 in flight", "pier: raw JSON-RPC (Python); native: Rust", "native tokio-postgres (no MCP)",
                      p.get(f"{key}_calls_per_s_10_in_flight"), n.get(f"{key}_calls_per_s_10_in_flight"), "calls/s", True, when)

    for file, peer, title, works in (
        ("github-results.json", "server-github", "github", [("get_file_contents", "get_file_contents"), ("list_issues", "list_issues (30)")]),
        ("slack-results.json", "server-slack", "slack", [("get_channel_history(10)", "channel history (10)"),
                                                        ("get_channel_history(100)", "channel history (100)"),
                                                        ("list_channels(100)", "list_channels (100)")]),
    ):
        data, when = load(file)
        if data:
            sdk_rows(table, data, when, peer, [(w, f"{title}: {t}") for w, t in works])
            headline.append((f"{peer} (Node)", data, peer, [w for w, _ in works]))

    http, when = load("http-results.json")
    if http:
        p, r = http.get("pier http"), http.get("server-everything http")
        if p and r:
            table.add("HTTP no-op call p50", "Rust (rmcp)", "server-everything", p.get("rust_p50_ms"), r.get("rust_p50_ms"), "ms", False, when)
            table.add("HTTP no-op call, 10 in flight", "Rust (rmcp)", "server-everything", p.get("rust_per_s_10"), r.get("rust_per_s_10"), "calls/s", True, when)
            table.add("HTTP no-op call, 10 in flight", SDK_CLIENTS["python"], "server-everything", p.get("py_per_s_10"), r.get("py_per_s_10"), "calls/s", True, when)

    sandbox, when = load("sandbox-results.json")
    if sandbox:
        p, n = sandbox.get("noop pier"), sandbox.get("noop native")
        if p and n:
            table.add("no-op call p50 (the sandbox's cost)", "Rust (rmcp)", "native rmcp server", p.get("p50_ms"), n.get("p50_ms"), "ms", False, when)
            table.add("no-op call, 10 in flight", "Rust (rmcp)", "native rmcp server", p.get("calls_per_s_c10"), n.get("calls_per_s_c10"), "calls/s", True, when)
    return table, headline


def headline_lines(headline):
    """One line per peer: throughput ratios with 10 in flight, per client."""
    lines = []
    for title, data, peer, works in headline:
        parts = []
        for client, label in (("python", "Python SDK"), ("typescript", "TypeScript SDK")):
            by = data["results"].get(client, {})
            p, r = by.get("pier"), by.get(peer)
            if not p or not r:
                continue
            ratios = [p[f"{w}_calls_per_s"] / r[f"{w}_calls_per_s"] for w in works
                      if p.get(f"{w}_calls_per_s") and r.get(f"{w}_calls_per_s")]
            if ratios:
                parts.append(f"{min(ratios):.2f}–{max(ratios):.2f}x through the {label}")
        if parts:
            lines.append(f"  - vs {title}: {', '.join(parts)} ({len(works)} workloads, calls/s with 10 in flight)")
    return lines


def replace_between(path, begin, end, body):
    text = path.read_text()
    if begin not in text or end not in text:
        print(f"{path}: no {begin} ... {end} markers; not written", file=sys.stderr)
        return
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    path.write_text(f"{head}{begin}\n{body}\n{end}{tail}")


def main():
    table, headline = build()
    md = table.markdown()
    print(md)
    replace_between(ROOT / "docs" / "benchmarks.md", "<!-- summary:begin -->", "<!-- summary:end -->", md)
    lines = headline_lines(headline)
    if lines:
        replace_between(ROOT / "README.md", "<!-- bench:begin -->", "<!-- bench:end -->", "\n".join(lines))


if __name__ == "__main__":
    main()

// The benchmark's TypeScript client: the official @modelcontextprotocol/sdk Client over stdio,
// which validates each result's structuredContent against the tool's outputSchema (ajv, compiled
// once per tool). bench/sdk_bench.py runs it once per server with a JSON plan on argv[2]:
//   {"command": [...], "env": {...}, "starts": N, "calls": N, "throughput_calls": N,
//    "in_flight": N, "workloads": {"name": ["tool", {args}]}}
// and reads one JSON line of results from stdout. It measures; it asserts nothing.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { readFileSync } from "node:fs";

const plan = JSON.parse(process.argv[2]);

async function connect() {
  const t0 = performance.now();
  const transport = new StdioClientTransport({
    command: plan.command[0],
    args: plan.command.slice(1),
    env: plan.env,
    stderr: "ignore",
  });
  const client = new Client({ name: "bench", version: "1" });
  await client.connect(transport);
  return { client, transport, startup: performance.now() - t0 };
}

async function call(client, tool, args) {
  const r = await client.callTool({ name: tool, arguments: args });
  if (r.isError) throw new Error(`${tool}: ${JSON.stringify(r.content)}`);
  return r;
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function peakRssKib(pid) {
  try {
    const line = readFileSync(`/proc/${pid}/status`, "utf8").split("\n").find((l) => l.startsWith("VmHWM:"));
    return line ? Number(line.split(/\s+/)[1]) : null;
  } catch {
    return null;
  }
}

const out = { start_ms: [] };
for (let i = 0; i < plan.starts; i++) {
  const { client, startup } = await connect();
  out.start_ms.push(startup);
  await client.close();
}
out.start_ms = median(out.start_ms);

const { client, transport } = await connect();
const { tools } = await client.listTools();
out.tools = tools.length;
out.tools_list_bytes = JSON.stringify(tools).length;
for (const [work, [tool, args]] of Object.entries(plan.workloads)) {
  for (let i = 0; i < 20; i++) await call(client, tool, args);
  const times = [];
  for (let i = 0; i < plan.calls; i++) {
    const t0 = performance.now();
    await call(client, tool, args);
    times.push(performance.now() - t0);
  }
  out[`${work}_p50_ms`] = median(times);
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: plan.in_flight }, async () => {
      while (next++ < plan.throughput_calls) await call(client, tool, args);
    }),
  );
  out[`${work}_calls_per_s`] = plan.throughput_calls / ((performance.now() - t0) / 1000);
}
out.peak_rss_kib = peakRssKib(transport.pid);
await client.close();
console.log(JSON.stringify(out));

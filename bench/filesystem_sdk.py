"""Benchmark: pier's filesystem plugin against @modelcontextprotocol/server-filesystem through the
clients people use: the official Python SDK client (which validates structuredContent against
each tool's outputSchema with jsonschema) and the TypeScript SDK client (ajv), as
bench/sdk_bench.py measures them. bench/filesystem.py measures the same servers with a raw
JSON-RPC client, which pays nothing for an answer's shape. Run it with `cargo xtask bench`.

pier serves the plugin with `prefix = ""`, so both servers take the same tool names and
arguments. Workloads: list a 1,000-file folder (with and without sizes) and read a 10 KB file.
"""

import asyncio
import os
import pathlib
import tempfile

from sdk_bench import Server, base_env, compare, pier_server, report, HERE


async def main():
    with tempfile.TemporaryDirectory() as t:
        tmp = pathlib.Path(t)
        data = (tmp / "data").resolve()
        (data / "many").mkdir(parents=True)
        (data / "file10k.txt").write_text(("0123456789abcdef" * 4 + "\n") * 157)  # ~10 KB
        for i in range(1000):
            (data / "many" / f"entry-{i:04}.txt").write_text("x")
        workloads = {
            "list_directory(1000)": ("list_directory", {"path": str(data / "many")}),
            "list_directory_with_sizes(1000)": ("list_directory_with_sizes", {"path": str(data / "many")}),
            "read_text_file(10 KB)": ("read_text_file", {"path": str(data / "file10k.txt")}),
        }
        manifest = f'[plugin]\nprefix = ""\n\n[[grants.files]]\nhost = "{data}"\nmode = "ro"\n'
        pier = pier_server(tmp, "filesystem", manifest, {}, workloads)
        peer = Server("server-filesystem", ["node", os.environ["REFERENCE_SERVER"], str(data)], base_env(), workloads)
        results = await compare(pier, peer, tmp)
    report(results, pier, peer, workloads, HERE / "filesystem-sdk-results.json")


if __name__ == "__main__":
    asyncio.run(main())

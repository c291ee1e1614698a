"""Benchmark: pier's github plugin against @modelcontextprotocol/server-github (npm 2025.4.8), both
talking to the same loopback fake GitHub API (tests/examples/fake_github.rs), through the Python
and TypeScript SDK clients (bench/sdk_bench.py says what is measured). Run it with
`cargo xtask bench`.

server-github hard-codes https://api.github.com; bench/github-redirect.mjs, preloaded with
`node --import`, sends its fetches to the fake. It holds the token in its environment; pier's
plugin never sees it (pier injects it for the granted origin).

Workloads: get_file_contents and list_issues (30 issues).
"""

import asyncio
import os
import pathlib
import tempfile

from sdk_bench import HERE, Fake, Server, base_env, compare, pier_server, report

TOKEN = "ghp_benchToken0123456789abcdefABCDEF01"

WORKLOADS = {
    # name: (pier tool, server-github tool, pier args, server-github args)
    "get_file_contents": (
        "github_get_file_contents",
        "get_file_contents",
        {"owner": "octo", "repo": "hello", "path": "src/main.rs"},
        {"owner": "octo", "repo": "hello", "path": "src/main.rs"},
    ),
    "list_issues": (
        "github_list_issues",
        "list_issues",
        {"owner": "octo", "repo": "hello", "perPage": 30},
        {"owner": "octo", "repo": "hello", "per_page": 30},
    ),
}


async def main():
    fake_env = {"FAKE_GITHUB_TOKEN": TOKEN, "FAKE_GITHUB_ISSUES": "30"}
    with Fake([os.environ["FAKE_GITHUB"]], fake_env) as at, tempfile.TemporaryDirectory() as t:
        manifest = (
            "[grants]\n"
            f'http = [{{ origin = "{at["origin"]}", auth = {{ bearer_env = "GITHUB_TOKEN" }} }}]\n\n'
            f'[config]\nhost = "{at["origin"]}"\n'
        )
        pier = pier_server(pathlib.Path(t), "github", manifest, {"GITHUB_TOKEN": TOKEN},
                           {w: (w_[0], w_[2]) for w, w_ in WORKLOADS.items()})
        peer = Server(
            "server-github",
            ["node", "--import", str(HERE / "github-redirect.mjs"), os.environ["REFERENCE_SERVER"]],
            {**base_env(), "GITHUB_PERSONAL_ACCESS_TOKEN": TOKEN, "FAKE_GITHUB": at["origin"] + "/api/v3"},
            {w: (w_[1], w_[3]) for w, w_ in WORKLOADS.items()},
        )
        results = await compare(pier, peer, pathlib.Path(t))
    report(results, pier, peer, WORKLOADS, HERE / "github-results.json")


if __name__ == "__main__":
    asyncio.run(main())

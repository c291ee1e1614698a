"""Benchmark: pier's slack plugin against @modelcontextprotocol/server-slack (npm 2025.4.25), both
talking to the same loopback fake Slack Web API (tests/examples/fake_slack.rs: 100 messages in
#general, 56 channels), through the Python and TypeScript SDK clients (bench/sdk_bench.py says
what is measured). Run it with `cargo xtask bench`.

server-slack hard-codes https://slack.com/api; bench/slack-redirect.mjs, preloaded with
`node --import`, sends its fetches to the fake. It holds the bot token in its environment; pier's
plugin never sees it (pier injects it for the granted origin).

Workloads, with the same arguments for both (the plugin keeps the reference's argument names):
get_channel_history with the reference's default limit (10) and with 100, and list_channels (100).
pier's answers carry each author's name (cached users.info); the reference returns Slack's raw
JSON, blocks included.
"""

import asyncio
import os
import pathlib
import tempfile

from sdk_bench import HERE, Fake, Server, base_env, compare, pier_server, report

TOKEN = "xoxb-1111111111-2222222222-benchBotToken0123456789"
TEAM = "T0PIER0001"
GENERAL = "C0GENERAL1"

WORKLOADS = {
    # name: (tool, arguments); both servers name their tools slack_<name>.
    "get_channel_history(10)": ("slack_get_channel_history", {"channel_id": GENERAL, "limit": 10}),
    "get_channel_history(100)": ("slack_get_channel_history", {"channel_id": GENERAL, "limit": 100}),
    "list_channels(100)": ("slack_list_channels", {"limit": 100}),
}


async def main():
    with Fake([os.environ["FAKE_SLACK"]], {"FAKE_SLACK_TOKEN": TOKEN}) as at, tempfile.TemporaryDirectory() as t:
        manifest = (
            "[grants]\n"
            f'http = [{{ origin = "{at["origin"]}", auth = {{ bearer_env = "SLACK_BOT_TOKEN" }} }}]\n\n'
            f'[config]\napi_url = "{at["api_url"]}"\nteam_id = "{TEAM}"\n'
        )
        pier = pier_server(pathlib.Path(t), "slack", manifest, {"SLACK_BOT_TOKEN": TOKEN}, WORKLOADS)
        peer = Server(
            "server-slack",
            ["node", "--import", str(HERE / "slack-redirect.mjs"), os.environ["REFERENCE_SERVER"]],
            {**base_env(), "SLACK_BOT_TOKEN": TOKEN, "SLACK_TEAM_ID": TEAM, "FAKE_SLACK": at["api_url"]},
            WORKLOADS,
        )
        results = await compare(pier, peer, pathlib.Path(t))
    report(results, pier, peer, WORKLOADS, HERE / "slack-results.json")


if __name__ == "__main__":
    asyncio.run(main())

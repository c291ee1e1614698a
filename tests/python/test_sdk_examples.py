"""The SDK examples — examples/python-hello (sdk/python, componentize-py) and examples/js-hello
(sdk/js, componentize-js), built by `cargo xtask build` — in the real pier, through the official
Python MCP SDK client: every tool, the prompt and its completion, the resource and the template,
and the bad cases: an exception is a tool error whose traceback (or stack) is in pier's log, bad
arguments are refused with the argument named, and a CPU-bound loop is stopped by the manifest's
timeout while another plugin keeps answering. Each starts from a cold compile cache: it is listed
from the listing `pier seal` embedded, runs on baseline code first and moves to optimised code
while the test runs. Unsealed, it is compiled before it is listed; with a listing that lies, its
calls are refused."""

import asyncio
import json
import pathlib
import subprocess

import pytest
from mcp import ClientSession
from mcp.client.stdio import stdio_client
from mcp.types import PromptReference

from conftest import _env_path

EXAMPLES = pathlib.Path(__file__).resolve().parents[2] / "examples"

# What differs between the languages: the plugin's name, its stats fields, the exception and
# the words of its log line.
LANGUAGES = {
    "python": dict(
        name="pyhello",
        folder="python-hello",
        stats_fields=["count", "mean", "median", "stdev", "minimum", "maximum"],
        stats={"count": 4, "mean": 2.5, "median": 2.5, "stdev": 1.2909944487358056, "minimum": 1.0, "maximum": 4.0},
        failure="stats failed: StatisticsError",
        logged=["tool 'stats' raised:", "Traceback (most recent call last)", "StatisticsError"],
        readme="# pyhello",
    ),
    "javascript": dict(
        name="jshello",
        folder="js-hello",
        stats_fields=["count", "mean", "minimum", "maximum"],
        stats={"count": 4, "mean": 2.5, "minimum": 1, "maximum": 4},
        failure="stats failed: RangeError: the mean of no numbers is undefined",
        logged=["tool 'stats' threw:", "RangeError: the mean of no numbers is undefined"],
        readme="# jshello",
    ),
}


def _serve(folder, log_path, body):
    """Serves the folder over stdio to the official client, runs `body(session)`, and returns
    pier's log (the loader at info)."""

    async def main():
        with log_path.open("w") as log:
            server = folder.server(log="warn,pier::plugin::loader=info")
            async with stdio_client(server, errlog=log) as (read, write):
                async with ClientSession(read, write) as session:
                    await session.initialize()
                    await body(session)

    asyncio.run(main())
    return log_path.read_text()


def _install(folder, language):
    """Installs the example with its manifest; returns its name and component path."""
    x = LANGUAGES[language]
    p = x["name"]
    folder.install(p, p, (EXAMPLES / x["folder"] / f"{p}.toml").read_text())
    return p, folder.plugins / f"{p}.wasm"


@pytest.mark.parametrize("language", sorted(LANGUAGES))
def test_the_sdk_example_answers_everything_through_a_real_client(folder, language):
    x = LANGUAGES[language]
    p, _ = _install(folder, language)
    docs = folder.dir("docs")
    folder.install("filesystem", "filesystem", f'[[grants.files]]\nhost = "{docs}"\nmode = "ro"\n')
    log_path = folder.tmp / "pier.log"

    async def body(session: ClientSession):
        tools = {t.name: t for t in (await session.list_tools()).tools}
        assert {f"{p}_greet", f"{p}_stats", f"{p}_count"} <= set(tools)
        greet = tools[f"{p}_greet"]
        assert greet.title == "Greet"
        assert greet.inputSchema["required"] == ["name"]
        assert greet.inputSchema["properties"]["name"]["description"] == "who to greet"
        assert greet.annotations.readOnlyHint is True
        assert tools[f"{p}_stats"].outputSchema["required"] == x["stats_fields"]

        hello = await session.call_tool(f"{p}_greet", {"name": "Ada", "excited": True})
        assert not hello.isError and hello.content[0].text == "Hello, Ada!"  # greeting from [config]

        # The SDK client validates structuredContent against the outputSchema.
        summary = await session.call_tool(f"{p}_stats", {"numbers": [1, 2, 3, 4]})
        assert not summary.isError
        assert summary.structuredContent == x["stats"]

        # An exception in the plugin: a tool error for the model, the traceback in pier's log.
        empty = await session.call_tool(f"{p}_stats", {"numbers": []})
        assert empty.isError
        assert x["failure"] in empty.content[0].text
        assert "is in pier's log" in empty.content[0].text

        wrong = await session.call_tool(f"{p}_stats", {"numbers": [1, "two"]})
        assert wrong.isError
        assert "argument 'numbers'[1] must be a number, not the string 'two'" in wrong.content[0].text
        unknown = await session.call_tool(f"{p}_greet", {"name": "Ada", "loud": True})
        assert unknown.isError and "unknown argument 'loud'" in unknown.content[0].text

        seen = []

        async def progress(value, total, message):
            seen.append((value, total, message))

        counted = await session.call_tool(f"{p}_count", {"to": 50_000}, progress_callback=progress)
        assert not counted.isError and counted.content[0].text.startswith("counted to 50000 in ")
        assert len(seen) == 10 and seen[-1] == (50_000, 50_000, "counted to 50000")

        # A loop that would run for hours is stopped by [limits] timeout = "5s", and the other
        # plugin answers while it runs.
        finished = []

        async def endless():
            result = await session.call_tool(f"{p}_count", {"to": 10**15})
            finished.append("count")
            return result

        spinning = asyncio.create_task(endless())
        await asyncio.sleep(0.5)
        other = await session.call_tool("filesystem_list_allowed_directories", {})
        finished.append("filesystem")
        assert not other.isError and str(docs) in other.content[0].text
        stopped = await spinning
        assert finished == ["filesystem", "count"]
        assert stopped.isError and "5s" in stopped.content[0].text, stopped.content[0].text
        again = await session.call_tool(f"{p}_greet", {"name": "Grace"})
        assert again.content[0].text == "Hello, Grace."

        [prompt] = [pr for pr in (await session.list_prompts()).prompts if pr.name == f"{p}_review"]
        assert prompt.title == "Review code"
        assert [(a.name, a.required) for a in prompt.arguments] == [("code", True), ("language", False)]
        filled = await session.get_prompt(f"{p}_review", {"code": "fn main() {}", "language": "rust"})
        assert "Review this rust code" in filled.messages[0].content.text
        assert filled.messages[0].role == "user"
        done = await session.complete(
            PromptReference(type="ref/prompt", name=f"{p}_review"), {"name": "language", "value": "r"}
        )
        assert done.completion.values == ["rust"]

        resources = {str(r.uri): r for r in (await session.list_resources()).resources}
        assert resources["hello://readme"].mimeType == "text/markdown"
        readme = await session.read_resource("hello://readme")
        assert readme.contents[0].text.startswith(x["readme"])
        templates = [t.uriTemplate for t in (await session.list_resource_templates()).resourceTemplates]
        assert "hello://greeting/{name}" in templates
        card = await session.read_resource("hello://greeting/Bob")
        assert card.contents[0].text == "Hello, Bob."

        # The plugin started on baseline code; once the optimised code is compiled, calls move
        # to it (the instances of the old code are not reused) and keep answering.
        for _ in range(1200):
            if "optimised code ready" in log_path.read_text():
                break
            await asyncio.sleep(0.1)
        else:
            raise AssertionError("the optimised compile did not finish in 120 s")
        later = await session.call_tool(f"{p}_greet", {"name": "Linus"})
        assert later.content[0].text == "Hello, Linus."
        later = await session.call_tool(f"{p}_stats", {"numbers": [2, 4]})
        assert later.structuredContent["mean"] == 3

    log = _serve(folder, log_path, body)
    for words in x["logged"]:
        assert words in log, (words, log[-3000:])
    # Built and sealed by `cargo xtask build`: listed from its embedded listing before any
    # compile, then served on baseline code once that code listed the same, then optimised.
    assert f"listed from its embedded listing; compiling in the background (calls wait for the code) plugin={p} tools=3" in log, log[-3000:]
    assert f"code ready and matches the embedded listing; calls run on it plugin={p} code=Baseline" in log, log[-3000:]


@pytest.mark.parametrize("language", sorted(LANGUAGES))
def test_inspect_tells_the_language_runtime_s_imports_apart(folder, language):
    p, wasm = _install(folder, language)
    pier = str(_env_path("PIER_BIN"))
    out = subprocess.run([pier, "inspect", str(wasm), "--json", "--cache-dir", str(folder.cache)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["runtime"] == language, report["runtime"]
    caps = {c["kind"]: c for c in report["capabilities"]}
    # What the runtime imports and the manifest does not grant is marked as the runtime's, with
    # the build flag that drops it; pier's own API and stdio are the plugin's.
    runtime_kinds = {k for k, c in caps.items() if c["from_runtime"]}
    assert runtime_kinds and runtime_kinds <= {"sockets", "http", "filesystem", "environment"}, caps
    for kind in runtime_kinds:
        assert f"imported by the {'Python' if language == 'python' else 'JavaScript'} runtime" in caps[kind]["note"]
    assert not caps["pier-host"]["from_runtime"]
    text = subprocess.run([pier, "inspect", str(wasm), "--cache-dir", str(folder.cache)], capture_output=True, text=True).stdout
    assert f"runtime:   {'Python' if language == 'python' else 'JavaScript'} runtime (" in text, text
    assert "(runtime)" in text, text
    assert "tools (3):" in text and "prompts (1):" in text, text
    assert "resources (1):" in text and "hello://readme" in text, text
    assert [r["uri"] for r in report["resources"]] == ["hello://readme"], report["resources"]


@pytest.mark.parametrize("language", sorted(LANGUAGES))
def test_without_a_listing_the_plugin_is_compiled_before_it_is_listed(folder, language):
    p, wasm = _install(folder, language)
    removed = subprocess.run([str(_env_path("PIER_BIN")), "seal", "--remove", str(wasm)], capture_output=True, text=True)
    assert removed.returncode == 0 and "removed the listing" in removed.stdout, removed

    async def body(session):
        tools = {t.name for t in (await session.list_tools()).tools}
        assert f"{p}_greet" in tools
        greet = await session.call_tool(f"{p}_greet", {"name": "Ada"})
        assert greet.content[0].text == "Hello, Ada."

    log = _serve(folder, folder.tmp / "pier.log", body)
    assert f"loaded plugin={p} tools=3 cache=CompiledUncached code=Baseline" in log, log[-3000:]
    assert "embedded listing" not in log


# Forgeries of the same length, so the section stays well-formed and only what it claims
# changes: a tool's title, or an exported interface denied (a prompt description shortened to
# keep the length).
FORGERIES = {
    "title": ([(b'"name":"count","title":null', b'"name":"count","title":"Ls"')], "the definition of tool `count` differs"),
    "exports": (
        [(b'"prompts":true', b'"prompts":false'), (b"Asks the model to review", b"Asks the model to revie")],
        "the exported interfaces differ",
    ),
}


@pytest.mark.parametrize("forgery", sorted(FORGERIES))
@pytest.mark.parametrize("language", sorted(LANGUAGES))
def test_a_listing_that_does_not_match_the_code_gets_the_calls_refused(folder, language, forgery):
    p, wasm = _install(folder, language)
    data = wasm.read_bytes()
    at = data.rindex(b"pier-listing")
    changes, difference = FORGERIES[forgery]
    listing = data[at:]
    for honest, forged in changes:
        assert honest in listing, honest
        listing = listing.replace(honest, forged, 1)
    assert len(listing) == len(data) - at
    wasm.write_bytes(data[:at] + listing)

    async def body(session):
        tools = {t.name: t for t in (await session.list_tools()).tools}
        if forgery == "title":
            assert tools[f"{p}_count"].title == "Ls"
        refused = await session.call_tool(f"{p}_greet", {"name": "Ada"})
        assert refused.isError
        assert f"embedded listing does not match the component: {difference}" in refused.content[0].text

    log = _serve(folder, folder.tmp / "pier.log", body)
    assert "its embedded listing does not match the component" in log, log[-3000:]


def _leb128(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _section(kind: int, payload: bytes) -> bytes:
    return bytes([kind]) + _leb128(len(payload)) + payload


def test_a_sealed_update_that_does_not_compile_leaves_the_old_version_serving(folder):
    p, wasm = _install(folder, "python")
    data = wasm.read_bytes()
    # `pier seal` appends the listing last: its JSON runs from after the name to the end.
    name = b"pier-listing"
    claimed = data[data.rindex(name) + len(name):]
    listing = _section(0, _leb128(len(name)) + name + claimed)
    # A component that claims pyhello's lists but whose core module is not WebAssembly.
    broken = data[:8] + _section(1, b"\x00asm\x01\x00\x00\x00not code") + listing

    async def body(session):
        first = await session.call_tool(f"{p}_greet", {"name": "Ada"})
        assert first.content[0].text == "Hello, Ada."
        staging = folder.tmp / "pyhello.wasm.new"
        staging.write_bytes(broken)
        staging.rename(wasm)
        log = folder.tmp / "pier.log"
        for _ in range(300):
            if "update not applied" in log.read_text():
                break
            await asyncio.sleep(0.1)
        else:
            raise AssertionError("the update was not tried in 30 s")
        again = await session.call_tool(f"{p}_greet", {"name": "Linus"})
        assert again.content[0].text == "Hello, Linus."

    log = _serve(folder, folder.tmp / "pier.log", body)
    assert "update not applied, still serving the previous version" in log, log[-3000:]

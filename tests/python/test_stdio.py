"""pier through the official Python MCP SDK over stdio: the same server a Python-based client
(or Claude Desktop's own stack) would talk to."""

import asyncio

from mcp import ClientSession
from mcp.client.stdio import stdio_client
from mcp.shared.exceptions import McpError


def run(coro):
    return asyncio.run(coro)


def grant(path, mode):
    return f'[[grants.files]]\nhost = "{path}"\nmode = "{mode}"\n'


async def session_for(folder, body, *extra):
    async with stdio_client(folder.server(*extra)) as (read, write):
        async with ClientSession(read, write) as session:
            init = await session.initialize()
            return await body(session, init)


def test_initialize_and_list_tools(folder):
    docs = folder.dir("docs")
    folder.install("filesystem", "filesystem", grant(docs, "ro"))

    async def body(session, init):
        assert init.serverInfo.name == "pier"
        assert init.capabilities.tools is not None
        tools = {t.name: t for t in (await session.list_tools()).tools}
        assert "filesystem_read_text_file" in tools and "filesystem_grep" in tools
        read = tools["filesystem_read_text_file"]
        assert read.inputSchema["type"] == "object"
        assert "path" in read.inputSchema["required"]
        assert read.outputSchema is not None
        assert read.annotations.readOnlyHint is True
        assert tools["filesystem_write_file"].annotations.destructiveHint is True

    run(session_for(folder, body))


def test_read_write_edit_and_refusals(folder):
    work = folder.dir("work")
    docs = folder.dir("docs")
    (docs / "a.md").write_text("hello\n")
    folder.install("filesystem", "filesystem", grant(work, "rw") + grant(docs, "ro"))

    async def body(session, _):
        r = await session.call_tool("filesystem_read_text_file", {"path": str(docs / "a.md")})
        assert not r.isError
        assert r.structuredContent["content"] == "hello\n"
        assert r.content[0].text == "hello\n"

        w = await session.call_tool("filesystem_write_file", {"path": str(work / "n.txt"), "content": "one\ntwo\n"})
        assert not w.isError and (work / "n.txt").read_text() == "one\ntwo\n"
        e = await session.call_tool(
            "filesystem_edit_file",
            {"path": str(work / "n.txt"), "edits": [{"oldText": "two", "newText": "three"}]},
        )
        assert not e.isError and "+three" in e.structuredContent["diff"]
        assert (work / "n.txt").read_text() == "one\nthree\n"

        ro = await session.call_tool("filesystem_write_file", {"path": str(docs / "x.txt"), "content": "x"})
        assert ro.isError and "read-only" in ro.content[0].text
        out = await session.call_tool("filesystem_read_text_file", {"path": str(work / ".." / ".." / "etc")})
        assert out.isError and "[grants].files" in out.content[0].text
        wrong = await session.call_tool("filesystem_read_text_file", {"path": ["not", "a", "string"]})
        assert wrong.isError and "invalid arguments" in wrong.content[0].text

        try:
            await session.call_tool("filesystem_no_such_tool", {})
            raise AssertionError("unknown tool must be an error")
        except McpError as err:
            assert "unknown tool" in str(err)

        # Still serving after every refusal.
        again = await session.call_tool("filesystem_list_allowed_directories", {})
        assert not again.isError

    run(session_for(folder, body))


def test_limits_progress_identity_resources_and_prompts(folder):
    folder.install("probe", "probe", '[limits]\ntimeout = "500ms"\n[config]\nmode = "test"\n')

    async def body(session, _):
        spin = await session.call_tool("probe_spin", {})
        assert spin.isError and "[limits].timeout" in spin.content[0].text
        echo = await session.call_tool("probe_echo", {"a": 1})
        assert echo.structuredContent["identity"] == "py-tester"
        assert ["mode", "test"] in echo.structuredContent["config"]

        seen = []

        async def on_progress(progress, total, message):
            seen.append((progress, total, message))

        done = await session.call_tool("probe_progress", {}, progress_callback=on_progress)
        assert not done.isError
        for _ in range(50):
            if len(seen) == 3:
                break
            await asyncio.sleep(0.02)
        assert [s[0] for s in seen] == [1.0, 2.0, 3.0], seen
        assert seen[-1][2] == "step 3"

        resources = await session.list_resources()
        assert any(str(r.uri) == "probe://hello" for r in resources.resources)
        hello = await session.read_resource("probe://hello")
        assert hello.contents[0].text == "hello from probe"
        prompt = await session.get_prompt("probe_greet", {"name": "Lin"})
        assert prompt.messages[0].content.text == "Say hello to Lin."

    run(session_for(folder, body, "--identity", "py-tester"))

"""Plugins asking the client (`host.ask`) through the official Python SDK's callbacks:
elicitation, sampling and roots, over stdio and Streamable HTTP, with the `conformance` test
plugin's fixtures. Also what a plugin hears when the client declared no such capability, and a
declined form."""

import asyncio

import httpx
import mcp.types as types
import pytest
from mcp import ClientSession
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client

from conftest import Folder, HttpPier

MANIFEST = '[plugin]\nprefix = ""\n'


class Client:
    """Callbacks that answer like a user and a model would, and remember what they were asked."""

    def __init__(self, action: str = "accept"):
        self.action = action
        self.asked: list[tuple[str, object]] = []

    async def elicit(self, _ctx, params: types.ElicitRequestParams):
        self.asked.append(("elicit", params))
        if self.action != "accept":
            return types.ElicitResult(action=self.action)
        props = params.requestedSchema.get("properties", {})
        content = {k: ("ada" if k in ("name", "username") else "ada@example.com") for k in props}
        return types.ElicitResult(action="accept", content=content)

    async def sample(self, _ctx, params: types.CreateMessageRequestParams):
        self.asked.append(("sample", params))
        prompt = params.messages[0].content.text
        return types.CreateMessageResult(
            role="assistant",
            content=types.TextContent(type="text", text=f"answer to {prompt!r}"),
            model="test-model",
            stopReason="endTurn",
        )

    async def roots(self, _ctx):
        self.asked.append(("roots", None))
        return types.ListRootsResult(roots=[types.Root(uri="file:///work/project", name="project")])

    def session(self, read, write, *, callbacks: bool = True) -> ClientSession:
        if not callbacks:
            return ClientSession(read, write)
        return ClientSession(
            read, write,
            sampling_callback=self.sample,
            elicitation_callback=self.elicit,
            list_roots_callback=self.roots,
        )


async def _calls(session: ClientSession) -> dict[str, types.CallToolResult]:
    await session.initialize()
    out = {}
    out["elicitation"] = await session.call_tool("test_elicitation", {"message": "Who are you?"})
    out["sampling"] = await session.call_tool("test_sampling", {"prompt": "Capital of France?"})
    out["all three"] = await session.call_tool("test_input_required_result_multiple_inputs", {})
    out["two rounds"] = await session.call_tool("test_input_required_result_multi_round", {})
    out["required"] = await session.call_tool("test_missing_capability", {})
    return out


def _text(result: types.CallToolResult) -> str:
    return "\n".join(c.text for c in result.content if isinstance(c, types.TextContent))


def _check_answers(client: Client, out: dict[str, types.CallToolResult]) -> None:
    for name, result in out.items():
        assert not result.isError, (name, _text(result))
    assert _text(out["elicitation"]) == (
        'User response: Elicitation completed: action=accept, '
        'content={"email":"ada@example.com","username":"ada"}'
    )
    assert _text(out["sampling"]) == "LLM response: answer to 'Capital of France?'"
    assert _text(out["all three"]) == "answer to 'Generate a greeting', ada; 1 root(s)"
    assert _text(out["two rounds"]) == "ada likes ada@example.com"
    assert _text(out["required"]) == "the client can sample"
    kinds = [k for k, _ in client.asked]
    # elicitation; sampling; the three at once (in any order); two elicitations; one sample.
    assert kinds[0] == "elicit" and kinds[1] == "sample"
    assert sorted(kinds[2:5]) == ["elicit", "roots", "sample"]
    assert kinds[5:] == ["elicit", "elicit", "sample"]
    form = client.asked[0][1]
    assert form.message == "Who are you?"
    assert form.requestedSchema["required"] == ["username", "email"]


def test_elicitation_sampling_and_roots_over_stdio(folder: Folder):
    folder.install("conformance", "conformance", MANIFEST)
    client = Client()

    async def run():
        async with stdio_client(folder.server()) as (read, write):
            async with client.session(read, write) as session:
                return await _calls(session)

    _check_answers(client, asyncio.run(run()))


@pytest.fixture
def http_pier(folder: Folder):
    folder.install("conformance", "conformance", MANIFEST)
    server = HttpPier(folder)
    yield server
    server.close()


def test_elicitation_sampling_and_roots_over_http(http_pier: HttpPier):
    client = Client()

    async def run():
        http = httpx.AsyncClient(trust_env=False, timeout=30)
        async with http, streamable_http_client(http_pier.url, http_client=http) as (read, write, _):
            async with client.session(read, write) as session:
                return await _calls(session)

    _check_answers(client, asyncio.run(run()))


def test_a_client_without_the_capabilities_is_told_so(http_pier: HttpPier):
    async def run():
        http = httpx.AsyncClient(trust_env=False, timeout=30)
        async with http, streamable_http_client(http_pier.url, http_client=http) as (read, write, _):
            async with Client().session(read, write, callbacks=False) as session:
                await session.initialize()
                asked = await session.call_tool("test_elicitation", {"message": "Who?"})
                required = await session.call_tool("test_missing_capability", {})
                return asked, required

    asked, required = asyncio.run(run())
    # The plugin hears "unsupported" and says so; nothing hangs.
    assert asked.isError
    assert "did not declare the `elicitation` capability" in _text(asked)
    # A required question ends the call with pier's account of the missing capability.
    assert required.isError
    assert "needs the client capability `sampling`" in _text(required)


def test_a_declined_form_reaches_the_plugin(folder: Folder):
    folder.install("conformance", "conformance", MANIFEST)
    client = Client(action="decline")

    async def run():
        async with stdio_client(folder.server()) as (read, write):
            async with client.session(read, write) as session:
                await session.initialize()
                return await session.call_tool("test_elicitation_sep1034_defaults", {})

    result = asyncio.run(run())
    assert not result.isError
    assert _text(result) == "Elicitation completed: action=decline, content={}"
    defaults = client.asked[0][1].requestedSchema["properties"]
    assert defaults["name"]["default"] == "John Doe"
    assert defaults["score"]["default"] == 95.5

"""pier over Streamable HTTP with the official Python SDK's client: tokens, identity, refusals."""

import asyncio

import httpx
import pytest
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client

from conftest import Folder, HttpPier

TOKEN = "python-token-0123456789abcdef"
PROXY = "python-proxy-0123456789abcdef"
INITIALIZE = {
    "jsonrpc": "2.0", "id": 1, "method": "initialize",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {},
               "clientInfo": {"name": "raw", "version": "1"}},
}
ACCEPT = {"accept": "application/json, text/event-stream"}


@pytest.fixture
def pier(folder: Folder):
    folder.install("probe", "probe")
    tokens = folder.tmp / "tokens.toml"
    tokens.write_text(
        f'[[tokens]]\nidentity = "py"\ntoken = "{TOKEN}"\nscopes = ["probe:echo"]\n\n'
        f'[[tokens]]\nidentity = "proxy"\ntoken = "{PROXY}"\ntrusted_proxy = true\n'
    )
    tokens.chmod(0o600)
    server = HttpPier(folder, "--tokens", str(tokens), "--identity-header", "x-rls-user-id")
    yield server
    server.close()


async def _echo(url: str, headers: dict[str, str]):
    client = httpx.AsyncClient(headers=headers, trust_env=False, timeout=30)
    async with client, streamable_http_client(url, http_client=client) as (read, write, _):
        async with ClientSession(read, write) as session:
            init = await session.initialize()
            assert init.serverInfo.name == "pier"
            tools = [t.name for t in (await session.list_tools()).tools]
            result = await session.call_tool("probe_echo", {"x": 1})
            assert not result.isError, result
            return tools, result.structuredContent


def _all_messages(e: BaseException) -> str:
    """The text of an exception and of everything nested in it (groups, causes)."""
    parts = [f"{type(e).__name__}: {e}"]
    for inner in getattr(e, "exceptions", ()):
        parts.append(_all_messages(inner))
    for linked in (e.__cause__, e.__context__):
        if linked is not None and linked is not e:
            parts.append(_all_messages(linked))
    return "\n".join(parts)


def test_initialize_list_and_call_with_a_token(pier: HttpPier):
    tools, out = asyncio.run(_echo(pier.url, {"Authorization": f"Bearer {TOKEN}"}))
    # The token's scopes ("probe:echo") hide the probe's other tools.
    assert tools == ["probe_echo"]
    assert out["identity"] == "py"
    assert out["args"] == {"x": 1}


def test_trusted_proxy_names_the_user(pier: HttpPier):
    _, out = asyncio.run(
        _echo(pier.url, {"Authorization": f"Bearer {PROXY}", "x-rls-user-id": "user-9"})
    )
    assert out["identity"] == "user-9"
    # An ordinary token's claim is ignored.
    _, out = asyncio.run(
        _echo(pier.url, {"Authorization": f"Bearer {TOKEN}", "x-rls-user-id": "user-9"})
    )
    assert out["identity"] == "py"


def test_missing_token_is_401_and_foreign_origin_is_403(pier: HttpPier):
    r = httpx.post(pier.url, json=INITIALIZE, headers=ACCEPT, trust_env=False)
    assert r.status_code == 401
    assert r.headers["www-authenticate"].startswith("Bearer")
    r = httpx.post(
        pier.url, json=INITIALIZE, trust_env=False,
        headers={**ACCEPT, "authorization": f"Bearer {TOKEN}", "origin": "https://evil.example"},
    )
    assert r.status_code == 403
    assert "allowed_origins" in r.text
    # The SDK's client surfaces the refusal (a 401 somewhere in what it raises) instead of hanging;
    # a timeout would fail here rather than pass as "an exception".
    with pytest.raises(BaseException) as refused:
        asyncio.run(asyncio.wait_for(_echo(pier.url, {}), timeout=30))
    assert not isinstance(refused.value, (TimeoutError, asyncio.TimeoutError)), refused.value
    assert "401" in _all_messages(refused.value), _all_messages(refused.value)
    # And pier keeps serving.
    assert httpx.get(f"{pier.base}/healthz", trust_env=False).status_code == 200

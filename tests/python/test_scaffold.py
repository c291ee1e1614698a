"""`pier new --lang rust|python|js`: each project builds and passes its own tests with the
commands pier prints (the README's), and the component it builds serves its tools in the real
pier through the official Python MCP SDK client. The SDK comes from this checkout, found by pier
itself (the tree it was built from)."""

import asyncio
import os
import pathlib
import subprocess

import pytest
from mcp import ClientSession
from mcp.client.stdio import stdio_client

from conftest import _env_path

ROOT = pathlib.Path(__file__).resolve().parents[2]

# The component each language's build leaves, relative to the project (Rust's is in the shared
# target folder below), and the name of the adding-up tool.
LANGUAGES = {
    "rust": dict(name="hello-rs", wasm=None, sum="sum"),
    "python": dict(name="hello-py", wasm="hello-py.wasm", sum="sum_numbers"),
    "js": dict(name="hello-js", wasm="hello-js.wasm", sum="sum"),
}
# Rust projects share one target folder so the SDK's dependencies compile once per machine.
RUST_TARGET = ROOT / "target" / "pier" / "scaffold-target"


def pier(*args: str, cwd: pathlib.Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(_env_path("PIER_BIN")), *args], cwd=cwd, capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize("lang", sorted(LANGUAGES))
def test_a_new_project_builds_passes_and_serves(folder, lang):
    x = LANGUAGES[lang]
    name = x["name"]
    made = pier("new", "--lang", lang, name, cwd=folder.tmp)
    assert made.returncode == 0, made.stderr
    assert f"the SDK comes from {ROOT / 'sdk'}" in made.stdout, made.stdout
    project = folder.tmp / name
    assert (project / f"{name}.toml").is_file()
    (next_line,) = [line for line in made.stdout.splitlines() if line.startswith("next: ")]
    command = next_line.removeprefix("next: ")

    env = {**os.environ, "CARGO_TARGET_DIR": str(RUST_TARGET)}
    env.pop("VIRTUAL_ENV", None)
    built = subprocess.run(
        ["bash", "-c", command], cwd=folder.tmp, env=env, capture_output=True, text=True, timeout=1200
    )
    output = built.stdout + built.stderr
    assert built.returncode == 0, output[-4000:]
    # The project's own tests ran and passed.
    passed = {"rust": "test result: ok. 2 passed", "python": "4 passed", "js": "# pass 3"}[lang]
    assert passed in output, output[-4000:]

    wasm = RUST_TARGET / "wasm32-wasip2" / "release" / f"{name.replace('-', '_')}.wasm" if x["wasm"] is None else project / x["wasm"]
    (folder.plugins / f"{name}.wasm").write_bytes(wasm.read_bytes())
    (folder.plugins / f"{name}.toml").write_text((project / f"{name}.toml").read_text())

    async def main():
        async with stdio_client(folder.server()) as (read, write):
            async with ClientSession(read, write) as session:
                await session.initialize()
                tools = {t.name: t for t in (await session.list_tools()).tools}
                assert set(tools) == {f"{name}_greet", f"{name}_{x['sum']}"}, set(tools)
                greet = await session.call_tool(f"{name}_greet", {"name": "Ada"})
                # The greeting comes from the manifest's [config].
                assert greet.content[0].text.startswith("Hello, Ada!"), greet
                total = await session.call_tool(f"{name}_{x['sum']}", {"numbers": [1.5, 2.5]})
                assert not total.isError, total
                assert total.structuredContent == {"count": 2, "total": 4}
                refused = await session.call_tool(f"{name}_{x['sum']}", {"numbers": []})
                assert refused.isError
                assert "give at least one number" in refused.content[0].text

    asyncio.run(main())


def test_bad_requests_are_refused_with_what_to_do(folder):
    lang = pier("new", "--lang", "cobol", "demo", cwd=folder.tmp)
    assert lang.returncode != 0
    assert "unknown language \"cobol\": use rust, python or js" in lang.stderr
    name = pier("new", "9lives", cwd=folder.tmp)
    assert name.returncode != 0 and "start with a letter" in name.stderr
    (folder.tmp / "taken").mkdir()
    (folder.tmp / "taken" / "keep.txt").write_text("mine")
    taken = pier("new", "demo", "--dir", "taken", cwd=folder.tmp)
    assert taken.returncode != 0 and "is not empty" in taken.stderr
    assert [p.name for p in (folder.tmp / "taken").iterdir()] == ["keep.txt"]
    sdk = pier("new", "demo", "--sdk", str(folder.tmp), cwd=folder.tmp)
    assert sdk.returncode != 0 and "holds no pier SDK" in sdk.stderr
    assert not (folder.tmp / "demo").exists()

"""Fixtures for driving the real pier binary with the official Python MCP SDK."""

import os
import pathlib
import shutil

import pytest


def _env_path(var: str) -> pathlib.Path:
    value = os.environ.get(var)
    if not value:
        pytest.fail(f"{var} is not set: run the tests with `cargo xtask test`")
    return pathlib.Path(value)


class Folder:
    """A temporary plugin folder, compile cache and granted directories."""

    def __init__(self, tmp: pathlib.Path):
        self.tmp = tmp
        self.plugins = tmp / "plugins"
        self.plugins.mkdir()
        self.cache = tmp / "cache"

    def dir(self, rel: str) -> pathlib.Path:
        p = self.tmp / rel
        p.mkdir(parents=True, exist_ok=True)
        return p.resolve()

    def install(self, staged: str, name: str, manifest: str | None = None) -> None:
        shutil.copy(_env_path("PIER_TEST_PLUGINS") / f"{staged}.wasm", self.plugins / f"{name}.wasm")
        if manifest is not None:
            (self.plugins / f"{name}.toml").write_text(manifest)

    def server(self, *extra: str, log: str = "warn"):
        from mcp import StdioServerParameters

        return StdioServerParameters(
            command=str(_env_path("PIER_BIN")),
            args=["serve", "--plugins", str(self.plugins), "--cache-dir", str(self.cache), *extra],
            env={"RUST_LOG": log, "PATH": os.environ.get("PATH", "")},
        )


@pytest.fixture
def folder(tmp_path: pathlib.Path) -> Folder:
    return Folder(tmp_path)


class HttpPier:
    """`pier serve --http 127.0.0.1:0` as a child process; `url` is its /mcp endpoint."""

    def __init__(self, folder: Folder, *extra: str, env: dict[str, str] | None = None):
        import subprocess

        self.log = folder.tmp / "stderr.log"
        self.proc = subprocess.Popen(
            [
                str(_env_path("PIER_BIN")), "serve", "--plugins", str(folder.plugins),
                "--cache-dir", str(folder.cache), "--http", "127.0.0.1:0", *extra,
            ],
            stdout=subprocess.PIPE,
            stderr=self.log.open("w"),
            env={"RUST_LOG": "info", "PATH": os.environ.get("PATH", ""), **(env or {})},
        )
        line = self.proc.stdout.readline().decode().strip()
        if not line.startswith("listening on "):
            self.close()
            pytest.fail(f"pier did not start: {line!r}\n{self.log.read_text()}")
        self.url = line.removeprefix("listening on ")
        self.base = self.url.removesuffix("/mcp")

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except Exception:
            self.proc.kill()

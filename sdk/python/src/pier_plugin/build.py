"""`pier-py build APP -o APP.wasm`: a plugin module to a component, with the WIT this package
bundles, so an author needs neither a copy of pier's `wit/` nor the export classes.

It writes a small entry module that imports APP, finds its `Plugin` and exports the contract's
interfaces from it, then runs componentize-py on that entry with the `full-plugin` world (the
SDK answers for the interfaces a plugin does not use: no prompts, no resources, no completions).
"""

from __future__ import annotations

import argparse
import importlib.resources
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile

ENTRY = "pier_plugin_entry"

_ENTRY_SOURCE = '''"""Written by `pier-py build`: the component's exports, from {app}'s Plugin."""
import {app} as _app
from pier_plugin._entry import exports_of

Tools, Resources, Prompts, Completions = exports_of(_app, {app!r})
'''


# componentize-py has a console script but no `python -m` entry; run the script's function with
# this interpreter, so the venv's site-packages (where pier_plugin lives) are on its path.
_RUN_COMPONENTIZE_PY = (
    "import sys; from componentize_py import script; sys.argv[0] = 'componentize-py'; sys.exit(script())"
)


def wit_dir() -> pathlib.Path:
    """The WIT contract this SDK was written against (a copy of pier's `wit/`)."""
    return pathlib.Path(str(importlib.resources.files("pier_plugin") / "wit"))


def _app(spec: str) -> tuple[str, pathlib.Path]:
    """(module name, its folder) from `app`, `app.py` or `path/to/app.py`."""
    path = pathlib.Path(spec)
    if path.suffix == ".py":
        if not path.is_file():
            raise SystemExit(f"pier-py: {spec}: no such file")
        return path.stem, path.resolve().parent
    if "/" in spec or os.sep in spec:
        raise SystemExit(f"pier-py: {spec}: give a module name (app) or a .py file (src/app.py)")
    return spec, pathlib.Path.cwd()


def _env() -> dict[str, str]:
    """componentize-py searches a venv's site-packages (where pier_plugin and the plugin's own
    dependencies are installed) when VIRTUAL_ENV names it; a venv's python run without
    `activate` has no VIRTUAL_ENV, so set it."""
    env = dict(os.environ)
    if sys.prefix != sys.base_prefix:
        env.setdefault("VIRTUAL_ENV", sys.prefix)
    return env


def _seal(output: pathlib.Path) -> None:
    """Writes the component's listing into it with `pier seal` ($PIER_BIN, else `pier` on the
    PATH), so pier lists its tools at once on a first start instead of after its compile. The
    lists are fixed when the component is built (the module ran at build time), so the listing
    stays true; pier checks it against the code anyway."""
    pier = os.environ.get("PIER_BIN") or shutil.which("pier")
    if not pier:
        print(
            f"tip: `pier seal {output}` lets pier list its tools before compiling it (seconds sooner on a first start)",
            file=sys.stderr,
        )
        return
    done = subprocess.run([pier, "seal", str(output)])
    if done.returncode != 0:
        raise SystemExit(f"pier-py: `{pier} seal {output}` failed (the component is built; --no-seal skips this)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="pier-py", description="Build a pier plugin written in Python.")
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="build APP into a WebAssembly component")
    b.add_argument("app", help="the plugin's module: a name on the path (app) or a file (src/app.py)")
    b.add_argument("-o", "--output", help="the component to write (default: APP.wasm)")
    b.add_argument("-p", "--python-path", action="append", default=[], help="another folder to search for modules")
    b.add_argument(
        "--stub-wasi",
        action="store_true",
        help="import no WASI at all (no files, sockets, clocks or stdio; tracebacks still reach "
        "pier's log through the host)",
    )
    b.add_argument(
        "--no-seal",
        action="store_true",
        help="do not run `pier seal` on the component (it is run when pier is found: $PIER_BIN or the PATH)",
    )
    sub.add_parser("wit", help="print the folder of the bundled WIT")
    args = parser.parse_args(argv)
    if args.command == "wit":
        print(wit_dir())
        return 0
    module, folder = _app(args.app)
    if module == ENTRY or module in ("wit_world", "pier_plugin"):
        raise SystemExit(f"pier-py: the module may not be called {module!r}")
    output = pathlib.Path(args.output or f"{module}.wasm").resolve()
    with tempfile.TemporaryDirectory(prefix="pier-py-") as tmp:
        pathlib.Path(tmp, f"{ENTRY}.py").write_text(_ENTRY_SOURCE.format(app=module))
        cmd = [
            sys.executable, "-c", _RUN_COMPONENTIZE_PY,
            "-d", str(wit_dir()), "-w", "full-plugin",
            "componentize", ENTRY,
            "-p", tmp, "-p", str(folder),
            *[x for p in args.python_path for x in ("-p", str(pathlib.Path(p).resolve()))],
            "-o", str(output),
        ]
        if args.stub_wasi:
            cmd.append("--stub-wasi")
        print("+ " + " ".join(cmd), file=sys.stderr)
        done = subprocess.run(cmd, env=_env())
    if done.returncode != 0:
        return done.returncode
    print(f"wrote {output} ({output.stat().st_size / 1e6:.1f} MB)", file=sys.stderr)
    if not args.no_seal:
        _seal(output)
    return 0


if __name__ == "__main__":
    sys.exit(main())

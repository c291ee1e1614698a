//! `pier new`: a plugin project that builds and passes its tests as it is, in Rust, Python or
//! JavaScript.
//!
//! The templates live in `host/scaffold/` and are compiled into the binary, so a pier installed
//! anywhere can write them. Each project has two tools (one with structured output and a refusal
//! of bad input), unit tests that run the tools outside the sandbox, a manifest that grants
//! nothing, and a README with the build and install commands.
//!
//! The SDKs are not published to crates.io, PyPI or npm yet, so a project depends on them by
//! path: `--sdk`, else `$PIER_SDK`, else the source tree this pier was built from when it is
//! still there. Without one the project names the published package, and the caller is told it
//! will not resolve until the SDKs are published.

use std::path::{Path, PathBuf};

/// The languages a project can be written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Language {
    Rust,
    Python,
    JavaScript,
}

impl Language {
    /// `rust`, `python` (or `py`), `js` (or `javascript`).
    pub fn parse(text: &str) -> Result<Language, ScaffoldError> {
        match text.to_ascii_lowercase().as_str() {
            "rust" | "rs" => Ok(Language::Rust),
            "python" | "py" => Ok(Language::Python),
            "js" | "javascript" | "node" => Ok(Language::JavaScript),
            _ => Err(ScaffoldError::Language(text.to_string())),
        }
    }

    fn label(self) -> &'static str {
        match self {
            Language::Rust => "Rust",
            Language::Python => "Python",
            Language::JavaScript => "JavaScript",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ScaffoldError {
    #[error("unknown language {0:?}: use rust, python or js")]
    Language(String),
    #[error(
        "{0:?} cannot name a plugin: start with a letter, then up to 31 ASCII letters, digits, `-` or `_` (it prefixes the tool names)"
    )]
    Name(String),
    #[error(
        "{0} already exists and is not empty: choose another NAME or --dir (nothing was written)"
    )]
    NotEmpty(PathBuf),
    #[error(
        "{0} holds no pier SDK (sdk/rust, sdk/python and sdk/js): give --sdk the root of a pier source checkout"
    )]
    NoSdk(PathBuf),
    #[error("cannot write {path}: {reason}")]
    Write { path: PathBuf, reason: String },
}

/// Where a project's SDK dependency points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SdkSource {
    /// The root of a pier source tree (holding `sdk/`).
    Checkout(PathBuf),
    /// The published packages (`pier-sdk`, `pier-plugin`), by version.
    Published,
}

impl SdkSource {
    /// `explicit` (`--sdk`), else `$PIER_SDK`, else the tree this binary was built from if it is
    /// still on disk, else the published packages.
    pub fn find(explicit: Option<&Path>) -> Result<SdkSource, ScaffoldError> {
        let given = explicit
            .map(Path::to_path_buf)
            .or_else(|| std::env::var_os("PIER_SDK").map(PathBuf::from));
        if let Some(root) = given {
            let root = std::path::absolute(&root).unwrap_or(root);
            return if holds_sdks(&root) {
                Ok(SdkSource::Checkout(root))
            } else {
                Err(ScaffoldError::NoSdk(root))
            };
        }
        let built_from = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        match std::fs::canonicalize(&built_from) {
            Ok(root) if holds_sdks(&root) => Ok(SdkSource::Checkout(root)),
            _ => Ok(SdkSource::Published),
        }
    }
}

fn holds_sdks(root: &Path) -> bool {
    [
        "sdk/rust/Cargo.toml",
        "sdk/python/pyproject.toml",
        "sdk/js/package.json",
    ]
    .iter()
    .all(|f| root.join(f).is_file())
}

/// What `create` wrote.
#[derive(Debug)]
pub struct Created {
    pub dir: PathBuf,
    pub files: Vec<PathBuf>,
    /// The commands that build and test the project, run in `dir`.
    pub next: String,
}

struct Template {
    /// Path in the project; `{name}` is replaced by the plugin name.
    path: &'static str,
    text: &'static str,
}

const MANIFEST: &str = include_str!("../scaffold/manifest.toml");

const RUST: &[Template] = &[
    Template {
        path: "Cargo.toml",
        text: include_str!("../scaffold/rust/Cargo.toml"),
    },
    Template {
        path: "src/lib.rs",
        text: include_str!("../scaffold/rust/src/lib.rs"),
    },
    Template {
        path: "README.md",
        text: include_str!("../scaffold/rust/README.md"),
    },
    Template {
        path: ".gitignore",
        text: include_str!("../scaffold/rust/gitignore"),
    },
];

const PYTHON: &[Template] = &[
    Template {
        path: "app.py",
        text: include_str!("../scaffold/python/app.py"),
    },
    Template {
        path: "test_app.py",
        text: include_str!("../scaffold/python/test_app.py"),
    },
    Template {
        path: "requirements.txt",
        text: include_str!("../scaffold/python/requirements.txt"),
    },
    Template {
        path: "README.md",
        text: include_str!("../scaffold/python/README.md"),
    },
    Template {
        path: ".gitignore",
        text: include_str!("../scaffold/python/gitignore"),
    },
];

const JAVASCRIPT: &[Template] = &[
    Template {
        path: "app.js",
        text: include_str!("../scaffold/js/app.js"),
    },
    Template {
        path: "tools.js",
        text: include_str!("../scaffold/js/tools.js"),
    },
    Template {
        path: "test/tools.test.js",
        text: include_str!("../scaffold/js/test/tools.test.js"),
    },
    Template {
        path: "package.json",
        text: include_str!("../scaffold/js/package.json"),
    },
    Template {
        path: "README.md",
        text: include_str!("../scaffold/js/README.md"),
    },
    Template {
        path: ".gitignore",
        text: include_str!("../scaffold/js/gitignore"),
    },
];

/// The plugin name rules of manifests, plus a leading letter (a crate or package name may not
/// start with a digit or `-`).
pub fn check_name(name: &str) -> Result<(), ScaffoldError> {
    let starts_with_letter = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic());
    if !starts_with_letter || crate::plugin::manifest::validate_plugin_name(name).is_err() {
        return Err(ScaffoldError::Name(name.to_string()));
    }
    Ok(())
}

/// Writes a new `lang` project for the plugin `name` into `dir`, which must not exist or be
/// empty. Nothing is written when a check fails.
pub fn create(
    lang: Language,
    name: &str,
    dir: &Path,
    sdk: &SdkSource,
) -> Result<Created, ScaffoldError> {
    check_name(name)?;
    let occupied = std::fs::read_dir(dir).is_ok_and(|mut d| d.next().is_some());
    if occupied || dir.is_file() {
        return Err(ScaffoldError::NotEmpty(dir.to_path_buf()));
    }
    let (templates, next) = match lang {
        Language::Rust => (
            RUST,
            "cargo test --lib && cargo build --release --target wasm32-wasip2",
        ),
        Language::Python => (
            PYTHON,
            "python3 -m venv .venv && .venv/bin/pip install -r requirements.txt && .venv/bin/python -m pytest && .venv/bin/pier-py build app.py -o NAME.wasm",
        ),
        Language::JavaScript => (JAVASCRIPT, "npm install && npm test && npm run build"),
    };
    let values = Values::new(lang, name, sdk);
    let mut files = Vec::new();
    let manifest = Template {
        path: "{name}.toml",
        text: MANIFEST,
    };
    for t in templates.iter().chain(std::iter::once(&manifest)) {
        let path = dir.join(t.path.replace("{name}", name));
        write(&path, &values.fill(t.text))?;
        files.push(path);
    }
    Ok(Created {
        dir: dir.to_path_buf(),
        files,
        next: next.replace("NAME", name),
    })
}

fn write(path: &Path, text: &str) -> Result<(), ScaffoldError> {
    let failed = |e: std::io::Error| ScaffoldError::Write {
        path: path.to_path_buf(),
        reason: e.to_string(),
    };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(failed)?;
    }
    std::fs::write(path, text).map_err(failed)
}

/// The `{{key}}` values of the templates.
struct Values {
    pairs: Vec<(&'static str, String)>,
}

impl Values {
    fn new(lang: Language, name: &str, sdk: &SdkSource) -> Values {
        let version = env!("CARGO_PKG_VERSION");
        let (rust_sdk, python_sdk, js_sdk) = match sdk {
            SdkSource::Checkout(root) => {
                let rust = root.join("sdk/rust");
                let python = root.join("sdk/python");
                let js = root.join("sdk/js");
                (
                    format!("{{ path = {:?} }}", rust.display().to_string()),
                    format!("pier-plugin @ file://{}", python.display()),
                    format!("file:{}", js.display()),
                )
            }
            SdkSource::Published => (
                format!("\"{version}\""),
                format!("pier-plugin=={version}"),
                format!("^{version}"),
            ),
        };
        let memory = match lang {
            // The interpreters need room; a Rust plugin far less.
            Language::Rust => "64MiB",
            Language::Python | Language::JavaScript => "256MiB",
        };
        Values {
            pairs: vec![
                ("name", name.to_string()),
                ("crate_file", name.replace('-', "_")),
                ("type_name", type_name(name)),
                ("language", lang.label().to_string()),
                ("memory", memory.to_string()),
                ("rust_sdk", rust_sdk),
                ("python_sdk", python_sdk),
                ("js_sdk", js_sdk),
            ],
        }
    }

    fn fill(&self, template: &str) -> String {
        let mut out = template.to_string();
        for (key, value) in &self.pairs {
            out = out.replace(&format!("{{{{{key}}}}}"), value);
        }
        out
    }
}

/// `my-tool` → `MyTool`: the plugin's state type in Rust.
fn type_name(name: &str) -> String {
    name.split(['-', '_'])
        .filter(|part| !part.is_empty())
        .map(|part| {
            let mut chars = part.chars();
            match chars.next() {
                Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
                None => String::new(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all_templates() -> impl Iterator<Item = &'static str> {
        RUST.iter()
            .chain(PYTHON)
            .chain(JAVASCRIPT)
            .map(|t| t.text)
            .chain(std::iter::once(MANIFEST))
    }

    #[test]
    fn every_placeholder_has_a_value() {
        let values = Values::new(Language::Rust, "demo", &SdkSource::Published);
        for text in all_templates() {
            let filled = values.fill(text);
            assert!(!filled.contains("{{"), "unfilled placeholder in:\n{filled}");
        }
    }

    #[test]
    fn names_become_types_and_files() {
        assert_eq!(type_name("my-tool"), "MyTool");
        assert_eq!(type_name("notes_v2"), "NotesV2");
        for bad in ["", "9lives", "-x", "a b", "ä", &"x".repeat(33)] {
            assert!(check_name(bad).is_err(), "{bad:?} accepted");
        }
        assert!(check_name("my-tool").is_ok());
    }

    #[test]
    fn refuses_a_folder_that_holds_something() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("keep.txt"), "mine").expect("write");
        let err = create(Language::Python, "demo", dir.path(), &SdkSource::Published)
            .expect_err("refused");
        assert!(matches!(err, ScaffoldError::NotEmpty(_)));
        assert_eq!(std::fs::read_dir(dir.path()).expect("read").count(), 1);
    }

    #[test]
    fn writes_each_language_with_the_sdk_it_was_given() {
        let root = tempfile::tempdir().expect("tempdir");
        let checkout = SdkSource::Checkout(PathBuf::from("/src/pier"));
        for (lang, file, dependency) in [
            (
                Language::Rust,
                "Cargo.toml",
                "path = \"/src/pier/sdk/rust\"",
            ),
            (
                Language::Python,
                "requirements.txt",
                "pier-plugin @ file:///src/pier/sdk/python",
            ),
            (
                Language::JavaScript,
                "package.json",
                "file:/src/pier/sdk/js",
            ),
        ] {
            let dir = root.path().join(lang.label());
            let created = create(lang, "demo", &dir, &checkout).expect("created");
            assert!(created.files.contains(&dir.join("demo.toml")));
            let text = std::fs::read_to_string(dir.join(file)).expect("read");
            assert!(text.contains(dependency), "{file}:\n{text}");
        }
    }
}

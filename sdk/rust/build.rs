//! Writes the macro that generates a plugin's export bindings (see `export_plugin!`).
//!
//! A component's exports are fixed by the WIT world its bindings come from, and wit-component
//! joins every world linked into a binary. So the SDK's own bindings cover only the imports, and
//! each plugin crate generates the exports it implements, for a world that has just those. The
//! bindings macro reads WIT relative to the crate that invokes it, which for a plugin is not the
//! SDK; so the contract's text is written into the macro here, with one world per combination of
//! optional exports.

use std::fmt::Write as _;
use std::path::PathBuf;

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let wit_path = manifest.join("../../wit/pier.wit");
    println!("cargo:rerun-if-changed={}", wit_path.display());
    let wit = std::fs::read_to_string(&wit_path).expect("read wit/pier.wit");
    assert!(!wit.contains("\"#"), "pier.wit must not contain \"#");

    let optional = ["resources", "prompts", "completions", "about"];
    let mut worlds = String::new();
    let mut arms = String::new();
    for mask in 0u8..16 {
        let chosen: Vec<&str> = optional
            .iter()
            .enumerate()
            .filter(|(i, _)| mask & (1 << i) != 0)
            .map(|(_, n)| *n)
            .collect();
        let name = if chosen.is_empty() {
            "sdk-tools".to_string()
        } else {
            format!("sdk-tools-{}", chosen.join("-"))
        };
        let _ = writeln!(worlds, "world {name} {{\n    include plugin;");
        for c in &chosen {
            let _ = writeln!(worlds, "    export {c};");
        }
        worlds.push_str("}\n");
        let _ = writeln!(
            arms,
            "    ([{}]) => {{ $crate::__pier_world_bindings!(\"{name}\"); }};",
            chosen.join(" ")
        );
    }
    let text = format!(
        r####"/// Generates the export bindings of one plugin for the world with exactly the listed
/// optional exports (in the order resources, prompts, completions, about). Used by `export_plugin!`.
#[doc(hidden)]
#[macro_export]
macro_rules! __pier_select_world {{
{arms}    ([$($other:tt)*]) => {{
        compile_error!("export_plugin!: list the optional exports after the plugin type, each once, in the order resources, prompts, completions, about");
    }};
}}

#[doc(hidden)]
#[macro_export]
macro_rules! __pier_world_bindings {{
    ($world:tt) => {{
        $crate::__wit_bindgen::generate!({{
            inline: r#"{wit}
{worlds}"#,
            world: $world,
            runtime_path: "pier_sdk::__wit_bindgen::rt",
            with: {{
                "pier:mcp/types@0.1.0": pier_sdk::bindings::pier::mcp::types,
                "pier:mcp/host@0.1.0": pier_sdk::bindings::pier::mcp::host,
            }},
        }});
    }};
}}
"####
    );
    let out =
        PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets it")).join("world_macros.rs");
    std::fs::write(out, text).expect("write world_macros.rs");
}

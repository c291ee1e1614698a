//! What a loaded plugin offers, under the names clients see: its tools and prompts prefixed with
//! the plugin's name, its resource templates, and which optional interfaces it exports.
//!
//! Built once at load from the plugin's own lists, applying the naming rules (exposed names must
//! pass the strictest validator clients use), the manifest's `[tools]` filter, and the checks
//! that make a definition usable. Everything skipped is kept as a problem, so `pier plugins`
//! can say why a tool is missing. Pure data: tested without wasm.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::manifest::Manifest;
use crate::policy::ToolGlobs;
use crate::runtime::CacheOutcome;
use crate::runtime::bindings::pier::mcp::types::{
    Icon, PluginInfo, Prompt as WitPrompt, ResourceTemplate, TaskSupport, Tool as WitTool,
};

/// The longest `instructions` a plugin may give (it goes into every client's context).
const MAX_INSTRUCTIONS: usize = 4096;
/// At most this many icons per item, and this long a `data:` URI.
const MAX_ICONS: usize = 8;
const MAX_ICON_SRC: usize = 64 * 1024;

/// A JSON Schema object, parsed once at load.
pub(crate) type Schema = Arc<serde_json::Map<String, serde_json::Value>>;

/// The optional interfaces a plugin's component exports (every plugin exports tools).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Offers {
    pub resources: bool,
    pub prompts: bool,
    pub completions: bool,
    pub about: bool,
}

/// A tool under its exposed name.
#[derive(Debug, Clone)]
pub(crate) struct ExposedTool {
    /// `<plugin>_<tool>`.
    pub exposed: String,
    /// The plugin's own name for it, used when calling.
    pub local: String,
    pub definition: WitTool,
    pub input_schema: Schema,
    pub output_schema: Option<Schema>,
}

/// A prompt under its exposed name.
#[derive(Debug, Clone)]
pub(crate) struct ExposedPrompt {
    pub exposed: String,
    pub local: String,
    pub definition: WitPrompt,
}

#[derive(Debug, Clone)]
pub(crate) struct Description {
    pub name: String,
    pub manifest: Manifest,
    pub digest: String,
    pub cache: CacheOutcome,
    pub offers: Offers,
    /// Tools the manifest allows, with exposed names.
    pub tools: Vec<ExposedTool>,
    /// Tools hidden by `[tools]` (the plugin's own names).
    pub denied_tools: Vec<String>,
    /// Tools and prompts skipped because their definition is unusable, with the reason.
    pub problems: Vec<String>,
    pub templates: Vec<ResourceTemplate>,
    pub prompts: Vec<ExposedPrompt>,
    /// What the plugin says about using it (`about`), for the server's `instructions`.
    pub instructions: Option<String>,
    /// Icons by the plugin's own name of a tool, prompt, resource or template.
    pub icons: BTreeMap<String, Vec<Icon>>,
    /// Its own tools whose calls the user confirms first: the manifest's `[tools] confirm`,
    /// else the plugin's own list.
    pub confirm: ToolGlobs,
    /// Tools (own names) that may or must run as tasks; the others never do.
    pub tasks: BTreeMap<String, TaskSupport>,
}

impl AsRef<Description> for Description {
    fn as_ref(&self) -> &Description {
        self
    }
}

/// Exposed names (`<plugin>_<tool>`) must pass the strictest validator clients use.
pub(crate) fn valid_exposed_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

fn schema(text: &str, what: &str) -> Result<Schema, String> {
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(serde_json::Value::Object(map)) => Ok(Arc::new(map)),
        Ok(_) => Err(format!("{what} is not a JSON object")),
        Err(e) => Err(format!("{what} is not valid JSON: {e}")),
    }
}

impl Description {
    /// A description with nothing offered yet; [`Description::add_tools`] and friends fill it.
    pub fn new(
        name: String,
        manifest: Manifest,
        digest: String,
        cache: CacheOutcome,
        offers: Offers,
    ) -> Self {
        // Without `about` (or before it answers) the manifest's list is the whole list.
        let confirm = manifest.confirm.clone().unwrap_or_default();
        Description {
            name,
            manifest,
            digest,
            cache,
            offers,
            tools: Vec::new(),
            denied_tools: Vec::new(),
            problems: Vec::new(),
            templates: Vec::new(),
            prompts: Vec::new(),
            instructions: None,
            icons: BTreeMap::new(),
            confirm,
            tasks: BTreeMap::new(),
        }
    }

    /// Takes the plugin's `about` answer. Instructions are cut to a sane length, icons that are
    /// neither `https:` nor `data:` are dropped (a client would fetch any other URL), and the
    /// confirm list gives way to the manifest's.
    pub fn set_about(&mut self, info: PluginInfo) {
        self.instructions = info
            .instructions
            .map(|text| {
                let text = text.trim();
                match text.char_indices().nth(MAX_INSTRUCTIONS) {
                    Some((cut, _)) => {
                        self.problems
                            .push(format!("instructions cut to {MAX_INSTRUCTIONS} characters"));
                        text[..cut].to_string()
                    }
                    None => text.to_string(),
                }
            })
            .filter(|t| !t.is_empty());
        for (name, icons) in info.icons {
            let mut kept = Vec::new();
            for icon in icons {
                let scheme_ok = icon.src.starts_with("https://") || icon.src.starts_with("data:");
                if !scheme_ok || icon.src.len() > MAX_ICON_SRC || kept.len() == MAX_ICONS {
                    self.problems.push(format!(
                        "an icon of {name:?} was dropped: give an https: URL or a data: URI of at most {} KiB, at most {MAX_ICONS} per item",
                        MAX_ICON_SRC / 1024
                    ));
                    continue;
                }
                kept.push(icon);
            }
            if !kept.is_empty() {
                self.icons.insert(name, kept);
            }
        }
        self.tasks = info.tasks.into_iter().collect();
        self.confirm = match &self.manifest.confirm {
            Some(from_manifest) => from_manifest.clone(),
            None => ToolGlobs::new("confirm", &info.confirm).unwrap_or_else(|e| {
                self.problems
                    .push(format!("the plugin's confirm list is unusable: {e}"));
                ToolGlobs::default()
            }),
        };
    }

    /// Whether a call of the plugin's own tool `local` may or must run as a task.
    pub fn task_support(&self, local: &str) -> TaskSupport {
        self.tasks
            .get(local)
            .copied()
            .unwrap_or(TaskSupport::Forbidden)
    }

    /// Whether a call of the plugin's own tool `local` waits for the user's confirmation.
    pub fn confirms(&self, local: &str) -> bool {
        self.confirm.matches(local)
    }

    /// Takes the plugin's `list-tools` answer: each tool is exposed, hidden by `[tools]`, or
    /// skipped with a problem (bad name, listed twice, schema that is not a JSON object).
    pub fn add_tools(&mut self, tools: Vec<WitTool>) {
        for tool in tools {
            let exposed = self.exposed(&tool.name);
            if !valid_exposed_name(&exposed) {
                self.problems.push(format!(
                    "tool {:?} skipped: `{exposed}` does not match ^[a-zA-Z0-9_-]{{1,64}}$",
                    tool.name
                ));
                continue;
            }
            if !self.manifest.tools.permits(&tool.name) {
                self.denied_tools.push(tool.name.clone());
                continue;
            }
            if self.tools.iter().any(|t| t.exposed == exposed) {
                self.problems
                    .push(format!("tool {:?} skipped: listed twice", tool.name));
                continue;
            }
            let schemas = schema(&tool.input_schema, "input-schema").and_then(|input| {
                let output = match &tool.output_schema {
                    Some(text) => {
                        let mut output = schema(text, "output-schema")?;
                        super::schema_dialect::declare_draft_07(Arc::make_mut(&mut output));
                        Some(output)
                    }
                    None => None,
                };
                Ok((input, output))
            });
            match schemas {
                Ok((input_schema, output_schema)) => self.tools.push(ExposedTool {
                    exposed,
                    local: tool.name.clone(),
                    definition: tool,
                    input_schema,
                    output_schema,
                }),
                Err(reason) => self
                    .problems
                    .push(format!("tool {:?} skipped: {reason}", tool.name)),
            }
        }
    }

    /// Takes the plugin's `list-prompts` answer; prompts with unusable names are skipped.
    pub fn add_prompts(&mut self, prompts: Vec<WitPrompt>) {
        for prompt in prompts {
            let exposed = self.exposed(&prompt.name);
            if valid_exposed_name(&exposed) {
                self.prompts.push(ExposedPrompt {
                    exposed,
                    local: prompt.name.clone(),
                    definition: prompt,
                });
            } else {
                self.problems
                    .push(format!("prompt {:?} skipped: bad name", prompt.name));
            }
        }
    }

    /// The name clients see for the plugin's own tool or prompt `local`: `<prefix>_<local>`, the
    /// prefix being the plugin's name unless `[plugin].prefix` says otherwise (`""`: none).
    pub fn exposed(&self, local: &str) -> String {
        match self.manifest.prefix.as_deref() {
            Some("") => local.to_string(),
            Some(prefix) => format!("{prefix}_{local}"),
            None => format!("{}_{local}", self.name),
        }
    }

    /// Whether a template of this plugin has exactly this URI template.
    pub fn has_template(&self, uri_template: &str) -> bool {
        self.templates
            .iter()
            .any(|t| t.uri_template == uri_template)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::runtime::bindings::pier::mcp::types::Annotations;

    pub fn tool(name: &str) -> WitTool {
        WitTool {
            name: name.to_string(),
            title: None,
            description: format!("{name} does things"),
            input_schema: r#"{"type":"object"}"#.to_string(),
            output_schema: None,
            annotations: Annotations {
                read_only: true,
                destructive: false,
                idempotent: true,
                open_world: false,
            },
        }
    }

    pub fn described(name: &str, manifest_text: &str, tools: &[&str]) -> Description {
        let path = std::path::PathBuf::from(format!("/plugins/{name}.toml"));
        let manifest = Manifest::parse(manifest_text, &path, std::path::Path::new("/plugins"))
            .expect("manifest");
        let mut d = Description::new(
            name.to_string(),
            manifest,
            "00".repeat(32),
            CacheOutcome::CompiledUncached,
            Offers::default(),
        );
        d.add_tools(tools.iter().map(|t| tool(t)).collect());
        d
    }

    #[test]
    fn tools_are_prefixed_with_the_plugin_name() {
        let d = described("pg", "", &["query", "list_tables"]);
        let names: Vec<_> = d.tools.iter().map(|t| t.exposed.as_str()).collect();
        assert_eq!(names, ["pg_query", "pg_list_tables"]);
        assert_eq!(d.tools[0].local, "query");
        assert!(d.problems.is_empty());
    }

    #[test]
    fn names_clients_would_reject_are_skipped_with_a_reason() {
        let long = "x".repeat(62);
        let d = described("pg", "", &["has space", &long, "ok"]);
        assert_eq!(d.tools.len(), 1);
        assert_eq!(d.problems.len(), 2, "{:?}", d.problems);
        assert!(d.problems[0].contains("\"has space\" skipped"));
        assert!(d.problems[1].contains("^[a-zA-Z0-9_-]{1,64}$"));
    }

    #[test]
    fn a_manifest_may_choose_the_prefix_or_none() {
        let d = described("github", "[plugin]\nprefix = \"gh\"\n", &["get_me"]);
        assert_eq!(d.tools[0].exposed, "gh_get_me");
        let d = described("github", "[plugin]\nprefix = \"\"\n", &["get_me"]);
        assert_eq!(d.tools[0].exposed, "get_me");
        assert_eq!(d.tools[0].local, "get_me");
    }

    #[test]
    fn a_tool_listed_twice_is_exposed_once() {
        let d = described("fs", "", &["read", "read"]);
        assert_eq!(d.tools.len(), 1);
        assert_eq!(d.problems, ["tool \"read\" skipped: listed twice"]);
    }

    #[test]
    fn the_tools_filter_hides_tools_and_remembers_them() {
        let d = described("fs", "[tools]\ndeny = [\"write\"]\n", &["read", "write"]);
        assert_eq!(d.tools.len(), 1);
        assert_eq!(d.denied_tools, ["write"]);
        assert!(d.problems.is_empty());
    }

    #[test]
    fn unusable_schemas_skip_the_tool() {
        let mut d = described("fs", "", &[]);
        let mut array = tool("a");
        array.input_schema = "[]".into();
        let mut broken = tool("b");
        broken.output_schema = Some("{".into());
        d.add_tools(vec![array, broken, tool("c")]);
        assert_eq!(d.tools.len(), 1);
        assert!(d.problems[0].contains("input-schema is not a JSON object"));
        assert!(d.problems[1].contains("output-schema is not valid JSON"));
    }

    #[test]
    fn prompts_follow_the_same_naming_rule() {
        let mut d = described("gh", "", &[]);
        let prompt = |name: &str| WitPrompt {
            name: name.to_string(),
            title: None,
            description: None,
            arguments: Vec::new(),
        };
        d.add_prompts(vec![prompt("review"), prompt("bad name")]);
        assert_eq!(d.prompts.len(), 1);
        assert_eq!(d.prompts[0].exposed, "gh_review");
        assert_eq!(d.problems, ["prompt \"bad name\" skipped: bad name"]);
    }
}

//! The set of plugins serving now, and the maps from exposed names back to them.
//!
//! Assembled from the registry's slots in folder order. A plugin that failed to load is reported
//! with its reason and skipped; the others serve. Name collisions (two plugins with one name, or
//! two exposed tools with one name) fail the later plugin with a message naming both. Generic
//! over what a slot holds, so the rules are tested on bare [`Description`]s, without wasm.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use super::description::Description;
use super::manifest::Manifest;
use super::report::{PluginReport, PluginStatus, describe_grants};

/// Where a plugin comes from.
pub enum PluginSource {
    /// `NAME.wasm` with an optional `NAME.toml` beside it.
    File(PathBuf),
    /// Bytes handed over by an embedding program, with the manifest to apply.
    Memory {
        name: String,
        wasm: Vec<u8>,
        manifest: Box<Manifest>,
    },
}

/// One plugin's place in the catalog, in folder order, before names are checked.
pub(crate) struct Slot<P> {
    pub name: String,
    pub file: Option<PathBuf>,
    pub state: SlotState<P>,
    /// Shown in reports, e.g. why an update was not applied.
    pub note: Option<String>,
}

pub(crate) enum SlotState<P> {
    Ready(Arc<P>),
    Compiling,
    Failed(String),
}

/// Where an exposed name leads: the plugin's index and its own name for the tool or prompt.
#[derive(Debug, Clone)]
struct Route {
    plugin: usize,
    name: String,
}

pub(crate) struct Catalog<P> {
    plugins: Vec<Arc<P>>,
    reports: Vec<PluginReport>,
    tools: HashMap<String, Route>,
    prompts: HashMap<String, Route>,
    /// Exposed names hidden by a manifest's `[tools]`, so a call can say why it is refused.
    denied: HashMap<String, PathBuf>,
}

/// The description behind a catalog entry.
fn described<P: AsRef<Description>>(p: &Arc<P>) -> &Description {
    (**p).as_ref()
}

impl<P: AsRef<Description>> Catalog<P> {
    /// Builds the name maps from slots in order; collisions fail the later plugin.
    pub fn assemble(slots: &[&Slot<P>]) -> Self {
        let mut catalog = Catalog {
            plugins: Vec::new(),
            reports: Vec::new(),
            tools: HashMap::new(),
            prompts: HashMap::new(),
            denied: HashMap::new(),
        };
        for slot in slots {
            match &slot.state {
                SlotState::Ready(plugin) => catalog.add(plugin.clone(), slot.file.clone()),
                SlotState::Failed(reason) => catalog.reports.push(PluginReport::unloaded(
                    slot.name.clone(),
                    slot.file.clone(),
                    PluginStatus::Failed(reason.clone()),
                )),
                SlotState::Compiling => catalog.reports.push(PluginReport::unloaded(
                    slot.name.clone(),
                    slot.file.clone(),
                    PluginStatus::Compiling,
                )),
            }
            if let (Some(note), Some(report)) = (&slot.note, catalog.reports.last_mut()) {
                report.notes.push(note.clone());
            }
        }
        catalog
    }

    fn add(&mut self, plugin: Arc<P>, file: Option<PathBuf>) {
        let d = described(&plugin);
        if let Some(reason) = self.collision(d) {
            let failed = PluginStatus::Failed(reason);
            self.reports
                .push(PluginReport::unloaded(d.name.clone(), file, failed));
            return;
        }
        let index = self.plugins.len();
        for t in &d.tools {
            let route = Route {
                plugin: index,
                name: t.local.clone(),
            };
            self.tools.insert(t.exposed.clone(), route);
        }
        for denied in &d.denied_tools {
            self.denied
                .insert(d.exposed(denied), d.manifest.path.clone());
        }
        for p in &d.prompts {
            self.prompts.entry(p.exposed.clone()).or_insert(Route {
                plugin: index,
                name: p.local.clone(),
            });
        }
        let mut notes = d.problems.clone();
        if !d.denied_tools.is_empty() {
            notes.push(format!("hidden by [tools]: {}", d.denied_tools.join(", ")));
        }
        self.reports.push(PluginReport {
            name: d.name.clone(),
            file,
            status: PluginStatus::Loaded,
            tools: d.tools.iter().map(|t| t.exposed.clone()).collect(),
            grants: describe_grants(&d.manifest),
            notes,
            cache: Some(d.cache),
            sha256: Some(d.digest.clone()),
            calls: 0,
            failures: 0,
            circuit: None,
        });
        self.plugins.push(plugin);
    }

    /// Why `d` cannot join: its name or one of its tools' exposed names is taken.
    fn collision(&self, d: &Description) -> Option<String> {
        if let Some(other) = self.plugins.iter().find(|p| described(p).name == d.name) {
            let other_file = self
                .reports
                .iter()
                .find(|r| r.name == described(other).name)
                .and_then(|r| r.file.clone());
            return Some(format!(
                "plugin name `{}` is already taken by {}; give one of them another [plugin].name",
                d.name,
                other_file.map_or_else(
                    || "an embedded plugin".to_string(),
                    |f| f.display().to_string()
                )
            ));
        }
        d.tools.iter().find_map(|t| {
            let route = self.tools.get(&t.exposed)?;
            let owner = self.plugins.get(route.plugin)?;
            Some(format!(
                "tool `{}` collides with the same name from plugin `{}`; rename one plugin with [plugin].name or deny the tool with [tools].deny",
                t.exposed,
                described(owner).name
            ))
        })
    }

    /// The plugins serving, in folder order.
    pub fn plugins(&self) -> &[Arc<P>] {
        &self.plugins
    }

    /// Every plugin's report, in folder order (counters as of assembly; see `reports_now`).
    pub fn reports(&self) -> &[PluginReport] {
        &self.reports
    }

    /// The plugin offering the exposed tool name, and the plugin's own name for it.
    pub fn tool(&self, exposed: &str) -> Option<(&Arc<P>, &str)> {
        let route = self.tools.get(exposed)?;
        Some((self.plugins.get(route.plugin)?, route.name.as_str()))
    }

    /// The plugin offering the exposed prompt name, and the plugin's own name for it.
    pub fn prompt(&self, exposed: &str) -> Option<(&Arc<P>, &str)> {
        let route = self.prompts.get(exposed)?;
        Some((self.plugins.get(route.plugin)?, route.name.as_str()))
    }

    /// The first plugin (in folder order) with this URI template.
    pub fn template_owner(&self, uri_template: &str) -> Option<&Arc<P>> {
        self.plugins
            .iter()
            .find(|p| described(p).has_template(uri_template))
    }

    /// Why a call to a tool that is not served fails, worded for the caller: hidden by a
    /// manifest's `[tools]` (and how to unhide it), or simply unknown.
    pub fn why_unknown(&self, exposed: &str) -> String {
        match self.denied.get(exposed) {
            Some(manifest) => format!(
                "tool `{exposed}` is disabled by [tools] in {}; remove it from deny (or add it to allow) to use it",
                manifest.display()
            ),
            None => format!("unknown tool `{exposed}`; tools/list shows the available tools"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugin::description::tests::described;

    fn ready(d: Description) -> Slot<Description> {
        Slot {
            name: d.name.clone(),
            file: Some(PathBuf::from(format!("/plugins/{}.wasm", d.name))),
            state: SlotState::Ready(Arc::new(d)),
            note: None,
        }
    }

    fn status(c: &Catalog<Description>, name: &str) -> PluginStatus {
        c.reports()
            .iter()
            .find(|r| r.name == name)
            .map(|r| r.status.clone())
            .expect("reported")
    }

    #[test]
    fn routes_lead_to_the_plugin_and_its_own_name() {
        let slots = [
            ready(described("pg", "", &["query"])),
            ready(described("fs", "", &["read"])),
        ];
        let c = Catalog::assemble(&slots.iter().collect::<Vec<_>>());
        let (plugin, local) = c.tool("fs_read").expect("routed");
        assert_eq!((plugin.name.as_str(), local), ("fs", "read"));
        assert!(c.tool("fs_query").is_none());
        assert_eq!(c.plugins().len(), 2);
    }

    #[test]
    fn a_second_plugin_with_a_taken_name_fails_and_names_the_first() {
        let mut second = ready(described("pg", "", &["other"]));
        second.file = Some(PathBuf::from("/plugins/pg2.wasm"));
        let slots = [ready(described("pg", "", &["query"])), second];
        let c = Catalog::assemble(&slots.iter().collect::<Vec<_>>());
        let PluginStatus::Failed(reason) = &c.reports()[1].status else {
            panic!("second should fail");
        };
        assert!(reason.contains("plugin name `pg` is already taken by /plugins/pg.wasm"));
        assert!(
            c.tool("pg_other").is_none(),
            "the failed plugin serves nothing"
        );
        assert!(matches!(c.reports()[0].status, PluginStatus::Loaded));
    }

    #[test]
    fn colliding_exposed_tool_names_fail_the_later_plugin() {
        // `a` + `b_c` and `a_b` + `c` both expose `a_b_c`.
        let slots = [
            ready(described("a", "", &["b_c"])),
            ready(described("a_b", "", &["c", "d"])),
        ];
        let c = Catalog::assemble(&slots.iter().collect::<Vec<_>>());
        let PluginStatus::Failed(reason) = status(&c, "a_b") else {
            panic!("a_b should fail");
        };
        assert!(
            reason.contains("tool `a_b_c` collides with the same name from plugin `a`"),
            "{reason}"
        );
        assert!(
            c.tool("a_b_d").is_none(),
            "none of the failed plugin's tools"
        );
        assert_eq!(c.tool("a_b_c").map(|(p, _)| p.name.as_str()), Some("a"));
    }

    #[test]
    fn an_unprefixed_plugin_collides_by_its_bare_names() {
        // github-mcp-server's names, exposed as they are, next to a plugin named `get`.
        let slots = [
            ready(described(
                "github",
                "[plugin]\nprefix = \"\"\n",
                &["get_me"],
            )),
            ready(described("get", "", &["me"])),
        ];
        let c = Catalog::assemble(&slots.iter().collect::<Vec<_>>());
        assert_eq!(
            c.tool("get_me").map(|(p, t)| (p.name.as_str(), t)),
            Some(("github", "get_me"))
        );
        let PluginStatus::Failed(reason) = status(&c, "get") else {
            panic!("get should fail");
        };
        assert!(
            reason.contains("tool `get_me` collides with the same name from plugin `github`"),
            "{reason}"
        );
    }

    #[test]
    fn denied_tools_say_which_manifest_hides_them() {
        let slots = [ready(described(
            "fs",
            "[tools]\ndeny = [\"write\"]\n",
            &["read", "write"],
        ))];
        let c = Catalog::assemble(&slots.iter().collect::<Vec<_>>());
        assert!(c.tool("fs_write").is_none());
        assert!(
            c.why_unknown("fs_write")
                .contains("disabled by [tools] in /plugins/fs.toml")
        );
        assert!(
            c.why_unknown("fs_nope")
                .starts_with("unknown tool `fs_nope`")
        );
        assert_eq!(c.reports()[0].notes, ["hidden by [tools]: write"]);
    }

    #[test]
    fn compiling_and_failed_slots_are_reported_with_their_notes() {
        let slots: [Slot<Description>; 2] = [
            Slot {
                name: "slow".into(),
                file: None,
                state: SlotState::Compiling,
                note: None,
            },
            Slot {
                name: "bad".into(),
                file: None,
                state: SlotState::Failed("not a component".into()),
                note: Some("an update failed".into()),
            },
        ];
        let c = Catalog::assemble(&slots.iter().collect::<Vec<_>>());
        assert!(matches!(status(&c, "slow"), PluginStatus::Compiling));
        assert!(matches!(status(&c, "bad"), PluginStatus::Failed(r) if r == "not a component"));
        assert_eq!(c.reports()[1].notes, ["an update failed"]);
        assert!(c.plugins().is_empty());
    }
}

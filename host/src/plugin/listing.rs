//! A component's embedded listing: its tools, resource templates, prompts and optional exports,
//! written into a custom section of the `.wasm` by `pier seal`, so pier can answer `tools/list`
//! for a plugin before its code is compiled.
//!
//! A 15-20 MB Python or JavaScript component takes seconds to compile even on baseline code,
//! while its lists are fixed when it is built (componentize-py and componentize-js snapshot the
//! module after its top level ran, which is when the SDKs register tools). The section is a
//! claim, not trusted: the loader checks it against what the compiled component lists and
//! refuses the plugin's calls when they differ (see `loader`). Sealing therefore suits
//! components whose lists do not depend on `[config]`.
//!
//! Custom sections are ignored by wasmtime, so a sealed component runs anywhere unchanged.

use serde::{Deserialize, Serialize};

use super::description::Offers;
use crate::runtime::bindings::pier::mcp::types::{
    Annotations, Prompt, PromptArgument, ResourceTemplate, Tool,
};

/// The custom section's name.
pub const SECTION: &str = "pier-listing";
/// The format's version; a section of another version is ignored (the component is compiled
/// first, as without one).
const VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Listing {
    pub version: u32,
    pub offers: OffersJson,
    pub tools: Vec<ToolJson>,
    pub templates: Vec<TemplateJson>,
    pub prompts: Vec<PromptJson>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct OffersJson {
    pub resources: bool,
    pub prompts: bool,
    pub completions: bool,
    /// Whether the component exports `about` (absent in listings written before it existed).
    /// Such a component is compiled before it is listed: its details are not in the listing.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub about: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ToolJson {
    pub name: String,
    pub title: Option<String>,
    pub description: String,
    pub input_schema: String,
    pub output_schema: Option<String>,
    pub read_only: bool,
    pub destructive: bool,
    pub idempotent: bool,
    pub open_world: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TemplateJson {
    pub uri_template: String,
    pub name: String,
    pub title: Option<String>,
    pub description: Option<String>,
    pub mime_type: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PromptJson {
    pub name: String,
    pub title: Option<String>,
    pub description: Option<String>,
    pub arguments: Vec<ArgumentJson>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ArgumentJson {
    pub name: String,
    pub title: Option<String>,
    pub description: Option<String>,
    pub required: bool,
}

impl Listing {
    /// The listing of what a component answered.
    pub fn of(
        offers: Offers,
        tools: &[Tool],
        templates: &[ResourceTemplate],
        prompts: &[Prompt],
    ) -> Listing {
        Listing {
            version: VERSION,
            offers: OffersJson {
                resources: offers.resources,
                prompts: offers.prompts,
                completions: offers.completions,
                about: offers.about,
            },
            tools: tools
                .iter()
                .map(|t| ToolJson {
                    name: t.name.clone(),
                    title: t.title.clone(),
                    description: t.description.clone(),
                    input_schema: t.input_schema.clone(),
                    output_schema: t.output_schema.clone(),
                    read_only: t.annotations.read_only,
                    destructive: t.annotations.destructive,
                    idempotent: t.annotations.idempotent,
                    open_world: t.annotations.open_world,
                })
                .collect(),
            templates: templates
                .iter()
                .map(|t| TemplateJson {
                    uri_template: t.uri_template.clone(),
                    name: t.name.clone(),
                    title: t.title.clone(),
                    description: t.description.clone(),
                    mime_type: t.mime_type.clone(),
                })
                .collect(),
            prompts: prompts
                .iter()
                .map(|p| PromptJson {
                    name: p.name.clone(),
                    title: p.title.clone(),
                    description: p.description.clone(),
                    arguments: p
                        .arguments
                        .iter()
                        .map(|a| ArgumentJson {
                            name: a.name.clone(),
                            title: a.title.clone(),
                            description: a.description.clone(),
                            required: a.required,
                        })
                        .collect(),
                })
                .collect(),
        }
    }

    pub fn offers(&self) -> Offers {
        Offers {
            resources: self.offers.resources,
            prompts: self.offers.prompts,
            completions: self.offers.completions,
            about: self.offers.about,
        }
    }

    pub fn tools(&self) -> Vec<Tool> {
        self.tools
            .iter()
            .map(|t| Tool {
                name: t.name.clone(),
                title: t.title.clone(),
                description: t.description.clone(),
                input_schema: t.input_schema.clone(),
                output_schema: t.output_schema.clone(),
                annotations: Annotations {
                    read_only: t.read_only,
                    destructive: t.destructive,
                    idempotent: t.idempotent,
                    open_world: t.open_world,
                },
            })
            .collect()
    }

    pub fn templates(&self) -> Vec<ResourceTemplate> {
        self.templates
            .iter()
            .map(|t| ResourceTemplate {
                uri_template: t.uri_template.clone(),
                name: t.name.clone(),
                title: t.title.clone(),
                description: t.description.clone(),
                mime_type: t.mime_type.clone(),
            })
            .collect()
    }

    pub fn prompts(&self) -> Vec<Prompt> {
        self.prompts
            .iter()
            .map(|p| Prompt {
                name: p.name.clone(),
                title: p.title.clone(),
                description: p.description.clone(),
                arguments: p
                    .arguments
                    .iter()
                    .map(|a| PromptArgument {
                        name: a.name.clone(),
                        title: a.title.clone(),
                        description: a.description.clone(),
                        required: a.required,
                    })
                    .collect(),
            })
            .collect()
    }

    /// Where this listing and `other` (what the component answered) first differ, in words.
    pub fn difference(&self, other: &Listing) -> Option<String> {
        if self == other {
            return None;
        }
        let names = |l: &Listing| l.tools.iter().map(|t| t.name.clone()).collect::<Vec<_>>();
        if self.offers != other.offers {
            return Some("the exported interfaces differ".into());
        }
        if names(self) != names(other) {
            return Some(format!(
                "it embeds the tools [{}] but lists [{}]",
                names(self).join(", "),
                names(other).join(", ")
            ));
        }
        if let Some((a, _)) = self.tools.iter().zip(&other.tools).find(|(a, b)| a != b) {
            return Some(format!("the definition of tool `{}` differs", a.name));
        }
        if self.templates != other.templates {
            return Some("the resource templates differ".into());
        }
        Some("the prompts differ".into())
    }
}

/// Why a section could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum SectionError {
    #[error("not a WebAssembly component (no component header)")]
    NotComponent,
    #[error("the component's sections are cut short or malformed at byte {0}")]
    Malformed(usize),
    #[error("its {SECTION} section is not a listing pier understands: {0}")]
    Invalid(String),
}

/// The listing embedded in `wasm`, if it has one of this version. A section that is present but
/// unreadable is an error (the loader then compiles first, as without one).
pub(crate) fn read(wasm: &[u8]) -> Result<Option<Listing>, SectionError> {
    for s in sections(wasm)? {
        if s.custom_name.as_deref() == Some(SECTION) {
            let value: serde_json::Value = serde_json::from_slice(&wasm[s.payload.clone()])
                .map_err(|e| SectionError::Invalid(e.to_string()))?;
            if value.get("version").and_then(|v| v.as_u64()) != Some(u64::from(VERSION)) {
                return Ok(None);
            }
            let listing: Listing =
                serde_json::from_value(value).map_err(|e| SectionError::Invalid(e.to_string()))?;
            return Ok(Some(listing));
        }
    }
    Ok(None)
}

/// `wasm` without a listing section.
pub(crate) fn strip(wasm: &[u8]) -> Result<Vec<u8>, SectionError> {
    let mut out = Vec::with_capacity(wasm.len());
    out.extend_from_slice(&wasm[..HEADER.min(wasm.len())]);
    for s in sections(wasm)? {
        if s.custom_name.as_deref() != Some(SECTION) {
            out.extend_from_slice(&wasm[s.whole]);
        }
    }
    Ok(out)
}

/// `wasm` with `listing` as its only listing section (an earlier one is dropped), appended at
/// the end of the component.
pub(crate) fn write(wasm: &[u8], listing: &Listing) -> Result<Vec<u8>, SectionError> {
    let mut out = strip(wasm)?;
    let body = serde_json::to_vec(listing).map_err(|e| SectionError::Invalid(e.to_string()))?;
    let mut payload = Vec::with_capacity(body.len() + 16);
    leb128(&mut payload, SECTION.len());
    payload.extend_from_slice(SECTION.as_bytes());
    payload.extend_from_slice(&body);
    out.push(0);
    leb128(&mut out, payload.len());
    out.extend_from_slice(&payload);
    Ok(out)
}

/// `\0asm`, then the component encoding's version and layer (0x0d 0x00, 0x01 0x00).
const HEADER: usize = 8;
const COMPONENT_HEADER: [u8; HEADER] = [0, b'a', b's', b'm', 0x0d, 0x00, 0x01, 0x00];

struct Section {
    /// The whole section: id, size and payload.
    whole: std::ops::Range<usize>,
    /// For a custom section, its name and the bytes after it.
    custom_name: Option<String>,
    payload: std::ops::Range<usize>,
}

/// The top-level sections of a component (nested modules and components are inside their
/// sections' payloads and are not walked).
fn sections(wasm: &[u8]) -> Result<Vec<Section>, SectionError> {
    if wasm.get(..HEADER) != Some(&COMPONENT_HEADER[..]) {
        return Err(SectionError::NotComponent);
    }
    let mut at = HEADER;
    let mut out = Vec::new();
    while at < wasm.len() {
        let start = at;
        let id = wasm[at];
        at += 1;
        let size = read_leb128(wasm, &mut at).ok_or(SectionError::Malformed(start))?;
        let end = at
            .checked_add(size)
            .filter(|e| *e <= wasm.len())
            .ok_or(SectionError::Malformed(start))?;
        let (custom_name, payload) = if id == 0 {
            let mut p = at;
            let len = read_leb128(wasm, &mut p).ok_or(SectionError::Malformed(start))?;
            let name_end = p
                .checked_add(len)
                .filter(|e| *e <= end)
                .ok_or(SectionError::Malformed(start))?;
            let name = String::from_utf8_lossy(&wasm[p..name_end]).into_owned();
            (Some(name), name_end..end)
        } else {
            (None, at..end)
        };
        out.push(Section {
            whole: start..end,
            custom_name,
            payload,
        });
        at = end;
    }
    Ok(out)
}

fn read_leb128(bytes: &[u8], at: &mut usize) -> Option<usize> {
    let mut value: u64 = 0;
    for shift in (0..35).step_by(7) {
        let byte = *bytes.get(*at)?;
        *at += 1;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return u32::try_from(value).ok().map(|v| v as usize);
        }
    }
    None
}

fn leb128(out: &mut Vec<u8>, mut value: usize) {
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listing() -> Listing {
        let tool = Tool {
            name: "greet".into(),
            title: Some("Greet".into()),
            description: "Greets.".into(),
            input_schema: r#"{"type":"object"}"#.into(),
            output_schema: None,
            annotations: Annotations {
                read_only: true,
                destructive: false,
                idempotent: true,
                open_world: false,
            },
        };
        Listing::of(Offers::default(), &[tool], &[], &[])
    }

    /// The smallest component: the header and one custom section.
    fn component() -> Vec<u8> {
        let mut c = COMPONENT_HEADER.to_vec();
        c.extend_from_slice(&[0, 4, 3, b'a', b'b', b'c']);
        c
    }

    #[test]
    fn a_written_listing_reads_back_and_replaces_an_earlier_one() {
        let sealed = write(&component(), &listing()).expect("write");
        assert_eq!(read(&sealed).expect("read"), Some(listing()));
        let mut other = listing();
        other.tools[0].description = "Greets again.".into();
        let resealed = write(&sealed, &other).expect("write");
        assert_eq!(read(&resealed).expect("read"), Some(other.clone()));
        // One listing section, and the other sections kept in place.
        assert_eq!(
            resealed
                .windows(SECTION.len())
                .filter(|w| *w == SECTION.as_bytes())
                .count(),
            1
        );
        assert_eq!(&resealed[..14], &component()[..]);
        assert_eq!(strip(&resealed).expect("strip"), component());
        assert_eq!(
            listing().difference(&other).as_deref(),
            Some("the definition of tool `greet` differs")
        );
        // Through the contract's types and back, nothing changes.
        let again = Listing::of(
            listing().offers(),
            &listing().tools(),
            &listing().templates(),
            &listing().prompts(),
        );
        assert_eq!(again, listing());
    }

    #[test]
    fn no_section_bad_sections_and_other_versions() {
        assert_eq!(read(&component()).expect("read"), None);
        assert!(matches!(
            read(b"\0asm\x01\0\0\0"),
            Err(SectionError::NotComponent)
        ));
        let mut cut = component();
        cut.extend_from_slice(&[0, 0x7f]);
        assert!(matches!(read(&cut), Err(SectionError::Malformed(14))));
        let mut future = component();
        let body = br#"{"version":2,"anything":true}"#;
        let mut payload = vec![SECTION.len() as u8];
        payload.extend_from_slice(SECTION.as_bytes());
        payload.extend_from_slice(body);
        future.push(0);
        leb128(&mut future, payload.len());
        future.extend_from_slice(&payload);
        assert_eq!(read(&future).expect("read"), None);
        let garbage = {
            let mut g = component();
            let mut payload = vec![SECTION.len() as u8];
            payload.extend_from_slice(SECTION.as_bytes());
            payload.extend_from_slice(b"{not json");
            g.push(0);
            leb128(&mut g, payload.len());
            g.extend_from_slice(&payload);
            g
        };
        assert!(matches!(read(&garbage), Err(SectionError::Invalid(_))));
    }
}

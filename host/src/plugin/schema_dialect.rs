//! Which JSON Schema dialect a tool's `outputSchema` declares, for the clients that check it.
//!
//! The official Python SDK client validates every structured answer with `jsonschema.validate`,
//! which first checks the schema itself against its dialect's metaschema — on every call. A
//! schema without `$schema` is checked as 2020-12, whose metaschema (vocabularies,
//! `$dynamicRef`) costs about three times draft-07's: 2.1 against 0.7 ms per call for the
//! filesystem plugin's `read_text_file` schema, more than the whole call costs pier. So pier
//! declares draft-07 on an output schema that says nothing and uses only keywords the two
//! dialects read alike; a schema that declares its dialect, or uses anything of 2020-12's own
//! (`$defs`, `prefixItems`, `unevaluated*`, `dependent*`, dynamic references, `$ref` beside
//! other keywords, an array-form `items`), is passed on untouched. The TypeScript SDK (ajv)
//! reads both the same way.

use serde_json::{Map, Value};

/// The dialect pier declares.
pub const DRAFT_07: &str = "http://json-schema.org/draft-07/schema#";

/// Keywords whose meaning differs between draft-07 and 2020-12, or that only 2020-12 has.
const NOT_SHARED: &[&str] = &[
    "$defs",
    "$dynamicRef",
    "$dynamicAnchor",
    "$anchor",
    "$recursiveRef",
    "$recursiveAnchor",
    "$vocabulary",
    "$ref",
    "$id",
    "definitions",
    "prefixItems",
    "unevaluatedItems",
    "unevaluatedProperties",
    "dependentSchemas",
    "dependentRequired",
    "dependencies",
    "minContains",
    "maxContains",
    "contentSchema",
    "additionalItems",
];

/// Declares draft-07 on `schema` when it declares nothing and means the same in both dialects.
pub fn declare_draft_07(schema: &mut Map<String, Value>) {
    if !schema.contains_key("$schema") && shared(&Value::Object(schema.clone())) {
        schema.insert("$schema".into(), Value::from(DRAFT_07));
    }
}

/// Whether nothing in `value` reads differently in the two dialects. Conservative: every
/// object met is looked at, property names included, so a property named `$defs` also keeps
/// the schema as it is.
fn shared(value: &Value) -> bool {
    match value {
        Value::Object(map) => map.iter().all(|(key, v)| {
            let differs = NOT_SHARED.contains(&key.as_str())
                || key == "$schema"
                || (key == "items" && v.is_array());
            !differs && shared(v)
        }),
        Value::Array(items) => items.iter().all(shared),
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn declared(schema: Value) -> Option<Value> {
        let Value::Object(mut map) = schema else {
            return None;
        };
        declare_draft_07(&mut map);
        map.get("$schema").cloned()
    }

    #[test]
    fn plain_schemas_are_declared_draft_07_and_others_are_left_alone() {
        let plain = json!({"type": "object", "properties": {
            "path": {"type": "string"}, "size": {"type": ["integer", "null"]},
            "kind": {"enum": ["file", "dir"]}, "names": {"type": "array", "items": {"type": "string"}},
            "either": {"anyOf": [{"type": "string"}, {"type": "number"}]}
        }, "required": ["path"], "additionalProperties": false});
        assert_eq!(declared(plain), Some(json!(DRAFT_07)));
        for own in [
            json!({"type": "object", "$defs": {"a": {"type": "string"}}}),
            json!({"type": "array", "prefixItems": [{"type": "string"}]}),
            json!({"type": "array", "items": [{"type": "string"}]}),
            json!({"type": "object", "properties": {"a": {"$ref": "#/$defs/a"}}}),
            json!({"type": "object", "unevaluatedProperties": false}),
        ] {
            assert_eq!(declared(own.clone()), None, "{own}");
        }
        let dialect =
            json!({"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object"});
        assert_eq!(
            declared(dialect),
            Some(json!("https://json-schema.org/draft/2020-12/schema"))
        );
    }
}

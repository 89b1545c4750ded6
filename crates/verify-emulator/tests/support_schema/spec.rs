//! Twilio's Verify v2 OpenAPI 3.0 document, turned into JSON Schema for response validation.
//!
//! Conversion: component schemas go under `$defs` (refs rewritten), `nullable: true` becomes a
//! `null` alternative, `x-*` extensions and doc-only keywords are dropped. Strictness: Twilio
//! answers always carry every declared property (null when empty) and nothing else, so object
//! schemas that declare `properties` get `required` = all of them and
//! `additionalProperties: false`. The spec's own examples are checked against the same
//! conversion (see `examples_conform`), which keeps this rule honest.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::{json, Map, Value};

/// The loaded spec.
pub struct Spec {
    doc: Value,
    defs: Map<String, Value>,
}

/// One operation's success and error answers.
pub struct Operation {
    /// `operationId`, e.g. `CreateChallenge`.
    pub id: String,
    /// Path template, e.g. `/v2/Services/{ServiceSid}/Entities/{Identity}/Challenges`.
    pub template: String,
    /// Declared status code → converted schema (None: no JSON body, e.g. 204).
    pub responses: BTreeMap<u16, Option<Value>>,
    /// Examples per status code.
    pub examples: BTreeMap<u16, Vec<(String, Value)>>,
}

/// Where the spec lives: `$TWILIO_VERIFY_SPEC`, else the copy vendored in the repository
/// (`docs/reference/`, see its README for origin and licence).
pub fn spec_path() -> PathBuf {
    if let Ok(p) = std::env::var("TWILIO_VERIFY_SPEC") {
        return PathBuf::from(p);
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/reference/twilio_verify_v2.json")
}

impl Spec {
    /// Loads and converts the spec; panics with the path when it is missing (tests only).
    pub fn load() -> Spec {
        let path = spec_path();
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "cannot read the Twilio spec at {} ({e}); set TWILIO_VERIFY_SPEC",
                path.display()
            )
        });
        let doc: Value = serde_json::from_str(&text).expect("spec is JSON");
        let mut defs = Map::new();
        if let Some(schemas) = doc
            .pointer("/components/schemas")
            .and_then(Value::as_object)
        {
            for (name, schema) in schemas {
                defs.insert(name.clone(), convert(schema));
            }
        }
        Spec { doc, defs }
    }

    /// Finds the operation for a concrete request path (`/v2/...`, no query) and method.
    /// The template with the most literal segments wins.
    pub fn operation(&self, method: &str, path: &str) -> Option<Operation> {
        let method = method.to_ascii_lowercase();
        let segments: Vec<&str> = path.trim_end_matches('/').split('/').collect();
        let paths = self.doc.get("paths")?.as_object()?;
        let mut best: Option<(usize, &String, &Value)> = None;
        for (template, item) in paths {
            let tsegs: Vec<&str> = template.split('/').collect();
            if tsegs.len() != segments.len() {
                continue;
            }
            let mut literal = 0;
            let matches = tsegs.iter().zip(&segments).all(|(t, s)| {
                if t.starts_with('{') && t.ends_with('}') {
                    !s.is_empty()
                } else if t == s {
                    literal += 1;
                    true
                } else {
                    false
                }
            });
            if matches && item.get(&method).is_some() && best.is_none_or(|(l, _, _)| literal > l) {
                best = Some((literal, template, item));
            }
        }
        let (_, template, item) = best?;
        let op = item.get(&method)?;
        let mut responses = BTreeMap::new();
        let mut examples = BTreeMap::new();
        for (code, response) in op.get("responses")?.as_object()? {
            let Ok(code) = code.parse::<u16>() else {
                continue;
            };
            let content = response.pointer("/content/application~1json");
            let schema = content.and_then(|c| c.get("schema")).map(convert);
            responses.insert(code, schema);
            let list = content
                .and_then(|c| c.get("examples"))
                .and_then(Value::as_object)
                .map(|m| {
                    m.iter()
                        .filter_map(|(k, v)| Some((k.clone(), v.get("value")?.clone())))
                        .collect()
                })
                .unwrap_or_default();
            examples.insert(code, list);
        }
        Some(Operation {
            id: op
                .get("operationId")
                .and_then(Value::as_str)
                .unwrap_or("?")
                .to_owned(),
            template: template.clone(),
            responses,
            examples,
        })
    }

    /// A validator for a converted schema, with the component schemas available as `$defs`
    /// and `format` (date-time, uri) enforced.
    pub fn validator(&self, schema: &Value) -> jsonschema::Validator {
        let mut root = schema.as_object().cloned().unwrap_or_default();
        root.insert(
            "$schema".into(),
            json!("https://json-schema.org/draft/2020-12/schema"),
        );
        root.insert("$defs".into(), Value::Object(self.defs.clone()));
        jsonschema::options()
            .should_validate_formats(true)
            .build(&Value::Object(root))
            .expect("converted schema compiles")
    }

    /// Validates `instance`; returns one line per violation.
    pub fn check(&self, schema: &Value, instance: &Value) -> Vec<String> {
        self.validator(schema)
            .iter_errors(instance)
            .map(|e| format!("{} at {}: {}", e.instance_path(), e.schema_path(), e))
            .collect()
    }
}

/// OpenAPI 3.0 schema object → JSON Schema 2020-12 (strict objects, see module docs).
pub fn convert(schema: &Value) -> Value {
    let Some(obj) = schema.as_object() else {
        return schema.clone();
    };
    if let Some(Value::String(r)) = obj.get("$ref") {
        // OpenAPI 3.0 ignores siblings of $ref.
        let name = r.trim_start_matches("#/components/schemas/");
        return json!({ "$ref": format!("#/$defs/{name}") });
    }
    let mut out = Map::new();
    for (key, value) in obj {
        if key.starts_with("x-")
            || matches!(
                key.as_str(),
                "nullable"
                    | "example"
                    | "examples"
                    | "description"
                    | "title"
                    | "deprecated"
                    | "externalDocs"
                    | "xml"
                    | "discriminator"
            )
        {
            continue;
        }
        let converted = match key.as_str() {
            "properties" => Value::Object(
                value
                    .as_object()
                    .map(|m| m.iter().map(|(k, v)| (k.clone(), convert(v))).collect())
                    .unwrap_or_default(),
            ),
            "items" | "additionalProperties" | "not" => convert(value),
            "allOf" | "anyOf" | "oneOf" => Value::Array(
                value
                    .as_array()
                    .map(|a| a.iter().map(convert).collect())
                    .unwrap_or_default(),
            ),
            _ => value.clone(),
        };
        out.insert(key.clone(), converted);
    }
    if obj.get("nullable") == Some(&Value::Bool(true)) {
        if let Some(t) = out.get("type").cloned() {
            out.insert("type".into(), json!([t, "null"]));
        }
        if let Some(Value::Array(values)) = out.get_mut("enum") {
            values.push(Value::Null);
        }
    }
    if let Some(Value::Object(props)) = out.get("properties") {
        let names: Vec<Value> = props.keys().map(|k| json!(k)).collect();
        out.insert("required".into(), Value::Array(names));
        out.entry("additionalProperties").or_insert(json!(false));
    }
    out.into()
}

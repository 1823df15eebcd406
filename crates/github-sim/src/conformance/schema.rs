//! A validator for the OpenAPI schema subset GitHub's descriptions use: `$ref`, `type` (3.0's single name with
//! `nullable`, or 3.1's list of names), `required`, `properties`, `additionalProperties`, `items`, `enum`, `allOf`,
//! `anyOf`, `oneOf`.

use serde_json::Value;

/// Resolves a local `$ref` such as `#/components/schemas/repository`.
pub fn resolve<'a>(document: &'a Value, reference: &str) -> Option<&'a Value> {
    let pointer = reference.strip_prefix('#')?;
    document.pointer(pointer)
}

/// Validates `value` against `schema`, appending one message per violation, each naming the JSON location.
pub fn validate(document: &Value, schema: &Value, value: &Value, location: &str, violations: &mut Vec<String>) {
    if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
        match resolve(document, reference) {
            Some(target) => validate(document, target, value, location, violations),
            None => violations.push(format!("{location}: unresolvable $ref {reference}")),
        }
        return;
    }
    let nullable = schema.get("nullable").and_then(Value::as_bool).unwrap_or(false);
    if value.is_null() && nullable {
        return;
    }
    if let Some(all) = schema.get("allOf").and_then(Value::as_array) {
        for part in all {
            validate(document, part, value, location, violations);
        }
    }
    for keyword in ["anyOf", "oneOf"] {
        if let Some(alternatives) = schema.get(keyword).and_then(Value::as_array) {
            let mut best: Option<Vec<String>> = None;
            for alternative in alternatives {
                let mut attempt = Vec::new();
                validate(document, alternative, value, location, &mut attempt);
                if attempt.is_empty() {
                    best = None;
                    break;
                }
                if best.as_ref().is_none_or(|b| attempt.len() < b.len()) {
                    best = Some(attempt);
                }
            }
            if let Some(closest) = best {
                violations
                    .push(format!("{location}: matches no alternative of {keyword}; closest: {}", closest.join("; ")));
            }
        }
    }
    if let Some(allowed) = schema.get("enum").and_then(Value::as_array) {
        if !allowed.contains(value) {
            violations.push(format!("{location}: {value} is not one of the documented values"));
        }
    }
    // OpenAPI 3.1 (the webhooks description) writes nullable types as a list: `["string", "null"]`.
    let expected: Vec<&str> = match schema.get("type") {
        Some(Value::String(one)) => vec![one.as_str()],
        Some(Value::Array(many)) => many.iter().filter_map(Value::as_str).collect(),
        _ => return,
    };
    let type_matches = |expected: &str| match expected {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "boolean" => value.is_boolean(),
        "null" => value.is_null(),
        _ => true,
    };
    if !expected.iter().any(|t| type_matches(t)) {
        violations.push(format!("{location}: expected {}, got {value}", expected.join(" or ")));
        return;
    }
    if let Some(object) = value.as_object() {
        let properties = schema.get("properties").and_then(Value::as_object);
        if let Some(required) = schema.get("required").and_then(Value::as_array) {
            for name in required.iter().filter_map(Value::as_str) {
                if !object.contains_key(name) {
                    violations.push(format!("{location}: missing required field `{name}`"));
                }
            }
        }
        for (name, field) in object {
            let child = format!("{location}.{name}");
            match properties.and_then(|p| p.get(name)) {
                Some(field_schema) => validate(document, field_schema, field, &child, violations),
                None => {
                    if let Some(extra) = schema.get("additionalProperties").filter(|a| a.is_object()) {
                        validate(document, extra, field, &child, violations);
                    }
                }
            }
        }
    }
    if let (Some(items), Some(elements)) = (schema.get("items"), value.as_array()) {
        for (index, element) in elements.iter().enumerate() {
            validate(document, items, element, &format!("{location}[{index}]"), violations);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_missing_required_field_and_honours_nullable_and_refs() {
        let document = json!({"components": {"schemas": {"thing": {
            "type": "object", "required": ["id", "name"],
            "properties": {"id": {"type": "integer"}, "name": {"type": "string", "nullable": true}}
        }}}});
        let schema = json!({"$ref": "#/components/schemas/thing"});
        let mut violations = Vec::new();
        validate(&document, &schema, &json!({"id": 1, "name": null}), "$", &mut violations);
        assert!(violations.is_empty(), "{violations:?}");
        validate(&document, &schema, &json!({"name": "x"}), "$", &mut violations);
        assert_eq!(violations, vec!["$: missing required field `id`"]);
    }

    #[test]
    fn openapi_3_1_type_lists_allow_each_listed_type() {
        let mut violations = Vec::new();
        let schema = json!({"type": ["string", "null"]});
        validate(&json!({}), &schema, &json!(null), "$", &mut violations);
        validate(&json!({}), &schema, &json!("x"), "$", &mut violations);
        assert!(violations.is_empty(), "{violations:?}");
        validate(&json!({}), &schema, &json!(3), "$", &mut violations);
        assert_eq!(violations, vec!["$: expected string or null, got 3"]);
    }

    #[test]
    fn type_enum_and_any_of() {
        let document = json!({});
        let mut violations = Vec::new();
        let schema = json!({"anyOf": [{"type": "string"}, {"type": "integer"}]});
        validate(&document, &schema, &json!(true), "$", &mut violations);
        assert_eq!(violations.len(), 1);
        validate(&document, &json!({"type": "string", "enum": ["a"]}), &json!("b"), "$", &mut violations);
        assert_eq!(violations.len(), 2);
    }
}

//! The PATCH body formats: JSON merge patch (RFC 7386), strategic merge patch
//! (approximated), JSON patch (RFC 6902) and server-side apply (approximated
//! as a strategic merge that may create).

use serde_json::{Map, Value};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PatchType {
    Json,
    Merge,
    Strategic,
    Apply,
}

pub const ACCEPTED: &str = "application/json-patch+json, application/merge-patch+json, \
application/apply-patch+yaml, application/apply-patch+cbor, application/strategic-merge-patch+json";

impl PatchType {
    pub fn from_content_type(content_type: &str) -> Option<PatchType> {
        let media = content_type.split(';').next().unwrap_or("").trim();
        match media {
            "application/json-patch+json" => Some(PatchType::Json),
            "application/merge-patch+json" => Some(PatchType::Merge),
            "application/strategic-merge-patch+json" => Some(PatchType::Strategic),
            "application/apply-patch+yaml" => Some(PatchType::Apply),
            _ => None,
        }
    }
}

/// Why a patch could not be applied: a malformed patch (400) or one that
/// does not apply to this object (422), as the real server answers.
#[derive(Debug)]
pub enum PatchError {
    BadRequest(String),
    Unprocessable(String),
}

pub fn apply(kind: PatchType, target: &Value, patch: &Value) -> Result<Value, PatchError> {
    match kind {
        PatchType::Merge => {
            if !patch.is_object() {
                return Err(PatchError::BadRequest(
                    "json: cannot unmarshal non-object into Go value of type map[string]interface {}"
                        .into(),
                ));
            }
            Ok(merge_patch(target, patch))
        }
        PatchType::Strategic | PatchType::Apply => {
            if !patch.is_object() {
                return Err(PatchError::BadRequest(
                    "json: cannot unmarshal non-object into Go value of type map[string]interface {}"
                        .into(),
                ));
            }
            Ok(strategic_merge(target, patch))
        }
        PatchType::Json => json_patch(target, patch),
    }
}

/// RFC 7386: objects merge recursively, `null` removes, anything else replaces.
pub fn merge_patch(target: &Value, patch: &Value) -> Value {
    let Value::Object(p) = patch else {
        return patch.clone();
    };
    let mut out = match target {
        Value::Object(t) => t.clone(),
        _ => Map::new(),
    };
    for (k, v) in p {
        if v.is_null() {
            out.remove(k);
        } else {
            let merged = merge_patch(out.get(k).unwrap_or(&Value::Null), v);
            out.insert(k.clone(), merged);
        }
    }
    Value::Object(out)
}

/// Strategic merge patch without the schema: like a merge patch, except that
/// lists whose items are all objects with a `name` (containers, env, ports,
/// volumes...) merge item by item on that key, and `$patch: delete` /
/// `$patch: replace` directives inside such items and maps are honoured.
pub fn strategic_merge(target: &Value, patch: &Value) -> Value {
    match (target, patch) {
        (Value::Object(t), Value::Object(p)) => {
            if p.get("$patch").and_then(Value::as_str) == Some("replace") {
                let mut p = p.clone();
                p.remove("$patch");
                return Value::Object(p);
            }
            let mut out = t.clone();
            for (k, v) in p {
                if k.starts_with("$") {
                    continue;
                }
                if v.is_null() {
                    out.remove(k);
                } else {
                    let merged = strategic_merge(out.get(k).unwrap_or(&Value::Null), v);
                    out.insert(k.clone(), merged);
                }
            }
            Value::Object(out)
        }
        (Value::Array(t), Value::Array(p)) if named_items(t) && named_items(p) => {
            let mut out = t.clone();
            for item in p {
                let name = item.get("name").cloned();
                let pos = out.iter().position(|o| o.get("name") == name.as_ref());
                let delete = item.get("$patch").and_then(Value::as_str) == Some("delete");
                match (pos, delete) {
                    (Some(i), true) => {
                        out.remove(i);
                    }
                    (None, true) => {}
                    (Some(i), false) => out[i] = strategic_merge(&out[i], item),
                    (None, false) => out.push(strategic_merge(&Value::Null, item)),
                }
            }
            Value::Array(out)
        }
        (_, Value::Object(_)) => strategic_merge(&Value::Object(Map::new()), patch),
        _ => patch.clone(),
    }
}

fn named_items(items: &[Value]) -> bool {
    !items.is_empty()
        && items
            .iter()
            .all(|i| i.get("name").is_some_and(Value::is_string))
}

/// RFC 6902: add, remove, replace, move, copy, test.
pub fn json_patch(target: &Value, patch: &Value) -> Result<Value, PatchError> {
    let ops = patch.as_array().ok_or_else(|| {
        PatchError::BadRequest(
            "json: cannot unmarshal object into Go value of type jsonpatch.Patch".into(),
        )
    })?;
    let mut doc = target.clone();
    for op in ops {
        let name = op.get("op").and_then(Value::as_str).unwrap_or("");
        let path = op
            .get("path")
            .and_then(Value::as_str)
            .ok_or_else(|| PatchError::Unprocessable(format!("missing path in operation {op}")))?;
        let value = || {
            op.get("value").cloned().ok_or_else(|| {
                PatchError::Unprocessable(format!("missing value in operation {op}"))
            })
        };
        let from = || {
            op.get("from")
                .and_then(Value::as_str)
                .ok_or_else(|| PatchError::Unprocessable(format!("missing from in operation {op}")))
        };
        match name {
            "add" => add(&mut doc, path, value()?)?,
            "remove" => {
                remove(&mut doc, path)?;
            }
            "replace" => {
                remove(&mut doc, path)?;
                add(&mut doc, path, value()?)?;
            }
            "move" => {
                let v = remove(&mut doc, from()?)?;
                add(&mut doc, path, v)?;
            }
            "copy" => {
                let v = doc
                    .pointer(&pointer(from()?)?)
                    .cloned()
                    .ok_or_else(|| missing(from().unwrap_or("")))?;
                add(&mut doc, path, v)?;
            }
            "test" => {
                let actual = doc.pointer(&pointer(path)?);
                if actual != Some(&value()?) {
                    return Err(PatchError::Unprocessable(format!(
                        "testing value {path} failed: test failed"
                    )));
                }
            }
            other => return Err(PatchError::BadRequest(format!("Unexpected kind: {other}"))),
        }
    }
    Ok(doc)
}

fn missing(path: &str) -> PatchError {
    PatchError::Unprocessable(format!("doc is missing path: \"{path}\": missing value"))
}

/// Validates a JSON pointer (RFC 6901) and returns it as serde_json expects.
fn pointer(path: &str) -> Result<String, PatchError> {
    if path.is_empty() || path.starts_with('/') {
        Ok(path.to_string())
    } else {
        Err(PatchError::Unprocessable(format!(
            "invalid JSON pointer {path:?}"
        )))
    }
}

fn split_parent(path: &str) -> Result<(String, String), PatchError> {
    let path = pointer(path)?;
    let idx = path.rfind('/').ok_or_else(|| missing(&path))?;
    let last = path[idx + 1..].replace("~1", "/").replace("~0", "~");
    Ok((path[..idx].to_string(), last))
}

fn add(doc: &mut Value, path: &str, value: Value) -> Result<(), PatchError> {
    if path.is_empty() {
        *doc = value;
        return Ok(());
    }
    let (parent, key) = split_parent(path)?;
    let container = doc.pointer_mut(&parent).ok_or_else(|| missing(path))?;
    match container {
        Value::Object(map) => {
            map.insert(key, value);
            Ok(())
        }
        Value::Array(items) => {
            let i = if key == "-" {
                items.len()
            } else {
                key.parse::<usize>().map_err(|_| missing(path))?
            };
            if i > items.len() {
                return Err(missing(path));
            }
            items.insert(i, value);
            Ok(())
        }
        _ => Err(missing(path)),
    }
}

fn remove(doc: &mut Value, path: &str) -> Result<Value, PatchError> {
    let (parent, key) = split_parent(path)?;
    let container = doc.pointer_mut(&parent).ok_or_else(|| missing(path))?;
    match container {
        Value::Object(map) => map.remove(&key).ok_or_else(|| missing(path)),
        Value::Array(items) => {
            let i = key.parse::<usize>().map_err(|_| missing(path))?;
            if i >= items.len() {
                return Err(missing(path));
            }
            Ok(items.remove(i))
        }
        _ => Err(missing(path)),
    }
}

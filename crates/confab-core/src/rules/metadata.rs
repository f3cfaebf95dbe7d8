//! Metadata merging: PATCH deep-merges objects, and a `null` value deletes the key.

use crate::model::JsonMap;
use serde_json::Value;

/// The deepest metadata nesting accepted (hostile clients send deep JSON).
pub const MAX_DEPTH: usize = 16;

/// Merges `patch` into `base`: objects merge key by key at any depth, `null` deletes, anything else
/// replaces.
pub fn deep_merge(base: &mut JsonMap, patch: &JsonMap) {
    for (key, value) in patch {
        match value {
            Value::Null => {
                base.remove(key);
            }
            Value::Object(sub) => match base.get_mut(key) {
                Some(Value::Object(existing)) => deep_merge(existing, sub),
                _ => {
                    let mut fresh = JsonMap::new();
                    deep_merge(&mut fresh, sub);
                    base.insert(key.clone(), Value::Object(fresh));
                }
            },
            other => {
                base.insert(key.clone(), other.clone());
            }
        }
    }
}

/// The nesting depth of a JSON value (a scalar is 0).
pub fn depth(value: &Value) -> usize {
    match value {
        Value::Object(m) => 1 + m.values().map(depth).max().unwrap_or(0),
        Value::Array(a) => 1 + a.iter().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> JsonMap {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn nested_objects_merge_and_null_deletes() {
        let mut base = obj(json!({"source":"website","a":{"x":1,"y":2},"gone":true}));
        deep_merge(&mut base, &obj(json!({"a":{"y":3,"z":{"k":null}},"gone":null,"new":[1]})));
        assert_eq!(Value::Object(base), json!({"source":"website","a":{"x":1,"y":3,"z":{}},"new":[1]}));
    }

    #[test]
    fn depth_counts_objects_and_arrays() {
        assert_eq!(depth(&json!(1)), 0);
        assert_eq!(depth(&json!({"a":[{"b":1}]})), 3);
    }
}

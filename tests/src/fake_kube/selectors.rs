//! Label and field selectors, parsed and matched as the API server does.

use serde_json::Value;

use super::kinds::KindDef;

#[derive(Debug, Clone, PartialEq)]
enum Op {
    Exists,
    NotExists,
    Eq(String),
    NotEq(String),
    In(Vec<String>),
    NotIn(Vec<String>),
}

/// A parsed `labelSelector`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LabelSelector(Vec<(String, Op)>);

impl LabelSelector {
    /// Parses `a=b,c!=d,e in (f,g),!h`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut reqs = Vec::new();
        for part in split_top_level(text) {
            let part = part.trim();
            if part.is_empty() {
                continue;
            }
            reqs.push(
                parse_requirement(part)
                    .ok_or_else(|| format!("unable to parse requirement: {part:?}"))?,
            );
        }
        Ok(Self(reqs))
    }

    /// Whether the labels satisfy every requirement.
    pub fn matches(&self, labels: Option<&serde_json::Map<String, Value>>) -> bool {
        self.0.iter().all(|(key, op)| {
            let value = labels.and_then(|l| l.get(key)).and_then(Value::as_str);
            match op {
                Op::Exists => value.is_some(),
                Op::NotExists => value.is_none(),
                Op::Eq(v) => value == Some(v.as_str()),
                Op::NotEq(v) => value != Some(v.as_str()),
                Op::In(vs) => value.is_some_and(|x| vs.iter().any(|v| v == x)),
                Op::NotIn(vs) => !value.is_some_and(|x| vs.iter().any(|v| v == x)),
            }
        })
    }
}

fn split_top_level(text: &str) -> Vec<&str> {
    let (mut parts, mut depth, mut start) = (Vec::new(), 0i32, 0);
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

fn valid_key(key: &str) -> bool {
    !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c))
}

fn parse_requirement(part: &str) -> Option<(String, Op)> {
    if let Some(key) = part.strip_prefix('!') {
        return valid_key(key.trim()).then(|| (key.trim().to_string(), Op::NotExists));
    }
    for (token, set_op) in [(" notin ", false), (" in ", true)] {
        if let Some((key, rest)) = part.split_once(token) {
            let inner = rest.trim().strip_prefix('(')?.strip_suffix(')')?;
            let values: Vec<String> = inner.split(',').map(|v| v.trim().to_string()).collect();
            let op = if set_op {
                Op::In(values)
            } else {
                Op::NotIn(values)
            };
            return valid_key(key.trim()).then(|| (key.trim().to_string(), op));
        }
    }
    let (key, op) = if let Some((k, v)) = part.split_once("!=") {
        (k, Op::NotEq(v.trim().to_string()))
    } else if let Some((k, v)) = part.split_once("==") {
        (k, Op::Eq(v.trim().to_string()))
    } else if let Some((k, v)) = part.split_once('=') {
        (k, Op::Eq(v.trim().to_string()))
    } else {
        (part, Op::Exists)
    };
    valid_key(key.trim()).then(|| (key.trim().to_string(), op))
}

/// A parsed `fieldSelector`: `field=value` and `field!=value` terms.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FieldSelector(Vec<(String, bool, String)>);

impl FieldSelector {
    /// Parses and checks the fields against what the kind supports.
    pub fn parse(text: &str, kind: &KindDef) -> Result<Self, String> {
        let mut terms = Vec::new();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (field, equal, value) = if let Some((f, v)) = part.split_once("!=") {
                (f, false, v)
            } else if let Some((f, v)) = part.split_once("==") {
                (f, true, v)
            } else if let Some((f, v)) = part.split_once('=') {
                (f, true, v)
            } else {
                return Err(format!(
                    "invalid selector: '{text}'; can't understand '{part}'"
                ));
            };
            if !supported_field(kind, field) {
                return Err(format!("field label not supported: {field}"));
            }
            terms.push((field.to_string(), equal, value.to_string()));
        }
        Ok(Self(terms))
    }

    /// Whether the object satisfies every term.
    pub fn matches(&self, object: &Value) -> bool {
        self.0.iter().all(|(field, equal, value)| {
            let mut node = object;
            for segment in field.split('.') {
                node = node.get(segment).unwrap_or(&Value::Null);
            }
            let actual = match node {
                Value::String(s) => s.clone(),
                Value::Null => String::new(),
                other => other.to_string(),
            };
            (actual == *value) == *equal
        })
    }
}

fn supported_field(kind: &KindDef, field: &str) -> bool {
    matches!(field, "metadata.name" | "metadata.namespace")
        || matches!(
            (kind.kind, field),
            ("Secret", "type") | ("Pod", "status.phase" | "spec.nodeName")
        )
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::fake_kube::kinds::find;

    fn labels(v: Value) -> serde_json::Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn label_selectors_cover_every_operator() {
        let l = labels(json!({"isazuremlapp": "true", "tier": "gpu"}));
        let yes = [
            "isazuremlapp=true",
            "isazuremlapp==true",
            "tier in (gpu, cpu)",
            "tier notin (cpu)",
            "!absent",
            "tier",
            "a!=b",
        ];
        for s in yes {
            assert!(LabelSelector::parse(s).unwrap().matches(Some(&l)), "{s}");
        }
        let no = [
            "isazuremlapp=false",
            "tier in (cpu)",
            "!tier",
            "absent",
            "isazuremlapp=true,tier=cpu",
        ];
        for s in no {
            assert!(!LabelSelector::parse(s).unwrap().matches(Some(&l)), "{s}");
        }
        assert!(LabelSelector::parse("a in b").is_err());
    }

    #[test]
    fn field_selectors_check_supported_fields() {
        let secrets = find("", "v1", "secrets").unwrap();
        let obj = json!({"metadata": {"name": "x", "namespace": "d"}, "type": "Opaque"});
        assert!(
            FieldSelector::parse("metadata.name=x,type=Opaque", secrets)
                .unwrap()
                .matches(&obj)
        );
        assert!(
            !FieldSelector::parse("metadata.name!=x", secrets)
                .unwrap()
                .matches(&obj)
        );
        assert!(
            FieldSelector::parse("spec.x=y", secrets)
                .unwrap_err()
                .contains("not supported")
        );
    }
}

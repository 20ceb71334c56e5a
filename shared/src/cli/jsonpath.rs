//! kubectl's JSONPath templates (`-o jsonpath=…`, `-o custom-columns=…`): parsed once, run over JSON.
//!
//! The grammar is kubectl's: text with `{…}` actions; an action is a path (`.a.b`, `['a']`, `[0]`,
//! `[-1]`, `[1:3]`, `[*]`, `..a`, `[?(@.a == "x")]`, `$`, `@`), a quoted string (`{"\n"}`) or
//! `range PATH` … `end`. A missing key prints nothing, as with kubectl's default
//! `--allow-missing-template-keys=true`.

use serde_json::Value;

use super::jsonpath_parse::Parser;

/// A template syntax error with the 1-based character where it was found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} at character {position}")]
pub struct SyntaxError {
    /// 1-based character position in the template.
    pub position: usize,
    /// What was wrong there.
    pub message: String,
}

/// A parsed template: render it over a JSON document.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    source: String,
    nodes: Vec<Node>,
}

/// A piece of a template.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Node {
    /// Literal text, printed as it is.
    Text(String),
    /// A path: its values printed, separated by spaces.
    Path(Path),
    /// `range PATH` … `end`: the children once per value.
    Range(Path, Vec<Node>),
}

/// Where a path starts and the steps from there.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Path {
    /// `$`: the whole document, even inside a range.
    pub absolute: bool,
    pub steps: Vec<Step>,
}

/// One step of a path.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Step {
    /// `.name` or `['a','b']`.
    Names(Vec<String>),
    /// `.*` or `[*]`: every member or element.
    All,
    /// `..name` or `..*`: the step applied at every depth.
    Descend(Box<Step>),
    /// `[0]`, `[-1]`, `[0,2]`.
    Indexes(Vec<i64>),
    /// `[start:end:step]`.
    Slice(Option<i64>, Option<i64>, Option<i64>),
    /// `[?(@.a == "x")]`.
    Filter(Box<Filter>),
}

/// A filter: the elements whose `left` exists, or compares true with `right`.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Filter {
    pub left: Path,
    pub compare: Option<(Compare, Operand)>,
}

/// A filter's comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Compare {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

/// The right side of a comparison.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Operand {
    Literal(Value),
    Path(Path),
}

impl Template {
    /// Parses a template such as `{range .items[*]}{.name}{"\n"}{end}`.
    pub fn parse(source: &str) -> Result<Self, SyntaxError> {
        let nodes = Parser::new(source).template()?;
        Ok(Self {
            source: source.to_string(),
            nodes,
        })
    }

    /// Parses one column's expression as kubectl's custom-columns do: `.a.b`, `a.b` or `{.a.b}`.
    pub fn relaxed(expression: &str) -> Result<Self, SyntaxError> {
        let inner = expression
            .strip_prefix('{')
            .and_then(|e| e.strip_suffix('}'))
            .unwrap_or(expression);
        let dotted = if inner.starts_with(['.', '[', '$', '@']) {
            inner.to_string()
        } else {
            format!(".{inner}")
        };
        Self::parse(&format!("{{{dotted}}}")).map_err(|e| SyntaxError {
            // The braces and the dot were ours: point into what the user wrote.
            position: e
                .position
                .saturating_sub(1 + dotted.len() - inner.len())
                .max(1),
            message: e.message,
        })
    }

    /// The template as written.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The text the template makes of `document`.
    pub fn render(&self, document: &Value) -> String {
        let mut out = String::new();
        render_nodes(&self.nodes, document, document, &mut out);
        out
    }

    /// Every value the template's paths select, for one custom column.
    pub fn values<'a>(&self, document: &'a Value) -> Vec<&'a Value> {
        let mut found = Vec::new();
        for node in &self.nodes {
            if let Node::Path(path) = node {
                found.extend(select(path, document, document));
            }
        }
        found
    }
}

/// A value as kubectl prints it in a template: strings bare, everything else as compact JSON.
pub fn display(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn render_nodes(nodes: &[Node], root: &Value, current: &Value, out: &mut String) {
    for node in nodes {
        match node {
            Node::Text(text) => out.push_str(text),
            Node::Path(path) => {
                let values: Vec<String> = select(path, root, current)
                    .into_iter()
                    .map(display)
                    .collect();
                out.push_str(&values.join(" "));
            }
            Node::Range(path, children) => {
                let mut values = select(path, root, current);
                // `{range .items}` walks the array's elements, as `{range .items[*]}` does.
                if let [Value::Array(items)] = values.as_slice() {
                    values = items.iter().collect();
                }
                for value in values {
                    render_nodes(children, root, value, out);
                }
            }
        }
    }
}

/// The values `path` selects, starting from `current` (or `root` for `$`).
pub(super) fn select<'a>(path: &Path, root: &'a Value, current: &'a Value) -> Vec<&'a Value> {
    let mut values = vec![if path.absolute { root } else { current }];
    for step in &path.steps {
        values = values
            .into_iter()
            .flat_map(|v| apply(step, root, v))
            .collect();
    }
    values
}

fn apply<'a>(step: &Step, root: &'a Value, value: &'a Value) -> Vec<&'a Value> {
    match step {
        Step::Names(names) => names.iter().filter_map(|n| value.get(n)).collect(),
        Step::All => children(value),
        Step::Descend(inner) => {
            let mut all = Vec::new();
            descendants(value, &mut all);
            all.into_iter()
                .flat_map(|v| apply(inner, root, v))
                .collect()
        }
        Step::Indexes(indexes) => {
            let Value::Array(items) = value else {
                return Vec::new();
            };
            indexes
                .iter()
                .filter_map(|&i| {
                    let i = if i < 0 { items.len() as i64 + i } else { i };
                    usize::try_from(i).ok().and_then(|i| items.get(i))
                })
                .collect()
        }
        Step::Slice(start, end, step) => match value {
            Value::Array(items) => slice(items, *start, *end, *step),
            _ => Vec::new(),
        },
        Step::Filter(filter) => children(value)
            .into_iter()
            .filter(|item| matches(filter, root, item))
            .collect(),
    }
}

fn children(value: &Value) -> Vec<&Value> {
    match value {
        Value::Array(items) => items.iter().collect(),
        Value::Object(map) => map.values().collect(),
        _ => Vec::new(),
    }
}

fn descendants<'a>(value: &'a Value, all: &mut Vec<&'a Value>) {
    all.push(value);
    for child in children(value) {
        descendants(child, all);
    }
}

fn slice(items: &[Value], start: Option<i64>, end: Option<i64>, step: Option<i64>) -> Vec<&Value> {
    let len = items.len() as i64;
    let clamp = |i: i64| if i < 0 { (len + i).max(0) } else { i.min(len) };
    let (start, end) = (clamp(start.unwrap_or(0)), clamp(end.unwrap_or(len)));
    let step = step.unwrap_or(1).max(1) as usize;
    (start..end)
        .step_by(step)
        .filter_map(|i| items.get(i as usize))
        .collect()
}

fn matches(filter: &Filter, root: &Value, item: &Value) -> bool {
    let left = select(&filter.left, root, item);
    let Some((compare, operand)) = &filter.compare else {
        return left.iter().any(|v| !v.is_null());
    };
    let right: Vec<&Value> = match operand {
        Operand::Literal(v) => vec![v],
        Operand::Path(p) => select(p, root, item),
    };
    left.iter()
        .any(|l| right.iter().any(|r| holds(*compare, l, r)))
}

fn holds(compare: Compare, left: &Value, right: &Value) -> bool {
    use std::cmp::Ordering;
    let order = match (left, right) {
        (Value::Number(a), Value::Number(b)) => a.as_f64().partial_cmp(&b.as_f64()),
        (Value::String(a), Value::String(b)) => Some(a.cmp(b)),
        (a, b) if a == b => Some(Ordering::Equal),
        _ => None,
    };
    match (compare, order) {
        (Compare::Eq, o) => o == Some(Ordering::Equal),
        (Compare::Ne, o) => o != Some(Ordering::Equal),
        (_, None) => false,
        (Compare::Lt, Some(o)) => o == Ordering::Less,
        (Compare::Le, Some(o)) => o != Ordering::Greater,
        (Compare::Gt, Some(o)) => o == Ordering::Greater,
        (Compare::Ge, Some(o)) => o != Ordering::Less,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(template: &str, doc: &Value) -> String {
        Template::parse(template).unwrap().render(doc)
    }

    fn list() -> Value {
        json!({"kind": "List", "items": [
            {"metadata": {"name": "a", "labels": {"app.kubernetes.io/name": "fe"}}, "status": {"replicas": 1, "phase": "Running"}},
            {"metadata": {"name": "b"}, "status": {"replicas": 3, "phase": "Pending"}},
        ]})
    }

    #[test]
    fn paths_print_like_kubectl() {
        let doc = list();
        assert_eq!(run("{.items[*].metadata.name}", &doc), "a b");
        assert_eq!(run("{.items[0].metadata.name}", &doc), "a");
        assert_eq!(run("{.items[-1].metadata.name}", &doc), "b");
        assert_eq!(run("{.items[0:1].metadata.name}", &doc), "a");
        assert_eq!(run("{$.kind}", &doc), "List");
        assert_eq!(run("kind={.kind}!", &doc), "kind=List!");
        assert_eq!(run("{..name}", &doc), "a b");
        assert_eq!(
            run("{.items[1].status}", &doc),
            r#"{"phase":"Pending","replicas":3}"#
        );
        assert_eq!(run("{.items[0]['metadata']['name']}", &doc), "a");
        assert_eq!(
            run(
                r"{.items[0].metadata.labels.app\.kubernetes\.io/name}",
                &doc
            ),
            "fe"
        );
        assert_eq!(run("{.missing.key}", &doc), "");
    }

    #[test]
    fn ranges_and_filters() {
        let doc = list();
        assert_eq!(
            run(
                r#"{range .items[*]}{.metadata.name}{"\t"}{.status.replicas}{"\n"}{end}"#,
                &doc
            ),
            "a\t1\nb\t3\n"
        );
        assert_eq!(
            run(
                r#"{.items[?(@.status.phase=="Pending")].metadata.name}"#,
                &doc
            ),
            "b"
        );
        assert_eq!(
            run("{.items[?(@.status.replicas > 1)].metadata.name}", &doc),
            "b"
        );
        assert_eq!(
            run("{.items[?(@.metadata.labels)].metadata.name}", &doc),
            "a"
        );
        assert_eq!(run("{range .items}{.metadata.name},{end}", &doc), "a,b,");
    }

    #[test]
    fn syntax_errors_name_the_character() {
        let cases = [
            ("{.items[", 8),
            ("{.a", 1),
            ("x{end}", 2),
            ("{range .items[*]}{.a}", 1),
            ("{.items[?(@.a ~ 1)]}", 15),
            ("{}", 1),
            ("{.a}{\"x}", 6),
        ];
        for (template, position) in cases {
            let e = Template::parse(template).unwrap_err();
            assert_eq!(e.position, position, "{template}: {e}");
        }
    }

    #[test]
    fn relaxed_columns() {
        let doc = list();
        let t = Template::relaxed("items[*].metadata.name").unwrap();
        assert_eq!(t.values(&doc).len(), 2);
        let t = Template::relaxed("{.kind}").unwrap();
        assert_eq!(t.values(&doc), vec![&json!("List")]);
        assert_eq!(Template::relaxed(".a[").unwrap_err().position, 3);
    }
}

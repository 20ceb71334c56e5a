//! Printing one JSON document in a document format: json, jsonc, yaml, tsv, none, jsonpath,
//! custom-columns, and az's table of a `--query` answer.

use serde_json::Value;

use super::format::OutputFormat;
use super::jsonpath::{Template, display};
use super::output::to_yaml;
use super::table::Table;

/// The text `format` makes of `document`; `color` only matters to jsonc.
pub fn render(document: &Value, format: &OutputFormat, color: bool) -> Result<String, String> {
    Ok(match format {
        OutputFormat::Json => pretty(document, false),
        OutputFormat::Jsonc => pretty(document, color),
        OutputFormat::Yaml => to_yaml(document)?,
        OutputFormat::Tsv => tsv(document),
        OutputFormat::None => String::new(),
        OutputFormat::JsonPath(template) => template.render(document),
        OutputFormat::CustomColumns(columns) => custom_columns(document, columns),
        OutputFormat::Table | OutputFormat::Wide => value_table(document),
        OutputFormat::Name | OutputFormat::Csv => {
            return Err(format!("-o {format} has no form for this output"));
        }
    })
}

/// Pretty JSON with a final newline; in colour, keys blue, strings green, the rest cyan.
fn pretty(value: &Value, color: bool) -> String {
    let mut out = String::new();
    if color {
        colored(value, 0, &mut out);
    } else {
        out = serde_json::to_string_pretty(value).unwrap_or_default();
    }
    out.push('\n');
    out
}

fn colored(value: &Value, depth: usize, out: &mut String) {
    let pad = |d: usize| "  ".repeat(d);
    let paint = |code: &str, text: &str| format!("\x1b[{code}m{text}\x1b[0m");
    match value {
        Value::Object(map) if !map.is_empty() => {
            out.push_str("{\n");
            for (i, (key, child)) in map.iter().enumerate() {
                out.push_str(&pad(depth + 1));
                out.push_str(&paint("94", &Value::String(key.clone()).to_string()));
                out.push_str(": ");
                colored(child, depth + 1, out);
                out.push_str(if i + 1 < map.len() { ",\n" } else { "\n" });
            }
            out.push_str(&pad(depth));
            out.push('}');
        }
        Value::Array(items) if !items.is_empty() => {
            out.push_str("[\n");
            for (i, child) in items.iter().enumerate() {
                out.push_str(&pad(depth + 1));
                colored(child, depth + 1, out);
                out.push_str(if i + 1 < items.len() { ",\n" } else { "\n" });
            }
            out.push_str(&pad(depth));
            out.push(']');
        }
        Value::String(_) => out.push_str(&paint("32", &value.to_string())),
        other => out.push_str(&paint("36", &other.to_string())),
    }
}

/// az's tsv (knack `_TsvOutput`): one line per element of a top-level array; an object's
/// values in key order, a nested array as its length, a nested object as nothing; Python's
/// spelling of true, false and null.
fn tsv(document: &Value) -> String {
    let rows: Vec<&Value> = match document {
        Value::Array(items) => items.iter().collect(),
        other => vec![other],
    };
    let cell = |v: &Value| match v {
        Value::Array(items) => items.len().to_string(),
        Value::Object(_) => String::new(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::Null => "None".into(),
        other => display(other),
    };
    let mut out = String::new();
    for row in rows {
        let cells: Vec<String> = match row {
            Value::Object(map) => map.values().map(cell).collect(),
            Value::Array(items) => items.iter().map(cell).collect(),
            other => vec![cell(other)],
        };
        out.push_str(&cells.join("\t"));
        out.push('\n');
    }
    out
}

/// kubectl's custom columns: a row per item of a `List` or array, else one row; `<none>` where
/// a path selects nothing, values joined with commas where it selects several.
fn custom_columns(document: &Value, columns: &[(String, Template)]) -> String {
    let rows: Vec<&Value> = match document {
        Value::Array(items) => items.iter().collect(),
        Value::Object(map) if map.get("kind").and_then(Value::as_str) == Some("List") => map
            .get("items")
            .and_then(Value::as_array)
            .map(|items| items.iter().collect())
            .unwrap_or_default(),
        other => vec![other],
    };
    let mut table = Table::new(columns.iter().map(|(header, _)| header.as_str()));
    for row in rows {
        table.row(columns.iter().map(|(_, template)| {
            let values = template.values(row);
            if values.is_empty() {
                "<none>".to_string()
            } else {
                values
                    .into_iter()
                    .map(display)
                    .collect::<Vec<_>>()
                    .join(",")
            }
        }));
    }
    table.to_string()
}

/// az's table of an answer: objects' scalar fields as columns (from the first object), a list of
/// scalars as one `Result` column.
fn value_table(document: &Value) -> String {
    let rows: Vec<&Value> = match document {
        Value::Array(items) => items.iter().collect(),
        Value::Null => Vec::new(),
        other => vec![other],
    };
    // Nothing found prints nothing, as az's table does.
    if rows.is_empty() {
        return String::new();
    }
    let headers: Vec<String> = match rows.first() {
        Some(Value::Object(map)) => map
            .iter()
            .filter(|(_, v)| !v.is_object() && !v.is_array())
            .map(|(k, _)| k.clone())
            .collect(),
        _ => vec!["Result".to_string()],
    };
    let mut table = Table::new(headers.iter().map(String::as_str));
    for row in rows {
        table.row(headers.iter().map(|h| match row {
            Value::Object(map) => map.get(h).map(display).unwrap_or_default(),
            other => display(other),
        }));
    }
    table.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn tsv_is_az_s() {
        let v = json!([{"name": "a", "ok": true, "tags": {"x": 1}, "ids": [1, 2], "gone": null}]);
        assert_eq!(tsv(&v), "None\t2\ta\tTrue\t\n");
        assert_eq!(tsv(&json!("bare")), "bare\n");
        assert_eq!(tsv(&json!(["a", "b"])), "a\nb\n");
    }

    #[test]
    fn custom_columns_walk_a_list() {
        let list = json!({"kind": "List", "items": [{"name": "a", "n": [1, 2]}, {"name": "b"}]});
        let OutputFormat::CustomColumns(columns) =
            OutputFormat::parse("custom-columns=NAME:.name,N:.n[*]").unwrap()
        else {
            unreachable!()
        };
        let text = custom_columns(&list, &columns);
        let lines: Vec<&str> = text.lines().map(str::trim_end).collect();
        assert_eq!(lines, ["NAME   N", "a      1,2", "b      <none>"]);
    }

    #[test]
    fn az_tables_of_answers() {
        let objects = json!([{"name": "a", "tags": {}, "n": 1}]);
        assert_eq!(
            value_table(&objects)
                .lines()
                .next()
                .unwrap()
                .split_whitespace()
                .collect::<Vec<_>>(),
            ["n", "name"]
        );
        assert_eq!(value_table(&json!(["x"])), "Result\nx\n");
        assert_eq!(value_table(&json!([])), "");
        assert_eq!(value_table(&Value::Null), "");
    }

    #[test]
    fn jsonc_is_json_in_colour() {
        let v = json!({"a": [1, "x"], "b": {}});
        let text = pretty(&v, true);
        assert!(text.contains("\x1b[94m\"a\"\x1b[0m"), "{text}");
        let plain = text
            .replace("\x1b[94m", "")
            .replace("\x1b[32m", "")
            .replace("\x1b[36m", "");
        let plain = plain.replace("\x1b[0m", "");
        assert_eq!(serde_json::from_str::<Value>(&plain).unwrap(), v);
    }
}

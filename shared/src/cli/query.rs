//! `--query`: az's JMESPath, checked when parsed — syntax, depth, function names — so that a
//! command never does its work and then fails on its query.

use jmespath::ast::Ast;

/// A `--query` (JMESPath) checked when parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query(String);

impl Query {
    /// Compiles `text`; a syntax error names its character.
    pub fn parse(text: &str) -> Result<Self, String> {
        // The JMESPath parser recurses once per level: a deep enough query overflows the stack.
        if let Some(at) = too_deep(text) {
            return Err(format!(
                "JMESPath: nested deeper than {MAX_DEPTH} levels at character {at}"
            ));
        }
        let expression = jmespath::compile(text).map_err(|e| jmespath_error(&e))?;
        if let Some((name, offset)) = unknown_function(expression.as_ast()) {
            // The parser's offset is the call's `(`: point at the name.
            let at = offset.saturating_sub(name.chars().count()) + 1;
            return Err(format!("JMESPath: no function `{name}` at character {at}"));
        }
        Ok(Self(text.to_string()))
    }

    /// The query's answer for `value`.
    pub fn search(&self, value: &serde_json::Value) -> Result<serde_json::Value, String> {
        let expression = jmespath::compile(&self.0).map_err(|e| jmespath_error(&e))?;
        let answer = expression.search(value).map_err(|e| jmespath_error(&e))?;
        serde_json::to_value(&*answer).map_err(|e| e.to_string())
    }
}

/// The deepest `(`, `[`, `{` nesting a query may have.
const MAX_DEPTH: usize = 128;

/// Where (1-based) a query's brackets first nest past [`MAX_DEPTH`], quoted text aside.
fn too_deep(text: &str) -> Option<usize> {
    let (mut depth, mut quote, mut escaped) = (0usize, None, false);
    for (i, c) in text.chars().enumerate() {
        match (quote, c) {
            (Some(_), _) if escaped => escaped = false,
            (Some(_), '\\') => escaped = true,
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"' | '`') => quote = Some(c),
            (None, '(' | '[' | '{') => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Some(i + 1);
                }
            }
            (None, ')' | ']' | '}') => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    None
}

fn jmespath_error(e: &jmespath::JmespathError) -> String {
    let reason = match &e.reason {
        jmespath::ErrorReason::Parse(text) => text.clone(),
        jmespath::ErrorReason::Runtime(error) => error.to_string(),
    };
    format!("JMESPath: {reason} at character {}", e.offset + 1)
}

/// The first call of a function JMESPath does not have, and where it is.
fn unknown_function(ast: &Ast) -> Option<(String, usize)> {
    let children: Vec<&Ast> = match ast {
        Ast::Function { name, args, offset } => {
            if jmespath::DEFAULT_RUNTIME.get_function(name).is_none() {
                return Some((name.clone(), *offset));
            }
            args.iter().collect()
        }
        Ast::Comparison { lhs, rhs, .. }
        | Ast::Projection { lhs, rhs, .. }
        | Ast::And { lhs, rhs, .. }
        | Ast::Or { lhs, rhs, .. }
        | Ast::Subexpr { lhs, rhs, .. } => vec![lhs, rhs],
        Ast::Condition {
            predicate, then, ..
        } => vec![predicate, then],
        Ast::Expref { ast, .. } => vec![ast],
        Ast::Flatten { node, .. } | Ast::Not { node, .. } | Ast::ObjectValues { node, .. } => {
            vec![node]
        }
        Ast::MultiList { elements, .. } => elements.iter().collect(),
        Ast::MultiHash { elements, .. } => elements.iter().map(|kv| &kv.value).collect(),
        _ => Vec::new(),
    };
    children.into_iter().find_map(unknown_function)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_are_checked_when_parsed() {
        let e = Query::parse("[?name == ").unwrap_err();
        assert!(
            e.starts_with("JMESPath: ") && e.contains("at character"),
            "{e}"
        );
        let deep = format!("{}a{}", "(".repeat(5000), ")".repeat(5000));
        assert!(
            Query::parse(&deep)
                .unwrap_err()
                .contains("at character 129")
        );
        assert!(Query::parse("'((((' | [0]").is_ok());
        let e = Query::parse("[].{n: name, l: lenght(tags)}").unwrap_err();
        assert_eq!(e, "JMESPath: no function `lenght` at character 17");
        assert!(Query::parse("sort_by([], &name)[].length(tags)").is_ok());
    }
}

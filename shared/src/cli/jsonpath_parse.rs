//! The JSONPath template parser: characters in, [`Node`]s out, errors at a 1-based character.

use serde_json::Value;

use super::jsonpath::{Compare, Filter, Node, Operand, Path, Step, SyntaxError};

/// Reads a template one character at a time.
pub(super) struct Parser {
    chars: Vec<char>,
    at: usize,
    /// Filters open around the current position: each is a level of recursion.
    filters: usize,
}

/// The deepest filters may nest (the parser recurses once per level).
const MAX_FILTERS: usize = 32;

/// Characters that end a bare field name.
const STOPS: &[char] = &[
    '.', '[', ']', '{', '}', '(', ')', '"', '\'', ',', '=', '!', '<', '>', '&', '|', ' ', '\t',
];

impl Parser {
    pub fn new(source: &str) -> Self {
        Self {
            chars: source.chars().collect(),
            at: 0,
            filters: 0,
        }
    }

    /// The whole template: text and actions, ranges closed.
    pub fn template(mut self) -> Result<Vec<Node>, SyntaxError> {
        // Each open range: where its `{` was, its path, the nodes before it.
        let mut stack: Vec<(usize, Path, Vec<Node>)> = Vec::new();
        let mut nodes = Vec::new();
        let mut text = String::new();
        while let Some(c) = self.peek() {
            if c != '{' {
                text.push(c);
                self.at += 1;
                continue;
            }
            if !text.is_empty() {
                nodes.push(Node::Text(std::mem::take(&mut text)));
            }
            let open = self.at;
            self.at += 1;
            self.spaces();
            if self.word("range") {
                self.spaces();
                let path = self.path()?;
                self.close(open)?;
                stack.push((open, path, std::mem::take(&mut nodes)));
            } else if self.word("end") {
                self.close(open)?;
                let Some((_, path, before)) = stack.pop() else {
                    return Err(error(open, "`end` without a `range`"));
                };
                let body = std::mem::replace(&mut nodes, before);
                nodes.push(Node::Range(path, body));
            } else if let Some(quote @ ('"' | '\'')) = self.peek() {
                let literal = self.quoted(quote)?;
                self.close(open)?;
                nodes.push(Node::Text(literal));
            } else if self.peek() == Some('}') {
                return Err(error(open, "empty action `{}`"));
            } else {
                let path = self.path()?;
                self.close(open)?;
                nodes.push(Node::Path(path));
            }
        }
        if let Some((open, _, _)) = stack.pop() {
            return Err(error(open, "`range` without an `{end}`"));
        }
        if !text.is_empty() {
            nodes.push(Node::Text(text));
        }
        Ok(nodes)
    }

    /// A path: `$`, `@` or a first step, then steps until something that is not one.
    fn path(&mut self) -> Result<Path, SyntaxError> {
        let start = self.at;
        let absolute = match self.peek() {
            Some('$') => {
                self.at += 1;
                true
            }
            Some('@') => {
                self.at += 1;
                false
            }
            Some('.' | '[') => false,
            _ => {
                return Err(error(
                    start,
                    "expected a path starting with `.`, `[`, `$` or `@`",
                ));
            }
        };
        let mut steps = Vec::new();
        loop {
            match self.peek() {
                Some('.') if self.peek_at(1) == Some('.') => {
                    self.at += 2;
                    let step = match self.peek() {
                        Some('[') => self.bracket()?,
                        _ => self.member()?,
                    };
                    steps.push(Step::Descend(Box::new(step)));
                }
                Some('.') => {
                    self.at += 1;
                    let step = match self.peek() {
                        Some('[') => self.bracket()?,
                        _ => self.member()?,
                    };
                    steps.push(step);
                }
                Some('[') => steps.push(self.bracket()?),
                _ => return Ok(Path { absolute, steps }),
            }
        }
    }

    /// After a dot: `*` or a field name (`\.` keeps a dot in the name).
    fn member(&mut self) -> Result<Step, SyntaxError> {
        if self.peek() == Some('*') {
            self.at += 1;
            return Ok(Step::All);
        }
        let start = self.at;
        let mut name = String::new();
        while let Some(c) = self.peek() {
            if c == '\\' {
                let Some(next) = self.peek_at(1) else { break };
                name.push(next);
                self.at += 2;
            } else if STOPS.contains(&c) {
                break;
            } else {
                name.push(c);
                self.at += 1;
            }
        }
        if name.is_empty() {
            return Err(error(start, "expected a field name after `.`"));
        }
        Ok(Step::Names(vec![name]))
    }

    /// `[…]`: `*`, indexes, a slice, quoted names, or a filter.
    fn bracket(&mut self) -> Result<Step, SyntaxError> {
        let open = self.at;
        self.at += 1;
        self.spaces();
        let step = match self.peek() {
            None | Some('}') => return Err(error(open, "unclosed `[`")),
            Some('*') => {
                self.at += 1;
                Step::All
            }
            Some('?') => {
                if self.filters == MAX_FILTERS {
                    return Err(error(self.at, "filters nested deeper than 32"));
                }
                self.at += 1;
                self.spaces();
                self.expect('(', "expected `(` after `?`")?;
                self.filters += 1;
                let filter = self.filter();
                self.filters -= 1;
                let filter = filter?;
                self.spaces();
                self.expect(')', "expected `)` to close the filter")?;
                Step::Filter(Box::new(filter))
            }
            Some(q @ ('"' | '\'')) => {
                let mut names = vec![self.quoted(q)?];
                while self.comma() {
                    let Some(q @ ('"' | '\'')) = self.peek() else {
                        return Err(error(self.at, "expected a quoted name"));
                    };
                    names.push(self.quoted(q)?);
                }
                Step::Names(names)
            }
            _ => self.numbers()?,
        };
        self.spaces();
        if self.peek() != Some(']') {
            return Err(match self.peek() {
                None | Some('}') => error(open, "unclosed `[`"),
                Some(c) => error(self.at, &format!("unexpected `{c}` in `[…]`")),
            });
        }
        self.at += 1;
        Ok(step)
    }

    /// `0`, `-1`, `0,2`, `1:3`, `::2`.
    fn numbers(&mut self) -> Result<Step, SyntaxError> {
        let first = self.integer()?;
        if self.peek() == Some(':') {
            self.at += 1;
            let end = self.integer()?;
            let step = if self.peek() == Some(':') {
                self.at += 1;
                self.integer()?
            } else {
                None
            };
            return Ok(Step::Slice(first, end, step));
        }
        let Some(first) = first else {
            return Err(error(
                self.at,
                "expected `*`, an index, a slice, a quoted name or `?(`",
            ));
        };
        let mut indexes = vec![first];
        while self.comma() {
            match self.integer()? {
                Some(i) => indexes.push(i),
                None => return Err(error(self.at, "expected an index after `,`")),
            }
        }
        Ok(Step::Indexes(indexes))
    }

    fn integer(&mut self) -> Result<Option<i64>, SyntaxError> {
        self.spaces();
        let start = self.at;
        if self.peek() == Some('-') {
            self.at += 1;
        }
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.at += 1;
        }
        let text: String = self.chars[start..self.at].iter().collect();
        self.spaces();
        if text.is_empty() {
            return Ok(None);
        }
        text.parse()
            .map(Some)
            .map_err(|_| error(start, &format!("`{text}` is not an index")))
    }

    /// `@.a`, `@.a == "x"`, `@.n > 1`, `@.a != @.b`.
    fn filter(&mut self) -> Result<Filter, SyntaxError> {
        self.spaces();
        let left = self.path()?;
        self.spaces();
        let at = self.at;
        let two: String = self.chars[self.at..].iter().take(2).collect();
        let compare = match (two.as_str(), two.chars().next()) {
            ("==", _) => Compare::Eq,
            ("!=", _) => Compare::Ne,
            ("<=", _) => Compare::Le,
            (">=", _) => Compare::Ge,
            (_, Some('<')) => Compare::Lt,
            (_, Some('>')) => Compare::Gt,
            (_, Some(')')) => {
                return Ok(Filter {
                    left,
                    compare: None,
                });
            }
            (_, Some(c)) => return Err(error(at, &format!("unexpected `{c}` in the filter"))),
            (_, None) => return Err(error(at, "unclosed filter")),
        };
        self.at += if matches!(compare, Compare::Lt | Compare::Gt) {
            1
        } else {
            2
        };
        self.spaces();
        let operand = match self.peek() {
            Some(q @ ('"' | '\'')) => Operand::Literal(Value::String(self.quoted(q)?)),
            Some('@' | '$' | '.') => Operand::Path(self.path()?),
            _ => Operand::Literal(self.literal()?),
        };
        Ok(Filter {
            left,
            compare: Some((compare, operand)),
        })
    }

    /// A number, `true`, `false` or `null`.
    fn literal(&mut self) -> Result<Value, SyntaxError> {
        let start = self.at;
        while self.peek().is_some_and(|c| !c.is_whitespace() && c != ')') {
            self.at += 1;
        }
        let text: String = self.chars[start..self.at].iter().collect();
        serde_json::from_str::<Value>(&text)
            .ok()
            .filter(|v| !v.is_object() && !v.is_array() && !v.is_string())
            .ok_or_else(|| {
                error(
                    start,
                    "expected a number, a quoted string, true, false, null or a path",
                )
            })
    }

    /// A quoted string with `\n`, `\t`, `\\` and quote escapes.
    fn quoted(&mut self, quote: char) -> Result<String, SyntaxError> {
        let open = self.at;
        self.at += 1;
        let mut text = String::new();
        loop {
            match self.peek() {
                None => return Err(error(open, "unclosed quote")),
                Some(c) if c == quote => {
                    self.at += 1;
                    return Ok(text);
                }
                Some('\\') => {
                    let escaped = match self.peek_at(1) {
                        Some('n') => '\n',
                        Some('t') => '\t',
                        Some('r') => '\r',
                        Some(c) => c,
                        None => return Err(error(open, "unclosed quote")),
                    };
                    text.push(escaped);
                    self.at += 2;
                }
                Some(c) => {
                    text.push(c);
                    self.at += 1;
                }
            }
        }
    }

    fn close(&mut self, open: usize) -> Result<(), SyntaxError> {
        self.spaces();
        match self.peek() {
            Some('}') => {
                self.at += 1;
                Ok(())
            }
            None => Err(error(open, "unclosed `{`")),
            Some(c) => Err(error(self.at, &format!("unexpected `{c}`"))),
        }
    }

    fn expect(&mut self, c: char, message: &str) -> Result<(), SyntaxError> {
        if self.peek() == Some(c) {
            self.at += 1;
            Ok(())
        } else {
            Err(error(self.at, message))
        }
    }

    fn comma(&mut self) -> bool {
        self.spaces();
        let found = self.peek() == Some(',');
        if found {
            self.at += 1;
            self.spaces();
        }
        found
    }

    /// A keyword followed by a space or `}`.
    fn word(&mut self, word: &str) -> bool {
        let len = word.chars().count();
        let matched = self.chars[self.at..]
            .iter()
            .take(len)
            .copied()
            .eq(word.chars())
            && self
                .peek_at(len)
                .is_none_or(|c| c.is_whitespace() || c == '}');
        if matched {
            self.at += len;
        }
        matched
    }

    fn spaces(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.at += 1;
        }
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.at).copied()
    }

    fn peek_at(&self, ahead: usize) -> Option<char> {
        self.chars.get(self.at + ahead).copied()
    }
}

fn error(at: usize, message: &str) -> SyntaxError {
    SyntaxError {
        position: at + 1,
        message: message.to_string(),
    }
}

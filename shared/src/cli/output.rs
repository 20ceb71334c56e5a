//! The printer: stdout carries data only; stderr carries messages.
//!
//! Tables and names print as they come. The document formats (json, yaml, jsonpath, tsv, …) are
//! collected and printed once, when the command ends: one object alone, several as one `List`
//! (cluster verbs) or array (Azure verbs), `--query` applied to the whole.
//! `Printer` owns both writers and the input used for confirmations, so in-process tests capture
//! everything a plugin says and answer its questions.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::io::{self, BufRead, IsTerminal, Write};
use std::sync::{Arc, Mutex};

use serde::Serialize;
use serde_json::{Value, json};

use super::format::{Formats, OutputFormat};
use super::query::Query;
use super::{OutputArgs, Table, render};
use crate::Error;

/// Something a command prints in every output format.
pub trait Report: Serialize {
    /// The tables for `-o table` (`wide` for `-o wide`), printed one after the other.
    fn tables(&self, wide: bool) -> Vec<Table>;
    /// The `kind/name` lines for `-o name`.
    fn names(&self) -> Vec<String>;

    /// The text for `-o csv`, for reports with tabular data; `None` refuses the format.
    fn csv(&self) -> Option<String> {
        None
    }
}

/// `1 replica`, `2 replicas`: a count with its noun.
pub fn plural(count: impl Into<u64>, noun: &str) -> String {
    match count.into() {
        1 => format!("1 {noun}"),
        n => format!("{n} {noun}s"),
    }
}

/// A writer shared with a test that reads what was written.
#[derive(Debug, Clone, Default)]
pub struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    /// Everything written so far, as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("captured buffer")).into_owned()
    }
}

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0
            .lock()
            .expect("captured buffer")
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Where a plugin's output goes and where its confirmations come from.
pub struct Printer {
    out: Box<dyn Write + Send>,
    err: Box<dyn Write + Send>,
    input: Box<dyn BufRead + Send>,
    interactive: bool,
    progress: bool,
    color: bool,
    /// jsonc is coloured unless --no-color or NO_COLOR, terminal or not, as az does.
    jsonc_color: bool,
    /// The `-o` format the user chose.
    pub format: OutputFormat,
    query: Option<Query>,
    /// Several documents print as an array (Azure verbs) rather than a `List`.
    arrays: bool,
    documents: Vec<Value>,
}

impl Printer {
    /// The process's stdout, stderr and stdin; colour only when stderr is a terminal.
    pub fn stdio(format: OutputFormat, no_color: bool) -> Self {
        Self {
            out: Box::new(io::stdout()),
            err: Box::new(io::stderr()),
            input: Box::new(io::BufReader::new(io::stdin())),
            interactive: io::stdin().is_terminal(),
            progress: io::stderr().is_terminal(),
            color: !no_color && io::stderr().is_terminal(),
            jsonc_color: !no_color,
            format,
            query: None,
            arrays: false,
            documents: Vec::new(),
        }
    }

    /// A printer writing into buffers, answering confirmations from `answers`; for tests.
    ///
    /// `interactive` says whether to behave as if stdin were a terminal.
    pub fn captured(
        format: OutputFormat,
        answers: &str,
        interactive: bool,
    ) -> (Self, Captured, Captured) {
        let (out, err) = (Captured::default(), Captured::default());
        let printer = Self {
            out: Box::new(out.clone()),
            err: Box::new(err.clone()),
            input: Box::new(io::Cursor::new(answers.as_bytes().to_vec())),
            interactive,
            progress: interactive,
            color: false,
            jsonc_color: true,
            format,
            query: None,
            arrays: false,
            documents: Vec::new(),
        };
        (printer, out, err)
    }

    /// Takes the output flags of a verb with these formats. Without `-o`, an Azure verb prints
    /// in az's configured format (`AZURE_CORE_OUTPUT`, `[core] output`: json, jsonc, yaml,
    /// yamlc as yaml, table, tsv or none — each one every Azure command prints), else a table,
    /// as a cluster verb does.
    pub fn set_output(&mut self, output: &OutputArgs, formats: Formats, env: &crate::Env) {
        let configured = || {
            let text = crate::arm::core_output(env)?;
            let format = OutputFormat::parse(if text == "yamlc" { "yaml" } else { &text }).ok()?;
            let every_command = !matches!(format, OutputFormat::Wide | OutputFormat::Csv);
            (formats.take(&format) && every_command).then_some(format)
        };
        self.format = match &output.output {
            Some(format) => format.clone(),
            None if formats.azure => configured().unwrap_or_default(),
            None => OutputFormat::Table,
        };
        self.query = output.query.clone();
        self.arrays = formats.azure;
    }

    /// True when what is printed is a JSON document (json, yaml, jsonpath, tsv, `--query`, …),
    /// not a table or names.
    pub fn documents(&self) -> bool {
        self.format.is_document()
            || (self.query.is_some()
                && matches!(self.format, OutputFormat::Table | OutputFormat::Wide))
    }

    /// True when what is printed is a table (`-o table|wide` without `--query`).
    pub fn tables(&self) -> bool {
        matches!(self.format, OutputFormat::Table | OutputFormat::Wide) && self.query.is_none()
    }

    /// Prints a report in the chosen format; a format the report has no form for is a usage error.
    pub fn report<R: Report>(&mut self, report: &R) -> Result<(), Error> {
        if self.documents() {
            return self.document(report, String::new);
        }
        match self.format {
            OutputFormat::Csv => match report.csv() {
                Some(text) => self.out.write_all(text.as_bytes()).map_err(stdout),
                None => Err(Error::usage(
                    "-o csv is not available for this command",
                    "use -o json or -o yaml",
                )),
            },
            OutputFormat::Name => {
                for name in report.names() {
                    writeln!(self.out, "{name}").map_err(stdout)?;
                }
                Ok(())
            }
            _ => {
                let tables = report.tables(self.format == OutputFormat::Wide);
                let text: Vec<String> = tables
                    .iter()
                    .filter(|t| !t.is_empty())
                    .map(Table::to_string)
                    .collect();
                self.out
                    .write_all(text.join("\n").as_bytes())
                    .map_err(stdout)
            }
        }
    }

    /// Prints `value` as a document in a document format (collected until [`Printer::finish`]),
    /// else `text()` as a line (nothing when it is empty).
    pub fn document<T: Serialize + ?Sized>(
        &mut self,
        value: &T,
        text: impl FnOnce() -> String,
    ) -> Result<(), Error> {
        if self.documents() {
            let value = serde_json::to_value(value).map_err(|e| {
                Error::usage(
                    format!("cannot print this output as {}: {e}", self.format),
                    "use -o table",
                )
            })?;
            self.documents.push(value);
            return Ok(());
        }
        let text = text();
        if text.is_empty() {
            return Ok(());
        }
        self.line(&text).map_err(stdout)
    }

    /// Prints the collected documents: one alone, several as one `List` or array, `--query`
    /// applied first. Called once, when the command ends (also after a failure: what was done
    /// is shown).
    pub fn finish(&mut self) -> Result<(), Error> {
        let mut documents = std::mem::take(&mut self.documents);
        let document = match documents.len() {
            0 => return Ok(()),
            1 => documents.remove(0),
            _ if self.arrays => Value::Array(documents),
            _ => json!({"apiVersion": "v1", "kind": "List", "items": documents,
                        "metadata": {"resourceVersion": ""}}),
        };
        let document = match &self.query {
            Some(query) => query.search(&document).map_err(|e| {
                Error::usage(format!("--query: {e}"), "check the query against -o json")
            })?,
            None => document,
        };
        // az prints nothing for a null answer (a --query that found nothing), in every format.
        if document.is_null() {
            return Ok(());
        }
        let color = self.jsonc_color;
        let text = render::render(&document, &self.format, color)
            .map_err(|e| Error::usage(e, "use -o json or -o yaml"))?;
        self.out.write_all(text.as_bytes()).map_err(stdout)
    }

    /// Writes a line of data to stdout.
    pub fn line(&mut self, text: &str) -> io::Result<()> {
        writeln!(self.out, "{text}")
    }

    /// Writes a progress line to stderr, only when stderr is a terminal (scripts get no noise).
    pub fn progress(&mut self, text: &str) {
        if self.progress {
            let _ = writeln!(self.err, "{text}");
        }
    }

    /// Writes a progress or status message to stderr.
    pub fn info(&mut self, text: &str) {
        let _ = writeln!(self.err, "{text}");
    }

    /// Writes `warning: ...` to stderr.
    pub fn warn(&mut self, text: &str) {
        let prefix = self.paint("warning:", "33");
        let _ = writeln!(self.err, "{prefix} {text}");
    }

    /// Writes the error report (`error:`, `caused by:`, `hint:`) to stderr.
    pub fn error_report(&mut self, message: &str, causes: &[String], hint: Option<&str>) {
        let prefix = self.paint("error:", "31");
        let _ = writeln!(self.err, "{prefix} {message}");
        for cause in causes {
            let _ = writeln!(self.err, "  caused by: {cause}");
        }
        if let Some(hint) = hint {
            let prefix = self.paint("hint:", "36");
            let _ = writeln!(self.err, "{prefix} {hint}");
        }
    }

    /// Asks a yes/no question on stderr; refuses (usage error) when stdin is not a terminal.
    ///
    /// Returns true only for an explicit `y` or `yes`.
    pub fn confirm(&mut self, question: &str) -> Result<bool, Error> {
        if !self.interactive {
            return Err(Error::usage(
                format!("refusing to {question} without confirmation: stdin is not a terminal"),
                "pass --yes to confirm, or --dry-run to see what would be done",
            ));
        }
        let _ = write!(self.err, "{}? [y/N]: ", capitalise(question));
        let _ = self.err.flush();
        let mut answer = String::new();
        self.input
            .read_line(&mut answer)
            .map_err(|source| Error::File {
                action: "read the answer from",
                path: "stdin".into(),
                source,
            })?;
        Ok(matches!(
            answer.trim().to_ascii_lowercase().as_str(),
            "y" | "yes"
        ))
    }

    /// Flushes both writers.
    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()?;
        self.err.flush()
    }

    fn paint(&self, text: &str, ansi: &str) -> String {
        if self.color {
            format!("\x1b[1;{ansi}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }
}

fn stdout(source: io::Error) -> Error {
    Error::File {
        action: "write to",
        path: "stdout".into(),
        source,
    }
}

/// YAML with keys sorted (through `serde_json::Value`, whose maps are ordered), as kubectl prints it.
pub fn to_yaml<T: Serialize + ?Sized>(value: &T) -> Result<String, String> {
    let value = serde_json::to_value(value).map_err(|e| e.to_string())?;
    serde_saphyr::to_string(&value).map_err(|e| e.to_string())
}

fn capitalise(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn confirmation_needs_an_explicit_yes_and_a_terminal() {
        let (mut p, _, err) = Printer::captured(OutputFormat::Table, "y\n", true);
        assert!(p.confirm("delete 8 objects").unwrap());
        assert_eq!(err.text(), "Delete 8 objects? [y/N]: ");
        let (mut p, _, _) = Printer::captured(OutputFormat::Table, "\n", true);
        assert!(!p.confirm("delete 8 objects").unwrap());
        let (mut p, _, _) = Printer::captured(OutputFormat::Table, "y\n", false);
        let e = p.confirm("delete 8 objects").unwrap_err();
        assert!(e.to_string().contains("stdin is not a terminal"), "{e}");
    }

    #[test]
    fn yaml_keys_are_sorted() {
        let v = serde_json::json!({"b": 1, "a": {"d": 2, "c": 3}});
        assert_eq!(to_yaml(&v).unwrap(), "a:\n  c: 3\n  d: 2\nb: 1\n");
    }
}

//! `-o/--output`: the formats, which verbs take which, and their parsing.
//!
//! Cluster verbs speak kubectl (`jsonpath=`, `custom-columns=`, several objects as a `List`);
//! Azure verbs speak az (`--query`, `tsv`, `jsonc`, `none`, several objects as an array). Each
//! plugin declares its [`Formats`]; its `-o` then offers, and accepts, only those.

use std::fmt;
use std::sync::Arc;

use clap::builder::{PossibleValue, TypedValueParser};

use super::jsonpath::Template;

/// An `-o/--output` value.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum OutputFormat {
    /// Columns for people.
    #[default]
    Table,
    /// Columns with more detail.
    Wide,
    /// JSON for scripts.
    Json,
    /// JSON in colour (az's `jsonc`).
    Jsonc,
    /// YAML for scripts.
    Yaml,
    /// `kind/name` lines, like kubectl.
    Name,
    /// Comma-separated values (scale's reports).
    Csv,
    /// Tab-separated values, as az prints them.
    Tsv,
    /// Nothing on stdout (az's `none`): the exit code says how it went.
    None,
    /// kubectl's `jsonpath=TEMPLATE`.
    JsonPath(Arc<Template>),
    /// kubectl's `custom-columns=HEADER:PATH,…`.
    CustomColumns(Arc<Vec<(String, Template)>>),
}

impl OutputFormat {
    /// The flag value's name (without a template).
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Table => "table",
            Self::Wide => "wide",
            Self::Json => "json",
            Self::Jsonc => "jsonc",
            Self::Yaml => "yaml",
            Self::Name => "name",
            Self::Csv => "csv",
            Self::Tsv => "tsv",
            Self::None => "none",
            Self::JsonPath(_) => "jsonpath",
            Self::CustomColumns(_) => "custom-columns",
        }
    }

    /// True for the formats printed from the JSON document rather than from tables.
    pub fn is_document(&self) -> bool {
        !matches!(self, Self::Table | Self::Wide | Self::Name | Self::Csv)
    }

    /// Parses any format, templates included; [`Formats`] decides which a verb takes.
    pub fn parse(text: &str) -> Result<Self, String> {
        if let Some(template) = text.strip_prefix("jsonpath=") {
            // Positions count from the start of the -o value, as the user sees it.
            let template = Template::parse(template)
                .map_err(|e| format!("jsonpath: {} at character {}", e.message, e.position + 9))?;
            return Ok(Self::JsonPath(Arc::new(template)));
        }
        if let Some(spec) = text.strip_prefix("custom-columns=") {
            return columns(spec, "custom-columns=".len())
                .map(|c| Self::CustomColumns(Arc::new(c)));
        }
        Ok(match text {
            "table" => Self::Table,
            "wide" => Self::Wide,
            "json" => Self::Json,
            "jsonc" => Self::Jsonc,
            "yaml" => Self::Yaml,
            "name" => Self::Name,
            "csv" => Self::Csv,
            "tsv" => Self::Tsv,
            "none" => Self::None,
            "jsonpath" | "custom-columns" => {
                return Err(format!("`{text}` needs its template: -o {text}=…"));
            }
            _ => return Err(format!("unknown output format `{text}`")),
        })
    }
}

impl fmt::Display for OutputFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `HEADER:PATH,HEADER:PATH`; an error names the character in the whole spec.
fn columns(spec: &str, mut offset: usize) -> Result<Vec<(String, Template)>, String> {
    let mut found = Vec::new();
    for part in spec.split(',') {
        let Some((header, expression)) = part.split_once(':') else {
            return Err(format!(
                "custom-columns: `{part}` at character {} is not HEADER:PATH (e.g. NAME:.metadata.name)",
                offset + 1
            ));
        };
        let template = Template::relaxed(expression).map_err(|e| {
            let at = offset + header.chars().count() + 1 + e.position;
            format!("custom-columns: {} at character {at}", e.message)
        })?;
        found.push((header.to_string(), template));
        offset += part.chars().count() + 1;
    }
    Ok(found)
}

/// Which formats a plugin's commands print.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Formats {
    /// az's family (`--query`, tsv, jsonc, none; arrays) rather than kubectl's (jsonpath,
    /// custom-columns; `List`s).
    pub azure: bool,
    /// The commands whose table `-o wide` widens; the others refuse it.
    pub wide: Option<&'static str>,
    /// Some command prints CSV; the help names which.
    pub csv: Option<&'static str>,
}

impl Formats {
    /// A cluster verb.
    pub const CLUSTER: Self = Self {
        azure: false,
        wide: None,
        csv: None,
    };

    /// An Azure verb.
    pub const AZURE: Self = Self {
        azure: true,
        wide: None,
        csv: None,
    };

    /// The format names this verb takes, in help order.
    pub fn names(&self) -> Vec<&'static str> {
        let mut names = vec!["table"];
        if self.wide.is_some() {
            names.push("wide");
        }
        names.extend(["json", "yaml", "name"]);
        if self.csv.is_some() {
            names.push("csv");
        }
        if self.azure {
            names.extend(["jsonc", "tsv", "none"]);
        } else {
            names.extend(["jsonpath=TEMPLATE", "custom-columns=SPEC"]);
        }
        names
    }

    /// True when this verb takes `format`.
    pub fn take(&self, format: &OutputFormat) -> bool {
        match format {
            OutputFormat::Wide => self.wide.is_some(),
            OutputFormat::Csv => self.csv.is_some(),
            OutputFormat::Jsonc | OutputFormat::Tsv | OutputFormat::None => self.azure,
            OutputFormat::JsonPath(_) | OutputFormat::CustomColumns(_) => !self.azure,
            OutputFormat::Table | OutputFormat::Json | OutputFormat::Yaml | OutputFormat::Name => {
                true
            }
        }
    }

    /// Refuses wide and csv for a command (`status`, `plan`…) that does not print them, before it
    /// does any work.
    pub fn check(&self, format: &OutputFormat, command: &str) -> Result<(), String> {
        let only = match format {
            OutputFormat::Wide => self.wide,
            OutputFormat::Csv => self.csv,
            _ => return Ok(()),
        };
        let commands = only.unwrap_or_default();
        if commands.split(", ").any(|c| c == command) {
            return Ok(());
        }
        Err(format!(
            "{command} does not print -o {format}; it is for: {commands}"
        ))
    }

    /// The `-o` help line.
    pub fn help(&self) -> String {
        let mut help = format!("Output format: {}", self.names().join(", "));
        let only: Vec<String> = [("wide", self.wide), ("csv", self.csv)]
            .into_iter()
            .filter_map(|(format, commands)| Some(format!("{format}: {}", commands?)))
            .collect();
        if !only.is_empty() {
            help.push_str(&format!(" ({})", only.join("; ")));
        }
        help.push_str("; data goes to stdout, messages to stderr [default: table");
        if self.azure {
            help.push_str(
                ", or az's configured one: AZURE_CORE_OUTPUT, `az config set core.output=…`",
            );
        }
        help.push(']');
        help
    }
}

/// clap's parser for `-o` on a verb with these formats.
#[derive(Debug, Clone, Copy)]
pub struct FormatParser(pub Formats);

impl TypedValueParser for FormatParser {
    type Value = OutputFormat;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<OutputFormat, clap::Error> {
        let invalid = |message: String| {
            let arg = arg.map(ToString::to_string).unwrap_or_else(|| "-o".into());
            clap::Error::raw(
                clap::error::ErrorKind::InvalidValue,
                format!(
                    "invalid value '{}' for '{arg}': {message}\nhint: this command prints {}\n",
                    value.to_string_lossy(),
                    self.0.names().join(", ")
                ),
            )
            .with_cmd(cmd)
        };
        let text = value.to_str().ok_or_else(|| invalid("not UTF-8".into()))?;
        let format = OutputFormat::parse(text).map_err(invalid)?;
        if !self.0.take(&format) {
            let family = if self.0.azure {
                "this Azure verb"
            } else {
                "this cluster verb"
            };
            return Err(invalid(format!("{family} does not print `{format}`")));
        }
        Ok(format)
    }

    fn possible_values(&self) -> Option<Box<dyn Iterator<Item = PossibleValue> + '_>> {
        let names = self.0.names();
        Some(Box::new(names.into_iter().map(|n| {
            PossibleValue::new(n.split_once('=').map(|(f, _)| f).unwrap_or(n))
        })))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_take_their_own_formats() {
        let azure = Formats::AZURE;
        let cluster = Formats {
            wide: Some("status"),
            ..Formats::CLUSTER
        };
        let jsonpath = OutputFormat::parse("jsonpath={.a}").unwrap();
        assert!(cluster.take(&jsonpath) && !azure.take(&jsonpath));
        assert!(azure.take(&OutputFormat::Tsv) && !cluster.take(&OutputFormat::Tsv));
        assert!(!azure.take(&OutputFormat::Csv));
        assert!(!cluster.names().contains(&"csv"));
        assert!(cluster.check(&OutputFormat::Wide, "status").is_ok());
        let e = cluster.check(&OutputFormat::Wide, "plan").unwrap_err();
        assert_eq!(e, "plan does not print -o wide; it is for: status");
        assert!(cluster.check(&OutputFormat::Json, "plan").is_ok());
    }

    #[test]
    fn errors_name_the_character() {
        let e = OutputFormat::parse("jsonpath={.items[").unwrap_err();
        assert!(e.ends_with("at character 17"), "{e}");
        let e = OutputFormat::parse("custom-columns=NAME:.name,AGE:.a[").unwrap_err();
        assert!(e.ends_with("at character 33"), "{e}");
        let e = OutputFormat::parse("custom-columns=NAME").unwrap_err();
        assert!(e.contains("HEADER:PATH"), "{e}");
        assert!(OutputFormat::parse("xml").unwrap_err().contains("unknown"));
        let deep = format!("{{.a{}}}", "[?(@.a".repeat(5000));
        assert!(
            OutputFormat::parse(&format!("jsonpath={deep}"))
                .unwrap_err()
                .contains("nested")
        );
    }
}

//! Exit codes: the contract scripts rely on, documented in README and every plugin's `--help`.
//!
//! Anything not classified below is [`ExitCode::FAILURE`] (nextest's rule: unknown failures are 1).

use std::fmt;

/// A process exit code with a documented meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ExitCode(u8);

impl ExitCode {
    /// Done.
    pub const OK: Self = Self(0);
    /// The operation ran and failed (API error, refused by a safety check, partial cleanup).
    pub const FAILURE: Self = Self(1);
    /// Bad arguments, flag combinations, or a kubeconfig/context that cannot be used.
    pub const USAGE: Self = Self(2);
    /// No usable credential: the server rejected it (401) or does not allow the call (403).
    pub const AUTH: Self = Self(3);
    /// The named object does not exist.
    pub const NOT_FOUND: Self = Self(4);
    /// A wait (deletion, rollout, request) ran out of time.
    pub const TIMEOUT: Self = Self(5);

    /// The numeric value passed to the operating system.
    pub fn code(self) -> u8 {
        self.0
    }

    /// The short name used in docs and JSON reports.
    pub fn name(self) -> &'static str {
        match self.0 {
            0 => "ok",
            2 => "usage",
            3 => "auth",
            4 => "not-found",
            5 => "timeout",
            _ => "failure",
        }
    }
}

impl fmt::Display for ExitCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.0, self.name())
    }
}

impl From<ExitCode> for std::process::ExitCode {
    fn from(code: ExitCode) -> Self {
        std::process::ExitCode::from(code.0)
    }
}

/// The exit-code table appended to every plugin's `--help`.
pub const EXIT_CODES_HELP: &str = "\
Exit codes:
  0  ok         done
  1  failure    the operation ran and failed (API error, refused by a safety check, partial result)
  2  usage      bad arguments or flags, unusable kubeconfig or context, confirmation needed
  3  auth       credentials rejected (401) or not allowed (403)
  4  not-found  the named object does not exist
  5  timeout    a wait ran out of time";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_the_documented_table() {
        for code in [
            ExitCode::OK,
            ExitCode::FAILURE,
            ExitCode::USAGE,
            ExitCode::AUTH,
            ExitCode::NOT_FOUND,
            ExitCode::TIMEOUT,
        ] {
            let line = format!("  {}  {}", code.code(), code.name());
            assert!(EXIT_CODES_HELP.contains(&line), "missing {line:?}");
        }
    }
}

//! The one place secrets are taken out of what is printed: JSON bodies a server returned or a dry
//! run shows (by field name), and free text — error messages, log lines — that may quote a private
//! key or a token (by shape).

use std::borrow::Cow;
use std::io::Write;

use serde_json::{Value, json};

/// Field names whose string values are secrets in the bodies we print: TLS private keys, endpoint
/// keys, tokens and passwords.
const SECRET_FIELDS: &[&str] = &[
    "key",
    "primaryKey",
    "secondaryKey",
    "keyValue",
    "accessToken",
    "privateKey",
    "password",
    "clientSecret",
];

/// What a secret is replaced with.
pub const REDACTED: &str = "<redacted>";

/// A body with every secret value replaced by [`REDACTED`], at any depth.
pub fn redacted(body: &Value) -> Value {
    match body {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let shown = if SECRET_FIELDS.contains(&k.as_str()) && v.is_string() {
                        json!(REDACTED)
                    } else {
                        redacted(v)
                    };
                    (k.clone(), shown)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(redacted).collect()),
        Value::String(s) => match text(s) {
            Cow::Borrowed(_) => body.clone(),
            Cow::Owned(clean) => Value::String(clean),
        },
        other => other.clone(),
    }
}

/// Text with PEM private keys (a block cut short included) and JWTs replaced.
pub fn text(input: &str) -> Cow<'_, str> {
    let keys = private_keys(input);
    match jwts(&keys) {
        Cow::Borrowed(_) => keys,
        Cow::Owned(clean) => Cow::Owned(clean),
    }
}

/// PEM blocks whose label ends in `PRIVATE KEY`; a block without its END line (an error message
/// cut short) is redacted to the end of the text.
fn private_keys(input: &str) -> Cow<'_, str> {
    const BEGIN: &str = "-----BEGIN ";
    let mut out = String::new();
    let mut rest = input;
    let mut changed = false;
    while let Some(at) = rest.find(BEGIN) {
        let after = &rest[at + BEGIN.len()..];
        let label_end = after.find("-----").unwrap_or(after.len());
        if !after[..label_end].ends_with("PRIVATE KEY") {
            out.push_str(&rest[..at + BEGIN.len()]);
            rest = after;
            continue;
        }
        changed = true;
        out.push_str(&rest[..at]);
        out.push_str("<redacted private key>");
        let end_line = format!("-----END {}-----", &after[..label_end]);
        rest = match after.find(&end_line) {
            Some(end) => &after[end + end_line.len()..],
            None => "",
        };
    }
    if !changed {
        return Cow::Borrowed(input);
    }
    out.push_str(rest);
    Cow::Owned(out)
}

fn base64url(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || c == '_'
}

/// JSON Web Tokens: `eyJ…` header, a payload and a signature, base64url, dot-separated.
fn jwts(input: &str) -> Cow<'_, str> {
    let mut out = String::new();
    let mut last = 0;
    let mut search = 0;
    while let Some(found) = input[search..].find("eyJ") {
        let start = search + found;
        let boundary = input[..start]
            .chars()
            .next_back()
            .is_none_or(|c| !base64url(c));
        let len = token_length(&input[start..]);
        if boundary && len > 0 {
            out.push_str(&input[last..start]);
            out.push_str("<redacted token>");
            last = start + len;
            search = last;
        } else {
            search = start + 3;
        }
    }
    if last == 0 {
        return Cow::Borrowed(input);
    }
    out.push_str(&input[last..]);
    Cow::Owned(out)
}

/// The length of a JWT at the start of `s`, or 0: three base64url parts, the first two non-empty.
fn token_length(s: &str) -> usize {
    let mut len = 0;
    for part in 0..3 {
        let run = s[len..].chars().take_while(|&c| base64url(c)).count();
        if run == 0 && part < 2 {
            return 0;
        }
        len += run;
        if part < 2 {
            if !s[len..].starts_with('.') {
                return 0;
            }
            len += 1;
        }
    }
    len
}

/// A log writer that redacts each line it is given (tracing writes an event in one call).
pub struct Redacting<W>(pub W);

impl<W: Write> Write for Redacting<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let line = String::from_utf8_lossy(buf);
        self.0.write_all(text(&line).as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const JWT: &str = "eyJhbGciOiJFUzI1NiJ9.eyJhdWQiOiJzdmMifQ.c2lnbmF0dXJl";

    #[test]
    fn secrets_are_redacted_at_any_depth() {
        let body = json!({"properties": {"properties": {"sslConfiguration": {"cert": "C", "key": "K"}}},
                          "keys": [{"primaryKey": "P"}], "keyType": "Primary", "keyValue": "V",
                          "message": format!("token {JWT} refused")});
        let shown = redacted(&body).to_string();
        for secret in ["\"K\"", "\"P\"", "\"V\"", JWT] {
            assert!(!shown.contains(secret), "{secret} in {shown}");
        }
        assert!(shown.contains("\"C\"") && shown.contains("Primary") && shown.contains("refused"));
    }

    #[test]
    fn private_keys_and_tokens_leave_text() {
        let pem = "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEE\n-----END EC PRIVATE KEY-----";
        let cert = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----";
        let said = format!("bad pair: {cert} with {pem}; Bearer {JWT}.");
        let clean = text(&said);
        assert_eq!(
            clean,
            format!("bad pair: {cert} with <redacted private key>; Bearer <redacted token>.")
        );
        let cut =
            "key: -----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQ";
        assert_eq!(text(cut), "key: <redacted private key>");
        for plain in ["eyJ alone", "abceyJx.y.z", "no secrets here", "eyJa.", ""] {
            assert_eq!(text(plain), plain, "{plain}");
            assert!(matches!(text(plain), Cow::Borrowed(_)));
        }
    }

    #[test]
    fn the_log_writer_redacts_what_it_passes_on() {
        let mut out = Redacting(Vec::new());
        // tracing formats an event whole, then writes it in one call.
        out.write_all(format!("GET /token answered {JWT}\n").as_bytes())
            .unwrap();
        assert_eq!(
            String::from_utf8(out.0).unwrap(),
            "GET /token answered <redacted token>\n"
        );
    }
}

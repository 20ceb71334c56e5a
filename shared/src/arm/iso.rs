//! ISO-8601 durations as ARM writes them in request settings and probes (`PT60S`, `PT0.5S`).

/// An ISO-8601 duration (`PT1M30.5S`, `PT60S`) in milliseconds.
pub fn parse_iso_ms(text: &str) -> Option<i64> {
    let rest = text.strip_prefix("PT")?;
    let (mut total, mut number) = (0.0, String::new());
    for c in rest.chars() {
        match c {
            '0'..='9' | '.' => number.push(c),
            'H' | 'M' | 'S' => {
                let value: f64 = number.parse().ok()?;
                total += value
                    * match c {
                        'H' => 3_600_000.0,
                        'M' => 60_000.0,
                        _ => 1000.0,
                    };
                number.clear();
            }
            _ => return None,
        }
    }
    number.is_empty().then_some(total.round() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_minutes_and_hours_in_milliseconds() {
        assert_eq!(parse_iso_ms("PT0.5S"), Some(500));
        assert_eq!(parse_iso_ms("PT1M30S"), Some(90_000));
        assert_eq!(parse_iso_ms("PT1H"), Some(3_600_000));
        assert_eq!(parse_iso_ms("P1D"), None);
        assert_eq!(parse_iso_ms("PT5"), None);
    }
}

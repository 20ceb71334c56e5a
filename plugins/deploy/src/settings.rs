//! From flags (and a v1 deployment file) to what a verb sends: the knobs, the auth mode, the
//! traffic split — each failure listed, then one refusal.

use aml_core::cli::Printer;
use aml_core::{Error, Result};
use serde_json::{Map, Value, json};

use crate::cli::{Auth, KnobArgs};
use crate::file;
use crate::knobs::Knobs;

/// The knobs from `--deploy-config-file` overlaid with the flags, and the file's compute.
pub(crate) fn knobs(args: &KnobArgs, out: &mut Printer) -> Result<(Knobs, Option<String>)> {
    let flags = args.knobs()?;
    let Some(path) = &args.deploy_config_file else {
        return Ok((flags, None));
    };
    let file = file::read(path)?;
    for ignored in &file.ignored {
        out.warn(&format!("{}: not carried over: {ignored}", path.display()));
    }
    Ok((file.knobs.overlaid(&flags), file.compute))
}

/// The endpoint's `authMode` from `--auth`, else the v1 auth flags of a file, else `default`.
pub(crate) fn auth_mode(flag: Option<Auth>, knobs: &Knobs, default: &str) -> Result<String> {
    let from_file = match (knobs.key_auth, knobs.token_auth) {
        (_, Some(true)) => Some(Auth::Token),
        (Some(true), _) => Some(Auth::Key),
        (Some(false), _) => Some(Auth::None),
        _ => None,
    };
    match flag.or(from_file) {
        Some(Auth::Key) => Ok("Key".into()),
        Some(Auth::Token) => Ok("AMLToken".into()),
        Some(Auth::AadToken) => Ok("AADToken".into()),
        Some(Auth::None) => Err(Error::usage(
            "online endpoints always authenticate: v1's auth_enabled=False has no v2 counterpart",
            "use --auth key (the v1 default) or --auth token",
        )),
        None => Ok(default.into()),
    }
}

/// Refuses with every problem listed: one is the error itself; several are printed first.
pub(crate) fn refuse_all(problems: Vec<String>, hint: &str, out: &mut Printer) -> Result<()> {
    match problems.len() {
        0 => Ok(()),
        1 => Err(Error::usage(problems[0].clone(), hint)),
        n => {
            for p in &problems {
                out.info(&format!("invalid: {p}"));
            }
            Err(Error::usage(
                format!("{n} settings are invalid (listed above); nothing was sent"),
                hint,
            ))
        }
    }
}

/// The traffic map after giving `deployment` `percent`: the others share the rest in proportion
/// to what they had. Traffic must add up to 100 (the spec's rule).
pub(crate) fn rebalance(
    current: &Map<String, Value>,
    deployment: &str,
    percent: i64,
    others: &[String],
) -> std::result::Result<Map<String, Value>, String> {
    if !(0..=100).contains(&percent) {
        return Err(format!(
            "--traffic {percent} is not a percentage (0 to 100)"
        ));
    }
    let rest = 100 - percent;
    let shares: Vec<(String, i64)> = others
        .iter()
        .filter(|o| !o.eq_ignore_ascii_case(deployment))
        .map(|o| {
            (
                o.clone(),
                current
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(o))
                    .and_then(|(_, v)| v.as_i64())
                    .unwrap_or(0),
            )
        })
        .collect();
    let total: i64 = shares.iter().map(|(_, s)| s).sum();
    let mut map = Map::new();
    map.insert(deployment.to_string(), json!(percent));
    if rest == 0 {
        for (name, _) in shares {
            map.insert(name, json!(0));
        }
        return Ok(map);
    }
    if total == 0 {
        return Err(format!(
            "the other {rest}% has nowhere to go: no other deployment takes traffic"
        ));
    }
    let mut given = 0;
    let mut split: Vec<(String, i64)> = shares
        .iter()
        .map(|(n, s)| (n.clone(), s * rest / total))
        .collect();
    given += split.iter().map(|(_, s)| s).sum::<i64>();
    if let Some(largest) = split
        .iter_mut()
        .zip(&shares)
        .max_by_key(|(_, (_, s))| *s)
        .map(|(x, _)| x)
    {
        largest.1 += rest - given;
    }
    for (name, share) in split {
        map.insert(name, json!(share));
    }
    Ok(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, i64)]) -> Map<String, Value> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), json!(v)))
            .collect()
    }

    #[test]
    fn traffic_is_shared_in_proportion_and_adds_up() {
        let names = |n: &[&str]| n.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let current = map(&[("blue", 60), ("green", 40)]);
        assert_eq!(
            rebalance(&current, "red", 10, &names(&["blue", "green", "red"])).unwrap(),
            map(&[("red", 10), ("blue", 54), ("green", 36)])
        );
        assert_eq!(
            rebalance(&current, "green", 100, &names(&["blue", "green"])).unwrap(),
            map(&[("green", 100), ("blue", 0)])
        );
        let thirds = map(&[("a", 1), ("b", 1), ("c", 1)]);
        let split = rebalance(&thirds, "d", 0, &names(&["a", "b", "c", "d"])).unwrap();
        assert_eq!(
            split.values().map(|v| v.as_i64().unwrap()).sum::<i64>(),
            100
        );
        assert!(
            rebalance(&map(&[]), "blue", 50, &names(&["blue"]))
                .unwrap_err()
                .contains("nowhere to go")
        );
        assert!(rebalance(&current, "blue", 120, &names(&["blue"])).is_err());
    }
}

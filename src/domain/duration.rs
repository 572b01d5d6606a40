//! Durations as people write them in config and requests: a whole number and a unit.

use jiff::SignedDuration;

/// Parses `"15m"`, `"0m"`, `"24h"`, `"7d"`, `"30s"`.
pub fn parse_duration(text: &str) -> Result<SignedDuration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let n: i64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration like \"15m\", \"24h\" or \"7d\""))?;
    let seconds = match unit {
        "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        "d" => n * 86_400,
        _ => return Err(format!("{text:?} needs a unit: s, m, h or d")),
    };
    Ok(SignedDuration::from_secs(seconds))
}

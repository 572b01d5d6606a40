//! Reports over history (comms spec §7): alert hygiene, on-call load and response times.
//!
//! Pure computations over plain rows that `store::reports` loads for a period; nothing here
//! reads a clock or a database. `hygiene` finds noisy rules nobody acts on, `load` counts
//! pages per person and shift (night pages and owed rest in the person's zone), `response`
//! gives MTTA and MTTR per service and severity. Rendering is left to `cli::report`.

pub mod digest;
pub mod hygiene;
pub mod load;
pub mod response;

use jiff::{SignedDuration, Timestamp};
use serde::Serialize;

/// The half-open window `[start, end)` a report covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Period {
    #[serde(serialize_with = "utc_ms")]
    pub start: Timestamp,
    #[serde(serialize_with = "utc_ms")]
    pub end: Timestamp,
}

impl Period {
    /// The `days` (24-hour periods) up to `now`.
    pub fn last_days(now: Timestamp, days: u32) -> Period {
        let span = SignedDuration::from_hours(24 * i64::from(days));
        Period {
            start: now.checked_sub(span).unwrap_or(Timestamp::MIN),
            end: now,
        }
    }

    pub fn contains(&self, at: Timestamp) -> bool {
        self.start <= at && at < self.end
    }
}

/// Writes an instant as our JSON does (comms spec §0): RFC 3339 UTC, milliseconds, `Z`.
pub fn utc_ms<S: serde::Serializer>(at: &Timestamp, out: S) -> Result<S::Ok, S::Error> {
    out.collect_str(&at.strftime("%Y-%m-%dT%H:%M:%S%.3fZ"))
}

/// [`utc_ms`] for an optional instant (`null` when absent).
pub fn utc_ms_opt<S: serde::Serializer>(at: &Option<Timestamp>, out: S) -> Result<S::Ok, S::Error> {
    match at {
        Some(at) => utc_ms(at, out),
        None => out.serialize_none(),
    }
}

/// Count, mean, median and p90 of some durations, in whole seconds.
///
/// The mean is rounded to the nearest second; the median of an even count is the mean of
/// the two middle values (rounded the same way); p90 is the nearest-rank value, the smallest
/// duration with at least 90 % of them at or below it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Stats {
    pub count: usize,
    pub mean_s: Option<i64>,
    pub median_s: Option<i64>,
    pub p90_s: Option<i64>,
}

impl Stats {
    pub fn of(durations: &[SignedDuration]) -> Stats {
        let mut ms: Vec<i64> = durations
            .iter()
            .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
            .collect();
        ms.sort_unstable();
        let count = ms.len();
        if count == 0 {
            return Stats::default();
        }
        let sum: i128 = ms.iter().map(|&v| i128::from(v)).sum();
        let mean = round_div(sum, count as i128);
        let median = if count % 2 == 1 {
            i128::from(ms[count / 2])
        } else {
            round_div(i128::from(ms[count / 2 - 1]) + i128::from(ms[count / 2]), 2)
        };
        // Nearest rank: ceil(0.9 n), 1-based.
        let rank = (count * 9).div_ceil(10).max(1);
        let p90 = i128::from(ms[rank - 1]);
        let secs = |ms: i128| i64::try_from(round_div(ms, 1000)).unwrap_or(i64::MAX);
        Stats {
            count,
            mean_s: Some(secs(mean)),
            median_s: Some(secs(median)),
            p90_s: Some(secs(p90)),
        }
    }
}

/// `a / b` rounded half away from zero (b > 0).
fn round_div(a: i128, b: i128) -> i128 {
    if a >= 0 {
        (a + b / 2) / b
    } else {
        (a - b / 2) / b
    }
}

/// `1h 05m`, `12m 30s`, `45s`: a duration in seconds for text tables; `-` when absent.
pub fn human_secs(secs: Option<i64>) -> String {
    let Some(secs) = secs else {
        return "-".into();
    };
    let (sign, secs) = if secs < 0 { ("-", -secs) } else { ("", secs) };
    let (h, m, s) = (secs / 3600, secs % 3600 / 60, secs % 60);
    if h > 0 {
        format!("{sign}{h}h {m:02}m")
    } else if m > 0 {
        format!("{sign}{m}m {s:02}s")
    } else {
        format!("{sign}{s}s")
    }
}

/// `2025-06-12 20:00`: an instant to the minute, UTC, for text tables.
pub fn utc(at: Timestamp) -> String {
    at.strftime("%Y-%m-%d %H:%M").to_string()
}

/// The first line of a text report.
pub fn heading(title: &str, period: Period, days: u32) -> String {
    format!(
        "{title}, last {days} days ({} to {} UTC)\n",
        utc(period.start),
        utc(period.end)
    )
}

/// Columns padded to their widest cell, two spaces apart, no trailing blanks.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(cell, &width)| format!("{cell:<width$}"))
            .collect();
        format!("{}\n", padded.join("  ").trim_end())
    };
    let mut out = line(header.iter().map(|h| h.to_string()).collect());
    for row in rows {
        out.push_str(&line(row.clone()));
    }
    out
}

/// `12.5%`, or `-` when there is no share.
pub fn percent(share: Option<f64>) -> String {
    share.map_or("-".into(), |share| format!("{share:.1}%"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(list: &[i64]) -> Vec<SignedDuration> {
        list.iter().map(|&s| SignedDuration::from_secs(s)).collect()
    }

    #[test]
    fn stats_of_an_odd_count() {
        let stats = Stats::of(&secs(&[300, 60, 120]));
        assert_eq!(
            stats,
            Stats {
                count: 3,
                mean_s: Some(160),
                median_s: Some(120),
                p90_s: Some(300),
            }
        );
    }

    #[test]
    fn stats_of_an_even_count_average_the_middle_pair() {
        let stats = Stats::of(&secs(&[10, 20, 30, 40, 50, 60, 70, 80, 90, 1000]));
        assert_eq!(stats.median_s, Some(55));
        assert_eq!(stats.p90_s, Some(90));
        assert_eq!(stats.mean_s, Some(145));
    }

    #[test]
    fn stats_of_nothing_are_empty() {
        assert_eq!(Stats::of(&[]), Stats::default());
    }

    #[test]
    fn json_instants_carry_milliseconds() {
        let period = Period::last_days("2025-06-12T03:00:00Z".parse().unwrap(), 1);
        assert_eq!(
            serde_json::to_string(&period).unwrap(),
            r#"{"start":"2025-06-11T03:00:00.000Z","end":"2025-06-12T03:00:00.000Z"}"#
        );
    }

    #[test]
    fn tables_pad_columns_and_trim_line_ends() {
        let rows = vec![vec!["api".to_string(), "x".to_string(), String::new()]];
        assert_eq!(
            table(&["SERVICE", "A", "FLAG"], &rows),
            "SERVICE  A  FLAG\napi      x\n"
        );
    }

    #[test]
    fn human_durations() {
        assert_eq!(human_secs(Some(3900)), "1h 05m");
        assert_eq!(human_secs(Some(750)), "12m 30s");
        assert_eq!(human_secs(Some(45)), "45s");
        assert_eq!(human_secs(None), "-");
    }
}

//! Per-destination and per-kind send throttles (on-call spec D10) as pure time math.
//!
//! A throttle is a list of [`Limit`] rows; [`next_allowed`] takes the instants earlier
//! messages went out (read back from the outbox by the caller, so a restart forgets
//! nothing) and says whether one more may go now or when it may. Held messages are never
//! dropped: `engine::outbox` moves them to that instant, where they join the bundle.
//!
//! Smoothed rows (`smooth = true`) follow the spec's reading: once the previous row's
//! count is reached inside this row's period, the rest of this row's allowance is spread
//! evenly over the rest of its period, so the next message waits at least
//! `(per - prev.per) / (count - prev.count)` after the last one (voice: after 3 calls,
//! one per 11¼ min). Every row is also a hard cap of `count` per sliding `per`.

use jiff::{SignedDuration, Timestamp};

/// At most `count` messages in any sliding `per`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limit {
    pub count: u32,
    pub per: SignedDuration,
    /// Spread the allowance above the previous row's count over the rest of `per`.
    pub smooth: bool,
}

const fn limit(count: u32, minutes: i64, smooth: bool) -> Limit {
    Limit {
        count,
        per: SignedDuration::from_mins(minutes),
        smooth,
    }
}

/// Email: any message, 1 per minute per address.
pub const EMAIL: &[Limit] = &[limit(1, 1, false)];

/// Voice pages and bundles per number: 1/min; 3/15 min; 7/1 h smoothed; 15/3 h smoothed.
pub const VOICE_PAGES: &[Limit] = &[
    limit(1, 1, false),
    limit(3, 15, false),
    limit(7, 60, true),
    limit(15, 180, true),
];

/// SMS pages and bundles per number: 1/min; 5/15 min; 11/1 h smoothed; 21/3 h smoothed.
pub const SMS_PAGES: &[Limit] = &[
    limit(1, 1, false),
    limit(5, 15, false),
    limit(11, 60, true),
    limit(21, 180, true),
];

/// Status updates to sms, voice and email: 1/min; 1/3 min; 3/20 min; 8/2 h smoothed.
/// For the status-update sender; pages never use it.
pub const STATUS_UPDATES: &[Limit] = &[
    limit(1, 1, false),
    limit(1, 3, false),
    limit(3, 20, false),
    limit(8, 120, true),
];

/// Shift-change notices to any destination: 3/min; 20/1 h smoothed. For the notice sender.
pub const SHIFT_NOTICES: &[Limit] = &[limit(3, 1, false), limit(20, 60, true)];

/// Every channel kind as a whole, across its destinations: at most 5 sends per 5 s.
pub const PER_KIND: Limit = Limit {
    count: 5,
    per: SignedDuration::from_secs(5),
    smooth: false,
};

/// The longest period in `limits`: how far back the caller must read sent instants.
pub fn horizon(limits: &[Limit]) -> SignedDuration {
    limits
        .iter()
        .map(|l| l.per)
        .max()
        .unwrap_or(SignedDuration::ZERO)
}

/// `None` when one more message may go at `now`; otherwise the first instant it may.
///
/// `sent` holds the instants earlier messages went out, oldest first; instants older than
/// [`horizon`] are ignored. A message at exactly `now - per` has left the window.
pub fn next_allowed(limits: &[Limit], sent: &[Timestamp], now: Timestamp) -> Option<Timestamp> {
    let mut until = now;
    for (i, row) in limits.iter().enumerate() {
        let start = now.saturating_sub(row.per).unwrap_or(now);
        let first = sent.partition_point(|at| *at <= start);
        let inside = &sent[first..];
        let count = inside.len();
        let cap = usize::try_from(row.count).unwrap_or(usize::MAX);

        // Hard cap: wait until enough of the window's messages have aged out.
        if cap == 0 {
            continue;
        }
        if count >= cap {
            let frees = inside[count - cap].saturating_add(row.per).unwrap_or(now);
            until = until.max(frees);
        }

        // Smoothing: past the previous row's count, keep an even spacing.
        let previous = i.checked_sub(1).and_then(|p| limits.get(p));
        if let (true, Some(prev), Some(last)) = (row.smooth, previous, inside.last()) {
            let (prev_cap, extra) = (prev.count, row.count.saturating_sub(prev.count));
            let prev_cap = usize::try_from(prev_cap).unwrap_or(usize::MAX);
            if count >= prev_cap && extra > 0 {
                let spacing = (row.per - prev.per) / i32::try_from(extra).unwrap_or(i32::MAX);
                until = until.max(last.saturating_add(spacing).unwrap_or(now));
            }
        }
    }
    (until > now).then_some(until)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn t0() -> Timestamp {
        "2025-06-12T03:00:00Z".parse().unwrap()
    }

    fn mins(m: f64) -> SignedDuration {
        SignedDuration::from_secs_f64(m * 60.0)
    }

    /// Sends whenever allowed, asking at each of `asks`; returns the send instants.
    fn drive(limits: &[Limit], asks: impl IntoIterator<Item = Timestamp>) -> Vec<Timestamp> {
        let mut sent: Vec<Timestamp> = Vec::new();
        for now in asks {
            if next_allowed(limits, &sent, now).is_none() {
                sent.push(now);
            }
        }
        sent
    }

    /// Asks every 15 s for `minutes`.
    fn every_15s(minutes: i64) -> impl Iterator<Item = Timestamp> {
        (0..minutes * 4).map(|i| t0() + SignedDuration::from_secs(15 * i))
    }

    fn within(sent: &[Timestamp], from: Timestamp, len: SignedDuration) -> usize {
        sent.iter()
            .filter(|at| **at >= from && **at < from + len)
            .count()
    }

    #[test]
    fn email_allows_one_per_minute() {
        let sent = drive(EMAIL, every_15s(10));
        assert_eq!(sent.len(), 10);
        assert!(
            sent.windows(2)
                .all(|w| w[1].duration_since(w[0]) >= mins(1.0))
        );
    }

    #[test]
    fn voice_after_three_calls_spaces_the_rest_of_the_hour_oc_18() {
        let sent = drive(VOICE_PAGES, every_15s(60));

        assert_eq!(within(&sent, t0(), mins(15.0)), 3, "{sent:?}");
        assert_eq!(sent.len(), 7, "7 in the first hour: {sent:?}");
        let after = next_allowed(VOICE_PAGES, &sent[..4], sent[3]).unwrap();
        assert_eq!(
            after.duration_since(sent[3]),
            mins(11.25),
            "one per 11¼ min once smoothed"
        );
    }

    #[test]
    fn sms_allows_five_in_fifteen_minutes_and_eleven_in_the_hour_oc_18() {
        let sent = drive(SMS_PAGES, every_15s(60));

        assert_eq!(within(&sent, t0(), mins(15.0)), 5, "{sent:?}");
        assert_eq!(sent.len(), 11, "{sent:?}");
    }

    #[test]
    fn per_kind_allows_five_in_five_seconds() {
        let asks = (0..40).map(|i| t0() + SignedDuration::from_millis(250 * i));
        let sent = drive(&[PER_KIND], asks);

        assert_eq!(sent.len(), 10, "{sent:?}");
        assert_eq!(
            next_allowed(&[PER_KIND], &sent[..5], t0() + SignedDuration::from_secs(1)),
            Some(t0() + SignedDuration::from_secs(5))
        );
    }

    #[test]
    fn nothing_sent_means_allowed() {
        assert_eq!(next_allowed(VOICE_PAGES, &[], t0()), None);
        assert_eq!(next_allowed(&[], &[t0()], t0()), None);
    }

    proptest! {
        /// Whatever the arrival pattern, sending only when allowed never breaks a row's
        /// hard cap in any window, and the held time is never in the past.
        #[test]
        fn no_window_ever_exceeds_its_count(
            gaps in prop::collection::vec(1i64..900, 1..300),
            table in 0usize..4,
        ) {
            let limits = [EMAIL, VOICE_PAGES, SMS_PAGES, STATUS_UPDATES][table];
            let mut now = t0();
            let mut sent: Vec<Timestamp> = Vec::new();
            for gap in gaps {
                now += SignedDuration::from_secs(gap);
                match next_allowed(limits, &sent, now) {
                    None => sent.push(now),
                    Some(until) => prop_assert!(until > now),
                }
            }
            for row in limits {
                for (i, start) in sent.iter().enumerate() {
                    let end = *start + row.per;
                    let n = sent[i..].iter().take_while(|at| **at < end).count();
                    prop_assert!(n <= row.count as usize, "{row:?} broken from {start}");
                }
            }
        }
    }
}

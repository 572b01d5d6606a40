//! Upstream alert identity: the label fingerprint of intake spec §3.1 and the digests used
//! for group keys and duplicate deliveries.
//!
//! The fingerprint is FNV-1a 64 over sorted labels, the same value a running Alertmanager
//! computes, so a fingerprint we compute matches one we are sent.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;
/// Never occurs in UTF-8, so it cannot be confused with a byte of a name or value.
const SEPARATOR: u8 = 0xff;

/// The 16-hex-digit fingerprint of a label set. Empty values are dropped first, as
/// Alertmanager drops them on ingest. `BTreeMap` iterates in byte order of the names.
pub fn fingerprint(labels: &BTreeMap<String, String>) -> String {
    let mut hash = FNV_OFFSET;
    let mut feed = |byte: u8| {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(FNV_PRIME);
    };
    for (name, value) in labels.iter().filter(|(_, value)| !value.is_empty()) {
        name.bytes().for_each(&mut feed);
        feed(SEPARATOR);
        value.bytes().for_each(&mut feed);
        feed(SEPARATOR);
    }
    format!("{hash:016x}")
}

/// Lowercase hex SHA-256 of the given parts joined by `\n`.
pub fn sha256_hex(parts: &[&str]) -> String {
    let mut hasher = Sha256::new();
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            hasher.update(b"\n");
        }
        hasher.update(part.as_bytes());
    }
    hex::encode(hasher.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &str) -> BTreeMap<String, String> {
        pairs
            .split_whitespace()
            .filter_map(|pair| pair.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn matches_the_spec_vectors_from_a_running_alertmanager() {
        let cases = [
            ("", "cbf29ce484222325"),
            (
                "alertname=QueueBacklog job=worker queue=billing severity=critical",
                "bc3c2641a15bcac7",
            ),
            (
                "alertname=QueueBacklog job=worker queue=emails severity=warning",
                "22cb2d17615155ae",
            ),
            (
                "alertname=DiskAlmostFull instance=db-1:9100 job=node",
                "e4ae6dae78232e20",
            ),
            (
                "alertname=DiskAlmostFull instance=db-2:9100 job=node",
                "05c255830697584f",
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(fingerprint(&labels(input)), expected, "labels {input:?}");
        }
    }

    #[test]
    fn empty_label_values_do_not_change_the_fingerprint() {
        let mut with_empty = labels("alertname=DiskAlmostFull instance=db-1:9100 job=node");
        with_empty.insert("team".into(), String::new());
        assert_eq!(fingerprint(&with_empty), "e4ae6dae78232e20");
    }

    #[test]
    fn alertmanager_pagerduty_dedup_key_is_sha256_of_group_key() {
        // The value Alertmanager 0.25 sends as `dedup_key` for this group (spec §6).
        assert_eq!(
            sha256_hex(&["{}:{alertname=\"QueueBacklog\"}"]),
            "bbbd37304c1946a7f5cca9b4f1eb9618dc8747459ba0488e94de0dc9be40b8a8"
        );
    }
}

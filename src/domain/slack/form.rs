//! `application/x-www-form-urlencoded` bodies, as Slack posts slash commands and
//! interactivity payloads: `+` is a space, `%XX` a byte, and the bytes are UTF-8.

/// The pairs of a form body, in order; a key without `=` has an empty value.
pub fn parse(body: &[u8]) -> Vec<(String, String)> {
    body.split(|&b| b == b'&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let mut halves = pair.splitn(2, |&b| b == b'=');
            let key = decode(halves.next().unwrap_or_default());
            let value = decode(halves.next().unwrap_or_default());
            (key, value)
        })
        .collect()
}

/// The first value for `key`, if any.
pub fn field<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

fn decode(bytes: &[u8]) -> String {
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let digit = |at: usize| bytes.get(at).copied().and_then(hex);
                match (digit(i + 1), digit(i + 2)) {
                    (Some(high), Some(low)) => {
                        out.push(high << 4 | low);
                        i += 2;
                    }
                    _ => out.push(b'%'),
                }
            }
            other => out.push(other),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Encodes one value for a form body (the inverse of [`parse`]'s decoding).
pub fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'*' => {
                out.push(char::from(b));
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slack_command_bodies_decode() {
        let body = b"command=%2Fincident&text=p1+Checkout+%3C%21channel%3E+%E2%9C%93&\
                     user_id=U0ANA&empty=&flag";

        let pairs = parse(body);

        assert_eq!(field(&pairs, "command"), Some("/incident"));
        assert_eq!(field(&pairs, "text"), Some("p1 Checkout <!channel> ✓"));
        assert_eq!(field(&pairs, "user_id"), Some("U0ANA"));
        assert_eq!(field(&pairs, "empty"), Some(""));
        assert_eq!(field(&pairs, "flag"), Some(""));
        assert_eq!(field(&pairs, "missing"), None);
    }

    #[test]
    fn broken_escapes_stay_as_typed() {
        assert_eq!(field(&parse(b"a=100%&b=%zz&c=%4"), "a"), Some("100%"));
        assert_eq!(field(&parse(b"a=100%&b=%zz&c=%4"), "b"), Some("%zz"));
        assert_eq!(field(&parse(b"a=100%&b=%zz&c=%4"), "c"), Some("%4"));
    }

    #[test]
    fn encoding_round_trips() {
        let text = "p1 <!channel> & \"quotes\" ✓ 100%";
        let body = format!("text={}", encode(text));
        assert_eq!(field(&parse(body.as_bytes()), "text"), Some(text));
    }
}

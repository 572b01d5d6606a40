//! Alertmanager label matchers (`name="v"`, `name!="v"`, `name=~"re"`, `name!~"re"`), as
//! runbook front matter writes them (comms spec §5.1).
//!
//! Regexes are anchored at both ends, as Alertmanager anchors them; a label the alert lacks
//! matches as the empty string.

use std::collections::BTreeMap;
use std::fmt;

/// How a matcher compares a label's value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MatchOp {
    Equal,
    NotEqual,
    Regex,
    NotRegex,
}

impl MatchOp {
    pub fn as_str(self) -> &'static str {
        match self {
            MatchOp::Equal => "=",
            MatchOp::NotEqual => "!=",
            MatchOp::Regex => "=~",
            MatchOp::NotRegex => "!~",
        }
    }
}

/// One parsed matcher.
#[derive(Clone, Debug)]
pub struct Matcher {
    pub name: String,
    pub op: MatchOp,
    pub value: String,
    /// The anchored regex for `=~` and `!~`.
    regex: Option<regex_lite::Regex>,
}

impl PartialEq for Matcher {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && self.op == other.op && self.value == other.value
    }
}

impl fmt::Display for Matcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}{:?}", self.name, self.op.as_str(), self.value)
    }
}

impl Matcher {
    /// Parses `name<op>"value"` (the value may also be bare, as Alertmanager allows).
    pub fn parse(text: &str) -> Result<Matcher, String> {
        let text = text.trim();
        let name_end = text
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .ok_or_else(|| format!("{text:?} has no operator (=, !=, =~, !~)"))?;
        let (name, rest) = text.split_at(name_end);
        if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
            return Err(format!("{text:?} does not start with a label name"));
        }
        let rest = rest.trim_start();
        let (op, value) = [
            ("=~", MatchOp::Regex),
            ("!~", MatchOp::NotRegex),
            ("!=", MatchOp::NotEqual),
            ("=", MatchOp::Equal),
        ]
        .into_iter()
        .find_map(|(token, op)| rest.strip_prefix(token).map(|v| (op, v.trim())))
        .ok_or_else(|| format!("{text:?} has no operator (=, !=, =~, !~)"))?;
        let value = unquote(value).ok_or_else(|| format!("{text:?}: badly quoted value"))?;
        let regex = match op {
            MatchOp::Regex | MatchOp::NotRegex => Some(
                regex_lite::Regex::new(&format!("^(?:{value})$"))
                    .map_err(|err| format!("{text:?}: bad regex: {err}"))?,
            ),
            MatchOp::Equal | MatchOp::NotEqual => None,
        };
        Ok(Matcher {
            name: name.to_string(),
            op,
            value,
            regex,
        })
    }

    /// Whether `labels` satisfy this matcher.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        let value = labels.get(&self.name).map_or("", String::as_str);
        match (&self.op, &self.regex) {
            (MatchOp::Equal, _) => value == self.value,
            (MatchOp::NotEqual, _) => value != self.value,
            (MatchOp::Regex, Some(re)) => re.is_match(value),
            (MatchOp::NotRegex, Some(re)) => !re.is_match(value),
            // `parse` always compiles a regex for the regex operators.
            (MatchOp::Regex | MatchOp::NotRegex, None) => false,
        }
    }
}

/// `"a\"b"` → `a"b`; a bare value is taken as is. `None` for an unterminated quote.
fn unquote(value: &str) -> Option<String> {
    let Some(inner) = value.strip_prefix('"') else {
        return (!value.contains('"')).then(|| value.to_string());
    };
    let inner = inner.strip_suffix('"')?;
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next()? {
                'n' => out.push('\n'),
                other => out.push(other),
            },
            '"' => return None,
            other => out.push(other),
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn each_operator_compares_as_alertmanager_does() {
        let l = labels(&[("service", "checkout"), ("env", "prod")]);
        let cases = [
            (r#"service="checkout""#, true),
            (r#"service!="checkout""#, false),
            (r#"env=~"prod|eu""#, true),
            (r#"env=~"pro""#, false),
            (r#"env!~"stag.*""#, true),
            (r#"env !~ "pr.*""#, false),
            (r#"region="""#, true),
            (r#"region!="""#, false),
            ("service=checkout", true),
            (r#"summary="a \"quoted\" one""#, false),
        ];
        for (text, expected) in cases {
            let matcher = Matcher::parse(text).unwrap();
            assert_eq!(matcher.matches(&l), expected, "{text}");
        }
    }

    #[test]
    fn regexes_are_anchored() {
        let matcher = Matcher::parse(r#"env=~"prod""#).unwrap();
        assert!(!matcher.matches(&labels(&[("env", "preprod")])));
        assert!(!matcher.matches(&labels(&[("env", "prod-eu")])));
        assert!(matcher.matches(&labels(&[("env", "prod")])));
    }

    #[test]
    fn malformed_matchers_say_why() {
        assert_eq!(
            Matcher::parse("service").unwrap_err(),
            "\"service\" has no operator (=, !=, =~, !~)"
        );
        assert!(
            Matcher::parse(r#"env=~"(""#)
                .unwrap_err()
                .contains("bad regex")
        );
        assert!(
            Matcher::parse(r#"env="prod"#)
                .unwrap_err()
                .contains("badly quoted")
        );
        assert!(Matcher::parse(r#"="x""#).is_err());
    }

    #[test]
    fn display_round_trips() {
        let matcher = Matcher::parse(r#"env =~ "prod|eu""#).unwrap();
        assert_eq!(matcher.to_string(), r#"env=~"prod|eu""#);
        assert_eq!(Matcher::parse(&matcher.to_string()).unwrap(), matcher);
    }
}

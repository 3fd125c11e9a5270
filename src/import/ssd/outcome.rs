//! The SSD's `*_outcome_json` fields, in the three dialects councils' exports carry:
//! SystemC's JSON-like objects with plain keys (`{"NFA_FLAG":"Y", ...}`), Eclipse's JSON
//! with `OUTCOME_` keys, and Mosaic's comma-separated lists of next-step descriptions.

use std::collections::BTreeSet;

/// The outcomes recorded as happening, as flag names without `OUTCOME_` or `_FLAG`
/// (`NFA`, `SINGLE_ASSESSMENT`, ...). Counts and free-text comments are never kept: a
/// comment may name a person.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Outcomes(pub BTreeSet<String>);

/// Keys that are not outcomes.
const NOT_OUTCOMES: &[&str] = &["COMMENTS", "NUMBER_OF_OUTCOMES", "TOTAL_NO_OF_OUTCOMES"];

/// Words of a Mosaic next-step description -> the flag it means, first match wins.
const DESCRIPTIONS: &[(&str, &str)] = &[
    ("strategy", "STRATEGY_DISCUSSION"),
    ("section 47", "STRATEGY_DISCUSSION"),
    ("conference", "CP_CONFERENCE"),
    ("early help", "EARLY_HELP"),
    ("no further action", "NFA"),
    ("nfa", "NFA"),
    ("assessment", "SINGLE_ASSESSMENT"),
    ("advice", "ADVICE"),
    ("referral", "NEW_REFERRAL"),
];

impl Outcomes {
    pub fn parse(raw: Option<&str>) -> Outcomes {
        let Some(raw) = raw.map(str::trim).filter(|r| !r.is_empty()) else {
            return Outcomes::default();
        };
        if raw.starts_with('{') {
            Outcomes(object_flags(raw))
        } else {
            Outcomes(raw.split([',', ';']).filter_map(description_flag).collect())
        }
    }

    pub fn has(&self, flag: &str) -> bool {
        self.0.contains(flag)
    }

    /// The outcomes as text for a free-text column: `new_referral; nfa`.
    pub fn text(&self) -> String {
        self.0
            .iter()
            .filter(|f| *f != "OTHER_OUTCOMES_EXIST")
            .map(|f| f.to_lowercase())
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// A key's flag name, when the key is a flag (`NFA_FLAG`, `OUTCOME_NFA_FLAG`): anything
/// else (a comment, a count, a fragment of a comment that broke the JSON) is not kept.
fn flag_name(key: &str) -> Option<String> {
    let k = key.trim().trim_matches('"').trim().to_ascii_uppercase();
    if k.is_empty() || !k.bytes().all(|b| b.is_ascii_uppercase() || b == b'_') {
        return None;
    }
    let k = k.strip_prefix("OUTCOME_").unwrap_or(&k);
    k.strip_suffix("_FLAG").map(str::to_string)
}

fn is_yes(value: &str) -> bool {
    let v = value.trim().trim_matches('"').trim();
    matches!(crate::values::parse_flag(v), Ok(Some(true)))
}

/// The keys set to yes in a JSON object; an object that is not quite JSON (as SystemC's
/// string building can leave it) is read pair by pair.
fn object_flags(raw: &str) -> BTreeSet<String> {
    let pairs: Vec<(String, String)> =
        match serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(raw) {
            Ok(map) => map
                .into_iter()
                .map(|(k, v)| {
                    let v = match v {
                        serde_json::Value::String(s) => s,
                        serde_json::Value::Bool(b) => b.to_string(),
                        other => other.to_string(),
                    };
                    (k, v)
                })
                .collect(),
            Err(_) => raw
                .trim_matches(|c| c == '{' || c == '}')
                .split(',')
                .filter_map(|p| p.split_once(':'))
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        };
    pairs
        .into_iter()
        .filter_map(|(k, v)| Some((flag_name(&k)?, v)))
        .filter(|(k, v)| !NOT_OUTCOMES.contains(&k.as_str()) && is_yes(v))
        .map(|(k, _)| k)
        .collect()
}

fn description_flag(d: &str) -> Option<String> {
    let words = |s: &str| -> Vec<String> {
        s.to_lowercase()
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .map(str::to_string)
            .collect()
    };
    let d = words(d);
    if d.is_empty() {
        return None;
    }
    // "Strategy discussion not required" is not a strategy discussion.
    if d.iter().any(|w| w == "not") {
        return None;
    }
    // Whole words only: `nfa` is not in `infant`. A description csc-audit does not know
    // is not kept: only the flags the native tables need are read.
    DESCRIPTIONS
        .iter()
        .find(|(phrase, _)| {
            let p = words(phrase);
            d.windows(p.len()).any(|w| w == p.as_slice())
        })
        .map(|(_, f)| f.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flags(raw: &str) -> Vec<String> {
        Outcomes::parse(Some(raw)).0.into_iter().collect()
    }

    #[test]
    fn the_three_dialects_give_the_same_flags() {
        let systemc = r#"{"SINGLE_ASSESSMENT_FLAG":"Y","NFA_FLAG":"N","NUMBER_OF_OUTCOMES":"1","COMMENTS":"Y"}"#;
        let eclipse = r#"{"OUTCOME_SINGLE_ASSESSMENT_FLAG": "Yes", "OUTCOME_NFA_FLAG": "No"}"#;
        let mosaic = "Single Assessment";
        for raw in [systemc, eclipse, mosaic] {
            assert_eq!(flags(raw), vec!["SINGLE_ASSESSMENT"], "{raw}");
        }
        // Not quite JSON (a trailing comma, unquoted values): read pair by pair.
        assert_eq!(flags(r#"{"NFA_FLAG":Y,"ADVICE_FLAG":"N",}"#), vec!["NFA"]);
        assert_eq!(
            flags("Strategy Discussion, No Further Action"),
            vec!["NFA", "STRATEGY_DISCUSSION"]
        );
        // Only the flags the native tables need: other steps, and negated ones, are dropped.
        assert!(flags("Refer to Youth Offending").is_empty());
        assert!(flags("").is_empty());
        assert!(flags("Infant welfare check").is_empty());
        assert!(flags("Strategy discussion not required").is_empty());
        // A comment with a quote breaks the JSON: its fragments are never flags.
        let broken = r#"{"NFA_FLAG":"Y","COMMENTS":"said "no", Jane Smith: Y"}"#;
        assert_eq!(flags(broken), vec!["NFA"]);
        assert_eq!(Outcomes::parse(Some(systemc)).text(), "single_assessment");
    }
}

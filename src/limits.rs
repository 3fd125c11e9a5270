//! What a definition may ask, checked before anything runs. Metric files, local standards,
//! sample plans and calendars are written by people, and a council may run definitions it
//! did not write: a number that is not finite, a window of a billion years or a filter that
//! builds a two-gigabyte string must be refused with a clear message, never reach the
//! engine (where it would overflow, panic or exhaust memory).
//!
//! The limits, stated once:
//! - every number in a definition is finite, at most [`MAX_MAGNITUDE`] in size, and zero or
//!   at least [`MIN_MAGNITUDE`] (no subnormal `1e-320` that turns a rate into infinity);
//! - a time window is at most [`MAX_WINDOW_YEARS`] years in its unit ([`max_window`]);
//! - a SQL filter is at most [`MAX_FILTER_CHARS`] characters, [`MAX_FILTER_DEPTH`] brackets
//!   deep, with at most [`MAX_FILTER_CONNECTIVES`] `AND` / `OR` / `NOT`, numbers within
//!   [`MAX_MAGNITUDE`], no `INTERVAL` arithmetic, no sub-query, and only the functions in
//!   [`FILTER_FUNCTIONS`] (none of which can make a value longer than its input).

use polars::prelude::Expr;

/// The largest number a definition may hold (a population of a trillion is already absurd).
pub const MAX_MAGNITUDE: f64 = 1e12;
/// The smallest non-zero number a definition may hold.
pub const MIN_MAGNITUDE: f64 = 1e-9;
/// The longest time window, in years, whatever its unit.
pub const MAX_WINDOW_YEARS: i64 = 100;
pub const MAX_FILTER_CHARS: usize = 2_000;
pub const MAX_FILTER_DEPTH: usize = 16;
pub const MAX_FILTER_CONNECTIVES: usize = 100;
/// Functions a filter may call: tests, casts and functions whose result is no longer than
/// their input.
pub const FILTER_FUNCTIONS: &[&str] = &[
    "ABS",
    "CAST",
    "CEIL",
    "CEILING",
    "CHAR_LENGTH",
    "COALESCE",
    "DATE",
    "DATE_PART",
    "ENDS_WITH",
    "EXTRACT",
    "FLOOR",
    "IFNULL",
    "LEFT",
    "LENGTH",
    "LOWER",
    "LTRIM",
    "NULLIF",
    "RIGHT",
    "ROUND",
    "RTRIM",
    "STARTS_WITH",
    "STRPOS",
    "SUBSTR",
    "TRIM",
    "UPPER",
];
/// Words that may stand before a bracket without being a function call.
const KEYWORDS_BEFORE_BRACKET: &[&str] = &[
    "AND", "OR", "NOT", "IN", "WHEN", "THEN", "ELSE", "BETWEEN", "LIKE", "ILIKE", "IS", "CASE",
    "AS",
];
const FORBIDDEN_WORDS: &[(&str, &str)] = &[
    ("INTERVAL", "INTERVAL arithmetic is not allowed in a filter: time limits belong in `within`, `open_for_at_least` or a look-back window"),
    ("SELECT", "a filter is a condition on the row, not a query: remove the SELECT"),
];

/// The longest window, in the unit's own amount (a working year is about 253 days).
pub fn max_window(unit: crate::metrics::definition::Unit) -> i64 {
    use crate::metrics::definition::Unit;
    MAX_WINDOW_YEARS
        * match unit {
            Unit::WorkingDays => 260,
            Unit::Days => 366,
            Unit::Hours => 366 * 24,
            Unit::Months => 12,
        }
}

/// A problem found in a definition: where (a byte offset into its text) and what to do.
#[derive(Debug, Clone, PartialEq)]
pub struct Refused {
    pub offset: usize,
    pub field: String,
    pub message: String,
}

/// Checks a number read from a definition.
pub fn number(v: f64) -> Result<(), String> {
    if !v.is_finite() {
        return Err(format!(
            "{v} is not a number a definition can use: write a finite number"
        ));
    }
    let size = v.abs();
    if size > MAX_MAGNITUDE || (size != 0.0 && size < MIN_MAGNITUDE) {
        return Err(format!(
            "{v} is out of range: numbers in definitions are 0 or between {MIN_MAGNITUDE:e} and \
             {MAX_MAGNITUDE:e} in size"
        ));
    }
    Ok(())
}

/// Walks every number in a TOML document (metric, standards, plan, calendar) and refuses
/// the first that [`number`] refuses, naming its key. Syntax errors are left to the reader,
/// which reports them with its own wording.
pub fn toml_numbers(text: &str) -> Result<(), Refused> {
    let Ok(doc) = toml::de::DeTable::parse(text) else {
        return Ok(());
    };
    walk_table(doc.get_ref(), "")
}

fn walk_table(t: &toml::de::DeTable, path: &str) -> Result<(), Refused> {
    for (k, v) in t.iter() {
        let key = if path.is_empty() {
            k.get_ref().to_string()
        } else {
            format!("{path}.{}", k.get_ref())
        };
        walk_value(v, &key)?;
    }
    Ok(())
}

fn walk_value(v: &toml::Spanned<toml::de::DeValue>, key: &str) -> Result<(), Refused> {
    use toml::de::DeValue;
    let refuse = |message: String| Refused {
        offset: v.span().start,
        field: key.to_string(),
        message,
    };
    match v.get_ref() {
        DeValue::Float(f) => {
            let x: f64 = f.as_str().replace('_', "").parse().unwrap_or(f64::NAN);
            number(x).map_err(refuse)
        }
        DeValue::Integer(i) => {
            let digits = i.as_str().replace('_', "");
            let x = i128::from_str_radix(&digits, i.radix()).map_or(f64::INFINITY, |n| n as f64);
            number(x).map_err(refuse)
        }
        DeValue::Array(a) => a.iter().try_for_each(|e| walk_value(e, key)),
        DeValue::Table(t) => walk_table(t, key),
        _ => Ok(()),
    }
}

/// Checks a SQL filter against the limits above, then parses it with polars.
pub fn sql_filter(text: &str) -> Result<Expr, String> {
    let text = text.trim();
    if text.chars().count() > MAX_FILTER_CHARS {
        return Err(format!(
            "the filter is {} characters long, more than the {MAX_FILTER_CHARS} allowed: \
             split the measure or use a breakdown instead",
            text.chars().count()
        ));
    }
    scan(text)?;
    polars::sql::sql_expr(text).map_err(|e| format!("`{text}` is not a valid SQL condition: {e}"))
}

/// One pass over the filter's words, outside its quoted strings and names.
fn scan(text: &str) -> Result<(), String> {
    let mut depth = 0usize;
    let mut connectives = 0usize;
    let mut it = text.char_indices().peekable();
    while let Some((i, c)) = it.next() {
        match c {
            '\'' => skip_quoted(&mut it, c)?,
            '"' => {
                // A quoted name can be called like a function (`"LPAD"(...)`).
                skip_quoted(&mut it, c)?;
                let end = it.peek().map_or(text.len(), |(j, _)| *j);
                let name = text[i + 1..end - 1]
                    .replace("\"\"", "\"")
                    .to_ascii_uppercase();
                check_call(&name, &text[end..])?;
                check_unqualified(&name, &text[end..])?;
            }
            '`' | '[' => {
                return Err(format!(
                    "`{c}` is not allowed in a filter: write column names as they are, or in \
                     double quotes"
                ))
            }
            '-' | '/' if text[i + 1..].starts_with(if c == '-' { '-' } else { '*' }) => {
                return Err(
                    "comments are not allowed inside a filter: put a TOML comment (`# ...`) \
                     after the line instead"
                        .into(),
                )
            }
            '(' => {
                depth += 1;
                if depth > MAX_FILTER_DEPTH {
                    return Err(format!(
                        "the filter nests brackets more than {MAX_FILTER_DEPTH} deep: write it flatter"
                    ));
                }
            }
            ')' => depth = depth.saturating_sub(1),
            c if c.is_ascii_digit()
                || (c == '.' && it.peek().is_some_and(|(_, d)| d.is_ascii_digit())) =>
            {
                let end = take_while(
                    &mut it,
                    |d| d.is_ascii_alphanumeric() || d == '.' || d == '_',
                    text.len(),
                );
                let mut end = end;
                // An exponent's sign: `1e+300` is one number.
                if text[i..end].ends_with(['e', 'E']) && text[end..].starts_with(['+', '-']) {
                    it.next();
                    end = take_while(&mut it, |d| d.is_ascii_digit(), text.len());
                }
                let literal = &text[i..end];
                let value: f64 = literal.parse().unwrap_or(0.0);
                number(value).map_err(|e| format!("in the filter, {e}"))?;
            }
            c if c.is_alphabetic() || c == '_' => {
                let end = take_while(&mut it, |d| d.is_alphanumeric() || d == '_', text.len());
                let word = text[i..end].to_ascii_uppercase();
                if let Some((_, why)) = FORBIDDEN_WORDS.iter().find(|(w, _)| *w == word) {
                    return Err((*why).to_string());
                }
                if matches!(word.as_str(), "AND" | "OR" | "NOT") {
                    connectives += 1;
                    if connectives > MAX_FILTER_CONNECTIVES {
                        return Err(format!(
                            "the filter has more than {MAX_FILTER_CONNECTIVES} AND / OR / NOT: \
                             use `column IN ('a', 'b', ...)` for a list of values"
                        ));
                    }
                }
                if !KEYWORDS_BEFORE_BRACKET.contains(&word.as_str()) {
                    check_call(&word, &text[end..])?;
                }
                check_unqualified(&word, &text[end..])?;
            }
            _ => {}
        }
    }
    Ok(())
}

/// A filter names the row's own columns: `a.b` (a schema, a table or a qualified function,
/// which polars calls by its first part: `LPAD.ABS(` is LPAD) is refused.
fn check_unqualified(name: &str, after: &str) -> Result<(), String> {
    if after.trim_start().starts_with('.') {
        return Err(format!(
            "`{name}.` is not allowed in a filter: write the column's own name, without a \
             table or schema before it"
        ));
    }
    Ok(())
}

/// A name followed by a bracket is a function call: it must be one a filter may call.
fn check_call(name: &str, after: &str) -> Result<(), String> {
    if after.trim_start().starts_with('(') && !FILTER_FUNCTIONS.contains(&name) {
        return Err(format!(
            "`{name}` is not a function a filter may call; allowed: {}",
            FILTER_FUNCTIONS.join(", ")
        ));
    }
    Ok(())
}

fn skip_quoted(
    it: &mut std::iter::Peekable<std::str::CharIndices>,
    quote: char,
) -> Result<(), String> {
    while let Some((_, c)) = it.next() {
        if c == quote {
            // A doubled quote is an escaped quote inside the string.
            if it.peek().is_some_and(|(_, d)| *d == quote) {
                it.next();
                continue;
            }
            return Ok(());
        }
    }
    Err(format!(
        "a {quote} is opened and never closed in the filter"
    ))
}

/// Advances past the characters `keep` accepts; returns the byte offset where it stopped.
fn take_while(
    it: &mut std::iter::Peekable<std::str::CharIndices>,
    keep: impl Fn(char) -> bool,
    len: usize,
) -> usize {
    let mut end = None;
    while let Some((j, d)) = it.peek().copied() {
        if !keep(d) {
            end = Some(j);
            break;
        }
        it.next();
    }
    end.unwrap_or(len)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_must_be_finite_and_in_range() {
        assert!(number(95.0).is_ok());
        assert!(number(0.0).is_ok());
        assert!(number(-3.5).is_ok());
        for bad in [
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            1e-320,
            1e13,
            -1e300,
        ] {
            assert!(number(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn toml_numbers_named_with_their_key() {
        let r = toml_numbers("id = \"x\"\ntarget = nan\n").unwrap_err();
        assert_eq!(r.field, "target");
        assert_eq!(&"id = \"x\"\ntarget = nan\n"[r.offset..r.offset + 3], "nan");
        let r = toml_numbers("[within]\nlimit = { hours = 9223372036854775807 }\n").unwrap_err();
        assert_eq!(r.field, "within.limit.hours");
        assert_eq!(
            toml_numbers("child_population = 1e-320").unwrap_err().field,
            "child_population"
        );
        assert_eq!(toml_numbers("a = [1, 2, -inf]").unwrap_err().field, "a");
        assert_eq!(
            toml_numbers("a = 0x7FFFFFFFFFFFFFFF").unwrap_err().field,
            "a"
        );
        assert!(toml_numbers("target = 95\nrag = { green = 95.5, amber = 85 }\nb = 1_000").is_ok());
    }

    #[test]
    fn filters_within_limits_parse() {
        for ok in [
            "conference_type = 'initial'",
            "icpc_not_required IS NULL OR NOT icpc_not_required",
            "disability AND age >= 14",
            "team IN ('North', 'South') AND LOWER(source) = 'police'",
            "name = 'it''s (not a call'",
        ] {
            assert!(
                sql_filter(ok).is_ok(),
                "{ok} refused: {:?}",
                sql_filter(ok).err()
            );
        }
    }

    #[test]
    fn filters_beyond_limits_refused_before_parsing() {
        let ors = vec!["team = 'a'"; 6000].join(" OR ");
        assert!(sql_filter(&ors).unwrap_err().contains("characters"));
        let ors = vec!["t = 1"; 150].join(" OR ");
        assert!(sql_filter(&ors).unwrap_err().contains("AND / OR / NOT"));
        let deep = format!("{}team = 'a'{}", "(".repeat(40), ")".repeat(40));
        assert!(sql_filter(&deep).unwrap_err().contains("deep"));
        assert!(sql_filter("LPAD(team, 2000000000, 'x') = 'a'")
            .unwrap_err()
            .contains("LPAD"));
        assert!(sql_filter("REPEAT(team, 99) = 'a'")
            .unwrap_err()
            .contains("REPEAT"));
        assert!(
            sql_filter("received_at + INTERVAL '300000 years' > received_at")
                .unwrap_err()
                .contains("INTERVAL")
        );
        assert!(sql_filter("age > 1e300")
            .unwrap_err()
            .contains("out of range"));
        assert!(sql_filter("age > 1e+300")
            .unwrap_err()
            .contains("out of range"));
        assert!(sql_filter("age > 1.5e-3 AND age < 2").is_ok());
        assert!(sql_filter("team = 'a")
            .unwrap_err()
            .contains("never closed"));
        assert!(sql_filter("team IN (SELECT 1)")
            .unwrap_err()
            .contains("SELECT"));
        // Hidden calls: a comment, quoting, a line break before the bracket, lower case.
        for hidden in [
            "LPAD/**/(team, 2000000000, 'x') = 'a'",
            "LPAD--\n(team, 2000000000, 'x') = 'a'",
            "`LPAD`(team, 2000000000, 'x') = 'a'",
            "[LPAD](team, 2000000000, 'x') = 'a'",
            "\"LPAD\"(team, 2000000000, 'x') = 'a'",
            "\"lpad\" (team, 2000000000, 'x') = 'a'",
            "lpad\n\t(team, 2000000000, 'x') = 'a'",
        ] {
            let e = sql_filter(hidden).unwrap_err();
            assert!(
                e.contains("LPAD") || e.contains("comments") || e.contains("not allowed"),
                "{hidden}: {e}"
            );
        }
        assert!(sql_filter("\"team\" = 'North' AND \"outcome\" IS NULL").is_ok());
        assert!(sql_filter("team = 'a--b' AND team <> '/*'").is_ok());
        assert!(sql_filter("age - -1 > 3").is_ok());
        // polars calls a qualified name by its first part: `LPAD.ABS(` is LPAD.
        for qualified in [
            "LPAD.ABS(outcome, 5, 'x') = 'a'",
            "\"LPAD\" . ABS(outcome, 5, 'x') = 'a'",
            "referrals.team = 'North'",
        ] {
            assert!(
                sql_filter(qualified)
                    .unwrap_err()
                    .contains("is not allowed"),
                "{qualified}"
            );
        }
        assert!(sql_filter("age > 1.5").is_ok());
        // GREATEST() and LEAST() with no arguments panic inside polars: not allowed.
        assert!(sql_filter("GREATEST() > 0")
            .unwrap_err()
            .contains("GREATEST"));
    }
}

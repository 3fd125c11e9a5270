//! The analyst's words (`--commentary FILE.toml`) and England's published figures beside
//! the council's. No text is ever generated: none given, none shown.

use std::collections::BTreeMap;

use serde::Deserialize;

/// The commentary of a pack: a measure's or an area's id -> its text.
#[derive(Debug, Clone, Default)]
pub struct Commentary {
    pub measures: BTreeMap<String, String>,
    pub areas: BTreeMap<String, String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    text: String,
}

impl Commentary {
    /// Reads `[measure_id] text = "..."` and `["front door"] text = "..."`; a key that is
    /// neither a measure of `library` nor an area is refused, with what would be.
    pub fn from_toml(text: &str, library: &crate::metrics::Library) -> Result<Commentary, String> {
        let entries: BTreeMap<String, Entry> = toml::from_str(text).map_err(|e| e.to_string())?;
        let mut c = Commentary::default();
        for (key, e) in entries {
            let text = e.text.trim().to_string();
            if library.metrics.iter().any(|m| m.id == key) {
                c.measures.insert(key, text);
            } else if super::AREAS.iter().any(|(a, _)| *a == key) {
                c.areas.insert(key, text);
            } else {
                return Err(format!(
                    "[{key}] is neither a measure (`csc-audit metrics --list`) nor an area ({})",
                    super::AREAS
                        .iter()
                        .map(|(a, _)| format!("\"{a}\""))
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
        }
        Ok(c)
    }

    pub fn from_file(
        path: &std::path::Path,
        library: &crate::metrics::Library,
    ) -> Result<Commentary, String> {
        let text =
            crate::fsutil::read_definition(path).map_err(|e| format!("{}: {e}", path.display()))?;
        Commentary::from_toml(&text, library).map_err(|e| format!("{}: {e}", path.display()))
    }
}

/// England's figure of a measure for the years ending 31 March.
#[derive(Debug, Clone, Deserialize)]
pub struct EnglandFigure {
    pub what: String,
    pub years: BTreeMap<String, f64>,
}

/// England's published figures, shipped with csc-audit (`data/england.toml`).
#[derive(Debug, Clone, Deserialize)]
pub struct England {
    pub source: String,
    pub licence: String,
    #[serde(flatten)]
    pub measures: BTreeMap<String, EnglandFigure>,
}

const ENGLAND: &str = include_str!("../../data/england.toml");

impl England {
    pub fn builtin() -> England {
        toml::from_str(ENGLAND).expect("data/england.toml is valid (tested)")
    }

    /// The figure for the year ending 31 March `year`, else the latest before it: (the
    /// year, the figure).
    pub fn figure(&self, metric: &str, year: i32) -> Option<(i32, f64)> {
        self.measures
            .get(metric)?
            .years
            .iter()
            .filter_map(|(y, v)| Some((y.parse::<i32>().ok()?, *v)))
            .filter(|(y, _)| *y <= year)
            .max_by_key(|(y, _)| *y)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn englands_figures_are_read_with_their_source() {
        let e = England::builtin();
        assert!(e.licence.contains("Open Government Licence"));
        assert_eq!(e.figure("re_referral_12m", 2025), Some((2025, 22.6)));
        assert_eq!(e.figure("icpc_15wd", 2030), Some((2025, 81.4)));
        assert_eq!(e.figure("cp_open_2y", 2021), None);
        let lib = crate::metrics::Library::builtin();
        for id in e.measures.keys() {
            assert!(
                lib.metrics.iter().any(|m| &m.id == id),
                "{id} is not a measure"
            );
        }
    }

    #[test]
    fn commentary_keys_are_measures_or_areas() {
        let lib = crate::metrics::Library::builtin();
        let c = Commentary::from_toml(
            "[icpc_15wd]\ntext = \"Improved after the new rota.\"\n[\"front door\"]\ntext = \"Stable.\"\n",
            &lib,
        )
        .unwrap();
        assert_eq!(c.measures["icpc_15wd"], "Improved after the new rota.");
        assert_eq!(c.areas["front door"], "Stable.");
        let e = Commentary::from_toml("[icpc_15]\ntext = \"x\"\n", &lib).unwrap_err();
        assert!(e.contains("[icpc_15] is neither a measure"), "{e}");
        assert!(Commentary::from_toml("[icpc_15wd]\ntxt = \"x\"\n", &lib).is_err());
    }
}

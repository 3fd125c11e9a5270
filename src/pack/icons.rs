//! The variation and assurance icons of the at-a-glance table, drawn here in SVG with the
//! meanings NHS England's Making Data Count publishes (not its artwork): a circle in the
//! colour of the reading, a letter saying which way, and the reading in words as the
//! icon's name, so neither colour nor shape alone carries it.

use crate::charts::{SpcChart, COMMON_CAUSE, CONCERN, IMPROVEMENT, NEUTRAL};
use crate::spc::{self, Assurance, Variation};
use plotters::style::RGBColor;

fn hex(c: RGBColor) -> String {
    format!("#{:02x}{:02x}{:02x}", c.0, c.1, c.2)
}

fn icon(colour: RGBColor, letter: &str, name: &str) -> String {
    format!(
        "<svg class=\"icon\" role=\"img\" aria-label=\"{name}\" width=\"26\" height=\"26\" viewBox=\"0 0 26 26\"><title>{name}</title>\
         <circle cx=\"13\" cy=\"13\" r=\"12\" fill=\"{}\"/>\
         <text x=\"13\" y=\"18\" font-size=\"14\" font-weight=\"bold\" text-anchor=\"middle\" fill=\"#ffffff\" font-family=\"DejaVu Sans, Arial, sans-serif\">{letter}</text></svg>",
        hex(colour)
    )
}

/// The latest point's variation: common cause, or a special cause that is an improvement,
/// a concern or neither, higher (H) or lower (L).
pub fn variation(s: &SpcChart) -> String {
    let Some(last) = s.values.len().checked_sub(1) else {
        return String::new();
    };
    let v = spc::variation(&s.values, &s.spc, s.higher_is_better);
    if v == Variation::CommonCause {
        return icon(COMMON_CAUSE, "~", "common cause variation");
    }
    let up = spc::signal_up(&s.values, &s.spc, last);
    let (letter, way) = if up { ("H", "higher") } else { ("L", "lower") };
    let (colour, what) = match v {
        Variation::Improvement => (IMPROVEMENT, "improvement"),
        Variation::Concern => (CONCERN, "concern"),
        _ => (NEUTRAL, "neither better nor worse"),
    };
    icon(
        colour,
        letter,
        &format!("special cause variation, {way}: {what}"),
    )
}

/// The assurance against the target: passing (P), failing (F) or hit and miss (?).
pub fn assurance(s: &SpcChart) -> String {
    let (Some(t), Some(h), Some(l)) = (s.target, s.higher_is_better, s.spc.limits.last()) else {
        return String::new();
    };
    match spc::assurance(l, t, h) {
        Assurance::ConsistentlyPassing => icon(
            IMPROVEMENT,
            "P",
            "assurance: consistently passing the target",
        ),
        Assurance::ConsistentlyFailing => {
            icon(CONCERN, "F", "assurance: consistently failing the target")
        }
        Assurance::HitAndMiss => icon(
            COMMON_CAUSE,
            "?",
            "assurance: hit and miss against the target",
        ),
    }
}

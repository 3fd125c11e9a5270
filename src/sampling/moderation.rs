//! Moderation: a share of the sample audited a second time, by a moderator, drawn by the
//! same recorded method as the sample from a stream of its own, so that an inspector can
//! re-draw it.
//!
//! The sample's cases are put in case-key order and shuffled (Fisher-Yates, indices by
//! Lemire's method) with ChaCha20 keyed by SHA-256(`csc-audit/moderation/v1`, seed). The
//! moderated cases are then taken one at a time: of the cases some moderator may take
//! (never the case's first auditor, never a moderator from the case's team), the one whose
//! auditor has the fewest moderated so far, then whose stratum has, then the first in the
//! shuffle; its moderator is the eligible one with the fewest so far (then the first
//! listed). So the moderation spreads across auditors and strata.

use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use sha2::{Digest, Sha256};

use super::plan::{Auditor, Moderation};
use super::{below, Case, Selected};

/// One moderated case: an index into the sample's selected cases, and its moderator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Moderated {
    pub selected: usize,
    pub moderator: String,
}

/// Written in the manifest: how the moderated cases were drawn.
pub const METHOD: &str = "the sample's cases in case-key order, shuffled by Fisher-Yates with ChaCha20 keyed by SHA-256(\"csc-audit/moderation/v1\\0\" + seed); taken one at a time, among the cases a moderator may take (not the first auditor, not from the case's team), the one whose auditor then whose stratum has fewest moderated, then first in the shuffle; moderator: the eligible one with fewest cases, then first listed";

fn stream(seed: u64) -> ChaCha20Rng {
    let mut h = Sha256::new();
    h.update(b"csc-audit/moderation/v1\0");
    h.update(seed.to_string().as_bytes());
    ChaCha20Rng::from_seed(h.finalize().into())
}

fn may_moderate(m: &Auditor, case: &Case, sel: &Selected) -> bool {
    sel.auditor.as_deref() != Some(m.name.as_str())
        && (m.team.is_none() || m.team.as_deref() != case.team.as_deref())
}

/// The moderated cases, in the order taken, and a note when fewer could be moderated than
/// the plan asks.
pub fn draw(
    plan: &Moderation,
    cases: &[Case],
    selected: &[Selected],
    seed: u64,
) -> (Vec<Moderated>, Option<String>) {
    let n = selected.len();
    let want = plan.wanted(n);
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| {
        cases[selected[a].case]
            .case_id
            .cmp(&cases[selected[b].case].case_id)
    });
    let mut rng = stream(seed);
    for i in (1..n).rev() {
        let j = below(&mut rng, i as u64 + 1) as usize;
        order.swap(i, j);
    }
    let auditor = |i: usize| selected[i].auditor.clone().unwrap_or_default();
    let mut by_auditor: std::collections::BTreeMap<String, usize> = Default::default();
    let mut by_stratum: std::collections::BTreeMap<usize, usize> = Default::default();
    let mut load = vec![0usize; plan.moderators.len()];
    let mut taken = vec![false; n];
    let mut out = Vec::new();
    while out.len() < want {
        let pick = order
            .iter()
            .enumerate()
            .filter(|(_, &i)| !taken[i])
            .filter(|(_, &i)| {
                let (c, s) = (&cases[selected[i].case], &selected[i]);
                plan.moderators.iter().any(|m| may_moderate(m, c, s))
            })
            .min_by_key(|(pos, &i)| {
                (
                    by_auditor.get(&auditor(i)).copied().unwrap_or(0),
                    by_stratum.get(&selected[i].stratum).copied().unwrap_or(0),
                    *pos,
                )
            })
            .map(|(_, &i)| i);
        let Some(i) = pick else { break };
        let (c, s) = (&cases[selected[i].case], &selected[i]);
        let m = (0..plan.moderators.len())
            .filter(|&m| may_moderate(&plan.moderators[m], c, s))
            .min_by_key(|&m| (load[m], m))
            .expect("an eligible moderator");
        load[m] += 1;
        taken[i] = true;
        *by_auditor.entry(auditor(i)).or_default() += 1;
        *by_stratum.entry(selected[i].stratum).or_default() += 1;
        out.push(Moderated {
            selected: i,
            moderator: plan.moderators[m].name.clone(),
        });
    }
    let note = (out.len() < want).then(|| {
        format!(
            "{} of the {want} cases to moderate could be given a moderator: the others' \
             moderators are their first auditor or from their team",
            out.len()
        )
    });
    (out, note)
}

//! Teams and workers: department ids named through `ssd_department`, worker references
//! matched to `ssd_professionals` (by id, then staff id, then name: SystemC fills the
//! worker fields of different tables with each), and a CP plan's team and worker taken
//! from `ssd_involvements` as the SSD's own Annex A does.

use std::collections::HashMap;

use chrono::NaiveDate;

use super::read::SsdFile;

/// Department id -> team name.
#[derive(Debug, Default)]
pub struct Departments(HashMap<String, String>);

impl Departments {
    pub fn read(file: Option<&SsdFile>) -> Departments {
        let Some(f) = file else {
            return Departments::default();
        };
        let (id, name) = (f.field(&["dept_team_id"]), f.field(&["dept_team_name"]));
        let map = f
            .rows
            .iter()
            .filter_map(|r| Some((r.get(id)?.to_string(), r.get(name)?.to_string())))
            .collect();
        Departments(map)
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    /// The team a department id names; `None` when the id is not a department.
    pub fn name(&self, id: &str) -> Option<&str> {
        self.0.get(id).map(String::as_str)
    }
}

/// Every way a professional is referred to -> their professional id (`None` where two
/// professionals share the staff id or the name).
#[derive(Debug, Default)]
pub struct Professionals {
    ids: std::collections::HashSet<String>,
    staff: HashMap<String, Option<String>>,
    names: HashMap<String, Option<String>>,
}

/// What a worker reference matched.
#[derive(Debug, PartialEq, Eq)]
pub enum Match<'a> {
    /// One professional, and no other by a later rule.
    One(&'a str),
    /// One professional by the first rule that matched, another by a later rule (both
    /// numbers in SystemC, say): the first rule's is taken, and the count reported.
    Doubtful(&'a str),
    /// A staff id or name that two professionals share: left empty.
    Shared,
    None,
}

fn insert_unique(map: &mut HashMap<String, Option<String>>, key: String, id: &str) {
    map.entry(key)
        .and_modify(|v| {
            if v.as_deref() != Some(id) {
                *v = None;
            }
        })
        .or_insert_with(|| Some(id.to_string()));
}

impl Professionals {
    pub fn read(file: Option<&SsdFile>) -> Professionals {
        let mut p = Professionals::default();
        let Some(f) = file else { return p };
        let id = f.field(&["prof_professional_id"]);
        let staff = f.field(&["prof_staff_id"]);
        let name = f.field(&["prof_professional_name"]);
        for r in &f.rows {
            let Some(pid) = r.get(id) else { continue };
            p.ids.insert(pid.to_string());
            if let Some(s) = r.get(staff) {
                insert_unique(&mut p.staff, s.to_string(), pid);
            }
            if let Some(n) = r.get(name) {
                insert_unique(&mut p.names, name_key(n), pid);
            }
        }
        p
    }

    /// The professional id a reference means, matched as an id, then a staff id, then a
    /// name (the order the SSD's SystemC tables need); never the name itself.
    pub fn resolve(&self, reference: &str) -> Match<'_> {
        let by_id = self.ids.get(reference).map(String::as_str);
        let by_staff = self.staff.get(reference);
        let by_name = self.names.get(&name_key(reference));
        let found: Vec<Option<&str>> = [by_staff, by_name]
            .into_iter()
            .flatten()
            .map(Option::as_deref)
            .collect();
        let first = by_id.map(Some).or_else(|| found.first().copied());
        match first {
            None => Match::None,
            Some(None) => Match::Shared,
            Some(Some(id)) => {
                let others = by_id.iter().map(|i| Some(*i)).chain(found);
                if others.flatten().any(|o| o != id) {
                    Match::Doubtful(id)
                } else {
                    Match::One(id)
                }
            }
        }
    }
}

/// Names match ignoring case and runs of spaces.
fn name_key(name: &str) -> String {
    name.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// One allocation of a worker to a child.
#[derive(Debug, Clone)]
pub struct Involvement {
    pub person: Option<String>,
    pub referral: Option<String>,
    pub worker: Option<String>,
    pub team: Option<String>,
    pub start: Option<NaiveDate>,
    pub end: Option<NaiveDate>,
}

/// The involvements, by child (and, for Mosaic, which has no person on them, by referral).
#[derive(Debug, Default)]
pub struct Involvements {
    by_person: HashMap<String, Vec<Involvement>>,
    by_referral: HashMap<String, Vec<Involvement>>,
    /// Rows kept as allocations.
    pub used: u64,
    /// Rows of another role than the allocated case worker's.
    pub not_allocated: u64,
    /// Lines of rows that name neither a child nor a referral.
    pub no_child: Vec<u64>,
}

/// A date of an involvement: `1900-01-01` (an open involvement in SystemC) is no date.
fn involvement_date(raw: Option<&str>) -> Option<NaiveDate> {
    let d = crate::values::parse_date(raw?).ok()??;
    (d != super::convert::PLACEHOLDER).then_some(d)
}

impl Involvements {
    pub fn read(file: Option<&SsdFile>) -> Involvements {
        let mut out = Involvements::default();
        let Some(f) = file else { return out };
        let role = f.field(&["invo_professional_role_id"]);
        // From v1.4.5 the role is a code, and `CW` (the allocated case worker) is the one
        // that counts; an older export's roles are descriptions, and every one counts.
        let coded = f.rows.iter().any(|r| r.get(role) == Some("CW"));
        let [person, referral, worker, team, start, end] = [
            "invo_person_id",
            "invo_referral_id",
            "invo_professional_id",
            "invo_professional_team",
            "invo_involvement_start_date",
            "invo_involvement_end_date",
        ]
        .map(|n| f.field(&[n]));
        for r in &f.rows {
            if coded && r.get(role) != Some("CW") {
                out.not_allocated += 1;
                continue;
            }
            let i = Involvement {
                person: r.get(person).map(str::to_string),
                referral: r.get(referral).map(str::to_string),
                worker: r.get(worker).filter(|w| *w != "-1").map(str::to_string),
                team: r.get(team).map(str::to_string),
                start: involvement_date(r.get(start)),
                end: involvement_date(r.get(end)),
            };
            if let Some(p) = &i.person {
                out.by_person.entry(p.clone()).or_default().push(i);
            } else if let Some(rf) = &i.referral {
                out.by_referral.entry(rf.clone()).or_default().push(i);
            } else {
                out.no_child.push(r.line);
                continue;
            }
            out.used += 1;
        }
        out
    }

    /// The allocation of a plan: the child's latest involvement in the plan's referral
    /// episode (or, with no referral on the plan, overlapping the plan), latest end first
    /// (an open one is latest), then latest start.
    pub fn for_plan(
        &self,
        child: &str,
        referral: Option<&str>,
        start: Option<NaiveDate>,
        end: Option<NaiveDate>,
    ) -> Option<&Involvement> {
        let far = NaiveDate::MAX;
        let candidates = self.by_person.get(child).into_iter().flatten().chain(
            referral
                .and_then(|r| self.by_referral.get(r))
                .into_iter()
                .flatten(),
        );
        let in_episode = |i: &&Involvement| match (referral, &i.referral) {
            (Some(r), Some(ir)) => r == ir,
            _ => {
                let (s, e) = (start.unwrap_or(NaiveDate::MIN), end.unwrap_or(far));
                i.start.unwrap_or(NaiveDate::MIN) <= e && i.end.unwrap_or(far) >= s
            }
        };
        candidates
            .filter(in_episode)
            .max_by_key(|i| (i.end.unwrap_or(far), i.start.unwrap_or(NaiveDate::MIN)))
    }
}

/// A job title as one of the native roles, where the words say which.
pub fn role_of(title: &str) -> Option<&'static str> {
    let t = title.to_lowercase();
    if t.contains("assistant team manager") || t.contains("practice manager") {
        Some("practice_manager")
    } else if t.contains("team manager") {
        Some("team_manager")
    } else if t.contains("advanced practitioner") || t.contains("senior practitioner") {
        Some("advanced_practitioner")
    } else if t.contains("social worker") {
        Some("social_worker")
    } else {
        None
    }
}

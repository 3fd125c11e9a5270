//! The SSD tables, row by row, into the native tables.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::NaiveDate;

use super::outcome::Outcomes;
use super::people::{role_of, Departments, Involvements, Professionals};
use super::read::{Field, SsdFile, SsdRow, IDENTIFIERS};
use crate::import::{BlockCount, ImportReport, Tables};
use crate::report::{Issue, Severity};
use crate::schema::{
    ASSESSMENTS, CHILDREN, CONFERENCES, CONTACTS, CP_PLANS, REFERRALS, S47_ENQUIRIES, VISITS,
    WORKERS,
};

/// The date SystemC writes where there is none.
pub const PLACEHOLDER: NaiveDate = match NaiveDate::from_ymd_opt(1900, 1, 1) {
    Some(d) => d,
    None => panic!("a date"),
};

/// The CIN census's referral source codes: a source given as one of these is kept as the
/// code; SystemC's internal lookup ids are replaced by the description.
const SOURCE_CODES: &[&str] = &[
    "1A", "1B", "1C", "1D", "2A", "2B", "3A", "3B", "3C", "3D", "3E", "3F", "4", "5A", "5B", "5C",
    "5D", "6", "7", "8", "9", "10",
];

/// An SSD table's ids: an id shared by more than one child (Mosaic keys group work by the
/// workflow step) becomes `id-child` for each, as the SSD's own Annex A joins on both.
#[derive(Debug, Default)]
pub struct Keys {
    shared: HashSet<String>,
}

impl Keys {
    fn of(file: &SsdFile, id: Field, person: Field) -> Keys {
        let mut first: HashMap<&str, &str> = HashMap::new();
        let mut shared = HashSet::new();
        for r in &file.rows {
            if let (Some(i), Some(p)) = (r.get(id), r.get(person)) {
                if *first.entry(i).or_insert(p) != p {
                    shared.insert(i.to_string());
                }
            }
        }
        Keys { shared }
    }
    pub fn key(&self, id: &str, person: Option<&str>) -> String {
        match person {
            Some(p) if self.shared.contains(id) => format!("{id}-{p}"),
            _ => id.to_string(),
        }
    }
}

pub struct Conv<'a> {
    files: &'a [SsdFile],
    pub out: Tables,
    pub report: ImportReport,
    depts: Departments,
    profs: Professionals,
    keys: HashMap<&'static str, Keys>,
    /// Per file: rows made into native rows.
    loaded: BTreeMap<&'static str, u64>,
    /// (file, field) -> `1900-01-01` placeholders read as empty.
    placeholders: BTreeMap<(String, String), u64>,
    /// file -> worker references that match no professional.
    unmatched_workers: BTreeMap<String, u64>,
    unmatched_teams: BTreeMap<String, u64>,
    /// Native strategy discussions by (child, referral): (held date, id).
    pub strategies: HashMap<(String, String), Vec<(NaiveDate, String)>>,
    /// CP plans: id -> child, for the rows that name the plan but not the child (Mosaic).
    plan_child: HashMap<String, String>,
    /// Plans of other authorities, left out; their conferences and reviews too.
    ola_plans: HashSet<String>,
    strategy_links: u64,
}

impl<'a> Conv<'a> {
    pub fn new(files: &'a [SsdFile], report: ImportReport) -> Conv<'a> {
        Conv {
            depts: Departments::read(files.iter().find(|f| f.table == "ssd_department")),
            profs: Professionals::read(files.iter().find(|f| f.table == "ssd_professionals")),
            files,
            out: Tables::default(),
            report,
            keys: HashMap::new(),
            loaded: BTreeMap::new(),
            placeholders: BTreeMap::new(),
            unmatched_workers: BTreeMap::new(),
            unmatched_teams: BTreeMap::new(),
            strategies: HashMap::new(),
            plan_child: HashMap::new(),
            ola_plans: HashSet::new(),
            strategy_links: 0,
        }
    }

    fn file(&self, table: &str) -> Option<&'a SsdFile> {
        self.files.iter().find(|f| f.table == table)
    }

    pub fn run(&mut self) {
        for (table, id, person) in [
            ("ssd_contacts", "cont_contact_id", "cont_person_id"),
            ("ssd_cin_episodes", "cine_referral_id", "cine_person_id"),
            (
                "ssd_cin_assessments",
                "cina_assessment_id",
                "cina_person_id",
            ),
            ("ssd_s47_enquiry", "s47e_s47_enquiry_id", "s47e_person_id"),
            ("ssd_cp_plans", "cppl_cp_plan_id", "cppl_person_id"),
            (
                "ssd_initial_cp_conference",
                "icpc_icpc_id",
                "icpc_person_id",
            ),
        ] {
            if let Some(f) = self.file(table) {
                let keys = Keys::of(f, f.field(&[id]), f.field(&[person]));
                if !keys.shared.is_empty() {
                    let n = keys.shared.len();
                    self.info(
                        f,
                        "shared_id",
                        format!(
                            "ids shared by more than one child (group working): {n}; those rows \
                         are keyed id-child"
                        ),
                    );
                }
                self.keys.insert(f.table, keys);
            }
        }
        self.children();
        self.workers();
        self.contacts();
        self.referrals();
        self.assessments();
        self.s47s();
        self.plans();
        self.initial_conferences();
        self.reviews();
        self.visits();
    }

    /// The native key of an SSD id.
    fn key(&self, table: &str, id: &str, person: Option<&str>) -> String {
        self.keys
            .get(table)
            .map_or(id.to_string(), |k| k.key(id, person))
    }

    fn push(&mut self, table: &'static str, f: &SsdFile, r: &SsdRow, values: &[(&str, String)]) {
        self.out.push_from(table, &f.file, r.line, values);
        *self.loaded.entry(f.table).or_default() += 1;
    }

    fn issue(&mut self, f: &SsdFile, line: Option<u64>, rule: &str, sev: Severity, msg: String) {
        self.report.issues.push(Issue {
            table: f.table.into(),
            file: f.file.clone(),
            line,
            column: None,
            rule: rule.into(),
            severity: sev,
            message: msg,
        });
    }

    fn info(&mut self, f: &SsdFile, rule: &str, msg: String) {
        self.issue(f, None, rule, Severity::Info, msg);
    }

    /// A date field: the date part; `1900-01-01` is no date (counted); a value that is not
    /// a date is passed on for the checks to report.
    fn date(&mut self, f: &SsdFile, r: &SsdRow, field: &str) -> String {
        match self.stamp_of(f, r, field) {
            Ok(Some(s)) => s.date().to_string(),
            Ok(None) => String::new(),
            Err(raw) => raw,
        }
    }

    /// A date or datetime field; a time is kept when the export has one.
    fn datetime(&mut self, f: &SsdFile, r: &SsdRow, field: &str) -> String {
        match self.stamp_of(f, r, field) {
            Ok(Some(s)) if s.has_time => s.at.format("%Y-%m-%d %H:%M:%S").to_string(),
            Ok(Some(s)) => s.date().to_string(),
            Ok(None) => String::new(),
            Err(raw) => raw,
        }
    }

    fn stamp_of(
        &mut self,
        f: &SsdFile,
        r: &SsdRow,
        field: &str,
    ) -> Result<Option<crate::values::Stamp>, String> {
        let Some(raw) = r.get(f.field(&[field])) else {
            return Ok(None);
        };
        match crate::values::parse_stamp(raw) {
            Ok(Some(s)) if s.date() == PLACEHOLDER => {
                let k = (f.file.clone(), field.to_string());
                *self.placeholders.entry(k).or_default() += 1;
                Ok(None)
            }
            Ok(s) => Ok(s),
            Err(_) => Err(raw.to_string()),
        }
    }

    /// A worker reference as the professional id; never a name.
    fn worker(&mut self, f: &SsdFile, r: &SsdRow, field: &str) -> String {
        let Some(raw) = r.get(f.field(&[field])).filter(|w| *w != "-1") else {
            return String::new();
        };
        match self.profs.resolve(raw) {
            Some(id) => id.to_string(),
            None => {
                *self.unmatched_workers.entry(f.file.clone()).or_default() += 1;
                String::new()
            }
        }
    }

    /// A team reference (a department id) as the team's name.
    fn team(&mut self, f: &SsdFile, r: &SsdRow, field: &str) -> String {
        let Some(raw) = r.get(f.field(&[field])).filter(|t| *t != "-1") else {
            return String::new();
        };
        match self.depts.name(raw) {
            Some(name) => name.to_string(),
            None => {
                if !self.depts.is_empty() {
                    *self.unmatched_teams.entry(f.file.clone()).or_default() += 1;
                }
                raw.to_string()
            }
        }
    }

    fn text(f: &SsdFile, r: &SsdRow, names: &[&str]) -> String {
        r.text(f.field(names))
    }

    fn source(f: &SsdFile, r: &SsdRow, code: &str, desc: &str) -> String {
        let c = Self::text(f, r, &[code]);
        let d = Self::text(f, r, &[desc]);
        if SOURCE_CODES.iter().any(|s| s.eq_ignore_ascii_case(&c)) || d.is_empty() {
            c
        } else {
            d
        }
    }

    fn children(&mut self) {
        let Some(f) = self.file("ssd_person") else {
            return;
        };
        let disability = self.disability();
        let id = f.field(&["pers_person_id"]);
        for r in &f.rows {
            let mut dob = self.date(f, r, "pers_dob");
            if dob.is_empty() {
                dob = self.date(f, r, "pers_expected_dob");
            }
            let child = r.text(id);
            let disabled = disability
                .get(&child)
                .map_or("", |d| if *d { "Y" } else { "N" });
            let sex = Self::text(f, r, &["pers_sex"]);
            let sex = if sex.is_empty() {
                Self::text(f, r, &["pers_gender"])
            } else {
                sex
            };
            let v = [
                ("child_id", child),
                ("date_of_birth", dob),
                ("sex", sex),
                ("ethnicity", Self::text(f, r, &["pers_ethnicity"])),
                ("disability", disabled.to_string()),
            ];
            self.push(CHILDREN, f, r, &v);
        }
    }

    /// Child -> has a disability (a code other than `NONE`), as the SSD's Annex A derives it.
    fn disability(&mut self) -> HashMap<String, bool> {
        let mut out: HashMap<String, bool> = HashMap::new();
        let Some(f) = self.file("ssd_disability") else {
            return out;
        };
        let (person, code) = (
            f.field(&["disa_person_id"]),
            f.field(&["disa_disability_code"]),
        );
        for r in &f.rows {
            if let Some(p) = r.get(person) {
                let has = r.get(code).is_some_and(|c| !c.eq_ignore_ascii_case("NONE"));
                *out.entry(p.to_string()).or_default() |= has;
                *self.loaded.entry(f.table).or_default() += 1;
            } else {
                self.issue(
                    f,
                    Some(r.line),
                    "no_person",
                    Severity::Error,
                    "disa_person_id is empty: the row says nothing about a child".into(),
                );
            }
        }
        out
    }

    fn workers(&mut self) {
        let Some(f) = self.file("ssd_professionals") else {
            return;
        };
        let mut unknown_roles = 0;
        for r in &f.rows {
            let title = Self::text(f, r, &["prof_professional_job_title"]);
            let role = role_of(&title).unwrap_or_default();
            if role.is_empty() && !title.is_empty() {
                unknown_roles += 1;
            }
            let v = [
                ("worker", Self::text(f, r, &["prof_professional_id"])),
                ("team", Self::text(f, r, &["prof_professional_department"])),
                ("role", role.to_string()),
                ("fte", Self::text(f, r, &["prof_full_time_equivalency"])),
            ];
            self.push(WORKERS, f, r, &v);
        }
        if unknown_roles > 0 {
            self.info(
                f,
                "role_not_matched",
                format!(
                    "{unknown_roles} job titles do not say social worker, advanced or senior \
                 practitioner, practice manager or team manager: role left empty"
                ),
            );
        }
    }

    fn contacts(&mut self) {
        let Some(f) = self.file("ssd_contacts") else {
            return;
        };
        for r in &f.rows {
            let child = r.get(f.field(&["cont_person_id"]));
            let id = r
                .get(f.field(&["cont_contact_id"]))
                .map_or(String::new(), |i| self.key(f.table, i, child));
            let outcome = Outcomes::parse(r.get(f.field(&["cont_contact_outcome_json"])));
            let v = [
                ("contact_id", id),
                ("child_id", child.unwrap_or_default().to_string()),
                ("contact_date", self.date(f, r, "cont_contact_date")),
                (
                    "source",
                    Self::source(f, r, "cont_contact_source_code", "cont_contact_source_desc"),
                ),
                ("outcome", outcome.text()),
            ];
            self.push(CONTACTS, f, r, &v);
        }
    }

    fn referrals(&mut self) {
        let Some(f) = self.file("ssd_cin_episodes") else {
            return;
        };
        for r in &f.rows {
            let child = r.get(f.field(&["cine_person_id"]));
            let id = r
                .get(f.field(&["cine_referral_id"]))
                .map_or(String::new(), |i| self.key(f.table, i, child));
            let o = Outcomes::parse(r.get(f.field(&["cine_referral_outcome_json"])));
            let nfa = r.get(f.field(&["cine_referral_nfa"]));
            let outcome = referral_outcome(&o, nfa);
            let v = [
                ("referral_id", id),
                ("child_id", child.unwrap_or_default().to_string()),
                ("received_at", self.datetime(f, r, "cine_referral_date")),
                (
                    "source",
                    Self::source(
                        f,
                        r,
                        "cine_referral_source_code",
                        "cine_referral_source_desc",
                    ),
                ),
                ("outcome", outcome.to_string()),
                ("team", self.team(f, r, "cine_referral_team")),
                ("worker", self.worker(f, r, "cine_referral_worker_id")),
            ];
            self.push(REFERRALS, f, r, &v);
        }
    }

    fn assessments(&mut self) {
        let Some(f) = self.file("ssd_cin_assessments") else {
            return;
        };
        for r in &f.rows {
            let child = r.get(f.field(&["cina_person_id"]));
            let id = r
                .get(f.field(&["cina_assessment_id"]))
                .map_or(String::new(), |i| self.key(f.table, i, child));
            let referral = r
                .get(f.field(&["cina_referral_id"]))
                .map_or(String::new(), |i| self.key("ssd_cin_episodes", i, child));
            let nfa = r.get(f.field(&["cina_assessment_outcome_nfa"]));
            let o = Outcomes::parse(r.get(f.field(&["cina_assessment_outcome_json"])));
            let outcome = if is_yes(nfa) {
                "nfa".to_string()
            } else {
                o.text()
            };
            let v = [
                ("assessment_id", id),
                ("child_id", child.unwrap_or_default().to_string()),
                ("referral_id", referral),
                ("start_date", self.date(f, r, "cina_assessment_start_date")),
                (
                    "authorised_date",
                    self.date(f, r, "cina_assessment_auth_date"),
                ),
                ("outcome", outcome),
                ("team", self.team(f, r, "cina_assessment_team")),
                ("worker", self.worker(f, r, "cina_assessment_worker_id")),
            ];
            self.push(ASSESSMENTS, f, r, &v);
        }
    }

    fn s47s(&mut self) {
        let Some(f) = self.file("ssd_s47_enquiry") else {
            return;
        };
        for r in &f.rows {
            let child = r.get(f.field(&["s47e_person_id"]));
            let id = r
                .get(f.field(&["s47e_s47_enquiry_id"]))
                .map_or(String::new(), |i| self.key(f.table, i, child));
            let o = Outcomes::parse(r.get(f.field(&["s47e_s47_outcome_json"])));
            let nfa = r.get(f.field(&["s47e_s47_nfa"]));
            // The SSD's own CIN census mapping: no ICPC needed when the S47 ended in NFA.
            let not_required = if is_yes(nfa) {
                "Y"
            } else if o.has("CP_CONFERENCE") {
                "N"
            } else {
                ""
            };
            let start = self.date(f, r, "s47e_s47_start_date");
            let strategy = self.strategy_for(f, r, child, &start);
            let v = [
                ("s47_id", id),
                ("child_id", child.unwrap_or_default().to_string()),
                ("strategy_id", strategy),
                ("start_date", start),
                ("end_date", self.date(f, r, "s47e_s47_end_date")),
                ("icpc_not_required", not_required.to_string()),
                ("outcome", o.text()),
                ("team", self.team(f, r, "s47e_s47_completed_by_team")),
                (
                    "worker",
                    self.worker(f, r, "s47e_s47_completed_by_worker_id"),
                ),
            ];
            self.push(S47_ENQUIRIES, f, r, &v);
        }
    }

    /// The native strategy discussion that began an S47: the SSD's S47 has no strategy id,
    /// so it is the child's latest discussion in the same referral held on or before the
    /// S47 started.
    fn strategy_for(
        &mut self,
        f: &SsdFile,
        r: &SsdRow,
        child: Option<&str>,
        start: &str,
    ) -> String {
        let (Some(child), Some(referral)) = (child, r.get(f.field(&["s47e_referral_id"]))) else {
            return String::new();
        };
        let Ok(start) = start.parse::<NaiveDate>() else {
            return String::new();
        };
        let referral = self.key("ssd_cin_episodes", referral, Some(child));
        let found = self
            .strategies
            .get(&(child.to_string(), referral))
            .into_iter()
            .flatten()
            .filter(|(held, _)| *held <= start)
            .max();
        match found {
            Some((_, id)) => {
                self.strategy_links += 1;
                id.clone()
            }
            None => String::new(),
        }
    }

    fn plans(&mut self) {
        let Some(f) = self.file("ssd_cp_plans") else {
            return;
        };
        let invos = Involvements::read(self.file("ssd_involvements"));
        if let Some(i) = self.file("ssd_involvements") {
            *self.loaded.entry(i.table).or_default() += i.rows.len() as u64;
        }
        let ola = f.field(&["cppl_cp_plan_ola"]);
        for r in &f.rows {
            let child = r.get(f.field(&["cppl_person_id"]));
            let id = r
                .get(f.field(&["cppl_cp_plan_id"]))
                .map_or(String::new(), |i| self.key(f.table, i, child));
            if let Some(c) = child {
                self.plan_child.insert(id.clone(), c.to_string());
            }
            if is_yes(r.get(ola)) {
                self.ola_plans.insert(id);
                self.issue(
                    f,
                    Some(r.line),
                    "other_authority",
                    Severity::Info,
                    "another local authority's plan (cppl_cp_plan_ola = Y): left out, as the \
                     SSD's Annex A leaves it out"
                        .into(),
                );
                continue;
            }
            let (start, end) = (
                self.date(f, r, "cppl_cp_plan_start_date"),
                self.date(f, r, "cppl_cp_plan_end_date"),
            );
            let referral = r.get(f.field(&["cppl_referral_id"])).filter(|x| *x != "-1");
            let alloc = child.and_then(|c| {
                invos
                    .for_plan(c, referral, start.parse().ok(), end.parse().ok())
                    .cloned()
            });
            let team = alloc
                .as_ref()
                .and_then(|a| a.team.clone())
                .map_or(String::new(), |t| {
                    self.depts.name(&t).map_or(t.clone(), str::to_string)
                });
            let worker = alloc
                .and_then(|a| a.worker)
                .and_then(|w| self.profs.resolve(&w).map(str::to_string))
                .unwrap_or_default();
            let v = [
                ("plan_id", id),
                ("child_id", child.unwrap_or_default().to_string()),
                ("start_date", start),
                ("end_date", end),
                (
                    "initial_category",
                    crate::import::category_of_abuse(&Self::text(
                        f,
                        r,
                        &["cppl_cp_plan_initial_category"],
                    )),
                ),
                (
                    "latest_category",
                    crate::import::category_of_abuse(&Self::text(
                        f,
                        r,
                        &["cppl_cp_plan_latest_category"],
                    )),
                ),
                ("team", team),
                ("worker", worker),
            ];
            self.push(CP_PLANS, f, r, &v);
        }
    }

    /// The native plan id of an SSD plan reference, empty for another authority's plan.
    fn plan_ref(&self, raw: Option<&str>, child: Option<&str>) -> String {
        let Some(p) = raw.filter(|p| *p != "-1") else {
            return String::new();
        };
        let key = self.key("ssd_cp_plans", p, child);
        if self.ola_plans.contains(&key) {
            String::new()
        } else {
            key
        }
    }

    fn initial_conferences(&mut self) {
        let Some(f) = self.file("ssd_initial_cp_conference") else {
            return;
        };
        // Plans that name their ICPC, for ICPCs that do not name their plan.
        let plan_of_icpc: HashMap<String, String> =
            self.file("ssd_cp_plans").map_or_else(HashMap::new, |p| {
                let (icpc, plan) = (p.field(&["cppl_icpc_id"]), p.field(&["cppl_cp_plan_id"]));
                p.rows
                    .iter()
                    .filter_map(|r| Some((r.get(icpc)?.to_string(), r.get(plan)?.to_string())))
                    .collect()
            });
        for r in &f.rows {
            let child = r.get(f.field(&["icpc_person_id"]));
            let date = self.date(f, r, "icpc_icpc_date");
            if date.is_empty() {
                self.issue(
                    f,
                    Some(r.line),
                    "not_held",
                    Severity::Info,
                    "icpc_icpc_date is empty: a conference not yet held, left out".into(),
                );
                continue;
            }
            let raw_id = r.get(f.field(&["icpc_icpc_id"]));
            let id = raw_id.map_or(String::new(), |i| {
                format!("ICPC-{}", self.key(f.table, i, child))
            });
            let s47 = r
                .get(f.field(&["icpc_s47_enquiry_id"]))
                .filter(|s| *s != "-1")
                .map_or(String::new(), |s| self.key("ssd_s47_enquiry", s, child));
            let plan = r
                .get(f.field(&["icpc_cp_plan_id"]))
                .or_else(|| raw_id.and_then(|i| plan_of_icpc.get(i)).map(String::as_str));
            let outcome = match r.get(f.field(&["icpc_icpc_outcome_cp_flag"])).map(flag) {
                Some(Some(true)) => "plan",
                Some(Some(false)) => "no_plan",
                _ => "",
            };
            let v = [
                ("conference_id", id),
                ("child_id", child.unwrap_or_default().to_string()),
                ("conference_type", "initial".into()),
                ("date", date),
                ("s47_id", s47),
                ("plan_id", self.plan_ref(plan, child)),
                ("outcome", outcome.into()),
            ];
            self.push(CONFERENCES, f, r, &v);
        }
    }

    fn reviews(&mut self) {
        let Some(f) = self.file("ssd_cp_reviews") else {
            return;
        };
        for r in &f.rows {
            let plan_raw = r.get(f.field(&["cppr_cp_plan_id"]));
            let child = r
                .get(f.field(&["cppr_person_id"]))
                .map(str::to_string)
                .or_else(|| plan_raw.and_then(|p| self.plan_child.get(p).cloned()));
            let plan = self.plan_ref(plan_raw, child.as_deref());
            if plan_raw.is_some() && plan.is_empty() {
                self.issue(
                    f,
                    Some(r.line),
                    "other_authority",
                    Severity::Info,
                    "the review of another local authority's plan: left out".into(),
                );
                continue;
            }
            let date = self.date(f, r, "cppr_cp_review_date");
            if date.is_empty() {
                self.issue(
                    f,
                    Some(r.line),
                    "not_held",
                    Severity::Info,
                    "cppr_cp_review_date is empty: a review not yet held, left out".into(),
                );
                continue;
            }
            let id = r
                .get(f.field(&["cppr_cp_review_id"]))
                .map_or(String::new(), |i| format!("RCPC-{i}"));
            let outcome = match r
                .get(f.field(&["cppr_cp_review_outcome_continue_cp"]))
                .map(flag)
            {
                Some(Some(true)) => "continue",
                Some(Some(false)) => "end",
                _ => "",
            };
            let v = [
                ("conference_id", id),
                ("child_id", child.unwrap_or_default()),
                ("conference_type", "review".into()),
                ("date", date),
                ("plan_id", plan),
                ("outcome", outcome.into()),
            ];
            self.push(CONFERENCES, f, r, &v);
        }
    }

    fn visits(&mut self) {
        let cp_ids: HashSet<String> = self.file("ssd_cp_visits").map_or_else(HashSet::new, |f| {
            let id = f.field(&["cppv_cp_visit_id"]);
            f.rows
                .iter()
                .filter_map(|r| r.get(id).map(str::to_string))
                .collect()
        });
        for (table, prefix, kind, p) in [
            ("ssd_cp_visits", "CP", "cp", "cppv"),
            ("ssd_cin_visits", "CIN", "cin", "cinv"),
            ("ssd_cla_visits", "CLA", "cla", "clav"),
        ] {
            let Some(f) = self.file(table) else { continue };
            let field = |n: &str| format!("{p}_{kind}_visit_{n}");
            for r in &f.rows {
                let raw_id = r.get(f.field(&[&field("id")]));
                if kind == "cin" && raw_id.is_some_and(|i| cp_ids.contains(i)) {
                    self.issue(f, Some(r.line), "repeats_cp_visit", Severity::Info,
                        "the same case note as a CP visit in ssd_cp_visits: counted once, as a CP visit".into());
                    continue;
                }
                let plan = r.get(f.field(&["cppv_cp_plan_id"]));
                let child = r
                    .get(f.field(&[&format!("{p}_person_id")]))
                    .map(str::to_string)
                    .or_else(|| plan.and_then(|pl| self.plan_child.get(pl).cloned()));
                let v = [
                    (
                        "visit_id",
                        raw_id.map_or(String::new(), |i| format!("{prefix}-{i}")),
                    ),
                    ("child_id", child.unwrap_or_default()),
                    ("visit_date", self.date(f, r, &field("date"))),
                    ("visit_type", kind.into()),
                    ("seen_alone", Self::text(f, r, &[&field("seen_alone")])),
                ];
                self.push(VISITS, f, r, &v);
            }
        }
    }

    /// The report: every SSD row accounted for, and what was dropped, guessed or missing.
    pub fn finish(mut self) -> (Tables, ImportReport) {
        for f in self.files {
            let read = f.rows.len() as u64 + f.bad_rows;
            let loaded = self.loaded.get(f.table).copied().unwrap_or(0);
            self.report.blocks.insert(
                f.table.into(),
                BlockCount {
                    read,
                    loaded,
                    rejected: read - loaded,
                },
            );
            self.report.block_order.push(f.table.into());
            let dropped: Vec<&str> = f
                .header
                .iter()
                .map(String::as_str)
                .filter(|h| IDENTIFIERS.contains(h))
                .collect();
            if !dropped.is_empty() {
                let why = if f.table == "ssd_professionals" {
                    " (a professional's name is used only to match worker references)"
                } else {
                    ""
                };
                self.info(
                    f,
                    "identifier_dropped",
                    format!(
                    "{} identify a person and are dropped on read: never written, never shown{why}",
                    dropped.join(", ")
                ),
                );
            }
            for (field, n) in f.unused() {
                if !IDENTIFIERS.contains(&field) {
                    self.report
                        .ignored
                        .insert(format!("{}.{field}", f.table), n);
                }
            }
        }
        self.report_counts();
        super::natives::report_missing(&mut self);
        for t in super::FROM_SSD.iter().chain(super::NATIVE_EXTRAS) {
            let n = self.out.rows(t).len() as u64;
            if n > 0 || super::FROM_SSD.contains(t) {
                self.report.rows_written.insert(t.to_string(), n);
            }
        }
        (self.out, self.report)
    }

    fn report_counts(&mut self) {
        let files = self.files;
        let by_name = |name: &str| files.iter().find(|f| f.file == name);
        for ((file, field), n) in std::mem::take(&mut self.placeholders) {
            if let Some(f) = by_name(&file) {
                self.info(
                    f,
                    "placeholder_date",
                    format!(
                    "{n} values of {field} are 1900-01-01, a placeholder for no date: read as empty"
                ),
                );
            }
        }
        for (file, n) in std::mem::take(&mut self.unmatched_workers) {
            if let Some(f) = by_name(&file) {
                self.issue(
                    f,
                    None,
                    "worker_not_matched",
                    Severity::Warning,
                    format!(
                        "{n} worker references match no professional in ssd_professionals (as an \
                     id, a staff id or a name): left empty, since a name is never carried"
                    ),
                );
            }
        }
        for (file, n) in std::mem::take(&mut self.unmatched_teams) {
            if let Some(f) = by_name(&file) {
                self.issue(
                    f,
                    None,
                    "team_not_matched",
                    Severity::Warning,
                    format!(
                    "{n} team references are not a dept_team_id of ssd_department: kept as given"
                ),
                );
            }
        }
        if self.strategy_links > 0 {
            if let Some(f) = self.file("ssd_s47_enquiry") {
                self.info(
                    f,
                    "strategy_linked",
                    format!(
                        "{} S47 enquiries linked to the strategy discussion of the same child and \
                     referral held on or before the S47 started (the SSD's S47 has no strategy id)",
                        self.strategy_links
                    ),
                );
            }
        }
    }
}

fn flag(raw: &str) -> Option<bool> {
    crate::values::parse_flag(raw).ok().flatten()
}

fn is_yes(raw: Option<&str>) -> bool {
    raw.and_then(flag) == Some(true)
}

/// A referral's outcome from its flags: an S47 route first, then an assessment, then no
/// further action, early help (Mosaic's steps only) and anything else.
fn referral_outcome(o: &Outcomes, nfa: Option<&str>) -> &'static str {
    if o.has("STRATEGY_DISCUSSION") || o.has("CP_CONFERENCE") {
        "s47"
    } else if o.has("SINGLE_ASSESSMENT") {
        "assessment"
    } else if is_yes(nfa) || o.has("NFA") {
        "nfa"
    } else if o.has("EARLY_HELP") {
        "early_help"
    } else if !o.0.is_empty() {
        "other"
    } else {
        ""
    }
}

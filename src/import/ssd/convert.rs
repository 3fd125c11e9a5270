//! The SSD tables, row by row, into the native tables.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::NaiveDate;

use super::outcome::Outcomes;
use super::people::{role_of, Departments, Involvements, Match, Professionals};
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
    fn of(file: &SsdFile, id: Field, person: impl Fn(&SsdRow) -> Option<String>) -> Keys {
        let mut first: HashMap<&str, String> = HashMap::new();
        let mut shared = HashSet::new();
        for r in &file.rows {
            if let (Some(i), Some(p)) = (r.get(id), person(r)) {
                if *first.entry(i).or_insert_with(|| p.clone()) != p {
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
    /// Native strategy discussions by (child, referral): (held date, id).
    pub strategies: HashMap<(String, String), Vec<(NaiveDate, String)>>,
    /// CP plans: SSD id -> child (`None` when siblings share the id), for the rows that
    /// name the plan but not the child (Mosaic).
    plan_child: HashMap<String, Option<String>>,
    /// Other counts for the report: (file, what) -> rows.
    counts: BTreeMap<(String, &'static str), u64>,
    /// Plans of other authorities, left out; their conferences and reviews too.
    ola_plans: HashSet<String>,
    strategy_links: u64,
}

impl<'a> Conv<'a> {
    pub fn new(files: &'a [SsdFile], report: ImportReport) -> Conv<'a> {
        let mut conv = Conv {
            depts: Departments::read(files.iter().find(|f| f.table == "ssd_department")),
            profs: Professionals::read(files.iter().find(|f| f.table == "ssd_professionals")),
            files,
            out: Tables::default(),
            report,
            keys: HashMap::new(),
            loaded: BTreeMap::new(),
            placeholders: BTreeMap::new(),
            strategies: HashMap::new(),
            plan_child: HashMap::new(),
            counts: BTreeMap::new(),
            ola_plans: HashSet::new(),
            strategy_links: 0,
        };
        conv.keys_of_tables();
        conv.plan_children();
        conv
    }

    /// Plans' children by SSD id, before any table that names a plan is read.
    fn plan_children(&mut self) {
        let Some(f) = self.file("ssd_cp_plans") else {
            return;
        };
        let (id, person) = (f.field(&["cppl_cp_plan_id"]), f.field(&["cppl_person_id"]));
        for r in &f.rows {
            if let (Some(i), Some(p)) = (r.get(id), r.get(person)) {
                self.plan_child
                    .entry(i.to_string())
                    .and_modify(|c| {
                        if c.as_deref() != Some(p) {
                            *c = None;
                        }
                    })
                    .or_insert_with(|| Some(p.to_string()));
            }
        }
    }

    /// The child of a row that may name only its plan.
    fn child_via_plan(&self, f: &SsdFile, r: &SsdRow, person: &str, plan: &str) -> Option<String> {
        r.get(f.field(&[person])).map(str::to_string).or_else(|| {
            let p = r.get(f.field(&[plan]))?;
            self.plan_child.get(p).cloned().flatten()
        })
    }

    fn count(&mut self, f: &SsdFile, what: &'static str) {
        *self.counts.entry((f.file.clone(), what)).or_default() += 1;
    }

    fn file(&self, table: &str) -> Option<&'a SsdFile> {
        self.files.iter().find(|f| f.table == table)
    }

    fn keys_of_tables(&mut self) {
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
                let p = f.field(&[person]);
                let keys = Keys::of(f, f.field(&[id]), |r| r.get(p).map(str::to_string));
                self.note_keys(f, keys);
            }
        }
    }

    /// Keys of a table whose rows may name only their plan (reviews, visits in Mosaic).
    fn keys_via_plan(&mut self, f: &'a SsdFile, id: &str, person: &str, plan: &str) {
        let keys = Keys::of(f, f.field(&[id]), |r| {
            self.child_via_plan(f, r, person, plan)
        });
        self.note_keys(f, keys);
    }

    fn note_keys(&mut self, f: &SsdFile, keys: Keys) {
        if !keys.shared.is_empty() {
            let n = keys.shared.len();
            self.info(
                f,
                "shared_id",
                format!(
                    "ids shared by more than one child (group working): {n}; those rows are keyed \
                 id-child"
                ),
            );
        }
        self.keys.insert(f.table, keys);
    }

    pub fn run(&mut self) {
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
    pub fn key(&self, table: &str, id: &str, person: Option<&str>) -> String {
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
    fn worker(&mut self, f: &SsdFile, raw: Option<&str>) -> String {
        let Some(raw) = raw.filter(|w| *w != "-1") else {
            return String::new();
        };
        let what = match self.profs.resolve(raw) {
            Match::One(id) => return id.to_string(),
            Match::Doubtful(id) => {
                let id = id.to_string();
                self.count(f, "worker_doubtful");
                return id;
            }
            Match::Shared => "worker_shared",
            Match::None => "worker_not_matched",
        };
        self.count(f, what);
        String::new()
    }

    fn worker_of(&mut self, f: &SsdFile, r: &SsdRow, field: &str) -> String {
        self.worker(f, r.get(f.field(&[field])))
    }

    /// A team reference (a department id) as the team's name.
    fn team(&mut self, f: &SsdFile, raw: Option<&str>) -> String {
        let Some(raw) = raw.filter(|t| *t != "-1") else {
            return String::new();
        };
        match self.depts.name(raw) {
            Some(name) => name.to_string(),
            None => {
                self.count(
                    f,
                    if self.depts.is_empty() {
                        "team_no_departments"
                    } else {
                        "team_not_matched"
                    },
                );
                raw.to_string()
            }
        }
    }

    fn team_of(&mut self, f: &SsdFile, r: &SsdRow, field: &str) -> String {
        self.team(f, r.get(f.field(&[field])))
    }

    fn text(f: &SsdFile, r: &SsdRow, names: &[&str]) -> String {
        r.text(f.field(names))
    }

    /// A contact's or referral's source. SystemC puts its own lookup ids in the code field,
    /// and some (4, 6, ...) look like CIN codes: a column with any value that is not a CIN
    /// code is taken as lookup ids throughout, and the description is used.
    fn source(f: &SsdFile, r: &SsdRow, code: &str, desc: &str, cin_codes: bool) -> String {
        let c = Self::text(f, r, &[code]);
        let d = Self::text(f, r, &[desc]);
        if (cin_codes && !c.is_empty()) || d.is_empty() {
            c
        } else {
            d
        }
    }

    /// True when every value of a source code column is a CIN census code.
    fn codes_are_cin(f: &SsdFile, code: &str) -> bool {
        let c = f.field(&[code]);
        f.rows
            .iter()
            .filter_map(|r| r.get(c))
            .all(|v| SOURCE_CODES.iter().any(|s| s.eq_ignore_ascii_case(v)))
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
        let children: HashSet<&str> = self.file("ssd_person").map_or_else(HashSet::new, |p| {
            let id = p.field(&["pers_person_id"]);
            p.rows.iter().filter_map(|r| r.get(id)).collect()
        });
        let (person, code) = (
            f.field(&["disa_person_id"]),
            f.field(&["disa_disability_code"]),
        );
        for r in &f.rows {
            match r.get(person) {
                Some(p) if children.contains(p) => {
                    let has = r.get(code).is_some_and(|c| !c.eq_ignore_ascii_case("NONE"));
                    *out.entry(p.to_string()).or_default() |= has;
                    *self.loaded.entry(f.table).or_default() += 1;
                }
                Some(_) => self.issue(
                    f,
                    Some(r.line),
                    "missing_link",
                    Severity::Warning,
                    "disa_person_id is not a pers_person_id of ssd_person: not used".into(),
                ),
                None => self.issue(
                    f,
                    Some(r.line),
                    "no_person",
                    Severity::Error,
                    "disa_person_id is empty: the row says nothing about a child".into(),
                ),
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
        let cin_codes = Self::codes_are_cin(f, "cont_contact_source_code");
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
                    Self::source(
                        f,
                        r,
                        "cont_contact_source_code",
                        "cont_contact_source_desc",
                        cin_codes,
                    ),
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
        let cin_codes = Self::codes_are_cin(f, "cine_referral_source_code");
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
                        cin_codes,
                    ),
                ),
                ("outcome", outcome.to_string()),
                ("team", self.team_of(f, r, "cine_referral_team")),
                ("worker", self.worker_of(f, r, "cine_referral_worker_id")),
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
                ("team", self.team_of(f, r, "cina_assessment_team")),
                ("worker", self.worker_of(f, r, "cina_assessment_worker_id")),
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
                ("team", self.team_of(f, r, "s47e_s47_completed_by_team")),
                (
                    "worker",
                    self.worker_of(f, r, "s47e_s47_completed_by_worker_id"),
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
        // The strategy file names the referral by its SSD id, as the S47 does.
        let referral = referral.to_string();
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
        let invos = Involvements::read(self.file("ssd_involvements"));
        if let Some(i) = self.file("ssd_involvements") {
            self.account_involvements(i, &invos);
        }
        let Some(f) = self.file("ssd_cp_plans") else {
            return;
        };
        let ola = f.field(&["cppl_cp_plan_ola"]);
        for r in &f.rows {
            let child = r.get(f.field(&["cppl_person_id"]));
            let id = r
                .get(f.field(&["cppl_cp_plan_id"]))
                .map_or(String::new(), |i| self.key(f.table, i, child));
            if is_yes(r.get(ola)) {
                self.ola_plans.insert(id);
                self.issue(
                    f,
                    Some(r.line),
                    "other_authority",
                    Severity::Info,
                    "another local authority's plan (cppl_cp_plan_ola = Y): left out, with its \
                     conferences and reviews, as the SSD's Annex A leaves it out"
                        .into(),
                );
                continue;
            }
            let start = self.date(f, r, "cppl_cp_plan_start_date");
            let end = self.date(f, r, "cppl_cp_plan_end_date");
            let referral = r.get(f.field(&["cppl_referral_id"])).filter(|x| *x != "-1");
            let alloc = child.and_then(|c| {
                invos
                    .for_plan(c, referral, start.parse().ok(), end.parse().ok())
                    .cloned()
            });
            let i = self.file("ssd_involvements").unwrap_or(f);
            let (team, worker) = match alloc {
                Some(a) => (
                    self.team(i, a.team.as_deref()),
                    self.worker(i, a.worker.as_deref()),
                ),
                None => (String::new(), String::new()),
            };
            let initial = Self::text(f, r, &["cppl_cp_plan_initial_category"]);
            let latest = Self::text(f, r, &["cppl_cp_plan_latest_category"]);
            let v = [
                ("plan_id", id),
                ("child_id", child.unwrap_or_default().to_string()),
                ("start_date", start),
                ("end_date", end),
                (
                    "initial_category",
                    crate::import::category_of_abuse(&initial),
                ),
                ("latest_category", crate::import::category_of_abuse(&latest)),
                ("team", team),
                ("worker", worker),
            ];
            self.push(CP_PLANS, f, r, &v);
        }
    }

    /// Involvements used for plans' allocations count as loaded; the rest are said.
    fn account_involvements(&mut self, f: &SsdFile, invos: &Involvements) {
        *self.loaded.entry(f.table).or_default() += invos.used;
        if invos.not_allocated > 0 {
            *self
                .counts
                .entry((f.file.clone(), "not_allocated_worker"))
                .or_default() += invos.not_allocated;
        }
        for line in &invos.no_child {
            self.issue(
                f,
                Some(*line),
                "no_person",
                Severity::Error,
                "neither invo_person_id nor invo_referral_id: the involvement is of no child"
                    .into(),
            );
        }
    }

    /// The native plan id of an SSD plan reference (`-1` is none).
    fn plan_ref(&self, raw: Option<&str>, child: Option<&str>) -> Option<String> {
        let p = raw.filter(|p| *p != "-1")?;
        Some(self.key("ssd_cp_plans", p, child))
    }

    fn initial_conferences(&mut self) {
        let Some(f) = self.file("ssd_initial_cp_conference") else {
            return;
        };
        // Plans that name their ICPC, for ICPCs that do not name their plan.
        let plan_of_icpc: HashMap<(String, String), String> =
            self.file("ssd_cp_plans").map_or_else(HashMap::new, |p| {
                let (icpc, plan, person) = (
                    p.field(&["cppl_icpc_id"]),
                    p.field(&["cppl_cp_plan_id"]),
                    p.field(&["cppl_person_id"]),
                );
                p.rows
                    .iter()
                    .filter_map(|r| {
                        let key = (r.get(icpc)?.to_string(), r.get(person)?.to_string());
                        Some((key, r.get(plan)?.to_string()))
                    })
                    .collect()
            });
        for r in &f.rows {
            let child = r.get(f.field(&["icpc_person_id"]));
            let raw_id = r.get(f.field(&["icpc_icpc_id"]));
            let named = r.get(f.field(&["icpc_cp_plan_id"])).filter(|p| *p != "-1");
            let found = raw_id
                .zip(child)
                .and_then(|(i, c)| plan_of_icpc.get(&(i.to_string(), c.to_string())));
            let plan = self.plan_ref(named.or(found.map(String::as_str)), child);
            if plan.as_ref().is_some_and(|p| self.ola_plans.contains(p)) {
                self.issue(
                    f,
                    Some(r.line),
                    "other_authority",
                    Severity::Info,
                    "the initial conference of another local authority's plan: left out".into(),
                );
                continue;
            }
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
            if is_yes(r.get(f.field(&["icpc_icpc_transfer_in"]))) {
                self.count(f, "transfer_in");
            }
            let id = raw_id.map_or(String::new(), |i| {
                format!("ICPC-{}", self.key(f.table, i, child))
            });
            let s47 = r
                .get(f.field(&["icpc_s47_enquiry_id"]))
                .filter(|s| *s != "-1")
                .map_or(String::new(), |s| self.key("ssd_s47_enquiry", s, child));
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
                ("plan_id", plan.unwrap_or_default()),
                ("outcome", outcome.into()),
            ];
            self.push(CONFERENCES, f, r, &v);
        }
    }

    fn reviews(&mut self) {
        let Some(f) = self.file("ssd_cp_reviews") else {
            return;
        };
        self.keys_via_plan(f, "cppr_cp_review_id", "cppr_person_id", "cppr_cp_plan_id");
        for r in &f.rows {
            let child = self.child_via_plan(f, r, "cppr_person_id", "cppr_cp_plan_id");
            let plan = self.plan_ref(r.get(f.field(&["cppr_cp_plan_id"])), child.as_deref());
            if plan.as_ref().is_some_and(|p| self.ola_plans.contains(p)) {
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
                .map_or(String::new(), |i| {
                    format!("RCPC-{}", self.key(f.table, i, child.as_deref()))
                });
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
                ("plan_id", plan.unwrap_or_default()),
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
            let (person, plan) = (format!("{p}_person_id"), format!("{p}_{kind}_plan_id"));
            self.keys_via_plan(f, &field("id"), &person, &plan);
            for r in &f.rows {
                let raw_id = r.get(f.field(&[&field("id")]));
                if kind == "cin" && raw_id.is_some_and(|i| cp_ids.contains(i)) {
                    self.issue(f, Some(r.line), "repeats_cp_visit", Severity::Info,
                        "the same case note as a CP visit in ssd_cp_visits: counted once, as a CP visit".into());
                    continue;
                }
                if r.get(f.field(&[&field("seen")])).map(flag) == Some(Some(false)) {
                    self.count(f, "not_seen");
                    continue;
                }
                let child = self.child_via_plan(f, r, &person, &plan);
                let id = raw_id.map_or(String::new(), |i| {
                    format!("{prefix}-{}", self.key(f.table, i, child.as_deref()))
                });
                let v = [
                    ("visit_id", id),
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
        for ((file, what), n) in std::mem::take(&mut self.counts) {
            let Some(f) = by_name(&file) else { continue };
            let (sev, message) = count_message(what, n);
            self.issue(f, None, what, sev, message);
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

/// What a count of rows of one kind says in the report.
fn count_message(what: &str, n: u64) -> (Severity, String) {
    let (sev, text) = match what {
        "worker_not_matched" => (Severity::Warning, "worker references match no professional in ssd_professionals (as an id, a staff id or a name): left empty, since a name is never carried"),
        "worker_shared" => (Severity::Warning, "worker references are a staff id or a name two professionals share: left empty"),
        "worker_doubtful" => (Severity::Warning, "worker references match one professional as an id (or staff id) and another as a staff id (or name): the first match, in that order, is taken; check ssd_professionals"),
        "team_not_matched" => (Severity::Warning, "team references are not a dept_team_id of ssd_department: kept as given"),
        "team_no_departments" => (Severity::Warning, "team references cannot be named: ssd_department is missing or empty (Mosaic loads none), so teams are shown as the department ids"),
        "not_allocated_worker" => (Severity::Info, "involvements are not the allocated case worker's (a role other than CW): not used for a plan's team and worker"),
        "not_seen" => (Severity::Info, "visits where the child was not seen (seen = N): left out, as they are not statutory visits"),
        "transfer_in" => (Severity::Info, "initial conferences are transfers in (icpc_icpc_transfer_in = Y): kept; their timeliness follows another authority's S47"),
        _ => (Severity::Info, what),
    };
    (sev, format!("{n} {text}"))
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

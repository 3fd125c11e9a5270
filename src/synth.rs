//! A synthetic council: realistic, internally consistent extracts for every table, seeded and
//! reproducible on any machine (ChaCha), fast enough for England-sized benchmarks.
//!
//! Children go round the journey (contacts, referral, decision, assessment, strategy
//! discussion, S47, ICPC, CP plan, core groups, visits, reviews, supervision) and come back
//! (re-referrals, repeat plans). Teams differ in compliance; compliance dips in a bad winter
//! and improves after it; referrals follow the school year. Calibrated at `--scale 1` to the
//! median council figures in `shared/domain.md`.
//!
//! The data covers `years` financial years ending on 31 March of `last_year`, plus
//! [`LEAD_IN_YEARS`] of history so that re-referrals and repeat plans in the first year can see
//! the child's earlier events. The extract date (as-of) is that 31 March: events after it
//! have not happened, so open cases are open.

mod dirty;

use crate::calendar::Calendar;
use crate::schema::{self, TableSpec};
use chrono::{Datelike, Duration, Months, NaiveDate, NaiveDateTime, NaiveTime};
use rand::{Rng, RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeMap;
use std::fmt;
use std::io::Write;
use std::path::Path;

pub use dirty::Fault;

/// The generator that makes the data; recorded in `synth.json`.
pub const RNG_NAME: &str = "ChaCha8Rng (rand_chacha 0.10)";

#[derive(Debug, Clone)]
pub struct SynthOptions {
    pub seed: u64,
    pub years: u32,
    /// The financial year the data ends in, by its end year (2025 = April 2024 to March 2025).
    pub last_year: i32,
    pub scale: f64,
    pub dirty: bool,
}

impl Default for SynthOptions {
    fn default() -> Self {
        SynthOptions {
            seed: 1,
            years: 3,
            last_year: 2025,
            scale: 1.0,
            dirty: false,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SynthError {
    #[error("{0}")]
    Options(String),
    #[error("cannot write {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Calendar(#[from] crate::calendar::CalendarError),
}

/// What was written, and the calibration figures to compare with the national ones.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    pub rows: BTreeMap<&'static str, u64>,
    pub as_of: Option<NaiveDate>,
    pub faults: usize,
    /// Per financial year in the window: (year label, figures).
    pub years: Vec<(String, Calibration)>,
}

#[derive(Debug, Clone, Copy, Default)]
pub struct Calibration {
    pub referrals: u64,
    pub re_referrals_12m: u64,
    pub nfa: u64,
    pub s47: u64,
    pub icpc: u64,
    pub icpc_15wd: u64,
    pub plans: u64,
    pub repeat_plans: u64,
}

impl Calibration {
    fn pct(n: u64, d: u64) -> f64 {
        if d == 0 {
            0.0
        } else {
            100.0 * n as f64 / d as f64
        }
    }
    pub fn re_referral_pct(&self) -> f64 {
        Self::pct(self.re_referrals_12m, self.referrals)
    }
    pub fn icpc_15wd_pct(&self) -> f64 {
        Self::pct(self.icpc_15wd, self.icpc)
    }
    pub fn repeat_plan_pct(&self) -> f64 {
        Self::pct(self.repeat_plans, self.plans)
    }
    pub fn nfa_pct(&self) -> f64 {
        Self::pct(self.nfa, self.referrals)
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(d) = self.as_of {
            writeln!(f, "as-of (extract) date: {d}")?;
        }
        for (table, n) in &self.rows {
            writeln!(f, "{table:<22} {n:>10} rows")?;
        }
        if self.faults > 0 {
            writeln!(f, "faults injected: {} (listed in faults.csv)", self.faults)?;
        }
        writeln!(
            f,
            "{:<8} {:>9} {:>8} {:>6} {:>7} {:>6} {:>9} {:>6} {:>8}",
            "year", "referrals", "re-ref%", "nfa%", "s47", "icpc", "icpc15wd%", "plans", "repeat%"
        )?;
        for (label, c) in &self.years {
            writeln!(
                f,
                "{label:<8} {:>9} {:>8.1} {:>6.1} {:>7} {:>6} {:>9.1} {:>6} {:>8.1}",
                c.referrals,
                c.re_referral_pct(),
                c.nfa_pct(),
                c.s47,
                c.icpc,
                c.icpc_15wd_pct(),
                c.plans,
                c.repeat_plan_pct()
            )?;
        }
        Ok(())
    }
}

/// A team and how well it keeps to timescales (probability of meeting each deadline).
struct Team {
    name: String,
    compliance: f64,
    workers: Vec<String>,
    manager: String,
}

/// Rows of one table, written through `csv` in schema column order.
struct TableOut {
    spec: &'static TableSpec,
    writer: csv::Writer<Vec<u8>>,
    rows: u64,
}

struct Out {
    tables: Vec<TableOut>,
}

impl Out {
    fn new() -> Out {
        let tables = schema::TABLES
            .iter()
            .map(|spec| {
                let mut writer = csv::Writer::from_writer(Vec::new());
                writer
                    .write_record(spec.columns.iter().map(|c| c.name))
                    .expect("writing to memory");
                TableOut {
                    spec,
                    writer,
                    rows: 0,
                }
            })
            .collect();
        Out { tables }
    }

    fn row(&mut self, table: &str, fields: &[&str]) {
        let t = self
            .tables
            .iter_mut()
            .find(|t| t.spec.name == table)
            .expect("a schema table");
        debug_assert_eq!(fields.len(), t.spec.columns.len(), "{table}");
        t.writer.write_record(fields).expect("writing to memory");
        t.rows += 1;
    }
}

fn date_s(d: Option<NaiveDate>) -> String {
    d.map(|d| d.format("%Y-%m-%d").to_string())
        .unwrap_or_default()
}
fn stamp_s(d: Option<NaiveDateTime>) -> String {
    d.map(|d| d.format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_default()
}
fn flag_s(b: Option<bool>) -> &'static str {
    match b {
        Some(true) => "Y",
        Some(false) => "N",
        None => "",
    }
}

const FIRST_NAMES: &[&str] = &[
    "Aisha", "Ben", "Chloë", "Dafydd", "Emma", "Farah", "Grace", "Hamza", "Imogen", "Jamal",
    "Katie", "Liam", "Maria", "Nia", "Oliver", "Priya", "Rhys", "Siân", "Tom", "Zoë", "Renée",
    "Ciarán", "José", "Léa", "Amelia", "Daniel", "Hannah", "Kwame", "Niamh", "Yusuf",
];
const LAST_NAMES: &[&str] = &[
    "Ahmed", "Brown", "Clarke", "Davies", "Evans", "Fraser", "Green", "Hughes", "Iqbal", "Jones",
    "Khan", "Lewis", "Morgan", "Nowak", "O'Brien", "Patel", "Quinn", "Roberts", "Smith", "Taylor",
    "Williams", "Okafor", "Müller", "Núñez", "Byrne",
];
const LOCALITIES: &[(&str, f64)] = &[("North", 0.90), ("South", 0.74), ("East", 0.84)];
const SOURCES: &[(&str, f64)] = &[
    ("Police", 0.29),
    ("Schools", 0.20),
    ("Health services", 0.15),
    ("LA services", 0.12),
    ("Individual", 0.08),
    ("Other legal agency", 0.04),
    ("Housing", 0.03),
    ("Anonymous", 0.03),
    ("Other", 0.06),
];
const ETHNICITIES: &[(&str, f64)] = &[
    ("WBRI", 0.62),
    ("WOTH", 0.07),
    ("MWBC", 0.04),
    ("MOTH", 0.04),
    ("ABAN", 0.03),
    ("APKN", 0.05),
    ("BAFR", 0.05),
    ("BCRB", 0.02),
    ("OOTH", 0.03),
    ("NOBT", 0.05),
];
const CATEGORIES: &[(&str, f64)] = &[
    ("neglect", 0.50),
    ("emotional", 0.36),
    ("physical", 0.07),
    ("sexual", 0.04),
    ("multiple", 0.03),
];
/// Ended plans by length (England 2025): up to 3 months, 3-6, 6-12, 1-2 years, 2+ years,
/// as (share, min days, max days).
const PLAN_LENGTHS: &[(f64, i64, i64)] = &[
    (0.159, 20, 91),
    (0.110, 92, 182),
    (0.435, 183, 365),
    (0.252, 366, 730),
    (0.044, 731, 1100),
];
/// Referrals by month (April first): the school year, with dips in August and December.
const SEASON: [f64; 12] = [
    0.95, 1.05, 1.05, 1.00, 0.78, 1.05, 1.12, 1.10, 0.85, 1.00, 1.02, 1.05,
];

/// Years of history before the first reported year, so that its re-referrals and repeat
/// plans can see the child's earlier events.
pub const LEAD_IN_YEARS: i32 = 2;

/// Referrals a median council receives a year.
const REFERRALS_PER_YEAR: f64 = 3400.0;
/// Chance a referral is followed by another within 12 months, and within 12-36 months.
const RE_REFERRAL_12M: f64 = 0.225;
const RE_REFERRAL_LATER: f64 = 0.12;

fn pick<T: Copy>(rng: &mut impl Rng, items: &[(T, f64)]) -> T {
    let total: f64 = items.iter().map(|(_, w)| w).sum();
    let mut x = rng.random::<f64>() * total;
    for (item, w) in items {
        if x < *w {
            return *item;
        }
        x -= w;
    }
    items[items.len() - 1].0
}

struct Sim<'a> {
    rng: ChaCha8Rng,
    cal: &'a Calendar,
    start: NaiveDate,
    window_start: NaiveDate,
    as_of: NaiveDate,
    teams: Vec<Team>,
    mash: usize,
    disabled_team: usize,
    out: Out,
    ids: BTreeMap<&'static str, u64>,
    /// For calibration: per window year.
    calib: Vec<Calibration>,
}

/// What happened to one child before: the journey of a returning child depends on it.
#[derive(Default)]
struct History {
    referrals: Vec<NaiveDate>,
    plans: u32,
}

impl<'a> Sim<'a> {
    fn id(&mut self, prefix: &'static str) -> String {
        let n = self.ids.entry(prefix).or_insert(0);
        *n += 1;
        format!("{prefix}{:07}", *n)
    }

    fn chance(&mut self, p: f64) -> bool {
        self.rng.random::<f64>() < p.clamp(0.0, 1.0)
    }

    fn days(&mut self, lo: i64, hi: i64) -> i64 {
        self.rng.random_range(lo..=hi)
    }

    /// The service's overall timeliness over time: a bad winter in the middle of the window
    /// (staff shortages), then an improvement plan that lifts it above where it started.
    fn climate(&self, d: NaiveDate) -> f64 {
        let months = (d.year() - self.window_start.year()) * 12 + d.month() as i32
            - self.window_start.month() as i32;
        let bad_start = 15; // July of the second window year
        match months {
            m if m < bad_start => 0.0,
            m if m < bad_start + 6 => -0.20,
            m if m < bad_start + 12 => -0.05,
            _ => 0.05,
        }
    }

    fn on_time(&mut self, team: usize, d: NaiveDate, adjust: f64) -> bool {
        let p = self.teams[team].compliance + self.climate(d) + adjust;
        self.chance(p)
    }

    /// A date `lo..=hi` working days after `from`.
    fn wd_after(&mut self, from: NaiveDate, lo: u32, hi: u32) -> NaiveDate {
        let n = self.rng.random_range(lo..=hi);
        // Past the calendar's last year only events after the extract date fall (they are
        // never written), so an approximate date is enough there.
        self.cal
            .add_working_days(from, n)
            .unwrap_or(from + Duration::days(n as i64 * 7 / 5))
    }

    /// Within `n` working days when on time (spread over `lo..=n`), else `n+1 ..= late`.
    fn deadline(
        &mut self,
        from: NaiveDate,
        lo: u32,
        n: u32,
        late: u32,
        on_time: bool,
    ) -> NaiveDate {
        if on_time {
            self.wd_after(from, lo, n)
        } else {
            self.wd_after(from, n + 1, late)
        }
    }

    fn time_of_day(&mut self, after: Option<NaiveTime>) -> NaiveTime {
        // Office hours, or a little after an earlier event the same day.
        let lo = after
            .map(|t| (t.hour_min() + 5).min(23 * 60 + 50))
            .unwrap_or(8 * 60);
        let hi = (19 * 60 + 30).max(lo + 5);
        let m = self.rng.random_range(lo..=hi);
        NaiveTime::from_hms_opt(m / 60, m % 60, 0).expect("valid time")
    }

    fn worker_of(&mut self, team: usize) -> String {
        let w = &self.teams[team].workers;
        w[self.rng.random_range(0..w.len())].clone()
    }

    fn window_year(&self, d: NaiveDate) -> Option<usize> {
        if d < self.window_start || d > self.as_of {
            return None;
        }
        let fy = if d.month() >= 4 {
            d.year()
        } else {
            d.year() - 1
        };
        Some((fy - self.window_start.year()) as usize)
    }

    /// A referral date: seasonal, mostly on working days.
    fn referral_date(&mut self, lo: NaiveDate, hi: NaiveDate) -> NaiveDate {
        let span = (hi - lo).num_days().max(1);
        loop {
            let d = lo + Duration::days(self.rng.random_range(0..span));
            let season = SEASON[((d.month() + 8) % 12) as usize];
            let working = if self.cal.is_working_day(d) {
                1.0
            } else {
                0.12
            };
            if self.rng.random::<f64>() < season * working / 1.12 {
                return d;
            }
        }
    }

    fn child(&mut self) {
        let child_id = self.id("C");
        let first = self.referral_date(self.start, self.as_of);
        // Age at first referral: a third under 5, some unborn (pre-birth referrals).
        let age_days: i64 = if self.chance(0.04) {
            -self.days(20, 150)
        } else {
            let years = pick(
                &mut self.rng,
                &[(0i64, 0.12), (1, 0.2), (5, 0.3), (10, 0.25), (15, 0.13)],
            );
            let width = match years {
                0 => 365,
                1 => 4 * 365,
                5 | 10 => 5 * 365,
                _ => 3 * 365 - 30,
            };
            years * 365 + self.days(0, width)
        };
        let dob = first - Duration::days(age_days);
        let disabled = self.chance(0.07);
        let locality = self.rng.random_range(0..LOCALITIES.len());
        let team = if disabled && age_days > 3 * 365 {
            self.disabled_team
        } else {
            self.mash + 1 + locality
        };
        let sex = pick(&mut self.rng, &[("M", 0.505), ("F", 0.485), ("U", 0.01)]);
        let ethnicity = pick(&mut self.rng, ETHNICITIES);
        self.out.row(
            schema::CHILDREN,
            &[
                &child_id,
                &date_s(Some(dob)),
                sex,
                ethnicity,
                flag_s(Some(disabled)),
            ],
        );
        let mut history = History::default();
        let mut next = Some(first);
        while let Some(received) = next {
            if received > self.as_of {
                break;
            }
            let open_until = self.referral(&child_id, received, team, &mut history);
            history.referrals.push(received);
            // Comes back within 12 months, later, or not at all.
            let base = open_until.max(received);
            // Children who have been on a plan come back far more often (repeat plans).
            let (soon, later) = if history.plans > 0 {
                (0.46, 0.34)
            } else {
                (RE_REFERRAL_12M, RE_REFERRAL_LATER)
            };
            next = if self.chance(soon) {
                let earliest = (base + Duration::days(14)).max(received + Duration::days(21));
                let latest =
                    received.checked_add_months(Months::new(12)).expect("date") - Duration::days(1);
                (earliest < latest).then(|| self.referral_date(earliest, latest))
            } else if self.chance(later) {
                let lo =
                    received.checked_add_months(Months::new(12)).expect("date") + Duration::days(1);
                Some(self.referral_date(lo.max(base), lo.max(base) + Duration::days(730)))
            } else {
                None
            };
        }
    }

    /// One referral and everything that follows from it. Returns when the episode closed.
    fn referral(
        &mut self,
        child_id: &str,
        received: NaiveDate,
        team: usize,
        history: &mut History,
    ) -> NaiveDate {
        let as_of = self.as_of;
        let referral_id = self.id("R");
        let source = pick(&mut self.rng, SOURCES);
        let year = self.window_year(received);
        if let Some(y) = year {
            let c = &mut self.calib[y];
            c.referrals += 1;
            if history.referrals.iter().any(|r| {
                *r < received && r.checked_add_months(Months::new(12)).expect("date") >= received
            }) {
                c.re_referrals_12m += 1;
            }
        }

        // Contacts: the one that became this referral, and earlier ones about the same worry.
        let n_contacts = pick(
            &mut self.rng,
            &[(1u32, 0.55), (2, 0.25), (3, 0.12), (4, 0.05), (5, 0.03)],
        );
        for i in (0..n_contacts).rev() {
            let d = if i == 0 {
                received
            } else {
                received - Duration::days(self.days(7, 120) * i as i64 / n_contacts as i64 + 1)
            };
            let id = self.id("K");
            let outcome = if i == 0 {
                "referral"
            } else {
                pick(
                    &mut self.rng,
                    &[
                        ("information and advice", 0.5),
                        ("early help", 0.3),
                        ("no further action", 0.2),
                    ],
                )
            };
            self.out.row(
                schema::CONTACTS,
                &[&id, child_id, &date_s(Some(d)), source, outcome],
            );
        }

        let received_at = received.and_time(self.time_of_day(None));
        let mash = self.mash;
        let on_time = self.on_time(mash, received, 0.0);
        let decided = self.deadline(received, 0, 1, 6, on_time);
        let decision_time = if decided == received {
            self.time_of_day(Some(received_at.time()))
        } else {
            self.time_of_day(None)
        };
        let decision_at = decided.and_time(decision_time);
        let feedback_on_time = self.on_time(mash, received, -0.06);
        let feedback = if self.chance(0.03) {
            None
        } else {
            let d = self.deadline(decided, 0, 1, 8, feedback_on_time);
            Some(d.and_time(if d == decided {
                self.time_of_day(Some(decision_time))
            } else {
                self.time_of_day(None)
            }))
        };
        let repeat_concern = history.plans > 0 || history.referrals.len() > 1;
        let outcome = pick(
            &mut self.rng,
            &[
                ("nfa", if source == "Police" { 0.09 } else { 0.06 }),
                ("early_help", 0.08),
                ("other", 0.03),
                (
                    "assessment",
                    if history.plans > 0 {
                        0.25
                    } else if repeat_concern {
                        0.42
                    } else {
                        0.51
                    },
                ),
                (
                    "s47",
                    if history.plans > 0 {
                        0.60
                    } else if repeat_concern {
                        0.40
                    } else {
                        0.32
                    },
                ),
            ],
        );
        let decided_yet = decision_at.date() <= as_of;
        let worker = self.worker_of(mash);
        let mash_name = self.teams[mash].name.clone();
        self.out.row(
            schema::REFERRALS,
            &[
                &referral_id,
                child_id,
                &stamp_s(Some(received_at)),
                source,
                &stamp_s(decided_yet.then_some(decision_at)),
                if decided_yet { outcome } else { "" },
                &stamp_s(feedback.filter(|f| f.date() <= as_of && decided_yet)),
                &mash_name,
                &worker,
            ],
        );
        if let (Some(y), true) = (year, outcome == "nfa" && decided_yet) {
            self.calib[y].nfa += 1;
        }
        if !decided_yet || !matches!(outcome, "assessment" | "s47") {
            return decided;
        }

        // Child and family assessment, alongside any S47.
        let start = decided;
        let on_time = self.on_time(team, start, 0.02);
        let authorised = self.deadline(start, 8, 45, 85, on_time);
        let seen = (!self.chance(0.04))
            .then(|| self.wd_after(start, 0, 10))
            .filter(|d| *d <= as_of);
        let assessment_outcome = pick(
            &mut self.rng,
            &[
                ("CIN plan", 0.35),
                ("No further action", 0.30),
                ("Step down to early help", 0.25),
                ("Child protection", 0.10),
            ],
        );
        let a_id = self.id("A");
        let worker = self.worker_of(team);
        let team_name = self.teams[team].name.clone();
        let auth = (authorised <= as_of).then_some(authorised);
        self.out.row(
            schema::ASSESSMENTS,
            &[
                &a_id,
                child_id,
                &referral_id,
                &date_s(Some(start)),
                &date_s(seen),
                &date_s(auth),
                if auth.is_some() {
                    assessment_outcome
                } else {
                    ""
                },
                &team_name,
                &worker,
            ],
        );
        let mut closed = authorised;
        if auth.is_some() && assessment_outcome == "CIN plan" {
            closed = self.cin_visits(child_id, authorised, team, &worker);
        }

        // Strategy discussion: most S47 referrals, some assessments that escalate, and some
        // discussions that decide against an enquiry.
        let escalate = outcome == "assessment" && self.chance(0.07);
        let no_s47_discussion = outcome == "assessment" && !escalate && self.chance(0.09);
        if outcome == "s47" || escalate || no_s47_discussion {
            let held = if escalate {
                self.wd_after(start, 5, 25)
            } else {
                self.wd_after(decided, 0, 2)
            };
            if held > as_of {
                return closed.max(held);
            }
            let strategy_id = self.id("SD");
            let minutes_on_time = self.chance(0.8);
            let minutes = self.deadline(held, 0, 3, 12, minutes_on_time).min(as_of);
            let minutes = (!self.chance(0.05)).then_some(minutes);
            let police = self.chance(0.92);
            let health = self.chance(0.7);
            let s47 = !no_s47_discussion;
            self.out.row(
                schema::STRATEGY_DISCUSSIONS,
                &[
                    &strategy_id,
                    child_id,
                    &referral_id,
                    &date_s(Some(held)),
                    &date_s(minutes),
                    flag_s(Some(police)),
                    flag_s(Some(health)),
                    if s47 { "s47" } else { "no_s47" },
                    &team_name,
                ],
            );
            if s47 {
                let end = self.s47(child_id, &strategy_id, held, team, history);
                closed = closed.max(end);
                // A few children have a further strategy meeting during the enquiry.
                if self.chance(0.08) {
                    let again = self.wd_after(held, 3, 12);
                    if again <= as_of {
                        let id = self.id("SD");
                        self.out.row(
                            schema::STRATEGY_DISCUSSIONS,
                            &[
                                &id,
                                child_id,
                                &referral_id,
                                &date_s(Some(again)),
                                "",
                                flag_s(Some(police)),
                                flag_s(Some(health)),
                                "s47",
                                &team_name,
                            ],
                        );
                    }
                }
            }
        }
        closed
    }

    /// Visits and supervision while a child in need plan lasts. Returns when it ended.
    fn cin_visits(
        &mut self,
        child_id: &str,
        from: NaiveDate,
        team: usize,
        worker: &str,
    ) -> NaiveDate {
        let end = from + Duration::days(self.days(60, 270));
        let mut d = from;
        loop {
            d = self.wd_after(d, 10, 30);
            if d > end || d > self.as_of {
                break;
            }
            let alone = self.chance(0.55);
            self.visit(child_id, d, "cin", alone, worker);
        }
        self.supervision(child_id, from, end, team, worker, false);
        end
    }

    fn visit(&mut self, child_id: &str, date: NaiveDate, kind: &str, alone: bool, worker: &str) {
        let id = self.id("V");
        let row = [
            &id,
            child_id,
            &date_s(Some(date)),
            kind,
            flag_s(Some(alone)),
            worker,
        ];
        self.out.row(schema::VISITS, &row);
    }

    /// Case supervision recorded on the file between `from` and `to`.
    fn supervision(
        &mut self,
        child_id: &str,
        from: NaiveDate,
        to: NaiveDate,
        team: usize,
        worker: &str,
        cp: bool,
    ) {
        let mut d = from;
        loop {
            let on_time = self.on_time(team, d, -0.02);
            d += Duration::days(if on_time {
                self.days(30, 60)
            } else {
                self.days(61, 110)
            });
            if d > to || d > self.as_of {
                break;
            }
            if !self.cal.is_working_day(d) {
                d = self.cal.add_working_days(d, 1).unwrap_or(d);
            }
            let id = self.id("SV");
            let manager = self.teams[team].manager.clone();
            let reviewed = cp.then(|| self.chance(0.9));
            self.out.row(
                schema::SUPERVISIONS,
                &[
                    &id,
                    child_id,
                    &date_s(Some(d)),
                    worker,
                    &manager,
                    flag_s(reviewed),
                ],
            );
        }
    }

    /// A Section 47 enquiry, and the conference and plan that may follow. Returns the last
    /// date the episode was open.
    fn s47(
        &mut self,
        child_id: &str,
        strategy_id: &str,
        held: NaiveDate,
        team: usize,
        history: &mut History,
    ) -> NaiveDate {
        let as_of = self.as_of;
        let start = if self.chance(0.8) {
            held
        } else {
            self.wd_after(held, 1, 2)
        };
        if start > as_of {
            return held;
        }
        let id = self.id("S");
        let year = self.window_year(start);
        if let Some(y) = year {
            self.calib[y].s47 += 1;
        }
        let icpc = self.chance(if history.plans > 0 { 0.78 } else { 0.28 });
        let on_time = self.on_time(team, start, 0.03);
        let icpc_date = self.deadline(start, 7, 15, 32, on_time);
        let end = if icpc {
            icpc_date.min(self.wd_after(start, 8, 15))
        } else {
            self.wd_after(start, 5, 25)
        };
        let worker = self.worker_of(team);
        let team_name = self.teams[team].name.clone();
        // 3% of enquiries have no link to the discussion recorded.
        let link = if self.chance(0.03) { "" } else { strategy_id };
        let outcome = if icpc {
            "ICPC"
        } else {
            pick(
                &mut self.rng,
                &[("CIN plan", 0.5), ("No further action", 0.5)],
            )
        };
        let ended = end <= as_of;
        self.out.row(
            schema::S47_ENQUIRIES,
            &[
                &id,
                child_id,
                link,
                &date_s(Some(start)),
                &date_s(ended.then_some(end)),
                flag_s(if icpc {
                    Some(false)
                } else if ended {
                    Some(true)
                } else {
                    None
                }),
                if ended { outcome } else { "" },
                &team_name,
                &worker,
            ],
        );
        if !icpc || icpc_date > as_of {
            return end;
        }
        if let Some(y) = self.window_year(icpc_date) {
            let c = &mut self.calib[y];
            c.icpc += 1;
            if self
                .cal
                .working_days_between(start, icpc_date)
                .is_ok_and(|n| n <= 15)
            {
                c.icpc_15wd += 1;
            }
        }
        let plan = self.chance(0.86);
        let conf_id = self.id("CF");
        let plan_id = plan.then(|| self.id("P"));
        self.out.row(
            schema::CONFERENCES,
            &[
                &conf_id,
                child_id,
                "initial",
                &date_s(Some(icpc_date)),
                &id,
                plan_id.as_deref().unwrap_or(""),
                if plan { "plan" } else { "no_plan" },
            ],
        );
        match plan_id {
            Some(p) => self.cp_plan(child_id, &p, icpc_date, team, &worker, history),
            None => icpc_date,
        }
    }

    fn cp_plan(
        &mut self,
        child_id: &str,
        plan_id: &str,
        start: NaiveDate,
        team: usize,
        worker: &str,
        history: &mut History,
    ) -> NaiveDate {
        let as_of = self.as_of;
        if let Some(y) = self.window_year(start) {
            let c = &mut self.calib[y];
            c.plans += 1;
            if history.plans > 0 {
                c.repeat_plans += 1;
            }
        }
        history.plans += 1;
        let category = pick(&mut self.rng, CATEGORIES);
        let latest = if self.chance(0.1) {
            pick(&mut self.rng, CATEGORIES)
        } else {
            category
        };
        let (_, lo, hi) = pick(
            &mut self.rng,
            &PLAN_LENGTHS
                .iter()
                .map(|&(w, lo, hi)| ((0.0, lo, hi), w))
                .collect::<Vec<_>>(),
        );
        let planned_end = start + Duration::days(self.days(lo, hi));

        // Review conferences: the first within 3 months, then every 6 months; the plan ends
        // at a review (brought forward when needed), or early when the child becomes looked
        // after or moves away.
        let early_exit = planned_end < start + Duration::days(80) && self.chance(0.5);
        let mut reviews = Vec::new();
        let mut d = start;
        let mut first = true;
        loop {
            let on_time = self.on_time(team, d, 0.04);
            let gap = match (first, on_time) {
                (true, true) => self.days(60, 91),
                (true, false) => self.days(92, 125),
                (false, true) => self.days(150, 182),
                (false, false) => self.days(183, 230),
            };
            first = false;
            let next = d + Duration::days(gap);
            let next = if self.cal.is_working_day(next) {
                next
            } else {
                self.cal.add_working_days(next, 1).unwrap_or(next)
            };
            if next >= planned_end {
                break;
            }
            reviews.push(next);
            d = next;
        }
        let end = if self.cal.is_working_day(planned_end) {
            planned_end
        } else {
            self.cal
                .add_working_days(planned_end, 1)
                .unwrap_or(planned_end)
        };
        for r in &reviews {
            if *r > as_of {
                break;
            }
            let id = self.id("CF");
            self.out.row(
                schema::CONFERENCES,
                &[
                    &id,
                    child_id,
                    "review",
                    &date_s(Some(*r)),
                    "",
                    plan_id,
                    "continue",
                ],
            );
        }
        let ended = end <= as_of;
        if ended && !early_exit {
            let id = self.id("CF");
            self.out.row(
                schema::CONFERENCES,
                &[
                    &id,
                    child_id,
                    "review",
                    &date_s(Some(end)),
                    "",
                    plan_id,
                    "end",
                ],
            );
        }
        let end_reason = if early_exit {
            pick(
                &mut self.rng,
                &[("Looked after", 0.6), ("Moved out of area", 0.4)],
            )
        } else {
            pick(
                &mut self.rng,
                &[
                    ("Step down to child in need", 0.8),
                    ("Closed", 0.12),
                    ("Looked after", 0.08),
                ],
            )
        };
        let team_name = self.teams[team].name.clone();
        self.out.row(
            schema::CP_PLANS,
            &[
                plan_id,
                child_id,
                &date_s(Some(start)),
                &date_s(ended.then_some(end)),
                category,
                if ended { latest } else { category },
                if ended { end_reason } else { "" },
                &team_name,
                worker,
            ],
        );

        // Core groups: the first within 10 working days, then every 4-6 weeks.
        let on_time = self.on_time(team, start, 0.0);
        let mut cg = self.deadline(start, 3, 10, 25, on_time);
        while cg <= end && cg <= as_of {
            let id = self.id("CG");
            self.out.row(
                schema::CORE_GROUPS,
                &[&id, plan_id, child_id, &date_s(Some(cg))],
            );
            cg = self.wd_after(cg, 18, 32);
        }
        // Statutory visits: every 10 working days when on time.
        let mut v = start;
        loop {
            let on_time = self.on_time(team, v, 0.03);
            v = if on_time {
                self.wd_after(v, 4, 10)
            } else {
                self.wd_after(v, 11, 22)
            };
            if v > end || v > as_of {
                break;
            }
            let alone = self.chance(0.7);
            let w = if self.chance(0.9) {
                worker.to_string()
            } else {
                self.worker_of(team)
            };
            self.visit(child_id, v, "cp", alone, &w);
        }
        self.supervision(child_id, start, end, team, worker, true);
        end
    }
}

trait HourMin {
    fn hour_min(&self) -> u32;
}
impl HourMin for NaiveTime {
    fn hour_min(&self) -> u32 {
        use chrono::Timelike;
        self.hour() * 60 + self.minute()
    }
}

/// Writes the extracts (and, with `dirty`, `faults.csv`) into `out`. A folder that already
/// holds extract files not written by `synth` (no `synth.json`) is refused unless `force`:
/// a real council's extract must never be overwritten with synthetic data by a slip.
pub fn write(out: &Path, opts: &SynthOptions, force: bool) -> Result<Summary, SynthError> {
    crate::fsutil::guard_extract_folder(out, "synth.json", "synth", force)
        .map_err(SynthError::Options)?;
    let cal = Calendar::england_and_wales();
    let (files, summary) = generate(&cal, opts)?;
    std::fs::create_dir_all(out).map_err(|source| SynthError::Io {
        path: out.display().to_string(),
        source,
    })?;
    for (name, bytes) in files {
        let path = out.join(name);
        crate::fsutil::write_atomic(&path, &bytes).map_err(|source| SynthError::Io {
            path: path.display().to_string(),
            source,
        })?;
    }
    Ok(summary)
}

/// A file to write: its name and bytes.
pub type OutputFile = (String, Vec<u8>);

/// Generates every file in memory: `(file name, bytes)`, in a fixed order.
pub fn generate(
    cal: &Calendar,
    opts: &SynthOptions,
) -> Result<(Vec<OutputFile>, Summary), SynthError> {
    if !(opts.scale > 0.0 && opts.scale <= 1000.0) {
        return Err(SynthError::Options(format!(
            "--scale {} must be above 0 and at most 1000",
            opts.scale
        )));
    }
    if opts.years == 0 || opts.years > 15 {
        return Err(SynthError::Options(format!(
            "--years {} must be 1 to 15",
            opts.years
        )));
    }
    let as_of = NaiveDate::from_ymd_opt(opts.last_year, 3, 31).ok_or_else(|| {
        SynthError::Options(format!("--last-year {} is not a year", opts.last_year))
    })?;
    let window_start =
        NaiveDate::from_ymd_opt(opts.last_year - opts.years as i32, 4, 1).expect("valid date");
    let start =
        NaiveDate::from_ymd_opt(window_start.year() - LEAD_IN_YEARS, 4, 1).expect("valid date");
    if start.year() < cal.first_year() || as_of.year() > cal.last_year() {
        return Err(SynthError::Options(format!(
            "the data would run from {start} to {as_of}, outside the calendar's {}-{}",
            cal.first_year(),
            cal.last_year()
        )));
    }
    let mut rng = ChaCha8Rng::seed_from_u64(opts.seed);

    // Teams and workers. One front door (MASH), three localities and a disabled children's
    // team per area; an area is about one median council.
    let areas = (opts.scale.round() as usize).max(1);
    let per_area = opts.scale / areas as f64;
    let mut teams = Vec::new();
    let mut workers_out = Vec::new();
    let mut used_names = std::collections::HashSet::new();
    let mut specs: Vec<(String, f64, usize)> = Vec::new();
    for a in 0..areas {
        let prefix = if areas == 1 {
            String::new()
        } else {
            format!("Area {:03} ", a + 1)
        };
        let jitter = |rng: &mut ChaCha8Rng| {
            if areas == 1 {
                0.0
            } else {
                rng.random_range(-0.06..0.06)
            }
        };
        specs.push((format!("{prefix}MASH"), 0.84 + jitter(&mut rng), 6));
        for (name, c) in LOCALITIES {
            specs.push((format!("{prefix}{name}"), c + jitter(&mut rng), 10));
        }
        specs.push((
            format!("{prefix}Disabled Children"),
            0.70 + jitter(&mut rng),
            5,
        ));
    }
    for (name, compliance, size) in specs {
        let n = ((size as f64 * per_area).round() as usize).max(2);
        let mut member = |rng: &mut ChaCha8Rng| {
            let first = FIRST_NAMES[rng.random_range(0..FIRST_NAMES.len())];
            let last = LAST_NAMES[rng.random_range(0..LAST_NAMES.len())];
            let base = format!("{first} {last}");
            let mut candidate = base.clone();
            let mut k = 2;
            while used_names.contains(&candidate) {
                candidate = format!("{base} {k}");
                k += 1;
            }
            used_names.insert(candidate.clone());
            candidate
        };
        let manager = member(&mut rng);
        let mut workers = Vec::new();
        workers_out.push((manager.clone(), name.clone(), "team_manager", 1.0));
        let pm = member(&mut rng);
        workers_out.push((pm.clone(), name.clone(), "practice_manager", 1.0));
        for i in 0..n {
            let w = member(&mut rng);
            let role = if i == 0 {
                "advanced_practitioner"
            } else {
                "social_worker"
            };
            let fte = if rng.random::<f64>() < 0.2 { 0.6 } else { 1.0 };
            workers_out.push((w.clone(), name.clone(), role, fte));
            workers.push(w);
        }
        teams.push(Team {
            name,
            compliance,
            workers,
            manager,
        });
    }

    let mut sim = Sim {
        rng,
        cal,
        start,
        window_start,
        as_of,
        teams,
        mash: 0,
        disabled_team: 4,
        out: Out::new(),
        ids: BTreeMap::new(),
        calib: vec![Calibration::default(); opts.years as usize],
    };
    for (w, team, role, fte) in &workers_out {
        let started = start - Duration::days(sim.days(30, 4000));
        sim.out.row(
            schema::WORKERS,
            &[
                w,
                team,
                role,
                &format!("{fte:.1}"),
                &date_s(Some(started)),
                "",
            ],
        );
    }

    // Children arrive over the whole period; each comes back for more referrals
    // (1 / (1 - 0.215 - 0.12) = about 1.5 referrals a child).
    let years_total = (as_of - start).num_days() as f64 / 365.25;
    let children = (REFERRALS_PER_YEAR * opts.scale * years_total / 1.42).round() as u64;
    for i in 0..children {
        // Children belong to an area: its teams are 5 consecutive entries.
        let area = (i as usize) % areas;
        sim.mash = area * 5;
        sim.disabled_team = area * 5 + 4;
        sim.child();
    }

    let mut summary = Summary {
        as_of: Some(as_of),
        ..Default::default()
    };
    for (i, c) in sim.calib.iter().enumerate() {
        let y = window_start.year() + i as i32;
        summary
            .years
            .push((format!("{}-{:02}", y, (y + 1) % 100), *c));
    }
    let mut files = Vec::new();
    let mut faults = Vec::new();
    let mut fault_rng = ChaCha8Rng::seed_from_u64(opts.seed ^ 0xD1E7_D1E7);
    for t in sim.out.tables {
        let bytes = t.writer.into_inner().map_err(|e| SynthError::Io {
            path: t.spec.file_name(),
            source: e.into_error(),
        })?;
        summary.rows.insert(t.spec.name, t.rows);
        let bytes = if opts.dirty {
            dirty::inject(t.spec, bytes, as_of, &mut fault_rng, &mut faults)
        } else {
            bytes
        };
        files.push((t.spec.file_name(), bytes));
    }
    if opts.dirty {
        summary.faults = faults.len();
        files.push(("faults.csv".to_string(), dirty::faults_csv(&faults)));
    }
    files.push(("synth.json".to_string(), synth_json(opts, as_of, &summary)));
    Ok((files, summary))
}

fn synth_json(opts: &SynthOptions, as_of: NaiveDate, summary: &Summary) -> Vec<u8> {
    let rows: serde_json::Map<String, serde_json::Value> = summary
        .rows
        .iter()
        .map(|(k, v)| (k.to_string(), (*v).into()))
        .collect();
    let v = serde_json::json!({
        "generator": "csc-audit synth",
        "rng": RNG_NAME,
        "seed": opts.seed,
        "years": opts.years,
        "last_year": opts.last_year,
        "scale": opts.scale,
        "dirty": opts.dirty,
        "as_of": as_of.to_string(),
        "rows": rows,
        "note": "Synthetic data: no real child, family or worker.",
    });
    let mut out = serde_json::to_vec_pretty(&v).expect("json");
    out.write_all(b"\n").expect("memory");
    out
}

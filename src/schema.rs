//! The native extract format: every table and column name is written here once, and every
//! other module (ingest, checks, synth, metrics) reads it from here.
//!
//! The contract is `shared/extract-format.md`; README.md documents it for users.

/// What a column holds and how its text is parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// An identifier: kept as text (`007` stays `007`); Excel's `10.0` is read as `10`.
    Id,
    /// Free text.
    Text,
    /// `YYYY-MM-DD` or `DD/MM/YYYY`.
    Date,
    /// A date, optionally followed by ` HH:MM[:SS]` or ISO `T`.
    DateTime,
    /// `Y`/`N`, `yes`/`no`, `true`/`false`, `1`/`0`, any case; empty = unknown.
    Flag,
    /// A decimal number.
    Number,
    /// One of a fixed list of codes (matched ignoring case, spaces, `-` and `_`).
    Code(&'static [&'static str]),
}

/// Which sanity rules apply to a date column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateRole {
    /// An event in the child's journey: not after the as-of date, not before 1990, and it
    /// counts towards the default as-of date.
    Event,
    /// A date of birth: not before 1990; may be in the future (unborn children).
    Birth,
    /// A staff record date (worker start/end): no range checks.
    Staff,
}

#[derive(Debug, Clone, Copy)]
pub struct ColumnSpec {
    pub name: &'static str,
    pub kind: Kind,
    pub required: bool,
    /// `(table, column)` this column refers to. A missing target is a warning: the row
    /// loads and the link is dropped (for a required column the value is kept).
    pub refers_to: Option<(&'static str, &'static str)>,
    pub date_role: DateRole,
}

impl ColumnSpec {
    /// Whether the column's values repeat down it (teams, sources, outcomes, the workers
    /// a row names: hundreds of distinct values over millions of rows), where other text
    /// identifies a row or a child.
    pub fn repeats(&self) -> bool {
        match self.kind {
            Kind::Text => true,
            Kind::Id => self.refers_to.is_some_and(|(table, _)| table == WORKERS),
            _ => false,
        }
    }
}

/// `later` must not be before `earlier`.
#[derive(Debug, Clone, Copy)]
pub struct OrderRule {
    pub later: &'static str,
    pub earlier: Earlier,
    /// Apply only when this column holds this code.
    pub when: Option<(&'static str, &'static str)>,
    /// Short reason used in the message: "a decision before the referral was received".
    pub what: &'static str,
}

#[derive(Debug, Clone, Copy)]
pub enum Earlier {
    /// Another column of the same row.
    SameRow(&'static str),
    /// A column of the row that `via` (a reference column of this row) points to.
    Via {
        via: &'static str,
        column: &'static str,
    },
}

#[derive(Debug, Clone, Copy)]
pub struct TableSpec {
    pub name: &'static str,
    /// The key column (first column, unique).
    pub key: &'static str,
    /// Whether a data folder without this file is unusable.
    pub required: bool,
    pub columns: &'static [ColumnSpec],
    pub order: &'static [OrderRule],
}

impl TableSpec {
    pub fn file_name(&self) -> String {
        format!("{}.csv", self.name)
    }
    pub fn column(&self, name: &str) -> Option<&ColumnSpec> {
        self.columns.iter().find(|c| c.name == name)
    }
    pub fn column_index(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.name == name)
    }
}

// Table names.
pub const CHILDREN: &str = "children";
pub const CONTACTS: &str = "contacts";
pub const REFERRALS: &str = "referrals";
pub const ASSESSMENTS: &str = "assessments";
pub const STRATEGY_DISCUSSIONS: &str = "strategy_discussions";
pub const S47_ENQUIRIES: &str = "s47_enquiries";
pub const CP_PLANS: &str = "cp_plans";
pub const CONFERENCES: &str = "conferences";
pub const CORE_GROUPS: &str = "core_groups";
pub const VISITS: &str = "visits";
pub const SUPERVISIONS: &str = "supervisions";
pub const WORKERS: &str = "workers";

/// The child's key: the children table's key, and the link every journey table carries.
pub const CHILD_ID: &str = "child_id";
/// The children table's date of birth (ages and age bands).
pub const DATE_OF_BIRTH: &str = "date_of_birth";

pub const REFERRAL_OUTCOMES: &[&str] = &["nfa", "early_help", "assessment", "s47", "other"];
pub const STRATEGY_OUTCOMES: &[&str] = &["s47", "no_s47"];
pub const CONFERENCE_TYPES: &[&str] = &["initial", "review"];
pub const CONFERENCE_OUTCOMES: &[&str] = &["plan", "no_plan", "continue", "end"];
pub const VISIT_TYPES: &[&str] = &["cp", "cin", "cla", "other"];
pub const WORKER_ROLES: &[&str] = &[
    "social_worker",
    "advanced_practitioner",
    "practice_manager",
    "team_manager",
];

const fn col(name: &'static str, kind: Kind) -> ColumnSpec {
    ColumnSpec {
        name,
        kind,
        required: false,
        refers_to: None,
        date_role: DateRole::Event,
    }
}
const fn req(name: &'static str, kind: Kind) -> ColumnSpec {
    ColumnSpec {
        required: true,
        ..col(name, kind)
    }
}
const fn link(name: &'static str, table: &'static str, column: &'static str) -> ColumnSpec {
    ColumnSpec {
        refers_to: Some((table, column)),
        ..col(name, Kind::Id)
    }
}
const fn req_link(name: &'static str, table: &'static str, column: &'static str) -> ColumnSpec {
    ColumnSpec {
        required: true,
        ..link(name, table, column)
    }
}
const fn child() -> ColumnSpec {
    req_link(CHILD_ID, CHILDREN, CHILD_ID)
}
const fn worker(name: &'static str) -> ColumnSpec {
    link(name, WORKERS, "worker")
}
const fn after(later: &'static str, earlier: &'static str, what: &'static str) -> OrderRule {
    OrderRule {
        later,
        earlier: Earlier::SameRow(earlier),
        when: None,
        what,
    }
}
const fn after_via(
    later: &'static str,
    via: &'static str,
    column: &'static str,
    what: &'static str,
) -> OrderRule {
    OrderRule {
        later,
        earlier: Earlier::Via { via, column },
        when: None,
        what,
    }
}

/// Every table, parents before children: a table's references and cross-table order rules
/// only point at tables earlier in this list.
pub static TABLES: &[TableSpec] = &[
    TableSpec {
        name: CHILDREN,
        key: CHILD_ID,
        required: true,
        columns: &[
            req(CHILD_ID, Kind::Id),
            ColumnSpec {
                date_role: DateRole::Birth,
                ..col(DATE_OF_BIRTH, Kind::Date)
            },
            col("sex", Kind::Text),
            col("ethnicity", Kind::Text),
            col("disability", Kind::Flag),
        ],
        order: &[],
    },
    TableSpec {
        name: WORKERS,
        key: "worker",
        required: false,
        columns: &[
            req("worker", Kind::Id),
            req("team", Kind::Text),
            col("role", Kind::Code(WORKER_ROLES)),
            col("fte", Kind::Number),
            ColumnSpec {
                date_role: DateRole::Staff,
                ..col("start_date", Kind::Date)
            },
            ColumnSpec {
                date_role: DateRole::Staff,
                ..col("end_date", Kind::Date)
            },
        ],
        order: &[after(
            "end_date",
            "start_date",
            "a worker leaving before starting",
        )],
    },
    TableSpec {
        name: CONTACTS,
        key: "contact_id",
        required: false,
        columns: &[
            req("contact_id", Kind::Id),
            child(),
            req("contact_date", Kind::Date),
            col("source", Kind::Text),
            col("outcome", Kind::Text),
        ],
        order: &[],
    },
    TableSpec {
        name: REFERRALS,
        key: "referral_id",
        required: true,
        columns: &[
            req("referral_id", Kind::Id),
            child(),
            req("received_at", Kind::DateTime),
            col("source", Kind::Text),
            col("decision_at", Kind::DateTime),
            col("outcome", Kind::Code(REFERRAL_OUTCOMES)),
            col("feedback_sent_at", Kind::DateTime),
            col("team", Kind::Text),
            worker("worker"),
        ],
        order: &[
            after(
                "decision_at",
                "received_at",
                "a decision before the referral was received",
            ),
            after(
                "feedback_sent_at",
                "received_at",
                "feedback before the referral was received",
            ),
        ],
    },
    TableSpec {
        name: ASSESSMENTS,
        key: "assessment_id",
        required: false,
        columns: &[
            req("assessment_id", Kind::Id),
            child(),
            link("referral_id", REFERRALS, "referral_id"),
            req("start_date", Kind::Date),
            col("child_seen_date", Kind::Date),
            col("authorised_date", Kind::Date),
            col("outcome", Kind::Text),
            col("team", Kind::Text),
            worker("worker"),
        ],
        order: &[
            after(
                "authorised_date",
                "start_date",
                "authorisation before the assessment started",
            ),
            after_via(
                "start_date",
                "referral_id",
                "received_at",
                "an assessment starting before its referral was received",
            ),
        ],
    },
    TableSpec {
        name: STRATEGY_DISCUSSIONS,
        key: "strategy_id",
        required: false,
        columns: &[
            req("strategy_id", Kind::Id),
            child(),
            link("referral_id", REFERRALS, "referral_id"),
            req("held_date", Kind::Date),
            col("minutes_distributed_date", Kind::Date),
            col("police_present", Kind::Flag),
            col("health_present", Kind::Flag),
            col("outcome", Kind::Code(STRATEGY_OUTCOMES)),
            col("team", Kind::Text),
        ],
        order: &[
            after(
                "minutes_distributed_date",
                "held_date",
                "minutes distributed before the discussion was held",
            ),
            after_via(
                "held_date",
                "referral_id",
                "received_at",
                "a strategy discussion before its referral was received",
            ),
        ],
    },
    TableSpec {
        name: S47_ENQUIRIES,
        key: "s47_id",
        required: false,
        columns: &[
            req("s47_id", Kind::Id),
            child(),
            link("strategy_id", STRATEGY_DISCUSSIONS, "strategy_id"),
            req("start_date", Kind::Date),
            col("end_date", Kind::Date),
            col("icpc_not_required", Kind::Flag),
            col("outcome", Kind::Text),
            col("team", Kind::Text),
            worker("worker"),
        ],
        order: &[
            after("end_date", "start_date", "an S47 ending before it started"),
            after_via(
                "start_date",
                "strategy_id",
                "held_date",
                "an S47 starting before the strategy discussion that initiated it",
            ),
        ],
    },
    TableSpec {
        name: CP_PLANS,
        key: "plan_id",
        required: false,
        columns: &[
            req("plan_id", Kind::Id),
            child(),
            req("start_date", Kind::Date),
            col("end_date", Kind::Date),
            col("initial_category", Kind::Text),
            col("latest_category", Kind::Text),
            col("end_reason", Kind::Text),
            col("team", Kind::Text),
            worker("worker"),
        ],
        order: &[after(
            "end_date",
            "start_date",
            "a plan ending before it started",
        )],
    },
    TableSpec {
        name: CONFERENCES,
        key: "conference_id",
        required: false,
        columns: &[
            req("conference_id", Kind::Id),
            child(),
            req("conference_type", Kind::Code(CONFERENCE_TYPES)),
            req("date", Kind::Date),
            link("s47_id", S47_ENQUIRIES, "s47_id"),
            link("plan_id", CP_PLANS, "plan_id"),
            col("outcome", Kind::Code(CONFERENCE_OUTCOMES)),
        ],
        order: &[
            after_via(
                "date",
                "s47_id",
                "start_date",
                "a conference before its S47 started",
            ),
            OrderRule {
                when: Some(("conference_type", "review")),
                ..after_via(
                    "date",
                    "plan_id",
                    "start_date",
                    "a review conference before its plan started",
                )
            },
        ],
    },
    TableSpec {
        name: CORE_GROUPS,
        key: "core_group_id",
        required: false,
        columns: &[
            req("core_group_id", Kind::Id),
            req_link("plan_id", CP_PLANS, "plan_id"),
            child(),
            req("date", Kind::Date),
        ],
        order: &[after_via(
            "date",
            "plan_id",
            "start_date",
            "a core group before its plan started",
        )],
    },
    TableSpec {
        name: VISITS,
        key: "visit_id",
        required: false,
        columns: &[
            req("visit_id", Kind::Id),
            child(),
            req("visit_date", Kind::Date),
            col("visit_type", Kind::Code(VISIT_TYPES)),
            col("seen_alone", Kind::Flag),
            worker("worker"),
        ],
        order: &[],
    },
    TableSpec {
        name: SUPERVISIONS,
        key: "supervision_id",
        required: false,
        columns: &[
            req("supervision_id", Kind::Id),
            child(),
            req("date", Kind::Date),
            worker("worker"),
            worker("supervisor"),
            col("cp_plan_reviewed", Kind::Flag),
        ],
        order: &[],
    },
];

pub fn table(name: &str) -> Option<&'static TableSpec> {
    TABLES.iter().find(|t| t.name == name)
}

/// The column that closes a case of this table (a plan or an S47 ends), for the tables
/// whose rows stay open until then: a closed case waits for nothing.
pub fn case_end(table: &str) -> Option<&'static str> {
    match table {
        CP_PLANS | S47_ENQUIRIES => Some("end_date"),
        _ => None,
    }
}

/// Where a table stands in the journey (the order of [`TABLES`]); reports list tables so.
pub fn position(name: &str) -> Option<usize> {
    TABLES.iter().position(|t| t.name == name)
}

/// Whether any table links to this one (only those need an index of their keys).
pub fn is_linked_to(name: &str) -> bool {
    TABLES
        .iter()
        .flat_map(|t| t.columns)
        .any(|c| c.refers_to.is_some_and(|(target, _)| target == name))
}

/// How many links lie between a table and a table that links to nothing: children and
/// workers 0, referrals 1, assessments 2, ... A table's parents all have a smaller depth.
pub fn link_depth(t: &TableSpec) -> usize {
    t.columns
        .iter()
        .filter_map(|c| c.refers_to)
        .filter(|(target, _)| *target != t.name)
        .filter_map(|(target, _)| table(target))
        .map(|p| link_depth(p) + 1)
        .max()
        .unwrap_or(0)
}

/// Header matching: case, surrounding spaces, invisible characters (a BOM, a zero-width
/// space: see [`crate::values::tidy`]), and `-`/`_`/space differences are ignored.
/// `Received At`, `received-at` and ` RECEIVED_AT ` all match `received_at`.
pub fn normalise_header(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for ch in crate::values::tidy(raw).chars() {
        let ch = if matches!(ch, '-' | ' ' | '_') {
            '_'
        } else {
            ch
        };
        if ch == '_' && out.ends_with('_') {
            continue;
        }
        out.extend(ch.to_lowercase());
    }
    out
}

/// Code matching: `No Further Action` is not `nfa`, but `NFA`, `Early Help` and `early-help`
/// are `nfa` and `early_help`.
pub fn match_code(codes: &'static [&'static str], raw: &str) -> Option<&'static str> {
    if let Some(c) = codes.iter().copied().find(|c| c.eq_ignore_ascii_case(raw)) {
        return Some(c);
    }
    let norm = normalise_header(raw);
    codes.iter().copied().find(|c| *c == norm)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The loader holds a code as one byte (its place in the list, 0 for empty).
    #[test]
    fn every_code_list_fits_in_a_byte() {
        for t in TABLES {
            for c in t.columns {
                if let Kind::Code(codes) = c.kind {
                    assert!(
                        !codes.is_empty() && codes.len() < 255,
                        "{}.{}",
                        t.name,
                        c.name
                    );
                }
            }
        }
    }

    #[test]
    fn every_reference_points_at_an_earlier_table_and_a_real_column() {
        for (i, t) in TABLES.iter().enumerate() {
            assert_eq!(t.columns[0].name, t.key, "{}: key first", t.name);
            for c in t.columns {
                if let Some((target, column)) = c.refers_to {
                    let j = TABLES.iter().position(|x| x.name == target).unwrap();
                    assert!(j <= i, "{}.{} points forward", t.name, c.name);
                    assert!(TABLES[j].column(column).is_some());
                }
            }
            for rule in t.order {
                assert!(t.column(rule.later).is_some(), "{}.{}", t.name, rule.later);
                match rule.earlier {
                    Earlier::SameRow(c) => assert!(t.column(c).is_some()),
                    Earlier::Via { via, column } => {
                        let (target, _) = t.column(via).unwrap().refers_to.unwrap();
                        assert!(table(target).unwrap().column(column).is_some());
                    }
                }
            }
        }
    }

    #[test]
    fn link_depths_follow_the_journey() {
        let depth = |name| link_depth(table(name).unwrap());
        assert_eq!((depth(CHILDREN), depth(WORKERS)), (0, 0));
        assert_eq!(
            (depth(REFERRALS), depth(VISITS), depth(CP_PLANS)),
            (1, 1, 1)
        );
        assert_eq!((depth(ASSESSMENTS), depth(CORE_GROUPS)), (2, 2));
        assert_eq!((depth(S47_ENQUIRIES), depth(CONFERENCES)), (3, 4));
        assert!(is_linked_to(CHILDREN) && is_linked_to(CP_PLANS));
        assert!(!is_linked_to(VISITS) && !is_linked_to(CONTACTS));
        assert_eq!(
            (position(CHILDREN), position(SUPERVISIONS), position("x")),
            (Some(0), Some(11), None)
        );
    }

    #[test]
    fn headers_match_ignoring_case_spaces_and_separators() {
        assert_eq!(normalise_header("\u{feff} Received At "), "received_at");
        assert_eq!(normalise_header("received-at"), "received_at");
        assert_eq!(normalise_header("RECEIVED__AT"), "received_at");
        assert_eq!(normalise_header("received\u{200b}_at\u{a0}"), "received_at");
        assert_eq!(
            match_code(REFERRAL_OUTCOMES, "Early Help"),
            Some("early_help")
        );
        assert_eq!(match_code(REFERRAL_OUTCOMES, "NFA"), Some("nfa"));
        assert_eq!(match_code(REFERRAL_OUTCOMES, "closed"), None);
    }
}

//! Reporting periods: calendar months (`2024-11`) and English financial quarters and years,
//! April to March (`2024-25 Q1` is April-June 2024, `2024-25` is April 2024 - March 2025).

use chrono::{Datelike, Months, NaiveDate};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Grain {
    Month,
    Quarter,
    Year,
}

impl Grain {
    pub fn parse(s: &str) -> Option<Grain> {
        match s.trim().to_ascii_lowercase().as_str() {
            "month" | "monthly" => Some(Grain::Month),
            "quarter" | "quarterly" => Some(Grain::Quarter),
            "year" | "yearly" | "annual" => Some(Grain::Year),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Grain::Month => "month",
            Grain::Quarter => "quarter",
            Grain::Year => "year",
        }
    }

    fn months(self) -> u32 {
        match self {
            Grain::Month => 1,
            Grain::Quarter => 3,
            Grain::Year => 12,
        }
    }

    pub fn example(self) -> &'static str {
        match self {
            Grain::Month => "2024-11",
            Grain::Quarter => "2024-25 Q1",
            Grain::Year => "2024-25",
        }
    }
}

/// One period: identified by its grain and a running index (months since year 0 for months,
/// financial quarters since year 0 for quarters, the financial year's first calendar year
/// for years), so that consecutive periods have consecutive indexes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Period {
    pub grain: Grain,
    pub index: i32,
}

/// Months since year 0 of a date's month, with April of a financial year's first calendar
/// year at a multiple of 12 plus 3.
fn month_index(d: NaiveDate) -> i32 {
    d.year() * 12 + d.month0() as i32
}

impl Period {
    /// The period of this grain that contains `d`.
    pub fn containing(grain: Grain, d: NaiveDate) -> Period {
        // Financial months: April = 0.
        let fm = month_index(d) - 3;
        let index = match grain {
            Grain::Month => month_index(d),
            Grain::Quarter => fm.div_euclid(3),
            Grain::Year => fm.div_euclid(12),
        };
        Period { grain, index }
    }

    /// The first day of the period.
    pub fn start(self) -> NaiveDate {
        let m = match self.grain {
            Grain::Month => self.index,
            Grain::Quarter => self.index * 3 + 3,
            Grain::Year => self.index * 12 + 3,
        };
        NaiveDate::from_ymd_opt(m.div_euclid(12), m.rem_euclid(12) as u32 + 1, 1)
            .expect("a valid first of the month")
    }

    /// The last day of the period.
    pub fn end(self) -> NaiveDate {
        self.start()
            .checked_add_months(Months::new(self.grain.months()))
            .and_then(|d| d.pred_opt())
            .expect("a date inside chrono's range")
    }

    pub fn next(self) -> Period {
        Period {
            index: self.index + 1,
            ..self
        }
    }

    pub fn label(self) -> String {
        let start = self.start();
        match self.grain {
            Grain::Month => format!("{:04}-{:02}", start.year(), start.month()),
            Grain::Quarter => {
                let fy = (self.index).div_euclid(4);
                let q = self.index.rem_euclid(4) + 1;
                format!("{} Q{q}", financial_year_label(fy))
            }
            Grain::Year => financial_year_label(self.index),
        }
    }

    /// Reads a label written as [`Period::label`] writes it. Quarters also accept
    /// `2024/25 Q1` and `2024-2025 Q1`; years `2024/25` and `2024-2025`.
    pub fn parse(grain: Grain, text: &str) -> Result<Period, String> {
        let t = text.trim();
        let bad = || {
            format!(
                "`{t}` is not a {} period: write it like `{}`{}",
                grain.name(),
                grain.example(),
                match grain {
                    Grain::Month => "",
                    Grain::Quarter => " (financial quarters: Q1 is April-June)",
                    Grain::Year => " (financial years run April to March)",
                }
            )
        };
        match grain {
            Grain::Month => {
                let (y, m) = t.split_once('-').ok_or_else(bad)?;
                let (y, m): (i32, u32) =
                    (y.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
                let d = NaiveDate::from_ymd_opt(y, m, 1).ok_or_else(bad)?;
                Ok(Period::containing(Grain::Month, d))
            }
            Grain::Quarter => {
                let (fy, q) = t.split_once(['Q', 'q']).ok_or_else(bad)?;
                let fy = parse_financial_year(fy.trim()).ok_or_else(bad)?;
                let q: i32 = q.trim().parse().map_err(|_| bad())?;
                if !(1..=4).contains(&q) {
                    return Err(bad());
                }
                Ok(Period {
                    grain,
                    index: fy * 4 + q - 1,
                })
            }
            Grain::Year => {
                let fy = parse_financial_year(t).ok_or_else(bad)?;
                Ok(Period { grain, index: fy })
            }
        }
    }
}

/// `2024-25` for the financial year starting in April 2024.
pub fn financial_year_label(first_year: i32) -> String {
    format!("{first_year}-{:02}", (first_year + 1).rem_euclid(100))
}

/// `2024-25`, `2024/25`, `2024-2025` -> 2024; the second year must follow the first.
fn parse_financial_year(t: &str) -> Option<i32> {
    let (a, b) = t.split_once(['-', '/'])?;
    let first: i32 = a.trim().parse().ok()?;
    let b = b.trim();
    let second: i32 = b.parse().ok()?;
    let ok = match b.len() {
        2 => second == (first + 1).rem_euclid(100),
        4 => second == first + 1,
        _ => false,
    };
    (a.trim().len() == 4 && ok).then_some(first)
}

/// Every period from `from` to `to`, inclusive.
pub fn range(from: Period, to: Period) -> Vec<Period> {
    let mut out = Vec::new();
    let mut p = from;
    while p <= to {
        out.push(p);
        p = p.next();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn financial_quarters_and_years_run_april_to_march() {
        let q = Period::containing(Grain::Quarter, d(2024, 4, 1));
        assert_eq!(q.label(), "2024-25 Q1");
        assert_eq!((q.start(), q.end()), (d(2024, 4, 1), d(2024, 6, 30)));
        let q4 = Period::containing(Grain::Quarter, d(2025, 3, 31));
        assert_eq!(q4.label(), "2024-25 Q4");
        assert_eq!((q4.start(), q4.end()), (d(2025, 1, 1), d(2025, 3, 31)));
        assert_eq!(q4.next().label(), "2025-26 Q1");
        let y = Period::containing(Grain::Year, d(2025, 3, 31));
        assert_eq!(y.label(), "2024-25");
        assert_eq!((y.start(), y.end()), (d(2024, 4, 1), d(2025, 3, 31)));
        assert_eq!(
            Period::containing(Grain::Year, d(2025, 4, 1)).label(),
            "2025-26"
        );
        assert_eq!(
            Period::containing(Grain::Year, d(2000, 1, 1)).label(),
            "1999-00"
        );
    }

    #[test]
    fn months_end_on_their_last_day_including_leap_february() {
        let feb = Period::containing(Grain::Month, d(2024, 2, 10));
        assert_eq!(feb.label(), "2024-02");
        assert_eq!(feb.end(), d(2024, 2, 29));
        assert_eq!(
            Period::containing(Grain::Month, d(2023, 2, 1)).end(),
            d(2023, 2, 28)
        );
        let dec = Period::containing(Grain::Month, d(2024, 12, 31));
        assert_eq!(
            (dec.label(), dec.next().label()),
            ("2024-12".into(), "2025-01".into())
        );
    }

    #[test]
    fn labels_parse_back_and_bad_ones_say_how_to_write_them() {
        for grain in [Grain::Month, Grain::Quarter, Grain::Year] {
            let mut p = Period::containing(grain, d(2019, 1, 15));
            for _ in 0..30 {
                assert_eq!(Period::parse(grain, &p.label()).unwrap(), p);
                p = p.next();
            }
        }
        let q = |s| Period::parse(Grain::Quarter, s).map(|p| p.label());
        assert_eq!(q("2024/25 Q3").unwrap(), "2024-25 Q3");
        assert_eq!(q("2024-2025 q3").unwrap(), "2024-25 Q3");
        assert_eq!(q("1999-00 Q4").unwrap(), "1999-00 Q4");
        assert!(q("2024-26 Q1").unwrap_err().contains("`2024-25 Q1`"));
        assert!(q("2024-25 Q5").is_err());
        assert!(Period::parse(Grain::Month, "2024-13").is_err());
        assert!(Period::parse(Grain::Year, "2024")
            .unwrap_err()
            .contains("April to March"));
        assert_eq!(
            range(
                Period::parse(Grain::Month, "2024-11").unwrap(),
                Period::parse(Grain::Month, "2025-02").unwrap()
            )
            .len(),
            4
        );
    }
}

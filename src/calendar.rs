//! Working days: Monday to Friday less the bank holidays of a calendar file.
//!
//! Elapsed working days from `a` to `b` = the number of working days `d` with `a < d <= b`
//! (Excel's `NETWORKDAYS(a, b) - 1` when `a` is a working day). Day 0 is the day of the
//! starting event; an event on the Nth working day after it is "within N working days".
//! A span that runs backwards is negative: a data error, never "within".

use chrono::{Datelike, NaiveDate, Weekday};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;

/// The England and Wales calendar shipped in `calendars/`, built into the binary.
pub const ENGLAND_AND_WALES: &str = include_str!("../calendars/england-and-wales.toml");

#[derive(Debug, thiserror::Error)]
pub enum CalendarError {
    #[error("cannot read calendar {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("calendar {path}: {message}")]
    Invalid { path: String, message: String },
    #[error(
        "{date} is outside the calendar '{name}' ({first}-{last}); supply a calendar that \
         covers it with --calendar"
    )]
    OutOfRange {
        date: NaiveDate,
        name: String,
        first: i32,
        last: i32,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CalendarFile {
    name: String,
    first_year: i32,
    last_year: i32,
    #[serde(default = "default_weekend")]
    weekend: Vec<String>,
    #[serde(default)]
    holiday: Vec<HolidayEntry>,
}

fn default_weekend() -> Vec<String> {
    vec!["Sat".into(), "Sun".into()]
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HolidayEntry {
    date: String,
    name: String,
}

#[derive(Debug, Clone)]
pub struct Calendar {
    pub name: String,
    first: NaiveDate,
    last: NaiveDate,
    weekend: [bool; 7],
    holidays: BTreeMap<NaiveDate, String>,
    /// `cumulative[i]` = working days in `(first, first + i]`.
    cumulative: Vec<i32>,
}

impl Calendar {
    pub fn england_and_wales() -> Calendar {
        Calendar::from_toml(ENGLAND_AND_WALES, "calendars/england-and-wales.toml")
            .expect("the built-in calendar is valid (tested)")
    }

    pub fn from_file(path: &Path) -> Result<Calendar, CalendarError> {
        let text = crate::fsutil::read_definition(path).map_err(|source| CalendarError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Calendar::from_toml(&text, &path.display().to_string())
    }

    pub fn from_toml(text: &str, path: &str) -> Result<Calendar, CalendarError> {
        let invalid = |message: String| CalendarError::Invalid {
            path: path.to_string(),
            message,
        };
        let file: CalendarFile = toml::from_str(text).map_err(|e| invalid(e.to_string()))?;
        let first = NaiveDate::from_ymd_opt(file.first_year, 1, 1)
            .ok_or_else(|| invalid(format!("first_year {} is not a year", file.first_year)))?;
        let last = NaiveDate::from_ymd_opt(file.last_year, 12, 31)
            .ok_or_else(|| invalid(format!("last_year {} is not a year", file.last_year)))?;
        if last < first {
            return Err(invalid("last_year is before first_year".into()));
        }
        let mut weekend = [false; 7];
        for w in &file.weekend {
            let day: Weekday = w.parse().map_err(|_| {
                invalid(format!("weekend day '{w}' is not a day name (Mon .. Sun)"))
            })?;
            weekend[day.num_days_from_monday() as usize] = true;
        }
        let mut holidays = BTreeMap::new();
        for h in file.holiday {
            let date = NaiveDate::parse_from_str(&h.date, "%Y-%m-%d").map_err(|_| {
                invalid(format!(
                    "holiday '{}' has date '{}': expected YYYY-MM-DD",
                    h.name, h.date
                ))
            })?;
            if date < first || date > last {
                return Err(invalid(format!(
                    "holiday {date} ({}) is outside first_year..last_year",
                    h.name
                )));
            }
            if holidays.insert(date, h.name.clone()).is_some() {
                return Err(invalid(format!("holiday {date} is listed twice")));
            }
        }
        let days = (last - first).num_days() as usize + 1;
        let mut cumulative = Vec::with_capacity(days);
        let mut running = 0;
        for (i, d) in first.iter_days().take(days).enumerate() {
            if i > 0
                && !weekend[d.weekday().num_days_from_monday() as usize]
                && !holidays.contains_key(&d)
            {
                running += 1;
            }
            cumulative.push(running);
        }
        Ok(Calendar {
            name: file.name,
            first,
            last,
            weekend,
            holidays,
            cumulative,
        })
    }

    pub fn first_year(&self) -> i32 {
        self.first.year()
    }
    pub fn last_year(&self) -> i32 {
        self.last.year()
    }

    fn index(&self, d: NaiveDate) -> Result<usize, CalendarError> {
        if d < self.first || d > self.last {
            return Err(CalendarError::OutOfRange {
                date: d,
                name: self.name.clone(),
                first: self.first.year(),
                last: self.last.year(),
            });
        }
        Ok((d - self.first).num_days() as usize)
    }

    pub fn is_working_day(&self, d: NaiveDate) -> bool {
        !self.weekend[d.weekday().num_days_from_monday() as usize]
            && !self.holidays.contains_key(&d)
    }

    pub fn holiday_name(&self, d: NaiveDate) -> Option<&str> {
        self.holidays.get(&d).map(String::as_str)
    }

    pub fn holidays(&self) -> impl Iterator<Item = NaiveDate> + '_ {
        self.holidays.keys().copied()
    }

    /// Working days `d` with `from < d <= to`; negative when `to` is before `from`.
    pub fn working_days_between(
        &self,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<i32, CalendarError> {
        Ok(self.cumulative[self.index(to)?] - self.cumulative[self.index(from)?])
    }

    /// [`Calendar::working_days_between`] on days since 1970-01-01 (the form polars holds
    /// dates in); `None` when either date is outside the calendar.
    pub fn working_days_between_epoch(&self, from: i32, to: i32) -> Option<i32> {
        let first = crate::values::epoch_days(self.first);
        let at = |d: i32| -> Option<i32> {
            let i = usize::try_from(d.checked_sub(first)?).ok()?;
            self.cumulative.get(i).copied()
        };
        Some(at(to)? - at(from)?)
    }

    /// The first and last dates the calendar knows.
    pub fn range(&self) -> (NaiveDate, NaiveDate) {
        (self.first, self.last)
    }

    /// The date `n` working days after `from` (n >= 0): the last day still "within n".
    /// For n = 0 that is `from` itself.
    pub fn add_working_days(&self, from: NaiveDate, n: u32) -> Result<NaiveDate, CalendarError> {
        let mut d = from;
        let mut left = n;
        while left > 0 {
            d = d.succ_opt().ok_or(CalendarError::OutOfRange {
                date: d,
                name: self.name.clone(),
                first: self.first.year(),
                last: self.last.year(),
            })?;
            self.index(d)?;
            if self.is_working_day(d) {
                left -= 1;
            }
        }
        Ok(d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    fn wd(a: NaiveDate, b: NaiveDate) -> i32 {
        Calendar::england_and_wales()
            .working_days_between(a, b)
            .unwrap()
    }

    #[test]
    fn calendar_has_every_year_and_the_one_off_days() {
        let cal = Calendar::england_and_wales();
        assert_eq!((cal.first_year(), cal.last_year()), (2010, 2030));
        // Eight regular holidays a year, plus the five one-off days listed on gov.uk.
        assert_eq!(cal.holidays().count(), 21 * 8 + 5);
        for y in 2010..=2030 {
            assert!(cal.holidays().filter(|h| h.year() == y).count() >= 8, "{y}");
        }
        for (date, name) in [
            (d(2011, 4, 29), "Royal wedding"),
            (d(2012, 6, 4), "Spring bank holiday"),
            (d(2012, 6, 5), "Queen's Diamond Jubilee"),
            (d(2020, 5, 8), "Early May bank holiday"),
            (d(2022, 6, 2), "Spring bank holiday"),
            (d(2022, 6, 3), "Queen's Platinum Jubilee"),
            (d(2022, 9, 19), "State Funeral"),
            (d(2023, 5, 8), "Coronation"),
            (d(2021, 12, 27), "Christmas Day (substitute day)"),
            (d(2021, 12, 28), "Boxing Day (substitute day)"),
            (d(2022, 12, 27), "Christmas Day (substitute day)"),
            (d(2020, 12, 28), "Boxing Day (substitute day)"),
            (d(2022, 1, 3), "New Year's Day (substitute day)"),
            (d(2024, 3, 29), "Good Friday"),
            (d(2025, 4, 21), "Easter Monday"),
        ] {
            let got = cal
                .holiday_name(date)
                .unwrap_or_else(|| panic!("{date} missing"));
            assert!(got.starts_with(name), "{date}: {got}");
        }
        // Moved days leave their usual dates as working days.
        assert!(cal.is_working_day(d(2020, 5, 4))); // first Monday of May 2020
        assert!(cal.is_working_day(d(2022, 5, 30))); // last Monday of May 2022
        assert!(cal.is_working_day(d(2012, 5, 28)));
    }

    #[test]
    fn working_days_over_weekends_and_holidays() {
        // Same day: 0. Friday to Monday: 1 (the weekend does not count).
        assert_eq!(wd(d(2024, 11, 22), d(2024, 11, 22)), 0);
        assert_eq!(wd(d(2024, 11, 22), d(2024, 11, 25)), 1);
        // Saturday start: Monday is the first working day after it.
        assert_eq!(wd(d(2024, 11, 23), d(2024, 11, 25)), 1);
        assert_eq!(wd(d(2024, 11, 23), d(2024, 11, 24)), 0);
        // Easter 2024: Thu 28 Mar -> Tue 2 Apr skips Good Friday 29 Mar and Easter Monday 1 Apr.
        assert_eq!(wd(d(2024, 3, 28), d(2024, 4, 2)), 1);
        // Christmas 2022: Fri 23 Dec -> Wed 28 Dec; Mon 26 (Boxing) and Tue 27 (substitute).
        assert_eq!(wd(d(2022, 12, 23), d(2022, 12, 28)), 1);
        // Over the year end 2023-24: Fri 22 Dec -> Tue 2 Jan = 27, 28, 29 Dec, 2 Jan.
        assert_eq!(wd(d(2023, 12, 22), d(2024, 1, 2)), 4);
        // Leap day 2024 (a Thursday) counts: Wed 28 Feb -> Fri 1 Mar = 2.
        assert_eq!(wd(d(2024, 2, 28), d(2024, 3, 1)), 2);
        // 2023 has no 29 Feb: Tue 28 Feb -> Wed 1 Mar = 1.
        assert_eq!(wd(d(2023, 2, 28), d(2023, 3, 1)), 1);
        // Coronation Monday 8 May 2023: Fri 5 -> Tue 9 = 1.
        assert_eq!(wd(d(2023, 5, 5), d(2023, 5, 9)), 1);
        // Negative spans: backwards Monday -> Friday before.
        assert_eq!(wd(d(2024, 11, 25), d(2024, 11, 22)), -1);
        // 15 working days from Wed 3 Apr 2024 (after Easter) lands on Wed 24 Apr.
        assert_eq!(wd(d(2024, 4, 3), d(2024, 4, 24)), 15);
        // A whole year: 2024 has 262 weekdays less 8 holidays = 254 working days.
        assert_eq!(wd(d(2023, 12, 31), d(2024, 12, 31)), 254);
    }

    #[test]
    fn agrees_with_counting_day_by_day() {
        // The definition, literally: working days d with a < d <= b, for every start date in
        // 2023-2025 and every span up to 40 days either way.
        let cal = Calendar::england_and_wales();
        let naive = |a: NaiveDate, b: NaiveDate| {
            let (lo, hi, sign) = if a <= b { (a, b, 1) } else { (b, a, -1) };
            sign * lo
                .iter_days()
                .skip(1)
                .take_while(|d| *d <= hi)
                .filter(|d| cal.is_working_day(*d))
                .count() as i32
        };
        for a in d(2023, 1, 1)
            .iter_days()
            .take_while(|x| *x <= d(2025, 12, 31))
        {
            for k in -40..=40 {
                let b = a + chrono::Duration::days(k);
                assert_eq!(
                    cal.working_days_between(a, b).unwrap(),
                    naive(a, b),
                    "{a} -> {b}"
                );
            }
            for n in [0, 1, 10, 15, 45] {
                let due = cal.add_working_days(a, n).unwrap();
                assert_eq!(cal.working_days_between(a, due).unwrap(), n as i32);
                assert!(n == 0 || cal.is_working_day(due), "{a} + {n} = {due}");
            }
        }
    }

    #[test]
    fn add_working_days_is_the_inverse_deadline() {
        let cal = Calendar::england_and_wales();
        assert_eq!(
            cal.add_working_days(d(2024, 3, 28), 1).unwrap(),
            d(2024, 4, 2)
        );
        assert_eq!(
            cal.add_working_days(d(2024, 11, 22), 0).unwrap(),
            d(2024, 11, 22)
        );
        assert_eq!(
            cal.add_working_days(d(2024, 4, 3), 15).unwrap(),
            d(2024, 4, 24)
        );
        let out = cal
            .working_days_between(d(2009, 12, 31), d(2010, 1, 4))
            .unwrap_err();
        assert!(out.to_string().contains("--calendar"), "{out}");
    }

    #[test]
    fn user_calendar_and_its_errors() {
        let cal = Calendar::from_toml(
            "name = \"Test\"\nfirst_year = 2024\nlast_year = 2024\n\
             [[holiday]]\ndate = \"2024-01-02\"\nname = \"Staff day\"\n",
            "test.toml",
        )
        .unwrap();
        // Mon 1 Jan is a working day here; Tue 2 Jan is not.
        assert_eq!(
            cal.working_days_between(d(2024, 1, 1), d(2024, 1, 3))
                .unwrap(),
            1
        );
        let bad = Calendar::from_toml(
            "name = \"T\"\nfirst_year = 2024\nlast_year = 2024\n[[holiday]]\ndate = \"02/01/2024\"\nname = \"x\"\n",
            "bad.toml",
        )
        .unwrap_err();
        assert!(bad.to_string().contains("expected YYYY-MM-DD"), "{bad}");
        let dup = Calendar::from_toml(
            "name = \"T\"\nfirst_year = 2024\nlast_year = 2024\n[[holiday]]\ndate = \"2024-01-02\"\nname = \"x\"\n[[holiday]]\ndate = \"2024-01-02\"\nname = \"y\"\n",
            "dup.toml",
        )
        .unwrap_err();
        assert!(dup.to_string().contains("listed twice"), "{dup}");
    }
}

//! Benchmarks: generating a synthetic council, loading and checking its extracts, and
//! working-day arithmetic. Scale runs beyond these (England, --scale 190) are timed with the
//! release binary; see README "Performance".

use chrono::{Duration, NaiveDate};
use criterion::{criterion_group, criterion_main, Criterion};
use csc_audit::calendar::Calendar;
use csc_audit::ingest::{load, LoadOptions};
use csc_audit::synth::{generate, write, SynthOptions};
use std::hint::black_box;

fn opts(scale: f64) -> SynthOptions {
    SynthOptions {
        seed: 7,
        scale,
        ..SynthOptions::default()
    }
}

fn benches(c: &mut Criterion) {
    let cal = Calendar::england_and_wales();
    let mut g = c.benchmark_group("council");
    g.sample_size(10);
    g.bench_function("synth scale 1 (5 years)", |b| {
        b.iter(|| generate(&cal, black_box(&opts(1.0))).unwrap())
    });
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), &opts(1.0), false).unwrap();
    let load_opts = LoadOptions {
        as_of: None,
        today: NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
        columns: Default::default(),
    };
    g.bench_function("load and check scale 1", |b| {
        b.iter(|| load(black_box(dir.path()), &load_opts).unwrap())
    });
    g.finish();

    let start = NaiveDate::from_ymd_opt(2015, 1, 1).unwrap();
    let pairs: Vec<(NaiveDate, NaiveDate)> = (0..100_000)
        .map(|i| {
            (
                start + Duration::days(i % 3000),
                start + Duration::days(i % 3000 + i % 60),
            )
        })
        .collect();
    c.bench_function("working days, 100k spans", |b| {
        b.iter(|| {
            pairs
                .iter()
                .map(|(a, z)| cal.working_days_between(*a, *z).unwrap())
                .sum::<i32>()
        })
    });
}

criterion_group!(all, benches);
criterion_main!(all);

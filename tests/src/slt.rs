//! A sqllogictest runner: reads `.test` / `.slt` files with the `sqllogictest` crate's
//! parser and runs their records against kvsql, in process or through a server, judging
//! results the way SQLite's own runner does:
//!
//! - each value is rendered by the column type the record declares: `I` as an integer,
//!   `R` with three decimals, `T` as text (`(empty)` for an empty string, `@` for
//!   unprintable characters), NULL as `NULL`;
//! - `rowsort` sorts rows, `valuesort` sorts single values, `nosort` keeps the order;
//! - past the hash threshold, results compare as `N values hashing to MD5`, the MD5 of
//!   the values each followed by a newline;
//! - `skipif LABEL` / `onlyif LABEL` are honoured; this runner answers to the labels in
//!   given (by default [`LABELS`]).

use std::fmt::Write as _;
use std::path::Path;

use md5::{Digest, Md5};
use sqllogictest::{
    Condition, Control, DefaultColumnType, QueryExpect, Record, SortMode, StatementExpect,
};

/// The engine labels this runner answers to in `skipif` / `onlyif` by default: kvsql
/// itself, and sqlite, whose semantics kvsql's SQL follows (integer division, NULL
/// handling, the rendering of reals), so records written for SQLite's behaviour apply.
pub const LABELS: &[&str] = &["kvsql", "sqlite"];

/// A result value, from the engine or from the wire.
#[derive(Clone, Debug, PartialEq)]
pub enum Cell {
    Null,
    Integer(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
}

/// What a statement returned: rows (for queries) or nothing.
pub type Outcome = Result<Vec<Vec<Cell>>, String>;

/// Something that runs SQL: the engine in process, or a server through the driver.
pub trait Engine {
    fn run(&mut self, sql: &str) -> Outcome;
}

impl Engine for kvsql_engine::Session {
    fn run(&mut self, sql: &str) -> Outcome {
        let results = self.query(sql).map_err(|e| format!("{} {e}", e.code()))?;
        let Some(last) = results.into_iter().last() else {
            return Ok(Vec::new());
        };
        Ok(last
            .rows
            .into_iter()
            .map(|row| row.into_iter().map(cell_of_engine).collect())
            .collect())
    }
}

fn cell_of_engine(v: kvsql_engine::Value) -> Cell {
    use kvsql_engine::Value as V;
    match v {
        V::Null => Cell::Null,
        V::Boolean(b) => Cell::Integer(i64::from(b)),
        V::Integer(i) => Cell::Integer(i),
        V::Real(r) => Cell::Real(r),
        V::Text(s) => Cell::Text(s),
        V::Blob(b) => Cell::Blob(b),
    }
}

/// A server reached through the driver.
pub struct Remote {
    runtime: tokio::runtime::Runtime,
    client: kvsql_protocol::Client,
}

impl Remote {
    pub fn connect(addr: &str) -> Result<Remote, String> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        let client = runtime
            .block_on(kvsql_protocol::Client::connect(addr.to_string()))
            .map_err(|e| format!("cannot connect to {addr}: {e}"))?;
        Ok(Remote { runtime, client })
    }
}

impl Engine for Remote {
    fn run(&mut self, sql: &str) -> Outcome {
        let results = self
            .runtime
            .block_on(self.client.simple_query(sql))
            .map_err(|e| format!("{} {e}", e.code()))?;
        let Some(last) = results.into_iter().last() else {
            return Ok(Vec::new());
        };
        Ok(last
            .rows
            .iter()
            .map(|row| row.values().iter().map(cell_of_wire).collect())
            .collect())
    }
}

fn cell_of_wire(v: &kvsql_protocol::Value) -> Cell {
    use kvsql_protocol::Value as V;
    match v {
        V::Null => Cell::Null,
        V::Boolean(b) => Cell::Integer(i64::from(*b)),
        V::Integer(i) => Cell::Integer(*i),
        V::Real(r) => Cell::Real(*r),
        V::Text(s) => Cell::Text(s.clone()),
        V::Blob(b) => Cell::Blob(b.clone()),
    }
}

/// Per-file counts, and the first failures in detail.
#[derive(Debug, Default)]
pub struct FileReport {
    pub passed: usize,
    pub failed: usize,
    pub skipped: usize,
    pub failures: Vec<String>,
    /// Views the file created (a shared server keeps them otherwise).
    pub views: Vec<String>,
    pub tables: Vec<String>,
}

impl FileReport {
    fn fail(&mut self, keep: usize, message: String) {
        self.failed += 1;
        if self.failures.len() < keep {
            self.failures.push(message);
        }
    }
}

/// Runs every record of a file; keeps the details of the first `keep` failures.
pub fn run_file(
    path: &Path,
    engine: &mut dyn Engine,
    labels: &[String],
    keep: usize,
) -> Result<FileReport, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    // SQLite's runner allows a comment after `skipif LABEL` / `onlyif LABEL`; the crate's
    // parser does not, so such comments are dropped before parsing.
    let text: String = text
        .lines()
        .map(|line| {
            let words: Vec<&str> = line.split_whitespace().collect();
            match words.as_slice() {
                [kw @ ("skipif" | "onlyif"), label, comment, ..] if comment.starts_with('#') => {
                    format!("{kw} {label}\n")
                }
                _ => format!("{line}\n"),
            }
        })
        .collect();
    let records =
        sqllogictest::parse_with_name::<DefaultColumnType>(&text, path.display().to_string())
            .map_err(|e| format!("{}: {e}", path.display()))?;
    let mut report = FileReport::default();
    let mut hash_threshold: usize = 0;
    let mut default_sort = SortMode::NoSort;
    // The conditions of a record are the condition lines just before it. (The parser also
    // attaches conditions to statements and queries, but keeps those that came before a
    // `halt` for every later record, so they are taken from here instead.)
    let mut pending: Vec<Condition> = Vec::new();
    for record in records {
        if let Record::Condition(condition) = &record {
            pending.push(condition.clone());
            continue;
        }
        let conditions = std::mem::take(&mut pending);
        match record {
            Record::HashThreshold { threshold, .. } => hash_threshold = threshold as usize,
            Record::Control(Control::SortMode(mode)) => default_sort = mode,
            Record::Halt { .. } if skipped(&conditions, labels) => {}
            Record::Halt { .. } => break,
            Record::Statement {
                loc, sql, expected, ..
            } => {
                if skipped(&conditions, labels) {
                    report.skipped += 1;
                    continue;
                }
                note_names(&sql, &mut report);
                let outcome = engine.run(&sql);
                let ok = match (&expected, &outcome) {
                    (StatementExpect::Error(_), result) => result.is_err(),
                    (_, result) => result.is_ok(),
                };
                if ok {
                    report.passed += 1;
                } else {
                    report.fail(
                        keep,
                        format!(
                            "{loc}: statement {}\n{sql}\ngot: {}",
                            if matches!(expected, StatementExpect::Error(_)) {
                                "should have failed"
                            } else {
                                "failed"
                            },
                            match outcome {
                                Ok(_) => "ok".to_string(),
                                Err(e) => e,
                            }
                        ),
                    );
                }
            }
            Record::Query {
                loc, sql, expected, ..
            } => {
                if skipped(&conditions, labels) {
                    report.skipped += 1;
                    continue;
                }
                let outcome = engine.run(&sql);
                let verdict = match (expected, outcome) {
                    (QueryExpect::Error(_), Err(_)) => Ok(()),
                    (QueryExpect::Error(_), Ok(_)) => Err("the query should have failed".into()),
                    (QueryExpect::Results { .. }, Err(e)) => Err(format!("error: {e}")),
                    (
                        QueryExpect::Results {
                            types,
                            sort_mode,
                            results,
                            ..
                        },
                        Ok(rows),
                    ) => judge(
                        &types,
                        sort_mode.as_ref().unwrap_or(&default_sort),
                        hash_threshold,
                        rows,
                        &results,
                    ),
                };
                match verdict {
                    Ok(()) => report.passed += 1,
                    Err(why) => report.fail(keep, format!("{loc}: query\n{sql}\n{why}")),
                }
            }
            Record::Include { .. } | Record::System { .. } | Record::Let { .. } => {
                report.skipped += 1;
            }
            _ => {}
        }
    }
    Ok(report)
}

fn skipped(conditions: &[Condition], labels: &[String]) -> bool {
    conditions.iter().any(|c| match c {
        Condition::OnlyIf { label } => !labels.contains(label),
        Condition::SkipIf { label } => labels.contains(label),
    })
}

/// Remembers the tables and views a statement creates, for cleaning up afterwards.
fn note_names(sql: &str, report: &mut FileReport) {
    let words: Vec<String> = sql
        .split(|c: char| c.is_whitespace() || c == '(')
        .filter(|w| !w.is_empty())
        .take(6)
        .map(str::to_lowercase)
        .collect();
    let name = |i: usize| {
        let mut name = words.get(i).cloned().unwrap_or_default();
        if name == "if" {
            name = words.get(i + 3).cloned().unwrap_or_default();
        }
        name
    };
    match words.iter().map(String::as_str).take(2).collect::<Vec<_>>()[..] {
        ["create", "view"] => report.views.push(name(2)),
        ["create", "table"] => report.tables.push(name(2)),
        _ => {}
    }
}

/// Compares rows with the expected lines under the record's rules.
fn judge(
    types: &[DefaultColumnType],
    sort: &SortMode,
    hash_threshold: usize,
    rows: Vec<Vec<Cell>>,
    expected: &[String],
) -> Result<(), String> {
    if let Some(row) = rows.first()
        && row.len() != types.len()
    {
        return Err(format!(
            "{} columns returned, {} expected",
            row.len(),
            types.len()
        ));
    }
    let mut rendered: Vec<Vec<String>> = rows
        .iter()
        .map(|row| row.iter().zip(types).map(|(c, t)| render(c, t)).collect())
        .collect();
    let mut values: Vec<String> = match sort {
        SortMode::RowSort => {
            rendered.sort();
            rendered.into_iter().flatten().collect()
        }
        SortMode::ValueSort => {
            let mut all: Vec<String> = rendered.into_iter().flatten().collect();
            all.sort();
            all
        }
        _ => rendered.into_iter().flatten().collect(),
    };
    let hashed = expected.len() == 1 && expected[0].contains(" values hashing to ")
        || hash_threshold > 0 && values.len() > hash_threshold;
    if hashed {
        let mut md5 = Md5::new();
        for v in &values {
            md5.update(v.as_bytes());
            md5.update(b"\n");
        }
        let digest = md5.finalize();
        let mut hex = String::new();
        for b in digest {
            let _ = write!(hex, "{b:02x}");
        }
        let ours = format!("{} values hashing to {hex}", values.len());
        if expected.len() == 1 && expected[0] == ours {
            return Ok(());
        }
        if expected.len() != 1 && expected == values.as_slice() {
            return Ok(());
        }
        values.truncate(20);
        return Err(format!(
            "expected: {}\ngot:      {ours}\nfirst values: {values:?}",
            expected.join(" | ")
        ));
    }
    if values == expected {
        Ok(())
    } else {
        Err(format!("expected: {expected:?}\ngot:      {values:?}"))
    }
}

/// Renders a value as SQLite's sqllogictest runner does for a column of type `ty`.
pub fn render(cell: &Cell, ty: &DefaultColumnType) -> String {
    if *cell == Cell::Null {
        return "NULL".into();
    }
    match ty {
        DefaultColumnType::Integer => match cell {
            Cell::Integer(i) => i.to_string(),
            Cell::Real(r) => (*r as i64).to_string(),
            Cell::Text(s) => leading_integer(s).to_string(),
            Cell::Blob(_) | Cell::Null => "0".into(),
        },
        DefaultColumnType::FloatingPoint => match cell {
            Cell::Integer(i) => real_3(*i as f64),
            Cell::Real(r) => real_3(*r),
            Cell::Text(s) => real_3(leading_real(s)),
            Cell::Blob(_) | Cell::Null => "0.000".into(),
        },
        _ => {
            let text = match cell {
                Cell::Integer(i) => i.to_string(),
                Cell::Real(r) => kvsql_engine::value::format_real(*r),
                Cell::Text(s) => s.clone(),
                Cell::Blob(b) => String::from_utf8_lossy(b).into_owned(),
                Cell::Null => unreachable!("handled above"),
            };
            if text.is_empty() {
                "(empty)".into()
            } else {
                text.chars()
                    .map(|c| if (' '..='~').contains(&c) { c } else { '@' })
                    .collect()
            }
        }
    }
}

/// A real with three decimals, as the corpus spells them: exactly for ordinary values;
/// beyond 2^53, where a double holds no fraction, with 16 significant digits and zeros
/// after (so that -2^63 reads -9223372036854776000.000, not -9223372036854775808.000).
fn real_3(r: f64) -> String {
    if r.abs() < 9_007_199_254_740_992.0 || !r.is_finite() {
        return format!("{r:.3}");
    }
    let scientific = format!("{r:.15e}"); // -d.ddddddddddddddde<exp>
    let (mantissa, exponent) = scientific.split_once('e').expect("exponent");
    let exponent: usize = exponent.parse().expect("positive exponent");
    let negative = mantissa.starts_with('-');
    let mut digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    while digits.len() < exponent + 1 {
        digits.push('0');
    }
    format!("{}{digits}.000", if negative { "-" } else { "" })
}

fn leading_integer(s: &str) -> i64 {
    let t = s.trim_start();
    let end = t
        .char_indices()
        .take_while(|(i, c)| c.is_ascii_digit() || (*i == 0 && (*c == '-' || *c == '+')))
        .map(|(i, c)| i + c.len_utf8())
        .last()
        .unwrap_or(0);
    t[..end].parse().unwrap_or(0)
}

fn leading_real(s: &str) -> f64 {
    let t = s.trim_start();
    (1..=t.len())
        .rev()
        .filter(|&n| t.is_char_boundary(n))
        .find_map(|n| t[..n].parse::<f64>().ok())
        .unwrap_or(0.0)
}

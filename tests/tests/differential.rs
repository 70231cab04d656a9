//! Differential testing against SQLite: random schemas, data (NULLs, duplicates,
//! negative numbers, empty strings) and queries over the language both share run on
//! kvsql (the engine on RocksDB, in process) and on SQLite (bundled, through rusqlite);
//! results must agree, as multisets unless the query fixes their order.
//!
//! The test runs a fixed seed. A longer run:
//!
//! ```text
//! KVSQL_DIFF_SEED=42 KVSQL_DIFF_CASES=200 KVSQL_DIFF_QUERIES=100 \
//!     cargo test --release -p kvsql-tests --test differential -- --nocapture
//! ```
//!
//! A mismatch prints a reproducing script, shrunk to the fewest rows that still show it.

use std::fmt::Write as _;

use kvsql_engine::{Database, Value};
use rusqlite::types::ValueRef;

/// A small deterministic generator (SplitMix64), so that a seed reproduces a run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Ty {
    Int,
    Real,
    Text,
}

struct Column {
    name: String,
    ty: Ty,
}

struct Table {
    name: String,
    columns: Vec<Column>,
}

/// A generated database: its tables, and the statements that build it.
struct Schema {
    tables: Vec<Table>,
    ddl: Vec<String>,
    inserts: Vec<String>,
}

fn literal(rng: &mut Rng, ty: Ty, nulls: bool) -> String {
    if nulls && rng.chance(15) {
        return "NULL".into();
    }
    match ty {
        Ty::Int => (rng.below(9) as i64 - 4).to_string(),
        Ty::Real => format!("{:.2}", (rng.below(13) as f64 - 6.0) * 0.25),
        Ty::Text => format!("'{}'", rng.pick(&["", "a", "b", "ab", "B", "a%", "zz"])),
    }
}

fn schema(rng: &mut Rng) -> Schema {
    let mut tables = Vec::new();
    let mut ddl = Vec::new();
    let mut inserts = Vec::new();
    for t in 0..2 + rng.below(2) {
        let name = format!("t{t}");
        let mut columns = vec![Column {
            name: format!("k{t}"),
            ty: Ty::Int,
        }];
        for (i, c) in ["a", "b", "c", "d"].iter().enumerate() {
            let ty = match i {
                0 | 1 => Ty::Int,
                2 => Ty::Text,
                _ => *rng.pick(&[Ty::Int, Ty::Real, Ty::Text]),
            };
            columns.push(Column {
                name: format!("{c}{t}"),
                ty,
            });
        }
        let defs: Vec<String> = columns
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let ty = match c.ty {
                    Ty::Int => "INTEGER",
                    Ty::Real => "REAL",
                    Ty::Text => "TEXT",
                };
                if i == 0 {
                    format!("{} {ty} PRIMARY KEY", c.name)
                } else {
                    format!("{} {ty}", c.name)
                }
            })
            .collect();
        ddl.push(format!("CREATE TABLE {name} ({})", defs.join(", ")));
        if rng.chance(50) {
            let c = &columns[1 + rng.below(3) as usize].name;
            ddl.push(format!("CREATE INDEX {name}_{c} ON {name} ({c})"));
        }
        for k in 0..rng.below(12) {
            let values: Vec<String> = columns
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    if i == 0 {
                        (k as i64 * 2 - 5).to_string()
                    } else {
                        literal(rng, c.ty, true)
                    }
                })
                .collect();
            inserts.push(format!("INSERT INTO {name} VALUES ({})", values.join(", ")));
        }
        tables.push(Table { name, columns });
    }
    Schema {
        tables,
        ddl,
        inserts,
    }
}

/// Generates expressions over the columns in scope.
struct Gen<'a> {
    rng: &'a mut Rng,
    /// Qualified column names with their types.
    columns: Vec<(String, Ty)>,
    /// Tables a subquery may read.
    tables: &'a [Table],
}

impl Gen<'_> {
    fn column(&mut self, ty: Ty) -> Option<String> {
        let fitting: Vec<&(String, Ty)> = self.columns.iter().filter(|c| c.1 == ty).collect();
        if fitting.is_empty() {
            return None;
        }
        Some(self.rng.pick(&fitting).0.clone())
    }

    fn expr(&mut self, ty: Ty, depth: u32) -> String {
        if depth == 0 || self.rng.chance(35) {
            if self.rng.chance(70)
                && let Some(c) = self.column(ty)
            {
                return c;
            }
            return literal(self.rng, ty, true);
        }
        let d = depth - 1;
        match ty {
            Ty::Int => match self.rng.below(11) {
                0 => format!("({} + {})", self.expr(Ty::Int, d), self.expr(Ty::Int, d)),
                1 => format!("({} - {})", self.expr(Ty::Int, d), self.expr(Ty::Int, d)),
                2 => format!("({} * {})", self.expr(Ty::Int, d), self.expr(Ty::Int, d)),
                3 => format!("({} / {})", self.expr(Ty::Int, d), self.expr(Ty::Int, d)),
                4 => format!("({} % {})", self.expr(Ty::Int, d), self.expr(Ty::Int, d)),
                5 => format!("abs({})", self.expr(Ty::Int, d)),
                6 => format!(
                    "coalesce({}, {})",
                    self.expr(Ty::Int, d),
                    self.expr(Ty::Int, d)
                ),
                7 => format!(
                    "CASE WHEN {} THEN {} ELSE {} END",
                    self.cond(d),
                    self.expr(Ty::Int, d),
                    self.expr(Ty::Int, d)
                ),
                8 => format!("length({})", self.expr(Ty::Text, d)),
                9 => format!(
                    "nullif({}, {})",
                    self.expr(Ty::Int, d),
                    self.expr(Ty::Int, d)
                ),
                _ => format!("(- {})", self.expr(Ty::Int, d)),
            },
            Ty::Real => match self.rng.below(4) {
                0 => format!("({} + {})", self.expr(Ty::Real, d), self.expr(Ty::Int, d)),
                1 => format!("({} * {})", self.expr(Ty::Real, d), self.expr(Ty::Real, d)),
                2 => format!("abs({})", self.expr(Ty::Real, d)),
                _ => format!(
                    "ifnull({}, {})",
                    self.expr(Ty::Real, d),
                    self.expr(Ty::Real, d)
                ),
            },
            Ty::Text => match self.rng.below(6) {
                0 => format!("({} || {})", self.expr(Ty::Text, d), self.expr(Ty::Text, d)),
                1 => format!("upper({})", self.expr(Ty::Text, d)),
                2 => format!("lower({})", self.expr(Ty::Text, d)),
                3 => format!(
                    "substr({}, {}, {})",
                    self.expr(Ty::Text, d),
                    self.rng.below(5) as i64 - 2,
                    self.rng.below(4)
                ),
                4 => format!(
                    "coalesce({}, {})",
                    self.expr(Ty::Text, d),
                    self.expr(Ty::Text, d)
                ),
                _ => format!(
                    "CASE {} WHEN {} THEN {} ELSE {} END",
                    self.expr(Ty::Int, d),
                    self.expr(Ty::Int, d),
                    self.expr(Ty::Text, d),
                    self.expr(Ty::Text, d)
                ),
            },
        }
    }

    fn cond(&mut self, depth: u32) -> String {
        let d = depth.saturating_sub(1);
        let ty = *self.rng.pick(&[Ty::Int, Ty::Int, Ty::Text, Ty::Real]);
        match self.rng.below(if depth == 0 { 4 } else { 10 }) {
            0 => {
                let op = *self.rng.pick(&["=", "<>", "<", "<=", ">", ">="]);
                format!("{} {op} {}", self.expr(ty, d), self.expr(ty, d))
            }
            1 => format!(
                "{} IS {}NULL",
                self.expr(ty, d),
                if self.rng.chance(50) { "NOT " } else { "" }
            ),
            2 => {
                let items: Vec<String> = (0..1 + self.rng.below(3))
                    .map(|_| literal(self.rng, ty, true))
                    .collect();
                format!(
                    "{} {}IN ({})",
                    self.expr(ty, d),
                    if self.rng.chance(30) { "NOT " } else { "" },
                    items.join(", ")
                )
            }
            3 => format!(
                "{} BETWEEN {} AND {}",
                self.expr(Ty::Int, d),
                literal(self.rng, Ty::Int, false),
                literal(self.rng, Ty::Int, false)
            ),
            4 => format!("({} AND {})", self.cond(d), self.cond(d)),
            5 => format!("({} OR {})", self.cond(d), self.cond(d)),
            6 => format!("NOT ({})", self.cond(d)),
            7 => format!(
                "{} LIKE {}",
                self.expr(Ty::Text, d),
                self.rng.pick(&["'a%'", "'%b'", "'_'", "'%'", "'A_'"])
            ),
            8 => {
                // A correlated or plain subquery.
                let table = self.rng.pick(self.tables);
                let inner = &table.columns[1].name;
                let outer = self.column(Ty::Int).unwrap_or_else(|| "1".into());
                match self.rng.below(3) {
                    0 => format!(
                        "EXISTS (SELECT 1 FROM {} AS s WHERE s.{inner} = {outer})",
                        table.name
                    ),
                    1 => format!(
                        "{outer} IN (SELECT s.{inner} FROM {} AS s WHERE s.{inner} IS NOT NULL)",
                        table.name
                    ),
                    _ => format!("{outer} > (SELECT min(s.{inner}) FROM {} AS s)", table.name),
                }
            }
            _ => format!("{} = {}", self.expr(Ty::Int, d), self.expr(Ty::Int, d)),
        }
    }
}

/// A query, and whether its order is fully determined (compare in order).
/// A random query, and whether its rows come in a fixed order. One in five is wrapped
/// as a common table expression (`WITH w AS (query) SELECT * FROM w`, whose order is
/// not fixed), one in five is replaced by a query of window functions and one in ten
/// by a recursive one; which ones, and the replacing query, follow from the query's
/// text, so that the generator's sequence, and with it every seed's other cases, stays
/// as it was.
fn query(rng: &mut Rng, schema: &Schema) -> (String, bool) {
    let (sql, ordered) = plain_query(rng, schema);
    let hash = sql.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    match hash % 10 {
        0 | 5 => (format!("WITH w AS ({sql}) SELECT * FROM w"), false),
        1 | 6 => (window_query(&mut Rng(hash), schema), false),
        2 => (recursive_query(&mut Rng(hash), schema), false),
        _ => (sql, ordered),
    }
}

/// A recursive walk over a table: rows whose column matches the key of a row reached
/// before, a few steps deep.
fn recursive_query(rng: &mut Rng, schema: &Schema) -> String {
    let table = rng.pick(&schema.tables);
    let name = &table.name;
    let key = &table.columns[0].name;
    let start = &table.columns[1 + rng.below(2) as usize].name;
    let link = &table.columns[1 + rng.below(2) as usize].name;
    let union = if rng.chance(50) { "UNION" } else { "UNION ALL" };
    format!(
        "WITH RECURSIVE r (k, d) AS (SELECT {key}, 0 FROM {name} WHERE {start} > {} \
         {union} SELECT {name}.{key}, r.d + 1 FROM {name} JOIN r ON {name}.{link} = r.k \
         WHERE r.d < {}) SELECT k, d FROM r",
        rng.below(5) as i64 - 2,
        1 + rng.below(4)
    )
}

/// A query of a table's key and a few window functions over it. Functions that tell
/// peers apart (row_number, lag, ...) order by the key last, so that every row's value
/// is fixed; the others (rank, running sums, ...) give peers one value whatever order
/// they come in.
fn window_query(rng: &mut Rng, schema: &Schema) -> String {
    let table = rng.pick(&schema.tables);
    let key = &table.columns[0].name;
    let column = |rng: &mut Rng| table.columns[1 + rng.below(4) as usize].name.clone();
    let int_column = |rng: &mut Rng| table.columns[1 + rng.below(2) as usize].name.clone();
    let mut items = vec![key.clone()];
    for _ in 0..1 + rng.below(3) {
        let partition = if rng.chance(50) {
            format!("PARTITION BY {} ", column(rng))
        } else {
            String::new()
        };
        let order = if rng.chance(80) {
            format!(
                "ORDER BY {}{}",
                column(rng),
                if rng.chance(30) { " DESC" } else { "" }
            )
        } else {
            String::new()
        };
        let total = if order.is_empty() {
            format!("ORDER BY {key}")
        } else {
            format!("{order}, {key}")
        };
        let (func, over_order) = match rng.below(18) {
            0 => ("rank()".to_string(), order),
            1 => ("dense_rank()".to_string(), order),
            2 => ("percent_rank()".to_string(), order),
            3 => ("cume_dist()".to_string(), order),
            4 => (format!("sum({})", int_column(rng)), order),
            5 => ("count(*)".to_string(), order),
            6 => (format!("min({})", column(rng)), order),
            7 => ("row_number()".to_string(), total),
            8 => (format!("lag({})", column(rng)), total),
            9 => (format!("lead({}, 2, 0)", int_column(rng)), total),
            10 => (format!("first_value({})", column(rng)), total),
            11 => (format!("ntile({})", 1 + rng.below(4)), total),
            // Frames: counted in rows, so in an order without ties.
            12 => (
                format!("sum({})", int_column(rng)),
                format!("{total} ROWS BETWEEN 1 PRECEDING AND 1 FOLLOWING"),
            ),
            13 => (
                "count(*)".to_string(),
                format!("{total} ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW"),
            ),
            14 => (
                format!("max({})", column(rng)),
                format!("{total} ROWS BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING"),
            ),
            15 => (
                format!("last_value({})", column(rng)),
                format!("{total} ROWS BETWEEN 2 PRECEDING AND 1 PRECEDING"),
            ),
            16 => (
                format!("nth_value({}, {})", column(rng), 1 + rng.below(3)),
                format!("{total} ROWS BETWEEN 1 PRECEDING AND UNBOUNDED FOLLOWING"),
            ),
            _ => (
                format!("min({})", column(rng)),
                format!("{order} RANGE BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING"),
            ),
        };
        items.push(format!("{func} OVER ({partition}{over_order})"));
    }
    let filter = if rng.chance(30) {
        format!(" WHERE {} IS NOT NULL", column(rng))
    } else {
        String::new()
    };
    format!("SELECT {} FROM {}{filter}", items.join(", "), table.name)
}

fn plain_query(rng: &mut Rng, schema: &Schema) -> (String, bool) {
    let tables = &schema.tables;
    let first = rng.below(tables.len() as u64) as usize;
    let mut from = vec![first];
    if rng.chance(40) {
        from.push((first + 1) % tables.len());
    }
    let columns: Vec<(String, Ty)> = from
        .iter()
        .flat_map(|&t| {
            tables[t]
                .columns
                .iter()
                .map(move |c| (format!("{}.{}", tables[t].name, c.name), c.ty))
        })
        .collect();
    let mut g = Gen {
        rng,
        columns,
        tables,
    };
    let from_sql = match from.as_slice() {
        [t] => tables[*t].name.clone(),
        [l, r] => {
            let (lt, rt) = (&tables[*l], &tables[*r]);
            let on = format!(
                "{}.{} = {}.{}",
                lt.name,
                lt.columns[1].name,
                rt.name,
                rt.columns[2 - 1].name
            );
            match g.rng.below(5) {
                0 => format!("{}, {} ", lt.name, rt.name),
                1 => format!("{} JOIN {} ON {on}", lt.name, rt.name),
                2 => format!("{} LEFT JOIN {} ON {on}", lt.name, rt.name),
                3 => format!("{} RIGHT JOIN {} ON {on}", lt.name, rt.name),
                _ => format!("{} FULL JOIN {} ON {on}", lt.name, rt.name),
            }
        }
        _ => unreachable!(),
    };
    let filter = if g.rng.chance(70) {
        format!(" WHERE {}", g.cond(2))
    } else {
        String::new()
    };
    match g.rng.below(10) {
        // Aggregates, grouped or not.
        0..=2 => {
            let key = g.expr(Ty::Int, 1);
            let agg_col = g.column(Ty::Int).unwrap_or_else(|| "1".into());
            let aggs = [
                "count(*)".to_string(),
                format!("count({agg_col})"),
                format!("sum({agg_col})"),
                format!("min({agg_col})"),
                format!("max({agg_col})"),
                format!("count(DISTINCT {agg_col})"),
                format!("total({agg_col})"),
            ];
            let agg = g.rng.pick(&aggs).clone();
            if g.rng.chance(60) {
                let having = if g.rng.chance(30) {
                    format!(" HAVING count(*) > {}", g.rng.below(3))
                } else {
                    String::new()
                };
                (
                    format!("SELECT {key}, {agg} FROM {from_sql}{filter} GROUP BY {key}{having}"),
                    false,
                )
            } else {
                (format!("SELECT {agg} FROM {from_sql}{filter}"), false)
            }
        }
        // A compound query.
        3 => {
            let other = &tables[g.rng.below(tables.len() as u64) as usize];
            let op = *g.rng.pick(&["UNION", "UNION ALL", "INTERSECT", "EXCEPT"]);
            let left = g.column(Ty::Int).unwrap_or_else(|| "1".into());
            (
                format!(
                    "SELECT {left} FROM {from_sql}{filter} {op} SELECT {} FROM {}",
                    other.columns[1].name, other.name
                ),
                false,
            )
        }
        // Ordered and limited: every output column is a sort key, so the order is fixed.
        4..=5 => {
            let items: Vec<String> = (0..1 + g.rng.below(3))
                .map(|_| {
                    let ty = *g.rng.pick(&[Ty::Int, Ty::Text, Ty::Int]);
                    g.expr(ty, 2)
                })
                .collect();
            let order: Vec<String> = (1..=items.len())
                .map(|i| format!("{i}{}", if g.rng.chance(30) { " DESC" } else { "" }))
                .collect();
            (
                format!(
                    "SELECT DISTINCT {} FROM {from_sql}{filter} ORDER BY {} LIMIT {}",
                    items.join(", "),
                    order.join(", "),
                    g.rng.below(6)
                ),
                true,
            )
        }
        // Plain projections, with a scalar subquery now and then.
        _ => {
            let mut items: Vec<String> = (0..1 + g.rng.below(3))
                .map(|_| {
                    let ty = *g.rng.pick(&[Ty::Int, Ty::Text, Ty::Real, Ty::Int]);
                    g.expr(ty, 3)
                })
                .collect();
            if g.rng.chance(20) {
                let t = g.rng.pick(tables);
                let outer = g.column(Ty::Int).unwrap_or_else(|| "0".into());
                items.push(format!(
                    "(SELECT count(*) FROM {} AS s WHERE s.{} < {outer})",
                    t.name, t.columns[1].name
                ));
            }
            let distinct = if g.rng.chance(20) { "DISTINCT " } else { "" };
            (
                format!(
                    "SELECT {distinct}{} FROM {from_sql}{filter}",
                    items.join(", ")
                ),
                false,
            )
        }
    }
}

#[derive(Clone, Debug)]
enum Cell {
    Null,
    Num(f64),
    Text(String),
}

impl PartialEq for Cell {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Cell::Null, Cell::Null) => true,
            (Cell::Num(a), Cell::Num(b)) => a == b || (a - b).abs() <= 1e-9 * a.abs().max(b.abs()),
            (Cell::Text(a), Cell::Text(b)) => a == b,
            _ => false,
        }
    }
}

fn sort_key(row: &[Cell]) -> String {
    row.iter()
        .map(|c| match c {
            Cell::Null => "N".to_string(),
            Cell::Num(n) => format!("F{:.9}", n + 0.0),
            Cell::Text(s) => format!("T{s}"),
        })
        .collect::<Vec<_>>()
        .join("\u{1}")
}

type Answer = Result<Vec<Vec<Cell>>, String>;

fn on_kvsql(db: &Database, statements: &[String], sql: &str) -> Answer {
    let mut session = db.session();
    for s in statements {
        session
            .query(s)
            .map_err(|e| format!("setup failed: {s}: {e}"))?;
    }
    let results = session
        .query(sql)
        .map_err(|e| format!("{} {e}", e.code()))?;
    let rows = results
        .into_iter()
        .last()
        .map(|r| r.rows)
        .unwrap_or_default();
    Ok(rows
        .into_iter()
        .map(|row| {
            row.into_iter()
                .map(|v| match v {
                    Value::Null => Cell::Null,
                    Value::Boolean(b) => Cell::Num(f64::from(u8::from(b))),
                    Value::Integer(i) => Cell::Num(i as f64),
                    Value::Real(r) => Cell::Num(r),
                    Value::Text(s) => Cell::Text(s),
                    Value::Blob(b) => Cell::Text(String::from_utf8_lossy(&b).into_owned()),
                })
                .collect()
        })
        .collect())
}

fn sqlite_with(statements: &[String]) -> Result<rusqlite::Connection, String> {
    let conn = rusqlite::Connection::open_in_memory().map_err(|e| e.to_string())?;
    for s in statements {
        conn.execute(s, [])
            .map_err(|e| format!("setup failed: {s}: {e}"))?;
    }
    Ok(conn)
}

fn on_sqlite(conn: &rusqlite::Connection, sql: &str) -> Answer {
    let mut stmt = conn.prepare(sql).map_err(|e| e.to_string())?;
    let width = stmt.column_count();
    let mut rows = stmt.query([]).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(|e| e.to_string())? {
        let mut cells = Vec::with_capacity(width);
        for i in 0..width {
            cells.push(match row.get_ref(i).map_err(|e| e.to_string())? {
                ValueRef::Null => Cell::Null,
                ValueRef::Integer(i) => Cell::Num(i as f64),
                ValueRef::Real(r) => Cell::Num(r),
                ValueRef::Text(t) => Cell::Text(String::from_utf8_lossy(t).into_owned()),
                ValueRef::Blob(b) => Cell::Text(String::from_utf8_lossy(b).into_owned()),
            });
        }
        out.push(cells);
    }
    Ok(out)
}

/// Whether the two answers agree (as multisets unless `ordered`).
fn agree(a: &Answer, b: &Answer, ordered: bool) -> bool {
    match (a, b) {
        (Ok(x), Ok(y)) if ordered => x == y,
        (Ok(x), Ok(y)) => {
            let (mut x, mut y) = (x.clone(), y.clone());
            x.sort_by_key(|r| sort_key(r));
            y.sort_by_key(|r| sort_key(r));
            x == y
        }
        (Err(_), Err(_)) => true,
        _ => false,
    }
}

fn compare(statements: &[String], sql: &str, ordered: bool) -> Option<(Answer, Answer)> {
    let db = Database::memory();
    let ours = on_kvsql(&db, statements, sql);
    let theirs = sqlite_with(statements).and_then(|conn| on_sqlite(&conn, sql));
    (!agree(&ours, &theirs, ordered)).then_some((ours, theirs))
}

/// Drops rows while the mismatch persists; returns the smallest script that shows it.
fn shrink(schema: &Schema, sql: &str, ordered: bool) -> Vec<String> {
    let mut inserts = schema.inserts.clone();
    let mut i = 0;
    while i < inserts.len() {
        let mut fewer = inserts.clone();
        fewer.remove(i);
        let statements: Vec<String> = schema.ddl.iter().cloned().chain(fewer.clone()).collect();
        if compare(&statements, sql, ordered).is_some() {
            inserts = fewer;
        } else {
            i += 1;
        }
    }
    schema.ddl.iter().cloned().chain(inserts).collect()
}

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[test]
fn kvsql_agrees_with_sqlite_on_random_queries() {
    let seed = env("KVSQL_DIFF_SEED", 20261124);
    let cases = env("KVSQL_DIFF_CASES", 40);
    let per_case = env("KVSQL_DIFF_QUERIES", 50);
    let mut rng = Rng(seed);
    let mut ran = 0;
    let mut both_failed = 0;
    let mut with_rows = 0;
    let mut failure_sample: Vec<String> = Vec::new();
    for case in 0..cases {
        let schema = schema(&mut rng);
        let statements: Vec<String> = schema.ddl.iter().chain(&schema.inserts).cloned().collect();
        let db = Database::memory();
        let mut session = db.session();
        for s in &statements {
            session.query(s).unwrap_or_else(|e| panic!("{s}: {e}"));
        }
        let conn = sqlite_with(&statements).unwrap();
        for _ in 0..per_case {
            let (sql, ordered) = query(&mut rng, &schema);
            let ours = on_kvsql(&db, &[], &sql);
            let theirs = on_sqlite(&conn, &sql);
            ran += 1;
            if let (Err(e), Err(_)) = (&ours, &theirs) {
                both_failed += 1;
                if failure_sample.len() < 3 {
                    failure_sample.push(format!("{sql}: {e}"));
                }
            }
            if matches!(&ours, Ok(rows) if !rows.is_empty()) {
                with_rows += 1;
            }
            if agree(&ours, &theirs, ordered) {
                continue;
            }
            let script = shrink(&schema, &sql, ordered);
            let mut report = String::new();
            let _ = writeln!(
                report,
                "kvsql and SQLite disagree (seed {seed}, case {case}):"
            );
            for s in &script {
                let _ = writeln!(report, "{s};");
            }
            let _ = writeln!(report, "{sql};");
            let (ours, theirs) = compare(&script, &sql, ordered).unwrap_or((ours, theirs));
            let _ = writeln!(report, "-- kvsql:  {ours:?}\n-- sqlite: {theirs:?}");
            panic!("{report}");
        }
    }
    eprintln!(
        "{ran} random queries agreed with SQLite: {with_rows} returned rows, {both_failed} \
         failed on both (for example {failure_sample:#?})"
    );
    assert!(ran > 0);
    assert!(
        with_rows * 2 > ran,
        "only {with_rows} of {ran} queries returned rows: the comparison proves little"
    );
    assert!(
        both_failed * 10 < ran,
        "{both_failed} of {ran} queries failed on both engines: the generator is off"
    );
}

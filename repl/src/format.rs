//! Result formatting: an aligned table in the style of psql, followed by the row count.

use kvsql_protocol::{ColumnType, QueryResult, Value};

/// A value as the table shows it.
pub fn cell(value: &Value) -> String {
    match value {
        Value::Null => "NULL".into(),
        Value::Boolean(b) => b.to_string(),
        Value::Integer(i) => i.to_string(),
        Value::Real(r) if r.is_finite() && r.fract() == 0.0 && r.abs() < 1e15 => format!("{r:.1}"),
        Value::Real(r) => r.to_string(),
        Value::Text(s) => s.clone(),
        Value::Blob(b) => {
            let hex: String = b.iter().map(|byte| format!("{byte:02x}")).collect();
            format!("\\x{hex}")
        }
    }
}

fn width(s: &str) -> usize {
    s.chars().count()
}

/// Renders one statement's result: a table and "(N rows)" for queries, the command tag
/// (with the affected-row count for writes) otherwise.
pub fn render(result: &QueryResult) -> String {
    if result.columns.is_empty() {
        return match result.tag.as_str() {
            "INSERT" | "UPDATE" | "DELETE" => format!("{} {}\n", result.tag, result.rows_affected),
            tag => format!("{tag}\n"),
        };
    }
    let headers: Vec<&str> = result.columns.iter().map(|c| c.name.as_str()).collect();
    let cells: Vec<Vec<String>> = result
        .rows
        .iter()
        .map(|row| row.values().iter().map(cell).collect())
        .collect();
    let mut widths: Vec<usize> = headers.iter().map(|h| width(h)).collect();
    for row in &cells {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(width(c));
        }
    }
    let numeric: Vec<bool> = result
        .columns
        .iter()
        .map(|c| matches!(c.column_type, ColumnType::Integer | ColumnType::Real))
        .collect();
    let pad = |s: &str, w: usize, right: bool| {
        let fill = " ".repeat(w - width(s));
        if right {
            format!("{fill}{s}")
        } else {
            format!("{s}{fill}")
        }
    };
    let mut out = String::new();
    let header: Vec<String> = headers
        .iter()
        .zip(&widths)
        .map(|(h, &w)| {
            let left = (w - width(h)) / 2;
            format!("{}{h}{}", " ".repeat(left), " ".repeat(w - width(h) - left))
        })
        .collect();
    out.push_str(format!(" {} ", header.join(" | ")).trim_end());
    out.push('\n');
    let rule: Vec<String> = widths.iter().map(|&w| "-".repeat(w + 2)).collect();
    out.push_str(&rule.join("+"));
    out.push('\n');
    for row in &cells {
        let line: Vec<String> = row
            .iter()
            .zip(&widths)
            .zip(&numeric)
            .map(|((c, &w), &right)| pad(c, w, right))
            .collect();
        out.push_str(format!(" {} ", line.join(" | ")).trim_end());
        out.push('\n');
    }
    let n = result.rows.len();
    out.push_str(&format!("({n} row{})\n", if n == 1 { "" } else { "s" }));
    if matches!(result.tag.as_str(), "INSERT" | "UPDATE" | "DELETE") {
        // A write with RETURNING: its rows, then what it did.
        out.push_str(&format!("{} {}\n", result.tag, result.rows_affected));
    }
    out
}

/// How results are printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// An aligned table with a row count (psql's default).
    Table,
    /// RFC 4180 CSV with a header line; NULL is an empty field.
    Csv,
    /// One JSON array of objects per result.
    Json,
    /// A Markdown table.
    Markdown,
}

/// Renders a result in `format`. Statements without rows print their tag in the table
/// and Markdown formats, and nothing in CSV and JSON (which stay machine-readable).
pub fn render_as(result: &QueryResult, format: Format) -> String {
    if format == Format::Table {
        return render(result);
    }
    if result.columns.is_empty() {
        return match format {
            Format::Markdown => render(result),
            _ => String::new(),
        };
    }
    let names: Vec<&str> = result.columns.iter().map(|c| c.name.as_str()).collect();
    let mut out = String::new();
    match format {
        Format::Csv => {
            let field = |s: &str| {
                if s.contains([',', '"', '\n', '\r']) {
                    format!("\"{}\"", s.replace('"', "\"\""))
                } else {
                    s.to_string()
                }
            };
            out.push_str(&names.iter().map(|n| field(n)).collect::<Vec<_>>().join(","));
            out.push('\n');
            for row in &result.rows {
                let cells: Vec<String> = row
                    .values()
                    .iter()
                    .map(|v| match v {
                        Value::Null => String::new(),
                        other => field(&cell(other)),
                    })
                    .collect();
                out.push_str(&cells.join(","));
                out.push('\n');
            }
        }
        Format::Json => {
            let rows: Vec<String> = result
                .rows
                .iter()
                .map(|row| {
                    let fields: Vec<String> = names
                        .iter()
                        .zip(row.values())
                        .map(|(n, v)| format!("{}:{}", json_string(n), json_value(v)))
                        .collect();
                    format!("{{{}}}", fields.join(","))
                })
                .collect();
            out.push('[');
            out.push_str(&rows.join(",\n "));
            out.push_str("]\n");
        }
        Format::Markdown => {
            let escape = |s: &str| s.replace('|', "\\|").replace('\n', " ");
            out.push_str(&format!(
                "| {} |\n",
                names
                    .iter()
                    .map(|n| escape(n))
                    .collect::<Vec<_>>()
                    .join(" | ")
            ));
            out.push_str(&format!("|{}\n", "---|".repeat(names.len())));
            for row in &result.rows {
                let cells: Vec<String> = row.values().iter().map(|v| escape(&cell(v))).collect();
                out.push_str(&format!("| {} |\n", cells.join(" | ")));
            }
        }
        Format::Table => unreachable!("handled above"),
    }
    out
}

fn json_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn json_value(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Boolean(b) => b.to_string(),
        Value::Integer(i) => i.to_string(),
        Value::Real(r) if r.is_finite() => cell(v),
        Value::Real(_) => "null".into(),
        other => json_string(&cell(other)),
    }
}

/// Renders a query's rows one field per line, as psql's expanded display (`\x`) does:
/// for wide rows on narrow terminals.
pub fn render_expanded(result: &QueryResult) -> String {
    if result.columns.is_empty() {
        return render(result);
    }
    let name_width = result
        .columns
        .iter()
        .map(|c| width(&c.name))
        .max()
        .unwrap_or(0);
    let cells: Vec<Vec<String>> = result
        .rows
        .iter()
        .map(|row| row.values().iter().map(cell).collect())
        .collect();
    let value_width = cells
        .iter()
        .flatten()
        .flat_map(|c| c.lines())
        .map(width)
        .max()
        .unwrap_or(0);
    let mut out = String::new();
    for (n, row) in cells.iter().enumerate() {
        // As psql: the rule marks the column boundary with '+' when the title leaves
        // room for it.
        let title = format!("-[ RECORD {} ]", n + 1);
        out.push_str(&title);
        if width(&title) <= name_width + 1 {
            out.push_str(&"-".repeat(name_width + 1 - width(&title)));
            out.push('+');
            out.push_str(&"-".repeat(value_width + 1));
        } else {
            let total = name_width + 3 + value_width;
            out.push_str(&"-".repeat(total.saturating_sub(width(&title))));
        }
        out.push('\n');
        for (column, value) in result.columns.iter().zip(row) {
            let fill = " ".repeat(name_width - width(&column.name));
            out.push_str(format!("{}{fill} | {value}", column.name).trim_end());
            out.push('\n');
        }
    }
    if cells.is_empty() {
        out.push_str("(0 rows)\n");
    }
    if matches!(result.tag.as_str(), "INSERT" | "UPDATE" | "DELETE") {
        out.push_str(&format!("{} {}\n", result.tag, result.rows_affected));
    }
    out
}

/// The widest line of `text`, in characters.
pub fn widest_line(text: &str) -> usize {
    text.lines().map(width).max().unwrap_or(0)
}

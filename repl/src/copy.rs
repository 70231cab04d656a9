//! `\copy`: CSV in and out through the client, in batches.
//!
//! Loading reads the file a batch at a time, converts every field to its column's type
//! before anything is sent, and inserts each batch with one prepared multi-row INSERT, so
//! a batch is all or nothing: a bad line stops the copy with its line number, column and
//! reason, and nothing of its batch is stored. Saving streams the rows of a query.

use std::io::{BufRead, BufReader, IsTerminal, Write};
use std::time::{Duration, Instant};

use kvsql_protocol::{ToValue, Value};

use crate::format;
use crate::lex::{self, Kind, Open};
use crate::shell::{Shell, unquote};

/// Rows per INSERT when loading.
pub const BATCH_ROWS: usize = 1000;

/// What `\copy` was asked to do.
#[derive(Debug, PartialEq, Eq)]
struct Request {
    source: Source,
    /// FROM (load) or TO (save).
    load: bool,
    path: String,
    header: bool,
}

#[derive(Debug, PartialEq, Eq)]
enum Source {
    Table {
        name: String,
        columns: Option<Vec<String>>,
    },
    Query(String),
}

const USAGE: &str = "usage: \\copy TABLE [(COLUMNS)] FROM 'FILE' [HEADER]  or  \\copy TABLE|(SELECT ...) TO 'FILE' [HEADER]";

fn parse(arguments: &str) -> Result<Request, String> {
    let text = arguments.trim();
    let scan = lex::scan(text, Open::Nothing);
    let words: Vec<(Kind, usize, &str)> = scan
        .tokens
        .iter()
        .filter(|t| t.kind != Kind::Space)
        .map(|t| (t.kind, t.span.start, &text[t.span.clone()]))
        .collect();
    let mut at = 1;
    let source = match words.first() {
        Some((_, start, "(")) => {
            let close = lex::matching_bracket(&scan.tokens, text, *start)
                .ok_or("the query after \\copy has no closing parenthesis")?;
            at = words
                .iter()
                .position(|w| w.1 == close)
                .ok_or("unbalanced parentheses")?
                + 1;
            Source::Query(text[start + 1..close].trim().to_string())
        }
        Some((Kind::Word | Kind::Quoted, _, name)) => {
            let mut columns = None;
            if words.get(1).is_some_and(|w| w.2 == "(") {
                let close = lex::matching_bracket(&scan.tokens, text, words[1].1)
                    .ok_or("the column list has no closing parenthesis")?;
                let mut list = Vec::new();
                at = 2;
                while words.get(at).is_some_and(|w| w.1 < close) {
                    if words[at].2 != "," {
                        list.push(words[at].2.trim_matches('"').to_string());
                    }
                    at += 1;
                }
                at += 1;
                columns = Some(list);
            }
            Source::Table {
                name: name.trim_matches('"').to_string(),
                columns,
            }
        }
        _ => return Err(USAGE.into()),
    };
    let load = match words.get(at).map(|w| w.2.to_ascii_uppercase()) {
        Some(w) if w == "FROM" => true,
        Some(w) if w == "TO" => false,
        _ => return Err(USAGE.into()),
    };
    if load && matches!(source, Source::Query(_)) {
        return Err("\\copy (query) can only copy TO a file".into());
    }
    let &(kind, start, token) = words.get(at + 1).ok_or(USAGE)?;
    // The file name runs to the next blank unless quoted.
    let (path, end) = if kind == Kind::String {
        (unquote(token).replace("''", "'"), start + token.len())
    } else {
        let bare = text[start..].split_whitespace().next().unwrap_or_default();
        (bare.to_string(), start + bare.len())
    };
    let after_path = &text[end..];
    let mut header = false;
    for option in after_path.split(|c: char| c.is_whitespace() || c == ',' || c == '(' || c == ')')
    {
        match option.to_ascii_uppercase().as_str() {
            "" | "WITH" | "CSV" | "FORMAT" => {}
            "HEADER" => header = true,
            other => return Err(format!("unknown \\copy option {other}; {USAGE}")),
        }
    }
    Ok(Request {
        source,
        load,
        path,
        header,
    })
}

pub fn run(shell: &mut Shell, arguments: &str) -> bool {
    let request = match parse(arguments) {
        Ok(request) => request,
        Err(e) => {
            eprintln!("\\copy: {e}");
            return false;
        }
    };
    match (&request.source, request.load) {
        (Source::Table { name, columns }, true) => load(
            shell,
            name,
            columns.as_deref(),
            &request.path,
            request.header,
        ),
        (Source::Table { name, columns }, false) => {
            let list = columns.as_ref().map_or("*".to_string(), |c| {
                c.iter().map(|c| quote(c)).collect::<Vec<_>>().join(", ")
            });
            let query = format!("SELECT {list} FROM {}", quote(name));
            save(shell, &query, &request.path, request.header)
        }
        (Source::Query(query), _) => save(shell, query, &request.path, request.header),
    }
}

fn quote(identifier: &str) -> String {
    format!("\"{}\"", identifier.replace('"', "\"\""))
}

/// Rows per second so far, shown on standard error while copying (on a terminal).
struct Progress {
    started: Instant,
    shown: Instant,
    visible: bool,
}

impl Progress {
    fn new(quiet: bool) -> Progress {
        Progress {
            started: Instant::now(),
            shown: Instant::now(),
            visible: !quiet && std::io::stderr().is_terminal(),
        }
    }

    fn update(&mut self, rows: u64, force: bool) {
        if !self.visible || (!force && self.shown.elapsed() < Duration::from_millis(200)) {
            return;
        }
        self.shown = Instant::now();
        let seconds = self.started.elapsed().as_secs_f64().max(1e-9);
        eprint!(
            "\r\x1b[K{} rows, {} rows/s",
            thousands(rows),
            thousands((rows as f64 / seconds) as u64)
        );
        let _ = std::io::stderr().flush();
    }

    fn finish(&mut self) {
        if self.visible {
            eprint!("\r\x1b[K");
            let _ = std::io::stderr().flush();
        }
    }
}

fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A CSV field: None for an unquoted empty field (NULL).
type Field = Option<String>;

/// Reads RFC 4180 records, tracking line numbers (a quoted field may span lines).
struct CsvReader<R> {
    input: R,
    line: u64,
    buffer: String,
}

impl<R: BufRead> CsvReader<R> {
    fn new(input: R) -> Self {
        CsvReader {
            input,
            line: 0,
            buffer: String::new(),
        }
    }

    fn read_line(&mut self) -> Result<bool, String> {
        self.buffer.clear();
        let n = self
            .input
            .read_line(&mut self.buffer)
            .map_err(|e| format!("line {}: cannot read: {e}", self.line + 1))?;
        if n > 0 {
            self.line += 1;
        }
        Ok(n > 0)
    }

    /// The next record and the line it starts on; None at the end of the file.
    fn next_record(&mut self) -> Result<Option<(u64, Vec<Field>)>, String> {
        loop {
            if !self.read_line()? {
                return Ok(None);
            }
            if !self.buffer.trim_end_matches(['\n', '\r']).is_empty() {
                break;
            }
        }
        let start = self.line;
        let mut fields = Vec::new();
        let mut field = String::new();
        let mut quoted = false;
        let mut in_quotes = false;
        let mut after_quote = false;
        loop {
            let line = std::mem::take(&mut self.buffer);
            let mut chars = line.chars().peekable();
            while let Some(c) = chars.next() {
                if in_quotes {
                    if c == '"' {
                        if chars.peek() == Some(&'"') {
                            chars.next();
                            field.push('"');
                        } else {
                            in_quotes = false;
                            after_quote = true;
                        }
                    } else {
                        field.push(c);
                    }
                    continue;
                }
                match c {
                    ',' => {
                        let value = std::mem::take(&mut field);
                        fields.push((quoted || !value.is_empty()).then_some(value));
                        quoted = false;
                        after_quote = false;
                    }
                    '"' if field.is_empty() && !quoted => {
                        quoted = true;
                        in_quotes = true;
                    }
                    '\n' => {}
                    '\r' if chars.peek() == Some(&'\n') => {}
                    _ if after_quote => {
                        return Err(format!(
                            "line {}, field {}: text after a closing quote",
                            self.line,
                            fields.len() + 1
                        ));
                    }
                    '"' => {
                        return Err(format!(
                            "line {}, field {}: a quote inside an unquoted field",
                            self.line,
                            fields.len() + 1
                        ));
                    }
                    _ => field.push(c),
                }
            }
            if !in_quotes {
                break;
            }
            // A newline inside quotes: the field goes on on the next line.
            if !self.read_line()? {
                return Err(format!(
                    "line {start}: a quoted field is not closed by the end of the file"
                ));
            }
        }
        fields.push((quoted || !field.is_empty()).then_some(field));
        Ok(Some((start, fields)))
    }
}

/// Converts a field to a value of the column's type, or says why it cannot.
fn convert(field: Field, column_type: &str) -> Result<Value, String> {
    let Some(text) = field else {
        return Ok(Value::Null);
    };
    let kind = column_type.to_ascii_uppercase();
    let bad = || format!("{text:?} is not {}", article(&kind));
    Ok(if kind.starts_with("INT") {
        Value::Integer(text.trim().parse().map_err(|_| bad())?)
    } else if kind.starts_with("REAL") || kind.starts_with("FLOAT") || kind.starts_with("DOUBLE") {
        Value::Real(text.trim().parse().map_err(|_| bad())?)
    } else if kind.starts_with("BOOL") {
        match text.trim().to_ascii_lowercase().as_str() {
            "true" | "t" | "yes" | "y" | "on" | "1" => Value::Boolean(true),
            "false" | "f" | "no" | "n" | "off" | "0" => Value::Boolean(false),
            _ => return Err(bad()),
        }
    } else if kind.starts_with("BLOB") {
        match text.strip_prefix("\\x") {
            Some(hex) => Value::Blob(decode_hex(hex).ok_or_else(bad)?),
            None => Value::Blob(text.into_bytes()),
        }
    } else {
        Value::Text(text)
    })
}

fn article(kind: &str) -> String {
    if kind.starts_with(['A', 'E', 'I', 'O', 'U']) {
        format!("an {kind}")
    } else {
        format!("a {kind}")
    }
}

fn decode_hex(hex: &str) -> Option<Vec<u8>> {
    if !hex.len().is_multiple_of(2) {
        return None;
    }
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
        .collect()
}

fn insert_sql(table: &str, columns: &[String], rows: usize) -> String {
    let names: Vec<String> = columns.iter().map(|c| quote(c)).collect();
    let mut sql = format!(
        "INSERT INTO {} ({}) VALUES ",
        quote(table),
        names.join(", ")
    );
    let mut n = 0;
    for row in 0..rows {
        if row > 0 {
            sql.push_str(", ");
        }
        sql.push('(');
        for column in 0..columns.len() {
            if column > 0 {
                sql.push_str(", ");
            }
            n += 1;
            sql.push_str(&format!("${n}"));
        }
        sql.push(')');
    }
    sql
}

fn load(
    shell: &mut Shell,
    table: &str,
    columns: Option<&[String]>,
    path: &str,
    header: bool,
) -> bool {
    let file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(e) => {
            eprintln!("\\copy: cannot read {path}: {e}");
            return false;
        }
    };
    let described = shell.runtime.block_on(shell.client.columns(table));
    let described: Vec<(String, String)> = match described {
        Ok(rows) => rows
            .iter()
            .map(|r| {
                (
                    r.get::<String>("column").unwrap_or_default(),
                    r.get::<String>("type").unwrap_or_default(),
                )
            })
            .collect(),
        Err(e) => {
            eprintln!("ERROR {}: {e}", e.code());
            return false;
        }
    };
    let mut reader = CsvReader::new(BufReader::new(file));
    let mut names: Option<Vec<String>> = columns.map(<[String]>::to_vec);
    if header {
        match reader.next_record() {
            Ok(Some((_, fields))) => {
                if names.is_none() {
                    names = Some(fields.into_iter().map(Option::unwrap_or_default).collect());
                }
            }
            Ok(None) => {}
            Err(e) => {
                eprintln!("\\copy: {path}: {e}");
                return false;
            }
        }
    }
    let names = names.unwrap_or_else(|| described.iter().map(|(n, _)| n.clone()).collect());
    let mut types = Vec::new();
    for name in &names {
        match described.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)) {
            Some((_, t)) => types.push(t.clone()),
            None => {
                eprintln!("\\copy: table {table} has no column {name:?}");
                return false;
            }
        }
    }
    let full_batch = match shell
        .runtime
        .block_on(shell.client.prepare(&insert_sql(table, &names, BATCH_ROWS)))
    {
        Ok(statement) => statement,
        Err(e) => {
            eprintln!("ERROR {}: {e}", e.code());
            return false;
        }
    };
    let mut progress = Progress::new(shell.settings.quiet);
    let mut copied: u64 = 0;
    // Only a Ctrl-C pressed from now on stops the copy.
    shell.interrupted();
    let mut failure = None;
    'batches: loop {
        if shell.interrupted() {
            failure = Some("interrupted (Ctrl-C)".to_string());
            break;
        }
        let mut values: Vec<Value> = Vec::with_capacity(BATCH_ROWS * names.len());
        let mut rows = 0;
        let mut lines = (0, 0);
        while rows < BATCH_ROWS {
            let (line, fields) = match reader.next_record() {
                Ok(Some(record)) => record,
                Ok(None) => break,
                Err(e) => {
                    failure = Some(format!("{path}: {e}"));
                    break 'batches;
                }
            };
            if rows == 0 {
                lines.0 = line;
            }
            lines.1 = reader.line;
            if fields.len() != names.len() {
                failure = Some(format!(
                    "{path}: line {line}: expected {} fields, found {}",
                    names.len(),
                    fields.len()
                ));
                break 'batches;
            }
            for ((field, name), column_type) in fields.into_iter().zip(&names).zip(&types) {
                match convert(field, column_type) {
                    Ok(value) => values.push(value),
                    Err(reason) => {
                        failure = Some(format!("{path}: line {line}, column {name}: {reason}"));
                        break 'batches;
                    }
                }
            }
            rows += 1;
        }
        if rows == 0 {
            break;
        }
        let params: Vec<&(dyn ToValue + Sync)> =
            values.iter().map(|v| v as &(dyn ToValue + Sync)).collect();
        let client = shell.client.clone();
        let done = if rows == BATCH_ROWS {
            shell.runtime.block_on(client.execute(&full_batch, &params))
        } else {
            let sql = insert_sql(table, &names, rows);
            shell
                .runtime
                .block_on(client.execute(sql.as_str(), &params))
        };
        if let Err(e) = done {
            failure = Some(format!(
                "ERROR {}: {e} (in the batch of lines {}-{})",
                e.code(),
                lines.0,
                lines.1
            ));
            break;
        }
        copied += rows as u64;
        progress.update(copied, false);
        if rows < BATCH_ROWS {
            break;
        }
    }
    progress.update(copied, true);
    progress.finish();
    let client = shell.client.clone();
    let _ = shell.runtime.block_on(client.close(full_batch));
    match failure {
        None => {
            if !shell.settings.quiet {
                shell.emit(&format!("COPY {copied}\n"));
            }
            true
        }
        Some(reason) => {
            eprintln!("\\copy stopped: {reason}");
            eprintln!(
                "{copied} rows were copied before it, in whole batches of {BATCH_ROWS}; nothing of the failed batch was stored."
            );
            false
        }
    }
}

fn csv_field(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::Text(s) if s.is_empty() => "\"\"".to_string(),
        Value::Real(r) => r.to_string(),
        other => {
            let text = format::cell(other);
            if text.contains([',', '"', '\n', '\r']) || text.trim() != text {
                format!("\"{}\"", text.replace('"', "\"\""))
            } else {
                text
            }
        }
    }
}

fn save(shell: &mut Shell, query: &str, path: &str, header: bool) -> bool {
    let file = match std::fs::File::create(path) {
        Ok(file) => file,
        Err(e) => {
            eprintln!("\\copy: cannot write {path}: {e}");
            return false;
        }
    };
    let mut out = std::io::BufWriter::new(file);
    let mut progress = Progress::new(shell.settings.quiet);
    let client = shell.client.clone();
    let written: Result<u64, String> = shell.runtime.block_on(async {
        let mut rows = client
            .query_stream(query, &[])
            .await
            .map_err(|e| format!("ERROR {}: {e}", e.code()))?;
        let mut count = 0u64;
        let mut first = true;
        while let Some(row) = rows.next().await {
            let row = row.map_err(|e| format!("ERROR {}: {e}", e.code()))?;
            if first && header {
                let names: Vec<String> = rows
                    .columns()
                    .iter()
                    .map(|c| csv_field(&Value::Text(c.name.clone())))
                    .collect();
                writeln!(out, "{}", names.join(",")).map_err(|e| e.to_string())?;
            }
            first = false;
            let fields: Vec<String> = row.values().iter().map(csv_field).collect();
            writeln!(out, "{}", fields.join(",")).map_err(|e| format!("{path}: {e}"))?;
            count += 1;
            if count.is_multiple_of(1024) {
                progress.update(count, false);
            }
        }
        if first && header {
            let names: Vec<String> = rows.columns().iter().map(|c| c.name.clone()).collect();
            writeln!(out, "{}", names.join(",")).map_err(|e| e.to_string())?;
        }
        out.flush().map_err(|e| format!("{path}: {e}"))?;
        Ok(count)
    });
    progress.finish();
    match written {
        Ok(count) => {
            if !shell.settings.quiet {
                shell.emit(&format!("COPY {count}\n"));
            }
            true
        }
        Err(e) => {
            eprintln!("\\copy stopped: {e}");
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_copy_arguments() {
        assert_eq!(
            parse("people FROM 'in file.csv' HEADER").unwrap(),
            Request {
                source: Source::Table {
                    name: "people".into(),
                    columns: None
                },
                load: true,
                path: "in file.csv".into(),
                header: true,
            }
        );
        assert_eq!(
            parse("t (a, b) from /tmp/x.csv").unwrap().source,
            Source::Table {
                name: "t".into(),
                columns: Some(vec!["a".into(), "b".into()])
            }
        );
        let query =
            parse("(SELECT a, (b) FROM t WHERE c = ')') TO 'out.csv' WITH (FORMAT csv, HEADER)")
                .unwrap();
        assert_eq!(
            query.source,
            Source::Query("SELECT a, (b) FROM t WHERE c = ')'".into())
        );
        assert!(query.header && !query.load);
        assert!(parse("(SELECT 1) FROM 'x'").is_err());
        assert!(parse("t INTO 'x'").is_err());
        assert!(parse("t FROM 'x' SIDEWAYS").is_err());
    }

    #[test]
    fn reads_csv_with_quotes_nulls_and_line_numbers() {
        let text = "1,plain,\n2,\"with, comma\",\"\"\n\n3,\"two\nlines\",\"say \"\"hi\"\"\"\r\n";
        let mut reader = CsvReader::new(text.as_bytes());
        let s = |v: &str| Some(v.to_string());
        assert_eq!(
            reader.next_record().unwrap(),
            Some((1, vec![s("1"), s("plain"), None]))
        );
        assert_eq!(
            reader.next_record().unwrap(),
            Some((2, vec![s("2"), s("with, comma"), s("")]))
        );
        assert_eq!(
            reader.next_record().unwrap(),
            Some((4, vec![s("3"), s("two\nlines"), s("say \"hi\"")]))
        );
        assert_eq!(reader.next_record().unwrap(), None);
        let mut bad = CsvReader::new("1,\"open\n".as_bytes());
        assert!(bad.next_record().unwrap_err().contains("not closed"));
        let mut bad = CsvReader::new("ok\n1,\"a\"b\n".as_bytes());
        bad.next_record().unwrap();
        assert!(
            bad.next_record()
                .unwrap_err()
                .starts_with("line 2, field 2")
        );
    }

    #[test]
    fn converts_fields_to_column_types() {
        assert_eq!(
            convert(Some(" 42".into()), "INTEGER"),
            Ok(Value::Integer(42))
        );
        assert_eq!(convert(None, "INTEGER"), Ok(Value::Null));
        assert_eq!(
            convert(Some("x".into()), "INTEGER"),
            Err("\"x\" is not an INTEGER".into())
        );
        assert_eq!(
            convert(Some("t".into()), "BOOLEAN"),
            Ok(Value::Boolean(true))
        );
        assert_eq!(
            convert(Some("\\x0aff".into()), "BLOB"),
            Ok(Value::Blob(vec![10, 255]))
        );
        assert_eq!(
            convert(Some("".into()), "TEXT"),
            Ok(Value::Text(String::new()))
        );
        assert_eq!(
            insert_sql("t", &["a".into(), "b".into()], 2),
            "INSERT INTO \"t\" (\"a\", \"b\") VALUES ($1, $2), ($3, $4)"
        );
        assert_eq!(thousands(1234567), "1,234,567");
    }

    #[test]
    fn saved_fields_read_back_the_same() {
        let values = [
            Value::Null,
            Value::Text(String::new()),
            Value::Text("a,\"b\"\nc".into()),
            Value::Real(0.1),
            Value::Integer(-3),
        ];
        let line: Vec<String> = values.iter().map(csv_field).collect();
        let text = format!("{}\n", line.join(","));
        let (_, fields) = CsvReader::new(text.as_bytes())
            .next_record()
            .unwrap()
            .unwrap();
        let types = ["TEXT", "TEXT", "TEXT", "REAL", "INTEGER"];
        let back: Vec<Value> = fields
            .into_iter()
            .zip(types)
            .map(|(f, t)| convert(f, t).unwrap())
            .collect();
        assert_eq!(back, values);
    }
}

//! A shell session: a connection, settings and variables; runs statements and meta
//! commands and prints what they return.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use kvsql_protocol::{Client, Error, QueryResult};
use tokio::signal::unix::{Signal, SignalKind, signal};

use crate::format::{self, Format};
use crate::helper::Shared;
use crate::{lex, split};

/// Whether to go on after a failed statement.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum OnError {
    Stop,
    Continue,
}

/// Expanded display (`\x`): one field per line.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Expanded {
    Off,
    On,
    /// Only for results wider than the terminal.
    Auto,
}

/// How the shell prints results.
pub struct Settings {
    pub timing: bool,
    pub format: Format,
    pub expanded: Expanded,
    pub pager: bool,
    /// No banner, no command tags, no confirmations of settings.
    pub quiet: bool,
    pub on_error: OnError,
}

/// What a meta command asks of the session.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Meta {
    Quit,
    /// It ran (true: without error).
    Done(bool),
}

pub const HELP: &str = "\
Statements end with ';' (outside strings and comments) and may span lines.
  CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT NOT NULL, score REAL DEFAULT 0);
  INSERT INTO t VALUES (1, 'ann', 2.5), (2, 'bob', 1.0);
  SELECT name, score * 2 FROM t WHERE id >= 1 ORDER BY score DESC LIMIT 10;
  UPDATE t SET score = score + 1 WHERE id = 2;   DELETE FROM t WHERE id = 1;
  SHOW TABLES;   DESCRIBE t;   EXPLAIN SELECT * FROM t WHERE id = 1;
  BEGIN;  ...;  COMMIT;   (or ROLLBACK;)
Meta commands:
  \\help, \\?               show this help
  \\q                      quit (Ctrl-D works too)
  \\dt                     list tables
  \\d NAME                 describe a table (columns, types, keys, indexes)
  \\di [TABLE]             list indexes (of a table, or all)
  \\timing [on|off]        show how long each statement takes
  \\x [on|off|auto]        expanded display: one field per line (auto: when too wide)
  \\format FORMAT          print results as table, csv, json or markdown
  \\pager [on|off]         page results taller than the terminal ($PAGER, or less -FRSX)
  \\o [FILE]               send results to FILE (truncated); \\o alone: back to the screen
  \\i FILE                 run the statements and meta commands in FILE
  \\c HOST:PORT            connect to another server (the old session ends)
  \\conninfo               show the connection
  \\set [NAME [VALUE]]     set a variable, used as :NAME, :'NAME' (string) or :\"NAME\";
                          \\set alone lists them
  \\unset NAME             remove a variable
  \\copy TABLE [(COLS)] FROM 'FILE' [HEADER]
                          load CSV in batches of 1,000 rows, each all or nothing
  \\copy TABLE|(SELECT ...) TO 'FILE' [HEADER]
                          save rows as CSV
Keys: Tab completes keywords, tables and columns; Ctrl-C clears the input or cancels
the running statement; Ctrl-R searches history; Ctrl-D quits.";

/// A user name and password, for servers that require a login.
#[derive(Clone)]
pub struct Login {
    pub user: String,
    pub password: String,
}

/// Connects to `address` (HOST:PORT), over TLS when `tls_ca` names the CA file to trust,
/// logging in when `login` is given.
pub fn connect(
    runtime: &tokio::runtime::Runtime,
    address: &str,
    login: Option<&Login>,
    tls_ca: Option<&PathBuf>,
) -> Result<Client, Error> {
    let (host, port) = address
        .rsplit_once(':')
        .and_then(|(host, port)| Some((host, port.parse().ok()?)))
        .ok_or_else(|| Error::InvalidConfig(format!("{address:?} is not HOST:PORT")))?;
    let config = kvsql_protocol::Config {
        host: host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string(),
        port,
        user: login.map(|l| l.user.clone()),
        password: login.map(|l| l.password.clone()),
        client_name: concat!("kvsql ", env!("CARGO_PKG_VERSION")).into(),
        tls_ca: tls_ca.cloned(),
        ..Default::default()
    };
    runtime.block_on(config.connect())
}

pub struct Shell {
    /// For reconnecting (\c).
    pub login: Option<Login>,
    pub tls_ca: Option<PathBuf>,
    pub runtime: tokio::runtime::Runtime,
    pub client: Client,
    pub address: String,
    pub settings: Settings,
    pub vars: BTreeMap<String, String>,
    /// Where results go (`\o`), when not to standard output.
    output: Option<(PathBuf, std::fs::File)>,
    /// Shared with the line editor (catalog for completion).
    pub shared: Arc<Mutex<Shared>>,
    /// Ctrl-C, caught while a statement runs (interactive sessions only).
    interrupts: Option<Signal>,
}

impl Shell {
    pub fn new(
        runtime: tokio::runtime::Runtime,
        client: Client,
        address: String,
        settings: Settings,
    ) -> Shell {
        Shell {
            login: None,
            tls_ca: None,
            runtime,
            client,
            address,
            settings,
            vars: BTreeMap::new(),
            output: None,
            shared: Arc::new(Mutex::new(Shared::default())),
            interrupts: None,
        }
    }

    /// From now on Ctrl-C cancels the running statement instead of ending the process.
    pub fn catch_interrupts(&mut self) {
        let _guard = self.runtime.enter();
        match signal(SignalKind::interrupt()) {
            Ok(sigint) => self.interrupts = Some(sigint),
            Err(e) => eprintln!("kvsql: Ctrl-C will not cancel statements: {e}"),
        }
    }

    /// Whether Ctrl-C was pressed since the last statement began (for long jobs such
    /// as \copy, which check between batches).
    pub fn interrupted(&mut self) -> bool {
        let Some(sigint) = self.interrupts.as_mut() else {
            return false;
        };
        let waker = std::task::Waker::noop();
        let mut cx = std::task::Context::from_waker(waker);
        let mut any = false;
        while sigint.poll_recv(&mut cx).is_ready() {
            any = true;
        }
        any
    }

    pub fn interactive(&self) -> bool {
        self.interrupts.is_some()
    }

    /// Sends `sql` and waits for its results; Ctrl-C meanwhile asks the server to cancel
    /// it (the statement then fails with 57014 and the session goes on).
    pub fn query(&mut self, sql: &str) -> Result<Vec<QueryResult>, Error> {
        let client = self.client.clone();
        let Some(sigint) = self.interrupts.as_mut() else {
            return self.runtime.block_on(client.simple_query(sql));
        };
        self.runtime.block_on(async move {
            let query = client.simple_query(sql);
            tokio::pin!(query);
            // The query goes first, so its request is queued before any cancel.
            tokio::select! {
                biased;
                answer = &mut query => return answer,
                _ = sigint.recv() => eprintln!("Cancel request sent."),
            }
            // A cancel only reaches a statement the server has started, so repeat it
            // until the statement ends (more Ctrl-C presses send more).
            loop {
                let cancel = client.clone();
                tokio::spawn(async move { cancel.cancel_request(0).await });
                tokio::select! {
                    biased;
                    answer = &mut query => return answer,
                    _ = sigint.recv() => {}
                    _ = tokio::time::sleep(std::time::Duration::from_millis(500)) => {}
                }
            }
        })
    }

    /// Forgets Ctrl-C presses made while no statement ran (in the pager, say), so that
    /// they do not cancel the next one.
    pub fn forget_interrupts(&mut self) {
        self.interrupted();
    }

    /// Prints results: to the `\o` file, or to standard output through the pager when
    /// taller than the terminal.
    pub fn emit(&mut self, text: &str) {
        if text.is_empty() {
            return;
        }
        if let Some((path, file)) = &mut self.output {
            if let Err(e) = file.write_all(text.as_bytes()) {
                eprintln!("kvsql: cannot write to {}: {e}", path.display());
            }
            return;
        }
        if self.interactive() && self.settings.pager && page(text) {
            return;
        }
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(text.as_bytes());
        let _ = out.flush();
    }

    /// Prints a confirmation or listing (not a result), unless quiet.
    fn say(&self, text: &str) {
        if !self.settings.quiet {
            println!("{text}");
        }
    }

    fn render(&self, result: &QueryResult) -> String {
        if self.settings.quiet && result.columns.is_empty() {
            return String::new();
        }
        if self.settings.format != Format::Table {
            return format::render_as(result, self.settings.format);
        }
        match self.settings.expanded {
            Expanded::On => format::render_expanded(result),
            Expanded::Off => format::render(result),
            Expanded::Auto => {
                let table = format::render(result);
                let columns = terminal_size().map_or(80, |(_, columns)| columns);
                if !result.columns.is_empty() && format::widest_line(&table) > columns {
                    format::render_expanded(result)
                } else {
                    table
                }
            }
        }
    }

    /// Runs every statement in `input` (whose first line is line `first_line` of what
    /// the user gave), printing results; returns false if any failed. Stopping at
    /// errors, a syntax error in any statement means none runs; going on (--no-bail),
    /// a statement with a syntax error fails alone.
    pub fn run_sql(&mut self, input: &str, first_line: u64) -> bool {
        let vars = &self.vars;
        let input = lex::substitute(input, |name| vars.get(name).cloned());
        let go_on = self.settings.on_error != OnError::Stop;
        let cut = if go_on {
            split::pieces(&input)
        } else {
            split::split(&input)
        };
        let statements = match cut {
            Ok(statements) => statements,
            Err(mut e) => {
                e.line += first_line - 1;
                eprintln!("ERROR 42601: {e}");
                return false;
            }
        };
        let mut ok = true;
        for mut statement in statements {
            if go_on && let Err(mut e) = split::check(&statement) {
                e.line += first_line - 1;
                let _ = std::io::stdout().flush();
                eprintln!("ERROR 42601: {e}");
                ok = false;
                continue;
            }
            statement.line += first_line - 1;
            let started = std::time::Instant::now();
            let answer = self.query(&statement.text);
            let elapsed = started.elapsed();
            match answer {
                Ok(results) => {
                    let mut ddl = false;
                    for result in &results {
                        ddl |= ["CREATE", "DROP", "ALTER"]
                            .iter()
                            .any(|verb| result.tag.starts_with(verb));
                        let text = self.render(result);
                        self.emit(&text);
                    }
                    if self.settings.timing {
                        let text = format!("Time: {:.3} ms\n", elapsed.as_secs_f64() * 1000.0);
                        self.emit(&text);
                    }
                    if ddl {
                        self.refresh_catalog();
                    }
                }
                Err(e) => {
                    let _ = std::io::stdout().flush();
                    print_error(&e, &statement);
                    ok = false;
                    if self.settings.on_error == OnError::Stop {
                        break;
                    }
                }
            }
        }
        ok
    }

    /// Runs a script: SQL statements, and meta commands on lines of their own. Stopping
    /// at errors (the default), the SQL of the whole script is checked first, so a
    /// syntax error anywhere means nothing runs (except where `:variables` make the
    /// text known only as it runs); going on (--no-bail), each statement is checked
    /// as it comes, and one with a syntax error fails alone.
    pub fn run_script(&mut self, script: &str) -> bool {
        let items = script_items(script);
        for item in &items {
            if self.settings.on_error == OnError::Stop
                && let Item::Sql { text, first_line } = item
                && !text.contains(':')
                && let Err(mut e) = split::split(text)
            {
                e.line += first_line - 1;
                eprintln!("ERROR 42601: {e}");
                return false;
            }
        }
        let mut ok = true;
        for item in items {
            let done = match item {
                Item::Sql { text, first_line } => self.run_sql(&text, first_line),
                Item::Meta(command) => match self.meta(&command) {
                    Meta::Quit => return ok,
                    Meta::Done(done) => done,
                },
            };
            ok &= done;
            if !done && self.settings.on_error == OnError::Stop {
                break;
            }
        }
        ok
    }

    /// Fetches tables and their columns for completion.
    pub fn refresh_catalog(&mut self) {
        if !self.interactive() {
            return;
        }
        let client = self.client.clone();
        let fetched = self.runtime.block_on(async move {
            let mut tables = BTreeMap::new();
            for table in client.tables().await? {
                let columns = client
                    .columns(&table)
                    .await?
                    .iter()
                    .filter_map(|row| row.get::<String>("column").ok())
                    .collect();
                tables.insert(table, columns);
            }
            Ok::<_, Error>(tables)
        });
        if let Ok(tables) = fetched {
            self.shared
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .catalog
                .tables = tables;
        }
    }

    /// Runs a meta command (the text after the backslash).
    pub fn meta(&mut self, command: &str) -> Meta {
        let command = command.trim();
        let (name, rest) = command
            .split_once(char::is_whitespace)
            .map_or((command, ""), |(name, rest)| (name, rest.trim()));
        let argument = (!rest.is_empty()).then_some(rest);
        Meta::Done(match (name, argument) {
            ("q" | "quit", _) => return Meta::Quit,
            ("help" | "?" | "h", _) => {
                println!("{HELP}");
                true
            }
            ("dt", _) | ("d", None) => self.run_sql("SHOW TABLES", 1),
            ("d", Some(table)) => {
                let sql = format!("DESCRIBE {table}");
                self.run_sql(&sql, 1) && self.print_indexes(table, false)
            }
            ("di", table) => self.print_indexes(table.unwrap_or(""), true),
            ("format", Some(name)) => match <Format as clap::ValueEnum>::from_str(name, true) {
                Ok(format) => {
                    self.settings.format = format;
                    self.say(&format!("Output format is {name}."));
                    true
                }
                Err(_) => {
                    eprintln!("\\format takes table, csv, json or markdown, not {name}");
                    false
                }
            },
            ("format", None) => {
                let name = format!("{:?}", self.settings.format).to_lowercase();
                println!("Output format is {name}.");
                true
            }
            ("timing", setting) => match on_off(setting, self.settings.timing, "timing") {
                Some(timing) => {
                    self.settings.timing = timing;
                    self.say(&format!("Timing is {}.", if timing { "on" } else { "off" }));
                    true
                }
                None => false,
            },
            ("pager", setting) => match on_off(setting, self.settings.pager, "pager") {
                Some(pager) => {
                    self.settings.pager = pager;
                    self.say(&format!(
                        "Pager is {}.",
                        if pager { "used for long output" } else { "off" }
                    ));
                    true
                }
                None => false,
            },
            ("x", setting) => {
                let expanded = match setting {
                    Some("auto") => Expanded::Auto,
                    Some("on") => Expanded::On,
                    Some("off") => Expanded::Off,
                    None if self.settings.expanded == Expanded::Off => Expanded::On,
                    None => Expanded::Off,
                    Some(other) => {
                        eprintln!("\\x takes on, off or auto, not {other}");
                        return Meta::Done(false);
                    }
                };
                self.settings.expanded = expanded;
                self.say(&format!(
                    "Expanded display is {}.",
                    match expanded {
                        Expanded::On => "on",
                        Expanded::Off => "off",
                        Expanded::Auto => "used automatically",
                    }
                ));
                true
            }
            ("o" | "out", target) => self.redirect(target),
            ("i" | "include", Some(path)) => match std::fs::read_to_string(unquote(path)) {
                Ok(script) => self.run_script(&script),
                Err(e) => {
                    eprintln!("kvsql: cannot read {path}: {e}");
                    false
                }
            },
            ("c" | "connect", Some(target)) => self.reconnect(target),
            ("conninfo", _) => {
                let info = self.client.server_info();
                println!(
                    "Connected to {} as session {} (server {}, protocol {}.{}).",
                    self.address, info.session_id, info.server_version, info.major, info.minor
                );
                true
            }
            ("set", None) => {
                for (name, value) in &self.vars {
                    println!("{name} = '{value}'");
                }
                true
            }
            ("set", Some(assignment)) => {
                let (name, value) = assignment
                    .split_once(char::is_whitespace)
                    .map_or((assignment, ""), |(n, v)| (n, v.trim()));
                if !valid_variable(name) {
                    eprintln!("\\set: invalid variable name {name}: use letters, digits and _");
                    return Meta::Done(false);
                }
                // 'quoted' values may hold blanks, and '' stands for one quote.
                let value = if value.starts_with('\'') && value.len() >= 2 {
                    unquote(value).replace("''", "'")
                } else {
                    value.to_string()
                };
                self.vars.insert(name.to_string(), value);
                true
            }
            ("unset", Some(name)) => {
                if self.vars.remove(name).is_none() {
                    eprintln!("\\unset: no variable {name}");
                    return Meta::Done(false);
                }
                true
            }
            ("copy", Some(arguments)) => crate::copy::run(self, arguments),
            ("i" | "include" | "c" | "connect" | "unset" | "copy", None) => {
                eprintln!("\\{name} needs an argument; see \\help");
                false
            }
            (other, _) => {
                eprintln!("unknown command \\{other}; try \\help");
                false
            }
        })
    }

    fn redirect(&mut self, target: Option<&str>) -> bool {
        let Some(path) = target else {
            self.output = None;
            return true;
        };
        let path = PathBuf::from(unquote(path));
        match std::fs::File::create(&path) {
            Ok(file) => {
                self.output = Some((path, file));
                true
            }
            Err(e) => {
                eprintln!("kvsql: cannot write to {}: {e}", path.display());
                false
            }
        }
    }

    fn reconnect(&mut self, target: &str) -> bool {
        let address = match target.rsplit_once(':') {
            Some(("", port)) => format!("127.0.0.1:{port}"),
            Some(_) => target.to_string(),
            None => format!("{target}:{}", kvsql_protocol::DEFAULT_PORT),
        };
        let connected = connect(
            &self.runtime,
            &address,
            self.login.as_ref(),
            self.tls_ca.as_ref(),
        );
        match connected {
            Ok(client) => {
                self.client = client;
                self.address = address;
                let info = self.client.server_info();
                self.say(&format!(
                    "Connected to {} (server {}, session {}).",
                    self.address, info.server_version, info.session_id
                ));
                self.refresh_catalog();
                true
            }
            Err(e) => {
                eprintln!(
                    "kvsql: cannot connect to {address}: {e}; still connected to {}",
                    self.address
                );
                false
            }
        }
    }

    /// Lists indexes (of one table, or all), from the server's catalog: as psql's \d does
    /// under a table's columns, or as a table of their own for \di.
    fn print_indexes(&mut self, table: &str, listing: bool) -> bool {
        let rows = match self.runtime.block_on(self.client.indexes(table)) {
            Ok(rows) => rows,
            Err(e) => {
                eprintln!("ERROR {}: {e}", e.code());
                return false;
            }
        };
        let field =
            |row: &kvsql_protocol::Row, name: &str| row.get::<String>(name).unwrap_or_default();
        let mut text = String::new();
        if listing {
            if rows.is_empty() {
                text.push_str("No indexes.\n");
            }
            for row in &rows {
                let unique = row.get::<bool>("unique").unwrap_or(false);
                text.push_str(&format!(
                    "{} on {} ({}){}\n",
                    field(row, "index"),
                    field(row, "table"),
                    field(row, "columns"),
                    if unique { " UNIQUE" } else { "" }
                ));
            }
        } else if !rows.is_empty() {
            text.push_str("Indexes:\n");
            for row in &rows {
                let unique = row.get::<bool>("unique").unwrap_or(false);
                text.push_str(&format!(
                    "    \"{}\" {}({})\n",
                    field(row, "index"),
                    if unique { "UNIQUE " } else { "" },
                    field(row, "columns")
                ));
            }
        }
        self.emit(&text);
        true
    }
}

fn on_off(setting: Option<&str>, current: bool, command: &str) -> Option<bool> {
    match setting {
        None => Some(!current),
        Some("on") => Some(true),
        Some("off") => Some(false),
        Some(other) => {
            eprintln!("\\{command} takes on or off, not {other}");
            None
        }
    }
}

fn valid_variable(name: &str) -> bool {
    !name.is_empty() && name.chars().all(|c| c.is_alphanumeric() || c == '_')
}

/// A file name or value as typed: 'quoted' or bare.
pub fn unquote(text: &str) -> &str {
    let text = text.trim();
    text.strip_prefix('\'')
        .and_then(|t| t.strip_suffix('\''))
        .unwrap_or(text)
}

/// One piece of a script.
#[derive(Debug, PartialEq, Eq)]
enum Item {
    /// SQL text, starting at line `first_line` of the script.
    Sql { text: String, first_line: u64 },
    /// A meta command (a line starting with a backslash outside any statement).
    Meta(String),
}

fn script_items(script: &str) -> Vec<Item> {
    let mut items = Vec::new();
    let mut sql = String::new();
    let mut first_line = 1;
    for (n, line) in script.split_inclusive('\n').enumerate() {
        let n = n as u64 + 1;
        let statement_open = !sql.trim().is_empty() && !split::is_complete(&sql);
        if !statement_open && line.trim_start().starts_with('\\') {
            if !sql.trim().is_empty() {
                items.push(Item::Sql {
                    text: std::mem::take(&mut sql),
                    first_line,
                });
            }
            sql.clear();
            let command = line.trim_start()[1..].trim_end();
            items.push(Item::Meta(command.to_string()));
            continue;
        }
        if sql.trim().is_empty() {
            sql.clear();
            first_line = n;
        }
        sql.push_str(line);
    }
    if !sql.trim().is_empty() {
        items.push(Item::Sql {
            text: sql,
            first_line,
        });
    }
    items
}

pub fn print_error(e: &Error, statement: &split::Statement) {
    match e {
        Error::Server {
            code,
            message,
            position,
            ..
        } => {
            let at = match position {
                // Positions are relative to the statement; show them in the input.
                Some((1, column)) => format!(
                    " (at line {}, column {})",
                    statement.line,
                    statement.column + u64::from(*column) - 1
                ),
                Some((line, column)) => {
                    format!(
                        " (at line {}, column {column})",
                        statement.line + u64::from(*line) - 1
                    )
                }
                None => String::new(),
            };
            eprintln!("ERROR {code}: {message}{at}");
        }
        other => eprintln!("ERROR {}: {other}", other.code()),
    }
}

/// The terminal's (rows, columns), when standard output is one (or LINES says).
pub fn terminal_size() -> Option<(usize, usize)> {
    let from_env = |name: &str| std::env::var(name).ok().and_then(|v| v.parse().ok());
    let size = rustix::termios::tcgetwinsize(std::io::stdout()).ok();
    let rows = size
        .map(|s| usize::from(s.ws_row))
        .filter(|&rows| rows > 0)
        .or_else(|| from_env("LINES"));
    let columns = size
        .map(|s| usize::from(s.ws_col))
        .filter(|&columns| columns > 0)
        .or_else(|| from_env("COLUMNS"));
    Some((rows?, columns.unwrap_or(80)))
}

/// Shows `text` through the pager when it is taller than the terminal; false when it
/// did not (short text, no terminal, no pager), so the caller prints it.
fn page(text: &str) -> bool {
    if !std::io::stdout().is_terminal() {
        return false;
    }
    let Some((rows, _)) = terminal_size() else {
        return false;
    };
    if text.lines().count() < rows {
        return false;
    }
    let pager = std::env::var("PAGER").unwrap_or_else(|_| "less -FRSX".to_string());
    if pager.trim().is_empty() {
        return false;
    }
    let child = std::process::Command::new("sh")
        .arg("-c")
        .arg(&pager)
        .stdin(std::process::Stdio::piped())
        .spawn();
    let Ok(mut child) = child else {
        return false;
    };
    if let Some(mut stdin) = child.stdin.take() {
        // The pager may quit before reading everything (q in less): not an error.
        let _ = stdin.write_all(text.as_bytes());
    }
    match child.wait() {
        // 127: the shell found no such pager.
        Ok(status) if status.code() == Some(127) => false,
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_split_into_sql_and_meta_commands() {
        let items =
            script_items("\\set id 3\nSELECT :id;\nSELECT '\n\\not meta';\n\n\\x on\nSELECT 1\n");
        assert_eq!(
            items,
            vec![
                Item::Meta("set id 3".into()),
                Item::Sql {
                    text: "SELECT :id;\nSELECT '\n\\not meta';\n\n".into(),
                    first_line: 2
                },
                Item::Meta("x on".into()),
                Item::Sql {
                    text: "SELECT 1\n".into(),
                    first_line: 7
                },
            ]
        );
    }

    #[test]
    fn values_and_file_names_may_be_quoted() {
        assert_eq!(unquote(" 'a b' "), "a b");
        assert_eq!(unquote("plain"), "plain");
        assert!(valid_variable("id_2"));
        assert!(!valid_variable("a-b"));
    }
}

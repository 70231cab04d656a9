//! `kvsql`: the interactive SQL shell for kvsql servers.

mod format;
mod split;

use std::io::{IsTerminal, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use kvsql_protocol::{Client, DEFAULT_PORT};
use rustyline::error::ReadlineError;
use rustyline::history::FileHistory;
use rustyline::validate::{ValidationContext, ValidationResult, Validator};
use rustyline::{Completer, Editor, Helper, Highlighter, Hinter};

/// kvsql, the SQL shell for kvsql servers.
///
/// Interactive when standard input is a terminal: type SQL statements ending in `;`
/// (they may span lines), or meta commands such as \help and \q. With -c (SQL or a meta
/// command such as '\d t'), -f FILE, or with
/// statements piped on standard input, it runs them and exits; the exit status is
/// non-zero if a statement fails, and (unless --no-bail) nothing after it runs.
#[derive(Parser, Debug)]
#[command(name = "kvsql", version, about, long_about)]
struct Args {
    /// Server host.
    #[arg(long, short = 'H', default_value = "127.0.0.1", env = "KVSQL_HOST")]
    host: String,

    /// Server port.
    #[arg(long, short = 'p', default_value_t = DEFAULT_PORT, env = "KVSQL_PORT")]
    port: u16,

    /// Run these SQL statements and exit (may be given several times).
    #[arg(long, short = 'c', value_name = "SQL")]
    command: Vec<String>,

    /// How to print results.
    #[arg(long, value_enum, default_value_t = format::Format::Table)]
    format: format::Format,

    /// Run the statements in this file and exit (may be given several times; after -c).
    #[arg(long, short = 'f', value_name = "FILE")]
    file: Vec<PathBuf>,

    /// In scripts (-c, -f, standard input): go on after a failing statement instead of
    /// stopping at it; the exit status is still 1 if any statement failed.
    #[arg(long)]
    no_bail: bool,

    /// History file for interactive sessions (default: ~/.kvsql_history).
    #[arg(long, env = "KVSQL_HISTORY")]
    history_file: Option<PathBuf>,
}

const HELP: &str = "\
Statements end with ';' (outside strings and comments) and may span lines.
  CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT NOT NULL, score REAL DEFAULT 0);
  INSERT INTO t VALUES (1, 'ann', 2.5), (2, 'bob', 1.0);
  SELECT name, score * 2 FROM t WHERE id >= 1 ORDER BY score DESC LIMIT 10;
  UPDATE t SET score = score + 1 WHERE id = 2;   DELETE FROM t WHERE id = 1;
  SHOW TABLES;   DESCRIBE t;   EXPLAIN SELECT * FROM t WHERE id = 1;
  BEGIN;  ...;  COMMIT;   (or ROLLBACK;)
Meta commands:
  \\help, \\?         show this help
  \\dt               list tables
  \\d NAME           describe a table (columns, types, keys, indexes)
  \\di [TABLE]       list indexes (of a table, or all)
  \\timing [on|off]  show how long each statement takes
  \\format FORMAT    print results as table, csv, json or markdown
  \\q                quit (Ctrl-D works too)
Ctrl-C clears the current input.";

#[derive(Completer, Helper, Highlighter, Hinter)]
struct SqlHelper;

impl Validator for SqlHelper {
    fn validate(&self, ctx: &mut ValidationContext) -> rustyline::Result<ValidationResult> {
        Ok(if split::is_complete(ctx.input()) {
            ValidationResult::Valid(None)
        } else {
            ValidationResult::Incomplete
        })
    }
}

/// Whether to go on after a failed statement.
#[derive(Clone, Copy, PartialEq, Eq)]
enum OnError {
    Stop,
    Continue,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("kvsql: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    let address = format!("{}:{}", args.host, args.port);
    let client = match runtime.block_on(Client::connect_as(
        address.as_str(),
        concat!("kvsql ", env!("CARGO_PKG_VERSION")),
    )) {
        Ok(client) => client,
        Err(e) => {
            eprintln!("kvsql: cannot connect to {address}: {e}");
            eprintln!(
                "Is kvsql-server running there? Start one with: kvsql-server --listen {address}"
            );
            return ExitCode::FAILURE;
        }
    };

    let on_error = if args.no_bail {
        OnError::Continue
    } else {
        OnError::Stop
    };
    let mut settings = Settings {
        timing: false,
        format: args.format,
    };
    let ok = if !args.command.is_empty() || !args.file.is_empty() {
        // -c commands, then -f files, in order; with --no-bail every one runs and the
        // status says whether all succeeded.
        let mut ok = true;
        for sql in &args.command {
            let done = match sql.trim().strip_prefix('\\') {
                Some(command) => {
                    meta(&runtime, &client, command, &mut settings) != Meta::Done(false)
                }
                None => run_input(&runtime, &client, sql, on_error, settings),
            };
            ok &= done;
            if !done && on_error == OnError::Stop {
                break;
            }
        }
        for path in &args.file {
            if !ok && on_error == OnError::Stop {
                break;
            }
            match std::fs::read_to_string(path) {
                Ok(script) => ok &= run_input(&runtime, &client, &script, on_error, settings),
                Err(e) => {
                    eprintln!("kvsql: cannot read {}: {e}", path.display());
                    ok = false;
                }
            }
        }
        ok
    } else if std::io::stdin().is_terminal() {
        interactive(&runtime, &client, &address, args.history_file, args.format)
    } else {
        let mut input = String::new();
        match std::io::stdin().read_to_string(&mut input) {
            Ok(_) => run_input(&runtime, &client, &input, on_error, settings),
            Err(e) => {
                eprintln!("kvsql: cannot read standard input: {e}");
                false
            }
        }
    };
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Runs every statement in `input`, printing results; returns false if any failed.
fn run_input(
    runtime: &tokio::runtime::Runtime,
    client: &Client,
    input: &str,
    on_error: OnError,
    settings: Settings,
) -> bool {
    let Settings { timing, format } = settings;
    let statements = match split::split(input) {
        Ok(statements) => statements,
        Err(e) => {
            eprintln!("ERROR 42601: {e}");
            return false;
        }
    };
    let mut ok = true;
    let mut out = std::io::stdout().lock();
    for statement in statements {
        let started = std::time::Instant::now();
        let answer = runtime.block_on(client.simple_query(&statement.text));
        let elapsed = started.elapsed();
        match answer {
            Ok(results) => {
                for result in &results {
                    let _ = out.write_all(format::render_as(result, format).as_bytes());
                }
                if timing {
                    let _ = writeln!(out, "Time: {:.3} ms", elapsed.as_secs_f64() * 1000.0);
                }
            }
            Err(e) => {
                let _ = out.flush();
                print_error(&e, &statement);
                ok = false;
                if on_error == OnError::Stop {
                    break;
                }
            }
        }
    }
    let _ = out.flush();
    ok
}

fn print_error(e: &kvsql_protocol::Error, statement: &split::Statement) {
    match e {
        kvsql_protocol::Error::Server {
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

/// How the shell prints results.
#[derive(Clone, Copy)]
struct Settings {
    timing: bool,
    format: format::Format,
}

/// What a meta command asks of the session.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Meta {
    Quit,
    /// It ran (true: without error).
    Done(bool),
}

/// Runs a meta command (the text after the backslash).
fn meta(
    runtime: &tokio::runtime::Runtime,
    client: &Client,
    command: &str,
    settings: &mut Settings,
) -> Meta {
    let mut words = command.split_whitespace();
    Meta::Done(match (words.next().unwrap_or(""), words.next()) {
        ("q" | "quit", _) => return Meta::Quit,
        ("help" | "?" | "h", _) => {
            println!("{HELP}");
            true
        }
        ("dt", _) | ("d", None) => {
            run_input(runtime, client, "SHOW TABLES", OnError::Continue, *settings)
        }
        ("d", Some(name)) => {
            let sql = format!("DESCRIBE {name}");
            run_input(runtime, client, &sql, OnError::Continue, *settings)
                && print_indexes(runtime, client, name, false)
        }
        ("di", name) => print_indexes(runtime, client, name.unwrap_or(""), true),
        ("format", Some(name)) => match <format::Format as clap::ValueEnum>::from_str(name, true) {
            Ok(format) => {
                settings.format = format;
                println!("Output format is {name}.");
                true
            }
            Err(_) => {
                eprintln!("\\format takes table, csv, json or markdown, not {name}");
                false
            }
        },
        ("timing", setting) => {
            let timing = &mut settings.timing;
            *timing = match setting {
                None => !*timing,
                Some("on") => true,
                Some("off") => false,
                Some(other) => {
                    eprintln!("\\timing takes on or off, not {other}");
                    return Meta::Done(false);
                }
            };
            println!("Timing is {}.", if *timing { "on" } else { "off" });
            true
        }
        (other, _) => {
            eprintln!("unknown command \\{other}; try \\help");
            false
        }
    })
}

/// Lists indexes (of one table, or all), from the server's catalog: as psql's \d does
/// under a table's columns, or as a table of their own for \di.
fn print_indexes(
    runtime: &tokio::runtime::Runtime,
    client: &Client,
    table: &str,
    listing: bool,
) -> bool {
    let rows = match runtime.block_on(client.indexes(table)) {
        Ok(rows) => rows,
        Err(e) => {
            eprintln!("ERROR {}: {e}", e.code());
            return false;
        }
    };
    let field = |row: &kvsql_protocol::Row, name: &str| row.get::<String>(name).unwrap_or_default();
    if listing {
        if rows.is_empty() {
            println!("No indexes.");
        }
        for row in &rows {
            let unique = row.get::<bool>("unique").unwrap_or(false);
            println!(
                "{} on {} ({}){}",
                field(row, "index"),
                field(row, "table"),
                field(row, "columns"),
                if unique { " UNIQUE" } else { "" }
            );
        }
    } else if !rows.is_empty() {
        println!("Indexes:");
        for row in &rows {
            let unique = row.get::<bool>("unique").unwrap_or(false);
            println!(
                "    \"{}\" {}({})",
                field(row, "index"),
                if unique { "UNIQUE " } else { "" },
                field(row, "columns")
            );
        }
    }
    true
}

fn history_path(explicit: Option<PathBuf>) -> Option<PathBuf> {
    explicit
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".kvsql_history")))
}

fn interactive(
    runtime: &tokio::runtime::Runtime,
    client: &Client,
    address: &str,
    history_file: Option<PathBuf>,
    format: format::Format,
) -> bool {
    let mut editor: Editor<SqlHelper, FileHistory> = match Editor::new() {
        Ok(editor) => editor,
        Err(e) => {
            eprintln!("kvsql: cannot start the line editor: {e}");
            return false;
        }
    };
    editor.set_helper(Some(SqlHelper));
    let history = history_path(history_file);
    if let Some(path) = &history {
        let _ = editor.load_history(path);
    }
    let info = client.server_info();
    println!(
        "kvsql {} connected to {address} (server {}, protocol {}.{}). Type \\help for help.",
        env!("CARGO_PKG_VERSION"),
        info.server_version,
        info.major,
        info.minor
    );
    let mut settings = Settings {
        timing: false,
        format,
    };
    loop {
        match editor.readline("kvsql> ") {
            Ok(input) => {
                let trimmed = input.trim();
                if trimmed.is_empty() {
                    continue;
                }
                let _ = editor.add_history_entry(trimmed);
                if let Some(path) = &history {
                    let _ = editor.save_history(path);
                }
                if let Some(command) = trimmed.strip_prefix('\\') {
                    if meta(runtime, client, command, &mut settings) == Meta::Quit {
                        break;
                    }
                    continue;
                }
                run_input(runtime, client, &input, OnError::Continue, settings);
            }
            Err(ReadlineError::Interrupted) => continue,
            Err(ReadlineError::Eof) => break,
            Err(e) => {
                eprintln!("kvsql: input error: {e}");
                return false;
            }
        }
    }
    true
}

//! `kvsql`: the interactive SQL shell for kvsql servers.

mod copy;
mod format;
mod helper;
mod lex;
mod shell;
mod split;

use std::io::{IsTerminal, Read};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use kvsql_protocol::DEFAULT_PORT;
use rustyline::error::ReadlineError;
use rustyline::history::FileHistory;
use rustyline::{CompletionType, Config, Editor};

use crate::helper::SqlHelper;
use crate::lex::Open;
use crate::shell::{Expanded, Login, Meta, OnError, Settings, Shell};

/// kvsql, the SQL shell for kvsql servers.
///
/// Interactive when standard input and output are a terminal: type SQL statements ending
/// in `;` (they may span lines), or meta commands such as \help and \q; Tab completes
/// keywords, tables and columns, Ctrl-C cancels a running statement. With -c (SQL or a
/// meta command such as '\d t'), -f FILE, or with statements piped on standard input, it
/// runs them and exits, with no prompts or colours; the exit status is 0 only if every
/// statement succeeded, and (unless --no-bail) nothing after a failure runs.
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
    /// stopping at it, a syntax error included (each statement is then checked as it
    /// comes, not the whole script first); the exit status is still 1 if any failed.
    #[arg(long, overrides_with = "bail")]
    no_bail: bool,

    /// In scripts: stop at the first failing statement (the default).
    #[arg(long, overrides_with = "no_bail")]
    bail: bool,

    /// Print no banner, no command tags (CREATE TABLE, INSERT 3) and no confirmations;
    /// query results and errors still print.
    #[arg(long, short = 'q')]
    quiet: bool,

    /// Display each row as a list of fields: on, off, or auto (when wider than the
    /// terminal).
    #[arg(long, short = 'x', value_name = "WHEN", num_args = 0..=1, default_missing_value = "on")]
    expanded: Option<String>,

    /// Set a variable, used in statements as :NAME (may be given several times).
    #[arg(long = "set", short = 'v', value_name = "NAME=VALUE")]
    variables: Vec<String>,

    /// User name, for servers that require a login; the password comes from
    /// KVSQL_PASSWORD, or is asked for on the terminal.
    #[arg(long, short = 'U', env = "KVSQL_USER")]
    user: Option<String>,

    /// Connect with TLS, verifying the server's certificate against --tls-ca.
    #[arg(long, requires = "tls_ca")]
    tls: bool,

    /// PEM file of the certificate authorities to trust for --tls (the server's
    /// certificate must name the --host given).
    #[arg(long, value_name = "PEM_FILE", env = "KVSQL_TLS_CA")]
    tls_ca: Option<PathBuf>,

    /// History file for interactive sessions (default: ~/.kvsql_history).
    #[arg(long, env = "KVSQL_HISTORY")]
    history_file: Option<PathBuf>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let expanded = match args.expanded.as_deref() {
        None | Some("off") => Expanded::Off,
        Some("on") => Expanded::On,
        Some("auto") => Expanded::Auto,
        Some(other) => {
            eprintln!("kvsql: --expanded takes on, off or auto, not {other}");
            return ExitCode::FAILURE;
        }
    };
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
    let address = if args.host.contains(':') {
        format!("[{}]:{}", args.host, args.port)
    } else {
        format!("{}:{}", args.host, args.port)
    };
    let login = match &args.user {
        None => None,
        Some(user) => match std::env::var("KVSQL_PASSWORD") {
            Ok(password) => Some(Login {
                user: user.clone(),
                password,
            }),
            Err(_) => match ask_password(user) {
                Ok(password) => Some(Login {
                    user: user.clone(),
                    password,
                }),
                Err(e) => {
                    eprintln!("kvsql: {e}");
                    return ExitCode::FAILURE;
                }
            },
        },
    };
    let tls_ca = args.tls.then(|| args.tls_ca.clone()).flatten();
    let client = match shell::connect(&runtime, &address, login.as_ref(), tls_ca.as_ref()) {
        Ok(client) => client,
        Err(e) => {
            eprintln!("kvsql: cannot connect to {address}: {e}");
            if e.code() == "28000" {
                eprintln!(
                    "Log in with --user NAME (the password from KVSQL_PASSWORD or asked for)."
                );
            } else if !e.code().starts_with("28") {
                eprintln!(
                    "Is kvsql-server running there? Start one with: kvsql-server --listen {address}"
                );
            }
            return ExitCode::FAILURE;
        }
    };
    let settings = Settings {
        timing: false,
        format: args.format,
        expanded,
        pager: true,
        quiet: args.quiet,
        on_error: if args.no_bail {
            OnError::Continue
        } else {
            OnError::Stop
        },
    };
    let mut shell = Shell::new(runtime, client, address, settings);
    shell.login = login;
    shell.tls_ca = tls_ca;
    for assignment in &args.variables {
        match assignment.split_once('=') {
            Some((name, value)) if !name.is_empty() => {
                shell.vars.insert(name.to_string(), value.to_string());
            }
            _ => {
                eprintln!("kvsql: --set takes NAME=VALUE, not {assignment}");
                return ExitCode::FAILURE;
            }
        }
    }
    let scripted = !args.command.is_empty() || !args.file.is_empty();
    let ok = if scripted {
        run_commands_and_files(&mut shell, &args.command, &args.file)
    } else if std::io::stdin().is_terminal() && std::io::stdout().is_terminal() {
        interactive(&mut shell, args.history_file)
    } else {
        let mut input = String::new();
        match std::io::stdin().read_to_string(&mut input) {
            Ok(_) => shell.run_script(&input),
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

/// -c commands, then -f files, in order; with --no-bail every one runs and the status
/// says whether all succeeded.
fn run_commands_and_files(shell: &mut Shell, commands: &[String], files: &[PathBuf]) -> bool {
    let stop = shell.settings.on_error == OnError::Stop;
    let mut ok = true;
    for sql in commands {
        let done = match sql.trim().strip_prefix('\\') {
            Some(command) => match shell.meta(command) {
                Meta::Quit => return ok,
                Meta::Done(done) => done,
            },
            None => shell.run_sql(sql, 1),
        };
        ok &= done;
        if !done && stop {
            return false;
        }
    }
    for path in files {
        match std::fs::read_to_string(path) {
            Ok(script) => ok &= shell.run_script(&script),
            Err(e) => {
                eprintln!("kvsql: cannot read {}: {e}", path.display());
                ok = false;
            }
        }
        if !ok && stop {
            break;
        }
    }
    ok
}

fn history_path(explicit: Option<PathBuf>) -> Option<PathBuf> {
    explicit
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".kvsql_history")))
}

/// The prompt for the next line: `kvsql> ` for a new statement, and for a statement
/// still open, what is open: `'` a string, `"` an identifier, `*` a comment, `(` a
/// parenthesis, `-` just more to come.
fn prompt(pending: &str) -> &'static str {
    if pending.trim().is_empty() {
        return "kvsql> ";
    }
    let scan = lex::scan(pending, Open::Nothing);
    match scan.open {
        Open::String => "kvsql'> ",
        Open::Quoted => "kvsql\"> ",
        Open::BlockComment => "kvsql*> ",
        Open::Nothing if scan.depth > 0 => "kvsql(> ",
        Open::Nothing => "kvsql-> ",
    }
}

fn interactive(shell: &mut Shell, history_file: Option<PathBuf>) -> bool {
    let config = Config::builder()
        .completion_type(CompletionType::List)
        .auto_add_history(false)
        .max_history_size(10_000)
        .map(|b| b.build());
    let editor = config.and_then(Editor::<SqlHelper, FileHistory>::with_config);
    let mut editor = match editor {
        Ok(editor) => editor,
        Err(e) => {
            eprintln!("kvsql: cannot start the line editor: {e}");
            return false;
        }
    };
    {
        let mut shared = shell.shared.lock().unwrap_or_else(|e| e.into_inner());
        shared.colour = std::env::var_os("NO_COLOR").is_none()
            && std::env::var("TERM").map_or(true, |term| term != "dumb");
    }
    editor.set_helper(Some(SqlHelper::new(shell.shared.clone())));
    let history = history_path(history_file);
    if let Some(path) = &history {
        let _ = editor.load_history(path);
    }
    shell.catch_interrupts();
    shell.refresh_catalog();
    if !shell.settings.quiet {
        let info = shell.client.server_info();
        println!(
            "kvsql {} connected to {} (server {}, protocol {}.{}). Type \\help for help.",
            env!("CARGO_PKG_VERSION"),
            shell.address,
            info.server_version,
            info.major,
            info.minor
        );
    }
    let mut pending = String::new();
    loop {
        shell
            .shared
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .pending
            .clone_from(&pending);
        let read = editor.readline(prompt(&pending));
        shell.forget_interrupts();
        match read {
            Ok(line) => {
                if pending.trim().is_empty() {
                    pending.clear();
                    if let Some(command) = line.trim_start().strip_prefix('\\') {
                        let _ = editor.add_history_entry(line.trim());
                        if let Some(path) = &history {
                            let _ = editor.save_history(path);
                        }
                        if shell.meta(command) == Meta::Quit {
                            break;
                        }
                        continue;
                    }
                    if line.trim().is_empty() {
                        continue;
                    }
                }
                pending.push_str(&line);
                pending.push('\n');
                if !split::is_complete(&pending) {
                    continue;
                }
                let statement = std::mem::take(&mut pending);
                let _ = editor.add_history_entry(statement.trim_end());
                if let Some(path) = &history {
                    let _ = editor.save_history(path);
                }
                shell.run_sql(&statement, 1);
            }
            // Ctrl-C: drop what was typed (all lines of an unfinished statement).
            Err(ReadlineError::Interrupted) => pending.clear(),
            Err(ReadlineError::Eof) => break,
            Err(e) => {
                eprintln!("kvsql: input error: {e}");
                return false;
            }
        }
    }
    true
}

/// Reads a password from the terminal without echoing it.
fn ask_password(user: &str) -> Result<String, String> {
    use rustix::termios::{LocalModes, OptionalActions, tcgetattr, tcsetattr};
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        return Err(format!(
            "no password for {user}: set KVSQL_PASSWORD (standard input is not a terminal)"
        ));
    }
    let saved = tcgetattr(&stdin).map_err(|e| format!("cannot read the terminal mode: {e}"))?;
    let mut silent = saved.clone();
    silent.local_modes.remove(LocalModes::ECHO);
    eprint!("Password for {user}: ");
    tcsetattr(&stdin, OptionalActions::Now, &silent)
        .map_err(|e| format!("cannot turn off echo: {e}"))?;
    let mut line = String::new();
    let read = stdin.read_line(&mut line);
    let _ = tcsetattr(&stdin, OptionalActions::Now, &saved);
    eprintln!();
    read.map_err(|e| format!("cannot read the password: {e}"))?;
    Ok(line.trim_end_matches(['\n', '\r']).to_string())
}

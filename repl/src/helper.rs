//! What the line editor knows about SQL: context-aware tab completion from the server's
//! catalog, syntax colouring with matching brackets, and hints from history.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use rustyline::completion::{Completer, FilenameCompleter, Pair};
use rustyline::highlight::{CmdKind, Highlighter};
use rustyline::hint::{Hinter, HistoryHinter};
use rustyline::{Context, Helper};

use crate::lex::{self, Kind, Open};

/// Keywords offered by completion and coloured by the highlighter.
pub const KEYWORDS: &[&str] = &[
    "ABORT",
    "ALL",
    "ALTER",
    "AND",
    "AS",
    "ASC",
    "AUTOINCREMENT",
    "BACKUP",
    "BEGIN",
    "BETWEEN",
    "BLOB",
    "BOOLEAN",
    "BY",
    "CASE",
    "CAST",
    "COLUMN",
    "COMMIT",
    "CONFLICT",
    "CREATE",
    "CROSS",
    "DEFAULT",
    "DELETE",
    "DESC",
    "DESCRIBE",
    "DISTINCT",
    "DO",
    "DROP",
    "ELSE",
    "END",
    "EXCEPT",
    "EXISTS",
    "EXPLAIN",
    "FALSE",
    "FROM",
    "GROUP",
    "HAVING",
    "IF",
    "IGNORE",
    "IN",
    "INDEX",
    "INDEXED",
    "INNER",
    "INSERT",
    "INTEGER",
    "INTERSECT",
    "INTO",
    "IS",
    "JOIN",
    "KEY",
    "LEFT",
    "LIKE",
    "LIMIT",
    "NATURAL",
    "NOT",
    "NOTHING",
    "NULL",
    "OFFSET",
    "ON",
    "OR",
    "ORDER",
    "OUTER",
    "OVER",
    "PARTITION",
    "PRIMARY",
    "REAL",
    "REINDEX",
    "REPLACE",
    "RETURNING",
    "ROLLBACK",
    "SELECT",
    "SET",
    "SHOW",
    "TABLE",
    "TABLES",
    "TEXT",
    "THEN",
    "TRANSACTION",
    "TRUE",
    "TRUNCATE",
    "UNION",
    "UNIQUE",
    "UPDATE",
    "USING",
    "VALUES",
    "VIEW",
    "WHEN",
    "WHERE",
    "WITH",
    "WORK",
];

/// Functions offered where an expression may go.
const FUNCTIONS: &[&str] = &[
    "abs",
    "avg",
    "coalesce",
    "count",
    "cume_dist",
    "dense_rank",
    "first_value",
    "group_concat",
    "ifnull",
    "instr",
    "lag",
    "last_value",
    "lead",
    "length",
    "lower",
    "ltrim",
    "max",
    "min",
    "ntile",
    "nullif",
    "percent_rank",
    "rank",
    "replace",
    "round",
    "row_number",
    "rtrim",
    "substr",
    "sum",
    "total",
    "trim",
    "typeof",
    "upper",
];

/// Meta commands, for completion after a backslash.
pub const META_COMMANDS: &[&str] = &[
    "?", "c", "conninfo", "copy", "d", "di", "dt", "format", "help", "i", "o", "pager", "q", "set",
    "timing", "unset", "x",
];

fn is_keyword(word: &str) -> bool {
    KEYWORDS.iter().any(|k| k.eq_ignore_ascii_case(word))
}

/// The tables and columns the server reported, refreshed after DDL.
#[derive(Default)]
pub struct Catalog {
    /// Table name to column names, in order.
    pub tables: BTreeMap<String, Vec<String>>,
}

/// What the shell and the editor share.
#[derive(Default)]
pub struct Shared {
    pub catalog: Catalog,
    /// Lines of the statement typed so far, before the line being edited.
    pub pending: String,
    /// Whether to colour input.
    pub colour: bool,
}

pub struct SqlHelper {
    pub shared: Arc<Mutex<Shared>>,
    hinter: HistoryHinter,
    files: FilenameCompleter,
}

impl SqlHelper {
    pub fn new(shared: Arc<Mutex<Shared>>) -> SqlHelper {
        SqlHelper {
            shared,
            hinter: HistoryHinter::new(),
            files: FilenameCompleter::new(),
        }
    }

    fn shared(&self) -> MutexGuard<'_, Shared> {
        self.shared.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Helper for SqlHelper {}

impl rustyline::validate::Validator for SqlHelper {}

/// What may be typed at the cursor.
#[derive(Debug, PartialEq, Eq)]
enum Expect {
    Keyword,
    Table,
    /// Columns (of the statement's tables), functions and keywords.
    Column,
}

/// Decides what completes the word that starts at the end of `before` (the statement's
/// text up to the word).
fn expectation(before: &str) -> Expect {
    let scan = lex::scan(before, Open::Nothing);
    // Only the statement being typed counts.
    let start = scan
        .tokens
        .iter()
        .rposition(|t| before[t.span.clone()] == *";")
        .map_or(0, |i| i + 1);
    let tokens: Vec<&str> = scan.tokens[start..]
        .iter()
        .filter(|t| !matches!(t.kind, Kind::Space | Kind::Comment))
        .map(|t| &before[t.span.clone()])
        .collect();
    let Some(keyword_at) = tokens.iter().rposition(|w| is_keyword(w)) else {
        return Expect::Keyword;
    };
    let keyword = tokens[keyword_at].to_ascii_uppercase();
    let right_after = keyword_at + 1 == tokens.len();
    let after_comma = tokens.last() == Some(&",");
    match keyword.as_str() {
        "FROM" | "JOIN" | "TRUNCATE" if right_after || after_comma => Expect::Table,
        "INTO" | "UPDATE" | "TABLE" | "DESCRIBE" | "REINDEX" if right_after => Expect::Table,
        // CREATE INDEX name ON table
        "ON" if right_after && tokens.iter().any(|w| w.eq_ignore_ascii_case("INDEX")) => {
            Expect::Table
        }
        "SELECT" | "WHERE" | "SET" | "AND" | "OR" | "BY" | "HAVING" | "ON" | "WHEN" | "THEN"
        | "ELSE" | "DISTINCT" | "NOT" | "CASE" | "RETURNING" | "USING" | "BETWEEN" | "LIKE"
        | "IN" | "IS" => Expect::Column,
        // INSERT INTO t (a, b ...
        "INTO" if tokens[keyword_at..].contains(&"(") => Expect::Column,
        _ => Expect::Keyword,
    }
}

/// Tables the statement names (after FROM, JOIN, UPDATE and INTO), with their aliases.
fn tables_in(statement: &str) -> Vec<(String, Option<String>)> {
    let scan = lex::scan(statement, Open::Nothing);
    let words: Vec<&str> = scan
        .tokens
        .iter()
        .filter(|t| !matches!(t.kind, Kind::Space | Kind::Comment))
        .map(|t| &statement[t.span.clone()])
        .collect();
    let mut found: Vec<(String, Option<String>)> = Vec::new();
    let mut in_from = false;
    let mut i = 0;
    while i < words.len() {
        let word = words[i];
        let upper = word.to_ascii_uppercase();
        let names_table = matches!(upper.as_str(), "FROM" | "JOIN" | "UPDATE" | "INTO")
            || (in_from && word == ",");
        if upper == "FROM" {
            in_from = true;
        } else if matches!(
            upper.as_str(),
            "WHERE"
                | "GROUP"
                | "ORDER"
                | "HAVING"
                | "LIMIT"
                | "UNION"
                | "INTERSECT"
                | "EXCEPT"
                | "SET"
                | "VALUES"
                | "SELECT"
                | "RETURNING"
        ) {
            in_from = false;
        }
        if names_table
            && let Some(table) = words.get(i + 1).filter(|w| !is_keyword(w) && **w != "(")
        {
            let mut alias_at = i + 2;
            if words
                .get(alias_at)
                .is_some_and(|w| w.eq_ignore_ascii_case("AS"))
            {
                alias_at += 1;
            }
            let alias = words
                .get(alias_at)
                .filter(|w| !is_keyword(w) && w.chars().next().is_some_and(char::is_alphabetic))
                .map(|w| w.to_string());
            found.push((table.trim_matches('"').to_string(), alias));
        }
        i += 1;
    }
    found
}

/// Completions of `prefix` from `names`, keeping their spelling.
fn matching<'a>(names: impl IntoIterator<Item = &'a str>, prefix: &str) -> Vec<String> {
    let lower = prefix.to_lowercase();
    names
        .into_iter()
        .filter(|n| n.to_lowercase().starts_with(&lower))
        .map(str::to_string)
        .collect()
}

/// Keywords completing `prefix`, in the case the user types them.
fn keywords(prefix: &str) -> Vec<String> {
    let lower = !prefix.is_empty() && !prefix.chars().any(|c| c.is_ascii_uppercase());
    matching(KEYWORDS.iter().copied(), prefix)
        .into_iter()
        .map(|k| if lower { k.to_lowercase() } else { k })
        .collect()
}

impl SqlHelper {
    fn complete_meta(&self, line: &str, pos: usize) -> rustyline::Result<(usize, Vec<Pair>)> {
        let before = &line[..pos];
        let trimmed = before.trim_start();
        let command_start = pos - trimmed.len() + 1;
        if !trimmed.contains(char::is_whitespace) {
            let candidates = matching(META_COMMANDS.iter().copied(), &trimmed[1..]);
            return Ok((command_start, pairs(candidates)));
        }
        let command = trimmed[1..].split_whitespace().next().unwrap_or("");
        match command {
            "i" | "o" => self.files.complete_path(line, pos),
            "d" | "di" | "copy" => {
                let word_start = before
                    .rfind(|c: char| c.is_whitespace() || c == '(')
                    .map_or(0, |i| i + 1);
                let shared = self.shared();
                let names = shared.catalog.tables.keys().map(String::as_str);
                Ok((word_start, pairs(matching(names, &before[word_start..]))))
            }
            "format" => Ok((
                pos - before.rsplit(' ').next().unwrap_or("").len(),
                pairs(matching(
                    ["table", "csv", "json", "markdown"],
                    before.rsplit(' ').next().unwrap_or(""),
                )),
            )),
            "x" | "pager" | "timing" => {
                let word = before.rsplit(' ').next().unwrap_or("");
                Ok((
                    pos - word.len(),
                    pairs(matching(["on", "off", "auto"], word)),
                ))
            }
            _ => Ok((pos, Vec::new())),
        }
    }
}

fn pairs(candidates: Vec<String>) -> Vec<Pair> {
    let mut candidates = candidates;
    candidates.sort();
    candidates.dedup();
    candidates
        .into_iter()
        .map(|c| Pair {
            display: c.clone(),
            replacement: c,
        })
        .collect()
}

impl Completer for SqlHelper {
    type Candidate = Pair;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _ctx: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        let pending = self.shared().pending.clone();
        if pending.is_empty() && line.trim_start().starts_with('\\') {
            return self.complete_meta(line, pos);
        }
        let before = &line[..pos];
        let word_start = before
            .rfind(|c: char| !(c.is_alphanumeric() || c == '_' || c == '.'))
            .map_or(0, |i| i + 1);
        let word = &before[word_start..];
        let statement = format!("{pending}\n{line}");
        let shared = self.shared();
        let columns_of = |table: &str| -> Vec<&str> {
            shared
                .catalog
                .tables
                .iter()
                .find(|(name, _)| name.eq_ignore_ascii_case(table))
                .map(|(_, columns)| columns.iter().map(String::as_str).collect())
                .unwrap_or_default()
        };
        // table.column or alias.column
        if let Some(dot) = word.rfind('.') {
            let qualifier = &word[..dot];
            let named = tables_in(&statement);
            let table = named
                .iter()
                .find(|(_, alias)| {
                    alias
                        .as_deref()
                        .is_some_and(|a| a.eq_ignore_ascii_case(qualifier))
                })
                .map_or(qualifier, |(table, _)| table.as_str());
            let found = matching(columns_of(table), &word[dot + 1..]);
            return Ok((word_start + dot + 1, pairs(found)));
        }
        let context = format!("{pending}\n{}", &line[..word_start]);
        let candidates = match expectation(&context) {
            Expect::Keyword => keywords(word),
            Expect::Table => matching(shared.catalog.tables.keys().map(String::as_str), word),
            Expect::Column => {
                let named = tables_in(&statement);
                let mut columns: Vec<&str> = Vec::new();
                if named.is_empty() {
                    columns.extend(shared.catalog.tables.values().flatten().map(String::as_str));
                } else {
                    for (table, _) in &named {
                        columns.extend(columns_of(table));
                    }
                }
                // Columns and functions first; keywords when neither fits.
                let mut found = matching(columns, word);
                if !word.is_empty() {
                    found.extend(matching(FUNCTIONS.iter().copied(), word));
                    if found.is_empty() {
                        found = keywords(word);
                    }
                }
                found
            }
        };
        Ok((word_start, pairs(candidates)))
    }
}

const RESET: &str = "\x1b[0m";
const KEYWORD: &str = "\x1b[1;34m";
const STRING: &str = "\x1b[32m";
const NUMBER: &str = "\x1b[33m";
const COMMENT: &str = "\x1b[90m";
const BRACKET: &str = "\x1b[1;7m";

/// Colours `line` (which starts in state `from`), emphasising the bracket matching the
/// one at or before the cursor.
pub fn colour(line: &str, from: Open, cursor: Option<usize>) -> String {
    let scan = lex::scan(line, from);
    let mut emphasis = Vec::new();
    if let Some(pos) = cursor {
        for at in [pos, pos.wrapping_sub(1)] {
            if matches!(line.as_bytes().get(at), Some(b'(' | b')'))
                && let Some(other) = lex::matching_bracket(&scan.tokens, line, at)
            {
                emphasis = vec![at, other];
                break;
            }
        }
    }
    let mut out = String::with_capacity(line.len() * 2);
    for token in &scan.tokens {
        let text = &line[token.span.clone()];
        let style = match token.kind {
            Kind::Word if is_keyword(text) => Some(KEYWORD),
            Kind::String => Some(STRING),
            Kind::Number => Some(NUMBER),
            Kind::Comment => Some(COMMENT),
            Kind::Punct if emphasis.contains(&token.span.start) => Some(BRACKET),
            _ => None,
        };
        match style {
            Some(style) => {
                out.push_str(style);
                out.push_str(text);
                out.push_str(RESET);
            }
            None => out.push_str(text),
        }
    }
    out
}

impl Highlighter for SqlHelper {
    fn highlight<'l>(&self, line: &'l str, pos: usize) -> Cow<'l, str> {
        let shared = self.shared();
        if !shared.colour || line.trim_start().starts_with('\\') && shared.pending.is_empty() {
            return Cow::Borrowed(line);
        }
        let from = lex::scan(&shared.pending, Open::Nothing).open;
        Cow::Owned(colour(line, from, Some(pos)))
    }

    fn highlight_hint<'h>(&self, hint: &'h str) -> Cow<'h, str> {
        if self.shared().colour {
            Cow::Owned(format!("{COMMENT}{hint}{RESET}"))
        } else {
            Cow::Borrowed(hint)
        }
    }

    fn highlight_char(&self, _line: &str, _pos: usize, _kind: CmdKind) -> bool {
        self.shared().colour
    }
}

impl Hinter for SqlHelper {
    type Hint = String;

    fn hint(&self, line: &str, pos: usize, ctx: &Context<'_>) -> Option<String> {
        self.hinter.hint(line, pos, ctx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn knows_what_comes_next() {
        assert_eq!(expectation("SELECT * FROM "), Expect::Table);
        assert_eq!(expectation("select * from a, "), Expect::Table);
        assert_eq!(expectation("SELECT * FROM a JOIN "), Expect::Table);
        assert_eq!(expectation("INSERT INTO "), Expect::Table);
        assert_eq!(expectation("UPDATE "), Expect::Table);
        assert_eq!(expectation("CREATE INDEX i ON "), Expect::Table);
        assert_eq!(expectation("TRUNCATE "), Expect::Table);
        assert_eq!(expectation("truncate a, "), Expect::Table);
        assert_eq!(expectation("TRUNCATE TABLE "), Expect::Table);
        assert_eq!(expectation("SELECT "), Expect::Column);
        assert_eq!(expectation("SELECT a, "), Expect::Column);
        assert_eq!(expectation("SELECT a FROM t WHERE "), Expect::Column);
        assert_eq!(expectation("UPDATE t SET "), Expect::Column);
        assert_eq!(expectation("INSERT INTO t ("), Expect::Column);
        assert_eq!(expectation("SELECT * FROM t "), Expect::Keyword);
        assert_eq!(expectation(""), Expect::Keyword);
        assert_eq!(expectation("SELECT 1; "), Expect::Keyword);
    }

    #[test]
    fn finds_tables_and_aliases() {
        assert_eq!(
            tables_in("SELECT x.a FROM one AS x JOIN two y ON x.a = y.b, three WHERE"),
            vec![
                ("one".to_string(), Some("x".to_string())),
                ("two".to_string(), Some("y".to_string())),
                ("three".to_string(), None),
            ]
        );
        assert_eq!(
            tables_in("UPDATE acc SET a = 1"),
            vec![("acc".to_string(), None)]
        );
    }

    #[test]
    fn colours_keywords_strings_numbers_and_comments() {
        let out = colour("select 'a', 1 -- c", Open::Nothing, None);
        assert_eq!(
            out,
            format!(
                "{KEYWORD}select{RESET} {STRING}'a'{RESET}, {NUMBER}1{RESET} {COMMENT}-- c{RESET}"
            )
        );
        let out = colour("f((1))", Open::Nothing, Some(6));
        assert_eq!(
            out,
            format!("f{BRACKET}({RESET}({NUMBER}1{RESET}){BRACKET}){RESET}")
        );
        // A line continuing a string begun on an earlier line.
        assert_eq!(
            colour("b' x", Open::String, None),
            format!("{STRING}b'{RESET} x")
        );
    }
}

//! Splitting input into statements and checking their syntax locally, with sqlparser's
//! tokenizer and parser, so a `;` inside a string or comment never ends a statement and a
//! syntax error is reported with its line and column before anything is sent.

use sqlparser::dialect::GenericDialect;
use sqlparser::parser::{Parser, ParserError};
use sqlparser::tokenizer::{Token, Tokenizer};

/// Statements with more tokens than this are not parsed locally: a long enough operator
/// chain makes a syntax tree deep enough to exhaust the stack. The server checks them
/// (refusing over-deep ones with 54001) and its error positions are mapped back into the
/// input just the same.
const LOCAL_CHECK_MAX_TOKENS: usize = 1000;

/// A statement cut out of the input, with where it starts (1-based line and column).
#[derive(Debug, PartialEq, Eq)]
pub struct Statement {
    pub text: String,
    pub line: u64,
    pub column: u64,
    /// Tokens in the statement, blanks and comments excluded.
    tokens: usize,
}

/// A syntax error at an absolute position of the input.
#[derive(Debug, PartialEq, Eq)]
pub struct SyntaxError {
    pub message: String,
    pub line: u64,
    pub column: u64,
}

impl std::fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "syntax error at line {}, column {}: {}",
            self.line, self.column, self.message
        )
    }
}

fn is_blank(token: &Token) -> bool {
    matches!(token, Token::Whitespace(_) | Token::EOF)
}

/// Whether the input is ready to run: it ends with a `;` outside strings and comments, or
/// is a meta command, or holds nothing but blanks and comments. Unterminated strings,
/// quoted identifiers and comments are incomplete; other tokenizer errors are "complete" so that they get
/// reported instead of waiting for more input.
pub fn is_complete(input: &str) -> bool {
    let trimmed = input.trim_start();
    if trimmed.is_empty() || trimmed.starts_with('\\') {
        return true;
    }
    match Tokenizer::new(&GenericDialect {}, input).tokenize() {
        Ok(tokens) => match tokens.iter().rev().find(|t| !is_blank(t)) {
            None => true,
            Some(last) => *last == Token::SemiColon,
        },
        Err(e) => !(e.message.contains("Unterminated") || e.message.contains("multi-line comment")),
    }
}

/// Byte offset of a 1-based (line, column-in-characters) position.
fn offset(input: &str, line: u64, column: u64) -> usize {
    let mut current_line = 1;
    let mut line_start = 0;
    for (i, c) in input.char_indices() {
        if current_line == line {
            break;
        }
        if c == '\n' {
            current_line += 1;
            line_start = i + 1;
        }
    }
    input[line_start..]
        .char_indices()
        .nth(column.saturating_sub(1) as usize)
        .map_or(input.len(), |(i, _)| line_start + i)
}

/// Splits input into statements (without their `;`), dropping empty ones, and checks the
/// syntax of each.
pub fn split(input: &str) -> Result<Vec<Statement>, SyntaxError> {
    let statements = pieces(input)?;
    for statement in &statements {
        check(statement)?;
    }
    Ok(statements)
}

/// Splits input into statements (without their `;`), dropping empty ones, without
/// parsing them: only text that cannot be tokenized (an unterminated string, say) fails.
pub fn pieces(input: &str) -> Result<Vec<Statement>, SyntaxError> {
    let tokens = Tokenizer::new(&GenericDialect {}, input)
        .tokenize_with_location()
        .map_err(|e| SyntaxError {
            message: e.message.clone(),
            line: e.location.line,
            column: e.location.column,
        })?;
    let mut statements = Vec::new();
    let mut start: Option<(u64, u64)> = None;
    let mut end = None;
    let mut count = 0;
    let mut finish = |start: &mut Option<(u64, u64)>,
                      end: &mut Option<(u64, u64)>,
                      count: &mut usize| {
        if let (Some((line, column)), Some((end_line, end_column))) = (start.take(), end.take()) {
            let from = offset(input, line, column);
            let to = offset(input, end_line, end_column);
            statements.push(Statement {
                text: input[from..to].to_string(),
                line,
                column,
                tokens: std::mem::take(count),
            });
        }
    };
    for token in &tokens {
        match &token.token {
            Token::SemiColon | Token::EOF => finish(&mut start, &mut end, &mut count),
            Token::Whitespace(_) => {}
            _ => {
                if start.is_none() {
                    start = Some((token.span.start.line, token.span.start.column));
                }
                end = Some((token.span.end.line, token.span.end.column));
                count += 1;
            }
        }
    }
    // The last statement needs no ';'.
    finish(&mut start, &mut end, &mut count);
    Ok(statements)
}

/// Parses one statement, reporting an error at its absolute position in the input.
pub fn check(statement: &Statement) -> Result<(), SyntaxError> {
    if statement.tokens > LOCAL_CHECK_MAX_TOKENS {
        return Ok(());
    }
    // kvsql's own statements, which sqlparser does not know: the server checks them.
    let words: Vec<String> = statement
        .text
        .split_whitespace()
        .take(2)
        .map(str::to_ascii_uppercase)
        .collect();
    let own = match words.as_slice() {
        [first, ..] if first == "BACKUP" => true,
        [verb, object] => {
            matches!(verb.as_str(), "CREATE" | "ALTER" | "DROP") && object == "USER"
                || verb == "SHOW" && object == "USERS"
        }
        _ => false,
    };
    if own {
        return Ok(());
    }
    // The same nesting limit as the server's parser.
    let parsed = Parser::new(&GenericDialect {})
        .with_recursion_limit(200)
        .try_with_sql(&statement.text)
        .and_then(|mut parser| parser.parse_statements());
    let Err(e) = parsed else {
        return Ok(());
    };
    let text = match e {
        ParserError::TokenizerError(s) | ParserError::ParserError(s) => s,
        ParserError::RecursionLimitExceeded => "statement nested too deeply".into(),
    };
    // sqlparser ends messages with " at Line: L, Column: C", relative to the statement.
    let (message, line, column) = match text.rfind(" at Line: ") {
        Some(at) => {
            let mut numbers = text[at + 10..].split(", Column: ");
            let line: u64 = numbers
                .next()
                .and_then(|n| n.trim().parse().ok())
                .unwrap_or(1);
            let column: u64 = numbers
                .next()
                .and_then(|n| n.trim().parse().ok())
                .unwrap_or(1);
            (text[..at].to_string(), line, column)
        }
        None => (text, 1, 1),
    };
    let message = message
        .strip_prefix("sql parser error: ")
        .unwrap_or(&message)
        .to_string();
    // Translate to the position in the whole input.
    let (line, column) = if line == 1 {
        (statement.line, statement.column + column - 1)
    } else {
        (statement.line + line - 1, column)
    };
    Err(SyntaxError {
        message,
        line,
        column,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn semicolons_in_strings_and_comments_do_not_end_statements() {
        assert!(!is_complete("SELECT ';'"));
        assert!(is_complete("SELECT ';';"));
        assert!(!is_complete("SELECT 'it''s; open"));
        assert!(!is_complete("SELECT 1 -- done;"));
        assert!(is_complete("SELECT 1; -- trailing comment"));
        assert!(!is_complete("SELECT 1 /* ; */"));
        assert!(!is_complete("/* open comment; "));
        assert!(is_complete("\\q"));
        assert!(is_complete("   "));
    }

    #[test]
    fn splits_with_positions() {
        let input = "SELECT ';' AS a; -- one\n  INSERT INTO t VALUES (1);\n;";
        let statements = split(input).unwrap();
        assert_eq!(statements.len(), 2);
        assert_eq!(statements[0].text, "SELECT ';' AS a");
        assert_eq!(statements[1].text, "INSERT INTO t VALUES (1)");
        let chain = format!("SELECT 1{};", " + 1".repeat(100_000));
        assert_eq!(
            split(&chain).unwrap().len(),
            1,
            "left for the server to refuse"
        );
        let unterminated = split("SELECT 1; SELECT 2 -- no semicolon").unwrap();
        assert_eq!(unterminated.len(), 2);
        assert_eq!(unterminated[1].text, "SELECT 2");
        assert_eq!((statements[1].line, statements[1].column), (2, 3));
    }

    #[test]
    fn syntax_errors_point_into_the_input() {
        let err = split("SELECT 1;\n  SELEC 2;").unwrap_err();
        assert_eq!((err.line, err.column), (2, 3), "{err}");
        let err = split("SELECT 1;\nSELECT * FROM WHERE;").unwrap_err();
        assert_eq!(err.line, 2, "{err}");
        assert!(err.column > 1, "{err}");
        assert!(split("SELECT 'unterminated").is_err());
        // Cut apart without parsing, then checked one by one.
        let cut = pieces("SELECT 1;\n  SELEC 2; SELECT 3").unwrap();
        assert_eq!(cut.len(), 3);
        assert!(check(&cut[0]).is_ok() && check(&cut[2]).is_ok());
        let err = check(&cut[1]).unwrap_err();
        assert_eq!((err.line, err.column), (2, 3), "{err}");
        assert!(pieces("SELECT 1; SELECT 'open").is_err());
        // BACKUP is checked by the server.
        assert_eq!(split("BACKUP TO '/tmp/x';").unwrap().len(), 1);
        assert_eq!(
            split("CREATE USER ann WITH PASSWORD 'x' ADMIN; show users")
                .unwrap()
                .len(),
            2
        );
    }
}

//! A small, forgiving SQL scanner for the shell's own needs: colouring what is typed,
//! telling what the continuation prompt should show (an open quote, comment or
//! parenthesis), finding the context for tab completion, and substituting `:variables`
//! outside strings and comments. It never fails: text it does not understand becomes
//! punctuation. (Statements are still checked by sqlparser before they are sent.)

use std::ops::Range;

/// What a token is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A bare word: a keyword or an identifier.
    Word,
    Number,
    /// A '...' string (also X'..' blobs), possibly unterminated.
    String,
    /// A "..." identifier, possibly unterminated.
    Quoted,
    /// `-- ...` or `/* ... */`, possibly unterminated.
    Comment,
    Space,
    /// Anything else, one character at a time (operators, brackets, `;`, `,`).
    Punct,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Token {
    pub kind: Kind,
    /// Byte range in the scanned text.
    pub span: Range<usize>,
}

/// Where the scanner stands at the end of the text: inside something, or not.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Open {
    #[default]
    Nothing,
    String,
    Quoted,
    BlockComment,
}

/// The result of scanning: tokens, the state at the end, and the bracket depth.
pub struct Scan {
    pub tokens: Vec<Token>,
    pub open: Open,
    /// Parentheses opened and not closed (outside strings and comments).
    pub depth: i64,
}

fn is_word_start(c: char) -> bool {
    c.is_alphabetic() || c == '_'
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '$'
}

/// Scans `text`, which begins in state `from` (text typed on earlier lines may have left
/// a string or comment open).
pub fn scan(text: &str, from: Open) -> Scan {
    let bytes = text.as_bytes();
    let mut tokens = Vec::new();
    let mut depth = 0i64;
    let mut i = 0;
    let mut open = Open::Nothing;
    // Finishes a quoted run starting at `i` (just after any opening quote); returns where
    // it ends and whether it was closed. A doubled quote stays inside.
    let quoted = |mut i: usize, quote: u8| -> (usize, bool) {
        while i < bytes.len() {
            if bytes[i] == quote {
                if bytes.get(i + 1) == Some(&quote) {
                    i += 2;
                    continue;
                }
                return (i + 1, true);
            }
            i += 1;
        }
        (bytes.len(), false)
    };
    let block_comment = |i: usize| -> (usize, bool) {
        match text[i..].find("*/") {
            Some(at) => (i + at + 2, true),
            None => (bytes.len(), false),
        }
    };
    // Continue whatever the earlier lines left open.
    let resumed = match from {
        Open::Nothing => None,
        Open::String => Some((Kind::String, quoted(0, b'\''), Open::String)),
        Open::Quoted => Some((Kind::Quoted, quoted(0, b'"'), Open::Quoted)),
        Open::BlockComment => Some((Kind::Comment, block_comment(0), Open::BlockComment)),
    };
    if let Some((kind, (end, closed), state)) = resumed {
        tokens.push(Token { kind, span: 0..end });
        if !closed {
            return Scan {
                tokens,
                open: state,
                depth,
            };
        }
        i = end;
    }
    while i < bytes.len() {
        let c = text[i..].chars().next().unwrap_or(' ');
        let start = i;
        let (kind, end) = if c.is_whitespace() {
            let end = text[i..]
                .find(|c: char| !c.is_whitespace())
                .map_or(text.len(), |n| i + n);
            (Kind::Space, end)
        } else if text[i..].starts_with("--") {
            let end = text[i..].find('\n').map_or(text.len(), |n| i + n);
            (Kind::Comment, end)
        } else if text[i..].starts_with("/*") {
            let (end, closed) = block_comment(i + 2);
            if !closed {
                open = Open::BlockComment;
            }
            (Kind::Comment, end)
        } else if c == '\'' || ((c == 'x' || c == 'X') && bytes.get(i + 1) == Some(&b'\'')) {
            let from = if c == '\'' { i + 1 } else { i + 2 };
            let (end, closed) = quoted(from, b'\'');
            if !closed {
                open = Open::String;
            }
            (Kind::String, end)
        } else if c == '"' {
            let (end, closed) = quoted(i + 1, b'"');
            if !closed {
                open = Open::Quoted;
            }
            (Kind::Quoted, end)
        } else if c.is_ascii_digit()
            || (c == '.' && bytes.get(i + 1).is_some_and(u8::is_ascii_digit))
        {
            let mut end = i;
            let mut seen_e = false;
            while end < bytes.len() {
                let b = bytes[end];
                let after_e = end > i && matches!(bytes[end - 1], b'e' | b'E');
                if b.is_ascii_digit() || b == b'.' {
                    end += 1;
                } else if (b == b'e' || b == b'E') && !seen_e {
                    seen_e = true;
                    end += 1;
                } else if (b == b'+' || b == b'-') && after_e {
                    end += 1;
                } else {
                    break;
                }
            }
            (Kind::Number, end)
        } else if is_word_start(c) {
            let end = text[i..]
                .find(|c: char| !is_word_char(c))
                .map_or(text.len(), |n| i + n);
            (Kind::Word, end)
        } else {
            match c {
                '(' => depth += 1,
                ')' => depth -= 1,
                _ => {}
            }
            (Kind::Punct, i + c.len_utf8())
        };
        tokens.push(Token {
            kind,
            span: start..end,
        });
        i = end;
    }
    Scan {
        tokens,
        open,
        depth,
    }
}

/// Replaces `:name`, `:'name'` (as a string literal) and `:"name"` (as a quoted
/// identifier) outside strings and comments with the value of variable `name`, as psql
/// does. Unknown names and `::` casts stay as they are.
pub fn substitute(text: &str, lookup: impl Fn(&str) -> Option<String>) -> String {
    if !text.contains(':') {
        return text.to_string();
    }
    let scan = scan(text, Open::Nothing);
    let mut out = String::with_capacity(text.len());
    let tokens = &scan.tokens;
    let mut i = 0;
    while i < tokens.len() {
        let token = &tokens[i];
        let piece = &text[token.span.clone()];
        let previous_colon = i > 0 && &text[tokens[i - 1].span.clone()] == ":";
        if piece == ":"
            && !previous_colon
            && let Some(next) = tokens.get(i + 1)
        {
            let name = &text[next.span.clone()];
            let next_is_colon = name == ":";
            let replacement = match next.kind {
                Kind::Word if !next_is_colon => lookup(name),
                Kind::String if name.len() >= 2 && name.starts_with('\'') => {
                    lookup(&name[1..name.len() - 1]).map(|v| format!("'{}'", v.replace('\'', "''")))
                }
                Kind::Quoted if name.len() >= 2 => lookup(&name[1..name.len() - 1])
                    .map(|v| format!("\"{}\"", v.replace('"', "\"\""))),
                _ => None,
            };
            if let Some(value) = replacement {
                out.push_str(&value);
                i += 2;
                continue;
            }
        }
        out.push_str(piece);
        i += 1;
    }
    out
}

/// Byte positions of the bracket matching the one at `at` (which must be `(` or `)`),
/// ignoring brackets inside strings and comments.
pub fn matching_bracket(tokens: &[Token], text: &str, at: usize) -> Option<usize> {
    let brackets: Vec<(usize, u8)> = tokens
        .iter()
        .filter(|t| t.kind == Kind::Punct)
        .filter_map(|t| match text.as_bytes()[t.span.start] {
            b @ (b'(' | b')') => Some((t.span.start, b)),
            _ => None,
        })
        .collect();
    let index = brackets.iter().position(|&(p, _)| p == at)?;
    let mut depth = 0i64;
    if brackets[index].1 == b'(' {
        for &(p, b) in &brackets[index..] {
            depth += if b == b'(' { 1 } else { -1 };
            if depth == 0 {
                return Some(p);
            }
        }
    } else {
        for &(p, b) in brackets[..=index].iter().rev() {
            depth += if b == b')' { 1 } else { -1 };
            if depth == 0 {
                return Some(p);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(text: &str) -> Vec<(Kind, &str)> {
        scan(text, Open::Nothing)
            .tokens
            .iter()
            .filter(|t| t.kind != Kind::Space)
            .map(|t| (t.kind, &text[t.span.clone()]))
            .collect()
    }

    #[test]
    fn scans_words_numbers_strings_and_comments() {
        assert_eq!(
            kinds("SELECT 'it''s', 1.5e-3, \"Col\" -- c\n/* x */ FROM t;"),
            vec![
                (Kind::Word, "SELECT"),
                (Kind::String, "'it''s'"),
                (Kind::Punct, ","),
                (Kind::Number, "1.5e-3"),
                (Kind::Punct, ","),
                (Kind::Quoted, "\"Col\""),
                (Kind::Comment, "-- c"),
                (Kind::Comment, "/* x */"),
                (Kind::Word, "FROM"),
                (Kind::Word, "t"),
                (Kind::Punct, ";"),
            ]
        );
    }

    #[test]
    fn reports_what_is_left_open() {
        assert_eq!(scan("SELECT 'abc", Open::Nothing).open, Open::String);
        assert_eq!(scan("SELECT \"abc", Open::Nothing).open, Open::Quoted);
        assert_eq!(
            scan("SELECT /* abc", Open::Nothing).open,
            Open::BlockComment
        );
        assert_eq!(scan("SELECT (1, (2", Open::Nothing).depth, 2);
        assert_eq!(scan("SELECT '(' ", Open::Nothing).depth, 0);
        // Resuming a string typed on an earlier line.
        let resumed = scan("still', (", Open::String);
        assert_eq!(resumed.open, Open::Nothing);
        assert_eq!(resumed.depth, 1);
        assert_eq!(scan("more */ x", Open::BlockComment).open, Open::Nothing);
    }

    #[test]
    fn substitutes_variables_outside_strings() {
        let vars = |name: &str| match name {
            "id" => Some("42".to_string()),
            "who" => Some("o'brien".to_string()),
            _ => None,
        };
        assert_eq!(
            substitute("SELECT :id, ':id', :'who', :\"id\", :nope, x::TEXT", vars),
            "SELECT 42, ':id', 'o''brien', \"42\", :nope, x::TEXT"
        );
        assert_eq!(substitute("-- :id\nSELECT :id", vars), "-- :id\nSELECT 42");
    }

    #[test]
    fn finds_matching_brackets() {
        let text = "f(a, (b), ')')";
        let tokens = scan(text, Open::Nothing).tokens;
        assert_eq!(matching_bracket(&tokens, text, 1), Some(13));
        assert_eq!(matching_bracket(&tokens, text, 13), Some(1));
        assert_eq!(matching_bracket(&tokens, text, 5), Some(7));
        let open = scan("((", Open::Nothing).tokens;
        assert_eq!(matching_bracket(&open, "((", 0), None);
    }
}

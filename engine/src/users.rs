//! Users and passwords. A user is stored under its name in the user key space with an
//! admin flag and an argon2id hash of its password (a PHC string with a random salt);
//! the password itself is never stored.
//!
//! Statements (kvsql's own; sqlparser does not know them):
//! `CREATE USER name [WITH] PASSWORD 'secret' [ADMIN]`, `ALTER USER name [WITH] PASSWORD
//! 'secret'`, `DROP USER [IF EXISTS] name`, `SHOW USERS`.

use argon2::Argon2;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};

use crate::encoding::keys;
use crate::error::{Error, Result};
use crate::storage::{KeyRange, Transaction};

/// A user as the catalog holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    pub name: String,
    pub admin: bool,
}

/// A user statement, parsed.
#[derive(Debug, PartialEq, Eq)]
pub enum UserStatement {
    Create {
        name: String,
        password: String,
        admin: bool,
    },
    Alter {
        name: String,
        password: String,
    },
    Drop {
        name: String,
        if_exists: bool,
    },
    Show,
}

fn syntax(message: &str) -> Error {
    Error::Syntax {
        message: message.into(),
        position: None,
    }
}

/// Words and one '...' string (with '' for a quote inside).
fn words(sql: &str) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let mut chars = sql.trim().trim_end_matches(';').chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c == '\'' {
            chars.next();
            let mut text = String::from("'");
            loop {
                match chars.next() {
                    Some('\'') if chars.peek() == Some(&'\'') => {
                        chars.next();
                        text.push('\'');
                    }
                    Some('\'') => break,
                    Some(c) => text.push(c),
                    None => return Err(syntax("unterminated string")),
                }
            }
            out.push(text);
        } else {
            let mut word = String::new();
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() || c == '\'' {
                    break;
                }
                word.push(c);
                chars.next();
            }
            out.push(word);
        }
    }
    Ok(out)
}

fn name(word: Option<&String>) -> Result<String> {
    let word = word.ok_or_else(|| syntax("expected a user name"))?;
    let valid = word
        .chars()
        .next()
        .is_some_and(|c| c.is_alphabetic() || c == '_')
        && word.chars().all(|c| c.is_alphanumeric() || c == '_');
    if !valid {
        return Err(syntax(&format!(
            "invalid user name {word:?}: use letters, digits and _"
        )));
    }
    Ok(word.clone())
}

/// The password after `[WITH] PASSWORD`, starting at `at`; returns it and the next index.
fn password(words: &[String], mut at: usize) -> Result<(String, usize)> {
    if words
        .get(at)
        .is_some_and(|w| w.eq_ignore_ascii_case("WITH"))
    {
        at += 1;
    }
    if !words
        .get(at)
        .is_some_and(|w| w.eq_ignore_ascii_case("PASSWORD"))
    {
        return Err(syntax("expected PASSWORD 'secret'"));
    }
    match words.get(at + 1).and_then(|w| w.strip_prefix('\'')) {
        Some("") => Err(Error::InvalidValue("a password cannot be empty".into())),
        Some(secret) => Ok((secret.to_string(), at + 2)),
        None => Err(syntax("expected PASSWORD 'secret' (a quoted string)")),
    }
}

/// Recognizes a user statement; None for any other statement.
pub fn parse(sql: &str) -> Result<Option<UserStatement>> {
    let head: Vec<String> = sql
        .split_whitespace()
        .take(2)
        .map(|w| w.trim_end_matches(';').to_ascii_uppercase())
        .collect();
    let head: Vec<&str> = head.iter().map(String::as_str).collect();
    let statement = match head.as_slice() {
        ["CREATE", "USER"] => {
            let words = words(sql)?;
            let name = name(words.get(2))?;
            let (password, next) = password(&words, 3)?;
            let admin = match words.get(next) {
                None => false,
                Some(w) if w.eq_ignore_ascii_case("ADMIN") && words.len() == next + 1 => true,
                Some(other) => return Err(syntax(&format!("unexpected {other}"))),
            };
            UserStatement::Create {
                name,
                password,
                admin,
            }
        }
        ["ALTER", "USER"] => {
            let words = words(sql)?;
            let name = name(words.get(2))?;
            let (password, next) = password(&words, 3)?;
            if let Some(other) = words.get(next) {
                return Err(syntax(&format!("unexpected {other}")));
            }
            UserStatement::Alter { name, password }
        }
        ["DROP", "USER"] => {
            let words = words(sql)?;
            let if_exists = words.len() == 5
                && words[2].eq_ignore_ascii_case("IF")
                && words[3].eq_ignore_ascii_case("EXISTS");
            let at = if if_exists { 4 } else { 2 };
            if words.len() != at + 1 {
                return Err(syntax("expected DROP USER [IF EXISTS] name"));
            }
            UserStatement::Drop {
                name: name(words.get(at))?,
                if_exists,
            }
        }
        ["SHOW", "USERS"] if sql.split_whitespace().count() == 2 => UserStatement::Show,
        _ => return Ok(None),
    };
    Ok(Some(statement))
}

/// A salted argon2id hash of `password`, as a PHC string.
pub fn hash(password: &str) -> Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| Error::Storage(format!("cannot hash a password: {e}")))
}

/// Whether `password` matches the PHC string `stored`.
pub fn verify(stored: &str, password: &str) -> bool {
    PasswordHash::new(stored).is_ok_and(|parsed| {
        Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
}

/// A hash no password matches, verified against for unknown users so that a wrong
/// name costs as much time as a wrong password.
pub fn decoy() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| hash("decoy: no user has this password").unwrap_or_default())
}

fn encode(admin: bool, hash: &str) -> Vec<u8> {
    let mut value = vec![u8::from(admin)];
    value.extend_from_slice(hash.as_bytes());
    value
}

fn decode(value: &[u8]) -> Result<(bool, String)> {
    let (&flag, hash) = value
        .split_first()
        .ok_or_else(|| Error::Corrupt("an empty user record".into()))?;
    let hash = String::from_utf8(hash.to_vec())
        .map_err(|_| Error::Corrupt("a user record that is not UTF-8".into()))?;
    Ok((flag == 1, hash))
}

/// The user's admin flag and password hash.
pub fn load(txn: &mut dyn Transaction, name: &str) -> Result<Option<(bool, String)>> {
    txn.get(&keys::user_key(name))?
        .map(|value| decode(&value))
        .transpose()
}

pub fn store(txn: &mut dyn Transaction, name: &str, admin: bool, hash: &str) -> Result<()> {
    txn.set(&keys::user_key(name), &encode(admin, hash))
}

pub fn remove(txn: &mut dyn Transaction, name: &str) -> Result<()> {
    txn.delete(&keys::user_key(name))
}

/// Every user, by name.
pub fn list(txn: &mut dyn Transaction) -> Result<Vec<User>> {
    let mut users = Vec::new();
    for item in txn.scan(KeyRange::prefix(&keys::user_prefix()), false) {
        let (key, value) = item?;
        let mut rest = &key[1..];
        let name = match crate::encoding::keycode::decode_value(&mut rest)? {
            crate::value::Value::Text(name) => name,
            _ => return Err(Error::Corrupt("a user key that is not a name".into())),
        };
        users.push(User {
            name,
            admin: decode(&value)?.0,
        });
    }
    Ok(users)
}

/// Whether any user exists (authentication is on).
pub fn any(txn: &mut dyn Transaction) -> Result<bool> {
    Ok(txn
        .scan(KeyRange::prefix(&keys::user_prefix()), false)
        .next()
        .transpose()?
        .is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_user_statements() {
        assert_eq!(
            parse("CREATE USER ann WITH PASSWORD 'it''s secret' ADMIN;").unwrap(),
            Some(UserStatement::Create {
                name: "ann".into(),
                password: "it's secret".into(),
                admin: true
            })
        );
        assert_eq!(
            parse("create user bob password 'x'").unwrap(),
            Some(UserStatement::Create {
                name: "bob".into(),
                password: "x".into(),
                admin: false
            })
        );
        assert_eq!(
            parse("ALTER USER bob WITH PASSWORD 'y'").unwrap(),
            Some(UserStatement::Alter {
                name: "bob".into(),
                password: "y".into()
            })
        );
        assert_eq!(
            parse("DROP USER IF EXISTS bob").unwrap(),
            Some(UserStatement::Drop {
                name: "bob".into(),
                if_exists: true
            })
        );
        assert_eq!(parse("SHOW USERS").unwrap(), Some(UserStatement::Show));
        assert_eq!(parse("SELECT 1").unwrap(), None);
        assert_eq!(parse("CREATE TABLE user (a INT)").unwrap(), None);
        for bad in [
            "CREATE USER",
            "CREATE USER ann",
            "CREATE USER ann PASSWORD secret",
            "CREATE USER 'ann' PASSWORD 'x'",
            "CREATE USER ann PASSWORD 'x' SUPER",
            "DROP USER a b",
            "ALTER USER ann PASSWORD 'unterminated",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        assert!(matches!(
            parse("CREATE USER ann PASSWORD ''"),
            Err(Error::InvalidValue(_))
        ));
    }

    #[test]
    fn hashes_are_salted_and_verify() {
        let a = hash("correct horse").unwrap();
        let b = hash("correct horse").unwrap();
        assert_ne!(a, b, "a random salt each time");
        assert!(a.starts_with("$argon2id$"), "{a}");
        assert!(!a.contains("correct horse"));
        assert!(verify(&a, "correct horse"));
        assert!(!verify(&a, "correct horse "));
        assert!(!verify("not a hash", "x"));
        assert!(!verify(decoy(), "x"));
    }
}

//! Parsing with sqlparser and translation of its AST into the engine's [`ast`].
//!
//! This is the only module that imports sqlparser, so the churn of its API stays here.
//! Syntax kvsql does not implement becomes [`Error::Unsupported`] naming the construct.

use sqlparser::ast as sp;
use sqlparser::dialect::GenericDialect;
use sqlparser::parser::{Parser, ParserError};
use sqlparser::tokenizer::{Token, TokenWithSpan, Tokenizer};

use super::ast::{
    AlterAction, BinaryOp, ColumnDef, ConflictAction, Expr, Frame, FrameBound, FromItem,
    InsertSource, JoinConstraint, JoinKind, OnConflict, OrderTerm, Query, Select, SelectItem,
    SetExpr, SetOp, Statement, SubqueryKind, UnaryOp, WindowCall, WindowFunc,
};
use crate::error::{Error, Position, Result};
use crate::value::{DataType, Value};

/// How deeply parentheses and subexpressions may nest before the parser refuses the
/// statement.
const RECURSION_LIMIT: usize = 200;

/// The most tokens an expression may chain without a comma or parenthesis, summed over
/// the open parentheses: a bound on how deep the syntax tree can get.
pub const MAX_EXPRESSION_DEPTH: usize = 1000;

/// Parses SQL text (one or more `;`-separated statements) into the engine's AST.
pub fn parse(sql: &str) -> Result<Vec<Statement>> {
    let dialect = GenericDialect {};
    let tokens = Tokenizer::new(&dialect, sql)
        .tokenize_with_location()
        .map_err(|e| syntax_error(e.into()))?;
    check_depth(&tokens)?;
    let tokens = sqlite_forms(tokens);
    let reindex = tokens.iter().any(|t| {
        matches!(&t.token, Token::Word(w) if w.quote_style.is_none() && w.value.eq_ignore_ascii_case("reindex"))
    });
    if !reindex {
        let statements = Parser::new(&dialect)
            .with_recursion_limit(RECURSION_LIMIT)
            .with_tokens_with_locations(tokens)
            .parse_statements()
            .map_err(syntax_error)?;
        return statements.into_iter().map(statement).collect();
    }
    // REINDEX is not in sqlparser's grammar: statements are split at semicolons and a
    // REINDEX is read here; the rest go to the parser.
    let mut out = Vec::new();
    let mut segment: Vec<TokenWithSpan> = Vec::new();
    let flush = |segment: &mut Vec<TokenWithSpan>, out: &mut Vec<Statement>| -> Result<()> {
        let words: Vec<&TokenWithSpan> = segment
            .iter()
            .filter(|t| !matches!(t.token, Token::Whitespace(_) | Token::EOF))
            .collect();
        if words.is_empty() {
            segment.clear();
            return Ok(());
        }
        if let Token::Word(w) = &words[0].token
            && w.quote_style.is_none()
            && w.value.eq_ignore_ascii_case("reindex")
        {
            let name = match words.get(1).map(|t| &t.token) {
                None => None,
                Some(Token::Word(w)) if words.len() == 2 => Some(if w.quote_style.is_some() {
                    w.value.clone()
                } else {
                    w.value.to_lowercase()
                }),
                Some(_) => {
                    return Err(Error::Syntax {
                        message: "REINDEX takes at most one name".into(),
                        position: Some(position(words[1].span.start)),
                    });
                }
            };
            out.push(Statement::Reindex(name));
            segment.clear();
            return Ok(());
        }
        segment.push(TokenWithSpan::wrap(Token::EOF));
        let statements = Parser::new(&dialect)
            .with_recursion_limit(RECURSION_LIMIT)
            .with_tokens_with_locations(std::mem::take(segment))
            .parse_statements()
            .map_err(syntax_error)?;
        for statement in statements {
            out.push(self::statement(statement)?);
        }
        Ok(())
    };
    for token in tokens {
        match token.token {
            Token::SemiColon => flush(&mut segment, &mut out)?,
            Token::EOF => {}
            _ => segment.push(token),
        }
    }
    flush(&mut segment, &mut out)?;
    Ok(out)
}

fn position(location: sqlparser::tokenizer::Location) -> Position {
    Position {
        line: u32::try_from(location.line).unwrap_or(u32::MAX),
        column: u32::try_from(location.column).unwrap_or(u32::MAX),
    }
}

/// Rewrites SQLite forms sqlparser does not read into ones it does, with the same
/// meaning: `x IN ()` (an empty list) becomes `x IN (SELECT 1 WHERE FALSE)`, and the
/// hints `NOT INDEXED` / `INDEXED BY name` after a table name are dropped.
fn sqlite_forms(tokens: Vec<TokenWithSpan>) -> Vec<TokenWithSpan> {
    let is_word = |t: &TokenWithSpan, word: &str| matches!(&t.token, Token::Word(w) if w.quote_style.is_none() && w.value.eq_ignore_ascii_case(word));
    let mut out: Vec<TokenWithSpan> = Vec::with_capacity(tokens.len());
    let mut i = 0;
    // The index of the next token that is not whitespace, from `j`.
    let next =
        |j: usize| (j..tokens.len()).find(|&k| !matches!(tokens[k].token, Token::Whitespace(_)));
    while i < tokens.len() {
        let t = &tokens[i];
        if is_word(t, "in")
            && let Some(open) = next(i + 1)
            && tokens[open].token == Token::LParen
            && let Some(close) = next(open + 1)
            && tokens[close].token == Token::RParen
        {
            out.push(t.clone());
            let span = tokens[open].span;
            for piece in ["(", "SELECT", " ", "1", " ", "WHERE", " ", "FALSE", ")"] {
                let token = match piece {
                    "(" => Token::LParen,
                    ")" => Token::RParen,
                    " " => Token::Whitespace(sqlparser::tokenizer::Whitespace::Space),
                    "1" => Token::Number("1".into(), false),
                    word => Token::make_keyword(word),
                };
                out.push(TokenWithSpan::new(token, span));
            }
            i = close + 1;
            continue;
        }
        if is_word(t, "not")
            && let Some(k) = next(i + 1)
            && is_word(&tokens[k], "indexed")
        {
            i = k + 1;
            continue;
        }
        if is_word(t, "indexed")
            && let Some(by) = next(i + 1)
            && is_word(&tokens[by], "by")
            && let Some(name) = next(by + 1)
        {
            i = name + 1;
            continue;
        }
        out.push(t.clone());
        i += 1;
    }
    out
}

/// Parses the text of a query (a stored view's).
pub fn parse_query(sql: &str) -> Result<Query> {
    match parse(sql)?.pop() {
        Some(Statement::Select(query)) => Ok(*query),
        _ => Err(Error::Corrupt(format!(
            "a stored view is not a query: {sql}"
        ))),
    }
}

/// Refuses statements whose syntax tree would be deeper than [`MAX_EXPRESSION_DEPTH`].
///
/// sqlparser bounds nesting through parentheses, but parses a chain like
/// `1 + 1 + ... + 1` in a loop into a tree as deep as the chain is long; every later
/// walk of that tree (translation, planning, evaluation, even dropping it) recurses, and
/// a long enough chain would overflow the stack. A chain's depth is at most its number
/// of tokens, so count tokens between commas, per open parenthesis.
fn check_depth(tokens: &[TokenWithSpan]) -> Result<()> {
    let mut outer = 0usize; // tokens in the runs of the enclosing parentheses
    let mut stack: Vec<usize> = Vec::new();
    let mut run = 0usize;
    for token in tokens {
        match token.token {
            Token::Whitespace(_) | Token::EOF => continue,
            Token::Comma | Token::SemiColon => run = 0,
            Token::LParen => {
                stack.push(run);
                outer += run + 1;
                run = 0;
            }
            Token::RParen => {
                let before = stack.pop().unwrap_or(0);
                outer = outer.saturating_sub(before + 1);
                run = before + 1;
            }
            _ => run += 1,
        }
        if outer + run > MAX_EXPRESSION_DEPTH {
            return Err(Error::TooComplex(format!(
                "expression at line {}, column {} is nested or chained more than {MAX_EXPRESSION_DEPTH} \
                 levels deep; split it up",
                token.span.start.line, token.span.start.column
            )));
        }
    }
    Ok(())
}

/// Turns a sqlparser error into a syntax error with the position it names.
fn syntax_error(e: ParserError) -> Error {
    let text = match e {
        ParserError::TokenizerError(s) | ParserError::ParserError(s) => s,
        ParserError::RecursionLimitExceeded => {
            return Error::Syntax {
                message: format!("statement nested more than {RECURSION_LIMIT} levels deep"),
                position: None,
            };
        }
    };
    // sqlparser appends " at Line: L, Column: C" to its messages.
    if let Some(at) = text.rfind(" at Line: ") {
        let tail = &text[at + " at Line: ".len()..];
        let mut numbers = tail.split(", Column: ");
        let line = numbers.next().and_then(|n| n.trim().parse().ok());
        let column = numbers.next().and_then(|n| n.trim().parse().ok());
        if let (Some(line), Some(column)) = (line, column) {
            return Error::Syntax {
                message: text[..at].to_string(),
                position: Some(Position { line, column }),
            };
        }
    }
    Error::Syntax {
        message: text,
        position: None,
    }
}

fn unsupported<T>(what: impl Into<String>) -> Result<T> {
    Err(Error::Unsupported(what.into()))
}

/// An identifier as the catalog stores it: unquoted names fold to lower case.
fn ident(id: &sp::Ident) -> String {
    match id.quote_style {
        Some(_) => id.value.clone(),
        None => id.value.to_lowercase(),
    }
}

fn object_name(name: &sp::ObjectName) -> Result<String> {
    match name.0.as_slice() {
        [sp::ObjectNamePart::Identifier(id)] => Ok(ident(id)),
        _ => unsupported(format!("qualified name {name} (kvsql has no schemas)")),
    }
}

fn statement(stmt: sp::Statement) -> Result<Statement> {
    NEXT_QUESTION_MARK.with(|c| c.set(0));
    statement_body(stmt)
}

/// [`statement`], for a statement inside another (numbering its `?`s on from the
/// enclosing one's).
fn statement_body(stmt: sp::Statement) -> Result<Statement> {
    match stmt {
        sp::Statement::CreateTable(create) => create_table(create),
        sp::Statement::Drop {
            object_type: sp::ObjectType::Table,
            if_exists,
            names,
            cascade: false,
            ..
        } => Ok(Statement::DropTable {
            names: names.iter().map(object_name).collect::<Result<_>>()?,
            if_exists,
        }),
        sp::Statement::Drop {
            object_type: sp::ObjectType::Index,
            if_exists,
            names,
            cascade: false,
            table: None,
            ..
        } => Ok(Statement::DropIndex {
            names: names.iter().map(object_name).collect::<Result<_>>()?,
            if_exists,
        }),
        sp::Statement::Drop {
            object_type: sp::ObjectType::View,
            if_exists,
            names,
            cascade: false,
            ..
        } => Ok(Statement::DropView {
            names: names.iter().map(object_name).collect::<Result<_>>()?,
            if_exists,
        }),
        sp::Statement::Drop { object_type, .. } => unsupported(format!("DROP {object_type}")),
        sp::Statement::CreateIndex(create) => create_index(create),
        sp::Statement::AlterTable(alter) => alter_table(alter),
        sp::Statement::Insert(insert) => self::insert(insert),
        sp::Statement::Query(query) => match *query.body {
            // `WITH ... INSERT / UPDATE / DELETE`: the common table expressions are in
            // scope for the write's queries (its SELECT, its WHERE's subqueries).
            sp::SetExpr::Insert(write)
            | sp::SetExpr::Update(write)
            | sp::SetExpr::Delete(write)
                if query.order_by.is_none() && query.limit_clause.is_none() =>
            {
                let _ctes = query.with.as_ref().map(with_clause).transpose()?;
                statement_body(write)
            }
            _ => Ok(Statement::Select(Box::new(self::query(*query)?))),
        },
        sp::Statement::CreateView(view) => create_view(view),

        sp::Statement::Update(update) => self::update(update),
        sp::Statement::Delete(delete) => self::delete(delete),
        sp::Statement::Truncate(truncate) => self::truncate(truncate),
        sp::Statement::Explain {
            statement,
            analyze: false,
            ..
        } => Ok(Statement::Explain(Box::new(statement_body(*statement)?))),
        sp::Statement::Explain { .. } => unsupported("EXPLAIN ANALYZE"),
        sp::Statement::StartTransaction {
            modes, statements, ..
        } => {
            if !modes.is_empty() {
                return unsupported(
                    "transaction modes (every transaction runs with snapshot isolation)",
                );
            }
            if !statements.is_empty() {
                return unsupported("BEGIN ... END blocks");
            }
            Ok(Statement::Begin)
        }
        sp::Statement::Commit { chain: false, .. } => Ok(Statement::Commit),
        sp::Statement::Rollback {
            chain: false,
            savepoint: None,
        } => Ok(Statement::Rollback),
        sp::Statement::Commit { .. } | sp::Statement::Rollback { .. } => {
            unsupported("COMMIT AND CHAIN / ROLLBACK TO SAVEPOINT")
        }
        sp::Statement::ShowTables { .. } => Ok(Statement::ShowTables),
        sp::Statement::ExplainTable { table_name, .. } => {
            Ok(Statement::Describe(object_name(&table_name)?))
        }
        other => {
            let text = other.to_string();
            let words: Vec<&str> = text.split_whitespace().take(2).collect();
            unsupported(format!("the statement {}", words.join(" ")))
        }
    }
}

fn truncate(truncate: sp::Truncate) -> Result<Statement> {
    if truncate.partitions.is_some() {
        return unsupported("TRUNCATE ... PARTITION (kvsql tables have no partitions)");
    }
    if truncate.if_exists {
        return unsupported("TRUNCATE IF EXISTS");
    }
    if truncate.on_cluster.is_some() {
        return unsupported("TRUNCATE ... ON CLUSTER");
    }
    if matches!(truncate.identity, Some(sp::TruncateIdentityOption::Restart)) {
        return unsupported(
            "TRUNCATE ... RESTART IDENTITY (generated ids continue after a TRUNCATE)",
        );
    }
    if matches!(truncate.cascade, Some(sp::CascadeOption::Cascade)) {
        return unsupported("TRUNCATE ... CASCADE (kvsql has no foreign keys)");
    }
    // ONLY and `name *` choose whether inheriting tables go too; kvsql has none.
    Ok(Statement::Truncate {
        names: truncate
            .table_names
            .iter()
            .map(|target| object_name(&target.name))
            .collect::<Result<_>>()?,
    })
}

fn create_table(create: sp::CreateTable) -> Result<Statement> {
    if create.query.is_some() {
        return unsupported("CREATE TABLE ... AS SELECT");
    }
    if create.or_replace || create.temporary || create.external {
        return unsupported("CREATE OR REPLACE / TEMPORARY / EXTERNAL TABLE");
    }
    let mut columns = Vec::new();
    for column in &create.columns {
        columns.push(column_def(column)?);
    }
    let mut primary_key = Vec::new();
    let mut unique = Vec::new();
    for constraint in &create.constraints {
        match constraint {
            sp::TableConstraint::PrimaryKey(pk) => {
                if !primary_key.is_empty() {
                    return Err(Error::InvalidDefinition(
                        "a table can have only one PRIMARY KEY".into(),
                    ));
                }
                for column in &pk.columns {
                    match &column.column.expr {
                        sp::Expr::Identifier(id) => primary_key.push(ident(id)),
                        other => {
                            return unsupported(format!("PRIMARY KEY on expression {other}"));
                        }
                    }
                    if column.column.options.sort == Some(sp::OrderBySort::Desc) {
                        return unsupported("descending PRIMARY KEY columns");
                    }
                }
            }
            sp::TableConstraint::Unique(u) => unique.push(index_columns(&u.columns, "UNIQUE")?),
            other => return unsupported(format!("table constraint {other}")),
        }
    }
    Ok(Statement::CreateTable {
        name: object_name(&create.name)?,
        columns,
        primary_key,
        unique,
        if_not_exists: create.if_not_exists,
    })
}

/// Plain column names of an index or UNIQUE constraint. `ASC` and `DESC` are accepted
/// and do not change the index: it is stored ascending and read backwards when an
/// ORDER BY needs descending order.
fn index_columns(columns: &[sp::IndexColumn], what: &str) -> Result<Vec<String>> {
    columns
        .iter()
        .map(|column| match &column.column.expr {
            sp::Expr::Identifier(id) => Ok(ident(id)),
            other => unsupported(format!("{what} on the expression {other}")),
        })
        .collect()
}

fn create_index(create: sp::CreateIndex) -> Result<Statement> {
    let Some(name) = &create.name else {
        return Err(Error::InvalidDefinition(
            "CREATE INDEX needs a name: CREATE INDEX name ON table (columns)".into(),
        ));
    };
    if create.predicate.is_some() {
        return unsupported("partial indexes (CREATE INDEX ... WHERE)");
    }
    if create.using.is_some() || !create.include.is_empty() || !create.with.is_empty() {
        return unsupported("CREATE INDEX options (USING, INCLUDE, WITH)");
    }
    Ok(Statement::CreateIndex {
        name: object_name(name)?,
        table: object_name(&create.table_name)?,
        columns: index_columns(&create.columns, "an index")?,
        unique: create.unique,
        if_not_exists: create.if_not_exists,
    })
}

fn alter_table(alter: sp::AlterTable) -> Result<Statement> {
    if alter.if_exists || alter.only {
        return unsupported("ALTER TABLE IF EXISTS / ONLY");
    }
    let mut actions = Vec::new();
    for operation in &alter.operations {
        actions.push(match operation {
            sp::AlterTableOperation::AddColumn {
                if_not_exists,
                column_def: def,
                column_position: None,
                ..
            } => AlterAction::AddColumn {
                column: column_def(def)?,
                if_not_exists: *if_not_exists,
            },
            sp::AlterTableOperation::RenameTable { table_name } => {
                let (sp::RenameTableNameKind::To(name) | sp::RenameTableNameKind::As(name)) =
                    table_name;
                AlterAction::RenameTable(object_name(name)?)
            }
            sp::AlterTableOperation::RenameColumn {
                old_column_name,
                new_column_name,
            } => AlterAction::RenameColumn {
                old: ident(old_column_name),
                new: ident(new_column_name),
            },
            other => {
                let text = other.to_string();
                let words: Vec<&str> = text.split_whitespace().take(2).collect();
                return unsupported(format!("ALTER TABLE ... {}", words.join(" ")));
            }
        });
    }
    Ok(Statement::AlterTable {
        name: object_name(&alter.name)?,
        actions,
    })
}

fn data_type(ty: &sp::DataType) -> Result<DataType> {
    use sp::DataType as T;
    Ok(match ty {
        T::Int(_)
        | T::Integer(_)
        | T::BigInt(_)
        | T::SmallInt(_)
        | T::TinyInt(_)
        | T::Int2(_)
        | T::Int4(_)
        | T::Int8(_)
        | T::Int64 => DataType::Integer,
        T::Real
        | T::Double(_)
        | T::DoublePrecision
        | T::Float(_)
        | T::Float4
        | T::Float8
        | T::Float64 => DataType::Real,
        T::Text
        | T::Varchar(_)
        | T::Char(_)
        | T::Character(_)
        | T::CharacterVarying(_)
        | T::String(_) => DataType::Text,
        T::Blob(_) | T::Bytea | T::Binary(_) | T::Varbinary(_) => DataType::Blob,
        T::Boolean | T::Bool => DataType::Boolean,
        other => return unsupported(format!("the column type {other}")),
    })
}

fn column_def(column: &sp::ColumnDef) -> Result<ColumnDef> {
    let mut def = ColumnDef {
        name: ident(&column.name),
        data_type: data_type(&column.data_type)?,
        nullable: None,
        primary_key: false,
        unique: false,
        default: None,
    };
    for option in &column.options {
        match &option.option {
            sp::ColumnOption::Null => def.nullable = Some(true),
            sp::ColumnOption::NotNull => def.nullable = Some(false),
            sp::ColumnOption::Default(e) => def.default = Some(expr(e)?),
            sp::ColumnOption::PrimaryKey(_) => def.primary_key = true,
            sp::ColumnOption::Unique(_) => def.unique = true,
            other => return unsupported(format!("the column constraint {other}")),
        }
    }
    Ok(def)
}

fn insert(insert: sp::Insert) -> Result<Statement> {
    let replace = insert.replace_into || insert.or == Some(sp::SqliteOnConflict::Replace);
    let ignore = insert.ignore || insert.or == Some(sp::SqliteOnConflict::Ignore);
    if insert.or.is_some() && !replace && !ignore {
        return unsupported("INSERT OR ROLLBACK / ABORT / FAIL");
    }
    let on_conflict = match &insert.on {
        None if replace => Some(OnConflict {
            target: Vec::new(),
            action: ConflictAction::Replace,
        }),
        None if ignore => Some(OnConflict {
            target: Vec::new(),
            action: ConflictAction::Nothing,
        }),
        None => None,
        Some(_) if replace || ignore => {
            return unsupported("ON CONFLICT together with INSERT OR REPLACE / IGNORE");
        }
        Some(sp::OnInsert::OnConflict(conflict)) => Some(on_conflict(conflict)?),
        Some(_) => return unsupported("ON DUPLICATE KEY UPDATE (use ON CONFLICT ... DO UPDATE)"),
    };
    let table = match &insert.table {
        sp::TableObject::TableName(name) => object_name(name)?,
        _ => return unsupported("INSERT INTO anything but a table name"),
    };
    let columns = if insert.columns.is_empty() {
        None
    } else {
        Some(
            insert
                .columns
                .iter()
                .map(object_name)
                .collect::<Result<_>>()?,
        )
    };
    let Some(source) = insert.source else {
        return unsupported("INSERT without VALUES");
    };
    let source = match *source.body {
        sp::SetExpr::Values(values)
            if source.order_by.is_none() && source.limit_clause.is_none() =>
        {
            InsertSource::Values(
                values
                    .rows
                    .iter()
                    .map(|row| row.content.iter().map(expr).collect::<Result<Vec<_>>>())
                    .collect::<Result<_>>()?,
            )
        }
        body => InsertSource::Query(Box::new(query(sp::Query {
            body: Box::new(body),
            ..*source
        })?)),
    };
    Ok(Statement::Insert {
        table,
        columns,
        source,
        on_conflict,
        returning: returning(&insert.returning)?,
    })
}

fn assignments(assignments: &[sp::Assignment]) -> Result<Vec<(String, Expr)>> {
    let mut set = Vec::new();
    for assignment in assignments {
        let sp::AssignmentTarget::ColumnName(name) = &assignment.target else {
            return unsupported("assignment to a tuple of columns");
        };
        set.push((object_name(name)?, expr(&assignment.value)?));
    }
    Ok(set)
}

fn on_conflict(conflict: &sp::OnConflict) -> Result<OnConflict> {
    let target = match &conflict.conflict_target {
        None => Vec::new(),
        Some(sp::ConflictTarget::Columns {
            columns,
            predicate: None,
        }) => columns.iter().map(ident).collect(),
        Some(_) => return unsupported("ON CONFLICT ON CONSTRAINT / WHERE"),
    };
    let action = match &conflict.action {
        sp::OnConflictAction::DoNothing => ConflictAction::Nothing,
        sp::OnConflictAction::DoUpdate(update) => ConflictAction::Update {
            set: assignments(&update.assignments)?,
            filter: update.selection.as_ref().map(expr).transpose()?,
        },
    };
    Ok(OnConflict { target, action })
}

/// The single plain table of an UPDATE or DELETE.
fn single_table(tables: &[sp::TableWithJoins], what: &str) -> Result<String> {
    match tables {
        [sp::TableWithJoins { relation, joins }] if joins.is_empty() => match relation {
            sp::TableFactor::Table {
                name, alias: None, ..
            } => object_name(name),
            _ => unsupported(format!("{what} of anything but a plain table name")),
        },
        _ => unsupported(format!("{what} of several tables")),
    }
}

fn update(update: sp::Update) -> Result<Statement> {
    if update.from.is_some() || update.limit.is_some() {
        return unsupported("UPDATE ... FROM / LIMIT");
    }
    let table = single_table(std::slice::from_ref(&update.table), "UPDATE")?;
    let set = assignments(&update.assignments)?;
    Ok(Statement::Update {
        table,
        set,
        filter: update.selection.as_ref().map(expr).transpose()?,
        returning: returning(&update.returning)?,
    })
}

fn delete(delete: sp::Delete) -> Result<Statement> {
    if delete.using.is_some() || delete.limit.is_some() {
        return unsupported("DELETE ... USING / LIMIT");
    }
    let tables = match &delete.from {
        sp::FromTable::WithFromKeyword(t) | sp::FromTable::WithoutKeyword(t) => t,
    };
    Ok(Statement::Delete {
        table: single_table(tables, "DELETE")?,
        filter: delete.selection.as_ref().map(expr).transpose()?,
        returning: returning(&delete.returning)?,
    })
}

fn query(query: sp::Query) -> Result<Query> {
    // In scope for the rest of this query, subqueries included, until it is translated.
    let _ctes = query.with.as_ref().map(with_clause).transpose()?;
    if query.fetch.is_some() || !query.locks.is_empty() {
        return unsupported("FETCH / FOR UPDATE");
    }
    let mut order_by = Vec::new();
    if let Some(order) = &query.order_by {
        let sp::OrderByKind::Expressions(terms) = &order.kind else {
            return unsupported("ORDER BY ALL");
        };
        for term in terms {
            order_by.push(order_term(term)?);
        }
    }
    let (limit, offset) = match &query.limit_clause {
        None => (None, None),
        Some(sp::LimitClause::LimitOffset {
            limit,
            offset,
            limit_by,
        }) => {
            if !limit_by.is_empty() {
                return unsupported("LIMIT BY");
            }
            (
                limit.as_ref().map(expr).transpose()?,
                offset.as_ref().map(|o| expr(&o.value)).transpose()?,
            )
        }
        Some(sp::LimitClause::OffsetCommaLimit { offset, limit }) => {
            (Some(expr(limit)?), Some(expr(offset)?))
        }
    };
    Ok(Query {
        body: set_expr(*query.body)?,
        order_by,
        limit,
        offset,
    })
}

thread_local! {
    /// The common table expressions (`WITH name AS (...)`) in scope while a query is
    /// translated, innermost last.
    static CTES: std::cell::RefCell<Vec<Cte>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// A common table expression, translated once where it is defined (so that `?`
/// parameters are numbered in the order they are written) and copied into each query
/// that names it, as a subquery in FROM.
struct Cte {
    name: String,
    body: CteBody,
    columns: Vec<String>,
}

enum CteBody {
    Plain(Query),
    Recursive {
        id: usize,
        base: Query,
        step: Query,
        all: bool,
    },
    /// The name of a recursive one, inside its own step: the rows of its last round.
    /// `used` records that the step named it (else the query is not recursive).
    Working {
        id: usize,
        used: std::cell::Cell<bool>,
    },
}

/// Numbers the recursive common table expressions of a statement (and beyond: the ids
/// only need to differ between those that can run inside one another).
static NEXT_RECURSIVE: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Takes the common table expressions of a WITH clause out of scope when dropped, also
/// when translating the query fails.
struct CteScope(usize);

impl Drop for CteScope {
    fn drop(&mut self) {
        CTES.with(|ctes| ctes.borrow_mut().truncate(self.0));
    }
}

/// Puts a WITH clause's common table expressions in scope. Each sees the ones before
/// it and those of enclosing queries; with RECURSIVE, a `base UNION [ALL] step` one
/// also sees itself in its step.
fn with_clause(with: &sp::With) -> Result<CteScope> {
    let scope = CteScope(CTES.with(|ctes| ctes.borrow().len()));
    let mut names: Vec<String> = Vec::new();
    for cte in &with.cte_tables {
        let name = ident(&cte.alias.name);
        if names.contains(&name) {
            return Err(Error::InvalidDefinition(format!(
                "WITH query name \"{name}\" is specified more than once"
            )));
        }
        if cte.from.is_some() {
            return unsupported("WITH ... AS (...) FROM");
        }
        let body = if with.recursive {
            recursive_body(&name, &cte.query)?
        } else {
            CteBody::Plain(query((*cte.query).clone())?)
        };
        let columns = alias_columns(&cte.alias)?;
        CTES.with(|ctes| {
            ctes.borrow_mut().push(Cte {
                name: name.clone(),
                body,
                columns,
            })
        });
        names.push(name);
    }
    Ok(scope)
}

/// The body of a common table expression of WITH RECURSIVE: recursive if it is
/// `base UNION [ALL] step` and the step names it.
fn recursive_body(name: &str, cte: &sp::Query) -> Result<CteBody> {
    let sp::SetExpr::SetOperation {
        op: sp::SetOperator::Union,
        set_quantifier,
        left,
        right,
    } = cte.body.as_ref()
    else {
        return Ok(CteBody::Plain(query(cte.clone())?));
    };
    let all = match set_quantifier {
        sp::SetQuantifier::All => true,
        sp::SetQuantifier::Distinct | sp::SetQuantifier::None => false,
        other => return unsupported(format!("UNION {other}")),
    };
    if cte.with.is_some()
        || cte.order_by.is_some()
        || cte.limit_clause.is_some()
        || cte.fetch.is_some()
    {
        return unsupported(format!(
            "WITH, ORDER BY or LIMIT on the whole of recursive query {name}"
        ));
    }
    let as_query = |body: SetExpr| Query {
        body,
        order_by: Vec::new(),
        limit: None,
        offset: None,
    };
    let base = as_query(set_expr((**left).clone())?);
    let id = NEXT_RECURSIVE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let depth = CTES.with(|ctes| ctes.borrow().len());
    let _working = CteScope(depth);
    CTES.with(|ctes| {
        ctes.borrow_mut().push(Cte {
            name: name.to_string(),
            body: CteBody::Working {
                id,
                used: std::cell::Cell::new(false),
            },
            columns: Vec::new(),
        })
    });
    let step = as_query(set_expr((**right).clone())?);
    let used = CTES.with(|ctes| match &ctes.borrow()[depth].body {
        CteBody::Working { used, .. } => used.get(),
        _ => false,
    });
    if !used {
        // Not recursive after all: a plain UNION.
        return Ok(CteBody::Plain(as_query(SetExpr::SetOp {
            op: SetOp::Union,
            all,
            left: Box::new(base.body),
            right: Box::new(step.body),
        })));
    }
    Ok(CteBody::Recursive {
        id,
        base,
        step,
        all,
    })
}

/// The column names of `alias (a, b, ...)`.
fn alias_columns(alias: &sp::TableAlias) -> Result<Vec<String>> {
    alias
        .columns
        .iter()
        .map(|c| match c.data_type {
            None => Ok(ident(&c.name)),
            Some(_) => unsupported("column types in a table alias"),
        })
        .collect()
}

/// The innermost common table expression in scope called `name`, as a FROM item.
fn cte_reference(name: &str, alias: Option<&sp::TableAlias>) -> Result<Option<FromItem>> {
    CTES.with(|ctes| {
        let ctes = ctes.borrow();
        let Some(cte) = ctes.iter().rev().find(|cte| cte.name == name) else {
            return Ok(None);
        };
        let (alias, renamed) = match alias {
            None => (name.to_string(), Vec::new()),
            Some(a) => (ident(&a.name), alias_columns(a)?),
        };
        let columns = if renamed.is_empty() {
            cte.columns.clone()
        } else {
            renamed.clone()
        };
        Ok(Some(match &cte.body {
            CteBody::Plain(query) => FromItem::Subquery {
                query: Box::new(query.clone()),
                alias: Some(alias),
                columns,
            },
            CteBody::Recursive {
                id,
                base,
                step,
                all,
            } => FromItem::Recursive {
                id: *id,
                base: Box::new(base.clone()),
                step: Box::new(step.clone()),
                all: *all,
                alias,
                columns: cte.columns.clone(),
                renamed,
            },
            CteBody::Working { id, used } => {
                if !renamed.is_empty() {
                    return unsupported(format!(
                        "column names on {name} inside its own recursive query"
                    ));
                }
                used.set(true);
                FromItem::Working { id: *id, alias }
            }
        }))
    })
}

/// The character of `LIKE ... ESCAPE 'c'`.
fn escape_character(e: &sp::Expr) -> Result<char> {
    if let Expr::Literal(Value::Text(text)) = expr(e)? {
        let mut chars = text.chars();
        if let (Some(c), None) = (chars.next(), chars.next()) {
            return Ok(c);
        }
    }
    Err(Error::InvalidValue(format!(
        "ESCAPE takes one character in quotes, not {e}"
    )))
}

fn order_term(term: &sp::OrderByExpr) -> Result<OrderTerm> {
    if term.with_fill.is_some() {
        return unsupported("ORDER BY ... WITH FILL");
    }
    Ok(OrderTerm {
        expr: expr(&term.expr)?,
        descending: match term.options.sort {
            None | Some(sp::OrderBySort::Asc) => false,
            Some(sp::OrderBySort::Desc) => true,
            Some(_) => return unsupported("ORDER BY ... USING"),
        },
        nulls_first: term.options.nulls_first,
    })
}

fn set_expr(body: sp::SetExpr) -> Result<SetExpr> {
    Ok(match body {
        sp::SetExpr::Select(select) => SetExpr::Select(Box::new(self::select(*select)?)),
        sp::SetExpr::SetOperation {
            left,
            op,
            set_quantifier,
            right,
        } => {
            let op = match op {
                sp::SetOperator::Union => SetOp::Union,
                sp::SetOperator::Intersect => SetOp::Intersect,
                sp::SetOperator::Except => SetOp::Except,
                other => return unsupported(format!("the set operation {other}")),
            };
            let all = match set_quantifier {
                sp::SetQuantifier::All => true,
                sp::SetQuantifier::Distinct | sp::SetQuantifier::None => false,
                other => return unsupported(format!("{op:?} {other}")),
            };
            SetExpr::SetOp {
                op,
                all,
                left: Box::new(set_expr(*left)?),
                right: Box::new(set_expr(*right)?),
            }
        }
        sp::SetExpr::Values(values) => SetExpr::Values(
            values
                .rows
                .iter()
                .map(|row| row.content.iter().map(expr).collect::<Result<Vec<_>>>())
                .collect::<Result<_>>()?,
        ),
        sp::SetExpr::Query(inner) => SetExpr::Query(Box::new(query(*inner)?)),
        other => return unsupported(format!("the query {other}")),
    })
}

fn select(body: sp::Select) -> Result<Select> {
    if !body.named_window.is_empty() {
        return unsupported("named windows (OVER name, WINDOW clauses)");
    }
    if body.qualify.is_some() {
        return unsupported("QUALIFY");
    }
    let distinct = match &body.distinct {
        None | Some(sp::Distinct::All) => false,
        Some(sp::Distinct::Distinct) => true,
        Some(other) => return unsupported(format!("SELECT {other}")),
    };
    let group_by = match &body.group_by {
        sp::GroupByExpr::Expressions(exprs, modifiers) if modifiers.is_empty() => {
            exprs.iter().map(expr).collect::<Result<_>>()?
        }
        _ => return unsupported("GROUP BY ALL / ROLLUP / CUBE"),
    };
    let mut from = Vec::new();
    for table in &body.from {
        let mut item = from_item(&table.relation)?;
        for join in &table.joins {
            let (kind, constraint) = match &join.join_operator {
                sp::JoinOperator::Join(c) | sp::JoinOperator::Inner(c) => (JoinKind::Inner, c),
                sp::JoinOperator::Left(c) | sp::JoinOperator::LeftOuter(c) => (JoinKind::Left, c),
                sp::JoinOperator::Right(c) | sp::JoinOperator::RightOuter(c) => {
                    (JoinKind::Right, c)
                }
                sp::JoinOperator::CrossJoin(c) => (JoinKind::Inner, c),
                sp::JoinOperator::FullOuter(c) => (JoinKind::Full, c),
                other => {
                    let text = format!("{other:?}");
                    let name: String = text.chars().take_while(|c| c.is_alphanumeric()).collect();
                    return unsupported(format!("{name} joins"));
                }
            };
            let constraint = match constraint {
                sp::JoinConstraint::On(e) => JoinConstraint::On(expr(e)?),
                sp::JoinConstraint::Using(names) => {
                    JoinConstraint::Using(names.iter().map(object_name).collect::<Result<_>>()?)
                }
                sp::JoinConstraint::Natural => JoinConstraint::Natural,
                sp::JoinConstraint::None => JoinConstraint::None,
                sp::JoinConstraint::UsingAlias(..) => return unsupported("USING (...) AS alias"),
            };
            item = FromItem::Join {
                left: Box::new(item),
                right: Box::new(from_item(&join.relation)?),
                kind,
                constraint,
            };
        }
        from.push(item);
    }
    Ok(Select {
        distinct,
        projection: select_items(&body.projection)?,
        from,
        filter: body.selection.as_ref().map(expr).transpose()?,
        group_by,
        having: body.having.as_ref().map(expr).transpose()?,
    })
}

fn from_item(relation: &sp::TableFactor) -> Result<FromItem> {
    let alias_of = |alias: &Option<sp::TableAlias>| -> Result<Option<String>> {
        match alias {
            None => Ok(None),
            Some(a) if a.columns.is_empty() => Ok(Some(ident(&a.name))),
            Some(_) => unsupported("column aliases on a table alias, t(a, b)"),
        }
    };
    Ok(match relation {
        sp::TableFactor::Table {
            name,
            alias,
            args: None,
            with_hints,
            ..
        } if with_hints.is_empty() => {
            let name = object_name(name)?;
            match cte_reference(&name, alias.as_ref())? {
                Some(item) => item,
                None => FromItem::Table {
                    name,
                    alias: alias_of(alias)?,
                },
            }
        }
        sp::TableFactor::Derived {
            lateral: false,
            subquery,
            alias,
            ..
        } => FromItem::Subquery {
            query: Box::new(query((**subquery).clone())?),
            alias: alias.as_ref().map(|a| ident(&a.name)),
            columns: alias.as_ref().map_or(Ok(Vec::new()), alias_columns)?,
        },
        sp::TableFactor::NestedJoin {
            table_with_joins,
            alias: None,
        } => {
            let mut item = from_item(&table_with_joins.relation)?;
            if !table_with_joins.joins.is_empty() {
                let select = select(sp::Select {
                    from: vec![(**table_with_joins).clone()],
                    ..empty_select()
                })?;
                item = select.from.into_iter().next().expect("one item");
            }
            item
        }
        other => {
            let text = other.to_string();
            let head: String = text.chars().take(40).collect();
            return unsupported(format!("FROM {head}"));
        }
    })
}

/// A SELECT with nothing in it, to fill in the parts a caller sets.
fn empty_select() -> sp::Select {
    match Parser::parse_sql(&GenericDialect {}, "SELECT 1")
        .ok()
        .and_then(|mut s| s.pop())
    {
        Some(sp::Statement::Query(q)) => match *q.body {
            sp::SetExpr::Select(s) => *s,
            _ => unreachable!("SELECT 1 is a select"),
        },
        _ => unreachable!("SELECT 1 parses"),
    }
}

fn create_view(view: sp::CreateView) -> Result<Statement> {
    if view.or_replace || view.materialized || view.or_alter {
        return unsupported("CREATE OR REPLACE / MATERIALIZED VIEW");
    }
    let sql = view.query.to_string();
    Ok(Statement::CreateView {
        name: object_name(&view.name)?,
        columns: view.columns.iter().map(|c| ident(&c.name)).collect(),
        query: Box::new(query(*view.query)?),
        sql,
        if_not_exists: view.if_not_exists,
    })
}

/// A SELECT list (or RETURNING list).
fn select_items(items: &[sp::SelectItem]) -> Result<Vec<SelectItem>> {
    items
        .iter()
        .map(|item| {
            Ok(match item {
                sp::SelectItem::Wildcard(_) => SelectItem::Wildcard,
                sp::SelectItem::QualifiedWildcard(
                    sp::SelectItemQualifiedWildcardKind::ObjectName(name),
                    _,
                ) => SelectItem::QualifiedWildcard(object_name(name)?),
                sp::SelectItem::UnnamedExpr(e) => SelectItem::Expr {
                    expr: expr(e)?,
                    label: match e {
                        sp::Expr::Identifier(id) => ident(id),
                        sp::Expr::CompoundIdentifier(ids) => {
                            ident(ids.last().expect("compound identifier has parts"))
                        }
                        other => other.to_string(),
                    },
                },
                sp::SelectItem::ExprWithAlias { expr: e, alias } => SelectItem::Expr {
                    expr: expr(e)?,
                    label: ident(alias),
                },
                other => return unsupported(format!("the select item {other}")),
            })
        })
        .collect()
}

fn returning(items: &Option<Vec<sp::SelectItem>>) -> Result<Vec<SelectItem>> {
    items.as_deref().map_or(Ok(Vec::new()), select_items)
}

fn expr(e: &sp::Expr) -> Result<Expr> {
    let boxed = |e: &sp::Expr| expr(e).map(Box::new);
    Ok(match e {
        sp::Expr::Identifier(id) => Expr::Name {
            table: None,
            column: ident(id),
        },
        sp::Expr::CompoundIdentifier(ids) => match ids.as_slice() {
            [table, column] => Expr::Name {
                table: Some(ident(table)),
                column: ident(column),
            },
            _ => return unsupported(format!("the qualified name {e}")),
        },
        sp::Expr::Value(sp::ValueWithSpan {
            value: sp::Value::Placeholder(p),
            ..
        }) => parameter(p)?,
        sp::Expr::Value(v) => Expr::Literal(literal(&v.value)?),
        sp::Expr::Nested(inner) => expr(inner)?,
        sp::Expr::IsNull(inner) => Expr::IsNull {
            expr: boxed(inner)?,
            negated: false,
        },
        sp::Expr::IsNotNull(inner) => Expr::IsNull {
            expr: boxed(inner)?,
            negated: true,
        },
        sp::Expr::UnaryOp { op, expr: inner } => {
            let op = match op {
                sp::UnaryOperator::Not => UnaryOp::Not,
                sp::UnaryOperator::Minus => UnaryOp::Minus,
                sp::UnaryOperator::Plus => UnaryOp::Plus,
                sp::UnaryOperator::BitwiseNot => UnaryOp::BitNot,
                other => return unsupported(format!("the operator {other}")),
            };
            // Fold -<literal> so that i64::MIN is writable.
            if let (UnaryOp::Minus, sp::Expr::Value(v)) = (op, inner.as_ref())
                && let sp::Value::Number(n, _) = &v.value
            {
                return Ok(Expr::Literal(number(&format!("-{n}"))?));
            }
            Expr::Unary(op, boxed(inner)?)
        }
        sp::Expr::BinaryOp { left, op, right } => {
            let op = match op {
                sp::BinaryOperator::And => BinaryOp::And,
                sp::BinaryOperator::Or => BinaryOp::Or,
                sp::BinaryOperator::Eq => BinaryOp::Eq,
                sp::BinaryOperator::NotEq => BinaryOp::NotEq,
                sp::BinaryOperator::Lt => BinaryOp::Lt,
                sp::BinaryOperator::LtEq => BinaryOp::LtEq,
                sp::BinaryOperator::Gt => BinaryOp::Gt,
                sp::BinaryOperator::GtEq => BinaryOp::GtEq,
                sp::BinaryOperator::Plus => BinaryOp::Add,
                sp::BinaryOperator::Minus => BinaryOp::Sub,
                sp::BinaryOperator::Multiply => BinaryOp::Mul,
                sp::BinaryOperator::Divide => BinaryOp::Div,
                sp::BinaryOperator::Modulo => BinaryOp::Mod,
                sp::BinaryOperator::StringConcat => BinaryOp::Concat,
                sp::BinaryOperator::BitwiseAnd => BinaryOp::BitAnd,
                sp::BinaryOperator::BitwiseOr => BinaryOp::BitOr,
                sp::BinaryOperator::PGBitwiseShiftLeft => BinaryOp::ShiftLeft,
                sp::BinaryOperator::PGBitwiseShiftRight => BinaryOp::ShiftRight,
                other => return unsupported(format!("the operator {other}")),
            };
            Expr::Binary(op, boxed(left)?, boxed(right)?)
        }
        sp::Expr::In { .. } | sp::Expr::Between { .. } => rare_expr(e)?,
        sp::Expr::Function(_)
        | sp::Expr::Subquery(_)
        | sp::Expr::Exists { .. }
        | sp::Expr::Case { .. }
        | sp::Expr::Cast { .. }
        | sp::Expr::Like { .. }
        | sp::Expr::ILike { .. }
        | sp::Expr::Substring { .. }
        | sp::Expr::Trim { .. } => rare_expr(e)?,
        other => {
            let text = other.to_string();
            let head: String = text.chars().take(40).collect();
            return unsupported(format!("the expression {head}"));
        }
    })
}

/// The less common expression forms, out of `expr` so that its frame stays small.
#[inline(never)]
#[allow(clippy::boxed_local)]
fn rare_expr(e: &sp::Expr) -> Result<Expr> {
    let boxed = |e: &sp::Expr| expr(e).map(Box::new);
    Ok(match e {
        sp::Expr::In {
            expr: inner,
            target: sp::InTarget::List(list),
            negated,
            global: false,
        } => Expr::InList {
            expr: boxed(inner)?,
            list: list.iter().map(expr).collect::<Result<_>>()?,
            negated: *negated,
        },
        sp::Expr::In {
            expr: inner,
            target: sp::InTarget::Subquery(subquery),
            negated,
            global: false,
        } => Expr::Subquery {
            kind: SubqueryKind::In {
                expr: boxed(inner)?,
                negated: *negated,
            },
            query: Box::new(query((**subquery).clone())?),
        },
        sp::Expr::In {
            expr: inner,
            target: sp::InTarget::Table { name, args: None },
            negated,
            global: false,
        } => {
            // SQLite's `x IN table`: the table's only column.
            let sql = format!("SELECT * FROM {name}");
            let query = match parse(&sql)?.pop() {
                Some(Statement::Select(query)) => query,
                _ => return unsupported("IN table"),
            };
            Expr::Subquery {
                kind: SubqueryKind::In {
                    expr: boxed(inner)?,
                    negated: *negated,
                },
                query,
            }
        }
        sp::Expr::In { .. } => return unsupported("IN with anything but a list or a subquery"),
        sp::Expr::Subquery(subquery) => Expr::Subquery {
            kind: SubqueryKind::Scalar,
            query: Box::new(query((**subquery).clone())?),
        },
        sp::Expr::Exists { subquery, negated } => Expr::Subquery {
            kind: SubqueryKind::Exists { negated: *negated },
            query: Box::new(query((**subquery).clone())?),
        },
        sp::Expr::Case {
            operand,
            conditions,
            else_result,
            ..
        } => Expr::Case {
            operand: operand.as_deref().map(boxed).transpose()?,
            branches: conditions
                .iter()
                .map(|c| Ok((expr(&c.condition)?, expr(&c.result)?)))
                .collect::<Result<_>>()?,
            otherwise: else_result.as_deref().map(boxed).transpose()?,
        },
        sp::Expr::Cast {
            kind: sp::CastKind::Cast | sp::CastKind::DoubleColon,
            expr: inner,
            data_type: ty,
            format: None,
        } => Expr::Cast {
            expr: boxed(inner)?,
            to: data_type(ty)?,
        },
        // kvsql's LIKE already ignores the case of ASCII letters (as SQLite's does), so
        // ILIKE is the same.
        sp::Expr::Like {
            negated,
            any: false,
            expr: inner,
            pattern,
            escape_char,
        }
        | sp::Expr::ILike {
            negated,
            any: false,
            expr: inner,
            pattern,
            escape_char,
        } => Expr::Like {
            expr: boxed(inner)?,
            pattern: boxed(pattern)?,
            negated: *negated,
            escape: escape_char.as_deref().map(escape_character).transpose()?,
        },
        sp::Expr::Function(f) => function(f)?,
        sp::Expr::Substring {
            expr: inner,
            substring_from,
            substring_for,
            ..
        } => {
            let mut args = vec![expr(inner)?];
            args.push(match substring_from {
                Some(from) => expr(from)?,
                None => Expr::Literal(Value::Integer(1)),
            });
            if let Some(length) = substring_for {
                args.push(expr(length)?);
            }
            Expr::Function {
                name: "substr".into(),
                args,
                distinct: false,
                star: false,
            }
        }
        sp::Expr::Trim {
            trim_where,
            trim_what,
            expr: inner,
            trim_characters,
        } => {
            let name = match trim_where {
                None | Some(sp::TrimWhereField::Both) => "trim",
                Some(sp::TrimWhereField::Leading) => "ltrim",
                Some(sp::TrimWhereField::Trailing) => "rtrim",
            };
            let mut args = vec![expr(inner)?];
            match (trim_what, trim_characters) {
                (Some(what), _) => args.push(expr(what)?),
                (None, Some(chars)) if chars.len() == 1 => args.push(expr(&chars[0])?),
                (None, Some(_)) => return unsupported("TRIM with several character lists"),
                (None, None) => {}
            }
            Expr::Function {
                name: name.into(),
                args,
                distinct: false,
                star: false,
            }
        }
        sp::Expr::Between {
            expr: inner,
            negated,
            low,
            high,
        } => Expr::Between {
            expr: boxed(inner)?,
            low: boxed(low)?,
            high: boxed(high)?,
            negated: *negated,
        },
        other => return unsupported(format!("the expression {other}")),
    })
}

fn function(f: &sp::Function) -> Result<Expr> {
    let name = object_name(&f.name)?.to_lowercase();
    if f.filter.is_some() || !f.within_group.is_empty() {
        return unsupported(format!("FILTER / WITHIN GROUP on {name}"));
    }
    if f.null_treatment.is_some() {
        return unsupported(format!("IGNORE / RESPECT NULLS on {name}"));
    }
    let (args, distinct, star) = match &f.args {
        sp::FunctionArguments::None => (Vec::new(), false, false),
        sp::FunctionArguments::Subquery(_) => {
            return unsupported(format!("a subquery as the argument of {name}"));
        }
        sp::FunctionArguments::List(list) => {
            if !list.clauses.is_empty() {
                return unsupported(format!("clauses inside the arguments of {name}"));
            }
            let distinct = matches!(
                list.duplicate_treatment,
                Some(sp::DuplicateTreatment::Distinct)
            );
            let mut args = Vec::new();
            let mut star = false;
            for arg in &list.args {
                match arg {
                    sp::FunctionArg::Unnamed(sp::FunctionArgExpr::Expr(e)) => args.push(expr(e)?),
                    sp::FunctionArg::Unnamed(sp::FunctionArgExpr::Wildcard) => star = true,
                    _ => return unsupported(format!("named or qualified arguments of {name}")),
                }
            }
            (args, distinct, star)
        }
    };
    let Some(over) = &f.over else {
        return Ok(Expr::Function {
            name,
            args,
            distinct,
            star,
        });
    };
    let spec = match over {
        sp::WindowType::WindowSpec(spec) if spec.window_name.is_none() => spec,
        _ => return unsupported("named windows (OVER name, WINDOW clauses)"),
    };
    let frame = match &spec.window_frame {
        None => Frame::Default,
        Some(frame) => window_frame(frame)?,
    };
    Ok(Expr::Window(Box::new(WindowCall {
        func: WindowFunc::Named {
            name,
            distinct,
            star,
        },
        args,
        partition_by: spec.partition_by.iter().map(expr).collect::<Result<_>>()?,
        order_by: spec
            .order_by
            .iter()
            .map(order_term)
            .collect::<Result<_>>()?,
        frame,
    })))
}

/// A window frame: ROWS between any two bounds, or the two RANGE frames that need no
/// offsets (up to the current row's peers, which is the default, and the whole
/// partition).
fn window_frame(frame: &sp::WindowFrame) -> Result<Frame> {
    let end = frame
        .end_bound
        .as_ref()
        .unwrap_or(&sp::WindowFrameBound::CurrentRow);
    let bound = |b: &sp::WindowFrameBound| -> Result<FrameBound> {
        let rows = |n: &sp::Expr| match expr(n)? {
            Expr::Literal(Value::Integer(n)) if n >= 0 => Ok(n as u64),
            _ => Err(Error::InvalidValue(format!(
                "a frame offset must be a non-negative integer, not {n}"
            ))),
        };
        Ok(match b {
            sp::WindowFrameBound::CurrentRow => FrameBound::CurrentRow,
            sp::WindowFrameBound::Preceding(None) => FrameBound::UnboundedPreceding,
            sp::WindowFrameBound::Preceding(Some(n)) => FrameBound::Preceding(rows(n)?),
            sp::WindowFrameBound::Following(None) => FrameBound::UnboundedFollowing,
            sp::WindowFrameBound::Following(Some(n)) => FrameBound::Following(rows(n)?),
        })
    };
    let (start, end) = (bound(&frame.start_bound)?, bound(end)?);
    if start == FrameBound::UnboundedFollowing || end == FrameBound::UnboundedPreceding {
        return Err(Error::InvalidDefinition(format!(
            "a frame cannot start at UNBOUNDED FOLLOWING or end at UNBOUNDED PRECEDING \
             ({start} AND {end})"
        )));
    }
    match frame.units {
        sp::WindowFrameUnits::Rows => Ok(Frame::Rows { start, end }),
        sp::WindowFrameUnits::Range => match (start, end) {
            (FrameBound::UnboundedPreceding, FrameBound::CurrentRow) => Ok(Frame::Default),
            (FrameBound::UnboundedPreceding, FrameBound::UnboundedFollowing) => {
                Ok(Frame::Partition)
            }
            _ => unsupported(
                "RANGE frames with offsets or starting at the current row (ROWS frames are \
                 supported)",
            ),
        },
        sp::WindowFrameUnits::Groups => unsupported("GROUPS frames (ROWS frames are supported)"),
    }
}

thread_local! {
    /// The next number of a `?` parameter in the statement being translated.
    static NEXT_QUESTION_MARK: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// A parameter: `$1`, `$2`, ... by number, or `?` numbered in order of appearance.
fn parameter(p: &str) -> Result<Expr> {
    if p == "?" {
        let n = NEXT_QUESTION_MARK.with(|c| {
            let n = c.get();
            c.set(n + 1);
            n
        });
        return Ok(Expr::Param(n));
    }
    match p.strip_prefix('$').and_then(|n| n.parse::<usize>().ok()) {
        Some(n) if (1..=65_535).contains(&n) => Ok(Expr::Param(n - 1)),
        _ => Err(Error::Syntax {
            message: format!("{p} is not a parameter: use $1, $2, ... (up to $65535) or ?"),
            position: None,
        }),
    }
}

fn number(text: &str) -> Result<Value> {
    if let Ok(i) = text.parse::<i64>() {
        return Ok(Value::Integer(i));
    }
    match text.parse::<f64>() {
        Ok(r) if r.is_finite() => Ok(Value::Real(r)),
        _ => Err(Error::InvalidValue(format!(
            "the number {text} is out of range"
        ))),
    }
}

fn literal(v: &sp::Value) -> Result<Value> {
    Ok(match v {
        sp::Value::Number(n, _) => number(n)?,
        sp::Value::SingleQuotedString(s) => Value::Text(s.clone()),
        sp::Value::Boolean(b) => Value::Boolean(*b),
        sp::Value::Null => Value::Null,
        sp::Value::HexStringLiteral(hex) => {
            if hex.len() % 2 != 0 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(Error::InvalidValue(format!(
                    "X'{hex}' is not a valid blob literal"
                )));
            }
            Value::Blob(
                (0..hex.len())
                    .step_by(2)
                    .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex digits"))
                    .collect(),
            )
        }
        sp::Value::Placeholder(p) => return unsupported(format!("the parameter {p}")),
        other => return unsupported(format!("the literal {other}")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syntax_errors_carry_positions() {
        let err = parse("SELECT 1;\nSELEC x FROM t").unwrap_err();
        assert_eq!(err.code(), "42601");
        assert_eq!(
            err.position(),
            Some(Position { line: 2, column: 1 }),
            "{err:?}"
        );
        let err = parse("SELECT 'open").unwrap_err();
        assert_eq!(err.code(), "42601");
        assert!(err.position().is_some(), "{err:?}");
    }

    #[test]
    fn unsupported_constructs_are_named() {
        for (sql, needle) in [
            ("SELECT a FROM t GROUP BY ROLLUP (a)", "ROLLUP"),
            (
                "CREATE MATERIALIZED VIEW v AS SELECT 1",
                "MATERIALIZED VIEW",
            ),
            (
                "SELECT sum(x) OVER (ORDER BY x GROUPS 2 PRECEDING) FROM t",
                "GROUPS frames",
            ),
            (
                "SELECT a FROM t UNION DISTINCT BY NAME SELECT a FROM u",
                "BY NAME",
            ),
        ] {
            let err = parse(sql).unwrap_err();
            assert_eq!(err.code(), "0A000", "{sql}");
            assert!(err.to_string().contains(needle), "{sql}: {err}");
        }
    }

    #[test]
    fn identifiers_fold_unless_quoted() {
        let stmts = parse("SELECT Name, \"Mixed\" FROM People").unwrap();
        let Statement::Select(query) = &stmts[0] else {
            panic!("not a select")
        };
        let SetExpr::Select(select) = &query.body else {
            panic!("not a plain select")
        };
        assert_eq!(
            select.from[0],
            FromItem::Table {
                name: "people".into(),
                alias: None
            }
        );
        assert_eq!(
            select.projection[1],
            SelectItem::Expr {
                expr: Expr::Name {
                    table: None,
                    column: "Mixed".into()
                },
                label: "Mixed".into()
            }
        );
    }

    #[test]
    fn deep_nesting_is_refused_not_a_stack_overflow() {
        let sql = format!("SELECT {}1{}", "(".repeat(10_000), ")".repeat(10_000));
        assert_eq!(parse(&sql).unwrap_err().code(), "54001");
        let sql = format!("SELECT {}1{}", "(".repeat(300), ")".repeat(300));
        let err = parse(&sql).unwrap_err();
        assert_eq!(err.code(), "42601");
        assert!(
            err.to_string().contains("nested more than 200 levels"),
            "{err}"
        );
    }

    #[test]
    fn negative_literals_reach_i64_min() {
        let stmts = parse("SELECT -9223372036854775808").unwrap();
        let Statement::Select(query) = &stmts[0] else {
            panic!()
        };
        let SetExpr::Select(select) = &query.body else {
            panic!()
        };
        assert!(matches!(
            &select.projection[0],
            SelectItem::Expr {
                expr: Expr::Literal(Value::Integer(i64::MIN)),
                ..
            }
        ));
    }
}

#[cfg(test)]
mod depth_tests {
    use super::MAX_EXPRESSION_DEPTH;

    /// Parses on a thread with the 2 MiB stack of the server's blocking threads.
    fn parse_on_small_stack(sql: String) -> Result<usize, &'static str> {
        std::thread::Builder::new()
            .stack_size(2 << 20)
            .spawn(move || super::parse(&sql).map(|s| s.len()).map_err(|e| e.code()))
            .unwrap()
            .join()
            .expect("no stack overflow")
    }

    #[test]
    fn long_operator_chains_are_refused_not_a_crash() {
        let chain = format!("SELECT 1{}", " + 1".repeat(10_000));
        assert_eq!(parse_on_small_stack(chain), Err("54001"));
        let nested = format!(
            "SELECT {}",
            format!("({}", " 1 +".repeat(900)).repeat(30) + "1" + &")".repeat(30)
        );
        assert_eq!(parse_on_small_stack(nested), Err("54001"));
    }

    #[test]
    fn chains_within_the_limit_and_long_lists_are_fine() {
        // The whole path (parse, plan, evaluate, drop) at the deepest allowed chain, on a
        // 2 MiB stack, in whatever profile the tests are built.
        let chain = format!("SELECT 1{}", " + 1".repeat(MAX_EXPRESSION_DEPTH / 2 - 2));
        let sum = std::thread::Builder::new()
            .stack_size(2 << 20)
            .spawn(move || {
                let results = crate::Database::memory().session().query(&chain).unwrap();
                results[0].rows[0][0].clone()
            })
            .unwrap()
            .join()
            .expect("no stack overflow");
        assert_eq!(
            sum,
            crate::Value::Integer(MAX_EXPRESSION_DEPTH as i64 / 2 - 1)
        );
        let values: Vec<String> = (0..20_000).map(|i| format!("({i}, -{i})")).collect();
        let insert = format!("INSERT INTO t VALUES {}", values.join(", "));
        assert_eq!(parse_on_small_stack(insert), Ok(1));
    }
}

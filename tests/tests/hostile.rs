//! Hostile input against a real server: thousands of malformed protocol inputs, random
//! token soups and generated statements, and statements past every size and depth limit.
//! Each must get an error (where a reply is possible), never a crash, and must harm no
//! other session and no stored data.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::Duration;

use kvsql_protocol::codec::PREAMBLE;
use kvsql_protocol::{Client, Error, pb};
use kvsql_tests::raw::{connect_raw, handshake, hello_frame, query_frame};
use kvsql_tests::rng::Rng;
use kvsql_tests::{TestServer, runtime, scalar};
use prost::Message;

/// What the server said before closing: (responses, errors among them). Panics if it
/// sends something that is not a response frame, or neither answers nor closes.
fn drain(stream: &mut TcpStream, input: usize) -> (usize, Vec<pb::Error>) {
    let _ = stream.shutdown(Shutdown::Write);
    let mut responses = 0;
    let mut errors = Vec::new();
    loop {
        let mut len = [0u8; 4];
        match stream.read_exact(&mut len) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                panic!("input {input}: the server neither answered nor closed")
            }
            Err(_) => return (responses, errors),
        }
        let mut body = vec![0u8; u32::from_be_bytes(len) as usize];
        if stream.read_exact(&mut body).is_err() {
            panic!("input {input}: a truncated response frame");
        }
        let response = pb::Response::decode(body.as_slice())
            .unwrap_or_else(|e| panic!("input {input}: undecodable response: {e}"));
        responses += 1;
        if let Some(pb::response::Kind::Error(e)) = response.kind {
            errors.push(e);
        }
    }
}

/// Kinds of malformed input, and whether the server can be expected to reply.
const KINDS: usize = 10;

/// Sends malformed input number `n` on a new connection and checks the server's answer.
fn feed(server: &TestServer, rng: &mut Rng, n: usize) {
    let kind = n % KINDS;
    let mut stream = match kind {
        0..=2 | 8 | 9 => connect_raw(server),
        _ => handshake(server),
    };
    let valid = query_frame(7, "SELECT count(*) FROM bystander");
    let (bytes, must_reply): (Vec<u8>, bool) = match kind {
        // Random bytes instead of the preamble (at least 4, so it can be judged).
        0 => {
            let mut bytes = rng.bytes(4, 200);
            if bytes[..4] == PREAMBLE {
                bytes[0] ^= 1;
            }
            (bytes, true)
        }
        // The preamble, then random bytes.
        1 => {
            let mut bytes = PREAMBLE.to_vec();
            bytes.extend(rng.bytes(0, 300));
            (bytes, false)
        }
        // A request before the handshake.
        2 => {
            let mut bytes = PREAMBLE.to_vec();
            bytes.extend(query_frame(1, "SELECT 1"));
            (bytes, true)
        }
        // After the handshake: random bytes.
        3 => (rng.bytes(1, 300), false),
        // A valid frame cut short.
        4 => (valid[..rng.index(valid.len())].to_vec(), false),
        // A frame whose body is random bytes (garbage protobuf, usually).
        5 => {
            let body = rng.bytes(1, 100);
            let mut bytes = (body.len() as u32).to_be_bytes().to_vec();
            bytes.extend(body);
            (bytes, false)
        }
        // A valid query frame with bits flipped in its body.
        6 => {
            let mut bytes = valid.clone();
            for _ in 0..1 + rng.index(4) {
                let at = 4 + rng.index(bytes.len() - 4);
                bytes[at] ^= 1 << rng.index(8);
            }
            (bytes, false)
        }
        // A well-formed message of a kind this server does not know (field 99), or a
        // length prefix far over the limit (up to 4 GiB).
        7 => {
            if rng.index(2) == 0 {
                let body = [0x98, 0x06, 0x01, 0x08, 0x05]; // field 99 varint 1, id 5
                let mut bytes = (body.len() as u32).to_be_bytes().to_vec();
                bytes.extend(body);
                (bytes, true)
            } else {
                let len = (17 << 20) + rng.index(u32::MAX as usize - (17 << 20)) as u32;
                (len.to_be_bytes().to_vec(), true)
            }
        }
        // A hello of a protocol version this server does not speak.
        8 => {
            let mut bytes = PREAMBLE.to_vec();
            bytes.extend(hello_frame(2 + rng.index(1000) as u32));
            (bytes, true)
        }
        // Half a preamble, then the connection closes.
        _ => (PREAMBLE[..rng.index(4)].to_vec(), false),
    };
    let _ = stream.write_all(&bytes);
    let (responses, errors) = drain(&mut stream, n);
    if must_reply {
        assert!(
            !errors.is_empty(),
            "input {n} (kind {kind}, {bytes:?}): no error came back ({responses} responses)"
        );
        assert!(
            errors
                .iter()
                .all(|e| !e.message.is_empty() && !e.code.is_empty()),
            "input {n}: {errors:?}"
        );
    }
}

#[test]
fn thousands_of_malformed_protocol_inputs_harm_no_other_session() {
    const INPUTS: usize = 3000;
    const THREADS: usize = 6;
    let server = TestServer::start();
    let rt = runtime();
    let client = rt.block_on(async {
        let client = Client::connect(server.addr()).await.unwrap();
        client
            .batch_execute("CREATE TABLE bystander (id INTEGER PRIMARY KEY, v TEXT)")
            .await
            .unwrap();
        client
    });
    // A well-behaved session writes and reads throughout.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let bystander = rt.spawn({
        let client = client.clone();
        let stop = stop.clone();
        async move {
            let mut written = 0i64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                client
                    .execute("INSERT INTO bystander VALUES ($1, 'ok')", &[&written])
                    .await
                    .expect("the bystander's insert");
                written += 1;
                assert_eq!(
                    scalar(&client, "SELECT count(*) FROM bystander").await,
                    written
                );
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            written
        }
    });
    std::thread::scope(|scope| {
        for t in 0..THREADS {
            let server = &server;
            scope.spawn(move || {
                let mut rng = Rng::new(0x9E37_79B9_7F4A_7C15 ^ (t as u64 + 1));
                for n in (t..INPUTS).step_by(THREADS) {
                    feed(server, &mut rng, n);
                }
            });
        }
    });
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let written = rt.block_on(bystander).unwrap();
    assert!(written > 0);
    rt.block_on(async {
        // Every row the bystander wrote is there, and new sessions are served.
        assert_eq!(
            scalar(&client, "SELECT count(*) FROM bystander").await,
            written
        );
        let fresh = Client::connect(server.addr()).await.unwrap();
        assert_eq!(scalar(&fresh, "SELECT 40 + 2").await, 42);
    });
    let log = server.log();
    assert!(!log.contains("panicked"), "{log}");
}

const SOUP: &[&str] = &[
    "SELECT",
    "FROM",
    "WHERE",
    "(",
    ")",
    ",",
    ";",
    "*",
    "+",
    "-",
    "/",
    "%",
    "=",
    "<",
    ">",
    "<=",
    ">=",
    "<>",
    "||",
    "AND",
    "OR",
    "NOT",
    "NULL",
    "IS",
    "IN",
    "BETWEEN",
    "LIKE",
    "CASE",
    "WHEN",
    "THEN",
    "ELSE",
    "END",
    "CAST",
    "AS",
    "INTEGER",
    "TEXT",
    "REAL",
    "INSERT",
    "INTO",
    "VALUES",
    "UPDATE",
    "SET",
    "DELETE",
    "CREATE",
    "TABLE",
    "INDEX",
    "DROP",
    "ON",
    "PRIMARY",
    "KEY",
    "UNIQUE",
    "BEGIN",
    "COMMIT",
    "ROLLBACK",
    "ORDER",
    "BY",
    "GROUP",
    "HAVING",
    "LIMIT",
    "OFFSET",
    "UNION",
    "EXCEPT",
    "DISTINCT",
    "JOIN",
    "LEFT",
    "EXPLAIN",
    "EXISTS",
    "$1",
    "?",
    "t1",
    "t2",
    "a",
    "b",
    "c",
    "0",
    "1",
    "-1",
    "9223372036854775807",
    "1e308",
    "0.5",
    "'a'",
    "''",
    "'it''s'",
    "X'00ff'",
    "\"q\"",
    "count",
    "sum",
    "abs",
    "substr",
    "length",
    "coalesce",
    "max",
    "VIEW",
    "REPLACE",
    "OR",
    "IGNORE",
    "RETURNING",
    "DEFAULT",
];

/// A random statement from a small grammar over table g (a INTEGER, b TEXT, c REAL).
fn expression(rng: &mut Rng, depth: usize) -> String {
    if depth == 0 || rng.index(4) == 0 {
        return rng
            .pick(&[
                "a", "b", "c", "1", "0", "-7", "2.5", "'x'", "''", "NULL", "TRUE",
            ])
            .to_string();
    }
    let e = |rng: &mut Rng| expression(rng, depth - 1);
    match rng.index(10) {
        0 => format!(
            "({} {} {})",
            e(rng),
            rng.pick(&["+", "-", "*", "/", "%", "||"]),
            e(rng)
        ),
        1 => format!(
            "({} {} {})",
            e(rng),
            rng.pick(&["=", "<", ">=", "<>"]),
            e(rng)
        ),
        2 => format!("({} {} {})", e(rng), rng.pick(&["AND", "OR"]), e(rng)),
        3 => format!("NOT {}", e(rng)),
        4 => format!("{} IS {}NULL", e(rng), rng.pick(&["", "NOT "])),
        5 => format!("{} BETWEEN {} AND {}", e(rng), e(rng), e(rng)),
        6 => format!("{} IN ({}, {})", e(rng), e(rng), e(rng)),
        7 => format!("CASE WHEN {} THEN {} ELSE {} END", e(rng), e(rng), e(rng)),
        8 => format!(
            "{}({})",
            rng.pick(&["abs", "length", "upper", "coalesce", "typeof", "round"]),
            e(rng)
        ),
        _ => format!("(SELECT max({}) FROM g)", e(rng)),
    }
}

fn statement(rng: &mut Rng) -> String {
    let mut sql = format!(
        "SELECT {}, {} FROM g",
        expression(rng, 4),
        expression(rng, 3)
    );
    if rng.index(2) == 0 {
        sql.push_str(&format!(" WHERE {}", expression(rng, 4)));
    }
    if rng.index(3) == 0 {
        sql.push_str(" GROUP BY 1");
    }
    if rng.index(3) == 0 {
        sql.push_str(&format!(
            " ORDER BY {} LIMIT {}",
            expression(rng, 2),
            rng.index(5)
        ));
    }
    sql
}

/// Errors a statement may end with; anything else (a closed connection) is a failure.
fn is_statement_error(e: &Error) -> bool {
    matches!(e, Error::Server { .. })
}

#[test]
fn token_soups_and_generated_statements_never_break_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start_in(&dir.path().join("data"), &["--statement-timeout", "5"]);
    runtime().block_on(async {
        let setup = Client::connect(server.addr()).await.unwrap();
        setup
            .batch_execute(
                "CREATE TABLE g (id INTEGER PRIMARY KEY, a INTEGER, b TEXT, c REAL);
                 INSERT INTO g VALUES (1, 1, 'one', 1.5), (2, NULL, 'two', -2.0), (3, 30, NULL, NULL)",
            )
            .await
            .unwrap();
        let soups = Client::connect(server.addr()).await.unwrap();
        let mut rng = Rng::new(0xD1B5_4A32_D192_ED03);
        let mut refused = 0;
        for n in 0..2000 {
            let length = 1 + rng.index(25);
            let soup: Vec<&str> = (0..length).map(|_| *rng.pick(SOUP)).collect();
            let sql = soup.join(" ");
            match soups.simple_query(&sql).await {
                Ok(_) => {}
                Err(e) if is_statement_error(&e) => refused += 1,
                Err(e) => panic!("soup {n} {sql:?} broke the session: {e:?}"),
            }
        }
        assert!(refused > 1500, "most soups are nonsense: {refused}");
        let generated = Client::connect(server.addr()).await.unwrap();
        let mut answered = 0;
        for n in 0..1000 {
            let sql = statement(&mut rng);
            match generated.simple_query(&sql).await {
                Ok(_) => answered += 1,
                Err(e) if is_statement_error(&e) => {}
                Err(e) => panic!("statement {n} {sql:?} broke the session: {e:?}"),
            }
        }
        assert!(answered > 300, "the grammar makes mostly valid statements: {answered}");
        // The data the soups could not touch is as it was.
        let rows = setup.query("SELECT id, b FROM g ORDER BY id", &[]).await.unwrap();
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[1].get::<String>(1).unwrap(), "two");
    });
    assert!(!server.log().contains("panicked"));
}

/// The SQLSTATE and message of a statement's error.
async fn refusal(client: &Client, sql: &str) -> (String, String) {
    match client.simple_query(sql).await {
        Err(Error::Server { code, message, .. }) => (code, message),
        other => panic!(
            "expected a refusal of a {}-byte statement, got {other:?}",
            sql.len()
        ),
    }
}

#[test]
fn huge_and_deeply_nested_statements_are_refused_naming_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start_in(
        &dir.path().join("data"),
        &["--max-statement-bytes", "4000000"],
    );
    runtime().block_on(async {
        let c = Client::connect(server.addr()).await.unwrap();
        c.batch_execute("CREATE TABLE big (id INTEGER PRIMARY KEY, v TEXT)")
            .await
            .unwrap();
        // Nesting 10,000 deep, four ways.
        for sql in [
            format!("SELECT {}1{}", "(".repeat(10_000), ")".repeat(10_000)),
            format!("SELECT 1{}", " + 1".repeat(10_000)),
            format!("SELECT {}TRUE", "NOT ".repeat(10_000)),
            format!("SELECT {}1", "- ".repeat(10_000)),
        ] {
            let (code, message) = refusal(&c, &sql).await;
            assert_eq!(code, "54001", "{message}");
            assert!(message.contains("more than 1000 levels deep"), "{message}");
        }
        // A statement over --max-statement-bytes.
        let long = format!("SELECT '{}'", "x".repeat(5_000_000));
        let (code, message) = refusal(&c, &long).await;
        assert_eq!(code, "54000");
        assert!(
            message.contains("exceeds the limit of 4000000 bytes"),
            "{message}"
        );
        // A frame over the 16 MiB frame limit: refused, naming it; the connection ends.
        let huge = format!("SELECT '{}'", "x".repeat(17 << 20));
        let err = c.simple_query(&huge).await.unwrap_err();
        assert!(
            err.to_string()
                .contains("exceeds the limit of 16777216 bytes"),
            "{err}"
        );

        let c = Client::connect(server.addr()).await.unwrap();
        // A 100,000-value IN list is handled.
        let list: Vec<String> = (0..100_000).map(|i| i.to_string()).collect();
        let sql = format!("SELECT 1 WHERE 99999 IN ({})", list.join(","));
        assert_eq!(c.query(sql.as_str(), &[]).await.unwrap().len(), 1);
        // A 10 MiB value is stored and read back whole.
        let value = "v".repeat(10 << 20);
        c.execute("INSERT INTO big VALUES (1, $1)", &[&value])
            .await
            .unwrap();
        let back: String = c
            .query_one("SELECT v FROM big WHERE id = 1", &[])
            .await
            .unwrap()
            .get(0)
            .unwrap();
        assert_eq!(back.len(), value.len());
    });
    assert!(!server.log().contains("panicked"));
}

#[test]
fn sorts_and_hash_tables_past_the_statement_memory_limit_fail_with_53200() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start_in(&dir.path().join("data"), &["--statement-memory-mb", "8"]);
    runtime().block_on(async {
        let c = Client::connect(server.addr()).await.unwrap();
        kvsql_tests::create_ids_table(&c, "k", 1000).await;
        // A million rows to sort, to de-duplicate, to group, to hash: each needs far
        // more than 8 MiB.
        for sql in [
            "SELECT a.id, b.id FROM k a, k b ORDER BY b.id DESC, a.id",
            "SELECT DISTINCT a.id * 1000 + b.id FROM k a, k b",
            "SELECT a.id * 1000 + b.id AS g, count(*) FROM k a, k b GROUP BY g",
            "SELECT count(*) FROM (SELECT a.id * 1000 + b.id AS v FROM k a, k b) x \
             JOIN (SELECT a.id * 1000 + b.id AS w FROM k a, k b) y ON x.v + 0 = y.w + 0",
            "SELECT a.id, rank() OVER (PARTITION BY b.id ORDER BY a.id) FROM k a, k b",
            // A recursion that never ends by itself.
            "WITH RECURSIVE t (n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM t) \
             SELECT count(*) FROM t",
        ] {
            let (code, message) = refusal(&c, sql).await;
            assert_eq!(code, "53200", "{sql}: {message}");
            assert!(message.contains("--statement-memory-mb"), "{message}");
        }
        // Within the limit all is well, and the session goes on.
        let rows = c
            .query("SELECT id FROM k ORDER BY id DESC LIMIT 3", &[])
            .await
            .unwrap();
        assert_eq!(rows[0].get::<i64>(0).unwrap(), 999);
        assert_eq!(
            scalar(
                &c,
                "SELECT count(*) FROM (SELECT DISTINCT id % 10 FROM k) AS d"
            )
            .await,
            10
        );
    });
    assert!(!server.log().contains("panicked"));
}

//! Users, passwords, logins and TLS against a real server.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use kvsql_protocol::{Client, Error, TlsConfig, pb};
use kvsql_tests::raw::{
    connect_raw, errors_until_closed, hello_frame, read_response, send_request,
};
use kvsql_tests::{TestServer, run, runtime, scalar, server_code};

/// A server whose database starts with admin `root` (password "root-pw").
fn server_with_admin(dir: &std::path::Path) -> TestServer {
    let password = dir.join("admin-password");
    std::fs::write(&password, "root-pw\n").unwrap();
    TestServer::start_in(
        &dir.join("data"),
        &[
            "--admin-user",
            "root",
            "--admin-password-file",
            password.to_str().unwrap(),
        ],
    )
}

#[test]
fn with_users_nothing_but_a_login_is_accepted_and_failures_all_look_alike() {
    let temp = tempfile::tempdir().unwrap();
    let server = server_with_admin(temp.path());
    // The hello says a login is required; a query instead of one is refused and the
    // connection closed.
    let mut raw = connect_raw(&server);
    std::io::Write::write_all(&mut raw, &kvsql_protocol::codec::PREAMBLE).unwrap();
    std::io::Write::write_all(&mut raw, &hello_frame(1)).unwrap();
    match read_response(&mut raw).and_then(|r| r.kind) {
        Some(pb::response::Kind::Hello(hello)) => assert!(hello.auth_required),
        other => panic!("expected a hello, got {other:?}"),
    }
    send_request(&mut raw, 1, "SELECT 1");
    let errors = errors_until_closed(&mut raw);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].code, "28000");

    runtime().block_on(async {
        let err = Client::connect(server.addr()).await.unwrap_err();
        assert_eq!(server_code(&err), "28000", "{err}");
        assert!(
            err.to_string()
                .contains("requires a user name and password"),
            "{err}"
        );
        // A wrong password and an unknown user get the same answer, after a delay.
        let mut answers = Vec::new();
        for (user, password) in [("root", "wrong"), ("nobody", "root-pw")] {
            let started = Instant::now();
            let err = Client::connect_user(server.addr(), user, password)
                .await
                .unwrap_err();
            assert!(started.elapsed() >= Duration::from_millis(450), "no delay");
            assert_eq!(server_code(&err), "28P01");
            answers.push(err.to_string());
        }
        assert_eq!(answers[0], answers[1]);
        let root = Client::connect_user(server.addr(), "root", "root-pw")
            .await
            .unwrap();
        assert_eq!(scalar(&root, "SELECT 1").await, 1);
    });
    assert!(server.log().contains("login failed"));
}

#[test]
fn admins_manage_users_and_passwords_are_stored_only_as_hashes() {
    let temp = tempfile::tempdir().unwrap();
    let mut server = server_with_admin(temp.path());
    let addr = server.addr();
    let backup = temp.path().join("backup");
    runtime().block_on(async {
        let root = Client::connect_user(addr, "root", "root-pw").await.unwrap();
        root.batch_execute(
            "CREATE USER bob WITH PASSWORD 'plain-text-bob-pw';
             CREATE TABLE t (id INTEGER PRIMARY KEY); INSERT INTO t VALUES (1)",
        )
        .await
        .unwrap();
        let users = root.query("SHOW USERS", &[]).await.unwrap();
        let listed: Vec<(String, bool)> = users
            .iter()
            .map(|r| (r.get(0).unwrap(), r.get(1).unwrap()))
            .collect();
        assert_eq!(
            listed,
            [("bob".to_string(), false), ("root".to_string(), true)]
        );

        // bob works with data, but may not manage users or take backups.
        let bob = Client::connect_user(addr, "bob", "plain-text-bob-pw")
            .await
            .unwrap();
        assert_eq!(bob.query("SELECT id FROM t", &[]).await.unwrap().len(), 1);
        for sql in [
            "CREATE USER eve PASSWORD 'x'".to_string(),
            "DROP USER root".to_string(),
            "ALTER USER root PASSWORD 'mine'".to_string(),
            format!("BACKUP TO '{}'", backup.display()),
        ] {
            let err = bob.simple_query(&sql).await.unwrap_err();
            assert_eq!(server_code(&err), "42501", "{sql}: {err}");
            assert!(err.to_string().contains("only an admin may"), "{err}");
        }
        // ... but may change their own password.
        bob.simple_query("ALTER USER bob WITH PASSWORD 'new-bob-pw'")
            .await
            .unwrap();
        let err = Client::connect_user(addr, "bob", "plain-text-bob-pw")
            .await
            .unwrap_err();
        assert_eq!(server_code(&err), "28P01");
        Client::connect_user(addr, "bob", "new-bob-pw")
            .await
            .unwrap();

        // The last admin cannot be dropped; bob can.
        let err = root.simple_query("DROP USER root").await.unwrap_err();
        assert!(err.to_string().contains("last admin"), "{err}");
        root.simple_query("DROP USER bob").await.unwrap();
        let err = Client::connect_user(addr, "bob", "new-bob-pw")
            .await
            .unwrap_err();
        assert_eq!(server_code(&err), "28P01");
        let err = root.simple_query("DROP USER bob").await.unwrap_err();
        assert!(err.to_string().contains("no such user: bob"), "{err}");
    });
    // Killed, so that every write is still in the (uncompressed) write-ahead log: no
    // password is anywhere in the data directory, only salted hashes.
    server.kill();
    let mut hashes = 0;
    for entry in std::fs::read_dir(temp.path().join("data")).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        for secret in ["plain-text-bob-pw", "new-bob-pw", "root-pw"] {
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                "{secret} stored in the clear"
            );
        }
        hashes += bytes.windows(10).filter(|w| *w == b"$argon2id$").count();
    }
    assert!(hashes >= 3, "the hashes are stored: {hashes}");

    // Restarting with another --admin-user leaves the users as they are.
    let password = temp.path().join("other-password");
    std::fs::write(&password, "other\n").unwrap();
    let server = TestServer::start_in(
        &temp.path().join("data"),
        &[
            "--admin-user",
            "other",
            "--admin-password-file",
            password.to_str().unwrap(),
        ],
    );
    runtime().block_on(async {
        let err = Client::connect_user(server.addr(), "other", "other")
            .await
            .unwrap_err();
        assert_eq!(server_code(&err), "28P01");
        Client::connect_user(server.addr(), "root", "root-pw")
            .await
            .unwrap();
    });

    // The shell logs in with --user and KVSQL_PASSWORD, and says how when it must.
    let (status, out, err) = run(
        server
            .kvsql()
            .args(["--user", "root", "-c", "SELECT count(*) AS n FROM t"])
            .env("KVSQL_PASSWORD", "root-pw"),
        "",
    );
    assert!(status.success(), "{err}");
    assert!(out.contains(" 1\n(1 row)"), "{out}");
    let (status, _, err) = run(server.kvsql().args(["-c", "SELECT 1"]), "");
    assert!(!status.success());
    assert!(err.contains("--user"), "{err}");
    let (status, _, err) = run(
        server
            .kvsql()
            .args(["--user", "root", "-c", "SELECT 1"])
            .env("KVSQL_PASSWORD", "nope"),
        "",
    );
    assert!(!status.success());
    assert!(err.contains("28P01"), "{err}");
}

#[test]
fn the_first_user_created_on_an_open_server_is_an_admin_and_turns_logins_on() {
    let server = TestServer::start();
    runtime().block_on(async {
        let open = Client::connect(server.addr()).await.unwrap();
        open.simple_query("CREATE USER first PASSWORD 'pw1'")
            .await
            .unwrap();
        // Sessions already open go on; new ones must log in.
        let listed = open.query("SHOW USERS", &[]).await.unwrap();
        assert!(
            listed[0].get::<bool>(1).unwrap(),
            "the first user is an admin"
        );
        let err = Client::connect(server.addr()).await.unwrap_err();
        assert_eq!(server_code(&err), "28000");
        Client::connect_user(server.addr(), "first", "pw1")
            .await
            .unwrap();
    });
}

/// A CA, and a server certificate and key it signed for localhost and 127.0.0.1, as PEM
/// files in `dir`: (ca, cert, key).
fn certificates(dir: &std::path::Path, ca_name: &str) -> (PathBuf, PathBuf, PathBuf) {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, ca_name);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let key = KeyPair::generate().unwrap();
    let params =
        CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()]).unwrap();
    let cert = params.signed_by(&key, &ca, &ca_key).unwrap();
    let paths = (
        dir.join(format!("{ca_name}-ca.pem")),
        dir.join(format!("{ca_name}-cert.pem")),
        dir.join(format!("{ca_name}-key.pem")),
    );
    std::fs::write(&paths.0, ca.pem()).unwrap();
    std::fs::write(&paths.1, cert.pem()).unwrap();
    std::fs::write(&paths.2, key.serialize_pem()).unwrap();
    paths
}

#[test]
fn tls_connections_verify_the_server_and_carry_queries_cancels_and_logins() {
    let temp = tempfile::tempdir().unwrap();
    let (ca, cert, key) = certificates(temp.path(), "test");
    let (other_ca, _, _) = certificates(temp.path(), "other");
    let password = temp.path().join("admin-password");
    std::fs::write(&password, "root-pw\n").unwrap();
    let server = TestServer::start_in(
        &temp.path().join("data"),
        &[
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
            "--admin-user",
            "root",
            "--admin-password-file",
            password.to_str().unwrap(),
        ],
    );
    let addr = server.addr();
    runtime().block_on(async {
        let tls = TlsConfig::from_ca_file(&ca, "127.0.0.1").unwrap();
        let c = Client::connect_tls(addr, &tls, Some(("root", "root-pw")))
            .await
            .unwrap();
        kvsql_tests::create_ids_table(&c, "k", 1000).await;
        assert_eq!(scalar(&c, "SELECT count(*) FROM k").await, 1000);
        // A result of many batches (written from the batches' own buffers) arrives whole.
        let text = "x".repeat(100);
        c.batch_execute(&format!(
            "CREATE TABLE wide (id INTEGER PRIMARY KEY, v TEXT); \
             INSERT INTO wide SELECT id, '{text}' FROM k"
        ))
        .await
        .unwrap();
        let rows = c.query("SELECT * FROM wide", &[]).await.unwrap();
        assert_eq!(rows.len(), 1000);
        for (i, row) in rows.iter().enumerate() {
            assert_eq!(row.get::<i64>(0).unwrap(), i as i64);
            assert_eq!(row.get::<String>(1).unwrap(), text);
        }
        // A cancel request travels over TLS too.
        let token = c.cancel_token();
        let long = tokio::spawn({
            let c = c.clone();
            async move { c.query("SELECT count(*) FROM k a, k b, k c", &[]).await }
        });
        tokio::time::sleep(Duration::from_millis(300)).await;
        token.cancel().await.unwrap();
        let err = long.await.unwrap().unwrap_err();
        assert_eq!(err.code(), "57014", "{err}");

        // Plain TCP to a TLS server gets nowhere (and does not hang).
        let err = Client::connect(addr).await.unwrap_err();
        assert!(
            matches!(err, Error::Io(_) | Error::Closed | Error::Protocol(_)),
            "{err:?}"
        );
        // A server certificate from a CA we do not trust, or for another name, is refused.
        let untrusted = TlsConfig::from_ca_file(&other_ca, "127.0.0.1").unwrap();
        let err = Client::connect_tls(addr, &untrusted, None)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("TLS handshake failed"), "{err}");
        assert!(err.to_string().contains("certificate"), "{err}");
        let misnamed = TlsConfig::from_ca_file(&ca, "example.com").unwrap();
        let err = Client::connect_tls(addr, &misnamed, None)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("certificate"), "{err}");
        // Bad CA files are explained.
        let err = TlsConfig::from_ca_file(&temp.path().join("missing.pem"), "x").unwrap_err();
        assert!(err.to_string().contains("cannot read CA file"), "{err}");
    });

    // The shell: --tls with --tls-ca and a login.
    let (status, out, err) = run(
        server
            .kvsql()
            .args(["--tls", "--tls-ca", ca.to_str().unwrap(), "--user", "root"])
            .args(["-c", "SELECT count(*) AS n FROM k"])
            .env("KVSQL_PASSWORD", "root-pw"),
        "",
    );
    assert!(status.success(), "{err}");
    assert!(out.contains(" 1000\n(1 row)"), "{out}");
    let (status, _, err) = run(
        server.kvsql().args([
            "--tls",
            "--tls-ca",
            other_ca.to_str().unwrap(),
            "-c",
            "SELECT 1",
        ]),
        "",
    );
    assert!(!status.success());
    assert!(err.contains("TLS handshake failed"), "{err}");
}

//! One client connection: preamble, handshake, then requests answered in order.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use kvsql_engine::{Database, Session};
use kvsql_protocol::codec::{self, FrameError, PREAMBLE};
use kvsql_protocol::pb::{self, request, response::Kind};
use kvsql_protocol::{PROTOCOL_MAJOR, PROTOCOL_MINOR};
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader, BufWriter};
use tokio::net::TcpStream;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::sync::{OwnedSemaphorePermit, mpsc, watch};
use tracing::{debug, info, warn};

use crate::Config;
use crate::sink::ChannelSink;

/// How long a new connection may take to send its preamble and hello.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

type Writer = BufWriter<OwnedWriteHalf>;

/// An error the connection layer itself reports (no statement position, not retryable).
fn error(code: &str, message: impl Into<String>) -> pb::Error {
    pb::Error {
        code: code.into(),
        message: message.into(),
        line: 0,
        column: 0,
        retryable: false,
    }
}

/// A protocol violation (08P01); the connection is closed after it.
fn protocol_error(message: impl Into<String>) -> pb::Error {
    error("08P01", message)
}

async fn send(writer: &mut Writer, id: u64, kind: Kind) -> std::io::Result<()> {
    codec::write_frame(
        writer,
        &pb::Response {
            id,
            kind: Some(kind),
        },
    )
    .await?;
    writer.flush().await
}

/// Serves one connection until the client leaves, breaks the protocol, or the server
/// shuts down (after the running request, if any, has finished).
pub async fn serve(
    stream: TcpStream,
    peer: SocketAddr,
    session_id: u64,
    slot: Option<OwnedSemaphorePermit>,
    db: Database,
    config: Arc<Config>,
    mut shutdown: watch::Receiver<bool>,
) {
    let _ = stream.set_nodelay(true);
    let (read, write) = stream.into_split();
    let mut reader = BufReader::new(read);
    let mut writer = BufWriter::new(write);
    let mut buf = Vec::new();

    let client = match tokio::time::timeout(
        HANDSHAKE_TIMEOUT,
        handshake(
            &mut reader,
            &mut writer,
            &mut buf,
            &config,
            session_id,
            slot.is_some(),
        ),
    )
    .await
    {
        Ok(Ok(client)) => client,
        Ok(Err(reason)) => {
            info!(%peer, "handshake refused: {reason}");
            return;
        }
        Err(_) => {
            let _ = send(
                &mut writer,
                0,
                Kind::Error(protocol_error("no handshake within 10 seconds")),
            )
            .await;
            info!(%peer, "handshake timed out");
            return;
        }
    };
    info!(%peer, session_id, client = %client, "session started");

    let statement_limit = config.max_statement_bytes.unwrap_or(config.max_frame_bytes);
    let mut session = Some(db.session());
    loop {
        let idle = async {
            match config.idle_timeout {
                0 => std::future::pending().await,
                seconds => tokio::time::sleep(Duration::from_secs(seconds)).await,
            }
        };
        let frame = tokio::select! {
            frame = codec::read_frame::<_, pb::Request>(&mut reader, config.max_frame_bytes, &mut buf) => Some(frame),
            _ = shutdown.wait_for(|stop| *stop) => {
                debug!(session_id, "closing idle session for shutdown");
                break;
            }
            () = idle => None,
        };
        let Some(frame) = frame else {
            info!(
                session_id,
                "closing session idle for {} s", config.idle_timeout
            );
            let message = format!(
                "session closed after {} s without a request (--idle-timeout)",
                config.idle_timeout
            );
            let _ = send(&mut writer, 0, Kind::Error(error("57P05", message))).await;
            break;
        };
        let request = match frame {
            Ok(Some(request)) => request,
            Ok(None) => break,
            Err(FrameError::Io(e)) => {
                debug!(session_id, "connection error: {e}");
                break;
            }
            Err(e) => {
                warn!(session_id, %peer, "bad frame, closing: {e}");
                let _ = send(&mut writer, 0, Kind::Error(protocol_error(e.to_string()))).await;
                break;
            }
        };
        match request.kind {
            Some(request::Kind::Query(query)) if query.sql.len() > statement_limit => {
                let message = format!(
                    "statement of {} bytes exceeds the limit of {statement_limit} bytes \
                     (--max-statement-bytes)",
                    query.sql.len()
                );
                let refusal = Kind::Error(error("54000", message));
                if send(&mut writer, request.id, refusal).await.is_err() {
                    break;
                }
            }
            Some(request::Kind::Query(query)) => {
                let running = session
                    .take()
                    .expect("session is returned after each query");
                match run_query(request.id, query.sql, running, &mut writer).await {
                    Some(returned) => session = Some(returned),
                    None => break,
                }
            }
            Some(request::Kind::Hello(_)) => {
                let error = protocol_error("hello sent twice");
                let _ = send(&mut writer, request.id, Kind::Error(error)).await;
                break;
            }
            None => {
                let error = protocol_error("unknown request kind (is the client newer?)");
                let _ = send(&mut writer, request.id, Kind::Error(error)).await;
                break;
            }
        }
    }
    let _ = writer.shutdown().await;
    info!(session_id, "session ended");
}

/// Reads the preamble and hello; answers with the server hello or an error.
async fn handshake(
    reader: &mut BufReader<tokio::net::tcp::OwnedReadHalf>,
    writer: &mut Writer,
    buf: &mut Vec<u8>,
    config: &Config,
    session_id: u64,
    admitted: bool,
) -> Result<String, String> {
    let mut preamble = [0u8; 4];
    reader
        .read_exact(&mut preamble)
        .await
        .map_err(|e| format!("no preamble: {e}"))?;
    if preamble != PREAMBLE {
        return refuse(
            writer,
            "not a kvsql client: the connection must start with \"KVSQ\"".into(),
        )
        .await;
    }
    let request: pb::Request = match codec::read_frame(reader, config.max_frame_bytes, buf).await {
        Ok(Some(request)) => request,
        Ok(None) => return Err("closed before hello".into()),
        Err(e) => return refuse(writer, format!("bad hello frame: {e}")).await,
    };
    let Some(request::Kind::Hello(hello)) = request.kind else {
        return refuse(writer, "the first request must be a hello".into()).await;
    };
    if !admitted {
        // Answer the hello (rather than closing at once) so the client reads a reason.
        let message = format!(
            "too many connections: this server serves at most {} at once (--max-connections)",
            config.max_connections
        );
        let _ = send(
            writer,
            request.id,
            Kind::Error(error("53300", message.clone())),
        )
        .await;
        return Err(message);
    }
    if hello.major != PROTOCOL_MAJOR {
        return refuse(
            writer,
            format!(
            "unsupported protocol version {}.{}; this server speaks {PROTOCOL_MAJOR}.{PROTOCOL_MINOR}",
            hello.major, hello.minor
        ),
        )
        .await;
    }
    let reply = Kind::Hello(pb::ServerHello {
        major: PROTOCOL_MAJOR,
        minor: PROTOCOL_MINOR,
        server_version: env!("CARGO_PKG_VERSION").into(),
        session_id,
    });
    send(writer, request.id, reply)
        .await
        .map_err(|e| format!("cannot answer hello: {e}"))?;
    Ok(hello.client_name)
}

/// Sends a protocol error and gives the reason to the caller.
async fn refuse(writer: &mut Writer, message: String) -> Result<String, String> {
    let _ = send(writer, 0, Kind::Error(protocol_error(message.clone()))).await;
    Err(message)
}

/// Runs a query on a blocking thread, forwarding its responses as they come. Returns the
/// session for the next request, or None when the connection is gone.
async fn run_query(
    id: u64,
    sql: String,
    mut session: Session,
    writer: &mut Writer,
) -> Option<Session> {
    debug!(id, sql = %sql, "query");
    let (tx, mut rx) = mpsc::channel(4);
    let task = tokio::task::spawn_blocking(move || {
        let mut sink = ChannelSink::new(id, tx);
        let result = session.execute(&sql, &mut sink);
        sink.finish(result);
        session
    });
    let mut connected = true;
    while let Some(response) = rx.recv().await {
        let written = async {
            codec::write_frame(writer, &response).await?;
            if rx.is_empty() {
                writer.flush().await?;
            }
            Ok::<(), std::io::Error>(())
        };
        if let Err(e) = written.await {
            debug!(id, "client went away mid-result: {e}");
            connected = false;
            break;
        }
    }
    // Dropping the receiver makes the statement's next send fail, which aborts it and
    // rolls its transaction back; either way wait for it to stop.
    drop(rx);
    let session = task.await.ok();
    if connected { session } else { None }
}

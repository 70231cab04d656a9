//! A connection pool (cargo feature `pool`), built on deadpool.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let config: kvsql_protocol::Config = "kvsql://127.0.0.1:7878".parse()?;
//! let pool = kvsql_protocol::pool::Pool::builder(kvsql_protocol::pool::Manager::new(config))
//!     .max_size(16)
//!     .build()?;
//! let client = pool.get().await?;
//! client.execute("SELECT 1", &[]).await?;
//! # Ok(()) }
//! ```
//!
//! A connection is checked before it is handed out again: it must answer `SELECT 1`
//! (a dead connection is replaced), and a transaction left open by the last user is
//! rolled back.

use deadpool::managed::{self, Metrics, RecycleError, RecycleResult};

use crate::{Client, Config, Error};

/// Opens connections for the pool and checks them on their way back.
pub struct Manager {
    config: Config,
}

impl Manager {
    pub fn new(config: Config) -> Manager {
        Manager { config }
    }
}

impl managed::Manager for Manager {
    type Type = Client;
    type Error = Error;

    async fn create(&self) -> Result<Client, Error> {
        self.config.connect().await
    }

    async fn recycle(&self, client: &mut Client, _: &Metrics) -> RecycleResult<Error> {
        // ROLLBACK outside a transaction does nothing; inside one it ends it, so that no
        // user inherits another's transaction. Then the health check proper.
        client
            .simple_query("ROLLBACK; SELECT 1")
            .await
            .map(drop)
            .map_err(RecycleError::Backend)
    }
}

/// A pool of connections.
pub type Pool = managed::Pool<Manager>;

/// A connection borrowed from the pool; it goes back when dropped.
pub type PooledClient = managed::Object<Manager>;

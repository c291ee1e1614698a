//! When the client cancels a call (`notifications/cancelled`), the statement it started must
//! stop on the server too, not run on to its statement_timeout holding locks and a connection.
//! While a call's SQL runs, `host.cancelled` is polled; once it turns true the plugin sends
//! PostgreSQL's CancelRequest on a connection of its own (plain or TLS as the database is
//! configured), and the statement ends with SQLSTATE 57014, which `run::describe` words as the
//! client's cancellation. Nothing a cancelled statement did is committed: its transaction is
//! aborted and rolled back.

use std::cell::Cell;
use std::future::Future;
use std::time::Duration;

use futures_util::future::{Either, select};
use pier_sdk::net::TcpStream;
use pier_sdk::rt;
use tokio_postgres::{CancelToken, Client, NoTls};

use crate::settings::{Database, Settings, SslMode};
use crate::tls;

/// How often a running statement looks whether its call was cancelled.
const POLL: Duration = Duration::from_millis(25);

thread_local! {
    /// Set when this call's statement was cancelled at the client's request.
    static CANCELLED: Cell<bool> = const { Cell::new(false) };
}

/// Whether the statement that just failed was cancelled because the client cancelled the call.
pub fn by_client() -> bool {
    CANCELLED.with(Cell::get)
}

/// Runs `work` (the call's statements on `client`); if the client cancels the call meanwhile,
/// cancels the running statement on the server and lets `work` finish with its error.
pub async fn on_client_cancel<T>(
    db: &Database,
    settings: &Settings,
    client: &Client,
    work: impl Future<Output = T>,
) -> T {
    CANCELLED.with(|c| c.set(false));
    if pier_sdk::host::current_call().is_none() {
        return work.await;
    }
    let token = client.cancel_token();
    let watch = async {
        while !pier_sdk::host::call_cancelled() {
            rt::sleep(POLL).await;
        }
    };
    let work = std::pin::pin!(work);
    let watch = std::pin::pin!(watch);
    match select(work, watch).await {
        Either::Left((out, _)) => out,
        Either::Right(((), work)) => {
            match cancel(db, settings, &token).await {
                Ok(()) => {
                    CANCELLED.with(|c| c.set(true));
                    pier_sdk::host::info(&format!(
                        "the client cancelled the call; cancelled its statement on database {:?}",
                        db.name
                    ));
                }
                Err(e) => pier_sdk::host::warn(&format!(
                    "the client cancelled the call, but cancelling its statement on database {:?} failed: {e}; it runs until statement_timeout",
                    db.name
                )),
            }
            work.await
        }
    }
}

/// PostgreSQL's CancelRequest for the connection `token` belongs to, over a new socket.
async fn cancel(db: &Database, settings: &Settings, token: &CancelToken) -> Result<(), String> {
    let stream = rt::timeout(
        settings.connect_timeout,
        TcpStream::connect(&db.host, db.port),
    )
    .await
    .ok_or_else(|| "no answer within the connect timeout".to_string())?
    .map_err(|e| e.to_string())?;
    let sent = match db.sslmode {
        SslMode::Disable => token.cancel_query_raw(stream, NoTls).await,
        _ => {
            let tls = tls::Connector {
                config: tls::client_config(db)?,
                host: db.host.clone(),
            };
            token.cancel_query_raw(stream, tls).await
        }
    };
    sent.map_err(|e| e.to_string())
}

//! Kept connections, one per configured database per instance, checked by `roles` before they
//! serve and again every minute.
//!
//! A connection opens on first use (over the socket the manifest grants), its driver task is
//! spawned on the SDK's executor so it survives between calls, and it is dropped and reopened
//! when it breaks: a restarted server costs the next call one reconnect, not a pier restart.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use pier_sdk::net::TcpStream;
use pier_sdk::rt;
use tokio_postgres::Client;
use tokio_postgres::config::SslMode as DriverSslMode;

use crate::roles::{self, Role};
use crate::settings::{Database, Settings, SslMode};
use crate::tls;

pub struct Connection {
    pub client: Client,
    pub role: RefCell<Role>,
    /// When `role` was read; it is read again after [`RECHECK`].
    checked: std::cell::Cell<std::time::Instant>,
}

/// How long a kept connection trusts its last role check: functions (dblink), grants and
/// memberships the administrator adds later are seen within this time.
const RECHECK: std::time::Duration = std::time::Duration::from_secs(60);

impl Connection {
    /// Checks the role again if the last check is older than [`RECHECK`].
    pub async fn recheck(&self, db: &Database) -> Result<(), String> {
        if self.checked.get().elapsed() < RECHECK {
            return Ok(());
        }
        let role = roles::check(&self.client, db).await.map_err(|e| {
            format!(
                "checking the role again failed: {}",
                crate::run::describe(&e)
            )
        })?;
        *self.role.borrow_mut() = role;
        self.checked.set(std::time::Instant::now());
        Ok(())
    }
}

thread_local! {
    static OPEN: RefCell<HashMap<String, Rc<Connection>>> = RefCell::new(HashMap::new());
}

/// The kept connection to `db`, opened (and checked) if there is none or it has closed.
pub async fn get(db: &Database, settings: &Settings) -> Result<Rc<Connection>, String> {
    // Give the driver tasks one turn first: a connection the server closed while we were idle
    // notices it now, so we reconnect instead of failing the call.
    yield_once().await;
    if let Some(conn) = OPEN.with(|o| o.borrow().get(&db.name).cloned())
        && !conn.client.is_closed()
    {
        return Ok(conn);
    }
    forget(db);
    let conn = Rc::new(open(db, settings).await?);
    OPEN.with(|o| o.borrow_mut().insert(db.name.clone(), conn.clone()));
    Ok(conn)
}

/// Drops the kept connection (after it failed), so the next use opens a new one.
pub fn forget(db: &Database) {
    OPEN.with(|o| o.borrow_mut().remove(&db.name));
}

async fn yield_once() {
    let mut done = false;
    std::future::poll_fn(|cx| {
        if done {
            std::task::Poll::Ready(())
        } else {
            done = true;
            cx.waker().wake_by_ref();
            std::task::Poll::Pending
        }
    })
    .await
}

async fn open(db: &Database, settings: &Settings) -> Result<Connection, String> {
    let place = format!("database {:?} at {}:{}", db.name, db.host, db.port);
    let stream = rt::timeout(
        settings.connect_timeout,
        TcpStream::connect(&db.host, db.port),
    )
    .await
    .ok_or_else(|| {
        format!(
            "cannot connect to {place}: no answer within {} ms",
            settings.connect_timeout.as_millis()
        )
    })?
    .map_err(|e| format!("cannot connect to {place}: {e}"))?;
    let mut config = db.config.clone();
    config.ssl_mode(match db.sslmode {
        SslMode::Disable => DriverSslMode::Disable,
        SslMode::Prefer => DriverSslMode::Prefer,
        _ => DriverSslMode::Require,
    });
    let connector = tls::Connector {
        config: tls::client_config(db)?,
        host: db.host.clone(),
    };
    let (client, driver) = rt::timeout(
        settings.connect_timeout,
        config.connect_raw(stream, connector),
    )
    .await
    .ok_or_else(|| format!("cannot connect to {place}: no handshake within the connect timeout"))?
    .map_err(|e| connect_error(db, &place, &e))?;
    rt::spawn(async move {
        if let Err(e) = driver.await {
            pier_sdk::host::debug(&format!("connection closed: {e}"));
        }
    });
    let role = roles::check(&client, db).await.map_err(|e| {
        format!(
            "{place}: checking the role failed: {}",
            crate::run::describe(&e)
        )
    })?;
    pier_sdk::host::info(&format!(
        "connected to {place} as {} (PostgreSQL {}, sslmode {})",
        role.name,
        role.server_version,
        db.sslmode.name()
    ));
    Ok(Connection {
        client,
        role: RefCell::new(role),
        checked: std::cell::Cell::new(std::time::Instant::now()),
    })
}

fn connect_error(db: &Database, place: &str, e: &tokio_postgres::Error) -> String {
    let described = crate::run::describe(e);
    let mut message = format!("cannot connect to {place}: {described}");
    if let Some(code) = e.code()
        && (code.code() == "28P01" || code.code() == "28000")
    {
        match &db.password_env {
            Some(var) => message.push_str(&format!(
                "\nThe password comes from the environment variable {var}; check that it is \
                 current (pier reads it when the plugin loads)."
            )),
            None => message.push_str(
                "\nNo password is configured: set password_env = \"VAR\" in [config] and grant \
                 VAR in [grants].env.",
            ),
        }
    }
    if described.contains("certificate") || described.contains("TLS") {
        message.push_str(&format!(
            "\nTLS: sslmode is {}; the server's certificate must chain to {}.",
            db.sslmode.name(),
            db.sslrootcert
                .as_deref()
                .map_or("a public CA (no sslrootcert set)".to_string(), |p| format!(
                    "the CA in sslrootcert {p}"
                ))
        ));
    }
    message
}

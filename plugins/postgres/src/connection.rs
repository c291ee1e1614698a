//! Kept connections, one per configured database per instance, and the role checks that decide
//! whether a connection may serve at all.
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

use crate::settings::{Database, Settings, SslMode};
use crate::tls;

/// What the connected role may do, read once per connection.
#[derive(Debug, Clone)]
pub struct Role {
    pub name: String,
    pub server_version: String,
    /// Why this role must not serve at all (superuser, server programs, server files).
    pub refusal: Option<String>,
    /// Why row-level security cannot be trusted with this role (it can change the setting).
    pub rls_refusal: Option<String>,
}

pub struct Connection {
    pub client: Client,
    pub role: Role,
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
    let role = check_role(&client, db).await.map_err(|e| {
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
    Ok(Connection { client, role })
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

const ROLE_SQL: &str = "SELECT current_user::text, current_setting('server_version'), \
    r.rolsuper, r.rolbypassrls, \
    pg_has_role(current_user, 'pg_execute_server_program', 'MEMBER'), \
    pg_has_role(current_user, 'pg_read_server_files', 'MEMBER'), \
    pg_has_role(current_user, 'pg_write_server_files', 'MEMBER'), \
    has_function_privilege('pg_catalog.set_config(text,text,boolean)', 'EXECUTE') \
    FROM pg_roles r WHERE r.rolname = current_user";

async fn check_role(client: &Client, db: &Database) -> Result<Role, tokio_postgres::Error> {
    let row = client.query_one(ROLE_SQL, &[]).await?;
    let name: String = row.get(0);
    let server_version: String = row.get(1);
    let (superuser, bypass_rls): (bool, bool) = (row.get(2), row.get(3));
    let (programs, read_files, write_files): (bool, bool, bool) =
        (row.get(4), row.get(5), row.get(6));
    let set_config: bool = row.get(7);

    let quoted = quote_ident(&name);
    let mut powers = Vec::new();
    let mut fixes = Vec::new();
    if superuser {
        powers.push("is a superuser");
        fixes.push(format!("ALTER ROLE {quoted} NOSUPERUSER;"));
    } else {
        for (has, what, group) in [
            (
                programs,
                "can run programs on the server",
                "pg_execute_server_program",
            ),
            (
                read_files,
                "can read the server's files",
                "pg_read_server_files",
            ),
            (
                write_files,
                "can write the server's files",
                "pg_write_server_files",
            ),
        ] {
            if has {
                powers.push(what);
                fixes.push(format!("REVOKE {group} FROM {quoted};"));
            }
        }
    }
    let refusal = (!powers.is_empty()).then(|| {
        format!(
            "refusing to serve database {:?}: role {name} {}. A read-only transaction does not \
             stop such a role (COPY … TO PROGRAM, pg_read_file, lo_export work outside it).\n\
             Connect as a role without these powers, for example:\n  \
             CREATE ROLE mcp_reader LOGIN PASSWORD '…';\n  GRANT pg_read_all_data TO mcp_reader;\n\
             or take them away:\n  {}",
            db.name,
            powers.join(", "),
            fixes.join("\n  ")
        )
    });
    let rls_refusal = db.rls.as_ref().and_then(|rls| {
        if bypass_rls && !superuser {
            Some(format!(
                "row-level security is configured for database {:?} (rls_setting = {}), but role \
                 {name} bypasses it. Run:\n  ALTER ROLE {quoted} NOBYPASSRLS;",
                db.name, rls.setting
            ))
        } else if set_config {
            Some(format!(
                "row-level security is configured for database {:?} (rls_setting = {}), but role \
                 {name} may execute set_config(), so a query could switch to another identity. \
                 Run (as the owner or a superuser):\n  REVOKE EXECUTE ON FUNCTION \
                 pg_catalog.set_config(text, text, boolean) FROM PUBLIC;\n  REVOKE EXECUTE ON \
                 FUNCTION pg_catalog.set_config(text, text, boolean) FROM {quoted};\nand GRANT it \
                 back to the roles that need it.",
                db.name, rls.setting
            ))
        } else {
            None
        }
    });
    Ok(Role {
        name,
        server_version,
        refusal,
        rls_refusal,
    })
}

/// An identifier quoted for SQL text shown to the user.
pub fn quote_ident(name: &str) -> String {
    if !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && !name.starts_with(|c: char| c.is_ascii_digit())
    {
        name.to_string()
    } else {
        format!("\"{}\"", name.replace('"', "\"\""))
    }
}

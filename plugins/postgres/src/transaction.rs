//! The transaction around every call: how it opens (read-only, statement and lock timeouts,
//! the caller's RLS identity), what runs inside it, and how it ends — a read's `ROLLBACK`
//! pipelined behind its statement, follow-up statements in a transaction of their own, and the
//! session cleared of whatever a call could leave in it for the next one.

use std::future::Future;

use futures_util::future::{join, join3};
use tokio_postgres::Client;

use crate::connection::{self, Connection};
use crate::run::Failure;
use crate::settings::{Database, Settings};

/// How a statement runs: read-only and rolled back, or committed (the `execute` tool).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Read,
    Write,
}

/// The statements that open a call's transaction.
fn prelude(mode: Mode, settings: &Settings, rls: Option<(&str, &str)>) -> String {
    let mut sql = String::from(match mode {
        Mode::Read => "BEGIN READ ONLY",
        Mode::Write => "BEGIN",
    });
    sql.push_str(&format!(
        "; SET LOCAL statement_timeout = {}; SET LOCAL lock_timeout = {}",
        settings.statement_timeout.as_millis(),
        settings.lock_timeout.as_millis()
    ));
    if let Some((setting, identity)) = rls {
        // Both parts are validated: the name is `word.word`, the identity has no quote-breaking
        // characters left after doubling quotes (backslashes and controls are refused earlier).
        sql.push_str(&format!(
            "; SET LOCAL {setting} = '{}'",
            identity.replace('\'', "''")
        ));
    }
    sql
}

/// Checks an identity before it is spliced into `SET LOCAL` as a literal.
pub fn check_identity(identity: &str) -> Result<(), String> {
    if identity.is_empty() || identity.len() > 256 {
        return Err("the caller identity must be 1 to 256 characters".into());
    }
    if identity.chars().any(|c| c == '\\' || c.is_control()) {
        return Err("the caller identity contains a backslash or control character".into());
    }
    Ok(())
}

/// Runs `body` (our own catalog queries, however many) inside the call's transaction on `db`'s
/// kept connection; the transaction ends once `body` is done. Reconnects once if the connection
/// turns out to be broken (nothing was committed, so a retry is safe).
pub async fn with_transaction<T, F, Fut>(
    db: &Database,
    settings: &Settings,
    mode: Mode,
    rls_identity: Option<&str>,
    body: F,
) -> Result<T, String>
where
    F: Fn(std::rc::Rc<Connection>) -> Fut,
    Fut: Future<Output = Result<T, Failure>>,
{
    run_in(
        db,
        settings,
        mode,
        rls_identity,
        Ending::AfterBody,
        false,
        |conn, _| body(conn),
    )
    .await
}

/// [`with_transaction`] for a body that `PREPARE`s statements of its own (index advice plans
/// normalised statements generically): whatever it leaves prepared, even when it fails
/// half-way, is deallocated when the call ends.
pub async fn with_transaction_preparing<T, F, Fut>(
    db: &Database,
    settings: &Settings,
    rls_identity: Option<&str>,
    body: F,
) -> Result<T, String>
where
    F: Fn(std::rc::Rc<Connection>) -> Fut,
    Fut: Future<Output = Result<T, Failure>>,
{
    run_in(
        db,
        settings,
        Mode::Read,
        rls_identity,
        Ending::AfterBody,
        true,
        |conn, _| body(conn),
    )
    .await
}

/// Runs the caller's one statement (`body`, through [`crate::run::rows`]). A read sends
/// `BEGIN …`, the statement and `ROLLBACK` in one round trip; whatever else the statement's
/// answer calls for (the columns of an empty result, the text of unusual types) `body` runs in a
/// transaction of its own opened with the same prelude, which it is handed ([`FollowUp`]). A
/// write ends after `body`, as in [`with_transaction`].
pub async fn with_statement<T, F, Fut>(
    db: &Database,
    settings: &Settings,
    mode: Mode,
    rls_identity: Option<&str>,
    sql: &str,
    body: F,
) -> Result<T, String>
where
    F: Fn(std::rc::Rc<Connection>, FollowUp) -> Fut,
    Fut: Future<Output = Result<T, Failure>>,
{
    // A statement that creates a prepared statement says PREPARE in its text: dynamic SQL that
    // could hide the word needs a DO block or a function running EXECUTE, which row-level
    // security mode refuses (without it every caller has the same identity anyway). Looking
    // for prepared statements costs a little on every call, so only such calls do.
    let may_prepare = sql.to_ascii_lowercase().contains("prepare");
    run_in(
        db,
        settings,
        mode,
        rls_identity,
        Ending::Pipelined,
        may_prepare,
        body,
    )
    .await
}

/// Where follow-up statements of a call run: inside its still-open transaction, or in a fresh
/// one opened with the call's prelude (its statement timeout and RLS setting) because the
/// call's own `ROLLBACK` is already on its way.
#[derive(Clone)]
pub struct FollowUp(Option<std::rc::Rc<str>>);

impl FollowUp {
    /// Inside the transaction that is open now.
    pub fn inside() -> Self {
        FollowUp(None)
    }

    /// Runs our own statements `work` (never the caller's SQL as such) where they belong.
    pub(crate) async fn run<T>(
        &self,
        client: &Client,
        work: impl Future<Output = T>,
    ) -> Result<T, Failure> {
        match &self.0 {
            None => Ok(work.await),
            Some(prelude) => {
                // Our own statements prepare nothing by SQL (and the call's own ending, still
                // under way, deallocates what the caller prepared: two would race).
                let (opened, out, closed) = join3(
                    client.batch_execute(prelude),
                    work,
                    end_call(client, Mode::Read, false),
                )
                .await;
                opened.map_err(|e| Failure::sql(&e))?;
                closed?;
                Ok(out)
            }
        }
    }
}

/// When a call's transaction ends.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Ending {
    /// Once the body is done: everything the body sends is inside.
    AfterBody,
    /// Reads: right behind the body's first statement, in the same round trip.
    Pipelined,
}

async fn run_in<T, F, Fut>(
    db: &Database,
    settings: &Settings,
    mode: Mode,
    rls_identity: Option<&str>,
    ending: Ending,
    may_prepare: bool,
    body: F,
) -> Result<T, String>
where
    F: Fn(std::rc::Rc<Connection>, FollowUp) -> Fut,
    Fut: Future<Output = Result<T, Failure>>,
{
    let rls = match (&db.rls, rls_identity) {
        (Some(rls), Some(id)) => Some((rls.setting.as_str(), id)),
        _ => None,
    };
    let begin = prelude(mode, settings, rls);
    let mut attempt = 0;
    loop {
        attempt += 1;
        let conn = connection::get(db, settings).await?;
        conn.recheck(db).await?;
        let refused = {
            let role = conn.role.borrow();
            match (&role.refusal, &role.rls_refusal) {
                (Some(refusal), _) => Some(refusal.clone()),
                // Re-checked on the next call, so a fix (REVOKE …) takes effect without a
                // restart.
                (None, Some(refusal)) if rls.is_some() => Some(refusal.clone()),
                _ => None,
            }
        };
        if let Some(refusal) = refused {
            connection::forget(db);
            return Err(refusal);
        }
        let work = async {
            match (mode, ending) {
                (Mode::Read, Ending::Pipelined) => {
                    let follow = FollowUp(Some(std::rc::Rc::from(begin.as_str())));
                    pipelined(
                        &conn.client,
                        &begin,
                        may_prepare,
                        body(conn.clone(), follow),
                    )
                    .await
                }
                (Mode::Read, Ending::AfterBody) => {
                    read(
                        &conn.client,
                        &begin,
                        may_prepare,
                        body(conn.clone(), FollowUp::inside()),
                    )
                    .await
                }
                (Mode::Write, _) => {
                    write(&conn.client, &begin, body(conn.clone(), FollowUp::inside())).await
                }
            }
        };
        let result = crate::cancel::on_client_cancel(db, settings, &conn.client, work).await;
        match result {
            Err(f) if f.lost => {
                connection::forget(db);
                if attempt == 1 {
                    pier_sdk::host::info(&format!(
                        "connection to {:?} was lost ({}); reconnecting",
                        db.name, f.message
                    ));
                    continue;
                }
                return Err(format!(
                    "the connection to database {:?} was lost: {}\nThe next call reconnects.",
                    db.name, f.message
                ));
            }
            other => return other.map_err(|f| f.message),
        }
    }
}

/// A read whose body may send several statements: `ROLLBACK` goes out only once every one of
/// them has been answered, so all of it runs inside the read-only transaction.
async fn read<T>(
    client: &Client,
    begin: &str,
    may_prepare: bool,
    body: impl Future<Output = Result<T, Failure>>,
) -> Result<T, Failure> {
    let (opened, result) = join(client.batch_execute(begin), body).await;
    let closed = end_call(client, Mode::Read, may_prepare).await;
    opened.map_err(|e| Failure::sql(&e))?;
    let value = result?;
    closed?;
    Ok(value)
}

/// A read of the caller's one statement: `BEGIN …`, the statement and `ROLLBACK` leave together
/// (one round trip). The body sends nothing else before the ROLLBACK; what it sends later goes
/// through its [`FollowUp`] into a transaction of its own. (tokio-postgres may still look up
/// the names of unusual types in between: fixed catalog queries of its own, no user code.)
async fn pipelined<T>(
    client: &Client,
    begin: &str,
    may_prepare: bool,
    body: impl Future<Output = Result<T, Failure>>,
) -> Result<T, Failure> {
    let (opened, result, closed) = join3(
        client.batch_execute(begin),
        body,
        end_call(client, Mode::Read, may_prepare),
    )
    .await;
    opened.map_err(|e| Failure::sql(&e))?;
    let value = result?;
    closed?;
    Ok(value)
}

async fn write<T>(
    client: &Client,
    begin: &str,
    body: impl Future<Output = Result<T, Failure>>,
) -> Result<T, Failure> {
    let (opened, result) = join(client.batch_execute(begin), body).await;
    if let Err(e) = opened {
        let _ = end_call(client, Mode::Read, true).await;
        return Err(Failure::sql(&e));
    }
    match result {
        Ok(value) => {
            // A COMMIT that fails is not retried: it may have landed.
            end_call(client, Mode::Write, true)
                .await
                .map_err(|f| Failure {
                    message: format!(
                        "{} (the COMMIT did not confirm; check whether the change landed)",
                        f.message
                    ),
                    lost: false,
                })?;
            Ok(value)
        }
        Err(f) => {
            let _ = end_call(client, Mode::Read, true).await;
            Err(f)
        }
    }
}

/// How a read ends. Of what a statement can leave in the session, only session advisory locks
/// and statements it `PREPARE`d outlive a `ROLLBACK` (settings, `SET ROLE`, `LISTEN`, cursors,
/// even `WITH HOLD` ones, are undone with the transaction; a read-only one creates no temporary
/// tables and draws no sequence values).
const END_READ: &str = "ROLLBACK; SELECT pg_advisory_unlock_all(), \
    (SELECT count(*) FROM pg_catalog.pg_prepared_statement() p WHERE p.from_sql)";
/// [`END_READ`] for a call that cannot have prepared a statement (see `with_statement`).
const END_READ_PLAIN: &str = "ROLLBACK; SELECT pg_advisory_unlock_all(), 0";

/// How a write ends: after `COMMIT` the session is cleared of everything the statement may have
/// left in it for the next call (which may be another identity's): settings and the role (a
/// committed `SET`, `SET ROLE`), cursors declared `WITH HOLD`, `LISTEN`, temporary tables,
/// sequence state, advisory locks, prepared statements. `DISCARD ALL` would say it in two
/// words but cannot run in a multi-statement string, and would drop the driver's own prepared
/// statements too.
const END_WRITE: &str = "COMMIT; CLOSE ALL; UNLISTEN *; RESET ALL; RESET ROLE; DISCARD TEMP; \
    DISCARD SEQUENCES; SELECT pg_advisory_unlock_all(), \
    (SELECT count(*) FROM pg_catalog.pg_prepared_statement() p WHERE p.from_sql)";

/// The statements to drop the caller's prepared statements (asked only when there are some:
/// building this text costs more than counting).
const LIST_PREPARED: &str = "SELECT string_agg('DEALLOCATE ' || quote_ident(p.name), '; ') \
    FROM pg_catalog.pg_prepared_statement() p WHERE p.from_sql";

/// Ends the call's transaction (ROLLBACK for a read, COMMIT for a write) and clears the
/// session; statements the caller `PREPARE`d are deallocated by name.
async fn end_call(client: &Client, mode: Mode, may_prepare: bool) -> Result<(), Failure> {
    let text = match (mode, may_prepare) {
        (Mode::Read, true) => END_READ,
        (Mode::Read, false) => END_READ_PLAIN,
        (Mode::Write, _) => END_WRITE,
    };
    let messages = client
        .simple_query(text)
        .await
        .map_err(|e| Failure::sql(&e))?;
    // The last statement's one row: its second column counts the caller's prepared statements.
    let prepared = messages.iter().rev().find_map(|m| match m {
        tokio_postgres::SimpleQueryMessage::Row(row) => row.get(1).map(str::to_string),
        _ => None,
    });
    if prepared.as_deref().is_some_and(|n| n != "0") {
        let listed = client
            .simple_query(LIST_PREPARED)
            .await
            .map_err(|e| Failure::sql(&e))?;
        let sql = listed.iter().find_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(row) => row.get(0).map(str::to_string),
            _ => None,
        });
        if let Some(sql) = sql {
            client
                .batch_execute(&sql)
                .await
                .map_err(|e| Failure::sql(&e))?;
        }
    }
    Ok(())
}

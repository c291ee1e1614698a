//! Running one statement safely: the transaction around it, the caps on what comes back, and
//! turning rows into JSON.
//!
//! A read opens with `BEGIN READ ONLY; SET LOCAL statement_timeout …; SET LOCAL <rls setting> …`
//! (simple protocol, our own text), pipelined with the caller's statement through the extended
//! protocol (which refuses a second statement, so `COMMIT; DROP …` cannot run). Only when
//! everything the call sends has been answered does `ROLLBACK` go out, followed by a clean-up of
//! the session (prepared statements, cursors, settings, locks), so nothing of a call runs outside
//! its transaction and nothing it does outlives it.

use std::future::Future;
use std::pin::pin;

use futures_util::TryStreamExt;
use futures_util::future::{join, join_all, join3};
use serde_json::{Value, json};
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{Client, Row};

use crate::connection::{self, Connection};
use crate::decode::{self, Raw};
use crate::params::{BinaryParam, TextParam};
use crate::settings::{Database, Settings};

/// Why a call failed. `lost` marks a broken connection, which is retried once on a new one.
#[derive(Debug)]
pub struct Failure {
    pub message: String,
    pub lost: bool,
}

impl Failure {
    fn sql(e: &tokio_postgres::Error) -> Failure {
        Failure {
            message: describe(e),
            lost: is_lost(e),
        }
    }
}

impl From<String> for Failure {
    fn from(message: String) -> Self {
        Failure {
            message,
            lost: false,
        }
    }
}

/// Whether `e` means the connection is gone (closed, reset, or the server shutting down),
/// rather than a problem with the statement.
fn is_lost(e: &tokio_postgres::Error) -> bool {
    if e.is_closed() {
        return true;
    }
    if let Some(db) = e.as_db_error() {
        return matches!(db.code().code(), "57P01" | "57P02" | "57P03");
    }
    std::error::Error::source(e).is_some_and(|s| s.is::<std::io::Error>())
}

/// A PostgreSQL error as a person (or model) needs it: code, message, detail, hint, position,
/// plus what to do when the cause is one of ours (read-only, timeout, one statement).
pub fn describe(e: &tokio_postgres::Error) -> String {
    let Some(db) = e.as_db_error() else {
        let mut text = e.to_string();
        if let Some(source) = std::error::Error::source(e) {
            text.push_str(&format!(": {source}"));
        }
        return text;
    };
    let mut text = format!("{} {}: {}", db.severity(), db.code().code(), db.message());
    if let Some(detail) = db.detail() {
        text.push_str(&format!("\nDETAIL: {detail}"));
    }
    if let Some(hint) = db.hint() {
        text.push_str(&format!("\nHINT: {hint}"));
    }
    if let Some(tokio_postgres::error::ErrorPosition::Original(at)) = db.position() {
        text.push_str(&format!("\nat character {at} of the statement"));
    }
    match db.code().code() {
        "25006" => text.push_str(
            "\npier: this call runs in a read-only transaction; statements that write are refused.",
        ),
        "55P03" if db.message().contains("lock timeout") => text.push_str(
            "\npier: the statement waited longer than lock_timeout_ms for a lock another session \
             holds; retry later, or raise lock_timeout_ms in [config].",
        ),
        "57014" if db.message().contains("statement timeout") => text.push_str(
            "\npier: the statement ran past statement_timeout and was cancelled; narrow it \
             (WHERE, LIMIT) or raise statement_timeout_ms in [config].",
        ),
        "57014" => text.push_str(
            "\npier: this was not a timeout: another session or an administrator cancelled the \
             statement (pg_cancel_backend). Retry; if it keeps happening, ask the database \
             administrator who is cancelling it.",
        ),
        "42601" if db.message().contains("multiple commands") => {
            text.push_str("\npier: send one statement per call.")
        }
        _ => {}
    }
    text
}

/// A column of a result.
pub struct Column {
    pub name: String,
    pub type_name: String,
}

/// Rows as JSON text (one array per row), with what was left out.
pub struct Rows {
    pub columns: Vec<Column>,
    pub rows: Vec<String>,
    pub truncated: Option<&'static str>,
    pub affected: Option<u64>,
}

impl Rows {
    /// The structured result: columns, rows, counts and whether it was cut.
    pub fn to_json(&self, database: &str, max_rows: usize, max_bytes: usize) -> String {
        let columns: Vec<Value> = self
            .columns
            .iter()
            .map(|c| json!({"name": c.name, "type": c.type_name}))
            .collect();
        let mut out =
            String::with_capacity(64 + self.rows.iter().map(|r| r.len() + 1).sum::<usize>());
        out.push_str("{\"database\":");
        out.push_str(&Value::from(database).to_string());
        out.push_str(",\"columns\":");
        out.push_str(&Value::Array(columns).to_string());
        out.push_str(",\"rows\":[");
        for (i, row) in self.rows.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(row);
        }
        out.push_str("],\"row_count\":");
        out.push_str(&self.rows.len().to_string());
        if let Some(n) = self.affected {
            out.push_str(",\"rows_affected\":");
            out.push_str(&n.to_string());
        }
        out.push_str(",\"truncated\":");
        match self.truncated {
            None => out.push_str("false"),
            Some(by) => {
                let note = match by {
                    "max_rows" => format!(
                        "more rows exist; only the first {max_rows} are shown (add LIMIT/OFFSET \
                         or narrow the WHERE clause)"
                    ),
                    _ => format!(
                        "rows stop at {max_bytes} bytes of JSON; select fewer or narrower columns"
                    ),
                };
                out.push_str("true,\"truncated_by\":");
                out.push_str(&Value::from(by).to_string());
                out.push_str(",\"note\":");
                out.push_str(&Value::from(note).to_string());
            }
        }
        out.push('}');
        out
    }
}

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

/// Runs the caller's one statement (`body`, through [`rows`]). A read sends `BEGIN …`, the
/// statement and `ROLLBACK` in one round trip; whatever else the statement's answer calls for
/// (the columns of an empty result, the text of unusual types) `body` runs in a transaction of
/// its own opened with the same prelude, which it is handed ([`FollowUp`]). A write ends after
/// `body`, as in [`with_transaction`].
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
    async fn run<T>(&self, client: &Client, work: impl Future<Output = T>) -> Result<T, Failure> {
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
        let result = match (mode, ending) {
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
                read(&conn.client, &begin, body(conn.clone(), FollowUp::inside())).await
            }
            (Mode::Write, _) => {
                write(&conn.client, &begin, body(conn.clone(), FollowUp::inside())).await
            }
        };
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
    body: impl Future<Output = Result<T, Failure>>,
) -> Result<T, Failure> {
    let (opened, result) = join(client.batch_execute(begin), body).await;
    let closed = end_call(client, Mode::Read, false).await;
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

/// Runs `sql` with text parameters and collects at most `max_rows` rows / `max_bytes` bytes.
pub async fn rows(
    client: &Client,
    sql: &str,
    params: &[TextParam],
    max_rows: usize,
    max_bytes: usize,
    follow: &FollowUp,
) -> Result<Rows, Failure> {
    let typed: Vec<(&(dyn ToSql + Sync), Type)> = params
        .iter()
        .map(|p| (p as &(dyn ToSql + Sync), Type::UNKNOWN))
        .collect();
    let stream = client
        .query_typed_raw(sql, typed)
        .await
        .map_err(|e| Failure::sql(&e))?;
    let mut stream = pin!(stream);
    let mut truncated = None;
    let mut bytes = 0usize;
    let mut rows: Vec<String> = Vec::new();
    // Cells of types without a decoder: (row, byte offset of a `null` placeholder, type, value).
    let mut pending: Vec<(usize, usize, Type, BinaryParam)> = Vec::new();
    let mut columns: Option<Vec<(Column, Type, bool)>> = None;
    while let Some(row) = stream.try_next().await.map_err(|e| Failure::sql(&e))? {
        let cols = columns.get_or_insert_with(|| describe_columns(&row));
        if rows.len() == max_rows {
            truncated = Some("max_rows");
            break;
        }
        let mut json = String::with_capacity(16 * cols.len());
        let mut waiting = Vec::new();
        json.push('[');
        for (i, (_, ty, decodable)) in cols.iter().enumerate() {
            if i > 0 {
                json.push(',');
            }
            let Raw(raw) = row.try_get(i).map_err(|e| Failure::sql(&e))?;
            match raw {
                Some(raw) if !decodable => {
                    waiting.push((json.len(), ty.clone(), BinaryParam(raw.to_vec())));
                    json.push_str("null");
                }
                _ => {
                    let mark = json.len();
                    if let Err(e) = decode::write(&mut json, ty, raw) {
                        json.truncate(mark);
                        decode::string(&mut json, &format!("<undecodable {}: {e}>", ty.name()));
                    }
                }
            }
        }
        json.push(']');
        // Values still to print count at twice their binary size, a fair guess for text.
        let size = json.len() + waiting.iter().map(|(_, _, v)| 2 * v.0.len()).sum::<usize>();
        if bytes + size > max_bytes {
            truncated = Some("max_bytes");
            break;
        }
        bytes += size + 1;
        let r = rows.len();
        pending.extend(waiting.into_iter().map(|(at, ty, v)| (r, at, ty, v)));
        rows.push(json);
    }
    let affected = if truncated.is_none() {
        stream.rows_affected()
    } else {
        None
    };
    let columns = match columns {
        Some(c) => c,
        // No row came back: the statement's description still names the columns. Parsing can
        // run code (a domain's CHECK on a literal), so it happens inside a read-only
        // transaction like the statement itself.
        None => match follow
            .run(
                client,
                client.prepare_typed(sql, &vec![Type::UNKNOWN; params.len()]),
            )
            .await?
        {
            Ok(statement) => statement
                .columns()
                .iter()
                .map(|c| column(c.name(), c.type_()))
                .collect(),
            Err(_) => Vec::new(),
        },
    };
    if !pending.is_empty() {
        // Printing a value runs its type's output function or a cast: inside a read-only
        // transaction too.
        follow
            .run(client, fill_text_forms(client, pending, &mut rows))
            .await?;
    }
    Ok(Rows {
        columns: columns.into_iter().map(|(c, _, _)| c).collect(),
        rows,
        truncated,
        affected,
    })
}

fn describe_columns(row: &Row) -> Vec<(Column, Type, bool)> {
    row.columns()
        .iter()
        .map(|c| column(c.name(), c.type_()))
        .collect()
}

fn column(name: &str, ty: &Type) -> (Column, Type, bool) {
    (
        Column {
            name: name.to_string(),
            type_name: ty.name().to_string(),
        },
        ty.clone(),
        decode::decodable(ty),
    )
}

/// For columns of types `decode` does not know, asks the server to print each value: the
/// binary value goes back as a parameter of its own type and comes out as `text`, replacing
/// its placeholder. All requests are pipelined: one round trip however many there are.
async fn fill_text_forms(
    client: &Client,
    mut pending: Vec<(usize, usize, Type, BinaryParam)>,
    rows: &mut [String],
) {
    if pending.is_empty() {
        return;
    }
    let printed = join_all(pending.iter().map(|(_, _, ty, value)| async move {
        client
            .query_typed(
                "SELECT $1::text",
                &[(value as &(dyn ToSql + Sync), ty.clone())],
            )
            .await
    }))
    .await;
    let mut texts: Vec<(usize, usize, String)> = pending
        .drain(..)
        .zip(printed)
        .map(|((r, at, ty, _), result)| {
            let text = match result {
                Ok(rows) => rows.first().and_then(|row| row.get::<_, Option<String>>(0)),
                Err(e) => Some(format!(
                    "<{} value not printable: {}>",
                    ty.name(),
                    describe(&e)
                )),
            };
            let mut json = String::new();
            match text {
                Some(t) => decode::string(&mut json, &t),
                None => json.push_str("null"),
            }
            (r, at, json)
        })
        .collect();
    // Splice from the back of each row so earlier offsets stay valid.
    texts.sort_by(|a, b| (a.0, b.1).cmp(&(b.0, a.1)));
    for (r, at, json) in texts {
        rows[r].replace_range(at..at + 4, &json);
    }
}

/// Runs a catalog query of ours (typed results, small) and returns its rows.
pub async fn catalog(
    client: &Client,
    sql: &str,
    params: &[TextParam],
) -> Result<Vec<Row>, Failure> {
    let typed: Vec<(&(dyn ToSql + Sync), Type)> = params
        .iter()
        .map(|p| (p as &(dyn ToSql + Sync), Type::UNKNOWN))
        .collect();
    client
        .query_typed(sql, &typed)
        .await
        .map_err(|e| Failure::sql(&e))
}

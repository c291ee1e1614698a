//! Running the caller's statement and our catalog queries: the caps on what comes back, rows
//! as JSON text, and errors worded for the person (or model) who sent the SQL. The transaction
//! around them is `transaction`'s.

use std::pin::pin;

use futures_util::TryStreamExt;
use futures_util::future::join_all;
use serde_json::{Value, json};
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{Client, Row};

use crate::decode::{self, Raw};
use crate::params::{BinaryParam, TextParam};
use crate::transaction::FollowUp;

/// Why a call failed. `lost` marks a broken connection, which is retried once on a new one.
#[derive(Debug)]
pub struct Failure {
    pub message: String,
    pub lost: bool,
}

impl Failure {
    pub(crate) fn sql(e: &tokio_postgres::Error) -> Failure {
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
        "57014" if crate::cancel::by_client() => text.push_str(
            "\npier: the client cancelled the call, so the plugin cancelled the statement on the \
             server; its transaction was rolled back and nothing was committed.",
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

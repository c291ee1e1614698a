//! Semantic search over pgvector: `semantic_search` embeds the caller's text through the
//! configured endpoint and ranks a table's rows by cosine similarity inside the same read-only,
//! RLS-scoped transaction as `query`; `embed_rows` fills the missing vectors of such a table.
//!
//! Each search is configured once, under `[config.searches.NAME]`: which table, which text
//! columns were embedded, the vector column, what to return and the threshold. The model only
//! names the search and gives its text, so it never writes the vector SQL and cannot reach a
//! table the administrator did not configure.

use pier_sdk::{CallContext, CallResult, ToolError, Value, json, rt};
use serde::Deserialize;

use crate::embeddings::{Endpoint, vector_literal};
use crate::params::{self, TextParam};
use crate::roles::quote_ident;
use crate::run::{self, Failure};
use crate::settings::Settings;
use crate::transaction::{self, Mode};

/// One configured search.
#[derive(Clone, Debug)]
pub struct Search {
    pub name: String,
    /// The database's name in `[config]`; `None` is the first.
    pub database: Option<String>,
    pub schema: Option<String>,
    pub table: String,
    pub text_columns: Vec<String>,
    pub vector_column: String,
    /// What `embed_rows` updates by; the primary key when not set.
    pub key_column: Option<String>,
    /// What a hit returns besides its similarity.
    pub columns: Vec<String>,
    /// Least cosine similarity (1 − distance) a row needs to be returned.
    pub threshold: f64,
    pub max_rows: usize,
    pub description: Option<String>,
    /// The search's own endpoint, else `[config.embeddings]`.
    pub endpoint: Option<Endpoint>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SearchConfig {
    database: Option<String>,
    table: String,
    text_columns: Vec<String>,
    vector_column: String,
    key_column: Option<String>,
    columns: Option<Vec<String>>,
    threshold: Option<f64>,
    max_rows: Option<usize>,
    description: Option<String>,
    embeddings: Option<Value>,
}

pub const DEFAULT_THRESHOLD: f64 = 0.3;
pub const DEFAULT_MAX_ROWS: usize = 20;

impl Search {
    /// The qualified, quoted table name.
    pub fn table_sql(&self) -> String {
        match &self.schema {
            Some(s) => format!("{}.{}", quote_ident(s), quote_ident(&self.table)),
            None => quote_ident(&self.table),
        }
    }

    fn label(&self) -> String {
        format!("[config.searches.{}]", self.name)
    }

    /// The text that was embedded for a row: its text columns, one per line.
    fn text_sql(&self) -> String {
        let cols: Vec<String> = self
            .text_columns
            .iter()
            .map(|c| format!("{}::text", quote_ident(c)))
            .collect();
        format!("concat_ws(E'\\n', {})", cols.join(", "))
    }

    /// The ranking statement: $1 the query vector, $2 the threshold, $3 the row limit.
    pub fn search_sql(&self) -> String {
        let v = quote_ident(&self.vector_column);
        let cols: Vec<String> = self.columns.iter().map(|c| quote_ident(c)).collect();
        format!(
            "SELECT {cols}, (1 - ({v} <=> $1::vector))::float8 AS similarity FROM {table} \
             WHERE {v} IS NOT NULL AND 1 - ({v} <=> $1::vector) >= $2 \
             ORDER BY {v} <=> $1::vector LIMIT $3",
            cols = cols.join(", "),
            table = self.table_sql(),
        )
    }

    pub fn endpoint<'a>(&'a self, settings: &'a Settings) -> Result<&'a Endpoint, ToolError> {
        self.endpoint
            .as_ref()
            .or(settings.embeddings.as_ref())
            .ok_or_else(|| {
                ToolError::Failed(format!(
                    "search {:?} has no embeddings endpoint: add [config.embeddings] with url and \
                     model to {} (and grant its origin in [grants].http, with the API key as auth)",
                    self.name,
                    pier_sdk::host::manifest_path()
                ))
            })
    }
}

/// Reads `[config.searches]`: a table of searches by name.
pub fn parse_searches(value: &Value) -> Result<Vec<Search>, String> {
    let Value::Object(tables) = value else {
        return Err("[config].searches must be a table of tables ([config.searches.NAME])".into());
    };
    let mut out = Vec::new();
    for (name, table) in tables {
        let label = format!("[config.searches.{name}]");
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Err(format!(
                "{label}: a search name is letters, digits, _ and -"
            ));
        }
        let c: SearchConfig = serde_json::from_value(table.clone()).map_err(|e| {
            format!(
                "{label}: {e} (keys: database, table, text_columns, vector_column, key_column, \
                 columns, threshold, max_rows, description, embeddings)"
            )
        })?;
        let (schema, table) = match c.table.split_once('.') {
            Some((s, t)) => (Some(s.to_string()), t.to_string()),
            None => (None, c.table.clone()),
        };
        if table.is_empty() || schema.as_deref() == Some("") {
            return Err(format!("{label}: table {:?} is not schema.table", c.table));
        }
        if c.text_columns.is_empty() || c.text_columns.iter().any(String::is_empty) {
            return Err(format!(
                "{label}: text_columns must name the columns whose text was embedded"
            ));
        }
        let threshold = c.threshold.unwrap_or(DEFAULT_THRESHOLD);
        if !(-1.0..=1.0).contains(&threshold) {
            return Err(format!(
                "{label}: threshold is a cosine similarity from -1 to 1 (0.3 = 30 %), not {threshold}"
            ));
        }
        let max_rows = c.max_rows.unwrap_or(DEFAULT_MAX_ROWS);
        if !(1..=1000).contains(&max_rows) {
            return Err(format!("{label}: max_rows must be 1 to 1000"));
        }
        let endpoint = match &c.embeddings {
            Some(v) => Some(Endpoint::parse(v, &format!("{label}.embeddings"))?),
            None => None,
        };
        let columns = c.columns.unwrap_or_else(|| {
            let mut cols: Vec<String> = c.key_column.iter().cloned().collect();
            cols.extend(c.text_columns.iter().cloned());
            cols
        });
        if columns.is_empty() {
            return Err(format!("{label}: columns must name at least one column"));
        }
        out.push(Search {
            name: name.clone(),
            database: c.database,
            schema,
            table,
            text_columns: c.text_columns,
            vector_column: c.vector_column,
            key_column: c.key_column,
            columns,
            threshold,
            max_rows,
            description: c.description,
            endpoint,
        });
    }
    Ok(out)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchArgs {
    query: String,
    search: Option<String>,
    max_rows: Option<usize>,
    threshold: Option<f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmbedArgs {
    search: Option<String>,
    max_rows: Option<usize>,
}

/// The search a call names, or the only one.
fn chosen<'a>(settings: &'a Settings, name: Option<&str>) -> Result<&'a Search, ToolError> {
    let names = || {
        settings
            .searches
            .iter()
            .map(|s| s.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    match name {
        Some(n) => settings
            .searches
            .iter()
            .find(|s| s.name == n)
            .ok_or_else(|| {
                ToolError::Invalid(format!("no search named {n:?}; configured: {}", names()))
            }),
        None if settings.searches.len() == 1 => Ok(&settings.searches[0]),
        None if settings.searches.is_empty() => Err(ToolError::Failed(format!(
            "no search is configured: add [config.searches.NAME] with table, text_columns and \
             vector_column to {}",
            pier_sdk::host::manifest_path()
        ))),
        None => Err(ToolError::Invalid(format!(
            "name the search (search = one of {})",
            names()
        ))),
    }
}

/// Adds a hint to PostgreSQL's complaint when it is about the vector itself.
fn vector_hint(message: String, search: &Search) -> String {
    if message.contains("different vector dimensions")
        || (message.contains("expected ") && message.contains(" dimensions, not "))
    {
        format!(
            "{message}\nThe endpoint's vectors do not have the length of {}.{}: set model (or \
             dimensions) in the embeddings settings to the one the column was filled with",
            search.table, search.vector_column
        )
    } else if message.contains("type \"vector\" does not exist")
        || message.contains("operator does not exist")
    {
        format!(
            "{message}\nIs pgvector installed in this database (CREATE EXTENSION vector) and is \
             {} a vector column?",
            search.vector_column
        )
    } else {
        message
    }
}

pub fn semantic_search(
    cx: &CallContext,
    settings: &Settings,
    a: SearchArgs,
) -> Result<CallResult, ToolError> {
    let text = a.query.trim();
    if text.is_empty() {
        return Err(ToolError::Invalid(
            "query is empty: give the text to search for".into(),
        ));
    }
    let search = chosen(settings, a.search.as_deref())?;
    let threshold = a.threshold.unwrap_or(search.threshold);
    if !(-1.0..=1.0).contains(&threshold) {
        return Err(ToolError::Invalid(
            "threshold is a cosine similarity from -1 to 1".into(),
        ));
    }
    let limit = a
        .max_rows
        .unwrap_or(search.max_rows)
        .clamp(1, search.max_rows);
    let db = settings.database(search.database.as_deref())?;
    let identity = crate::rls_identity(db, cx)?;
    let vector = search.endpoint(settings)?.embed(&[text.to_string()])?;
    let params = vec![
        TextParam(Some(vector_literal(&vector[0]))),
        TextParam(Some(threshold.to_string())),
        TextParam(Some(limit.to_string())),
    ];
    let rows = crate::statement_rows(
        db,
        settings,
        Mode::Read,
        identity,
        &search.search_sql(),
        &params,
        limit,
    )
    .map_err(|e| match e {
        ToolError::Failed(m) => ToolError::Failed(vector_hint(m, search)),
        other => other,
    })?;
    // The rows' JSON with the search's name and threshold in front (a few rows: parsing it
    // back is cheap).
    let mut answer: serde_json::Map<String, Value> =
        serde_json::from_str(&rows.to_json(&db.name, limit, settings.max_bytes))
            .map_err(|e| ToolError::Failed(format!("internal: {e}")))?;
    answer.insert("search".into(), Value::from(search.name.clone()));
    answer.insert("threshold".into(), json!(threshold));
    Ok(crate::row_result(
        settings,
        &db.name,
        Value::Object(answer).to_string(),
    ))
}

/// The key column `embed_rows` updates by, with its type: the configured one, else the
/// single-column primary key.
async fn key_of(
    client: &tokio_postgres::Client,
    search: &Search,
) -> Result<(String, String), Failure> {
    let regclass = search.table_sql();
    let rows =
        match &search.key_column {
            Some(col) => run::catalog(
                client,
                "SELECT a.attname::text, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a \
                 WHERE a.attrelid = $1::regclass AND a.attname = $2 AND NOT a.attisdropped",
                &[TextParam(Some(regclass)), TextParam(Some(col.clone()))],
            )
            .await?,
            None => {
                run::catalog(
                    client,
                    "SELECT a.attname::text, format_type(a.atttypid, a.atttypmod) FROM pg_index i \
                 JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) \
                 WHERE i.indrelid = $1::regclass AND i.indisprimary",
                    &[TextParam(Some(regclass))],
                )
                .await?
            }
        };
    match rows.as_slice() {
        [row] => Ok((row.get(0), row.get(1))),
        [] if search.key_column.is_some() => Err(Failure::from(format!(
            "{}: key_column {:?} is not a column of {}",
            search.label(),
            search.key_column.as_deref().unwrap_or(""),
            search.table
        ))),
        _ => Err(Failure::from(format!(
            "{} has no single-column primary key: set key_column in {}",
            search.table,
            search.label()
        ))),
    }
}

/// The next batch of rows still without a vector (and with some text to embed) after `after`
/// (keyset order, so one call never takes a row twice).
struct Batch {
    keys: Vec<String>,
    texts: Vec<String>,
}

/// Which rows `embed_rows` fills: no vector yet, some text to embed.
fn pending_sql(search: &Search) -> String {
    format!(
        "{} IS NULL AND {} <> ''",
        quote_ident(&search.vector_column),
        search.text_sql()
    )
}

/// How many rows still wait for a vector (counted at the start and end of a call, not per
/// batch: a count reads the whole table).
async fn pending_count(client: &tokio_postgres::Client, search: &Search) -> Result<i64, Failure> {
    let rows = run::catalog(
        client,
        &format!(
            "SELECT count(*) FROM {} WHERE {}",
            search.table_sql(),
            pending_sql(search)
        ),
        &[],
    )
    .await?;
    Ok(rows.first().map_or(0, |r| r.get(0)))
}

async fn next_batch(
    client: &tokio_postgres::Client,
    search: &Search,
    key: &(String, String),
    after: Option<&str>,
    size: usize,
) -> Result<Batch, Failure> {
    let (k, ty) = (quote_ident(&key.0), &key.1);
    let text = search.text_sql();
    let table = search.table_sql();
    let pending = pending_sql(search);
    let rows = run::catalog(
        client,
        &format!(
            "SELECT {k}::text, {text} FROM {table} WHERE {pending} \
             AND ($1::text IS NULL OR {k} > $1::text::{ty}) ORDER BY {k} LIMIT {size}"
        ),
        &[TextParam(after.map(str::to_string))],
    )
    .await?;
    Ok(Batch {
        keys: rows.iter().map(|r| r.get::<_, String>(0)).collect(),
        texts: rows.iter().map(|r| r.get::<_, String>(1)).collect(),
    })
}

pub fn embed_rows(
    cx: &CallContext,
    settings: &Settings,
    a: EmbedArgs,
) -> Result<CallResult, ToolError> {
    let search = chosen(settings, a.search.as_deref())?;
    let db = settings.database(search.database.as_deref())?;
    if !db.writes {
        return Err(ToolError::Failed(format!(
            "embed_rows writes vectors into {}: database {:?} is read-only here (set writes = true \
             for it in [config] of {})",
            search.table,
            db.name,
            pier_sdk::host::manifest_path()
        )));
    }
    let endpoint = search.endpoint(settings)?;
    let identity = crate::rls_identity(db, cx)?;
    let limit = a.max_rows.unwrap_or(usize::MAX).max(1);
    // Stop taking new batches once most of the call's time is spent, so the answer (how many
    // are done, how many remain) arrives before pier's limit cuts the call off.
    let budget_ms = pier_sdk::time_limit_ms(cx).unwrap_or(30_000) * 6 / 10;
    let started = pier_sdk::time::monotonic_ms();
    let key = rt::block_on(transaction::with_transaction(
        db,
        settings,
        Mode::Read,
        identity,
        |conn| async move { key_of(&conn.client, search).await },
    ))?;
    let table = search.table_sql();
    let v = quote_ident(&search.vector_column);
    let update = format!(
        "UPDATE {table} SET {v} = e.vector::vector \
         FROM unnest($1::text[], $2::text[]) AS e(key, vector) \
         WHERE {table}.{k} = e.key::{ty} AND {table}.{v} IS NULL",
        k = quote_ident(&key.0),
        ty = key.1,
    );
    crate::guard::before_connecting(db, Mode::Write, &update)?;
    let mut done = 0usize;
    let mut after: Option<String> = None;
    let count = || {
        rt::block_on(transaction::with_transaction(
            db,
            settings,
            Mode::Read,
            identity,
            |conn| async move { pending_count(&conn.client, search).await },
        ))
    };
    let total = count()?;
    let failed = |done: usize, why: String| {
        ToolError::Failed(format!(
            "{why}\n{done} rows were embedded and committed before this; call embed_rows again to \
             continue with the rest"
        ))
    };
    loop {
        let size = endpoint.batch.min(limit - done);
        let batch = rt::block_on(transaction::with_transaction(
            db,
            settings,
            Mode::Read,
            identity,
            |conn| {
                let (key, after) = (&key, after.as_deref());
                async move { next_batch(&conn.client, search, key, after, size).await }
            },
        ))
        .map_err(|e| failed(done, e))?;
        if batch.keys.is_empty() {
            break;
        }
        let vectors = endpoint
            .embed(&batch.texts)
            .map_err(|e| failed(done, e.to_string()))?;
        let literals: Vec<Value> = vectors
            .iter()
            .map(|v| Value::from(vector_literal(v)))
            .collect();
        let keys: Vec<Value> = batch.keys.iter().cloned().map(Value::from).collect();
        let bound = params::from_json(&[Value::Array(keys), Value::Array(literals)]);
        let written = rt::block_on(transaction::with_transaction(
            db,
            settings,
            Mode::Write,
            identity,
            |conn| {
                let (sql, bound) = (&update, &bound);
                async move { run::catalog(&conn.client, sql, bound).await }
            },
        ));
        match written {
            Ok(_) => {}
            Err(e) => {
                return Err(failed(
                    done,
                    vector_hint(crate::guard::explain_denial(db, Mode::Write, e), search),
                ));
            }
        }
        done += batch.keys.len();
        after = batch.keys.last().cloned();
        pier_sdk::host::progress(
            &cx.request_id,
            done as f64,
            Some(total.max(done as i64) as f64),
            Some(&format!("{done} rows of {} embedded", search.table)),
        );
        if done >= limit || pier_sdk::time::monotonic_ms().saturating_sub(started) > budget_ms {
            break;
        }
    }
    let remaining = count().map_err(|e| failed(done, e))?;
    let complete = remaining == 0;
    let note = if complete {
        format!("every row of {} with text has a vector", search.table)
    } else {
        format!(
            "{remaining} rows still have no vector; call embed_rows again to continue (each batch \
             is committed as it is done)"
        )
    };
    Ok(crate::structured(
        json!({
            "database": db.name,
            "search": search.name,
            "embedded": done,
            "remaining": remaining,
            "complete": complete,
            "note": note,
        })
        .to_string(),
    ))
}

/// The searches as the tool description lists them.
pub fn describe(searches: &[Search]) -> String {
    searches
        .iter()
        .map(|s| {
            let what = s
                .description
                .clone()
                .unwrap_or_else(|| format!("rows of {} by {}", s.table, s.text_columns.join(", ")));
            format!("{} ({what})", s.name)
        })
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn searches_are_read_with_defaults_and_mistakes_named() {
        let s = parse_searches(&json!({"products": {
            "table": "retail.products", "text_columns": ["name", "description"],
            "vector_column": "embedding", "key_column": "id"
        }}))
        .expect("valid");
        let p = &s[0];
        assert_eq!(
            (p.threshold, p.max_rows),
            (DEFAULT_THRESHOLD, DEFAULT_MAX_ROWS)
        );
        assert_eq!(p.columns, ["id", "name", "description"]);
        assert_eq!(
            p.search_sql(),
            "SELECT id, name, description, (1 - (embedding <=> $1::vector))::float8 AS similarity \
             FROM retail.products WHERE embedding IS NOT NULL AND 1 - (embedding <=> $1::vector) \
             >= $2 ORDER BY embedding <=> $1::vector LIMIT $3"
        );
        assert_eq!(
            p.text_sql(),
            "concat_ws(E'\\n', name::text, description::text)"
        );
        let e =
            parse_searches(&json!({"p": {"table": "t", "text_columns": [], "vector_column": "v"}}))
                .unwrap_err();
        assert!(e.contains("text_columns"), "{e}");
        let e = parse_searches(&json!({"p": {"table": "t", "text_columns": ["a"], "vector_column": "v", "threshold": 30}}))
            .unwrap_err();
        assert!(e.contains("0.3 = 30 %"), "{e}");
        let e = parse_searches(&json!({"p": {"table": "t", "text_columns": ["a"], "vector": "v"}}))
            .unwrap_err();
        assert!(
            e.contains("[config.searches.p]") && e.contains("vector"),
            "{e}"
        );
        // A reserved word as a column is quoted.
        let s = parse_searches(
            &json!({"p": {"table": "order", "text_columns": ["desc"], "vector_column": "v"}}),
        )
        .expect("valid");
        assert!(s[0].search_sql().contains("SELECT \"desc\", ") && s[0].table_sql() == "\"order\"");
    }

    #[test]
    fn vector_errors_say_which_setting() {
        let s = &parse_searches(
            &json!({"p": {"table": "t", "text_columns": ["a"], "vector_column": "v"}}),
        )
        .expect("valid")[0];
        for pg in [
            "ERROR 22000: different vector dimensions 5 and 1536",
            "ERROR 22000: expected 5 dimensions, not 1536",
        ] {
            assert!(
                vector_hint(pg.into(), s).contains("set model (or dimensions)"),
                "{pg}"
            );
        }
        assert!(
            vector_hint("ERROR 42883: type \"vector\" does not exist".into(), s)
                .contains("CREATE EXTENSION vector")
        );
        assert_eq!(
            vector_hint("ERROR 42501: permission denied".into(), s),
            "ERROR 42501: permission denied"
        );
    }
}

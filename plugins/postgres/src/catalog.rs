//! Schema discovery: schemas, tables and one table's full description, read from the system
//! catalogs in one round trip each (the server builds the JSON).

use serde_json::{Value, json};
use tokio_postgres::Client;

use crate::params::TextParam;
use crate::run::{self, Failure};

const KIND: &str = "CASE c.relkind WHEN 'r' THEN 'table' WHEN 'p' THEN 'partitioned table' \
    WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view' WHEN 'f' THEN 'foreign table' END";

const SYSTEM: &str = "(n.nspname IN ('pg_catalog', 'information_schema') \
    OR n.nspname LIKE 'pg\\_toast%' OR n.nspname LIKE 'pg\\_temp\\_%')";

fn text(v: Option<&str>) -> TextParam {
    TextParam(v.map(str::to_string))
}

/// Schemas with their owner, comment and number of tables and views.
pub async fn schemas(client: &Client, include_system: bool) -> Result<Value, Failure> {
    let sql = format!(
        "SELECT COALESCE(json_agg(json_build_object('name', n.nspname, \
           'owner', pg_get_userbyid(n.nspowner), \
           'comment', obj_description(n.oid, 'pg_namespace'), \
           'system', {SYSTEM}, \
           'tables', (SELECT count(*) FROM pg_class c WHERE c.relnamespace = n.oid \
                      AND c.relkind IN ('r','p','v','m','f'))) ORDER BY n.nspname), '[]') \
         FROM pg_namespace n WHERE $1::bool OR NOT {SYSTEM}"
    );
    one_json(
        client,
        &sql,
        &[text(Some(if include_system { "true" } else { "false" }))],
    )
    .await
}

/// Tables and views the role can read, optionally in one schema and matching a LIKE pattern.
pub async fn tables(
    client: &Client,
    schema: Option<&str>,
    pattern: Option<&str>,
    verbose: bool,
    limit: usize,
) -> Result<Value, Failure> {
    let columns = if verbose {
        ", 'columns', (SELECT json_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod) \
             ORDER BY a.attnum) FROM pg_attribute a \
             WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped)"
    } else {
        ""
    };
    let sql = format!(
        "SELECT COALESCE(json_agg(t), '[]') FROM (SELECT json_build_object('schema', n.nspname, \
           'name', c.relname, 'kind', {KIND}, \
           'rows_estimate', CASE WHEN c.reltuples < 0 THEN NULL ELSE c.reltuples::int8 END, \
           'comment', obj_description(c.oid, 'pg_class'){columns}) AS t \
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE c.relkind IN ('r','p','v','m','f') AND NOT c.relispartition \
           AND (($1::text IS NULL AND NOT {SYSTEM}) OR n.nspname = $1::text) \
           AND ($2::text IS NULL OR c.relname ILIKE $2::text) \
           AND has_table_privilege(c.oid, 'SELECT') \
         ORDER BY n.nspname, c.relname LIMIT $3::int) AS q"
    );
    one_json(
        client,
        &sql,
        &[
            text(schema),
            text(pattern),
            TextParam(Some(limit.to_string())),
        ],
    )
    .await
}

/// Everything a model needs to write a query against one table or view.
pub async fn describe(client: &Client, table: &str, samples: bool) -> Result<Value, Failure> {
    let names = "(SELECT json_agg(a.attname ORDER BY k.ord) FROM unnest({keys}) WITH ORDINALITY \
                 AS k(attnum, ord) JOIN pg_attribute a ON a.attrelid = {rel} AND a.attnum = k.attnum)";
    let key_names = |keys: &str, rel: &str| names.replace("{keys}", keys).replace("{rel}", rel);
    let sql = format!(
        "SELECT json_build_object('schema', n.nspname, 'name', c.relname, 'kind', {KIND}, \
           'comment', obj_description(c.oid, 'pg_class'), \
           'rows_estimate', CASE WHEN c.reltuples < 0 THEN NULL ELSE c.reltuples::int8 END, \
           'row_level_security', c.relrowsecurity, \
           'columns', COALESCE((SELECT json_agg(json_build_object('name', a.attname, \
               'type', format_type(a.atttypid, a.atttypmod), 'nullable', NOT a.attnotnull, \
               'default', pg_get_expr(d.adbin, d.adrelid), \
               'comment', col_description(c.oid, a.attnum)) ORDER BY a.attnum) \
             FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum \
             WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped), '[]'), \
           'primary_key', (SELECT {pk} FROM pg_constraint p WHERE p.conrelid = c.oid AND p.contype = 'p'), \
           'foreign_keys', COALESCE((SELECT json_agg(json_build_object('name', f.conname, \
               'columns', {fk_cols}, 'references', json_build_object('table', f.confrelid::regclass::text, \
               'columns', {fk_refs})) ORDER BY f.conname) \
             FROM pg_constraint f WHERE f.conrelid = c.oid AND f.contype = 'f'), '[]'), \
           'referenced_by', COALESCE((SELECT json_agg(json_build_object('table', f.conrelid::regclass::text, \
               'columns', {rb_cols}, 'constraint', f.conname) ORDER BY f.conname) \
             FROM pg_constraint f WHERE f.confrelid = c.oid AND f.contype = 'f'), '[]'), \
           'indexes', COALESCE((SELECT json_agg(json_build_object('name', i.relname, \
               'definition', pg_get_indexdef(x.indexrelid), 'unique', x.indisunique, \
               'primary', x.indisprimary) ORDER BY i.relname) \
             FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid WHERE x.indrelid = c.oid), '[]'), \
           'checks', COALESCE((SELECT json_agg(json_build_object('name', k.conname, \
               'definition', pg_get_constraintdef(k.oid)) ORDER BY k.conname) \
             FROM pg_constraint k WHERE k.conrelid = c.oid AND k.contype = 'c'), '[]'), \
           'sample_values', CASE WHEN $2::bool THEN (SELECT json_object_agg(s.attname, s.most_common_vals::text) \
             FROM pg_stats s WHERE s.schemaname = n.nspname AND s.tablename = c.relname \
               AND s.most_common_vals IS NOT NULL AND s.n_distinct BETWEEN 1 AND 25) END) \
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE c.oid = to_regclass($1::text)",
        pk = key_names("p.conkey", "p.conrelid"),
        fk_cols = key_names("f.conkey", "f.conrelid"),
        fk_refs = key_names("f.confkey", "f.confrelid"),
        rb_cols = key_names("f.conkey", "f.conrelid"),
    );
    let rows = run::catalog(
        client,
        &sql,
        &[
            text(Some(table)),
            text(Some(if samples { "true" } else { "false" })),
        ],
    )
    .await?;
    match rows.first() {
        Some(row) => Ok(row.get::<_, Value>(0)),
        None => Err(format!(
            "no table or view named {table:?} is visible (names are resolved like in SQL: \
             schema.table, unquoted names fold to lower case; list_tables shows what exists)"
        )
        .into()),
    }
}

async fn one_json(client: &Client, sql: &str, params: &[TextParam]) -> Result<Value, Failure> {
    let rows = run::catalog(client, sql, params).await?;
    Ok(rows
        .first()
        .map(|r| r.get::<_, Value>(0))
        .unwrap_or_else(|| json!([])))
}

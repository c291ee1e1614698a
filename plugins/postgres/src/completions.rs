//! Suggestions while a user types a `postgres://{database}/{schema}/{table}` URI: configured
//! database names, then that database's schemas, then its tables in the chosen schema — from
//! the catalog, as the connecting role sees it, with denied tables left out.

use pier_sdk::{CallContext, CompletionTarget, Completions, Error, rt};

use crate::params::TextParam;
use crate::transaction::{self, Mode};
use crate::{Postgres, run};

/// Most suggestions asked of the catalog (pier sends the client at most 100).
const MOST: usize = 100;

fn starts_with(name: &str, typed: &str) -> bool {
    name.to_lowercase().starts_with(&typed.to_lowercase())
}

impl Completions for Postgres {
    fn complete(
        &mut self,
        _cx: &CallContext,
        _target: &CompletionTarget,
        argument: &str,
        value: &str,
        context: &[(String, String)],
    ) -> Result<Vec<String>, Error> {
        let Ok(settings) = &self.settings else {
            return Ok(Vec::new());
        };
        let given = |key: &str| {
            context
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.as_str())
        };
        if argument == "database" {
            return Ok(settings
                .databases
                .iter()
                .map(|d| d.name.clone())
                .filter(|n| starts_with(n, value))
                .collect());
        }
        if argument != "schema" && argument != "table" {
            return Ok(Vec::new());
        }
        let Ok(db) = settings.database(given("database")) else {
            return Ok(Vec::new());
        };
        let pattern = format!(
            "{}%",
            value
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_")
        );
        let (sql, params) = if argument == "schema" {
            (
                "SELECT n.nspname::text, NULL::text FROM pg_namespace n \
                 WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') \
                   AND n.nspname NOT LIKE 'pg_temp%' AND n.nspname NOT LIKE 'pg_toast_temp%' \
                   AND n.nspname ILIKE $1 AND has_schema_privilege(n.oid, 'USAGE') \
                 ORDER BY 1 LIMIT 100",
                vec![TextParam(Some(pattern))],
            )
        } else {
            (
                "SELECT c.relname::text, n.nspname::text FROM pg_class c \
                 JOIN pg_namespace n ON n.oid = c.relnamespace \
                 WHERE c.relkind IN ('r', 'v', 'm', 'p', 'f') AND c.relname ILIKE $1 \
                   AND ($2::text IS NULL OR n.nspname = $2) \
                   AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') \
                   AND has_table_privilege(c.oid, 'SELECT') \
                 ORDER BY 1 LIMIT 100",
                vec![
                    TextParam(Some(pattern)),
                    TextParam(given("schema").map(str::to_string)),
                ],
            )
        };
        let rows = rt::block_on(transaction::with_transaction(
            db,
            settings,
            Mode::Read,
            None,
            |conn| {
                let params = &params;
                async move { run::catalog(&conn.client, sql, params).await }
            },
        ))
        .map_err(Error::Internal)?;
        Ok(rows
            .iter()
            .filter(|r| {
                // Denied tables are not offered (they are not described or queried either).
                argument == "schema"
                    || db
                        .restrictions
                        .denied_table(&r.get::<_, String>(1), &r.get::<_, String>(0))
                        .is_none()
            })
            .map(|r| r.get::<_, String>(0))
            .take(MOST)
            .collect())
    }
}

//! Read-only tools for the person looking after the database: the statements that cost the
//! most (`top_queries`, from pg_stat_statements) and a health report (`health`). Each runs our
//! own fixed catalog queries in the call's read-only transaction; what a check needs and the
//! role lacks (pg_read_all_stats, an extension) is said in the answer, never guessed.

use pier_sdk::{Value, json};
use serde::Deserialize;
use tokio_postgres::Client;

use crate::params::TextParam;
use crate::run::{self, Failure};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TopArgs {
    pub database: Option<String>,
    sort_by: Option<String>,
    limit: Option<i64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HealthArgs {
    pub database: Option<String>,
    #[serde(default)]
    checks: Vec<String>,
}

/// The extension's installed version in this database, if it is installed.
pub async fn extension(client: &Client, name: &str) -> Result<Option<String>, Failure> {
    let rows = run::catalog(
        client,
        "SELECT extversion FROM pg_extension WHERE extname = $1",
        &[TextParam(Some(name.to_string()))],
    )
    .await?;
    Ok(rows.first().map(|r| r.get(0)))
}

fn round(x: f64, places: i32) -> f64 {
    let f = 10f64.powi(places);
    (x * f).round() / f
}

/// Statements left out of `top_queries`: transaction control and session settings (every
/// client, pier included, sends BEGIN, SET and ROLLBACK far more often than anything else, and
/// no index or rewrite makes them cheaper).
const SESSION_STATEMENTS: &str = "^\\s*(begin|start transaction|commit|end|rollback|abort|savepoint|release|set|reset|show|discard|close|unlisten|deallocate)\\y";

pub const SORTS: [&str; 5] = ["total_time", "mean_time", "calls", "rows", "io"];

/// `top_queries`: the costliest statements of this database by one measure.
pub async fn top_queries(client: &Client, database: &str, a: &TopArgs) -> Result<Value, Failure> {
    let sort = a.sort_by.as_deref().unwrap_or("total_time");
    let order = match sort {
        "total_time" => "total_exec_time",
        "mean_time" => "mean_exec_time",
        "calls" => "calls",
        "rows" => "rows",
        "io" => "shared_blks_read + temp_blks_read + temp_blks_written",
        other => {
            return Err(Failure::from(format!(
                "sort_by {other:?} is not one of {}",
                SORTS.join(", ")
            )));
        }
    };
    let limit = a.limit.unwrap_or(10).clamp(1, 100);
    if extension(client, "pg_stat_statements").await?.is_none() {
        return Err(Failure::from(format!(
            "pg_stat_statements is not installed in database {database:?}: add \
             shared_preload_libraries = 'pg_stat_statements' to postgresql.conf, restart \
             PostgreSQL, then run CREATE EXTENSION pg_stat_statements in this database (as a \
             superuser; managed services offer it as a parameter and an extension)"
        )));
    }
    let rows = run::catalog(
        client,
        &format!(
            "SELECT s.query, s.calls, s.total_exec_time::float8, s.mean_exec_time::float8, s.rows, \
               (s.shared_blks_hit::float8 / nullif(s.shared_blks_hit + s.shared_blks_read, 0)), \
               (100 * s.total_exec_time / nullif(sum(s.total_exec_time) OVER (), 0))::float8, \
               (s.shared_blks_read + s.temp_blks_read + s.temp_blks_written)::int8, \
               pg_get_userbyid(s.userid)::text \
             FROM pg_stat_statements s \
             WHERE s.dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) \
               AND NOT s.query ~* '{SESSION_STATEMENTS}' \
             ORDER BY {order} DESC NULLS LAST LIMIT {limit}"
        ),
        &[],
    )
    .await?;
    let mut hidden = 0;
    let queries: Vec<Value> = rows
        .iter()
        .map(|r| {
            let query: Option<String> = r.get(0);
            if query.as_deref() == Some("<insufficient privilege>") {
                hidden += 1;
            }
            json!({
                "query": query,
                "calls": r.get::<_, i64>(1),
                "total_ms": round(r.get::<_, f64>(2), 2),
                "mean_ms": round(r.get::<_, f64>(3), 3),
                "rows": r.get::<_, i64>(4),
                "cache_hit_ratio": r.get::<_, Option<f64>>(5).map(|x| round(x, 4)),
                "percent_of_total_time": r.get::<_, Option<f64>>(6).map(|x| round(x, 1)),
                "blocks_read": r.get::<_, i64>(7),
                "role": r.get::<_, String>(8),
            })
        })
        .collect();
    let mut out = json!({"database": database, "sort_by": sort, "queries": queries});
    if hidden > 0 {
        out["note"] = Value::from(format!(
            "{hidden} statements of other roles are hidden (<insufficient privilege>): GRANT \
             pg_read_all_stats TO the role pier connects as to see them"
        ));
    }
    Ok(out)
}

/// One finding of `health`.
struct Check {
    name: &'static str,
    status: &'static str,
    summary: String,
    items: Vec<Value>,
}

impl Check {
    fn new(name: &'static str, warn: bool, summary: String, items: Vec<Value>) -> Check {
        Check {
            name,
            status: if warn { "warning" } else { "ok" },
            summary,
            items,
        }
    }
}

pub const CHECKS: [&str; 10] = [
    "invalid_indexes",
    "invalid_constraints",
    "unused_indexes",
    "duplicate_indexes",
    "bloat",
    "cache_hit",
    "connections",
    "vacuum",
    "sequences",
    "replication",
];

/// `health`: the checks asked for (all by default), worst status first in `status`.
pub async fn health(client: &Client, database: &str, a: &HealthArgs) -> Result<Value, Failure> {
    for c in &a.checks {
        if !CHECKS.contains(&c.as_str()) {
            return Err(Failure::from(format!(
                "no check {c:?}; the checks are {}",
                CHECKS.join(", ")
            )));
        }
    }
    let wanted = |name: &str| a.checks.is_empty() || a.checks.iter().any(|c| c == name);
    let mut out = Vec::new();
    for name in CHECKS {
        if !wanted(name) {
            continue;
        }
        let check = match name {
            "invalid_indexes" => invalid_indexes(client).await?,
            "invalid_constraints" => invalid_constraints(client).await?,
            "unused_indexes" => unused_indexes(client).await?,
            "duplicate_indexes" => duplicate_indexes(client).await?,
            "bloat" => bloat(client).await?,
            "cache_hit" => cache_hit(client).await?,
            "connections" => connections(client).await?,
            "vacuum" => vacuum(client).await?,
            "sequences" => sequences(client).await?,
            _ => replication(client).await?,
        };
        out.push(check);
    }
    let status = if out.iter().any(|c| c.status == "warning") {
        "warning"
    } else {
        "ok"
    };
    let checks: Vec<Value> = out
        .into_iter()
        .map(|c| {
            json!({"check": c.name, "status": c.status, "summary": c.summary, "items": c.items})
        })
        .collect();
    Ok(json!({"database": database, "status": status, "checks": checks}))
}

/// Our queries skip PostgreSQL's own schemas.
const USER_SCHEMAS: &str = "n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') \
    AND n.nspname NOT LIKE 'pg_temp%'";

async fn invalid_indexes(client: &Client) -> Result<Check, Failure> {
    let rows = run::catalog(
        client,
        &format!(
            "SELECT n.nspname::text, c.relname::text, t.relname::text FROM pg_index i \
             JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_class t ON t.oid = i.indrelid \
             JOIN pg_namespace n ON n.oid = c.relnamespace WHERE NOT i.indisvalid AND {USER_SCHEMAS} \
             ORDER BY 1, 2"
        ),
        &[],
    )
    .await?;
    let items: Vec<Value> = rows
        .iter()
        .map(|r| {
            let (schema, index, table): (String, String, String) = (r.get(0), r.get(1), r.get(2));
            json!({"index": format!("{schema}.{index}"), "table": format!("{schema}.{table}"),
                   "fix": format!("REINDEX INDEX CONCURRENTLY {}", crate::quote_name(&schema, &index))})
        })
        .collect();
    let summary = match items.len() {
        0 => "no invalid indexes".to_string(),
        n => format!(
            "{n} invalid indexes (a CREATE INDEX CONCURRENTLY that failed): they cost writes and \
             serve no reads; rebuild or drop them"
        ),
    };
    Ok(Check::new(
        "invalid_indexes",
        !items.is_empty(),
        summary,
        items,
    ))
}

async fn invalid_constraints(client: &Client) -> Result<Check, Failure> {
    let rows = run::catalog(
        client,
        &format!(
            "SELECT n.nspname::text, t.relname::text, c.conname::text, \
               CASE c.contype WHEN 'f' THEN 'foreign key' WHEN 'c' THEN 'check' ELSE c.contype::text END \
             FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid \
             JOIN pg_namespace n ON n.oid = t.relnamespace \
             WHERE NOT c.convalidated AND {USER_SCHEMAS} ORDER BY 1, 2, 3"
        ),
        &[],
    )
    .await?;
    let items: Vec<Value> = rows
        .iter()
        .map(|r| {
            let (schema, table, name): (String, String, String) = (r.get(0), r.get(1), r.get(2));
            json!({"table": format!("{schema}.{table}"), "constraint": name, "kind": r.get::<_, String>(3),
                   "fix": format!("ALTER TABLE {} VALIDATE CONSTRAINT {}",
                                  crate::quote_name(&schema, &table), crate::roles::quote_ident(&name))})
        })
        .collect();
    let summary = match items.len() {
        0 => "every constraint is validated".to_string(),
        n => format!(
            "{n} constraints were added NOT VALID and never validated: rows from before may \
             break them, and the planner cannot rely on them"
        ),
    };
    Ok(Check::new(
        "invalid_constraints",
        !items.is_empty(),
        summary,
        items,
    ))
}

async fn unused_indexes(client: &Client) -> Result<Check, Failure> {
    let rows = run::catalog(
        client,
        "SELECT s.schemaname::text, s.relname::text, s.indexrelname::text, \
           pg_relation_size(s.indexrelid)::int8, \
           (SELECT stats_reset::text FROM pg_stat_database WHERE datname = current_database()) \
         FROM pg_stat_user_indexes s JOIN pg_index i ON i.indexrelid = s.indexrelid \
         WHERE s.idx_scan = 0 AND NOT i.indisunique AND NOT i.indisprimary \
           AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = s.indexrelid) \
         ORDER BY 4 DESC, 1, 3 LIMIT 50",
        &[],
    )
    .await?;
    let since = rows
        .first()
        .and_then(|r| r.get::<_, Option<String>>(4))
        .map_or("since statistics began".to_string(), |t| {
            format!("since {t}")
        });
    let items: Vec<Value> = rows
        .iter()
        .map(|r| {
            json!({"index": format!("{}.{}", r.get::<_, String>(0), r.get::<_, String>(2)),
                   "table": format!("{}.{}", r.get::<_, String>(0), r.get::<_, String>(1)),
                   "size_bytes": r.get::<_, i64>(3)})
        })
        .collect();
    let summary = match items.len() {
        0 => "every non-unique index has been used".to_string(),
        n => format!(
            "{n} indexes have never been scanned {since} (on this server; a replica's reads are \
             not counted here): each slows writes; consider dropping them"
        ),
    };
    Ok(Check::new(
        "unused_indexes",
        !items.is_empty(),
        summary,
        items,
    ))
}

async fn duplicate_indexes(client: &Client) -> Result<Check, Failure> {
    let rows = run::catalog(
        client,
        &format!(
            "SELECT n.nspname::text, t.relname::text, array_agg(c.relname::text ORDER BY c.relname), \
               sum(pg_relation_size(c.oid))::int8 \
             FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid \
             JOIN pg_class t ON t.oid = i.indrelid JOIN pg_namespace n ON n.oid = t.relnamespace \
             WHERE {USER_SCHEMAS} \
             GROUP BY n.nspname, t.relname, i.indrelid, i.indkey::text, i.indclass::text, \
               i.indcollation::text, coalesce(pg_get_expr(i.indexprs, i.indrelid), ''), \
               coalesce(pg_get_expr(i.indpred, i.indrelid), '') \
             HAVING count(*) > 1 ORDER BY 1, 2"
        ),
        &[],
    )
    .await?;
    let items: Vec<Value> = rows
        .iter()
        .map(|r| {
            json!({"table": format!("{}.{}", r.get::<_, String>(0), r.get::<_, String>(1)),
                   "indexes": r.get::<_, Vec<String>>(2),
                   "size_bytes": r.get::<_, i64>(3)})
        })
        .collect();
    let summary = match items.len() {
        0 => "no two indexes of a table are the same".to_string(),
        n => format!(
            "{n} sets of identical indexes (same columns, operator classes, expression and \
             predicate): keep one of each (the one a constraint uses)"
        ),
    };
    Ok(Check::new(
        "duplicate_indexes",
        !items.is_empty(),
        summary,
        items,
    ))
}

async fn bloat(client: &Client) -> Result<Check, Failure> {
    let rows = run::catalog(
        client,
        "SELECT schemaname::text, relname::text, n_live_tup, n_dead_tup, \
           (n_dead_tup::float8 / nullif(n_live_tup + n_dead_tup, 0)), \
           greatest(last_vacuum, last_autovacuum)::text \
         FROM pg_stat_user_tables WHERE n_dead_tup >= 1000 \
           AND n_dead_tup::float8 / nullif(n_live_tup + n_dead_tup, 0) >= 0.2 \
         ORDER BY n_dead_tup DESC LIMIT 50",
        &[],
    )
    .await?;
    let items: Vec<Value> = rows
        .iter()
        .map(|r| {
            json!({"table": format!("{}.{}", r.get::<_, String>(0), r.get::<_, String>(1)),
                   "live_rows": r.get::<_, i64>(2), "dead_rows": r.get::<_, i64>(3),
                   "dead_ratio": r.get::<_, Option<f64>>(4).map(|x| round(x, 3)),
                   "last_vacuum": r.get::<_, Option<String>>(5)})
        })
        .collect();
    let summary = match items.len() {
        0 => "no table has 20 % or more dead rows (an estimate from the statistics \
              collector)"
            .to_string(),
        n => format!(
            "{n} tables are at least 20 % dead rows (from the statistics collector's counts): \
             autovacuum is behind on them; VACUUM them, and look at their autovacuum settings"
        ),
    };
    Ok(Check::new("bloat", !items.is_empty(), summary, items))
}

async fn cache_hit(client: &Client) -> Result<Check, Failure> {
    let rows = run::catalog(
        client,
        "SELECT (sum(heap_blks_hit)::float8 / nullif(sum(heap_blks_hit) + sum(heap_blks_read), 0)), \
           (sum(idx_blks_hit)::float8 / nullif(sum(idx_blks_hit) + sum(idx_blks_read), 0)) \
         FROM pg_statio_user_tables",
        &[],
    )
    .await?;
    let (tables, indexes): (Option<f64>, Option<f64>) =
        rows.first().map_or((None, None), |r| (r.get(0), r.get(1)));
    let low = |x: Option<f64>| x.is_some_and(|x| x < 0.95);
    let pct = |x: Option<f64>| {
        x.map_or("no reads yet".to_string(), |x| {
            format!("{:.1} %", x * 100.0)
        })
    };
    let warn = low(tables) || low(indexes);
    let summary = format!(
        "cache hit ratio: tables {}, indexes {}{}",
        pct(tables),
        pct(indexes),
        if warn {
            " (below 95 %: the working set does not fit shared_buffers, or scans read cold data)"
        } else {
            ""
        }
    );
    let items = vec![
        json!({"tables": tables.map(|x| round(x, 4)), "indexes": indexes.map(|x| round(x, 4))}),
    ];
    Ok(Check::new("cache_hit", warn, summary, items))
}

async fn connections(client: &Client) -> Result<Check, Failure> {
    let rows = run::catalog(
        client,
        "SELECT count(*), count(*) FILTER (WHERE state = 'active'), \
           count(*) FILTER (WHERE state LIKE 'idle in transaction%' \
             AND now() - state_change > interval '5 minutes'), \
           current_setting('max_connections')::int8 \
         FROM pg_stat_activity WHERE backend_type = 'client backend'",
        &[],
    )
    .await?;
    let Some(r) = rows.first() else {
        return Ok(Check::new("connections", false, "no answer".into(), vec![]));
    };
    let (total, active, stuck, max): (i64, i64, i64, i64) =
        (r.get(0), r.get(1), r.get(2), r.get(3));
    let busy = total * 100 >= max * 80;
    let summary = format!(
        "{total} of {max} connections in use ({active} active){}{}",
        if busy {
            "; above 80 % of max_connections: use a pooler or raise the limit"
        } else {
            ""
        },
        if stuck > 0 {
            format!(
                "; {stuck} idle in a transaction for over 5 minutes (they hold locks and stop vacuum)"
            )
        } else {
            String::new()
        }
    );
    let items = vec![
        json!({"total": total, "active": active, "idle_in_transaction_over_5_min": stuck, "max_connections": max}),
    ];
    Ok(Check::new("connections", busy || stuck > 0, summary, items))
}

async fn vacuum(client: &Client) -> Result<Check, Failure> {
    let rows = run::catalog(
        client,
        &format!(
            "SELECT n.nspname::text, c.relname::text, age(c.relfrozenxid)::int8, \
               current_setting('autovacuum_freeze_max_age')::int8, \
               (SELECT age(datfrozenxid)::int8 FROM pg_database WHERE datname = current_database()) \
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE c.relkind IN ('r', 'm', 't') AND {USER_SCHEMAS} \
             ORDER BY 3 DESC LIMIT 5"
        ),
        &[],
    )
    .await?;
    let freeze_max = rows.first().map_or(200_000_000, |r| r.get::<_, i64>(3));
    let db_age = rows.first().map_or(0, |r| r.get::<_, i64>(4));
    let items: Vec<Value> = rows
        .iter()
        .map(|r| {
            json!({"table": format!("{}.{}", r.get::<_, String>(0), r.get::<_, String>(1)),
                   "xid_age": r.get::<_, i64>(2)})
        })
        .collect();
    // Wraparound stops writes at 2^31; autovacuum's forced freeze starts at freeze_max_age.
    let warn = db_age > freeze_max * 3 / 4 || db_age > 1_500_000_000;
    let summary = format!(
        "oldest unfrozen transaction is {db_age} transactions old (autovacuum_freeze_max_age \
         {freeze_max}; writes stop near 2,147,483,647){}",
        if warn {
            ": VACUUM (FREEZE) the oldest tables listed"
        } else {
            ""
        }
    );
    Ok(Check::new("vacuum", warn, summary, items))
}

async fn sequences(client: &Client) -> Result<Check, Failure> {
    let rows = run::catalog(
        client,
        "SELECT schemaname::text, sequencename::text, last_value, max_value, \
           (last_value::float8 / max_value::float8) \
         FROM pg_sequences WHERE increment_by > 0 AND last_value IS NOT NULL \
           AND last_value::float8 / max_value::float8 >= 0.75 ORDER BY 5 DESC LIMIT 50",
        &[],
    )
    .await?;
    let unreadable = run::catalog(
        client,
        "SELECT count(*) FROM pg_sequences WHERE last_value IS NULL \
           AND NOT has_sequence_privilege(format('%I.%I', schemaname, sequencename), 'SELECT')",
        &[],
    )
    .await?
    .first()
    .map_or(0, |r| r.get::<_, i64>(0));
    let items: Vec<Value> = rows
        .iter()
        .map(|r| {
            json!({"sequence": format!("{}.{}", r.get::<_, String>(0), r.get::<_, String>(1)),
                   "last_value": r.get::<_, i64>(2), "max_value": r.get::<_, i64>(3),
                   "used": round(r.get::<_, f64>(4), 4)})
        })
        .collect();
    let mut summary = match items.len() {
        0 => "no sequence has used 75 % of its range".to_string(),
        n => format!(
            "{n} sequences have used 75 % or more of their range: move the column and the \
             sequence to bigint before inserts fail"
        ),
    };
    if unreadable > 0 {
        summary.push_str(&format!(
            " ({unreadable} sequences could not be read: no SELECT privilege on them)"
        ));
    }
    Ok(Check::new("sequences", !items.is_empty(), summary, items))
}

async fn replication(client: &Client) -> Result<Check, Failure> {
    let standby = run::catalog(client, "SELECT pg_is_in_recovery()", &[])
        .await?
        .first()
        .is_some_and(|r| r.get::<_, bool>(0));
    if standby {
        let rows = run::catalog(
            client,
            "SELECT extract(epoch FROM now() - pg_last_xact_replay_timestamp())::float8",
            &[],
        )
        .await?;
        let lag: Option<f64> = rows.first().and_then(|r| r.get(0));
        let warn = lag.is_some_and(|s| s > 60.0);
        let summary = match lag {
            Some(s) => format!(
                "this server is a standby, {s:.1} s behind its primary's last replayed commit"
            ),
            None => "this server is a standby and has replayed no transaction yet".into(),
        };
        return Ok(Check::new(
            "replication",
            warn,
            summary,
            vec![json!({"standby": true, "lag_seconds": lag})],
        ));
    }
    let rows = run::catalog(
        client,
        "SELECT application_name::text, state::text, \
           extract(epoch FROM replay_lag)::float8, \
           pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::int8 \
         FROM pg_stat_replication ORDER BY 1",
        &[],
    )
    .await?;
    let slots = run::catalog(
        client,
        "SELECT slot_name::text, \
           pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::int8 \
         FROM pg_replication_slots WHERE NOT active ORDER BY 1",
        &[],
    )
    .await?;
    let mut items: Vec<Value> = rows
        .iter()
        .map(|r| {
            json!({"replica": r.get::<_, Option<String>>(0), "state": r.get::<_, Option<String>>(1),
                   "replay_lag_seconds": r.get::<_, Option<f64>>(2), "bytes_behind": r.get::<_, Option<i64>>(3)})
        })
        .collect();
    let lagging = rows
        .iter()
        .filter(|r| r.get::<_, Option<f64>>(2).is_some_and(|s| s > 60.0))
        .count();
    items.extend(slots.iter().map(|r| {
        json!({"inactive_slot": r.get::<_, String>(0), "wal_retained_bytes": r.get::<_, Option<i64>>(1)})
    }));
    let mut summary = match rows.len() {
        0 => "no replicas are connected".to_string(),
        n => format!("{n} replicas connected, {lagging} more than a minute behind"),
    };
    if !slots.is_empty() {
        summary.push_str(&format!(
            "; {} inactive replication slots keep WAL on disk until they are used or dropped",
            slots.len()
        ));
    }
    Ok(Check::new(
        "replication",
        lagging > 0 || !slots.is_empty(),
        summary,
        items,
    ))
}

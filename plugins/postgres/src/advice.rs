//! Indexes that do not exist yet: `explain` with hypothetical indexes, and `index_advice` for
//! one statement or for the workload pg_stat_statements recorded. Both use hypopg, whose
//! indexes live in the session's memory only and are seen only by plain `EXPLAIN`: nothing is
//! built, locked or written, so it all runs in the read-only transaction.
//!
//! The advice is a search the planner scores: candidate indexes come from the columns the plan
//! filters, joins and sorts on (read off the plan, checked against the table's columns); each is
//! tried hypothetically and kept when the planner uses it and the estimated cost drops by at
//! least `min_improvement`; with the best one in place the rest are tried again (at most three
//! per statement). Normalised statements (`$1` for each constant) are planned generically.
//!
//! hypopg's indexes outlive a transaction, so every call ends with `hypopg_reset()`, and a call
//! that failed half-way resets the session after its transaction ended.

use std::collections::BTreeMap;

use pier_sdk::{Value, json};
use serde::Deserialize;
use tokio_postgres::Client;

use crate::params::{self, TextParam};
use crate::roles::quote_ident;
use crate::run::{self, Failure};

/// An index to pretend exists: `{table, columns, using}`.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(deny_unknown_fields)]
pub struct Hypothetical {
    pub table: String,
    pub columns: Vec<String>,
    #[serde(default)]
    pub using: Option<String>,
}

const METHODS: [&str; 5] = ["btree", "hash", "gin", "gist", "brin"];

impl Hypothetical {
    /// The `CREATE INDEX` statement hypopg is given (and the advice recommends).
    pub fn statement(&self) -> Result<String, String> {
        if self.columns.is_empty() || self.columns.len() > 8 {
            return Err(format!(
                "a hypothetical index on {} needs 1 to 8 columns",
                self.table
            ));
        }
        let table = match self.table.split_once('.') {
            Some((s, t)) if !s.is_empty() && !t.is_empty() => {
                format!("{}.{}", quote_ident(s), quote_ident(t))
            }
            None if !self.table.is_empty() => quote_ident(&self.table),
            _ => return Err(format!("table {:?} is not schema.table", self.table)),
        };
        let method = self.using.as_deref().unwrap_or("btree");
        if !METHODS.contains(&method) {
            return Err(format!(
                "using {method:?} is not one of {}",
                METHODS.join(", ")
            ));
        }
        let cols: Vec<String> = self.columns.iter().map(|c| quote_ident(c)).collect();
        Ok(format!(
            "CREATE INDEX ON {table} USING {method} ({})",
            cols.join(", ")
        ))
    }
}

/// Says how to install hypopg when it is missing.
pub async fn require_hypopg(client: &Client, database: &str) -> Result<(), Failure> {
    if crate::dba::extension(client, "hypopg").await?.is_some() {
        return Ok(());
    }
    Err(Failure::from(format!(
        "hypopg is not installed in database {database:?}: install the package (Debian/Ubuntu \
         postgresql-NN-hypopg; managed services list it as an extension) and run CREATE \
         EXTENSION hypopg in this database as a superuser"
    )))
}

async fn reset(client: &Client) -> Result<(), Failure> {
    run::catalog(client, "SELECT hypopg_reset()", &[]).await?;
    Ok(())
}

/// A hypothetical index hypopg made: its name as plans show it, and its estimated size.
struct Made {
    statement: String,
    name: String,
    size: i64,
}

async fn create(client: &Client, statement: &str) -> Result<Made, Failure> {
    let rows = run::catalog(
        client,
        "SELECT h.indexname::text, hypopg_relation_size(h.indexrelid)::int8 \
         FROM hypopg_create_index($1) h",
        &[TextParam(Some(statement.to_string()))],
    )
    .await
    .map_err(|f| Failure::from(format!("hypopg could not make {statement}: {}", f.message)))?;
    let row = rows
        .first()
        .ok_or_else(|| Failure::from(format!("hypopg made no index for {statement}")))?;
    Ok(Made {
        statement: statement.to_string(),
        name: row.get(0),
        size: row.get(1),
    })
}

/// How a statement's parameters are planned: with the caller's values, or generically (the
/// normalised statements of pg_stat_statements have `$n` and no values).
#[derive(Clone, Copy)]
pub enum Values<'a> {
    Bound(&'a [TextParam]),
    Generic(usize),
}

/// The highest `$n` in `sql` outside quotes and comments (0 when none).
pub fn parameter_count(sql: &str) -> usize {
    let b = sql.as_bytes();
    let (mut i, mut most) = (0, 0);
    while i < b.len() {
        match b[i] {
            b'\'' | b'"' => {
                let q = b[i];
                i += 1;
                while i < b.len() && b[i] != q {
                    i += 1;
                }
            }
            b'-' if b.get(i + 1) == Some(&b'-') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'$' => {
                let start = i + 1;
                let mut j = start;
                while j < b.len() && b[j].is_ascii_digit() {
                    j += 1;
                }
                if j > start && (i == 0 || !b[i - 1].is_ascii_alphanumeric()) {
                    most = most.max(sql[start..j].parse().unwrap_or(0));
                }
                i = j.max(i + 1) - 1;
            }
            _ => {}
        }
        i += 1;
    }
    most
}

/// `EXPLAIN (FORMAT JSON, VERBOSE)` of `sql`: the plan's root object. VERBOSE names each
/// scan's schema and qualifies every column with its relation's alias, which is how the
/// candidates are told apart.
pub async fn plan(client: &Client, sql: &str, values: Values<'_>) -> Result<Value, Failure> {
    let explained = match values {
        Values::Bound(params) => {
            let rows = run::catalog(
                client,
                &format!("EXPLAIN (FORMAT JSON, VERBOSE) {sql}"),
                params,
            )
            .await?;
            rows.first().map(|r| r.get::<_, Value>(0))
        }
        Values::Generic(n) => {
            // Prepared anew each time: a generic plan, once made, is cached and would not see
            // the hypothetical indexes created since. Inside a savepoint, so a statement that
            // cannot be planned leaves the transaction usable and nothing prepared.
            let nulls = vec!["NULL"; n].join(", ");
            let args = if n == 0 {
                String::new()
            } else {
                format!("({nulls})")
            };
            let explained = async {
                client
                    .batch_execute(
                        "SAVEPOINT pier_plan; SET LOCAL plan_cache_mode = force_generic_plan",
                    )
                    .await
                    .map_err(|e| Failure::sql(&e))?;
                // The caller's text goes through the extended protocol, which takes exactly one
                // statement: `…; COMMIT; DELETE …` is refused instead of ending the read-only
                // transaction (a simple-protocol batch would run each part).
                run::catalog(client, &format!("PREPARE pier_advice AS {sql}"), &[]).await?;
                let rows = run::catalog(
                    client,
                    &format!("EXPLAIN (FORMAT JSON, VERBOSE) EXECUTE pier_advice{args}"),
                    &[],
                )
                .await?;
                client
                    .batch_execute("DEALLOCATE pier_advice; RELEASE SAVEPOINT pier_plan")
                    .await
                    .map_err(|e| Failure::sql(&e))?;
                Ok::<_, Failure>(rows.first().map(|r| r.get::<_, Value>(0)))
            }
            .await;
            match explained {
                Ok(plan) => plan,
                Err(f) => {
                    // PREPARE outlives the rollback: drop it if it was made.
                    let _ = client
                        .batch_execute(
                            "ROLLBACK TO SAVEPOINT pier_plan; RELEASE SAVEPOINT pier_plan",
                        )
                        .await;
                    let _ = client.batch_execute("DEALLOCATE pier_advice").await;
                    return Err(f);
                }
            }
        }
    };
    explained
        .and_then(|v| v.get(0).cloned())
        .ok_or_else(|| Failure::from("EXPLAIN returned no plan".to_string()))
}

fn total_cost(plan: &Value) -> f64 {
    plan["Plan"]["Total Cost"].as_f64().unwrap_or(f64::MAX)
}

/// `explain` with `hypothetical`: makes them, plans `sql`, says which the plan uses.
pub async fn explain_with(
    client: &Client,
    database: &str,
    sql: &str,
    params: &[TextParam],
    hypothetical: &[Hypothetical],
) -> Result<Value, Failure> {
    require_hypopg(client, database).await?;
    reset(client).await?;
    let mut made = Vec::new();
    for h in hypothetical {
        made.push(create(client, &h.statement()?).await?);
    }
    let plan = plan(client, sql, Values::Bound(params)).await?;
    reset(client).await?;
    let text = plan.to_string();
    let indexes: Vec<Value> = made
        .iter()
        .map(|m| {
            json!({"statement": m.statement, "name": m.name, "estimated_size_bytes": m.size,
                   "used": text.contains(&m.name)})
        })
        .collect();
    Ok(json!({"database": database, "plan": plan, "hypothetical_indexes": indexes}))
}

/// The relations a plan scans: alias → (schema, table).
fn scanned(node: &Value, out: &mut BTreeMap<String, (String, String)>) {
    if let (Some(rel), Some(schema)) = (node["Relation Name"].as_str(), node["Schema"].as_str()) {
        let alias = node["Alias"].as_str().unwrap_or(rel).to_string();
        out.insert(alias, (schema.to_string(), rel.to_string()));
    }
    for child in node["Plans"].as_array().into_iter().flatten() {
        scanned(child, out);
    }
}

/// Words the planner prints in conditions that are not columns (it prints them upper-case).
const KEYWORDS: &[&str] = &[
    "AND", "OR", "NOT", "IS", "NULL", "ANY", "ALL", "IN", "LIKE", "ILIKE", "TRUE", "FALSE", "CASE",
    "WHEN", "THEN", "ELSE", "END", "BETWEEN", "ARRAY", "DESC", "ASC", "NULLS", "FIRST", "LAST",
    "USING", "DISTINCT", "FROM", "SubPlan", "InitPlan", "hashed",
];

/// The identifiers of a condition the planner printed (`((o.status)::text = 'x'::text)`):
/// `(qualifier, name)` pairs, with string literals and type casts left out.
fn identifiers(condition: &str) -> Vec<(Option<String>, String)> {
    let mut out = Vec::new();
    let b: Vec<char> = condition.chars().collect();
    let mut i = 0;
    let mut after_cast = false;
    while i < b.len() {
        let c = b[i];
        if c == '\'' {
            i += 1;
            while i < b.len() && b[i] != '\'' {
                i += 1;
            }
            i += 1;
            continue;
        }
        if c == ':' && b.get(i + 1) == Some(&':') {
            after_cast = true;
            i += 2;
            continue;
        }
        if c.is_alphanumeric() || c == '_' || c == '"' {
            let mut word = String::new();
            let mut parts = Vec::new();
            while i < b.len()
                && (b[i].is_alphanumeric() || b[i] == '_' || b[i] == '"' || b[i] == '.')
            {
                if b[i] == '.' {
                    parts.push(std::mem::take(&mut word));
                } else if b[i] != '"' {
                    word.push(b[i]);
                }
                i += 1;
            }
            parts.push(word);
            let is_call = b.get(i) == Some(&'(');
            let keyword = parts.len() == 1 && KEYWORDS.contains(&parts[0].as_str());
            if !after_cast
                && !is_call
                && !keyword
                && parts[0].chars().next().is_some_and(|c| !c.is_ascii_digit())
            {
                match parts.as_slice() {
                    [name] => out.push((None, name.clone())),
                    [q, name] => out.push((Some(q.clone()), name.clone())),
                    _ => {}
                }
            }
            after_cast = false;
            continue;
        }
        if !c.is_whitespace() {
            after_cast = false;
        }
        i += 1;
    }
    out
}

/// Columns a plan node and its children filter, join or sort on, by the alias they belong to.
#[derive(Default)]
struct Uses {
    filters: BTreeMap<String, Vec<String>>,
    joins: BTreeMap<String, Vec<String>>,
    sorts: BTreeMap<String, Vec<String>>,
}

fn push(map: &mut BTreeMap<String, Vec<String>>, alias: &str, col: String) {
    let cols = map.entry(alias.to_string()).or_default();
    if !cols.contains(&col) {
        cols.push(col);
    }
}

fn uses(node: &Value, out: &mut Uses) {
    let own = node["Alias"]
        .as_str()
        .or(node["Relation Name"].as_str())
        .map(str::to_string);
    let conditions = |keys: &[&str]| -> Vec<(Option<String>, String)> {
        keys.iter()
            .filter_map(|k| node[*k].as_str())
            .flat_map(identifiers)
            .collect()
    };
    for (q, col) in conditions(&["Filter", "Index Cond", "Recheck Cond"]) {
        if let Some(alias) = q.or(own.clone()) {
            push(&mut out.filters, &alias, col);
        }
    }
    for (q, col) in conditions(&["Hash Cond", "Merge Cond", "Join Filter"]) {
        if let Some(alias) = q {
            push(&mut out.joins, &alias, col);
        }
    }
    for key in node["Sort Key"].as_array().into_iter().flatten() {
        if let Some((Some(alias), col)) =
            key.as_str().and_then(|k| identifiers(k).into_iter().next())
        {
            push(&mut out.sorts, &alias, col);
        }
    }
    for child in node["Plans"].as_array().into_iter().flatten() {
        uses(child, out);
    }
}

async fn columns_of(client: &Client, schema: &str, table: &str) -> Result<Vec<String>, Failure> {
    let rows = run::catalog(
        client,
        "SELECT attname::text FROM pg_attribute WHERE attrelid = $1::regclass AND attnum > 0 \
         AND NOT attisdropped",
        &[TextParam(Some(crate::quote_name(schema, table)))],
    )
    .await?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// Candidate indexes for a plan: each filtered, joined or sorted column alone, the filtered
/// columns together (up to three), and those followed by the sort column.
async fn candidates(client: &Client, plan: &Value) -> Result<Vec<Hypothetical>, Failure> {
    let mut rels = BTreeMap::new();
    scanned(&plan["Plan"], &mut rels);
    let mut seen = Uses::default();
    uses(&plan["Plan"], &mut seen);
    let mut out: Vec<Hypothetical> = Vec::new();
    let mut add = |schema: &str, table: &str, cols: Vec<String>| {
        let h = Hypothetical {
            table: format!("{schema}.{table}"),
            columns: cols,
            using: None,
        };
        if !h.columns.is_empty() && !out.contains(&h) {
            out.push(h);
        }
    };
    for (alias, (schema, table)) in &rels {
        if schema == "pg_catalog" || schema == "information_schema" {
            continue;
        }
        let real = columns_of(client, schema, table).await?;
        let keep = |cols: Option<&Vec<String>>| -> Vec<String> {
            cols.into_iter()
                .flatten()
                .filter(|c| real.contains(c))
                .cloned()
                .collect()
        };
        let filters = keep(seen.filters.get(alias));
        let joins = keep(seen.joins.get(alias));
        let sorts = keep(seen.sorts.get(alias));
        for c in filters.iter().chain(&joins).chain(&sorts) {
            add(schema, table, vec![c.clone()]);
        }
        if filters.len() > 1 {
            add(schema, table, filters.iter().take(3).cloned().collect());
        }
        if let Some(sort) = sorts.first()
            && !filters.is_empty()
            && !filters.contains(sort)
        {
            let mut cols: Vec<String> = filters.iter().take(2).cloned().collect();
            cols.push(sort.clone());
            add(schema, table, cols);
        }
    }
    Ok(out)
}

/// What the advice found for one statement.
pub struct Advice {
    pub cost_before: f64,
    pub cost_after: f64,
    pub tried: usize,
    pub chosen: Vec<(Hypothetical, String, i64)>,
}

/// Greedy search over the candidates of `sql`'s plan (see the module's comment).
pub async fn advise(
    client: &Client,
    sql: &str,
    values: Values<'_>,
    min_improvement: f64,
) -> Result<Advice, Failure> {
    reset(client).await?;
    let before = plan(client, sql, values).await?;
    let cost_before = total_cost(&before);
    let pool = candidates(client, &before).await?;
    let mut chosen: Vec<(Hypothetical, String, i64)> = Vec::new();
    let mut current = cost_before;
    while chosen.len() < 3 {
        let mut best: Option<(f64, Hypothetical, String, i64)> = None;
        for cand in pool
            .iter()
            .filter(|c| !chosen.iter().any(|(h, _, _)| h == *c))
        {
            // A candidate hypopg cannot make (a type without a btree operator class) is
            // skipped; the savepoint keeps its error from ending the transaction.
            client
                .batch_execute("SAVEPOINT pier_try")
                .await
                .map_err(|e| Failure::sql(&e))?;
            let trial = async {
                reset(client).await?;
                for (h, _, _) in &chosen {
                    create(client, &h.statement()?).await?;
                }
                let made = create(client, &cand.statement()?).await?;
                let tried = plan(client, sql, values).await?;
                Ok::<_, Failure>((made, tried))
            }
            .await;
            let end = if trial.is_ok() {
                "RELEASE SAVEPOINT pier_try"
            } else {
                "ROLLBACK TO SAVEPOINT pier_try; RELEASE SAVEPOINT pier_try"
            };
            client
                .batch_execute(end)
                .await
                .map_err(|e| Failure::sql(&e))?;
            let Ok((made, tried)) = trial else {
                continue;
            };
            let cost = total_cost(&tried);
            let used = tried.to_string().contains(&made.name);
            if used
                && cost < current * (1.0 - min_improvement)
                && best.as_ref().is_none_or(|(b, _, _, _)| cost < *b)
            {
                best = Some((cost, cand.clone(), made.statement, made.size));
            }
        }
        match best {
            Some((cost, h, statement, size)) => {
                current = cost;
                chosen.push((h, statement, size));
            }
            None => break,
        }
    }
    reset(client).await?;
    Ok(Advice {
        cost_before,
        cost_after: current,
        tried: pool.len(),
        chosen,
    })
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// `index_advice` for one statement.
pub async fn for_statement(
    client: &Client,
    database: &str,
    sql: &str,
    params: &[Value],
    min_improvement: f64,
) -> Result<Value, Failure> {
    require_hypopg(client, database).await?;
    let bound = params::from_json(params);
    let n = parameter_count(sql);
    let values = if n > 0 && bound.is_empty() {
        Values::Generic(n)
    } else {
        Values::Bound(&bound)
    };
    let advice = advise(client, sql, values, min_improvement).await?;
    let recommendations: Vec<Value> = advice
        .chosen
        .iter()
        .map(|(h, statement, size)| {
            json!({"statement": statement, "table": h.table, "columns": h.columns,
                   "estimated_size_bytes": size})
        })
        .collect();
    let note = if recommendations.is_empty() {
        format!(
            "no index on the columns this statement filters, joins or sorts on lowers its \
             estimated cost by {:.0} % or more ({} candidates tried)",
            min_improvement * 100.0,
            advice.tried
        )
    } else {
        format!(
            "estimated cost {:.2} → {:.2} ({:.1}x) with the recommended indexes; check with \
             explain and hypothetical_indexes, then create them with CREATE INDEX CONCURRENTLY",
            advice.cost_before,
            advice.cost_after,
            advice.cost_before / advice.cost_after.max(0.01)
        )
    };
    Ok(json!({
        "database": database,
        "cost_before": round2(advice.cost_before),
        "cost_after": round2(advice.cost_after),
        "recommendations": recommendations,
        "note": note,
    }))
}

/// Whether a recorded statement is one an index could help and ours to plan.
fn plannable(query: &str) -> Result<(), &'static str> {
    let first = query
        .trim_start()
        .split(|c: char| !c.is_ascii_alphabetic())
        .next()
        .unwrap_or("")
        .to_ascii_lowercase();
    if !matches!(first.as_str(), "select" | "with" | "update" | "delete") {
        return Err("not a SELECT, UPDATE or DELETE");
    }
    let lower = query.to_ascii_lowercase();
    if [
        "pg_catalog",
        "pg_stat",
        "information_schema",
        "hypopg",
        "pg_class",
        "pg_attribute",
    ]
    .iter()
    .any(|w| lower.contains(w))
    {
        return Err("reads the system catalogs");
    }
    Ok(())
}

/// Shortens a statement for the answer.
fn excerpt(query: &str) -> String {
    let one: String = query.split_whitespace().collect::<Vec<_>>().join(" ");
    if one.chars().count() > 200 {
        format!("{}…", one.chars().take(200).collect::<String>())
    } else {
        one
    }
}

/// `index_advice` for the workload: the costliest recorded statements, each advised, the
/// recommendations merged and ranked by the planner cost they save, weighted by calls.
pub async fn for_workload(
    client: &Client,
    database: &str,
    limit: i64,
    min_improvement: f64,
) -> Result<Value, Failure> {
    require_hypopg(client, database).await?;
    if crate::dba::extension(client, "pg_stat_statements")
        .await?
        .is_none()
    {
        return Err(Failure::from(format!(
            "advice for the workload reads pg_stat_statements, which is not installed in database \
             {database:?} (see top_queries); or pass sql to advise on one statement"
        )));
    }
    let rows = run::catalog(
        client,
        "SELECT s.query, s.calls, s.total_exec_time::float8 FROM pg_stat_statements s \
         WHERE s.dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) \
           AND s.query <> '<insufficient privilege>' \
         ORDER BY s.total_exec_time DESC LIMIT 200",
        &[],
    )
    .await?;
    let mut skipped = Vec::new();
    let (mut analysed, mut ignored) = (0, 0);
    let mut merged: BTreeMap<String, Merged> = BTreeMap::new();
    for r in &rows {
        if analysed >= limit {
            break;
        }
        let (query, calls): (String, i64) = (r.get(0), r.get(1));
        if plannable(&query).is_err() {
            ignored += 1;
            continue;
        }
        analysed += 1;
        let values = Values::Generic(parameter_count(&query));
        // A statement that cannot be planned (a parameter type the generic plan cannot
        // infer) is skipped with its reason; `plan` leaves the transaction usable.
        match advise(client, &query, values, min_improvement).await {
            Ok(advice) => {
                // Each index is credited with the statement's whole saving (they were chosen
                // together); the ranking is what matters.
                let saved = (advice.cost_before - advice.cost_after) * calls as f64;
                for (h, statement, size) in advice.chosen {
                    let entry = merged.entry(statement).or_insert_with(|| Merged {
                        index: h.clone(),
                        size,
                        saved: 0.0,
                        helps: Vec::new(),
                    });
                    entry.saved += saved;
                    entry.helps.push(json!({"query": excerpt(&query), "calls": calls,
                        "cost_before": round2(advice.cost_before), "cost_after": round2(advice.cost_after)}));
                }
            }
            Err(f) => {
                reset(client).await?;
                if skipped.len() < 20 {
                    skipped.push(json!({"query": excerpt(&query), "reason": f.message.lines().next().unwrap_or("")}));
                }
            }
        }
    }
    let mut ranked: Vec<(String, Merged)> = merged.into_iter().collect();
    ranked.sort_by(|a, b| b.1.saved.total_cmp(&a.1.saved));
    let recommendations: Vec<Value> = ranked
        .into_iter()
        .map(|(statement, m)| {
            json!({"statement": statement, "table": m.index.table, "columns": m.index.columns,
                   "estimated_size_bytes": m.size, "helps": m.helps})
        })
        .collect();
    Ok(json!({
        "database": database,
        "statements_analysed": analysed,
        "recommendations": recommendations,
        "skipped": skipped,
        "statements_ignored": ignored,
        "note": "statements_ignored counts recorded statements no index helps or that read the \
                 system catalogs (INSERT, utility statements, EXPLAIN, catalog queries); skipped \
                 lists those that could not be planned, with the reason",
    }))
}

/// One recommended index of the workload: its estimated size, the planner cost it saves
/// (weighted by calls) and the statements it helps.
struct Merged {
    index: Hypothetical,
    size: i64,
    saved: f64,
    helps: Vec<Value>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_are_counted_outside_quotes() {
        assert_eq!(
            parameter_count("SELECT * FROM t WHERE a = $1 AND b = $12"),
            12
        );
        assert_eq!(parameter_count("SELECT '$5', \"$6\" -- $7\n FROM t"), 0);
        assert_eq!(parameter_count("SELECT $$x$$"), 0);
    }

    #[test]
    fn conditions_give_their_columns() {
        assert_eq!(
            identifiers("((o.status)::text = 'paid $1'::text) AND (o.customer_id = c.id)"),
            vec![
                (Some("o".into()), "status".into()),
                (Some("o".into()), "customer_id".into()),
                (Some("c".into()), "id".into())
            ]
        );
        assert_eq!(
            identifiers("(lower(name) = 'x'::text) AND (price > 10)"),
            vec![(None, "name".into()), (None, "price".into())]
        );
    }

    #[test]
    fn hypothetical_statements_are_quoted_and_checked() {
        let h = Hypothetical {
            table: "shop.orders".into(),
            columns: vec!["customer_id".into(), "Created At".into()],
            using: None,
        };
        assert_eq!(
            h.statement().expect("valid"),
            "CREATE INDEX ON shop.orders USING btree (customer_id, \"Created At\")"
        );
        let bad = Hypothetical {
            using: Some("btree); DROP TABLE x; --".into()),
            ..h.clone()
        };
        assert!(bad.statement().is_err());
        let none = Hypothetical {
            columns: vec![],
            ..h
        };
        assert!(none.statement().is_err());
    }

    #[test]
    fn only_plannable_statements_are_advised() {
        assert!(plannable("select * from t where a = $1").is_ok());
        assert!(plannable("  WITH x AS (select 1) select * from x").is_ok());
        assert!(plannable("INSERT INTO t VALUES ($1)").is_err());
        assert!(plannable("SELECT * FROM pg_stat_statements").is_err());
    }
}

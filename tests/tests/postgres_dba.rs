//! The postgres plugin's DBA tools against a real PostgreSQL 15 with pg_stat_statements
//! preloaded and hypopg installed (Debian's postgresql-15-hypopg, which `cargo xtask test`
//! installs): top_queries, health, explain with hypothetical indexes, index_advice for one
//! statement and for the workload, and completions of the table template.

use pier_e2e::postgres::Cluster;
use pier_e2e::{Client, Fixture, ok, structured, tool_error};
use serde_json::{Value, json};

const PASSWORD_VAR: &str = "PIER_TEST_PGPASSWORD";

/// A retail-like schema with what a health check should find: two identical indexes, one
/// never used, an invalid one (a failed CREATE UNIQUE INDEX CONCURRENTLY), a sequence near its
/// end, a table mostly dead rows. A second database has neither extension.
fn seed(pg: &Cluster) {
    pg.psql("postgres", "CREATE DATABASE retail");
    pg.psql("postgres", "CREATE DATABASE vanilla");
    pg.psql(
        "retail",
        r#"
        CREATE EXTENSION pg_stat_statements;
        CREATE EXTENSION hypopg;
        CREATE ROLE dba_reader LOGIN PASSWORD 'reader-secret' IN ROLE pg_read_all_stats;
        CREATE SCHEMA retail;
        CREATE TABLE retail.stores (id int PRIMARY KEY, name text NOT NULL);
        CREATE TABLE retail.customers (id int PRIMARY KEY, name text NOT NULL, email text);
        CREATE TABLE retail.orders (id bigserial PRIMARY KEY, store_id int NOT NULL,
            customer_id int NOT NULL, status text NOT NULL, total numeric(10,2), created_at timestamptz NOT NULL);
        INSERT INTO retail.stores SELECT g, 'store ' || g FROM generate_series(1, 20) g;
        INSERT INTO retail.customers SELECT g, 'c' || g, 'c' || g || '@x' FROM generate_series(1, 5000) g;
        INSERT INTO retail.orders (store_id, customer_id, status, total, created_at)
            SELECT 1 + g % 20, 1 + g % 5000, CASE WHEN g % 10 = 0 THEN 'open' ELSE 'shipped' END,
                   g % 500, now() - g * interval '1 minute'
            FROM generate_series(1, 60000) g;
        CREATE INDEX orders_store ON retail.orders (store_id);
        CREATE INDEX orders_store_again ON retail.orders (store_id);
        CREATE INDEX customers_email ON retail.customers (email);
        ALTER TABLE retail.orders ADD CONSTRAINT total_positive CHECK (total >= 0) NOT VALID;
        CREATE SEQUENCE retail.ticket_seq MAXVALUE 100;
        SELECT setval('retail.ticket_seq', 90);
        CREATE TABLE retail.churn (id int, note text);
        INSERT INTO retail.churn SELECT g, 'x' FROM generate_series(1, 5000) g;
        ALTER TABLE retail.churn SET (autovacuum_enabled = false);
        DELETE FROM retail.churn WHERE id > 1000;
        ANALYZE;
        GRANT USAGE ON SCHEMA retail TO dba_reader;
        GRANT SELECT ON ALL TABLES IN SCHEMA retail TO dba_reader;
        GRANT SELECT ON ALL SEQUENCES IN SCHEMA retail TO dba_reader;
        "#,
    );
    // Leaves an INVALID index behind (CONCURRENTLY cannot run in psql's -c transaction block
    // with other statements, so on its own; it fails on the duplicate statuses).
    let failed = std::process::Command::new("psql")
        .arg("-h")
        .arg(pg.dir.path())
        .args([
            "-p",
            &pg.port.to_string(),
            "-U",
            "postgres",
            "-d",
            "retail",
            "-X",
            "-q",
        ])
        .args([
            "-c",
            "CREATE UNIQUE INDEX CONCURRENTLY orders_status_unique ON retail.orders (status)",
        ])
        .output()
        .expect("run psql");
    assert!(!failed.status.success(), "the unique index should fail");
    pg.psql(
        "vanilla",
        "CREATE ROLE vanilla_reader LOGIN PASSWORD 'reader-secret'",
    );
    // The workload pg_stat_statements records, as the reader.
    pg.psql("retail", "SELECT pg_stat_statements_reset()");
    for id in 0..25 {
        pg.psql(
            "retail",
            &format!(
                "SET ROLE dba_reader; SELECT id, total FROM retail.orders WHERE customer_id = {id}"
            ),
        );
    }
    for _ in 0..5 {
        pg.psql(
            "retail",
            "SET ROLE dba_reader; SELECT count(*) FROM retail.orders WHERE status = 'open' AND store_id = 3",
        );
    }
}

async fn serve(pg: &Cluster, fx: &Fixture) -> Client {
    serve_with(pg, fx, "").await
}

/// [`serve`] with more keys for the retail database.
async fn serve_with(pg: &Cluster, fx: &Fixture, retail: &str) -> Client {
    let manifest = format!(
        "[grants]\nnetwork = [\"postgres://localhost:{port}\"]\nenv = [\"{PASSWORD_VAR}\"]\n\n\
         [config]\npassword_env = \"{PASSWORD_VAR}\"\nsslmode = \"disable\"\n\n\
         [config.databases.retail]\nurl = \"postgres://dba_reader@localhost:{port}/retail\"\n{retail}\n\n\
         [config.databases.vanilla]\nurl = \"postgres://vanilla_reader@localhost:{port}/vanilla\"\n",
        port = pg.port
    );
    fx.install("postgres", "postgres", Some(&manifest));
    fx.connect_with(&[], &[(PASSWORD_VAR, "reader-secret")])
        .await
}

fn check<'a>(health: &'a Value, name: &str) -> &'a Value {
    health["checks"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["check"] == name))
        .unwrap_or_else(|| panic!("no {name} in {health}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn top_queries_health_and_hypothetical_indexes() {
    let pg = Cluster::start_with(
        pier_e2e::postgres::default_bin(),
        &["shared_preload_libraries=pg_stat_statements"],
    );
    seed(&pg);
    let fx = Fixture::new();
    let c = serve(&pg, &fx).await;

    // top_queries: the normalised customer lookup, called 25 times, leads by calls.
    let top = ok(
        &c,
        "postgres_top_queries",
        json!({"sort_by": "calls", "limit": 5}),
    )
    .await;
    let first = &structured(&top)["queries"][0];
    assert!(
        first["query"]
            .as_str()
            .is_some_and(|q| q.contains("customer_id = $1")),
        "{top:?}"
    );
    assert_eq!(first["calls"], 25, "{first}");
    assert_eq!(first["role"], "dba_reader");
    assert!(first["total_ms"].as_f64().is_some() && first["cache_hit_ratio"].is_number());
    let e = tool_error(&c, "postgres_top_queries", json!({"sort_by": "fun"})).await;
    assert!(e.contains("sort_by"), "{e}");
    let e = tool_error(&c, "postgres_top_queries", json!({"database": "vanilla"})).await;
    assert!(
        e.contains("pg_stat_statements is not installed in database \"vanilla\"")
            && e.contains("shared_preload_libraries"),
        "{e}"
    );

    // health: every check answers; the planted problems are found.
    let health = ok(&c, "postgres_health", json!({})).await;
    let h = structured(&health);
    assert_eq!(h["status"], "warning", "{h}");
    assert_eq!(h["checks"].as_array().map(Vec::len), Some(10), "{h}");
    let constraint = &check(h, "invalid_constraints")["items"][0];
    assert_eq!(constraint["constraint"], "total_positive", "{h}");
    assert_eq!(
        constraint["fix"],
        "ALTER TABLE retail.orders VALIDATE CONSTRAINT total_positive"
    );
    let dup = check(h, "duplicate_indexes");
    assert_eq!(dup["status"], "warning");
    assert_eq!(
        dup["items"][0]["indexes"],
        json!(["orders_store", "orders_store_again"]),
        "{dup}"
    );
    let invalid = check(h, "invalid_indexes");
    assert_eq!(
        invalid["items"][0]["index"], "retail.orders_status_unique",
        "{invalid}"
    );
    assert!(
        invalid["items"][0]["fix"]
            .as_str()
            .is_some_and(|f| f.starts_with("REINDEX"))
    );
    let unused = check(h, "unused_indexes")["items"].to_string();
    assert!(unused.contains("retail.customers_email"), "{unused}");
    let seq = check(h, "sequences");
    assert_eq!(seq["items"][0]["sequence"], "retail.ticket_seq", "{seq}");
    assert_eq!(seq["items"][0]["used"], 0.9);
    let bloat = check(h, "bloat");
    assert_eq!(bloat["items"][0]["table"], "retail.churn", "{bloat}");
    assert_eq!(bloat["items"][0]["dead_rows"], 4000);
    for name in ["cache_hit", "connections", "vacuum", "replication"] {
        let one = check(h, name);
        assert!(
            one["summary"].as_str().is_some_and(|s| !s.is_empty()),
            "{one}"
        );
    }
    assert_eq!(check(h, "replication")["status"], "ok");
    let only = ok(&c, "postgres_health", json!({"checks": ["sequences"]})).await;
    assert_eq!(
        structured(&only)["checks"].as_array().map(Vec::len),
        Some(1)
    );
    let e = tool_error(&c, "postgres_health", json!({"checks": ["karma"]})).await;
    assert!(e.contains("karma"), "{e}");
    // A denied table's findings are left out of the report (the statistics views show every
    // table, whatever the role may read).
    pg.psql("retail", "REVOKE SELECT ON retail.churn FROM dba_reader");
    let fx_denied = Fixture::new();
    let denied = serve_with(&pg, &fx_denied, "denied_tables = [\"retail.churn\"]").await;
    let report = ok(&denied, "postgres_health", json!({"checks": ["bloat"]})).await;
    assert_eq!(
        structured(&report)["checks"][0]["items"],
        json!([]),
        "{report:?}"
    );

    // explain with a hypothetical index: the planner uses it; then it is gone again.
    let sql = "SELECT id FROM retail.orders WHERE customer_id = $1";
    let hypo = ok(
        &c,
        "postgres_explain",
        json!({"sql": sql, "params": [7], "hypothetical_indexes": [
            {"table": "retail.orders", "columns": ["customer_id"]}
        ]}),
    )
    .await;
    let made = &structured(&hypo)["hypothetical_indexes"][0];
    assert_eq!(made["used"], true, "{hypo:?}");
    assert_eq!(
        made["statement"],
        "CREATE INDEX ON retail.orders USING btree (customer_id)"
    );
    assert!(made["estimated_size_bytes"].as_i64().is_some_and(|n| n > 0));
    assert!(
        structured(&hypo)["plan"].to_string().contains("Index"),
        "{hypo:?}"
    );
    let plain = ok(&c, "postgres_explain", json!({"sql": sql, "params": [7]})).await;
    let plan = structured(&plain)["plan"].to_string();
    assert!(
        plan.contains("Seq Scan") && !plan.contains("btree_orders"),
        "{plan}"
    );
    let e = tool_error(
        &c,
        "postgres_explain",
        json!({"sql": sql, "params": [7], "analyze": true,
               "hypothetical_indexes": [{"table": "retail.orders", "columns": ["customer_id"]}]}),
    )
    .await;
    assert!(e.contains("without analyze"), "{e}");
    let e = tool_error(
        &c,
        "postgres_explain",
        json!({"sql": sql, "params": [7],
               "hypothetical_indexes": [{"table": "retail.orders", "columns": ["nope"]}]}),
    )
    .await;
    assert!(e.contains("nope"), "{e}");
    // After that failure the session holds no hypothetical index either.
    let plain = ok(&c, "postgres_explain", json!({"sql": sql, "params": [7]})).await;
    assert!(structured(&plain)["plan"].to_string().contains("Seq Scan"));
    let e = tool_error(
        &c,
        "postgres_explain",
        json!({"database": "vanilla", "sql": "SELECT 1",
               "hypothetical_indexes": [{"table": "public.t", "columns": ["a"]}]}),
    )
    .await;
    assert!(
        e.contains("hypopg is not installed in database \"vanilla\"")
            && e.contains("CREATE EXTENSION hypopg"),
        "{e}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn index_advice_for_a_statement_and_for_the_workload_and_completions() {
    let pg = Cluster::start_with(
        pier_e2e::postgres::default_bin(),
        &["shared_preload_libraries=pg_stat_statements"],
    );
    seed(&pg);
    let fx = Fixture::new();
    let c = serve(&pg, &fx).await;

    // One statement with its value, and the same generically ($1 without params).
    for args in [
        json!({"sql": "SELECT id, total FROM retail.orders WHERE customer_id = $1", "params": [42]}),
        json!({"sql": "SELECT id, total FROM retail.orders WHERE customer_id = $1"}),
    ] {
        let advice = ok(&c, "postgres_index_advice", args.clone()).await;
        let a = structured(&advice);
        assert_eq!(
            a["recommendations"][0]["statement"],
            "CREATE INDEX ON retail.orders USING btree (customer_id)",
            "{args}: {a}"
        );
        let (before, after) = (
            a["cost_before"].as_f64().expect("cost"),
            a["cost_after"].as_f64().expect("cost"),
        );
        assert!(after * 5.0 < before, "{a}");
    }
    // A join and a sort: the joined column and the filter+sort column are found.
    let joined = ok(
        &c,
        "postgres_index_advice",
        json!({"sql": "SELECT o.id FROM retail.orders o JOIN retail.customers c ON c.id = o.customer_id \
                       WHERE c.email = 'c5@x' ORDER BY o.created_at"}),
    )
    .await;
    let recs = structured(&joined)["recommendations"].to_string();
    assert!(
        recs.contains("retail.orders USING btree (customer_id"),
        "{recs}"
    );
    // Nothing to gain: a primary-key lookup.
    let none = ok(
        &c,
        "postgres_index_advice",
        json!({"sql": "SELECT name FROM retail.stores WHERE id = 3"}),
    )
    .await;
    assert_eq!(structured(&none)["recommendations"], json!([]));
    assert!(
        structured(&none)["note"]
            .as_str()
            .is_some_and(|n| n.contains("no index")),
        "{none:?}"
    );
    let e = tool_error(
        &c,
        "postgres_index_advice",
        json!({"sql": "SELEC nonsense"}),
    )
    .await;
    assert!(e.contains("syntax error"), "{e}");
    // A second statement cannot ride along to end the read-only transaction, planned
    // generically or with values.
    for args in [
        json!({"sql": "SELECT 1 FROM retail.orders WHERE customer_id = $1; COMMIT; CREATE TABLE retail.pwned ()"}),
        json!({"sql": "SELECT 1; COMMIT; CREATE TABLE retail.pwned ()"}),
    ] {
        let e = tool_error(&c, "postgres_index_advice", args).await;
        assert!(e.contains("multiple commands"), "{e}");
    }
    assert_eq!(
        pg.psql(
            "retail",
            "SELECT count(*) FROM pg_tables WHERE tablename = 'pwned'"
        )
        .trim(),
        "0"
    );

    // The workload: the recorded customer lookup (25 calls) leads; pg_stat_statements' own
    // statements are skipped.
    let workload = ok(&c, "postgres_index_advice", json!({})).await;
    let w = structured(&workload);
    assert!(
        w["statements_analysed"].as_i64().is_some_and(|n| n >= 2),
        "{w}"
    );
    let first = &w["recommendations"][0];
    assert_eq!(
        first["statement"], "CREATE INDEX ON retail.orders USING btree (customer_id)",
        "{w}"
    );
    assert_eq!(first["helps"][0]["calls"], 25, "{first}");
    // The open-orders count was planned too (not skipped), whatever the planner made of it.
    assert!(
        !w["skipped"]
            .to_string()
            .contains("status = $1 AND store_id = $2"),
        "{w}"
    );
    let e = tool_error(&c, "postgres_index_advice", json!({"database": "vanilla"})).await;
    assert!(e.contains("hypopg is not installed"), "{e}");

    // Completions of postgres://{database}/{schema}/{table}.
    use rmcp::model::{ArgumentInfo, CompleteRequestParams, Reference};
    let template = "postgres://{database}/{schema}/{table}";
    let complete = |arg: &str, value: &str, context: &[(&str, &str)]| {
        let mut params = CompleteRequestParams::new(
            Reference::for_resource(template),
            ArgumentInfo::new(arg, value),
        );
        if !context.is_empty() {
            params.context = Some(rmcp::model::CompletionContext::with_arguments(
                context
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            ));
        }
        c.complete(params)
    };
    let dbs = complete("database", "re", &[])
        .await
        .expect("complete database");
    assert_eq!(dbs.completion.values, vec!["retail"]);
    let schemas = complete("schema", "ret", &[("database", "retail")])
        .await
        .expect("complete schema");
    assert_eq!(schemas.completion.values, vec!["retail"]);
    let tables = complete("table", "", &[("database", "retail"), ("schema", "retail")])
        .await
        .expect("complete table");
    assert_eq!(
        tables.completion.values,
        vec!["churn", "customers", "orders", "stores"]
    );
    let tables = complete(
        "table",
        "CU",
        &[("database", "retail"), ("schema", "retail")],
    )
    .await
    .expect("complete table");
    assert_eq!(tables.completion.values, vec!["customers"]);
}

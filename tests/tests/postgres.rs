//! The postgres plugin against a real PostgreSQL (a throwaway cluster per test), through the
//! real pier binary and rmcp's client: every tool, typed values, params, caps, the read-only
//! escapes, role checks, row-level security, a restart, TLS and an ungranted port.

use pier_e2e::postgres::Cluster;
use pier_e2e::{Client, Fixture, call, ok, structured, text, tool_error};
use serde_json::{Value, json};

const PASSWORD_VAR: &str = "PIER_TEST_PGPASSWORD";

/// The shop schema, the roles the tests connect as, and a function that writes.
fn seed(pg: &Cluster) {
    pg.psql("postgres", "CREATE DATABASE shopdb");
    pg.psql(
        "shopdb",
        r#"
        CREATE ROLE mcp_reader LOGIN PASSWORD 'reader-secret';
        CREATE ROLE mcp_writer LOGIN PASSWORD 'writer-secret';
        CREATE ROLE mcp_rls LOGIN PASSWORD 'rls-secret';
        CREATE ROLE mcp_exec LOGIN PASSWORD 'exec-secret' IN ROLE pg_execute_server_program;
        ALTER ROLE postgres PASSWORD 'super-secret';
        CREATE SCHEMA shop;
        CREATE TYPE shop.mood AS ENUM ('sad', 'ok', 'happy');
        CREATE TABLE shop.customers (id serial PRIMARY KEY, name text NOT NULL,
            email text UNIQUE, created timestamptz DEFAULT now());
        COMMENT ON TABLE shop.customers IS 'People who buy things';
        COMMENT ON COLUMN shop.customers.email IS 'Contact address';
        CREATE TABLE shop.orders (id bigserial PRIMARY KEY,
            customer_id int NOT NULL REFERENCES shop.customers(id),
            total numeric(12,2) NOT NULL CHECK (total >= 0), status text NOT NULL DEFAULT 'new');
        CREATE INDEX orders_customer ON shop.orders (customer_id);
        INSERT INTO shop.customers (name, email) SELECT 'c' || g, 'c' || g || '@x' FROM generate_series(1, 50) g;
        INSERT INTO shop.orders (customer_id, total, status)
            SELECT 1 + g % 50, g * 1.25, CASE WHEN g % 3 = 0 THEN 'paid' ELSE 'new' END FROM generate_series(1, 300) g;
        CREATE TABLE shop.kinds (i2 int2, i4 int4, i8 int8, big int8, n numeric, f8 float8, nan float8,
            b bool, t text, c char(3), by bytea, j json, jb jsonb, u uuid, d date, ts timestamp,
            tstz timestamptz, tm time, iv interval, ip inet, arr int[], grid int[][], tarr text[],
            m shop.mood, cash money, pt point, nul text);
        INSERT INTO shop.kinds VALUES (-2, 40000, 9007199254740991, 9223372036854775807,
            123456789012345678901234567890.123456789, 1.5, 'NaN', true, 'héllo "q"', 'ab', '\xdeadbeef',
            '{"a": [1, 2]}', '{"k": {"n": 1.5}}', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '2024-02-29',
            '2024-02-29 13:14:15.25', '2024-02-29 13:14:15+02', '23:59:59.5', '1 year 2 mons 3 days 04:05:06',
            '10.0.0.1', '{1,NULL,3}', '{{1,2},{3,4}}', '{"a b","c"}', 'happy', 12.34, '(1,2)', NULL);
        CREATE TABLE public.audit (id serial PRIMARY KEY, note text);
        CREATE FUNCTION public.bump() RETURNS int LANGUAGE sql VOLATILE
            AS $$ INSERT INTO public.audit (note) VALUES ('bumped') RETURNING id $$;
        ANALYZE;
        GRANT USAGE ON SCHEMA shop TO mcp_reader, mcp_writer, mcp_exec;
        GRANT SELECT ON ALL TABLES IN SCHEMA shop, public TO mcp_reader, mcp_exec;
        -- The reader may even write audit: only the read-only transaction stops it.
        GRANT INSERT, DELETE ON public.audit TO mcp_reader;
        GRANT USAGE ON SEQUENCE public.audit_id_seq TO mcp_reader, mcp_writer;
        GRANT SELECT, INSERT, UPDATE, DELETE ON public.audit TO mcp_writer;
        CREATE TABLE public.notes (owner text NOT NULL, body text);
        ALTER TABLE public.notes ENABLE ROW LEVEL SECURITY;
        CREATE POLICY own ON public.notes USING (owner = current_setting('app.user_id', true));
        INSERT INTO public.notes VALUES ('alice', 'a1'), ('alice', 'a2'), ('bob', 'b1');
        GRANT SELECT ON public.notes TO mcp_rls;
        "#,
    );
}

/// A manifest granting the cluster's port and the password variable, with `config` appended.
fn manifest(pg: &Cluster, config: &str) -> String {
    format!(
        "[grants]\nnetwork = [\"postgres://localhost:{}\"]\nenv = [\"{PASSWORD_VAR}\"]\n\n[config]\n{config}",
        pg.port
    )
}

/// `[config]` for one database as `user`, password from the test variable, no TLS.
fn plain_config(pg: &Cluster, user: &str) -> String {
    format!(
        "url = \"{}\"\npassword_env = \"{PASSWORD_VAR}\"\nsslmode = \"disable\"\n",
        url(pg, user)
    )
}

fn url(pg: &Cluster, user: &str) -> String {
    format!("postgres://{user}@localhost:{}/shopdb", pg.port)
}

async fn serve(fx: &Fixture, manifest: &str, password: &str, args: &[&str]) -> Client {
    fx.install("postgres", "postgres", Some(manifest));
    fx.connect_with(args, &[(PASSWORD_VAR, password)]).await
}

fn rows(r: &rmcp::model::CallToolResult) -> Vec<Value> {
    structured(r)["rows"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

async fn audit_count(client: &Client) -> i64 {
    let r = ok(
        client,
        "postgres_query",
        json!({"sql": "SELECT count(*) FROM public.audit"}),
    )
    .await;
    rows(&r)[0][0].as_i64().expect("count")
}

#[tokio::test(flavor = "multi_thread")]
async fn every_tool_typed_values_params_and_caps() {
    let pg = Cluster::start();
    seed(&pg);
    let fx = Fixture::new();
    let config = format!(
        "url = \"{}\"\npassword_env = \"{PASSWORD_VAR}\"\nsslmode = \"disable\"\nmax_bytes = 8192\ndescription = \"the shop\"\n",
        url(&pg, "mcp_reader")
    );
    let client = serve(&fx, &manifest(&pg, &config), "reader-secret", &[]).await;

    let tools = client.list_all_tools().await.expect("list tools");
    let names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
    for expected in [
        "postgres_list_databases",
        "postgres_list_schemas",
        "postgres_list_tables",
        "postgres_describe_table",
        "postgres_query",
        "postgres_explain",
    ] {
        assert!(
            names.contains(&expected),
            "{expected} missing from {names:?}"
        );
    }
    assert!(
        !names.contains(&"postgres_execute"),
        "execute must not exist without writes"
    );
    let query_tool = tools
        .iter()
        .find(|t| t.name == "postgres_query")
        .expect("query tool");
    let hints = query_tool.annotations.as_ref().expect("annotations");
    assert_eq!(hints.read_only_hint, Some(true));
    assert!(query_tool.output_schema.is_some());

    let dbs = ok(&client, "postgres_list_databases", json!({})).await;
    assert_eq!(structured(&dbs)["databases"][0]["name"], "shopdb");
    assert_eq!(structured(&dbs)["databases"][0]["user"], "mcp_reader");

    let schemas = ok(&client, "postgres_list_schemas", json!({})).await;
    let schema_names: Vec<&str> = structured(&schemas)["schemas"]
        .as_array()
        .expect("schemas")
        .iter()
        .filter_map(|s| s["name"].as_str())
        .collect();
    assert!(
        schema_names.contains(&"shop") && !schema_names.contains(&"pg_catalog"),
        "{schema_names:?}"
    );

    let tables = ok(&client, "postgres_list_tables", json!({"schema": "shop"})).await;
    let table_names: Vec<&str> = structured(&tables)["tables"]
        .as_array()
        .expect("tables")
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert_eq!(table_names, ["customers", "kinds", "orders"]);
    let filtered = ok(
        &client,
        "postgres_list_tables",
        json!({"pattern": "ORD%", "verbose": true}),
    )
    .await;
    let only = &structured(&filtered)["tables"];
    assert_eq!(only.as_array().map(Vec::len), Some(1), "{only}");
    assert_eq!(only[0]["rows_estimate"], 300);
    assert!(
        only[0]["columns"]
            .to_string()
            .contains("total numeric(12,2)"),
        "{only}"
    );

    let described = ok(
        &client,
        "postgres_describe_table",
        json!({"tables": ["shop.orders", "shop.customers"], "sample_values": true}),
    )
    .await;
    let orders = &structured(&described)["tables"][0];
    assert_eq!(orders["primary_key"], json!(["id"]));
    assert_eq!(
        orders["foreign_keys"][0]["references"],
        json!({"table": "shop.customers", "columns": ["id"]})
    );
    assert_eq!(
        orders["indexes"].as_array().map(Vec::len),
        Some(2),
        "{orders}"
    );
    assert!(
        orders["checks"][0]["definition"]
            .as_str()
            .unwrap_or("")
            .contains("total >="),
        "{orders}"
    );
    assert!(
        orders["sample_values"]["status"]
            .as_str()
            .unwrap_or("")
            .contains("paid"),
        "{orders}"
    );
    let customers = &structured(&described)["tables"][1];
    assert_eq!(customers["comment"], "People who buy things");
    assert_eq!(customers["columns"][2]["comment"], "Contact address");
    assert_eq!(customers["columns"][1]["nullable"], false);
    assert_eq!(customers["referenced_by"][0]["table"], "shop.orders");
    let missing = tool_error(
        &client,
        "postgres_describe_table",
        json!({"table": "shop.nope"}),
    )
    .await;
    assert!(missing.contains("no table or view named"), "{missing}");

    // Every common type, typed.
    let kinds = ok(
        &client,
        "postgres_query",
        json!({"sql": "SELECT * FROM shop.kinds"}),
    )
    .await;
    let s = structured(&kinds);
    let columns: Vec<(String, String)> = s["columns"]
        .as_array()
        .expect("columns")
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap_or("").to_string(),
                c["type"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    let row = &s["rows"][0];
    let value = |name: &str| {
        let i = columns
            .iter()
            .position(|(n, _)| n == name)
            .unwrap_or_else(|| panic!("no column {name}"));
        row[i].clone()
    };
    assert_eq!(columns[4], ("n".to_string(), "numeric".to_string()));
    assert_eq!(value("i2"), json!(-2));
    assert_eq!(value("i4"), json!(40000));
    assert_eq!(value("i8"), json!(9007199254740991i64));
    assert_eq!(value("big"), json!("9223372036854775807"));
    assert_eq!(
        value("n"),
        json!("123456789012345678901234567890.123456789")
    );
    assert_eq!(value("f8"), json!(1.5));
    assert_eq!(value("nan"), json!("NaN"));
    assert_eq!(value("b"), json!(true));
    assert_eq!(value("t"), json!("héllo \"q\""));
    assert_eq!(value("c"), json!("ab "));
    assert_eq!(value("by"), json!("3q2+7w=="));
    assert_eq!(value("j"), json!({"a": [1, 2]}));
    assert_eq!(value("jb"), json!({"k": {"n": 1.5}}));
    assert_eq!(value("u"), json!("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"));
    assert_eq!(value("d"), json!("2024-02-29"));
    assert_eq!(value("ts"), json!("2024-02-29T13:14:15.25"));
    assert_eq!(value("tstz"), json!("2024-02-29T11:14:15Z"));
    assert_eq!(value("tm"), json!("23:59:59.5"));
    assert_eq!(value("iv"), json!("P1Y2M3DT4H5M6S"));
    assert_eq!(value("ip"), json!("10.0.0.1"));
    assert_eq!(value("arr"), json!([1, null, 3]));
    assert_eq!(value("grid"), json!([[1, 2], [3, 4]]));
    assert_eq!(value("tarr"), json!(["a b", "c"]));
    assert_eq!(value("m"), json!("happy"));
    // Types without a decoder come back as PostgreSQL prints them.
    assert_eq!(value("cash"), json!("$12.34"));
    assert_eq!(value("pt"), json!("(1,2)"));
    assert_eq!(value("nul"), Value::Null);

    // Bound parameters, typed by the server.
    let bound = ok(&client, "postgres_query", json!({
        "sql": "SELECT id, total FROM shop.orders WHERE customer_id = $1 AND total > $2 AND status = ANY($3) ORDER BY id",
        "params": [3, "100", ["new", "paid"]]})).await;
    assert_eq!(rows(&bound)[0], json!([102, "127.50"]));
    let wrong = tool_error(
        &client,
        "postgres_query",
        json!({"sql": "SELECT $1::int", "params": ["x"]}),
    )
    .await;
    assert!(wrong.contains("22P02"), "{wrong}");
    let misplaced = tool_error(
        &client,
        "postgres_query",
        json!({"sql": "SELECT 1", "analyze": true}),
    )
    .await;
    assert!(misplaced.contains("explain"), "{misplaced}");
    let bad_args = tool_error(&client, "postgres_query", json!({"sql": 5})).await;
    assert!(
        bad_args.contains("invalid arguments") && bad_args.contains("string"),
        "{bad_args}"
    );

    // Row and byte caps.
    let capped = ok(
        &client,
        "postgres_query",
        json!({"sql": "SELECT id FROM shop.orders ORDER BY id", "max_rows": 5}),
    )
    .await;
    assert_eq!(rows(&capped).len(), 5);
    assert_eq!(structured(&capped)["truncated"], true);
    assert_eq!(structured(&capped)["truncated_by"], "max_rows");
    let wide = ok(
        &client,
        "postgres_query",
        json!({"sql": "SELECT repeat('x', 1000) FROM generate_series(1, 20)"}),
    )
    .await;
    assert!(rows(&wide).len() < 9, "byte cap of 8192 must stop early");
    assert_eq!(structured(&wide)["truncated_by"], "max_bytes");
    let empty = ok(
        &client,
        "postgres_query",
        json!({"sql": "SELECT id, name FROM shop.customers WHERE false"}),
    )
    .await;
    assert_eq!(structured(&empty)["row_count"], 0);
    assert_eq!(
        structured(&empty)["columns"][1]["name"],
        "name",
        "columns are named even without rows"
    );

    // explain, and analyze that cannot write.
    let plan = ok(
        &client,
        "postgres_explain",
        json!({"sql": "SELECT * FROM shop.orders WHERE id = $1", "params": [7]}),
    )
    .await;
    assert!(
        structured(&plan)["plan"][0]["Plan"]["Node Type"].is_string(),
        "{}",
        text(&plan)
    );
    let analyzed = ok(
        &client,
        "postgres_explain",
        json!({"sql": "SELECT count(*) FROM shop.orders", "analyze": true}),
    )
    .await;
    assert!(structured(&analyzed)["plan"][0]["Execution Time"].is_number());
    let before = audit_count(&client).await;
    let refused = tool_error(
        &client,
        "postgres_explain",
        json!({"sql": "INSERT INTO public.audit (note) VALUES ('x')", "analyze": true}),
    )
    .await;
    assert!(refused.contains("read-only"), "{refused}");
    assert_eq!(audit_count(&client).await, before);

    // Resources: tables by URI, and a template.
    let listed = client.list_all_resources().await.expect("list resources");
    assert!(
        listed
            .iter()
            .any(|r| r.uri == "postgres://shopdb/shop/orders"),
        "resources: {listed:?}"
    );
    let read = client
        .read_resource(rmcp::model::ReadResourceRequestParams::new(
            "postgres://shopdb/shop/orders",
        ))
        .await
        .expect("read resource");
    let body = match &read.contents[0] {
        rmcp::model::ResourceContents::TextResourceContents { text, .. } => text.clone(),
        other => panic!("expected text, got {other:?}"),
    };
    assert!(body.contains("\"primary_key\":[\"id\"]"), "{body}");
    let templates = client
        .list_all_resource_templates()
        .await
        .expect("templates");
    assert!(
        templates
            .iter()
            .any(|t| t.uri_template == "postgres://{database}/{schema}/{table}")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn read_only_cannot_be_escaped_and_roles_are_checked() {
    let pg = Cluster::start();
    seed(&pg);
    let fx = Fixture::new();
    let config = plain_config(&pg, "mcp_reader");
    let client = serve(&fx, &manifest(&pg, &config), "reader-secret", &[]).await;
    let marker = pg.dir.path().join("escaped");
    let marker_text = marker.display().to_string();

    let before = audit_count(&client).await;
    let escapes = [
        (
            "COMMIT; DROP TABLE public.audit".to_string(),
            "multiple commands",
        ),
        (
            "COMMIT; INSERT INTO public.audit (note) VALUES ('x')".to_string(),
            "multiple commands",
        ),
        (
            "WITH d AS (DELETE FROM public.audit RETURNING *) SELECT count(*) FROM d".to_string(),
            "read-only",
        ),
        (
            "INSERT INTO public.audit (note) VALUES ('direct')".to_string(),
            "read-only",
        ),
        ("SELECT public.bump()".to_string(), "read-only"),
        (
            format!("COPY (SELECT 1) TO PROGRAM 'touch {marker_text}'"),
            "pg_execute_server_program",
        ),
        (
            "SELECT pg_read_file('/etc/passwd')".to_string(),
            "permission denied",
        ),
        (
            "SELECT * FROM pg_read_file('/etc/passwd')".to_string(),
            "permission denied",
        ),
        (
            format!("SELECT lo_export(lo_from_bytea(0, 'x'), '{marker_text}')"),
            "permission denied for function lo_export",
        ),
        (
            "SELECT set_config('transaction_read_only', 'off', true)".to_string(),
            "read-write",
        ),
        (
            "SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE".to_string(),
            "",
        ),
    ];
    for (sql, why) in &escapes {
        let r = call(&client, "postgres_query", json!({"sql": sql}))
            .await
            .expect("protocol");
        if r.is_error == Some(true) {
            assert!(text(&r).contains(why), "{sql}: {}", text(&r));
        }
        assert_eq!(audit_count(&client).await, before, "{sql} changed data");
        assert!(!marker.exists(), "{sql} reached the server's file system");
    }
    // The session characteristic above was rolled back with its call: a write still fails.
    let still = tool_error(
        &client,
        "postgres_query",
        json!({"sql": "INSERT INTO public.audit (note) VALUES ('later')"}),
    )
    .await;
    assert!(still.contains("read-only"), "{still}");
    let tables = ok(&client, "postgres_list_tables", json!({"schema": "public"})).await;
    assert!(text(&tables).contains("audit"), "audit must still exist");
    drop(client);

    // A role that can run server programs, and a superuser, are refused with the fix.
    for (user, password, fix) in [
        (
            "mcp_exec",
            "exec-secret",
            "REVOKE pg_execute_server_program FROM mcp_exec",
        ),
        (
            "postgres",
            "super-secret",
            "ALTER ROLE postgres NOSUPERUSER",
        ),
    ] {
        let fx = Fixture::new();
        let config = format!(
            "url = \"{}\"\npassword_env = \"{PASSWORD_VAR}\"\nsslmode = \"disable\"\n",
            url(&pg, user)
        );
        let client = serve(&fx, &manifest(&pg, &config), password, &[]).await;
        let refused = tool_error(&client, "postgres_query", json!({"sql": "SELECT 1"})).await;
        assert!(
            refused.contains("refusing to serve") && refused.contains(fix),
            "{refused}"
        );
    }

    // A wrong password: one clear error naming where the password comes from.
    let fx = Fixture::new();
    let config = plain_config(&pg, "mcp_reader");
    let client = serve(&fx, &manifest(&pg, &config), "expired", &[]).await;
    let refused = tool_error(&client, "postgres_query", json!({"sql": "SELECT 1"})).await;
    assert!(
        refused.contains("28P01") && refused.contains(PASSWORD_VAR),
        "{refused}"
    );
}

/// The SQL that makes `mcp_rls` safe for row-level security on a fresh cluster, apart from
/// set_config (which the test revokes on its own first).
const RLS_FIXES: &str = "REVOKE USAGE ON LANGUAGE plpgsql FROM PUBLIC;
    REVOKE EXECUTE ON FUNCTION pg_catalog.pg_stat_get_activity(integer) FROM PUBLIC;
    REVOKE EXECUTE ON FUNCTION pg_catalog.pg_stat_get_backend_activity(integer) FROM PUBLIC;
    REVOKE EXECUTE ON FUNCTION pg_catalog.pg_cancel_backend(integer) FROM PUBLIC;
    REVOKE EXECUTE ON FUNCTION pg_catalog.pg_terminate_backend(integer, bigint) FROM PUBLIC;";

/// pier with the postgres plugin under `config` (as mcp_rls), called as `identity`.
async fn rls_client(pg: &Cluster, config: &str, identity: &str) -> (Fixture, Client) {
    let fx = Fixture::new();
    let client = serve(
        &fx,
        &manifest(pg, config),
        "rls-secret",
        &["--identity", identity],
    )
    .await;
    (fx, client)
}

#[tokio::test(flavor = "multi_thread")]
async fn row_level_security_follows_the_caller_identity() {
    let pg = Cluster::start();
    seed(&pg);
    let config = format!(
        "url = \"{}\"\npassword_env = \"{PASSWORD_VAR}\"\nsslmode = \"disable\"\nrls_setting = \"app.user_id\"\n",
        url(&pg, "mcp_rls")
    );
    let notes = json!({"sql": "SELECT body FROM public.notes ORDER BY body"});
    let alice_rows = vec![json!(["a1"]), json!(["a2"])];

    // On a default cluster RLS mode is refused, naming every way out and its fix.
    let (_fx, client) = rls_client(&pg, &config, "alice").await;
    let refused = tool_error(&client, "postgres_query", notes.clone()).await;
    for needle in [
        "REVOKE EXECUTE ON FUNCTION pg_catalog.set_config",
        "REVOKE USAGE ON LANGUAGE plpgsql FROM PUBLIC",
        "DO blocks",
        "pg_cancel_backend",
        "pg_stat_get_activity",
    ] {
        assert!(refused.contains(needle), "{needle} missing from: {refused}");
    }
    // Revoking set_config alone is not enough: DO can still run SET.
    pg.psql(
        "shopdb",
        "REVOKE EXECUTE ON FUNCTION pg_catalog.set_config(text, text, boolean) FROM PUBLIC",
    );
    let refused = tool_error(&client, "postgres_query", notes.clone()).await;
    assert!(
        refused.contains("plpgsql") && !refused.contains("set_config()"),
        "{refused}"
    );
    pg.psql("shopdb", RLS_FIXES);
    // The fix takes effect on the next call, without restarting anything.
    let alice = ok(&client, "postgres_query", notes.clone()).await;
    assert_eq!(rows(&alice), alice_rows);

    // No SQL of the caller's can switch identity, watch or stop other sessions.
    for (sql, why) in [
        (
            "DO $$ DECLARE r text; BEGIN SET LOCAL app.user_id = 'bob'; SELECT string_agg(body, ',') INTO r FROM public.notes; RAISE EXCEPTION 'seen as bob: %', r; END $$",
            "permission denied for language plpgsql",
        ),
        (
            "DO $$ BEGIN EXECUTE 'SET LOCAL app.user_id = ''bob'''; END $$",
            "permission denied for language plpgsql",
        ),
        (
            "SELECT set_config('app.user_id', 'bob', false), body FROM public.notes",
            "permission denied",
        ),
        (
            "CREATE FUNCTION pg_temp.as_bob() RETURNS SETOF public.notes LANGUAGE sql SET app.user_id = 'bob' AS 'SELECT * FROM public.notes'",
            "read-only",
        ),
        ("SELECT query FROM pg_stat_activity", "permission denied"),
        (
            "SELECT pg_cancel_backend(pid) FROM pg_locks",
            "permission denied",
        ),
    ] {
        let e = tool_error(&client, "postgres_query", json!({ "sql": sql })).await;
        assert!(e.contains(why), "{sql}: {e}");
        assert!(!e.contains("b1"), "{sql} saw bob's rows: {e}");
    }
    for sql in [
        "SET app.user_id = 'bob'",
        "RESET app.user_id",
        "SET ROLE NONE",
    ] {
        let _ = call(&client, "postgres_query", json!({ "sql": sql })).await;
        assert_eq!(
            rows(&ok(&client, "postgres_query", notes.clone()).await),
            alice_rows,
            "after {sql}"
        );
    }

    drop(client);

    // Functions the owner wrote that change the setting, or run any SQL, are refused until
    // the role cannot execute them (checked on every new connection).
    pg.psql(
        "shopdb",
        "CREATE FUNCTION public.as_bob() RETURNS SETOF public.notes LANGUAGE sql \
         SET app.user_id = 'bob' AS 'SELECT * FROM public.notes'",
    );
    let (_fx, client) = rls_client(&pg, &config, "alice").await;
    let refused = tool_error(&client, "postgres_query", notes.clone()).await;
    assert!(
        refused.contains("declared with SET app.user_id") && refused.contains("public.as_bob()"),
        "{refused}"
    );
    pg.psql(
        "shopdb",
        "REVOKE EXECUTE ON FUNCTION public.as_bob() FROM PUBLIC;
         CREATE FUNCTION public.run(q text) RETURNS void LANGUAGE plpgsql SECURITY DEFINER
             AS $$ BEGIN EXECUTE q; END $$;",
    );
    let refused = tool_error(&client, "postgres_query", notes.clone()).await;
    assert!(
        refused.contains("dynamic EXECUTE") && refused.contains("public.run(q text)"),
        "{refused}"
    );
    pg.psql(
        "shopdb",
        "REVOKE EXECUTE ON FUNCTION public.run(text) FROM PUBLIC",
    );
    assert_eq!(
        rows(&ok(&client, "postgres_query", notes.clone()).await),
        alice_rows
    );
    drop(client);

    let (_fx, client) = rls_client(&pg, &config, "bob").await;
    assert_eq!(
        rows(&ok(&client, "postgres_query", notes.clone()).await),
        vec![json!(["b1"])]
    );
    drop(client);

    // With writes, a role that may create functions could leave one for a later call.
    pg.psql("shopdb", "GRANT CREATE ON SCHEMA shop TO mcp_rls");
    let writes = format!("{config}writes = true\n");
    let (_fx, client) = rls_client(&pg, &writes, "alice").await;
    let refused = tool_error(&client, "postgres_query", notes.clone()).await;
    assert!(
        refused.contains("REVOKE CREATE ON SCHEMA shop")
            && refused.contains("REVOKE TEMPORARY ON DATABASE shopdb"),
        "{refused}"
    );
    pg.psql(
        "shopdb",
        "REVOKE CREATE ON SCHEMA shop FROM mcp_rls; REVOKE TEMPORARY ON DATABASE shopdb FROM PUBLIC",
    );
    assert_eq!(
        rows(&ok(&client, "postgres_query", notes.clone()).await),
        alice_rows
    );
    drop(client);

    // No identity and no default: refused, saying how to give one.
    let fx = Fixture::new();
    let client = serve(&fx, &manifest(&pg, &config), "rls-secret", &[]).await;
    let none = tool_error(&client, "postgres_query", notes).await;
    assert!(none.contains("--identity"), "{none}");
}

#[tokio::test(flavor = "multi_thread")]
async fn nothing_of_a_call_runs_outside_it_or_outlives_it() {
    let pg = Cluster::start();
    seed(&pg);
    // A domain whose CHECK deletes rows and swallows the read-only error: inside the call's
    // transaction it cannot write; parsed again outside it, it would.
    pg.psql(
        "shopdb",
        r#"
        CREATE TABLE public.victim (id int);
        INSERT INTO public.victim SELECT generate_series(1, 10);
        GRANT SELECT, DELETE ON public.victim TO mcp_reader;
        CREATE FUNCTION public.wipe(v text) RETURNS bool LANGUAGE plpgsql AS $$
        BEGIN
            BEGIN DELETE FROM public.victim; EXCEPTION WHEN others THEN NULL; END;
            RETURN true;
        END $$;
        CREATE DOMAIN public.rt_wiping AS text CHECK (public.wipe(VALUE));
        "#,
    );
    let fx = Fixture::new();
    let config = plain_config(&pg, "mcp_reader");
    let manifest = format!("{}\n[limits]\ninstances = 1\n", manifest(&pg, &config));
    let client = serve(&fx, &manifest, "reader-secret", &[]).await;
    let r = ok(
        &client,
        "postgres_query",
        json!({"sql": "SELECT '{x}'::public.rt_wiping[] AS w WHERE false"}),
    )
    .await;
    assert_eq!(structured(&r)["row_count"], 0);
    assert_eq!(structured(&r)["columns"][0]["name"], "w");
    assert_eq!(
        pg.psql("shopdb", "SELECT count(*) FROM public.victim")
            .trim(),
        "10"
    );

    // A statement PREPAREd in one call is gone in the next (another identity's, perhaps).
    ok(
        &client,
        "postgres_query",
        json!({"sql": "PREPARE leak AS SELECT count(*) FROM public.victim"}),
    )
    .await;
    let listed = ok(
        &client,
        "postgres_query",
        json!({"sql": "SELECT name FROM pg_prepared_statements WHERE from_sql"}),
    )
    .await;
    assert_eq!(structured(&listed)["row_count"], 0, "{}", text(&listed));
    let gone = tool_error(&client, "postgres_query", json!({"sql": "EXECUTE leak"})).await;
    assert!(gone.contains("does not exist"), "{gone}");

    // A statement cancelled by someone else is not reported as a timeout.
    let cancel = async {
        for _ in 0..100 {
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            let n = pg.psql(
                "shopdb",
                "SELECT count(pg_cancel_backend(pid)) FROM pg_stat_activity \
                 WHERE query LIKE 'SELECT pg_sleep(20)%'",
            );
            if n.trim() == "1" {
                return;
            }
        }
    };
    let (e, ()) = tokio::join!(
        tool_error(
            &client,
            "postgres_query",
            json!({"sql": "SELECT pg_sleep(20)"})
        ),
        cancel
    );
    assert!(
        e.contains("57014") && e.contains("not a timeout") && !e.contains("statement_timeout_ms"),
        "{e}"
    );
    // dblink opens connections of its own, outside the read-only transaction: with it the
    // role is refused until it cannot use it.
    drop(client);
    pg.psql("shopdb", "CREATE EXTENSION dblink");
    let fx = Fixture::new();
    let client = serve(&fx, &manifest, "reader-secret", &[]).await;
    let refused = tool_error(&client, "postgres_query", json!({"sql": "SELECT 1"})).await;
    assert!(
        refused.contains("dblink")
            && refused.contains("REVOKE EXECUTE ON FUNCTION public.dblink_exec"),
        "{refused}"
    );
    pg.psql(
        "shopdb",
        "REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA public FROM PUBLIC; \
         GRANT EXECUTE ON FUNCTION public.wipe(text) TO PUBLIC",
    );
    ok(&client, "postgres_query", json!({"sql": "SELECT 1"})).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn parameters_beyond_64_bits_arrive_exactly() {
    use std::io::Write;
    let pg = Cluster::start();
    seed(&pg);
    let fx = Fixture::new();
    let config = plain_config(&pg, "mcp_reader");
    fx.install("postgres", "postgres", Some(&manifest(&pg, &config)));
    // A raw client: serde_json in a client would round the number before it is sent.
    let mut child = fx.spawn_raw(&[(PASSWORD_VAR, "reader-secret")]);
    let mut stdin = child.stdin.take().expect("stdin");
    let answers = pier_e2e::Answers::read(child.stdout.take().expect("stdout"));
    let big = "12345678901234567890123456789";
    let call = format!(
        r#"{{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{{"name":"postgres_query","arguments":{{"sql":"SELECT $1::numeric + 1 AS n, $2::numeric[] AS m","params":[{big}, [1, {big}]]}}}}}}"#
    );
    let input = format!(
        "{}\n{}\n{call}\n",
        r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"raw","version":"0"}}}"#,
        r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
    );
    stdin.write_all(input.as_bytes()).expect("write");
    stdin.flush().expect("flush");
    let answer = loop {
        let v = answers.next(std::time::Duration::from_secs(60));
        if v["id"] == 2 {
            break v;
        }
    };
    let rows = &answer["result"]["structuredContent"]["rows"];
    assert_eq!(rows[0][0], "12345678901234567890123456790", "{answer}");
    assert_eq!(rows[0][1][1], "12345678901234567890123456789", "{answer}");
    drop(stdin);
    let _ = child.wait();
}

#[tokio::test(flavor = "multi_thread")]
async fn restart_tls_writes_fencing_and_ungranted_ports() {
    let pg = Cluster::start();
    seed(&pg);
    let fx = Fixture::new();
    let certs = pg
        .ca_file()
        .parent()
        .expect("tls dir")
        .display()
        .to_string();
    let config = format!(
        "fence_untrusted = true\n\
         [config.databases.main]\nurl = \"{}\"\npassword_env = \"{PASSWORD_VAR}\"\nsslmode = \"verify-full\"\nsslrootcert = \"/certs/ca.crt\"\n\
         [config.databases.rw]\nurl = \"{}\"\npassword_env = \"{PASSWORD_VAR}\"\nsslmode = \"verify-full\"\nsslrootcert = \"/certs/other-ca.crt\"\n\
         [config.databases.plain]\nurl = \"{}\"\npassword_env = \"{PASSWORD_VAR}\"\nsslmode = \"disable\"\nwrites = true\n",
        url(&pg, "mcp_reader"),
        url(&pg, "mcp_reader"),
        url(&pg, "mcp_writer")
    );
    let manifest = format!(
        "{}\n[[grants.files]]\nhost = {certs:?}\nguest = \"/certs\"\nmode = \"ro\"\n",
        manifest(&pg, &config)
    );
    // Passwords differ per role; the test roles share one variable, so align them first.
    pg.psql("shopdb", "ALTER ROLE mcp_writer PASSWORD 'reader-secret'");
    let client = serve(&fx, &manifest, "reader-secret", &[]).await;

    // verify-full with the right CA: encrypted.
    let ssl = json!({"sql": "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()", "database": "main"});
    let encrypted = ok(&client, "postgres_query", ssl.clone()).await;
    assert_eq!(structured(&encrypted)["rows"], json!([[true]]));
    // Fenced text, raw structured rows.
    assert!(
        text(&encrypted).contains("<untrusted-data-"),
        "{}",
        text(&encrypted)
    );
    // A CA that did not sign the server's certificate: refused, saying why.
    let wrong = tool_error(
        &client,
        "postgres_query",
        json!({"sql": "SELECT 1", "database": "rw"}),
    )
    .await;
    assert!(
        wrong.contains("certificate") && wrong.contains("/certs/other-ca.crt"),
        "{wrong}"
    );

    // Writes only where allowed, committed.
    let tools = client.list_all_tools().await.expect("tools");
    let execute = tools
        .iter()
        .find(|t| t.name == "postgres_execute")
        .expect("execute exists with writes");
    assert_eq!(
        execute
            .annotations
            .as_ref()
            .and_then(|a| a.destructive_hint),
        Some(true)
    );
    let inserted = ok(&client, "postgres_execute", json!({
        "sql": "INSERT INTO public.audit (note) VALUES ($1) RETURNING id", "params": ["w"], "database": "plain"})).await;
    assert_eq!(structured(&inserted)["rows_affected"], 1);
    let seen = ok(
        &client,
        "postgres_query",
        json!({"sql": "SELECT note FROM public.audit", "database": "main"}),
    )
    .await;
    assert_eq!(structured(&seen)["rows"], json!([["w"]]));
    let refused = tool_error(
        &client,
        "postgres_execute",
        json!({"sql": "DELETE FROM public.audit", "database": "main"}),
    )
    .await;
    assert!(refused.contains("writes = true"), "{refused}");

    // A restarted server: the next call reconnects and succeeds.
    pg.restart();
    let again = ok(&client, "postgres_query", ssl).await;
    assert_eq!(structured(&again)["rows"], json!([[true]]));
    let opened = fx
        .stderr()
        .matches("connected to database \"main\"")
        .count();
    assert_eq!(
        opened,
        2,
        "one connection before the restart, one after: {}",
        fx.stderr()
    );
    drop(client);

    // A port the manifest does not grant: refused by pier, with the line to add.
    let fx = Fixture::new();
    let config = format!(
        "url = \"postgres://mcp_reader@localhost:{}/shopdb\"\npassword_env = \"{PASSWORD_VAR}\"\nsslmode = \"disable\"\n",
        pg.port
    );
    let other = format!(
        "[grants]\nnetwork = [\"postgres://localhost:{}\"]\nenv = [\"{PASSWORD_VAR}\"]\n\n[config]\n{config}",
        pg.port + 1
    );
    let client = serve(&fx, &other, "reader-secret", &[]).await;
    let denied = tool_error(&client, "postgres_query", json!({"sql": "SELECT 1"})).await;
    assert!(
        denied.contains(&format!("localhost:{}", pg.port)) && denied.contains("[grants].network"),
        "{denied}"
    );
}

/// Roles for the governance test: one whose privileges fit the restrictions, one with more
/// (a denied table, a denied column through a table grant, UPDATE), one that reaches the
/// denied table through a view running with its owner's rights.
fn seed_governance(pg: &Cluster) {
    pg.psql("postgres", "CREATE DATABASE govdb");
    pg.psql(
        "govdb",
        r#"
        CREATE ROLE gov_ok LOGIN PASSWORD 'gov-secret';
        CREATE ROLE gov_over LOGIN PASSWORD 'gov-secret';
        CREATE ROLE gov_view LOGIN PASSWORD 'gov-secret';
        CREATE TABLE orders (id serial PRIMARY KEY, item text NOT NULL, qty int NOT NULL);
        CREATE TABLE customers (id int PRIMARY KEY, name text, ssn text);
        CREATE TABLE payment_details (id int, card text);
        INSERT INTO orders (item, qty) VALUES ('bolt', 1), ('nut', 2);
        INSERT INTO customers VALUES (1, 'ann', '111-22-3333');
        INSERT INTO payment_details VALUES (1, '4111 1111 1111 1111');
        CREATE VIEW pay_invoker WITH (security_invoker = true) AS SELECT * FROM payment_details;
        CREATE VIEW pay_definer AS SELECT card FROM payment_details;
        CREATE FUNCTION card_count() RETURNS bigint LANGUAGE sql
            AS 'SELECT count(*) FROM payment_details';
        GRANT SELECT, INSERT ON orders TO gov_ok;
        GRANT USAGE ON SEQUENCE orders_id_seq TO gov_ok;
        GRANT SELECT (id, name) ON customers TO gov_ok;
        GRANT SELECT ON pay_invoker TO gov_ok;
        GRANT SELECT, INSERT, UPDATE ON orders TO gov_over;
        GRANT SELECT ON payment_details, customers TO gov_over;
        GRANT SELECT ON orders, pay_definer TO gov_view;
        CREATE ROLE gov_all LOGIN PASSWORD 'gov-secret' IN ROLE pg_read_all_data;
        CREATE ROLE gov_owner LOGIN PASSWORD 'gov-secret' CREATEROLE;
        GRANT CREATE ON SCHEMA public TO gov_owner;
        CREATE TABLE scratch (n int);
        ALTER TABLE scratch OWNER TO gov_owner;
        "#,
    );
}

/// The SQL lines a refusal prints under "Run (as the owner or a superuser)".
fn printed_fixes(refusal: &str) -> Vec<String> {
    refusal
        .split_once("then retry; the role is checked again on the next call:")
        .map(|(_, fixes)| {
            fixes
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread")]
async fn allowed_operations_and_denied_tables_are_enforced_by_privileges() {
    let pg = Cluster::start();
    seed_governance(&pg);
    let db_url = |user: &str| format!("postgres://{user}@localhost:{}/govdb", pg.port);
    let config = format!(
        "password_env = \"{PASSWORD_VAR}\"\nsslmode = \"disable\"\n\
         allowed_operations = [\"read\", \"insert\"]\n\
         denied_tables = [\"payment_details\"]\ndenied_columns = [\"customers.ssn\"]\n\
         [config.databases.ok]\nurl = \"{}\"\n\
         [config.databases.over]\nurl = \"{}\"\n\
         [config.databases.view]\nurl = \"{}\"\n\
         [config.databases.owner]\nurl = \"{}\"\n\
         [config.databases.all]\nurl = \"{}\"\n",
        db_url("gov_ok"),
        db_url("gov_over"),
        db_url("gov_view"),
        db_url("gov_owner"),
        db_url("gov_all"),
    );
    let fx = Fixture::new();
    let client = serve(&fx, &manifest(&pg, &config), "gov-secret", &[]).await;
    let names = pier_e2e::tool_names(&client).await;
    assert!(
        names.iter().any(|n| n == "postgres_execute"),
        "an allowed insert offers execute: {names:?}"
    );
    let listed = ok(&client, "postgres_list_databases", json!({})).await;
    assert_eq!(
        structured(&listed)["databases"][0]["restrictions"],
        json!({"allowed_operations": ["read", "insert"], "denied_tables": ["payment_details"],
               "denied_columns": ["customers.ssn"]})
    );
    let on = |db: &str, sql: &str| json!({"database": db, "sql": sql});

    // A role with more privileges than the configuration allows does not serve; the refusal
    // prints the statements that fix it, and they do.
    let refused = tool_error(&client, "postgres_query", on("over", "SELECT 1")).await;
    for expected in [
        "refusing to serve database \"over\"",
        "REVOKE ALL ON TABLE public.payment_details FROM gov_over;",
        "REVOKE SELECT ON TABLE public.customers FROM gov_over;",
        "GRANT SELECT (id, name) ON TABLE public.customers TO gov_over;",
        "REVOKE UPDATE ON ALL TABLES IN SCHEMA public FROM gov_over;",
    ] {
        assert!(
            refused.contains(expected),
            "{expected} missing in:\n{refused}"
        );
    }
    let fixes = printed_fixes(&refused);
    assert!(!fixes.is_empty(), "{refused}");
    pg.psql("govdb", &fixes.join("\n"));
    let fixed = ok(
        &client,
        "postgres_query",
        on("over", "SELECT id, name FROM customers"),
    )
    .await;
    assert_eq!(rows(&fixed), vec![json!([1, "ann"])]);

    // pg_read_all_data reads everything: the fix trades it for schema-wide grants and takes
    // the denied table, column and view back out, in that order.
    let refused = tool_error(&client, "postgres_query", on("all", "SELECT 1")).await;
    assert!(
        refused.contains("REVOKE pg_read_all_data FROM gov_all;"),
        "{refused}"
    );
    pg.psql("govdb", &printed_fixes(&refused).join("\n"));
    let fixed = ok(
        &client,
        "postgres_query",
        on("all", "SELECT count(*) FROM orders"),
    )
    .await;
    assert_eq!(rows(&fixed), vec![json!([2])]);
    let e = tool_error(
        &client,
        "postgres_query",
        on("all", "SELECT card FROM pay_definer"),
    )
    .await;
    assert!(e.contains("permission denied"), "{e}");

    // A view that runs with its owner's rights reaches the denied table: refused too.
    let refused = tool_error(&client, "postgres_query", on("view", "SELECT 1")).await;
    assert!(
        refused.contains("view public.pay_definer, built on public.payment_details")
            && refused.contains("REVOKE SELECT ON public.pay_definer FROM gov_view;"),
        "{refused}"
    );

    // Without ddl the role may not own objects, create in a schema or create roles.
    let refused = tool_error(&client, "postgres_query", on("owner", "SELECT 1")).await;
    for expected in [
        "ALTER TABLE public.scratch OWNER TO <another role>;",
        "REVOKE CREATE ON SCHEMA public FROM gov_owner;",
        "ALTER ROLE gov_owner NOCREATEROLE;",
        "leaves out ddl",
    ] {
        assert!(
            refused.contains(expected),
            "{expected} missing in:\n{refused}"
        );
    }

    // The role that fits: reads what it may; a denied table is refused with the setting
    // named, directly, through a security-invoker view and inside a function.
    let orders = ok(
        &client,
        "postgres_query",
        on("ok", "SELECT item FROM orders ORDER BY id"),
    )
    .await;
    assert_eq!(rows(&orders), vec![json!(["bolt"]), json!(["nut"])]);
    for sql in [
        "SELECT * FROM payment_details",
        "SELECT * FROM pay_invoker",
        "SELECT card_count()",
    ] {
        let e = tool_error(&client, "postgres_query", on("ok", sql)).await;
        assert!(
            e.contains("42501")
                && e.contains("permission denied for table payment_details")
                && e.contains("denied_tables = [\"payment_details\"]"),
            "{sql}: {e}"
        );
    }
    let e = tool_error(
        &client,
        "postgres_query",
        on("ok", "SELECT ssn FROM customers"),
    )
    .await;
    assert!(e.contains("denied_columns = [\"customers.ssn\"]"), "{e}");
    let named = ok(
        &client,
        "postgres_query",
        on("ok", "SELECT id, name FROM customers"),
    )
    .await;
    assert_eq!(rows(&named), vec![json!([1, "ann"])]);
    let e = tool_error(
        &client,
        "postgres_describe_table",
        json!({"database": "ok", "table": "payment_details"}),
    )
    .await;
    assert!(e.contains("denied_tables"), "{e}");

    // allowed_operations splits execute: inserts run, the rest is refused before it is sent
    // (or by PostgreSQL, where the first word does not tell), and nothing changes.
    let inserted = ok(
        &client,
        "postgres_execute",
        on("ok", "INSERT INTO orders (item, qty) VALUES ('washer', 3)"),
    )
    .await;
    assert_eq!(structured(&inserted)["rows_affected"], json!(1));
    for (sql, why) in [
        ("UPDATE orders SET qty = 9", "(update)"),
        ("DELETE FROM orders", "(delete)"),
        ("TRUNCATE orders", "(truncate)"),
        ("DROP TABLE orders", "(ddl)"),
        (
            "INSERT INTO orders (id, item, qty) VALUES (1, 'x', 1) ON CONFLICT (id) DO UPDATE SET qty = 9",
            "(update)",
        ),
        ("DO $$ BEGIN DELETE FROM orders; END $$", "DO is not run"),
        (
            "WITH d AS (DELETE FROM orders RETURNING id) SELECT count(*) FROM d",
            "allowed_operations",
        ),
    ] {
        let e = tool_error(&client, "postgres_execute", on("ok", sql)).await;
        assert!(
            e.contains(why) && e.contains("allowed_operations"),
            "{sql}: {e}"
        );
    }
    let after = ok(
        &client,
        "postgres_query",
        on("ok", "SELECT count(*), sum(qty) FROM orders"),
    )
    .await;
    assert_eq!(rows(&after), vec![json!([3, 6])]);
}

/// Sends `sql` to `tool` as a request the client cancels after `after`.
async fn cancelled_after(client: &Client, tool: &str, sql: &str, after: std::time::Duration) {
    use rmcp::model::{CallToolRequest, CallToolRequestParams, ClientRequest};
    let mut args = serde_json::Map::new();
    args.insert("sql".into(), json!(sql));
    let request = ClientRequest::CallToolRequest(CallToolRequest::new(
        CallToolRequestParams::new(tool.to_string()).with_arguments(args),
    ));
    let handle = client
        .send_cancellable_request(request, Default::default())
        .await
        .expect("send tools/call");
    tokio::time::sleep(after).await;
    handle
        .cancel(Some("the user pressed stop".into()))
        .await
        .expect("cancel");
}

/// Waits until no backend runs `sql` any more; panics after 10 s, quoting pier's log.
async fn gone_from_the_server(pg: &Cluster, fx: &Fixture, sql: &str) {
    let count = format!(
        "SELECT count(*) FROM pg_stat_activity WHERE query = '{}' AND state = 'active'",
        sql.replace('\'', "''")
    );
    for _ in 0..250 {
        if pg.psql("shopdb", &count).trim() == "0" {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!(
        "`{sql}` still runs on the server after the client cancelled it; pier's log:\n{}",
        fx.stderr()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cancelled_call_cancels_its_statement_on_the_server() {
    let pg = Cluster::start();
    seed(&pg);
    let fx = Fixture::new();
    let config = format!("{}writes = true\n", plain_config(&pg, "mcp_writer"));
    let client = serve(&fx, &manifest(&pg, &config), "writer-secret", &[]).await;
    let before = audit_count(&client).await;

    let sleep = "SELECT pg_sleep(20)";
    cancelled_after(
        &client,
        "postgres_query",
        sleep,
        std::time::Duration::from_millis(700),
    )
    .await;
    gone_from_the_server(&pg, &fx, sleep).await;

    // A write cancelled mid-statement commits nothing (the user still confirmed it first).
    let write = "INSERT INTO public.audit (note) SELECT 'late' FROM pg_sleep(20)";
    cancelled_after(
        &client,
        "postgres_execute",
        write,
        std::time::Duration::from_millis(700),
    )
    .await;
    gone_from_the_server(&pg, &fx, write).await;
    assert_eq!(audit_count(&client).await, before);
    let log = fx.stderr();
    assert_eq!(
        log.matches("the client cancelled the call; cancelled its statement on database")
            .count(),
        2,
        "{log}"
    );
    // The plugin goes on serving on the same kept connection.
    let r = ok(&client, "postgres_query", json!({"sql": "SELECT 1 AS one"})).await;
    assert_eq!(rows(&r)[0][0], json!(1));
}

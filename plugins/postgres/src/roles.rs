//! Whether the connected role may serve at all, and whether row-level security can be trusted
//! with it: what the role could do that a read-only transaction does not stop, read in two
//! queries on every new connection (and again every minute), each refusal printed with the SQL
//! that removes it.

use tokio_postgres::Client;

use crate::settings::Database;

/// What the connected role may do, read once per connection.
#[derive(Debug, Clone)]
pub struct Role {
    pub name: String,
    pub server_version: String,
    /// Why this role must not serve at all (superuser, server programs, server files).
    pub refusal: Option<String>,
    /// Why row-level security cannot be trusted with this role (it can change the setting).
    pub rls_refusal: Option<String>,
}

const ROLE_SQL: &str = "SELECT current_user::text, current_setting('server_version'), \
    r.rolsuper, r.rolbypassrls, \
    pg_has_role(current_user, 'pg_execute_server_program', 'MEMBER'), \
    pg_has_role(current_user, 'pg_read_server_files', 'MEMBER'), \
    pg_has_role(current_user, 'pg_write_server_files', 'MEMBER'), \
    has_function_privilege('pg_catalog.set_config(text,text,boolean)', 'EXECUTE'), \
    ARRAY(SELECT format('%I.%I(%s)', n.nspname, p.proname, pg_get_function_identity_arguments(p.oid)) \
          FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace \
          WHERE p.proname IN ('dblink_connect', 'dblink_connect_u', 'dblink_exec', 'dblink', \
                              'dblink_send_query', 'dblink_open') \
            AND has_function_privilege(p.oid, 'EXECUTE') ORDER BY 1) \
    FROM pg_roles r WHERE r.rolname = current_user";

/// Reads what the connected role may do.
pub async fn check(client: &Client, db: &Database) -> Result<Role, tokio_postgres::Error> {
    let row = client.query_one(ROLE_SQL, &[]).await?;
    let name: String = row.get(0);
    let server_version: String = row.get(1);
    let (superuser, bypass_rls): (bool, bool) = (row.get(2), row.get(3));
    let (programs, read_files, write_files): (bool, bool, bool) =
        (row.get(4), row.get(5), row.get(6));
    let set_config: bool = row.get(7);
    let dblink: Vec<String> = row.get(8);

    let quoted = quote_ident(&name);
    let mut powers = Vec::new();
    let mut fixes = Vec::new();
    if superuser {
        powers.push("is a superuser");
        fixes.push(format!("ALTER ROLE {quoted} NOSUPERUSER;"));
    } else {
        for (has, what, group) in [
            (
                programs,
                "can run programs on the server",
                "pg_execute_server_program",
            ),
            (
                read_files,
                "can read the server's files",
                "pg_read_server_files",
            ),
            (
                write_files,
                "can write the server's files",
                "pg_write_server_files",
            ),
        ] {
            if has {
                powers.push(what);
                fixes.push(format!("REVOKE {group} FROM {quoted};"));
            }
        }
    }
    if !dblink.is_empty() {
        powers.push("can open connections of its own with dblink, which run and commit outside the call's read-only transaction");
        fixes.extend(
            dblink
                .iter()
                .map(|f| format!("REVOKE EXECUTE ON FUNCTION {f} FROM PUBLIC, {quoted};")),
        );
    }
    let mut refusal = (!powers.is_empty()).then(|| {
        format!(
            "refusing to serve database {:?}: role {name} {}. A read-only transaction does not \
             stop such a role (COPY … TO PROGRAM, pg_read_file, lo_export work outside it).\n\
             Connect as a role without these powers, for example:\n  \
             CREATE ROLE mcp_reader LOGIN PASSWORD '…';\n  GRANT pg_read_all_data TO mcp_reader;\n\
             or take them away:\n  {}",
            db.name,
            powers.join(", "),
            fixes.join("\n  ")
        )
    });
    if db.restrictions.any()
        && let Some(why) =
            crate::privileges::check(client, &db.name, &quoted, &db.restrictions).await?
    {
        refusal = Some(match refusal {
            Some(first) => format!("{first}\n\n{why}"),
            None => why,
        });
    }
    let rls_refusal = match &db.rls {
        None => None,
        Some(rls) => {
            let mut problems = Vec::new();
            if bypass_rls && !superuser {
                problems.push(Problem {
                    what: format!("role {name} bypasses row-level security (BYPASSRLS)"),
                    fixes: vec![format!("ALTER ROLE {quoted} NOBYPASSRLS;")],
                });
            }
            if set_config {
                problems.push(Problem {
                    what: format!(
                        "role {name} may execute set_config(), so a query could switch to another identity"
                    ),
                    fixes: vec![
                        "REVOKE EXECUTE ON FUNCTION pg_catalog.set_config(text, text, boolean) FROM PUBLIC;"
                            .into(),
                        format!(
                            "REVOKE EXECUTE ON FUNCTION pg_catalog.set_config(text, text, boolean) FROM {quoted};"
                        ),
                    ],
                });
            }
            problems.extend(rls_problems(client, &name, &quoted, &rls.setting, db.writes).await?);
            (!problems.is_empty()).then(|| rls_refusal_text(db, &rls.setting, &problems))
        }
    };
    Ok(Role {
        name,
        server_version,
        refusal,
        rls_refusal,
    })
}

/// One reason row-level security cannot be trusted with a role, and the SQL that removes it.
struct Problem {
    what: String,
    fixes: Vec<String>,
}

fn rls_refusal_text(db: &Database, setting: &str, problems: &[Problem]) -> String {
    let mut text = format!(
        "row-level security is configured for database {:?} (rls_setting = {setting}), but the \
         connected role could change its identity or see other identities' sessions, so pier \
         refuses to serve calls that rely on it:",
        db.name
    );
    for p in problems {
        text.push_str(&format!("\n- {}", p.what));
    }
    text.push_str(
        "\nRun (as the owner or a superuser), then retry; the role is checked again on the next call:",
    );
    for p in problems {
        for fix in &p.fixes {
            text.push_str(&format!("\n  {fix}"));
        }
    }
    text.push_str("\nGRANT back to the roles that need it what you revoke from PUBLIC.");
    text
}

/// What lets SQL inside one statement run commands that change the identity setting (or read or
/// cancel other identities' sessions, which all share this role). A `SET` is a command, not a
/// function call, so revoking `set_config` is not enough:
///
/// - `DO` blocks run PL/pgSQL (or another trusted language with an inline handler), where `SET`
///   and dynamic `EXECUTE` work; `DO` needs only USAGE on the language, which PUBLIC has.
/// - Functions declared with `SET <setting> = …` change it while they run.
/// - Functions whose bodies can run `SET`, `RESET`, dynamic `EXECUTE` or `set_config` (a
///   SECURITY DEFINER one runs them with its owner's rights), and functions in other procedural
///   languages, which can run any SQL through their SPI.
/// - With writes, functions the caller could create: CREATE on a schema, or TEMPORARY on the
///   database (`pg_temp` functions last as long as the shared connection).
/// - `pg_stat_activity` shows the SQL (with literals) of every session of the same role, and
///   `pg_cancel_backend`/`pg_terminate_backend` work on them.
async fn rls_problems(
    client: &Client,
    name: &str,
    quoted: &str,
    setting: &str,
    writes: bool,
) -> Result<Vec<Problem>, tokio_postgres::Error> {
    let row = client.query_one(RLS_SQL, &[&setting]).await?;
    let languages: Vec<String> = row.get(0);
    let with_setting: Vec<String> = row.get(1);
    let with_commands: Vec<String> = row.get(2);
    let schemas: Vec<String> = row.get(3);
    let temp: bool = row.get(4);
    let database: String = row.get(5);
    let watch: Vec<String> = row.get(6);
    let groups: Vec<String> = row.get(7);
    let mut problems = Vec::new();
    if !languages.is_empty() {
        problems.push(Problem {
            what: format!(
                "role {name} may run DO blocks in {} (a DO block can run SET)",
                languages.join(", ")
            ),
            fixes: languages
                .iter()
                .flat_map(|l| {
                    let l = quote_ident(l);
                    [
                        format!("REVOKE USAGE ON LANGUAGE {l} FROM PUBLIC;"),
                        format!("REVOKE USAGE ON LANGUAGE {l} FROM {quoted};"),
                    ]
                })
                .collect(),
        });
    }
    for (functions, why) in [
        (&with_setting, format!("are declared with SET {setting}")),
        (
            &with_commands,
            "can run SET, RESET, dynamic EXECUTE or set_config, or are written in a procedural \
             language that can run any SQL"
                .to_string(),
        ),
    ] {
        if functions.is_empty() {
            continue;
        }
        problems.push(Problem {
            what: format!(
                "role {name} may execute functions that {why}: {}",
                functions.join(", ")
            ),
            fixes: functions
                .iter()
                .flat_map(|f| {
                    [
                        format!("REVOKE EXECUTE ON FUNCTION {f} FROM PUBLIC;"),
                        format!("REVOKE EXECUTE ON FUNCTION {f} FROM {quoted};"),
                    ]
                })
                .collect(),
        });
    }
    if writes && (!schemas.is_empty() || temp) {
        let mut fixes: Vec<String> = schemas
            .iter()
            .flat_map(|s| {
                let s = quote_ident(s);
                [
                    format!("REVOKE CREATE ON SCHEMA {s} FROM PUBLIC;"),
                    format!("REVOKE CREATE ON SCHEMA {s} FROM {quoted};"),
                ]
            })
            .collect();
        if temp {
            let d = quote_ident(&database);
            fixes.push(format!("REVOKE TEMPORARY ON DATABASE {d} FROM PUBLIC;"));
            fixes.push(format!("REVOKE TEMPORARY ON DATABASE {d} FROM {quoted};"));
        }
        let mut places: Vec<String> = schemas.iter().map(|s| format!("schema {s}")).collect();
        if temp {
            places.push("temporary objects".into());
        }
        problems.push(Problem {
            what: format!(
                "writes = true and role {name} may create functions ({}), which a later call \
                 could use to change the setting",
                places.join(", ")
            ),
            fixes,
        });
    }
    if !watch.is_empty() || !groups.is_empty() {
        let mut fixes: Vec<String> = watch
            .iter()
            .map(|f| format!("REVOKE EXECUTE ON FUNCTION {f} FROM PUBLIC;"))
            .collect();
        fixes.extend(groups.iter().map(|g| format!("REVOKE {g} FROM {quoted};")));
        let mut powers = watch.clone();
        powers.extend(groups.iter().map(|g| format!("membership in {g}")));
        problems.push(Problem {
            what: format!(
                "every identity shares role {name}, and it may see or stop the others' sessions \
                 (their running SQL, with its literals, and cancelling or terminating them): {}",
                powers.join(", ")
            ),
            fixes,
        });
    }
    Ok(problems)
}

/// One round trip for every RLS check; `$1` is the identity setting's name.
const RLS_SQL: &str = r#"SELECT
  ARRAY(SELECT l.lanname::text FROM pg_language l
        WHERE l.laninline <> 0 AND has_language_privilege(l.oid, 'USAGE') ORDER BY 1),
  ARRAY(SELECT format('%I.%I(%s)', n.nspname, p.proname, pg_get_function_identity_arguments(p.oid))
        FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE p.proconfig IS NOT NULL AND has_function_privilege(p.oid, 'EXECUTE')
          AND EXISTS (SELECT 1 FROM unnest(p.proconfig) c
                      WHERE lower(split_part(c, '=', 1)) = lower($1::text))
        ORDER BY 1 LIMIT 20),
  ARRAY(SELECT format('%I.%I(%s)', n.nspname, p.proname, pg_get_function_identity_arguments(p.oid))
        FROM pg_proc p
        JOIN pg_language l ON l.oid = p.prolang
        JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE l.lanname NOT IN ('internal', 'c')
          AND n.nspname NOT IN ('pg_catalog', 'information_schema')
          AND p.prorettype NOT IN ('pg_catalog.trigger'::regtype, 'pg_catalog.event_trigger'::regtype)
          AND has_function_privilege(p.oid, 'EXECUTE')
          AND (l.lanname NOT IN ('sql', 'plpgsql')
               OR p.prosrc ~* '\m(set_config|execute)\M'
               OR p.prosrc ~* '(^|;|\mbegin|\mthen|\melse|\mloop|\matomic)\s*(set|reset)\M')
        ORDER BY 1 LIMIT 20),
  ARRAY(SELECT n.nspname::text FROM pg_namespace n
        WHERE has_schema_privilege(n.oid, 'CREATE') AND n.nspname NOT LIKE 'pg\_temp\_%'
          AND n.nspname NOT LIKE 'pg\_toast%' ORDER BY 1),
  has_database_privilege(current_database(), 'TEMPORARY'),
  current_database()::text,
  ARRAY(SELECT f FROM unnest(ARRAY['pg_catalog.pg_stat_get_activity(integer)',
                                   'pg_catalog.pg_stat_get_backend_activity(integer)',
                                   'pg_catalog.pg_cancel_backend(integer)',
                                   'pg_catalog.pg_terminate_backend(integer, bigint)']) f
        WHERE has_function_privilege(f, 'EXECUTE')),
  ARRAY(SELECT g FROM unnest(ARRAY['pg_read_all_stats', 'pg_signal_backend']) g
        WHERE pg_has_role(current_user, g, 'MEMBER'))"#;

/// PostgreSQL's reserved key words: a column named `order` or `user` must be quoted.
const RESERVED: &[&str] = &[
    "all",
    "analyse",
    "analyze",
    "and",
    "any",
    "array",
    "as",
    "asc",
    "asymmetric",
    "authorization",
    "binary",
    "both",
    "case",
    "cast",
    "check",
    "collate",
    "collation",
    "column",
    "concurrently",
    "constraint",
    "create",
    "cross",
    "current_catalog",
    "current_date",
    "current_role",
    "current_schema",
    "current_time",
    "current_timestamp",
    "current_user",
    "default",
    "deferrable",
    "desc",
    "distinct",
    "do",
    "else",
    "end",
    "except",
    "false",
    "fetch",
    "for",
    "foreign",
    "freeze",
    "from",
    "full",
    "grant",
    "group",
    "having",
    "ilike",
    "in",
    "initially",
    "inner",
    "intersect",
    "into",
    "is",
    "isnull",
    "join",
    "lateral",
    "leading",
    "left",
    "like",
    "limit",
    "localtime",
    "localtimestamp",
    "natural",
    "not",
    "notnull",
    "null",
    "offset",
    "on",
    "only",
    "or",
    "order",
    "outer",
    "overlaps",
    "placing",
    "primary",
    "references",
    "returning",
    "right",
    "select",
    "session_user",
    "similar",
    "some",
    "symmetric",
    "system_user",
    "table",
    "tablesample",
    "then",
    "to",
    "trailing",
    "true",
    "union",
    "unique",
    "user",
    "using",
    "variadic",
    "verbose",
    "when",
    "where",
    "window",
    "with",
];

/// An identifier quoted for SQL text (ours, and shown to the user): bare when it is a plain
/// lower-case name that is not a reserved word, quoted otherwise.
pub fn quote_ident(name: &str) -> String {
    if !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && !RESERVED.contains(&name)
    {
        name.to_string()
    } else {
        format!("\"{}\"", name.replace('"', "\"\""))
    }
}

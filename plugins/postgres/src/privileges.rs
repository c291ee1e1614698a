//! The enforcement of `allowed_operations`, `denied_tables` and `denied_columns`: PostgreSQL's
//! own privileges. On every new connection (and every minute after, with the role check) the
//! plugin reads what the connected role could do and refuses to serve the database while that
//! is more than its configuration allows, printing the REVOKE / GRANT / ALTER that fixes it.
//!
//! What counts as reaching a denied table: a privilege on it (directly, through PUBLIC, a
//! group role it inherits, `pg_read_all_data` / `pg_write_all_data`, or ownership); SELECT on a
//! view or materialized view built on it (a view runs with its owner's rights unless it is
//! `security_invoker`); EXECUTE on a SECURITY DEFINER function whose owner may read it and
//! whose body names it (a coarse text match, like the RLS checks: better one REVOKE too many).
//! A denied write operation means no table where the role holds its privilege; a denied `ddl`
//! means no CREATE on a schema or the database, no owned objects, no CREATEDB/CREATEROLE.
//! Temporary tables (TEMPORARY on the database, PUBLIC's by default) are not counted as DDL:
//! they vanish with the session, which `execute` clears after every call.

use std::collections::BTreeSet;

use tokio_postgres::Client;

use crate::restrictions::{Operation, Restrictions};
use crate::roles::quote_ident;

/// A privilege check's findings: what the role could do, and the statements that stop it.
#[derive(Default)]
struct Findings {
    what: Vec<String>,
    fixes: Vec<String>,
}

impl Findings {
    fn fix(&mut self, sql: String) {
        if !self.fixes.contains(&sql) {
            self.fixes.push(sql);
        }
    }

    /// The fix for an object the role owns (an owner holds every privilege on it, and may
    /// ALTER and DROP it): another owner, which only the administrator can choose.
    fn owned(&mut self, keyword: &str, object: &str, role: &str) {
        self.fix(format!(
            "ALTER {keyword} {object} OWNER TO <another role>;  -- {role} owns it"
        ));
    }
}

/// The grantees of a privilege, as SQL names, that the connected role draws on: PUBLIC and
/// the roles whose privileges it inherits (itself among them), the owner left out (ownership
/// is reported on its own). `$acl` is the ACL column, `$privs` a SQL condition on
/// `x.privilege_type`.
fn grantees(acl: &str, owner: &str, privs: &str) -> String {
    format!(
        "ARRAY(SELECT DISTINCT CASE WHEN x.grantee = 0 THEN 'PUBLIC' \
                ELSE quote_ident(pg_get_userbyid(x.grantee)) END \
            FROM aclexplode({acl}) x \
            WHERE ({privs}) AND x.grantee <> {owner} \
              AND (x.grantee = 0 OR pg_has_role(x.grantee, 'USAGE')) ORDER BY 1)"
    )
}

const NOT_SYSTEM: &str = "n.nspname NOT IN ('pg_catalog', 'information_schema') \
    AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp\\_%'";

/// `$1`: denied tables (`name` or `schema.name`, lower case).
const MATCH_TABLE: &str = "(lower(c.relname) = ANY($1::text[]) \
    OR lower(n.nspname || '.' || c.relname) = ANY($1::text[]))";
/// `param` (`$1`, `$2`): denied columns (`table.column` or `schema.table.column`, lower case).
fn match_column(attname: &str, param: &str) -> String {
    format!(
        "(lower(c.relname || '.' || {attname}) = ANY({param}::text[]) \
         OR lower(n.nspname || '.' || c.relname || '.' || {attname}) = ANY({param}::text[]))"
    )
}

/// Facts about the role as a whole, and the configured names that match nothing.
const OVERVIEW_SQL: &str = "SELECT pg_has_role('pg_read_all_data', 'USAGE'), pg_has_role('pg_write_all_data', 'USAGE'), \
           r.rolcreatedb, r.rolcreaterole, \
           ARRAY(SELECT k FROM unnest($1::text[]) k WHERE NOT EXISTS ( \
             SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE (lower(c.relname) = k OR lower(n.nspname || '.' || c.relname) = k))), \
           ARRAY(SELECT k FROM unnest($2::text[]) k WHERE NOT EXISTS ( \
             SELECT 1 FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid \
               JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE a.attnum > 0 AND (lower(c.relname || '.' || a.attname) = k \
               OR lower(n.nspname || '.' || c.relname || '.' || a.attname) = k))) \
         FROM pg_roles r WHERE r.rolname = current_user";

/// Denied tables the role may touch at all, with who granted what.
fn tables_sql() -> String {
    let grants = grants_of("c");
    format!(
        "SELECT format('%I.%I', n.nspname, c.relname), pg_has_role(c.relowner, 'USAGE'), {grants} \
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE c.relkind IN ('r','p','v','m','f') AND {MATCH_TABLE} \
           AND (has_table_privilege(c.oid, 'SELECT, INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER') \
                OR has_any_column_privilege(c.oid, 'SELECT, INSERT, UPDATE, REFERENCES')) \
         ORDER BY 1"
    )
}

/// Grantees of any privilege on table `c` or one of its columns.
fn grants_of(c: &str) -> String {
    format!(
        "ARRAY(SELECT DISTINCT g FROM unnest({} || ARRAY(SELECT unnest({}) \
            FROM pg_attribute at WHERE at.attrelid = {c}.oid AND at.attacl IS NOT NULL)) g)",
        grantees(&format!("{c}.relacl"), &format!("{c}.relowner"), "true"),
        grantees("at.attacl", &format!("{c}.relowner"), "true"),
    )
}

/// Denied columns the role may read or write: the table-level grants (as `grantee:PRIV`) that
/// cover them, the column-level ones, and the table's other columns (for the GRANT that keeps
/// them).
fn columns_sql() -> String {
    let matched = match_column("a.attname", "$1");
    let other = match_column("o.attname", "$1");
    let privs = "x.privilege_type IN ('SELECT', 'INSERT', 'UPDATE', 'REFERENCES')";
    format!(
        "SELECT format('%I.%I', n.nspname, c.relname), a.attname::text, \
           pg_has_role(c.relowner, 'USAGE'), \
           ARRAY(SELECT DISTINCT CASE WHEN x.grantee = 0 THEN 'PUBLIC' \
                   ELSE quote_ident(pg_get_userbyid(x.grantee)) END || ':' || x.privilege_type \
                 FROM aclexplode(c.relacl) x WHERE {privs} AND x.grantee <> c.relowner \
                   AND (x.grantee = 0 OR pg_has_role(x.grantee, 'USAGE')) ORDER BY 1), \
           {column_grantees}, \
           ARRAY(SELECT quote_ident(o.attname) FROM pg_attribute o \
                 WHERE o.attrelid = c.oid AND o.attnum > 0 AND NOT o.attisdropped AND NOT {other} \
                 ORDER BY o.attnum) \
         FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid \
           JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r','p','v','m','f') \
           AND {matched} \
           AND has_column_privilege(c.oid, a.attnum, 'SELECT, INSERT, UPDATE, REFERENCES') \
         ORDER BY 1, 2",
        column_grantees = grantees("a.attacl", "c.relowner", privs),
    )
}

/// Views, materialized views and SECURITY DEFINER functions through which the role reaches a
/// denied table or column: `(kind, name, what it reaches, grantees of SELECT/EXECUTE)`.
fn reach_sql() -> String {
    let matched = match_column("a.attname", "$2");
    let view_grantees = grantees("c.relacl", "c.relowner", "x.privilege_type = 'SELECT'");
    let function_grantees = grantees("p.proacl", "p.proowner", "x.privilege_type = 'EXECUTE'");
    format!(
        r#"WITH RECURSIVE
denied AS (
  SELECT c.oid, NULL::int2 AS attnum, c.relname::text AS relname, format('%I.%I', n.nspname, c.relname) AS name
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE c.relkind IN ('r','p','v','m','f') AND {MATCH_TABLE}
  UNION ALL
  SELECT c.oid, a.attnum, c.relname::text, format('%I.%I.%I', n.nspname, c.relname, a.attname)
  FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE a.attnum > 0 AND NOT a.attisdropped AND {matched}),
base AS (
  SELECT r.ev_class AS oid, d.name AS via
  FROM denied d
  JOIN pg_depend dep ON dep.refclassid = 'pg_class'::regclass AND dep.refobjid = d.oid
    AND dep.classid = 'pg_rewrite'::regclass AND (d.attnum IS NULL OR dep.refobjsubid = d.attnum)
  JOIN pg_rewrite r ON r.oid = dep.objid
  WHERE r.ev_class <> d.oid),
reach(oid, via) AS (
  SELECT oid, via FROM base
  UNION
  SELECT r.ev_class, reach.via FROM reach
  JOIN pg_depend dep ON dep.refclassid = 'pg_class'::regclass AND dep.refobjid = reach.oid
    AND dep.classid = 'pg_rewrite'::regclass
  JOIN pg_rewrite r ON r.oid = dep.objid
  WHERE r.ev_class <> reach.oid)
SELECT 'view', format('%I.%I', n.nspname, c.relname), string_agg(DISTINCT reach.via, ', '),
  {view_grantees}, pg_has_role(c.relowner, 'USAGE')
FROM reach JOIN pg_class c ON c.oid = reach.oid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE NOT EXISTS (SELECT 1 FROM denied d WHERE d.oid = c.oid AND d.attnum IS NULL)
  AND NOT (c.relkind = 'v' AND EXISTS (SELECT 1 FROM unnest(c.reloptions) o
                                       WHERE o ~* '^security_invoker=(true|on|yes|1)$'))
  AND has_table_privilege(c.oid, 'SELECT')
GROUP BY c.oid, n.nspname, c.relname
UNION ALL
SELECT 'function', format('%I.%I(%s)', n.nspname, p.proname, pg_get_function_identity_arguments(p.oid)),
  string_agg(DISTINCT d.name, ', '), {function_grantees}, false
FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
JOIN denied d ON (p.prosrc ~* ('\m' || regexp_replace(d.relname, '([^[:alnum:]_])', '\\\1', 'g') || '\M')
                  OR EXISTS (SELECT 1 FROM pg_depend dep WHERE dep.classid = 'pg_proc'::regclass
                             AND dep.objid = p.oid AND dep.refclassid = 'pg_class'::regclass
                             AND dep.refobjid = d.oid))
WHERE p.prosecdef AND {NOT_SYSTEM} AND has_function_privilege(p.oid, 'EXECUTE')
  AND NOT pg_has_role(p.proowner, 'USAGE')
  AND CASE WHEN d.attnum IS NULL
           THEN has_table_privilege(p.proowner, d.oid, 'SELECT, INSERT, UPDATE, DELETE, TRUNCATE')
           ELSE has_column_privilege(p.proowner, d.oid, d.attnum, 'SELECT, INSERT, UPDATE') END
GROUP BY p.oid, n.nspname, p.proname
ORDER BY 1, 2 LIMIT 40"#
    )
}

/// Tables where the role holds a write privilege `$1` denies: `(PRIV, table, schema, owned,
/// grantees)`.
fn operations_sql() -> String {
    let grants = format!(
        "ARRAY(SELECT DISTINCT g FROM unnest({} || ARRAY(SELECT unnest({}) \
            FROM pg_attribute at WHERE at.attrelid = c.oid AND at.attacl IS NOT NULL)) g)",
        grantees("c.relacl", "c.relowner", "x.privilege_type = o.op"),
        grantees("at.attacl", "c.relowner", "x.privilege_type = o.op"),
    );
    format!(
        "SELECT o.op, format('%I.%I', n.nspname, c.relname), n.nspname::text, \
           pg_has_role(c.relowner, 'USAGE'), {grants} \
         FROM unnest($1::text[]) o(op) CROSS JOIN pg_class c \
           JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE c.relkind IN ('r','p','v','f') AND {NOT_SYSTEM} \
           AND CASE WHEN o.op IN ('INSERT', 'UPDATE') THEN has_any_column_privilege(c.oid, o.op) \
                    ELSE has_table_privilege(c.oid, o.op) END \
         ORDER BY 1, 2 LIMIT 5000"
    )
}

/// What lets the role change the schema: `(kind, object, grantees)`; kind `schema` (CREATE on
/// it), `database` (CREATE on it), or the SQL keyword of an object it owns.
fn ddl_sql() -> String {
    let schema_grantees = grantees("n.nspacl", "n.nspowner", "x.privilege_type = 'CREATE'");
    let db_grantees = grantees("d.datacl", "d.datdba", "x.privilege_type = 'CREATE'");
    format!(
        "SELECT 'schema', quote_ident(n.nspname), {schema_grantees} FROM pg_namespace n \
           WHERE has_schema_privilege(n.oid, 'CREATE') AND {NOT_SYSTEM} \
         UNION ALL \
         SELECT 'database', quote_ident(d.datname), {db_grantees} FROM pg_database d \
           WHERE d.datname = current_database() AND has_database_privilege(d.oid, 'CREATE') \
         UNION ALL \
         (SELECT CASE c.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW' \
                   WHEN 'f' THEN 'FOREIGN TABLE' WHEN 'S' THEN 'SEQUENCE' ELSE 'TABLE' END, \
                 format('%I.%I', n.nspname, c.relname), '{{}}'::text[] \
          FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
          WHERE c.relkind IN ('r','p','v','m','f','S') AND {NOT_SYSTEM} \
            AND pg_has_role(c.relowner, 'USAGE') ORDER BY 2 LIMIT 50) \
         UNION ALL \
         (SELECT 'SCHEMA', quote_ident(n.nspname), '{{}}'::text[] FROM pg_namespace n \
          WHERE {NOT_SYSTEM} AND pg_has_role(n.nspowner, 'USAGE') ORDER BY 2 LIMIT 50) \
         UNION ALL \
         (SELECT 'ROUTINE', format('%I.%I(%s)', n.nspname, p.proname, \
                   pg_get_function_identity_arguments(p.oid)), '{{}}'::text[] \
          FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace \
          WHERE {NOT_SYSTEM} AND pg_has_role(p.proowner, 'USAGE') ORDER BY 2 LIMIT 50) \
         UNION ALL \
         SELECT 'DATABASE', quote_ident(d.datname), '{{}}'::text[] FROM pg_database d \
           WHERE d.datname = current_database() AND pg_has_role(d.datdba, 'USAGE')"
    )
}

/// Why the connected role may not serve `r`'s database, or `None` when its privileges fit.
/// `role` is the role's name as SQL (quoted where it must be). Names in the configuration that
/// match nothing are logged (a typo would otherwise deny nothing, silently).
pub async fn check(
    client: &Client,
    database: &str,
    role: &str,
    r: &Restrictions,
) -> Result<Option<String>, tokio_postgres::Error> {
    let tables: Vec<String> = r.denied_tables.iter().map(|t| t.key()).collect();
    let columns: Vec<String> = r.denied_columns.iter().map(|c| c.key()).collect();
    let denied_writes = r.denied_writes();
    let privileges: Vec<String> = denied_writes
        .iter()
        .filter_map(|op| op.privilege())
        .map(str::to_string)
        .collect();
    let ddl = denied_writes.contains(&Operation::Ddl);
    let overview = client.query_one(OVERVIEW_SQL, &[&tables, &columns]).await?;
    let (read_all, write_all): (bool, bool) = (overview.get(0), overview.get(1));
    let (createdb, createrole): (bool, bool) = (overview.get(2), overview.get(3));
    let unmatched: Vec<String> = [overview.get::<_, Vec<String>>(4), overview.get(5)].concat();
    if !unmatched.is_empty() {
        pier_sdk::host::warn(&format!(
            "database {database:?}: denied_tables/denied_columns entries that match nothing \
             (yet): {}",
            unmatched.join(", ")
        ));
    }
    let mut f = Findings::default();
    let reads_denied = !tables.is_empty() || !columns.is_empty();
    if reads_denied && read_all {
        f.what.push(format!(
            "role {role} is a member of pg_read_all_data, which reads every table"
        ));
        f.fix(format!("REVOKE pg_read_all_data FROM {role};"));
        f.fix(format!(
            "GRANT SELECT ON ALL TABLES IN SCHEMA public TO {role};  -- and each schema it reads"
        ));
    }
    let writes_denied = privileges.iter().any(|p| p != "TRUNCATE");
    if write_all && (reads_denied || writes_denied) {
        f.what.push(format!(
            "role {role} is a member of pg_write_all_data, which writes every table"
        ));
        f.fix(format!("REVOKE pg_write_all_data FROM {role};"));
    }
    if !tables.is_empty() {
        for row in client.query(&tables_sql(), &[&tables]).await? {
            let (name, owned, granted): (String, bool, Vec<String>) =
                (row.get(0), row.get(1), row.get(2));
            f.what.push(format!(
                "role {role} may use {name}, which denied_tables denies"
            ));
            if owned {
                f.owned("TABLE", &name, role);
            }
            for g in &granted {
                f.fix(format!("REVOKE ALL ON TABLE {name} FROM {g};"));
            }
            // After pg_read_all_data gives way to schema-wide GRANTs (above), the role holds
            // the table directly; with no grantee found, the role itself is the one to revoke.
            if read_all || write_all || (!owned && granted.is_empty()) {
                f.fix(format!("REVOKE ALL ON TABLE {name} FROM {role};"));
            }
        }
    }
    if !columns.is_empty() {
        denied_column_findings(client, role, &columns, &mut f, read_all || write_all).await?;
    }
    if reads_denied {
        for row in client.query(&reach_sql(), &[&tables, &columns]).await? {
            let (kind, name, via, granted, owned): (String, String, String, Vec<String>, bool) =
                (row.get(0), row.get(1), row.get(2), row.get(3), row.get(4));
            if kind == "view" {
                f.what.push(format!(
                    "role {role} may read view {name}, built on {via}, which it runs with its \
                     owner's rights"
                ));
                if owned {
                    f.owned("TABLE", &name, role);
                }
                for g in &granted {
                    f.fix(format!("REVOKE SELECT ON {name} FROM {g};"));
                }
                if read_all || granted.is_empty() {
                    f.fix(format!("REVOKE SELECT ON {name} FROM {role};"));
                }
                f.fix(format!(
                    "-- or, for a plain view: ALTER VIEW {name} SET (security_invoker = true);"
                ));
            } else {
                f.what.push(format!(
                    "role {role} may execute SECURITY DEFINER function {name}, whose owner may \
                     use {via} and whose body names it"
                ));
                for g in &granted {
                    f.fix(format!("REVOKE EXECUTE ON FUNCTION {name} FROM {g};"));
                }
                if granted.is_empty() {
                    f.fix(format!(
                        "REVOKE EXECUTE ON FUNCTION {name} FROM PUBLIC, {role};"
                    ));
                }
            }
        }
    }
    if !privileges.is_empty() {
        operation_findings(client, role, r, &privileges, write_all, &mut f).await?;
    }
    if ddl {
        ddl_findings(client, role, createdb, createrole, &mut f).await?;
    }
    Ok((!f.what.is_empty()).then(|| refusal_text(database, role, r, &f)))
}

async fn denied_column_findings(
    client: &Client,
    role: &str,
    columns: &[String],
    f: &mut Findings,
    predefined: bool,
) -> Result<(), tokio_postgres::Error> {
    for row in client.query(&columns_sql(), &[&columns]).await? {
        let (table, column, owned): (String, String, bool) = (row.get(0), row.get(1), row.get(2));
        let (table_grants, column_grants, others): (Vec<String>, Vec<String>, Vec<String>) =
            (row.get(3), row.get(4), row.get(5));
        f.what.push(format!(
            "role {role} may use column {table}.{column}, which denied_columns denies"
        ));
        if owned {
            f.owned("TABLE", &table, role);
        }
        // Table-level privileges cover every column: take them back and give them again on
        // the other columns only.
        let mut by_grantee: Vec<(String, Vec<String>)> = Vec::new();
        let implied = predefined.then(|| format!("{role}:SELECT"));
        for entry in table_grants.iter().chain(implied.iter()) {
            let Some((grantee, privilege)) = entry.rsplit_once(':') else {
                continue;
            };
            match by_grantee.iter_mut().find(|(g, _)| g == grantee) {
                Some((_, privs)) if !privs.iter().any(|p| p == privilege) => {
                    privs.push(privilege.to_string())
                }
                Some(_) => {}
                None => by_grantee.push((grantee.to_string(), vec![privilege.to_string()])),
            }
        }
        for (grantee, privs) in &by_grantee {
            let privs = privs.join(", ");
            f.fix(format!("REVOKE {privs} ON TABLE {table} FROM {grantee};"));
            if !others.is_empty() {
                let cols = others.join(", ");
                let per_column: Vec<String> =
                    privs.split(", ").map(|p| format!("{p} ({cols})")).collect();
                f.fix(format!(
                    "GRANT {} ON TABLE {table} TO {grantee};",
                    per_column.join(", ")
                ));
            }
        }
        for grantee in &column_grants {
            f.fix(format!(
                "REVOKE ALL ({}) ON TABLE {table} FROM {grantee};",
                quote_ident(&column)
            ));
        }
        if !owned && by_grantee.is_empty() && column_grants.is_empty() {
            f.fix(format!(
                "REVOKE ALL ({}) ON TABLE {table} FROM {role};",
                quote_ident(&column)
            ));
        }
    }
    Ok(())
}

async fn operation_findings(
    client: &Client,
    role: &str,
    r: &Restrictions,
    privileges: &[String],
    write_all: bool,
    f: &mut Findings,
) -> Result<(), tokio_postgres::Error> {
    let rows = client.query(&operations_sql(), &[&privileges]).await?;
    let mut by_privilege: Vec<(String, Vec<String>)> = Vec::new();
    for row in &rows {
        let (privilege, table, schema, owned, granted): (
            String,
            String,
            String,
            bool,
            Vec<String>,
        ) = (row.get(0), row.get(1), row.get(2), row.get(3), row.get(4));
        match by_privilege.iter_mut().find(|(p, _)| *p == privilege) {
            Some((_, tables)) => tables.push(table.clone()),
            None => by_privilege.push((privilege.clone(), vec![table.clone()])),
        }
        if owned {
            f.owned("TABLE", &table, role);
        }
        for g in &granted {
            f.fix(format!(
                "REVOKE {privilege} ON ALL TABLES IN SCHEMA {} FROM {g};",
                quote_ident(&schema)
            ));
        }
        let predefined = write_all && privilege != "TRUNCATE";
        if !owned && granted.is_empty() && !predefined {
            f.fix(format!("REVOKE {privilege} ON TABLE {table} FROM {role};"));
        }
    }
    for (privilege, tables) in by_privilege {
        let shown: Vec<&str> = tables.iter().take(10).map(String::as_str).collect();
        let more = tables.len().saturating_sub(shown.len());
        f.what.push(format!(
            "role {role} holds {privilege} on {}{}, and allowed_operations = {} leaves out {}",
            shown.join(", "),
            if more > 0 {
                format!(" and {more} more")
            } else {
                String::new()
            },
            r.allowed_text(),
            privilege.to_lowercase()
        ));
    }
    Ok(())
}

async fn ddl_findings(
    client: &Client,
    role: &str,
    createdb: bool,
    createrole: bool,
    f: &mut Findings,
) -> Result<(), tokio_postgres::Error> {
    let mut owned = BTreeSet::new();
    for row in client.query(&ddl_sql(), &[]).await? {
        let (kind, object, granted): (String, String, Vec<String>) =
            (row.get(0), row.get(1), row.get(2));
        match kind.as_str() {
            "schema" | "database" => {
                let keyword = kind.to_uppercase();
                f.what.push(format!(
                    "role {role} may CREATE in {kind} {object}, and allowed_operations leaves \
                     out ddl"
                ));
                for g in &granted {
                    f.fix(format!("REVOKE CREATE ON {keyword} {object} FROM {g};"));
                }
                if granted.is_empty() && kind == "schema" {
                    f.fix(format!("REVOKE CREATE ON SCHEMA {object} FROM {role};"));
                }
            }
            keyword => {
                owned.insert(format!("{} {object}", keyword.to_lowercase()));
                f.owned(keyword, &object, role);
            }
        }
    }
    if !owned.is_empty() {
        let shown: Vec<&str> = owned.iter().take(10).map(String::as_str).collect();
        f.what.push(format!(
            "role {role} owns {} (an owner may ALTER and DROP), and allowed_operations leaves \
             out ddl",
            shown.join(", ")
        ));
    }
    if createdb || createrole {
        let mut attributes = Vec::new();
        if createdb {
            attributes.push("NOCREATEDB");
        }
        if createrole {
            attributes.push("NOCREATEROLE");
        }
        f.what.push(format!(
            "role {role} may create {} (allowed_operations leaves out ddl)",
            if createdb && createrole {
                "databases and roles"
            } else if createdb {
                "databases"
            } else {
                "roles"
            }
        ));
        f.fix(format!("ALTER ROLE {role} {};", attributes.join(" ")));
    }
    Ok(())
}

fn refusal_text(database: &str, role: &str, r: &Restrictions, f: &Findings) -> String {
    let mut settings = Vec::new();
    if r.allowed.is_some() {
        settings.push(format!("allowed_operations = {}", r.allowed_text()));
    }
    if !r.denied_tables.is_empty() {
        let names: Vec<String> = r
            .denied_tables
            .iter()
            .map(|t| format!("\"{}\"", t.key()))
            .collect();
        settings.push(format!("denied_tables = [{}]", names.join(", ")));
    }
    if !r.denied_columns.is_empty() {
        let names: Vec<String> = r
            .denied_columns
            .iter()
            .map(|c| format!("\"{}\"", c.key()))
            .collect();
        settings.push(format!("denied_columns = [{}]", names.join(", ")));
    }
    let mut text = format!(
        "refusing to serve database {database:?}: its [config] says {}, but role {role} has \
         privileges beyond that, and PostgreSQL's privileges are what enforces it:",
        settings.join(", ")
    );
    for what in &f.what {
        text.push_str(&format!("\n- {what}"));
    }
    text.push_str("\nRun (as the owner or a superuser), then retry; the role is checked again on the next call:");
    for fix in &f.fixes {
        text.push_str(&format!("\n  {fix}"));
    }
    text
}

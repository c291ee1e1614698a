//! What an administrator denies on one database — `allowed_operations`, `denied_tables`,
//! `denied_columns` — and the words that explain a refusal.
//!
//! The enforcement is PostgreSQL's: `privileges` refuses to serve while the role holds a
//! privilege the configuration denies, so whatever a statement reaches — directly, through a
//! view, inside a function or a trigger — PostgreSQL refuses it at executor start, before a
//! row is read or changed. What is here is the friendly side: an `execute` statement whose
//! first word is a denied operation is refused before it is sent, and PostgreSQL's
//! "permission denied for table X" gets a note naming the setting behind it.
//!
//! A plan-based pre-check (`EXPLAIN (VERBOSE, FORMAT JSON)` for the relations a statement
//! touches) was built and dropped: EXPLAIN checks the same privileges before it plans, so with
//! the role check in place it could only ever repeat PostgreSQL's refusal, at the cost of a
//! round trip on every call.

use serde_json::Value;

/// One kind of statement `allowed_operations` can name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Operation {
    Read,
    Insert,
    Update,
    Delete,
    Truncate,
    Ddl,
}

impl Operation {
    pub const ALL: [Operation; 6] = [
        Operation::Read,
        Operation::Insert,
        Operation::Update,
        Operation::Delete,
        Operation::Truncate,
        Operation::Ddl,
    ];

    /// The writes, each of which needs a privilege the role must lack when it is not allowed.
    pub const WRITES: [Operation; 5] = [
        Operation::Insert,
        Operation::Update,
        Operation::Delete,
        Operation::Truncate,
        Operation::Ddl,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Operation::Read => "read",
            Operation::Insert => "insert",
            Operation::Update => "update",
            Operation::Delete => "delete",
            Operation::Truncate => "truncate",
            Operation::Ddl => "ddl",
        }
    }

    fn parse(text: &str) -> Option<Operation> {
        Some(match text.to_ascii_lowercase().as_str() {
            "read" | "select" => Operation::Read,
            "insert" => Operation::Insert,
            "update" => Operation::Update,
            "delete" => Operation::Delete,
            "truncate" => Operation::Truncate,
            "ddl" => Operation::Ddl,
            _ => return None,
        })
    }

    /// The table privilege this operation needs (DDL needs ownership or CREATE instead).
    pub fn privilege(self) -> Option<&'static str> {
        match self {
            Operation::Read => Some("SELECT"),
            Operation::Insert => Some("INSERT"),
            Operation::Update => Some("UPDATE"),
            Operation::Delete => Some("DELETE"),
            Operation::Truncate => Some("TRUNCATE"),
            Operation::Ddl => None,
        }
    }
}

/// A relation as the configuration names it: `name` (in any schema) or `schema.name`,
/// compared case-insensitively (unquoted identifiers fold to lower case; a false match denies
/// one table too many, never one too few).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableName {
    pub schema: Option<String>,
    pub name: String,
}

impl TableName {
    fn parse(text: &str) -> Option<TableName> {
        let lower = text.trim().to_lowercase();
        let mut parts = lower.split('.');
        let (a, b, rest) = (parts.next()?, parts.next(), parts.next());
        if rest.is_some() || a.is_empty() || b.is_some_and(str::is_empty) {
            return None;
        }
        Some(match b {
            Some(name) => TableName {
                schema: Some(a.to_string()),
                name: name.to_string(),
            },
            None => TableName {
                schema: None,
                name: a.to_string(),
            },
        })
    }

    pub fn matches(&self, schema: &str, name: &str) -> bool {
        self.name == name.to_lowercase()
            && self
                .schema
                .as_ref()
                .is_none_or(|s| *s == schema.to_lowercase())
    }

    /// The form the privilege queries take: `name` or `schema.name`, lower case.
    pub fn key(&self) -> String {
        match &self.schema {
            Some(s) => format!("{s}.{}", self.name),
            None => self.name.clone(),
        }
    }
}

/// A column as the configuration names it: `table.column` or `schema.table.column`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ColumnName {
    pub table: TableName,
    pub column: String,
}

impl ColumnName {
    fn parse(text: &str) -> Option<ColumnName> {
        let lower = text.trim().to_lowercase();
        let (table, column) = lower.rsplit_once('.')?;
        if column.is_empty() {
            return None;
        }
        Some(ColumnName {
            table: TableName::parse(table)?,
            column: column.to_string(),
        })
    }

    pub fn key(&self) -> String {
        format!("{}.{}", self.table.key(), self.column)
    }
}

/// The restrictions of one database.
#[derive(Clone, Debug, Default)]
pub struct Restrictions {
    /// `allowed_operations`, when the configuration sets it; `None` leaves the operations to
    /// `writes` (reads only, or everything through `execute`).
    pub allowed: Option<Vec<Operation>>,
    pub denied_tables: Vec<TableName>,
    pub denied_columns: Vec<ColumnName>,
}

impl Restrictions {
    /// Reads the three settings; `writes` is the database's `writes` as configured, if it was.
    /// Returns the restrictions and whether the database takes writes.
    pub fn parse(
        label: &str,
        allowed: Option<Vec<String>>,
        denied_tables: Option<Vec<String>>,
        denied_columns: Option<Vec<String>>,
        writes: Option<bool>,
    ) -> Result<(Restrictions, bool), String> {
        let allowed = match allowed {
            None => None,
            Some(list) => {
                let mut ops = Vec::new();
                for text in &list {
                    let op = Operation::parse(text).ok_or_else(|| {
                        format!(
                            "{label} allowed_operations: {text:?} is not one of read, insert, \
                             update, delete, truncate, ddl"
                        )
                    })?;
                    if !ops.contains(&op) {
                        ops.push(op);
                    }
                }
                if !ops.contains(&Operation::Read) {
                    return Err(format!(
                        "{label} allowed_operations must include \"read\": every tool reads \
                         (list the writes you allow beside it, e.g. [\"read\", \"insert\"])"
                    ));
                }
                ops.sort();
                Some(ops)
            }
        };
        let allows_writes = allowed
            .as_ref()
            .map(|ops| ops.iter().any(|o| *o != Operation::Read));
        let writes = match (writes, allows_writes) {
            (Some(true), Some(false)) => {
                return Err(format!(
                    "{label} sets writes = true but allowed_operations allows only \"read\": add \
                     the writes to allow (\"insert\", \"update\", …) or drop writes"
                ));
            }
            (Some(false), Some(true)) => {
                return Err(format!(
                    "{label} sets writes = false but allowed_operations allows writes: drop \
                     writes = false (allowed_operations decides) or allow only \"read\""
                ));
            }
            (Some(w), _) => w,
            (None, Some(w)) => w,
            (None, None) => false,
        };
        let denied_tables = denied_tables
            .unwrap_or_default()
            .iter()
            .map(|t| {
                TableName::parse(t).ok_or_else(|| {
                    format!("{label} denied_tables: {t:?} is not a table or schema.table")
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let denied_columns = denied_columns
            .unwrap_or_default()
            .iter()
            .map(|c| {
                ColumnName::parse(c).ok_or_else(|| {
                    format!(
                        "{label} denied_columns: {c:?} is not table.column or schema.table.column"
                    )
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok((
            Restrictions {
                allowed,
                denied_tables,
                denied_columns,
            },
            writes,
        ))
    }

    /// Whether anything is restricted beyond the plugin's own read-only/writes split: then
    /// statements are planned first, and the role's privileges are checked on connect.
    pub fn any(&self) -> bool {
        self.allowed.is_some() || !self.denied_tables.is_empty() || !self.denied_columns.is_empty()
    }

    pub fn allows(&self, op: Operation) -> bool {
        self.allowed.as_ref().is_none_or(|ops| ops.contains(&op))
    }

    /// The writes `allowed_operations` leaves out (none when it is not set).
    pub fn denied_writes(&self) -> Vec<Operation> {
        Operation::WRITES
            .into_iter()
            .filter(|op| !self.allows(*op))
            .collect()
    }

    pub fn denied_table(&self, schema: &str, name: &str) -> Option<&TableName> {
        self.denied_tables.iter().find(|t| t.matches(schema, name))
    }

    /// What `list_databases` shows of the restrictions (the model plans around them).
    pub fn describe(&self) -> Value {
        let ops: Vec<&str> = self
            .allowed
            .as_deref()
            .map(|ops| ops.iter().map(|o| o.name()).collect())
            .unwrap_or_default();
        serde_json::json!({
            "allowed_operations": self.allowed.as_ref().map(|_| ops),
            "denied_tables": self.denied_tables.iter().map(TableName::key).collect::<Vec<_>>(),
            "denied_columns": self.denied_columns.iter().map(ColumnName::key).collect::<Vec<_>>(),
        })
    }

    /// `["read", "insert"]`, as the configuration would say it.
    pub fn allowed_text(&self) -> String {
        let ops = self.allowed.as_deref().unwrap_or(&Operation::ALL);
        let names: Vec<String> = ops.iter().map(|o| format!("\"{}\"", o.name())).collect();
        format!("[{}]", names.join(", "))
    }
}

/// What a statement is, read from its first word (past comments and parentheses).
#[derive(Debug, PartialEq, Eq)]
pub enum Kind {
    /// Statements whose first word says what they do: `SELECT` reads, `INSERT … ON CONFLICT
    /// DO UPDATE` inserts and updates, `MERGE` may do all three, `CREATE` is DDL.
    Does(Vec<Operation>),
    /// `WITH …`: a CTE may change data anywhere inside; the privileges decide.
    Unchecked,
    /// `SET`, `SHOW`, `RESET`, `LOCK`: reads nothing the privileges do not guard, changes
    /// nothing that outlives the call.
    Harmless,
    /// `CALL`, `DO`, `COPY`, `EXPLAIN` (whose ANALYZE runs the statement) and the rest: what
    /// happens inside is not read here, so under `allowed_operations` only allowed when every
    /// write is.
    Opaque(String),
}

/// Classifies `sql` by its first keyword.
pub fn kind(sql: &str) -> Kind {
    let word = first_word(sql).to_ascii_lowercase();
    let does = |ops: &[Operation]| Kind::Does(ops.to_vec());
    match word.as_str() {
        "select" | "values" | "table" => does(&[Operation::Read]),
        "insert" if upserts(sql) => does(&[Operation::Insert, Operation::Update]),
        "insert" => does(&[Operation::Insert]),
        "update" => does(&[Operation::Update]),
        "delete" => does(&[Operation::Delete]),
        // MERGE's WHEN clauses are not read: count all three.
        "merge" => does(&[Operation::Insert, Operation::Update, Operation::Delete]),
        "truncate" => does(&[Operation::Truncate]),
        "create" | "alter" | "drop" | "comment" | "grant" | "revoke" | "security" | "reindex"
        | "cluster" | "vacuum" | "analyze" | "refresh" | "import" | "reassign" => {
            does(&[Operation::Ddl])
        }
        "with" => Kind::Unchecked,
        "set" | "show" | "reset" | "lock" => Kind::Harmless,
        _ => Kind::Opaque(word),
    }
}

/// Whether an INSERT says `ON CONFLICT … DO UPDATE` (a false match only refuses an insert
/// whose literal text contains those words while updates are denied).
fn upserts(sql: &str) -> bool {
    let words: Vec<String> = sql
        .split(|c: char| !c.is_ascii_alphanumeric() && c != '_')
        .filter(|w| !w.is_empty())
        .map(str::to_ascii_lowercase)
        .collect();
    let conflict = words
        .windows(2)
        .position(|w| w[0] == "on" && w[1] == "conflict");
    conflict.is_some_and(|at| {
        words[at..]
            .windows(2)
            .any(|w| w[0] == "do" && w[1] == "update")
    })
}

fn first_word(sql: &str) -> &str {
    let mut rest = sql;
    loop {
        rest = rest.trim_start_matches(|c: char| c.is_whitespace() || c == '(');
        if let Some(after) = rest.strip_prefix("--") {
            rest = after.split_once('\n').map_or("", |(_, r)| r);
        } else if let Some(after) = rest.strip_prefix("/*") {
            rest = after.split_once("*/").map_or("", |(_, r)| r);
        } else {
            break;
        }
    }
    let end = rest
        .find(|c: char| !c.is_ascii_alphanumeric() && c != '_')
        .unwrap_or(rest.len());
    &rest[..end]
}

/// Why an `execute` statement of this kind must not run under `r`, judged before it is sent.
pub fn refuse_kind(r: &Restrictions, database: &str, kind: &Kind) -> Option<String> {
    match kind {
        Kind::Does(ops) => ops
            .iter()
            .find(|op| !r.allows(**op))
            .map(|op| operation_refusal(r, database, *op)),
        Kind::Opaque(word) if !r.denied_writes().is_empty() => Some(format!(
            "{} is not run: database {database:?} allows only the operations {} \
             (allowed_operations), and what a {} statement does cannot be checked before it \
             runs. Write the statement itself (INSERT, UPDATE …) instead.",
            word.to_uppercase(),
            r.allowed_text(),
            word.to_uppercase()
        )),
        _ => None,
    }
}

fn operation_refusal(r: &Restrictions, database: &str, op: Operation) -> String {
    format!(
        "not run: the statement would {} ({}), and database {database:?} allows only {} \
         (allowed_operations in its [config]). Ask the administrator to add \"{}\" there if \
         this should be allowed.",
        match op {
            Operation::Read => "read",
            Operation::Insert => "insert rows",
            Operation::Update => "update rows",
            Operation::Delete => "delete rows",
            Operation::Truncate => "truncate a table",
            Operation::Ddl => "change the schema",
        },
        op.name(),
        r.allowed_text(),
        op.name()
    )
}

/// The note added to PostgreSQL's "permission denied for …" when the configuration is why the
/// role lacks the privilege: the privilege check held wherever the table was reached (a view,
/// a function, a trigger), and the caller should learn which setting it met. `writing` says
/// the statement came through `execute`.
pub fn permission_note(
    r: &Restrictions,
    database: &str,
    message: &str,
    writing: bool,
) -> Option<String> {
    let table = ["table ", "view ", "materialized view "]
        .iter()
        .find_map(|kind| message.strip_prefix(&format!("permission denied for {kind}")))
        .map(str::trim);
    if let Some(table) = table {
        let lower = table.to_lowercase();
        if let Some(entry) = r.denied_tables.iter().find(|t| t.name == lower) {
            return Some(format!(
                "pier: {table} is denied on database {database:?} (denied_tables = [\"{}\"]); \
                 PostgreSQL refuses it wherever it is reached, a view or a function included.",
                entry.key()
            ));
        }
        let columns: Vec<String> = r
            .denied_columns
            .iter()
            .filter(|c| c.table.name == lower)
            .map(|c| format!("\"{}\"", c.key()))
            .collect();
        if !columns.is_empty() {
            return Some(format!(
                "pier: some columns of {table} are denied on database {database:?} \
                 (denied_columns = [{}]); name the other columns instead of * or the denied ones.",
                columns.join(", ")
            ));
        }
    }
    (writing && !r.denied_writes().is_empty()).then(|| {
        format!(
            "pier: database {database:?} allows only {} (allowed_operations), and its role holds \
             the privileges for those alone; a statement that does more (a data-modifying WITH, \
             a trigger, a function) is refused by PostgreSQL.",
            r.allowed_text()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(list: &[&str]) -> Option<Vec<String>> {
        Some(list.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn settings_parse_and_decide_writes() {
        let (r, writes) = Restrictions::parse(
            "[config]",
            strings(&["Read", "insert", "insert"]),
            strings(&["payment_details", "Shop.Users"]),
            strings(&["customers.ssn"]),
            None,
        )
        .expect("valid");
        assert!(writes, "an allowed insert means execute exists");
        assert_eq!(r.allowed_text(), "[\"read\", \"insert\"]");
        assert!(r.denied_table("public", "PAYMENT_DETAILS").is_some());
        assert!(r.denied_table("shop", "users").is_some());
        assert!(r.denied_table("public", "users").is_none());
        assert_eq!(r.denied_columns[0].key(), "customers.ssn");
        assert_eq!(
            r.denied_writes(),
            vec![
                Operation::Update,
                Operation::Delete,
                Operation::Truncate,
                Operation::Ddl
            ]
        );

        let e =
            Restrictions::parse("[config]", strings(&["insert"]), None, None, None).unwrap_err();
        assert!(e.contains("must include \"read\""), "{e}");
        let e = Restrictions::parse("[config]", strings(&["read", "upsert"]), None, None, None)
            .unwrap_err();
        assert!(e.contains("\"upsert\" is not one of"), "{e}");
        let e = Restrictions::parse("[config]", strings(&["read"]), None, None, Some(true))
            .unwrap_err();
        assert!(e.contains("writes = true"), "{e}");
        let e = Restrictions::parse("[config]", None, strings(&["a.b.c"]), None, None).unwrap_err();
        assert!(e.contains("denied_tables"), "{e}");
        let e = Restrictions::parse("[config]", None, None, strings(&["ssn"]), None).unwrap_err();
        assert!(e.contains("denied_columns"), "{e}");
        let (r, writes) =
            Restrictions::parse("[config]", None, None, None, Some(true)).expect("valid");
        assert!(writes && !r.any() && r.denied_writes().is_empty());
    }

    #[test]
    fn statements_are_classified_by_their_first_word() {
        use Operation::*;
        assert_eq!(kind("  -- hi\n /* x */ (SELECT 1)"), Kind::Does(vec![Read]));
        assert_eq!(kind("with d as (delete from t) select 1"), Kind::Unchecked);
        assert_eq!(kind("TRUNCATE t"), Kind::Does(vec![Truncate]));
        assert_eq!(kind("create table x()"), Kind::Does(vec![Ddl]));
        assert_eq!(
            kind("INSERT INTO t VALUES (1) ON CONFLICT (id) DO UPDATE SET n = 2"),
            Kind::Does(vec![Insert, Update])
        );
        assert_eq!(
            kind("insert into t values (1) on conflict do nothing"),
            Kind::Does(vec![Insert])
        );
        assert_eq!(kind("SET x = 1"), Kind::Harmless);
        assert_eq!(kind("call p()"), Kind::Opaque("call".into()));
        assert_eq!(
            kind("EXPLAIN ANALYZE DELETE FROM t"),
            Kind::Opaque("explain".into())
        );
        let (r, _) =
            Restrictions::parse("c", strings(&["read", "insert"]), None, None, None).expect("ok");
        let why = refuse_kind(&r, "shop", &kind("DO $$ BEGIN END $$")).expect("refused");
        assert!(why.contains("DO is not run"), "{why}");
        let why = refuse_kind(&r, "shop", &kind("drop table t")).expect("refused");
        assert!(
            why.contains("(ddl)") && why.contains("allowed_operations"),
            "{why}"
        );
        let why = refuse_kind(&r, "shop", &kind("update t set a = 1")).expect("refused");
        assert!(why.contains("(update)"), "{why}");
        assert!(refuse_kind(&r, "shop", &kind("select 1")).is_none());
        assert!(refuse_kind(&r, "shop", &kind("insert into t values (1)")).is_none());
        assert!(refuse_kind(&r, "shop", &kind("with x as (select 1) select * from x")).is_none());
    }

    #[test]
    fn permission_errors_name_the_setting() {
        let (r, _) = Restrictions::parse(
            "c",
            None,
            strings(&["public.payment_details"]),
            strings(&["customers.ssn"]),
            None,
        )
        .expect("ok");
        let note = permission_note(
            &r,
            "shop",
            "permission denied for table payment_details",
            false,
        )
        .expect("noted");
        assert!(note.contains("denied_tables"), "{note}");
        let note = permission_note(&r, "shop", "permission denied for table customers", false)
            .expect("noted");
        assert!(note.contains("\"customers.ssn\""), "{note}");
        assert!(permission_note(&r, "shop", "permission denied for table orders", true).is_none());
        let (r, _) =
            Restrictions::parse("c", strings(&["read", "insert"]), None, None, None).expect("ok");
        let note =
            permission_note(&r, "shop", "permission denied for table orders", true).expect("noted");
        assert!(note.contains("allowed_operations"), "{note}");
        assert!(permission_note(&r, "shop", "permission denied for table orders", false).is_none());
    }
}

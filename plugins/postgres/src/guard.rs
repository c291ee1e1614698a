//! The friendly side of a database's restrictions, around one caller statement: refused by
//! its first word before connecting (a `DROP` under `allowed_operations = ["read", "insert"]`),
//! PostgreSQL's own "permission denied" explained by the setting behind it, a denied table not
//! described. The rules are `restrictions`'; the enforcement is the role's privileges
//! (`privileges`).

use serde_json::Value;

use crate::restrictions;
use crate::run::Failure;
use crate::settings::Database;
use crate::transaction::Mode;

/// Refuses what the statement's first word already shows to be denied (only `execute`
/// statements: a read runs in a read-only transaction whatever it says).
pub fn before_connecting(db: &Database, mode: Mode, sql: &str) -> Result<(), String> {
    if mode != Mode::Write || !db.restrictions.any() {
        return Ok(());
    }
    match restrictions::refuse_kind(&db.restrictions, &db.name, &restrictions::kind(sql)) {
        Some(why) => Err(why),
        None => Ok(()),
    }
}

/// `message` with a note naming the setting when it is PostgreSQL refusing a table or column
/// the configuration denies.
pub fn explain_denial(db: &Database, mode: Mode, message: String) -> String {
    if !db.restrictions.any() || !message.contains(" 42501: ") {
        return message;
    }
    let refused = message
        .split_once(" 42501: ")
        .map(|(_, rest)| rest.lines().next().unwrap_or(rest))
        .unwrap_or("");
    match restrictions::permission_note(&db.restrictions, &db.name, refused, mode == Mode::Write) {
        Some(note) => format!("{message}\n{note}"),
        None => message,
    }
}

/// Refuses to describe a denied table (`describe_table`, its resource): its columns and
/// comments are part of what the administrator chose to keep from the model.
pub fn described(db: &Database, table: &Value) -> Result<(), Failure> {
    let (Some(schema), Some(name)) = (table["schema"].as_str(), table["name"].as_str()) else {
        return Ok(());
    };
    match db.restrictions.denied_table(schema, name) {
        Some(entry) => Err(Failure::from(format!(
            "{schema}.{name} is denied on database {:?} (denied_tables = [\"{}\"] in its \
             [config]): it is not described or queried here",
            db.name,
            entry.key()
        ))),
        None => Ok(()),
    }
}

//! Schema versions and migrations.
//!
//! Each backend has numbered SQL files in `sql/<backend>/` (`001_init.sql`,
//! later `002_....sql`), embedded here. The table `smss_schema(version)`
//! holds the number of the last one applied. Opening a store compares it
//! with [`SCHEMA_VERSION`]:
//!
//! * equal: nothing to do;
//! * newer than this binary: refused (an older smss must not write to a
//!   schema it does not know);
//! * missing or older: with `create_schema` the pending migrations are
//!   applied in order, each in its own transaction where the backend allows
//!   it (SQLite; MySQL commits DDL implicitly, so its files are written to
//!   be re-runnable); without it, an `ErrorKind::Schema` error telling the
//!   administrator to run `smss init-db`.

use super::{Result, StoreError};

/// The schema version this binary reads and writes.
pub const SCHEMA_VERSION: u32 = 13;

/// One numbered migration file.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Migration {
    pub version: u32,
    pub name: &'static str,
    pub sql: &'static str,
}

pub(crate) const SQLITE: &[Migration] = &[
    Migration {
        version: 1,
        name: "sql/sqlite/001_init.sql",
        sql: include_str!("../../sql/sqlite/001_init.sql"),
    },
    Migration {
        version: 2,
        name: "sql/sqlite/002_receive.sql",
        sql: include_str!("../../sql/sqlite/002_receive.sql"),
    },
    Migration {
        version: 3,
        name: "sql/sqlite/003_modem.sql",
        sql: include_str!("../../sql/sqlite/003_modem.sql"),
    },
    Migration {
        version: 4,
        name: "sql/sqlite/004_claims.sql",
        sql: include_str!("../../sql/sqlite/004_claims.sql"),
    },
    Migration {
        version: 5,
        name: "sql/sqlite/005_modem_warnings.sql",
        sql: include_str!("../../sql/sqlite/005_modem_warnings.sql"),
    },
    Migration {
        version: 6,
        name: "sql/sqlite/006_received_corners.sql",
        sql: include_str!("../../sql/sqlite/006_received_corners.sql"),
    },
    Migration {
        version: 7,
        name: "sql/sqlite/007_sim_memories.sql",
        sql: include_str!("../../sql/sqlite/007_sim_memories.sql"),
    },
    Migration {
        version: 8,
        name: "sql/sqlite/008_integrations.sql",
        sql: include_str!("../../sql/sqlite/008_integrations.sql"),
    },
    Migration {
        version: 9,
        name: "sql/sqlite/009_storms.sql",
        sql: include_str!("../../sql/sqlite/009_storms.sql"),
    },
    Migration {
        version: 10,
        name: "sql/sqlite/010_pager.sql",
        sql: include_str!("../../sql/sqlite/010_pager.sql"),
    },
    Migration {
        version: 11,
        name: "sql/sqlite/011_spool.sql",
        sql: include_str!("../../sql/sqlite/011_spool.sql"),
    },
    Migration {
        version: 12,
        name: "sql/sqlite/012_call.sql",
        sql: include_str!("../../sql/sqlite/012_call.sql"),
    },
    Migration {
        version: 13,
        name: "sql/sqlite/013_escalation.sql",
        sql: include_str!("../../sql/sqlite/013_escalation.sql"),
    },
];

pub(crate) const MYSQL: &[Migration] = &[
    Migration {
        version: 1,
        name: "sql/mysql/001_init.sql",
        sql: include_str!("../../sql/mysql/001_init.sql"),
    },
    Migration {
        version: 2,
        name: "sql/mysql/002_receive.sql",
        sql: include_str!("../../sql/mysql/002_receive.sql"),
    },
    Migration {
        version: 3,
        name: "sql/mysql/003_modem.sql",
        sql: include_str!("../../sql/mysql/003_modem.sql"),
    },
    Migration {
        version: 4,
        name: "sql/mysql/004_claims.sql",
        sql: include_str!("../../sql/mysql/004_claims.sql"),
    },
    Migration {
        version: 5,
        name: "sql/mysql/005_modem_warnings.sql",
        sql: include_str!("../../sql/mysql/005_modem_warnings.sql"),
    },
    Migration {
        version: 6,
        name: "sql/mysql/006_received_corners.sql",
        sql: include_str!("../../sql/mysql/006_received_corners.sql"),
    },
    Migration {
        version: 7,
        name: "sql/mysql/007_sim_memories.sql",
        sql: include_str!("../../sql/mysql/007_sim_memories.sql"),
    },
    Migration {
        version: 8,
        name: "sql/mysql/008_integrations.sql",
        sql: include_str!("../../sql/mysql/008_integrations.sql"),
    },
    Migration {
        version: 9,
        name: "sql/mysql/009_storms.sql",
        sql: include_str!("../../sql/mysql/009_storms.sql"),
    },
    Migration {
        version: 10,
        name: "sql/mysql/010_pager.sql",
        sql: include_str!("../../sql/mysql/010_pager.sql"),
    },
    Migration {
        version: 11,
        name: "sql/mysql/011_spool.sql",
        sql: include_str!("../../sql/mysql/011_spool.sql"),
    },
    Migration {
        version: 12,
        name: "sql/mysql/012_call.sql",
        sql: include_str!("../../sql/mysql/012_call.sql"),
    },
    Migration {
        version: 13,
        name: "sql/mysql/013_escalation.sql",
        sql: include_str!("../../sql/mysql/013_escalation.sql"),
    },
];

/// What a backend offers to the migration logic.
pub(crate) trait Migrator {
    /// The version recorded in `smss_schema`, 0 when the table is missing
    /// (an empty database).
    fn current_version(&mut self) -> Result<u32>;

    /// Applies one migration and records `m.version` in `smss_schema`, in
    /// one transaction where the backend allows. Must do nothing when the
    /// recorded version already is `m.version` or more (another process
    /// migrated meanwhile).
    fn apply(&mut self, m: &Migration) -> Result<()>;
}

/// Brings the schema to [`SCHEMA_VERSION`] or explains why not.
/// `url` is the database URL to quote in messages (password already hidden).
pub(crate) fn run(
    db: &mut dyn Migrator,
    migrations: &[Migration],
    create_schema: bool,
    url: &str,
) -> Result<()> {
    let current = db.current_version()?;
    if current > SCHEMA_VERSION {
        return Err(StoreError::schema(format!(
            "the database {url} has schema version {current}, newer than this smss \
             understands ({SCHEMA_VERSION}): upgrade smss"
        )));
    }
    if current == SCHEMA_VERSION {
        return Ok(());
    }
    if !create_schema {
        let what = if current == 0 {
            "has no smss tables".to_string()
        } else {
            format!("has schema version {current}, this smss needs {SCHEMA_VERSION}")
        };
        return Err(StoreError::schema(format!("the database {url} {what}")).needing_init());
    }
    for m in migrations.iter().filter(|m| m.version > current) {
        log::info!("database {url}: applying schema migration {}", m.name);
        db.apply(m)?;
    }
    Ok(())
}

/// Splits a migration file into statements: a statement ends with a line
/// whose last non-blank character is `;`. Lines that are only a `--` comment
/// are dropped; comments after code on a line are left to the server.
pub(crate) fn split_statements(sql: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for line in sql.lines() {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with("--") {
            continue;
        }
        cur.push_str(line);
        cur.push('\n');
        if trimmed.ends_with(';') {
            let stmt = cur.trim().trim_end_matches(';').trim_end().to_string();
            if !stmt.is_empty() {
                out.push(stmt);
            }
            cur.clear();
        }
    }
    let rest = cur.trim();
    if !rest.is_empty() {
        out.push(rest.to_string());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_are_numbered_up_to_schema_version() {
        for list in [SQLITE, MYSQL] {
            // 1, 2, ... SCHEMA_VERSION without a gap: a database at version
            // N has every migration up to N.
            let versions: Vec<u32> = list.iter().map(|m| m.version).collect();
            assert_eq!(versions, (1..=SCHEMA_VERSION).collect::<Vec<_>>());
            for m in list {
                let prefix = format!("{:03}_", m.version);
                assert!(
                    m.name.rsplit('/').next().unwrap().starts_with(&prefix),
                    "{} should start with {prefix}",
                    m.name
                );
            }
        }
    }

    #[test]
    fn split_statements_on_semicolon_at_end_of_line() {
        let sql = "-- a comment;\nCREATE TABLE a (\n  x INT -- c\n);\n\n\
                   INSERT INTO a VALUES (';');\nSELECT 1";
        assert_eq!(
            split_statements(sql),
            vec![
                "CREATE TABLE a (\n  x INT -- c\n)".to_string(),
                "INSERT INTO a VALUES (';')".to_string(),
                "SELECT 1".to_string(),
            ]
        );
    }

    #[test]
    fn mysql_init_splits_into_create_tables() {
        let stmts = split_statements(MYSQL[0].sql);
        assert_eq!(stmts.len(), 4);
        assert!(
            stmts
                .iter()
                .all(|s| s.starts_with("CREATE TABLE IF NOT EXISTS"))
        );
    }
}

//! The PostgreSQL schema (issue #8): `migrations/postgres` defines what `migrations/sqlite`
//! does, under the same versions: the same tables, the same columns with matching types,
//! nullability and defaults, the same named indexes and the same foreign keys. Runs on the
//! server named by `DUTYBELL_TEST_POSTGRES` (`scripts/test` starts one with `scripts/pg`)
//! in a fresh database that it drops afterwards; skipped when the variable is unset.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Debug;
use std::str::FromStr as _;

use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPool};
use sqlx::sqlite::{SqlitePool, SqlitePoolOptions};
use sqlx::{Connection as _, Executor as _, PgConnection};

static SQLITE: Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES: Migrator = sqlx::migrate!("./migrations/postgres");

/// A column as both backends can describe it.
#[derive(Debug, PartialEq, Eq)]
struct Column {
    /// `bigint`, `text`, `bytea` or `double precision`.
    ty: String,
    not_null: bool,
    /// The default's literal, without PostgreSQL's `::text` cast; `None` for none.
    default: Option<String>,
}

/// An index made by `CREATE INDEX`, not one a key or UNIQUE constraint implies.
#[derive(Debug, PartialEq, Eq)]
struct Index {
    table: String,
    unique: bool,
    partial: bool,
}

/// Tables → columns → what each column is, named indexes and foreign keys.
#[derive(Debug, Default)]
struct Schema {
    tables: BTreeMap<String, BTreeMap<String, Column>>,
    indexes: BTreeMap<String, Index>,
    /// `table.column -> table.column on delete ACTION`.
    foreign_keys: BTreeSet<String>,
}

#[tokio::test]
async fn postgres_migrations_define_the_same_schema_as_sqlite() {
    let Ok(server) = std::env::var("DUTYBELL_TEST_POSTGRES") else {
        println!("skipped: DUTYBELL_TEST_POSTGRES unset");
        return;
    };

    let sqlite = sqlite_schema().await;
    let postgres = postgres_schema(&server).await;

    assert_eq!(
        versions(&POSTGRES),
        versions(&SQLITE),
        "migration versions differ"
    );
    assert!(
        sqlite.tables.len() > 40,
        "too few tables: {:?}",
        sqlite.tables.keys()
    );
    let mut problems = differences("table", &postgres.tables, &sqlite.tables, false);
    for (table, columns) in &sqlite.tables {
        if let Some(pg_columns) = postgres.tables.get(table) {
            problems.extend(differences(table, pg_columns, columns, true));
        }
    }
    problems.extend(differences(
        "index",
        &postgres.indexes,
        &sqlite.indexes,
        true,
    ));
    for key in postgres
        .foreign_keys
        .symmetric_difference(&sqlite.foreign_keys)
    {
        let side = if sqlite.foreign_keys.contains(key) {
            "sqlite"
        } else {
            "postgres"
        };
        problems.push(format!("foreign key {key}: only in {side}"));
    }
    assert!(
        problems.is_empty(),
        "the schemas differ:\n{}",
        problems.join("\n")
    );
}

fn versions(migrator: &Migrator) -> Vec<(i64, String)> {
    migrator
        .iter()
        .map(|m| (m.version, m.description.to_string()))
        .collect()
}

/// What differs between two maps, one line each; their values too when `values` is set.
fn differences<V: PartialEq + Debug>(
    what: &str,
    postgres: &BTreeMap<String, V>,
    sqlite: &BTreeMap<String, V>,
    values: bool,
) -> Vec<String> {
    let keys: BTreeSet<&String> = postgres.keys().chain(sqlite.keys()).collect();
    let mut found = Vec::new();
    for key in keys {
        match (postgres.get(key), sqlite.get(key)) {
            (Some(_), None) => found.push(format!("{what} {key}: only in postgres")),
            (None, Some(_)) => found.push(format!("{what} {key}: only in sqlite")),
            (Some(pg), Some(lite)) if values && pg != lite => {
                found.push(format!("{what} {key}: postgres {pg:?}, sqlite {lite:?}"));
            }
            _ => {}
        }
    }
    found
}

/// A fresh in-memory SQLite database migrated with `migrations/sqlite`, described.
async fn sqlite_schema() -> Schema {
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .connect("sqlite::memory:")
        .await
        .unwrap();
    SQLITE.run(&pool).await.unwrap();
    let schema = describe_sqlite(&pool).await;
    pool.close().await;
    schema
}

async fn describe_sqlite(pool: &SqlitePool) -> Schema {
    let mut schema = Schema::default();
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' \
         AND name NOT LIKE 'sqlite_%' AND name <> '_sqlx_migrations'",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    for table in tables {
        let rows: Vec<(String, String, bool, Option<String>, i64)> = sqlx::query_as(
            "SELECT name, type, \"notnull\", dflt_value, pk FROM pragma_table_info(?)",
        )
        .bind(&table)
        .fetch_all(pool)
        .await
        .unwrap();
        let mut columns = BTreeMap::new();
        for (name, ty, not_null, default, pk) in rows {
            let ty = match ty.as_str() {
                "INTEGER" => "bigint",
                "TEXT" => "text",
                "BLOB" => "bytea",
                "REAL" => "double precision",
                other => panic!("{table}.{name}: unexpected sqlite type {other}"),
            };
            // A key column is never NULL in PostgreSQL; SQLite only says so for rowids.
            let not_null = not_null || pk > 0;
            columns.insert(
                name,
                Column {
                    ty: ty.to_owned(),
                    not_null,
                    default,
                },
            );
        }
        schema.tables.insert(table, columns);
    }

    let indexes: Vec<(String, String, bool, bool)> = sqlx::query_as(
        "SELECT m.name, m.tbl_name, l.\"unique\", l.partial FROM sqlite_master m \
         JOIN pragma_index_list(m.tbl_name) l ON l.name = m.name \
         WHERE m.type = 'index' AND m.sql IS NOT NULL",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    for (name, table, unique, partial) in indexes {
        schema.indexes.insert(
            name,
            Index {
                table,
                unique,
                partial,
            },
        );
    }

    let keys: Vec<(String, String, String, String, String)> = sqlx::query_as(
        "SELECT m.name, f.\"from\", f.\"table\", f.\"to\", f.on_delete FROM sqlite_master m \
         JOIN pragma_foreign_key_list(m.name) f WHERE m.type = 'table'",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    for (table, column, target, target_column, on_delete) in keys {
        let key = format!("{table}.{column} -> {target}.{target_column} on delete {on_delete}");
        schema.foreign_keys.insert(key);
    }
    schema
}

/// A fresh database on `server` migrated with `migrations/postgres`, described and dropped.
async fn postgres_schema(server: &str) -> Schema {
    let name = format!(
        "dutybell_schema_{}",
        ulid::Ulid::new().to_string().to_lowercase()
    );
    let mut admin = PgConnection::connect(server).await.unwrap();
    admin
        .execute(format!("CREATE DATABASE {name}").as_str())
        .await
        .unwrap();

    // Describe first, drop in any case, then fail if describing did.
    let options = PgConnectOptions::from_str(server).unwrap().database(&name);
    let described = async {
        let pool = PgPool::connect_with(options).await?;
        let result = async {
            POSTGRES.run(&pool).await?;
            describe_postgres(&pool).await
        }
        .await;
        pool.close().await;
        result
    }
    .await;
    let dropped = admin
        .execute(format!("DROP DATABASE {name} WITH (FORCE)").as_str())
        .await;
    admin.close().await.unwrap();
    let schema = described.unwrap();
    dropped.unwrap();
    schema
}

async fn describe_postgres(pool: &PgPool) -> anyhow::Result<Schema> {
    let mut schema = Schema::default();
    let rows: Vec<(String, String, String, bool, Option<String>)> = sqlx::query_as(
        "SELECT table_name::text, column_name::text, data_type::text, is_nullable = 'NO', \
         column_default::text FROM information_schema.columns \
         WHERE table_schema = current_schema() AND table_name <> '_sqlx_migrations'",
    )
    .fetch_all(pool)
    .await?;
    for (table, column, ty, not_null, default) in rows {
        let default = default.map(|d| d.trim_end_matches("::text").to_owned());
        let described = Column {
            ty,
            not_null,
            default,
        };
        schema
            .tables
            .entry(table)
            .or_default()
            .insert(column, described);
    }

    let indexes: Vec<(String, String, bool, bool)> = sqlx::query_as(
        "SELECT i.relname::text, t.relname::text, x.indisunique, x.indpred IS NOT NULL \
         FROM pg_index x \
         JOIN pg_class i ON i.oid = x.indexrelid \
         JOIN pg_class t ON t.oid = x.indrelid \
         WHERE t.relnamespace = \
             (SELECT oid FROM pg_namespace WHERE nspname = current_schema()) \
           AND t.relname <> '_sqlx_migrations' \
           AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid)",
    )
    .fetch_all(pool)
    .await?;
    for (name, table, unique, partial) in indexes {
        schema.indexes.insert(
            name,
            Index {
                table,
                unique,
                partial,
            },
        );
    }

    // Every key here is one column; a longer one would show up as a difference.
    let keys: Vec<(String, String, String, String, String)> = sqlx::query_as(
        "SELECT c.conrelid::regclass::text, a.attname::text, c.confrelid::regclass::text, \
         t.attname::text, \
         CASE c.confdeltype WHEN 'c' THEN 'CASCADE' WHEN 'a' THEN 'NO ACTION' \
         WHEN 'r' THEN 'RESTRICT' WHEN 'n' THEN 'SET NULL' ELSE 'SET DEFAULT' END \
         FROM pg_constraint c \
         JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1] \
         JOIN pg_attribute t ON t.attrelid = c.confrelid AND t.attnum = c.confkey[1] \
         WHERE c.contype = 'f' AND c.connamespace = \
             (SELECT oid FROM pg_namespace WHERE nspname = current_schema())",
    )
    .fetch_all(pool)
    .await?;
    for (table, column, target, target_column, on_delete) in keys {
        let key = format!("{table}.{column} -> {target}.{target_column} on delete {on_delete}");
        schema.foreign_keys.insert(key);
    }
    Ok(schema)
}

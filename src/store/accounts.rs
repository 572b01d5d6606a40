//! Accounts (issue #7): users, their sessions and API tokens, and failed logins for the
//! rate limit. Session ids and tokens arrive here already digested
//! (`domain::accounts::digest`); nothing in these tables opens a session or calls the API.

use jiff::Timestamp;
use serde::Serialize;
use sqlx::Row as _;

use super::{Result, Store, StoreError, can_match, from_ms, from_ms_opt, to_ms};
use crate::domain::accounts::{self, Role};

/// An account as the UI and CLI show it.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct User {
    pub id: i64,
    pub login: String,
    pub role: Role,
    /// The person in team.toml this account acts as.
    pub person_id: Option<String>,
    pub created_at: Timestamp,
}

impl User {
    /// Who the timeline names when this user acts: the mapped person, else the login.
    pub fn actor(&self) -> String {
        self.person_id
            .clone()
            .unwrap_or_else(|| format!("user:{}", self.login))
    }
}

/// An API token's metadata; the token itself is shown once, at creation, and not kept.
#[derive(Clone, Debug, Serialize)]
pub struct TokenInfo {
    pub id: i64,
    pub login: String,
    pub name: String,
    pub role: Role,
    pub created_at: Timestamp,
    pub last_used_at: Option<Timestamp>,
}

const USER_COLUMNS: &str = "u.id, u.login, u.role, u.person_id, u.created_at";

fn user_from_row(row: &sqlx::any::AnyRow) -> Result<User> {
    let role: String = row.try_get("role")?;
    Ok(User {
        id: row.try_get("id")?,
        login: row.try_get("login")?,
        role: role.parse().map_err(StoreError::Corrupt)?,
        person_id: row.try_get("person_id")?,
        created_at: from_ms(row.try_get("created_at")?)?,
    })
}

/// Adds a user; a taken login is a conflict.
pub async fn add_user(
    store: &Store,
    login: &str,
    password_hash: &str,
    role: Role,
    person_id: Option<&str>,
    now: Timestamp,
) -> Result<User> {
    let mut tx = store.begin().await?;
    let taken: Option<i64> = sqlx::query_scalar("SELECT id FROM users WHERE login = $1")
        .bind(login)
        .fetch_optional(&mut *tx)
        .await?;
    if taken.is_some() {
        return Err(StoreError::Conflict(format!("a user {login:?} exists")));
    }
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO users (login, password_hash, role, person_id, created_at) \
         VALUES ($1, $2, $3, $4, $5) RETURNING id",
    )
    .bind(login)
    .bind(password_hash)
    .bind(role.as_str())
    .bind(person_id)
    .bind(to_ms(now))
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(User {
        id,
        login: login.to_string(),
        role,
        person_id: person_id.map(str::to_string),
        created_at: now,
    })
}

/// Every enabled user, by login.
pub async fn list_users(store: &Store) -> Result<Vec<User>> {
    let sql =
        format!("SELECT {USER_COLUMNS} FROM users u WHERE disabled_at IS NULL ORDER BY login");
    let rows = sqlx::query(&sql).fetch_all(store.pool()).await?;
    rows.iter().map(user_from_row).collect()
}

/// An account as the admin page and `user list` show it: disabled ones too.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Account {
    pub user: User,
    pub disabled_at: Option<Timestamp>,
    /// When the user last signed in to the web UI, if they have since migration 0025.
    pub last_login_at: Option<Timestamp>,
}

fn account_from_row(row: &sqlx::any::AnyRow) -> Result<Account> {
    Ok(Account {
        user: user_from_row(row)?,
        disabled_at: from_ms_opt(row.try_get("disabled_at")?)?,
        last_login_at: from_ms_opt(row.try_get("last_login_at")?)?,
    })
}

/// Every account, enabled or not, by login.
pub async fn list_accounts(store: &Store) -> Result<Vec<Account>> {
    let sql = format!(
        "SELECT {USER_COLUMNS}, u.disabled_at, u.last_login_at FROM users u ORDER BY u.login"
    );
    let rows = sqlx::query(&sql).fetch_all(store.pool()).await?;
    rows.iter().map(account_from_row).collect()
}

/// The account named `login`, enabled or not.
pub async fn account(store: &Store, login: &str) -> Result<Option<Account>> {
    if !can_match(login) {
        return Ok(None);
    }
    let sql = format!(
        "SELECT {USER_COLUMNS}, u.disabled_at, u.last_login_at FROM users u WHERE u.login = $1"
    );
    let row = sqlx::query(&sql)
        .bind(login)
        .fetch_optional(store.pool())
        .await?;
    row.as_ref().map(account_from_row).transpose()
}

/// Refuses a change that would leave no enabled admin: `login` is one, and the only one.
async fn keep_an_admin(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    login: &str,
    change: &str,
) -> Result<()> {
    let admins: Vec<String> =
        sqlx::query_scalar("SELECT login FROM users WHERE role = 'admin' AND disabled_at IS NULL")
            .fetch_all(&mut **tx)
            .await?;
    if admins.len() == 1 && admins[0] == login {
        return Err(StoreError::Conflict(format!(
            "{login} is the last active admin and cannot be {change}; make another user an \
             admin first"
        )));
    }
    Ok(())
}

/// The id and role of the user `login`, enabled or not; `NotFound` if there is none.
async fn id_and_role(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    login: &str,
) -> Result<(i64, Role)> {
    if !can_match(login) {
        return Err(StoreError::NotFound);
    }
    let row = sqlx::query("SELECT id, role FROM users WHERE login = $1")
        .bind(login)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or(StoreError::NotFound)?;
    let role: String = row.try_get("role")?;
    Ok((
        row.try_get("id")?,
        role.parse().map_err(StoreError::Corrupt)?,
    ))
}

/// Disables `login` at `now` (`Some`) or enables it again (`None`). Disabling ends the
/// user's sessions; their tokens stay stored but are refused while the user is disabled
/// (every lookup joins on `disabled_at`). Disabling the last enabled admin is a conflict.
pub async fn set_disabled(store: &Store, login: &str, at: Option<Timestamp>) -> Result<()> {
    let mut tx = store.begin().await?;
    let (id, role) = id_and_role(&mut tx, login).await?;
    if at.is_some() && role == Role::Admin {
        keep_an_admin(&mut tx, login, "disabled").await?;
    }
    // Disabling twice keeps the first instant.
    sqlx::query(
        "UPDATE users SET disabled_at = CASE WHEN $1 IS NULL THEN NULL \
                 ELSE COALESCE(disabled_at, $2) END WHERE id = $3",
    )
    .bind(at.map(to_ms))
    .bind(at.map(to_ms))
    .bind(id)
    .execute(&mut *tx)
    .await?;
    if at.is_some() {
        sqlx::query("DELETE FROM sessions WHERE user_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Gives `login` the role `role`. Their tokens above it come down to it, so no token
/// outranks its user; demoting the last enabled admin is a conflict.
pub async fn set_role(store: &Store, login: &str, role: Role) -> Result<()> {
    let mut tx = store.begin().await?;
    let (id, current) = id_and_role(&mut tx, login).await?;
    if current == Role::Admin && role != Role::Admin {
        keep_an_admin(&mut tx, login, "demoted").await?;
    }
    sqlx::query("UPDATE users SET role = $1 WHERE id = $2")
        .bind(role.as_str())
        .bind(id)
        .execute(&mut *tx)
        .await?;
    for above in [Role::Responder, Role::Admin]
        .into_iter()
        .filter(|r| *r > role)
    {
        sqlx::query("UPDATE api_tokens SET role = $1 WHERE user_id = $2 AND role = $3")
            .bind(role.as_str())
            .bind(id)
            .bind(above.as_str())
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Replaces `login`'s password hash and ends their sessions, so an old password's
/// sessions do not outlive it.
pub async fn set_password(store: &Store, login: &str, password_hash: &str) -> Result<()> {
    let mut tx = store.begin().await?;
    let (id, _) = id_and_role(&mut tx, login).await?;
    sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
        .bind(password_hash)
        .bind(id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM sessions WHERE user_id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// Maps `login` to the person `person_id` of team.toml, or unmaps it (`None`). The
/// caller checks the person exists in the config; the store does not know it.
pub async fn set_person(store: &Store, login: &str, person_id: Option<&str>) -> Result<()> {
    let mut tx = store.begin().await?;
    let (id, _) = id_and_role(&mut tx, login).await?;
    sqlx::query("UPDATE users SET person_id = $1 WHERE id = $2")
        .bind(person_id)
        .bind(id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// Maps the account `login` to `person_id` if it exists and is mapped to nobody yet;
/// whether it did. Nothing else about the account changes (config sync, never a role).
pub async fn map_if_unmapped(store: &Store, login: &str, person_id: &str) -> Result<bool> {
    let mut tx = store.begin().await?;
    let done =
        sqlx::query("UPDATE users SET person_id = $1 WHERE login = $2 AND person_id IS NULL")
            .bind(person_id)
            .bind(login)
            .execute(&mut *tx)
            .await?;
    tx.commit().await?;
    Ok(done.rows_affected() > 0)
}

/// An enabled user and their password hash, for a login attempt.
pub async fn credentials(store: &Store, login: &str) -> Result<Option<(User, String)>> {
    if !can_match(login) {
        return Ok(None);
    }
    let sql = format!(
        "SELECT {USER_COLUMNS}, u.password_hash FROM users u \
         WHERE u.login = $1 AND u.disabled_at IS NULL"
    );
    let row = sqlx::query(&sql)
        .bind(login)
        .fetch_optional(store.pool())
        .await?;
    row.map(|row| Ok((user_from_row(&row)?, row.try_get("password_hash")?)))
        .transpose()
}

/// Starts a session for `user_id` under the digest of its id.
pub async fn create_session(
    store: &Store,
    user_id: i64,
    id_hash: &str,
    now: Timestamp,
) -> Result<()> {
    let expires = now
        .checked_add(accounts::SESSION_TTL)
        .map_err(|err| StoreError::Corrupt(err.to_string()))?;
    let mut tx = store.begin().await?;
    sqlx::query(
        "INSERT INTO sessions (id_hash, user_id, created_at, expires_at, last_seen_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(id_hash)
    .bind(user_id)
    .bind(to_ms(now))
    .bind(to_ms(expires))
    .bind(to_ms(now))
    .execute(&mut *tx)
    .await?;
    sqlx::query("UPDATE users SET last_login_at = $1 WHERE id = $2")
        .bind(to_ms(now))
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    // Sessions that ended are of no use to anyone; sweep them while we hold the lock.
    let idle_since = now.checked_sub(accounts::SESSION_IDLE).unwrap_or(now);
    sqlx::query("DELETE FROM sessions WHERE expires_at <= $1 OR last_seen_at <= $2")
        .bind(to_ms(now))
        .bind(to_ms(idle_since))
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// The user of a live session, marking it used at `now`; `None` for an unknown, idle or
/// expired one (which is deleted).
pub async fn session_user(store: &Store, id_hash: &str, now: Timestamp) -> Result<Option<User>> {
    let sql = format!(
        "SELECT {USER_COLUMNS}, s.created_at AS s_created, s.last_seen_at FROM sessions s \
         JOIN users u ON u.id = s.user_id WHERE s.id_hash = $1 AND u.disabled_at IS NULL"
    );
    let Some(row) = sqlx::query(&sql)
        .bind(id_hash)
        .fetch_optional(store.pool())
        .await?
    else {
        return Ok(None);
    };
    let created = from_ms(row.try_get("s_created")?)?;
    let last_seen = from_ms(row.try_get("last_seen_at")?)?;
    if !accounts::session_live(created, last_seen, now) {
        delete_session(store, id_hash).await?;
        return Ok(None);
    }
    // One write a minute per session is plenty for an idle timeout of an hour.
    if now.duration_since(last_seen) >= jiff::SignedDuration::from_mins(1) {
        let mut tx = store.begin().await?;
        sqlx::query("UPDATE sessions SET last_seen_at = $1 WHERE id_hash = $2")
            .bind(to_ms(now))
            .bind(id_hash)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
    }
    Ok(Some(user_from_row(&row)?))
}

/// Ends a session (logout); unknown ones are ignored.
pub async fn delete_session(store: &Store, id_hash: &str) -> Result<()> {
    let mut tx = store.begin().await?;
    sqlx::query("DELETE FROM sessions WHERE id_hash = $1")
        .bind(id_hash)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// Stores a new token for `login` under its digest. Its role may not exceed the user's;
/// a name already used by that user is a conflict.
pub async fn create_token(
    store: &Store,
    login: &str,
    name: &str,
    role: Option<Role>,
    token_hash: &str,
    now: Timestamp,
) -> Result<TokenInfo> {
    if !can_match(login) {
        return Err(StoreError::NotFound);
    }
    let mut tx = store.begin().await?;
    let row = sqlx::query("SELECT id, role FROM users WHERE login = $1 AND disabled_at IS NULL")
        .bind(login)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(StoreError::NotFound)?;
    let user_id: i64 = row.try_get("id")?;
    let user_role: Role = row
        .try_get::<String, _>("role")?
        .parse()
        .map_err(StoreError::Corrupt)?;
    let role = role.unwrap_or(user_role);
    if !user_role.allows(role) {
        return Err(StoreError::Conflict(format!(
            "{login} is a {user_role}; a token cannot have role {role}"
        )));
    }
    let taken: Option<i64> =
        sqlx::query_scalar("SELECT id FROM api_tokens WHERE user_id = $1 AND name = $2")
            .bind(user_id)
            .bind(name)
            .fetch_optional(&mut *tx)
            .await?;
    if taken.is_some() {
        return Err(StoreError::Conflict(format!(
            "{login} already has a token named {name:?}"
        )));
    }
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO api_tokens (user_id, name, token_hash, role, created_at) \
         VALUES ($1, $2, $3, $4, $5) RETURNING id",
    )
    .bind(user_id)
    .bind(name)
    .bind(token_hash)
    .bind(role.as_str())
    .bind(to_ms(now))
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(TokenInfo {
        id,
        login: login.to_string(),
        name: name.to_string(),
        role,
        created_at: now,
        last_used_at: None,
    })
}

/// The token with this digest and its role, marking it used at `now`.
pub async fn token_by_hash(
    store: &Store,
    token_hash: &str,
    now: Timestamp,
) -> Result<Option<TokenInfo>> {
    let row = sqlx::query(
        "SELECT t.id, u.login, t.name, t.role, t.created_at, t.last_used_at \
         FROM api_tokens t JOIN users u ON u.id = t.user_id \
         WHERE t.token_hash = $1 AND u.disabled_at IS NULL",
    )
    .bind(token_hash)
    .fetch_optional(store.pool())
    .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let info = token_from_row(&row)?;
    let mut tx = store.begin().await?;
    sqlx::query("UPDATE api_tokens SET last_used_at = $1 WHERE id = $2")
        .bind(to_ms(now))
        .bind(info.id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(Some(info))
}

fn token_from_row(row: &sqlx::any::AnyRow) -> Result<TokenInfo> {
    let role: String = row.try_get("role")?;
    Ok(TokenInfo {
        id: row.try_get("id")?,
        login: row.try_get("login")?,
        name: row.try_get("name")?,
        role: role.parse().map_err(StoreError::Corrupt)?,
        created_at: from_ms(row.try_get("created_at")?)?,
        last_used_at: from_ms_opt(row.try_get("last_used_at")?)?,
    })
}

/// Every token's metadata, by login and name.
pub async fn list_tokens(store: &Store) -> Result<Vec<TokenInfo>> {
    let rows = sqlx::query(
        "SELECT t.id, u.login, t.name, t.role, t.created_at, t.last_used_at \
         FROM api_tokens t JOIN users u ON u.id = t.user_id ORDER BY u.login, t.name",
    )
    .fetch_all(store.pool())
    .await?;
    rows.iter().map(token_from_row).collect()
}

/// Deletes `login`'s token named `name`; none such is `NotFound`.
pub async fn revoke_token(store: &Store, login: &str, name: &str) -> Result<()> {
    if !can_match(login) || !can_match(name) {
        return Err(StoreError::NotFound);
    }
    let mut tx = store.begin().await?;
    let done = sqlx::query(
        "DELETE FROM api_tokens WHERE name = $1 \
         AND user_id = (SELECT id FROM users WHERE login = $2)",
    )
    .bind(name)
    .bind(login)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

/// Deletes the token with id `id`, returning its metadata; none such is `NotFound`.
pub async fn revoke_token_id(store: &Store, id: i64) -> Result<TokenInfo> {
    let mut tx = store.begin().await?;
    let row = sqlx::query(
        "SELECT t.id, u.login, t.name, t.role, t.created_at, t.last_used_at \
         FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.id = $1",
    )
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or(StoreError::NotFound)?;
    let info = token_from_row(&row)?;
    sqlx::query("DELETE FROM api_tokens WHERE id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(info)
}

/// Failed logins within the limit's window before `now`: for `login`, and from `ip`.
pub async fn recent_failures(
    store: &Store,
    login: &str,
    ip: &str,
    now: Timestamp,
) -> Result<(Vec<Timestamp>, Vec<Timestamp>)> {
    let since = to_ms(now.checked_sub(accounts::LOGIN_WINDOW).unwrap_or(now));
    let mut lists = Vec::with_capacity(2);
    let login = failure_login(login);
    for (column, value) in [("login", login.as_str()), ("ip", ip)] {
        let sql = format!("SELECT at FROM login_failures WHERE {column} = $1 AND at > $2");
        let times: Vec<i64> = sqlx::query_scalar(&sql)
            .bind(value)
            .bind(since)
            .fetch_all(store.pool())
            .await?;
        lists.push(times.into_iter().map(from_ms).collect::<Result<Vec<_>>>()?);
    }
    let ip_list = lists.pop().unwrap_or_default();
    let login_list = lists.pop().unwrap_or_default();
    Ok((login_list, ip_list))
}

/// The login a failed attempt is counted under. No account's login holds NUL, which
/// Postgres cannot store, so such an attempt counts (for its address and its login) under
/// a login with U+FFFD in place of each NUL, on both backends (issue #8).
fn failure_login(login: &str) -> String {
    login.replace('\0', "\u{fffd}")
}

/// Records a failed login, and forgets failures older than the window.
pub async fn record_failure(store: &Store, login: &str, ip: &str, now: Timestamp) -> Result<()> {
    let login = failure_login(login);
    let mut tx = store.begin().await?;
    sqlx::query("INSERT INTO login_failures (login, ip, at) VALUES ($1, $2, $3)")
        .bind(&login)
        .bind(ip)
        .bind(to_ms(now))
        .execute(&mut *tx)
        .await?;
    let before = now.checked_sub(accounts::LOGIN_WINDOW).unwrap_or(now);
    sqlx::query("DELETE FROM login_failures WHERE at <= $1")
        .bind(to_ms(before))
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// Forgets `login`'s failures after it logged in; the address's count stays.
pub async fn clear_failures(store: &Store, login: &str) -> Result<()> {
    let mut tx = store.begin().await?;
    sqlx::query("DELETE FROM login_failures WHERE login = $1")
        .bind(login)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("test.db").display());
        let store = Store::connect(&url).await.unwrap();
        store.migrate().await.unwrap();
        (dir, store)
    }

    fn now() -> Timestamp {
        "2025-06-04T17:00:00Z".parse().unwrap()
    }

    #[tokio::test]
    async fn the_last_enabled_admin_can_be_neither_disabled_nor_demoted() {
        let (_dir, db) = store().await;
        add_user(&db, "root", "h", Role::Admin, None, now())
            .await
            .unwrap();
        add_user(&db, "ana", "h", Role::Responder, None, now())
            .await
            .unwrap();

        let demote = set_role(&db, "root", Role::Viewer).await;
        let disable = set_disabled(&db, "root", Some(now())).await;

        assert!(matches!(demote, Err(StoreError::Conflict(m)) if m.contains("last active")));
        assert!(matches!(disable, Err(StoreError::Conflict(_))));
        set_role(&db, "ana", Role::Admin).await.unwrap();
        set_disabled(&db, "root", Some(now())).await.unwrap();
        assert!(matches!(
            set_role(&db, "ana", Role::Responder).await,
            Err(StoreError::Conflict(_))
        ));
        assert!(matches!(
            set_role(&db, "nobody", Role::Viewer).await,
            Err(StoreError::NotFound)
        ));
    }

    #[tokio::test]
    async fn disabling_ends_sessions_and_tokens_and_enabling_restores_only_tokens() {
        let (_dir, db) = store().await;
        add_user(&db, "root", "h", Role::Admin, None, now())
            .await
            .unwrap();
        add_user(&db, "ana", "h", Role::Responder, None, now())
            .await
            .unwrap();
        let ana = credentials(&db, "ana").await.unwrap().unwrap().0;
        create_session(&db, ana.id, "s1", now()).await.unwrap();
        create_token(&db, "ana", "ci", None, "t1", now())
            .await
            .unwrap();

        set_disabled(&db, "ana", Some(now())).await.unwrap();

        assert_eq!(session_user(&db, "s1", now()).await.unwrap(), None);
        assert!(token_by_hash(&db, "t1", now()).await.unwrap().is_none());
        assert!(credentials(&db, "ana").await.unwrap().is_none());
        let shown = account(&db, "ana").await.unwrap().unwrap();
        assert_eq!(shown.disabled_at, Some(now()));
        assert_eq!(shown.last_login_at, Some(now()));

        set_disabled(&db, "ana", None).await.unwrap();
        assert!(token_by_hash(&db, "t1", now()).await.unwrap().is_some());
        assert_eq!(session_user(&db, "s1", now()).await.unwrap(), None);
    }

    #[tokio::test]
    async fn demoting_brings_tokens_down_and_sync_maps_only_unmapped_accounts() {
        let (_dir, db) = store().await;
        add_user(&db, "root", "h", Role::Admin, None, now())
            .await
            .unwrap();
        add_user(&db, "ana", "h", Role::Admin, Some("ana"), now())
            .await
            .unwrap();
        create_token(&db, "ana", "ci", None, "t1", now())
            .await
            .unwrap();

        set_role(&db, "ana", Role::Viewer).await.unwrap();

        let token = token_by_hash(&db, "t1", now()).await.unwrap().unwrap();
        assert_eq!(token.role, Role::Viewer);
        assert!(!map_if_unmapped(&db, "ana", "other").await.unwrap());
        assert!(map_if_unmapped(&db, "root", "chen").await.unwrap());
        assert!(!map_if_unmapped(&db, "ghost", "chen").await.unwrap());
        let root = account(&db, "root").await.unwrap().unwrap().user;
        assert_eq!(
            (root.person_id.as_deref(), root.role),
            (Some("chen"), Role::Admin)
        );
    }
}

//! User administration (issue #7): the admin page `/ui/admin/users` and `dutybell user …`.
//! A real headless Chromium adds a user, maps them to a person and signs in as them to see
//! their shifts; plain HTTP checks every admin form for CSRF, session and role, escaping of
//! logins and person fields, the last-admin guard, and that disabling a user stops their
//! session and API tokens at once; people's `login` in team.toml maps accounts at start.

use std::process::Command;

use dutybell::config::secrets::Secrets;
use dutybell::config::{self, Overrides};
use dutybell::domain::accounts::{self, Role};
use dutybell::store::accounts as store;
use reqwest::StatusCode;

use crate::browser::Browser;
use crate::helpers::{Setup, TestApp, spawn_app, spawn_app_with, t0, test_env, write_config};
use crate::web_ui::{add_user, get_page, no_redirects, post_form, sign_in, with};

/// The password a page shows once, after an add or a reset.
fn shown_password(page: &str) -> String {
    let marker = r#"<code id="new-password">"#;
    let start = page.find(marker).expect("the page shows a password") + marker.len();
    page[start..].split('<').next().unwrap().to_string()
}

/// The account `login` as the store has it.
async fn account(app: &TestApp, login: &str) -> store::Account {
    store::account(&app.store, login).await.unwrap().unwrap()
}

/// A per-user API token for `login`, stored by digest as `dutybell user token create` does.
async fn token_for(app: &TestApp, login: &str, name: &str) -> String {
    let token = accounts::api_token([name.len() as u8; 32]);
    let digest = accounts::digest(&token);
    store::create_token(&app.store, login, name, None, &digest, app.clock.now())
        .await
        .unwrap();
    token
}

/// The status of an admin API call with `token`.
async fn admin_api(app: &TestApp, token: &str) -> StatusCode {
    app.client
        .get(app.url("/api/v1/alerts"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
}

/// The status of a login through the form: `303` signed in, `401` refused.
async fn try_login(app: &TestApp, login: &str, password: &str) -> StatusCode {
    let client = no_redirects();
    let form = client.get(app.url("/login")).send().await.unwrap();
    let nonce = form
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().unwrap().strip_prefix("dutybell_login="))
        .map(|v| v.split(';').next().unwrap().to_string())
        .next()
        .unwrap();
    let page = form.text().await.unwrap();
    let marker = r#"name="csrf" value=""#;
    let start = page.find(marker).unwrap() + marker.len();
    let csrf = page[start..].split('"').next().unwrap();
    let fields = [("csrf", csrf), ("login", login), ("password", password)];
    let cookie = format!("dutybell_login={nonce}");
    post_form(app, "/login", Some(&cookie), &fields, &[])
        .await
        .status()
}

/// The status of `GET /ui` with this cookie, without following redirects.
async fn dashboard_status(app: &TestApp, cookie: &str) -> StatusCode {
    no_redirects()
        .get(app.url("/ui"))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap()
        .status()
}

#[tokio::test]
async fn every_admin_post_refuses_no_session_a_wrong_one_no_csrf_and_non_admins() {
    let app = spawn_app().await;
    let root_pw = add_user(&app, "root", Role::Admin, None).await;
    let ana_pw = add_user(&app, "ana", Role::Responder, Some("ana")).await;
    let vic_pw = add_user(&app, "vic", Role::Viewer, None).await;
    let token = token_for(&app, "ana", "ci").await;
    let token_id = store::list_tokens(&app.store).await.unwrap()[0].id;
    let root = sign_in(&app, "root", &root_pw).await;
    let ana = sign_in(&app, "ana", &ana_pw).await;
    let vic = sign_in(&app, "vic", &vic_pw).await;
    let revoke = format!("/ui/admin/tokens/{token_id}/revoke");
    let routes: Vec<(&str, Vec<(&str, &str)>)> = vec![
        (
            "/ui/admin/users",
            vec![("login", "mallory"), ("role", "admin"), ("person", "")],
        ),
        ("/ui/admin/users/vic/role", vec![("role", "admin")]),
        ("/ui/admin/users/vic/person", vec![("person", "ben")]),
        ("/ui/admin/users/root/disable", vec![]),
        ("/ui/admin/users/root/enable", vec![]),
        ("/ui/admin/users/root/password", vec![]),
        (&revoke, vec![]),
        (
            "/ui/admin/users/ana/tokens",
            vec![("name", "sneaky"), ("role", "viewer")],
        ),
    ];
    let fake = format!("dutybell_session={}", accounts::session_id([1; 32]));

    for (path, fields) in &routes {
        let cases = [
            ("no session", None, with(fields, &root.csrf), vec![], 401),
            (
                "wrong session",
                Some(fake.as_str()),
                with(fields, &root.csrf),
                vec![],
                401,
            ),
            (
                "no csrf",
                Some(root.cookie.as_str()),
                fields.clone(),
                vec![],
                403,
            ),
            (
                "other's csrf",
                Some(root.cookie.as_str()),
                with(fields, &vic.csrf),
                vec![],
                403,
            ),
            (
                "cross-site",
                Some(root.cookie.as_str()),
                with(fields, &root.csrf),
                vec![("sec-fetch-site", "cross-site")],
                403,
            ),
            (
                "responder",
                Some(ana.cookie.as_str()),
                with(fields, &ana.csrf),
                vec![],
                403,
            ),
            (
                "viewer",
                Some(vic.cookie.as_str()),
                with(fields, &vic.csrf),
                vec![],
                403,
            ),
        ];
        for (case, cookie, form, headers, expected) in cases {
            let response = post_form(&app, path, cookie, &form, &headers).await;
            assert_eq!(response.status().as_u16(), expected, "{case}: POST {path}");
            if case == "responder" {
                let body = response.text().await.unwrap();
                assert!(body.contains("This needs the admin role; you are a responder."));
            }
        }
    }

    // The page itself: admins only, and only admins see it in the nav.
    let page = no_redirects()
        .get(app.url("/ui/admin/users"))
        .header("cookie", &ana.cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::FORBIDDEN);
    let anonymous = no_redirects()
        .get(app.url("/ui/admin/users"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), StatusCode::SEE_OTHER);
    assert_eq!(anonymous.headers()["location"], "/login");
    assert!(!get_page(&app, "/ui", &ana).await.contains("nav-users"));
    assert!(
        get_page(&app, "/ui", &root)
            .await
            .contains(r#"id="nav-users""#)
    );

    // Nothing changed: no user added, roles, mapping, state, password and token as before.
    assert!(
        store::account(&app.store, "mallory")
            .await
            .unwrap()
            .is_none()
    );
    let vic_now = account(&app, "vic").await;
    assert_eq!(
        (vic_now.user.role, vic_now.user.person_id),
        (Role::Viewer, None)
    );
    assert_eq!(account(&app, "root").await.disabled_at, None);
    assert_eq!(dashboard_status(&app, &root.cookie).await, StatusCode::OK);
    assert_eq!(store::list_tokens(&app.store).await.unwrap().len(), 1);
    let digest = accounts::digest(&token);
    let live = store::token_by_hash(&app.store, &digest, app.clock.now()).await;
    assert!(live.unwrap().is_some());
}

#[tokio::test]
async fn an_admin_adds_maps_promotes_resets_and_revokes_through_the_page() {
    let app = spawn_app().await;
    let root_pw = add_user(&app, "root", Role::Admin, None).await;
    let root = sign_in(&app, "root", &root_pw).await;

    // Add: the generated password is shown once and signs in.
    let fields = [("login", "zoe"), ("role", "viewer"), ("person", "ben")];
    let added = post_form(
        &app,
        "/ui/admin/users",
        Some(&root.cookie),
        &with(&fields, &root.csrf),
        &[],
    )
    .await;
    assert_eq!(added.status(), StatusCode::OK);
    let page = added.text().await.unwrap();
    let password = shown_password(&page);
    assert_eq!(password.len(), 24);
    let zoe = sign_in(&app, "zoe", &password).await;
    assert!(
        !get_page(&app, "/ui/admin/users", &root)
            .await
            .contains(&password)
    );
    let stored = account(&app, "zoe").await;
    assert_eq!(stored.user.person_id.as_deref(), Some("ben"));
    assert_eq!(stored.last_login_at, Some(app.clock.now()));

    // Map to chen, then to nobody; promote to responder.
    for (person, expected) in [("chen", Some("chen")), ("", None)] {
        let form = with(&[("person", person)], &root.csrf);
        let path = "/ui/admin/users/zoe/person";
        let response = post_form(&app, path, Some(&root.cookie), &form, &[]).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        assert_eq!(response.headers()["location"], "/ui/admin/users");
        assert_eq!(
            account(&app, "zoe").await.user.person_id.as_deref(),
            expected
        );
    }
    let unknown = with(&[("person", "nobody")], &root.csrf);
    let response = post_form(
        &app,
        "/ui/admin/users/zoe/person",
        Some(&root.cookie),
        &unknown,
        &[],
    )
    .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let form = with(&[("role", "responder")], &root.csrf);
    let response = post_form(
        &app,
        "/ui/admin/users/zoe/role",
        Some(&root.cookie),
        &form,
        &[],
    )
    .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(account(&app, "zoe").await.user.role, Role::Responder);
    let taken = post_form(
        &app,
        "/ui/admin/users",
        Some(&root.cookie),
        &with(&fields, &root.csrf),
        &[],
    )
    .await;
    assert_eq!(taken.status(), StatusCode::CONFLICT);

    // Reset: the old password and session end, the new password works.
    let path = "/ui/admin/users/zoe/password";
    let reset = post_form(&app, path, Some(&root.cookie), &with(&[], &root.csrf), &[]).await;
    assert_eq!(reset.status(), StatusCode::OK);
    let new_password = shown_password(&reset.text().await.unwrap());
    assert_ne!(new_password, password);
    assert_eq!(
        dashboard_status(&app, &zoe.cookie).await,
        StatusCode::SEE_OTHER
    );
    sign_in(&app, "zoe", &new_password).await;

    // Tokens are listed by name and revoked by id.
    let token = token_for(&app, "root", "deploy").await;
    assert_eq!(admin_api(&app, &token).await, StatusCode::OK);
    let listed = get_page(&app, "/ui/admin/users", &root).await;
    let id = store::list_tokens(&app.store).await.unwrap()[0].id;
    assert!(
        listed.contains(&format!(r#"id="token-{id}">deploy"#)),
        "{listed}"
    );
    let path = format!("/ui/admin/tokens/{id}/revoke");
    let revoked = post_form(&app, &path, Some(&root.cookie), &with(&[], &root.csrf), &[]).await;
    assert_eq!(revoked.status(), StatusCode::SEE_OTHER);
    assert_eq!(admin_api(&app, &token).await, StatusCode::UNAUTHORIZED);
    let again = post_form(&app, &path, Some(&root.cookie), &with(&[], &root.csrf), &[]).await;
    assert_eq!(again.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_disabled_users_session_and_token_stop_at_once_and_enabling_restores_the_token() {
    let app = spawn_app().await;
    let root_pw = add_user(&app, "root", Role::Admin, None).await;
    let ops_pw = add_user(&app, "ops", Role::Admin, Some("ana")).await;
    let root = sign_in(&app, "root", &root_pw).await;
    let ops = sign_in(&app, "ops", &ops_pw).await;
    let token = token_for(&app, "ops", "ci").await;
    assert_eq!(admin_api(&app, &token).await, StatusCode::OK);

    let path = "/ui/admin/users/ops/disable";
    let response = post_form(&app, path, Some(&root.cookie), &with(&[], &root.csrf), &[]).await;

    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        dashboard_status(&app, &ops.cookie).await,
        StatusCode::SEE_OTHER
    );
    assert_eq!(admin_api(&app, &token).await, StatusCode::UNAUTHORIZED);
    let form = with(&[("role", "viewer")], &ops.csrf);
    let own = post_form(
        &app,
        "/ui/admin/users/root/role",
        Some(&ops.cookie),
        &form,
        &[],
    )
    .await;
    assert_eq!(own.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(account(&app, "root").await.user.role, Role::Admin);
    let page = get_page(&app, "/ui/admin/users", &root).await;
    assert!(page.contains(r#"id="enable-ops""#));
    assert_eq!(
        try_login(&app, "ops", &ops_pw).await,
        StatusCode::UNAUTHORIZED
    );

    let path = "/ui/admin/users/ops/enable";
    let response = post_form(&app, path, Some(&root.cookie), &with(&[], &root.csrf), &[]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(admin_api(&app, &token).await, StatusCode::OK);
    assert_eq!(
        dashboard_status(&app, &ops.cookie).await,
        StatusCode::SEE_OTHER
    );
    sign_in(&app, "ops", &ops_pw).await;
}

#[tokio::test]
async fn the_last_active_admin_cannot_disable_or_demote_themselves() {
    let app = spawn_app().await;
    let root_pw = add_user(&app, "root", Role::Admin, None).await;
    let root = sign_in(&app, "root", &root_pw).await;

    let demote = with(&[("role", "responder")], &root.csrf);
    let demoted = post_form(
        &app,
        "/ui/admin/users/root/role",
        Some(&root.cookie),
        &demote,
        &[],
    )
    .await;
    let path = "/ui/admin/users/root/disable";
    let disabled = post_form(&app, path, Some(&root.cookie), &with(&[], &root.csrf), &[]).await;

    assert_eq!(demoted.status(), StatusCode::CONFLICT);
    let body = demoted.text().await.unwrap();
    assert!(
        body.contains("root is the last active admin and cannot be demoted"),
        "{body}"
    );
    assert_eq!(disabled.status(), StatusCode::CONFLICT);
    assert_eq!(account(&app, "root").await.user.role, Role::Admin);
    assert_eq!(dashboard_status(&app, &root.cookie).await, StatusCode::OK);

    // With a second admin, root may step down.
    add_user(&app, "ops", Role::Admin, None).await;
    let demoted = post_form(
        &app,
        "/ui/admin/users/root/role",
        Some(&root.cookie),
        &demote,
        &[],
    )
    .await;
    assert_eq!(demoted.status(), StatusCode::SEE_OTHER);
    assert_eq!(account(&app, "root").await.user.role, Role::Responder);
}

/// The API token a page shows once, after a create.
fn shown_token(page: &str) -> String {
    let marker = r#"<code id="new-token">"#;
    let start = page.find(marker).expect("the page shows a token") + marker.len();
    page[start..].split('<').next().unwrap().to_string()
}

#[tokio::test]
async fn an_admin_creates_a_token_shown_once_with_a_role_up_to_the_users() {
    let app = spawn_app().await;
    let root_pw = add_user(&app, "root", Role::Admin, None).await;
    add_user(&app, "ana", Role::Responder, Some("ana")).await;
    let root = sign_in(&app, "root", &root_pw).await;
    let page = get_page(&app, "/ui/admin/users", &root).await;
    assert!(page.contains(r#"id="create-token-ana""#), "{page}");

    let fields = with(&[("name", "deploy"), ("role", "admin")], &root.csrf);
    let created = post_form(
        &app,
        "/ui/admin/users/root/tokens",
        Some(&root.cookie),
        &fields,
        &[],
    )
    .await;

    assert_eq!(created.status(), StatusCode::OK);
    let page = created.text().await.unwrap();
    let token = shown_token(&page);
    assert!(accounts::is_api_token(&token), "{token}");
    assert!(
        page.contains(r#"<strong id="created-token">deploy</strong>"#),
        "{page}"
    );
    assert_eq!(admin_api(&app, &token).await, StatusCode::OK);
    let tokens = store::list_tokens(&app.store).await.unwrap();
    assert_eq!(tokens.len(), 1);
    assert_eq!(
        (tokens[0].login.as_str(), tokens[0].role),
        ("root", Role::Admin)
    );
    // Shown once: the list shows its name, never the token again.
    let listed = get_page(&app, "/ui/admin/users", &root).await;
    assert!(!listed.contains(&token));
    assert!(listed.contains("deploy"));

    // A responder's token is at most a responder's: no admin API, and no admin role.
    let fields = with(&[("name", "ci"), ("role", "responder")], &root.csrf);
    let created = post_form(
        &app,
        "/ui/admin/users/ana/tokens",
        Some(&root.cookie),
        &fields,
        &[],
    )
    .await;
    assert_eq!(created.status(), StatusCode::OK);
    let ana_token = shown_token(&created.text().await.unwrap());
    assert_eq!(admin_api(&app, &ana_token).await, StatusCode::UNAUTHORIZED);
    let above = with(&[("name", "root-ish"), ("role", "admin")], &root.csrf);
    let refused = post_form(
        &app,
        "/ui/admin/users/ana/tokens",
        Some(&root.cookie),
        &above,
        &[],
    )
    .await;
    assert_eq!(refused.status(), StatusCode::CONFLICT);
    let again = post_form(
        &app,
        "/ui/admin/users/ana/tokens",
        Some(&root.cookie),
        &fields,
        &[],
    )
    .await;
    assert_eq!(again.status(), StatusCode::CONFLICT, "a name used twice");
    let nobody = post_form(
        &app,
        "/ui/admin/users/nobody/tokens",
        Some(&root.cookie),
        &fields,
        &[],
    )
    .await;
    assert_eq!(nobody.status(), StatusCode::NOT_FOUND);
    let unnamed = with(&[("name", " "), ("role", "viewer")], &root.csrf);
    let unnamed = post_form(
        &app,
        "/ui/admin/users/ana/tokens",
        Some(&root.cookie),
        &unnamed,
        &[],
    )
    .await;
    assert_eq!(unnamed.status(), StatusCode::BAD_REQUEST);
    assert_eq!(store::list_tokens(&app.store).await.unwrap().len(), 2);

    // A name carrying markup renders inert, on the answer and the list.
    let probe = "<script>alert(1)</script>";
    let fields = with(&[("name", probe), ("role", "viewer")], &root.csrf);
    let created = post_form(
        &app,
        "/ui/admin/users/ana/tokens",
        Some(&root.cookie),
        &fields,
        &[],
    )
    .await;
    assert_eq!(created.status(), StatusCode::OK);
    let answer = created.text().await.unwrap();
    let listed = get_page(&app, "/ui/admin/users", &root).await;
    for body in [&answer, &listed] {
        assert!(!body.contains("<script>alert"), "{body}");
        assert!(
            body.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{body}"
        );
    }
}

#[tokio::test]
async fn logins_and_person_fields_render_inert() {
    let probe = "<script>alert(1)</script>";
    let setup = Setup {
        team: format!("[[person]]\nid = \"eve\"\nname = \"{probe}\"\nlogin = \"eve\"\n"),
        ..Setup::default()
    };
    let app = spawn_app_with(setup).await;
    let root_pw = add_user(&app, "root", Role::Admin, None).await;
    let root = sign_in(&app, "root", &root_pw).await;
    // A person id no longer in team.toml, as after an edit, carrying markup.
    add_user(
        &app,
        "gone",
        Role::Viewer,
        Some("<img src=x onerror=alert(2)>"),
    )
    .await;

    let bad_login = with(&[("login", probe), ("role", "viewer")], &root.csrf);
    let login = post_form(&app, "/ui/admin/users", Some(&root.cookie), &bad_login, &[]).await;
    let bad_person = with(&[("person", probe)], &root.csrf);
    let person = post_form(
        &app,
        "/ui/admin/users/gone/person",
        Some(&root.cookie),
        &bad_person,
        &[],
    )
    .await;
    let page = get_page(&app, "/ui/admin/users", &root).await;

    assert_eq!(login.status(), StatusCode::BAD_REQUEST);
    assert_eq!(person.status(), StatusCode::BAD_REQUEST);
    for body in [
        login.text().await.unwrap(),
        person.text().await.unwrap(),
        page.clone(),
    ] {
        assert!(!body.contains("<script>alert"), "{body}");
        assert!(!body.contains("<img src=x"), "{body}");
    }
    assert!(
        page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{page}"
    );
    assert!(
        page.contains("&lt;img src=x onerror=alert(2)&gt; (not in team.toml)"),
        "{page}"
    );
    assert!(page.contains(r#"id="missing-eve""#), "{page}");
    assert!(store::account(&app.store, probe).await.unwrap().is_none());
}

#[tokio::test]
async fn people_logins_map_unmapped_accounts_at_start_and_never_change_roles() {
    let app = spawn_app().await;
    add_user(&app, "benito", Role::Viewer, None).await;
    add_user(&app, "anita", Role::Responder, Some("chen")).await;
    let root_pw = add_user(&app, "root", Role::Admin, None).await;

    let clock = app.clock.clone();
    let app = app
        .restart(clock, |dir| {
            let path = dir.join("team.toml");
            let text = std::fs::read_to_string(&path).unwrap();
            let text = text
                .replacen("id = \"ben\"\n", "id = \"ben\"\nlogin = \"benito\"\n", 1)
                .replacen("id = \"ana\"\n", "id = \"ana\"\nlogin = \"anita\"\n", 1)
                .replacen("id = \"dara\"\n", "id = \"dara\"\nlogin = \"dara\"\n", 1);
            std::fs::write(path, text).unwrap();
        })
        .await;

    let benito = account(&app, "benito").await.user;
    assert_eq!(
        (benito.person_id.as_deref(), benito.role),
        (Some("ben"), Role::Viewer)
    );
    let anita = account(&app, "anita").await.user;
    assert_eq!(
        (anita.person_id.as_deref(), anita.role),
        (Some("chen"), Role::Responder)
    );
    assert!(store::account(&app.store, "dara").await.unwrap().is_none());
    let root = sign_in(&app, "root", &root_pw).await;
    let page = get_page(&app, "/ui/admin/users", &root).await;
    let missing = page.split(r#"<li id="missing-dara">"#).nth(1).unwrap();
    assert!(missing.starts_with("dara name (dara): login\n<strong>dara</strong>, no account yet"));
    assert!(!page.contains(r#"id="missing-ben""#));
}

fn load_errors(edit: impl FnOnce(&std::path::Path)) -> String {
    let dir = tempfile::tempdir().unwrap();
    let addr: std::net::SocketAddr = "127.0.0.1:1".parse().unwrap();
    write_config(dir.path(), addr, addr, None);
    edit(dir.path());
    let loaded = config::load_with(
        dir.path(),
        &Overrides::default(),
        &test_env(),
        &mut Secrets::default(),
    );
    match loaded {
        Ok(_) => panic!("the config was accepted"),
        Err(errors) => errors.to_string(),
    }
}

#[test]
fn a_persons_login_must_be_a_login_and_unique() {
    let message = load_errors(|dir| {
        let path = dir.join("team.toml");
        let text = std::fs::read_to_string(&path).unwrap();
        let text = text
            .replacen("id = \"ana\"\n", "id = \"ana\"\nlogin = \"Ana Ruiz\"\n", 1)
            .replacen("id = \"ben\"\n", "id = \"ben\"\nlogin = \"bo\"\n", 1)
            .replacen("id = \"chen\"\n", "id = \"chen\"\nlogin = \"bo\"\n", 1);
        std::fs::write(path, text).unwrap();
    });

    assert!(
        message.contains("team.toml: `person[0].login`: \"Ana Ruiz\" is not a login"),
        "{message}"
    );
    assert!(
        message.contains("team.toml: `person[2].login`: login \"bo\" is already ben's"),
        "{message}"
    );
}

/// Runs the `dutybell` binary on the app's config and database.
async fn cli(app: &TestApp, args: &[&str]) -> (bool, String, String) {
    let dir = app.config_dir().to_path_buf();
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    let output = tokio::task::spawn_blocking(move || {
        let clock = dir.join("clock");
        std::fs::write(&clock, t0().to_string()).unwrap();
        Command::new(env!("CARGO_BIN_EXE_dutybell"))
            .arg("--config")
            .arg(&dir)
            .arg("--data-dir")
            .arg(dir.join("data"))
            .args(&args)
            .envs(test_env())
            .env("DUTYBELL_CLOCK_FILE", &clock)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    (
        output.status.success(),
        String::from_utf8(output.stdout).unwrap(),
        String::from_utf8(output.stderr).unwrap(),
    )
}

#[tokio::test]
async fn cli_disables_enables_resets_changes_roles_and_maps_with_clear_errors() {
    let app = spawn_app().await;
    add_user(&app, "root", Role::Admin, None).await;
    let zoe_pw = add_user(&app, "zoe", Role::Admin, None).await;
    let zoe = sign_in(&app, "zoe", &zoe_pw).await;
    let token = token_for(&app, "zoe", "ci").await;

    let (ok, out, _) = cli(&app, &["user", "disable", "zoe"]).await;
    assert!(ok, "{out}");
    assert_eq!(
        dashboard_status(&app, &zoe.cookie).await,
        StatusCode::SEE_OTHER
    );
    assert_eq!(admin_api(&app, &token).await, StatusCode::UNAUTHORIZED);
    let (_, listed, _) = cli(&app, &["user", "list"]).await;
    let row = listed.lines().find(|l| l.starts_with("zoe ")).unwrap();
    assert!(row.contains("disabled"), "{listed}");
    let (ok, _, _) = cli(&app, &["user", "enable", "zoe"]).await;
    assert!(ok);
    assert_eq!(admin_api(&app, &token).await, StatusCode::OK);

    let (ok, out, _) = cli(&app, &["user", "passwd", "zoe"]).await;
    assert!(ok);
    let password = out
        .lines()
        .find_map(|l| l.strip_prefix("Password (shown once): "))
        .unwrap();
    sign_in(&app, "zoe", password).await;

    let (ok, _, _) = cli(&app, &["user", "role", "zoe", "viewer"]).await;
    assert!(ok);
    assert_eq!(account(&app, "zoe").await.user.role, Role::Viewer);
    assert_eq!(admin_api(&app, &token).await, StatusCode::UNAUTHORIZED);

    let (ok, _, _) = cli(&app, &["user", "map", "zoe", "ben"]).await;
    assert!(ok);
    assert_eq!(
        account(&app, "zoe").await.user.person_id.as_deref(),
        Some("ben")
    );
    let (ok, _, _) = cli(&app, &["user", "map", "zoe", "--clear"]).await;
    assert!(ok);
    assert_eq!(account(&app, "zoe").await.user.person_id, None);

    // Clear errors: an unknown login, an unknown person (listing the known ones), the last
    // admin, a map with neither person nor --clear.
    let (ok, _, err) = cli(&app, &["user", "disable", "nobody"]).await;
    assert!(!ok);
    assert!(err.contains("no user \"nobody\""), "{err}");
    let (ok, _, err) = cli(&app, &["user", "map", "zoe", "bne"]).await;
    assert!(!ok);
    assert!(
        err.contains("no person \"bne\" in team.toml; known ids: ana, ben, chen, dara, lead"),
        "{err}"
    );
    let (ok, _, err) = cli(&app, &["user", "role", "root", "viewer"]).await;
    assert!(!ok);
    assert!(err.contains("root is the last active admin"), "{err}");
    let (ok, _, _) = cli(&app, &["user", "map", "zoe"]).await;
    assert!(!ok);
}

#[tokio::test]
async fn browser_admin_adds_a_user_maps_them_and_they_see_their_shifts() {
    let app = spawn_app().await;
    let root_pw = add_user(&app, "root", Role::Admin, None).await;
    let browser = Browser::start().await;
    browser.goto(&app.url("/login")).await;
    browser.find("#login").await.send_keys("root").await;
    browser.find("#password").await.send_keys(&root_pw).await;
    browser.find("#submit").await.submit().await;
    browser.wait_for_url(&app.url("/ui")).await;

    // From the nav: add zoe, unmapped, and read her password once.
    browser.find("#nav-users").await.submit().await;
    browser.wait_for_url(&app.url("/ui/admin/users")).await;
    browser.find("#new-login").await.send_keys("zoe").await;
    browser.find("#add").await.submit().await;
    let password = browser.find("#new-password").await.text().await;
    assert_eq!(password.len(), 24);
    assert_eq!(
        browser.find("#user-zoe .state").await.text().await,
        "active"
    );

    // Map her to ben, who has the primary week at t0.
    browser
        .find("#person-select-zoe option[value=ben]")
        .await
        .click()
        .await;
    browser.find("#map-zoe").await.submit().await;
    browser.wait_for_url(&app.url("/ui/admin/users")).await;
    let selected = browser.find("#person-select-zoe option[selected]").await;
    assert_eq!(selected.attribute("value").await.as_deref(), Some("ben"));

    // Zoe signs in and sees ben's shifts as hers.
    browser.find("#logout").await.submit().await;
    browser.goto(&app.url("/login")).await;
    browser.find("#login").await.send_keys("zoe").await;
    browser.find("#password").await.send_keys(&password).await;
    browser.find("#submit").await.submit().await;
    browser.wait_for_url(&app.url("/ui")).await;
    assert_eq!(browser.find("#me").await.text().await, "zoe (responder)");
    let mine = browser.find("#my-shifts").await.text().await;
    assert!(
        mine.contains("business Thu 12 Jun 09:00 CEST Thu 12 Jun 18:00 CEST"),
        "{mine}"
    );
    assert!(!browser.source().await.contains("nav-users"));
    browser.quit().await;
}

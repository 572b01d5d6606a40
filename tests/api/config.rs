//! A bad config directory stops the start with every problem, each naming file and key.

use std::net::SocketAddr;

use dutybell::config::secrets::Secrets;
use dutybell::config::{self, Overrides};

use crate::helpers::{test_env, write_config};

fn load_errors(edit: impl FnOnce(&std::path::Path)) -> String {
    let dir = tempfile::tempdir().unwrap();
    let addr: SocketAddr = "127.0.0.1:1".parse().unwrap();
    write_config(dir.path(), addr, addr, None);
    edit(dir.path());
    let result = config::load_with(
        dir.path(),
        &Overrides::default(),
        &test_env(),
        &mut Secrets::default(),
    );
    match result {
        Ok(_) => panic!("the broken config was accepted"),
        Err(errors) => errors.to_string(),
    }
}

fn replace(dir: &std::path::Path, file: &str, from: &str, to: &str) {
    let path = dir.join(file);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains(from), "{file} has no {from:?}");
    std::fs::write(path, text.replacen(from, to, 1)).unwrap();
}

#[test]
fn every_problem_is_reported_with_its_file_and_key() {
    let message = load_errors(|dir| {
        replace(dir, "oncall.toml", "Europe/Madrid", "Europe/Madird");
        replace(dir, "oncall.toml", "\"dara\"]", "\"daria\"]");
        replace(dir, "oncall.toml", "after = \"15m\"", "after = \"15\"");
        replace(
            dir,
            "services.toml",
            "escalation = \"default\"",
            "escalation = \"defualt\"",
        );
    });

    let expected = [
        "oncall.toml: `rotation[0].time_zone`: \"Europe/Madird\" is not an IANA time zone",
        "oncall.toml: `rotation[0].people[3]`: no person \"daria\" in team.toml",
        "oncall.toml: `escalation[0].steps[0].after`: \"15\" needs a unit",
        "services.toml: `service[0].escalation`: no escalation policy \"defualt\"",
    ];
    for line in expected {
        assert!(message.contains(line), "missing {line:?} in:\n{message}");
    }
    assert!(message.contains("4 problem(s)"), "{message}");
}

#[test]
fn a_toml_syntax_error_names_the_file_and_line() {
    let message = load_errors(|dir| {
        std::fs::write(dir.join("team.toml"), "[[person]]\nid = \"ana\"\nname = \n").unwrap();
    });

    assert!(message.contains("team.toml: cannot parse"), "{message}");
    assert!(message.contains("line 3"), "{message}");
}

#[test]
fn a_missing_secret_is_named_by_its_variable() {
    let dir = tempfile::tempdir().unwrap();
    let addr: SocketAddr = "127.0.0.1:1".parse().unwrap();
    write_config(dir.path(), addr, addr, None);
    let mut env = test_env();
    env.remove("HOOK_SECRET");

    let errors = config::load_with(
        dir.path(),
        &Overrides::default(),
        &env,
        &mut Secrets::default(),
    )
    .unwrap_err()
    .to_string();

    assert!(
        errors.contains("team.toml: `person[0].contact[0].secret_env`"),
        "{errors}"
    );
    assert!(errors.contains("HOOK_SECRET is not set"), "{errors}");
}

#[test]
fn duplicate_ids_bad_smtp_settings_and_short_secrets_are_refused() {
    let message = load_errors(|dir| {
        let oncall = std::fs::read_to_string(dir.join("oncall.toml")).unwrap();
        let extra =
            "\n[[escalation]]\nid = \"default\"\nsteps = [{ targets = [\"person:lead\"] }]\n";
        std::fs::write(dir.join("oncall.toml"), oncall + extra).unwrap();
        replace(dir, "dutybell.toml", "url = \"smtp://", "url = \"smtpx://");
        replace(
            dir,
            "dutybell.toml",
            "from = \"dutybell <dutybell@example.com>\"",
            "from = \"nope\"",
        );
    });

    assert!(
        message.contains("duplicate escalation id \"default\""),
        "{message}"
    );
    assert!(message.contains("`smtp.url`"), "{message}");
    assert!(message.contains("`smtp.from`"), "{message}");

    let dir = tempfile::tempdir().unwrap();
    let addr: SocketAddr = "127.0.0.1:1".parse().unwrap();
    write_config(dir.path(), addr, addr, None);
    let mut env = test_env();
    env.insert("DUTYBELL_API_TOKEN".into(), String::new());
    let errors = config::load_with(
        dir.path(),
        &Overrides::default(),
        &env,
        &mut Secrets::default(),
    )
    .unwrap_err()
    .to_string();
    assert!(
        errors.contains("DUTYBELL_API_TOKEN`: must have at least 16 characters"),
        "{errors}"
    );
}

#[test]
fn a_parse_error_is_reported_alone_without_cascading_reference_errors() {
    let message = load_errors(|dir| replace(dir, "team.toml", "time_zone", "timezone"));

    assert!(message.contains("1 problem(s)"), "{message}");
    assert!(message.contains("team.toml: cannot parse"), "{message}");
}

/// On Postgres several instances share one database, so each must use the same secrets:
/// none is generated, and every missing one is named; with them all set it loads, and the
/// same environment on SQLite generates nothing it does not need.
#[test]
fn on_postgres_secrets_come_from_the_environment_and_none_is_generated() {
    let dir = tempfile::tempdir().unwrap();
    let addr: SocketAddr = "127.0.0.1:1".parse().unwrap();
    write_config(dir.path(), addr, addr, None);
    let postgres = Overrides {
        database_url: Some("postgres://dutybell@127.0.0.1:1/dutybell".into()),
        ..Overrides::default()
    };
    let mut env = test_env();
    env.remove("DUTYBELL_SIGNING_SECRET");
    env.remove("DUTYBELL_API_TOKEN");
    env.remove("KEY_GENERIC");

    let mut secrets = Secrets::default();
    let errors = config::load_with(dir.path(), &postgres, &env, &mut secrets)
        .unwrap_err()
        .to_string();
    for missing in [
        "environment: `DUTYBELL_SIGNING_SECRET`: is not set: on a Postgres database",
        "environment: `DUTYBELL_API_TOKEN`: is not set",
        "services.toml: `integration checkout/generic: KEY_GENERIC`: is not set",
    ] {
        assert!(errors.contains(missing), "{missing:?} not in {errors}");
    }
    assert!(secrets.signing_secret.is_none() && secrets.integration_keys.is_empty());

    // SQLite: one instance, so the same environment generates what is missing.
    let mut secrets = Secrets::default();
    config::load_with(dir.path(), &Overrides::default(), &env, &mut secrets).unwrap();
    assert!(secrets.signing_secret.is_some());
    assert_eq!(
        secrets.integration_keys.len(),
        1,
        "the generic integration's key"
    );
    // Postgres with every secret set loads.
    config::load_with(dir.path(), &postgres, &test_env(), &mut Secrets::default()).unwrap();
}

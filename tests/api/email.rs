//! Inbound email intake: a real SMTP client (lettre) hands mail to dutybell's listener.

use lettre::message::Mailbox;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::helpers::{Setup, TestApp, spawn_app_with};

async fn app() -> TestApp {
    let instance = "[intake.smtp]\nlisten = \"127.0.0.1:0\"\n".to_string();
    spawn_app_with(Setup {
        instance,
        ..Setup::default()
    })
    .await
}

fn transport(app: &TestApp) -> AsyncSmtpTransport<Tokio1Executor> {
    let addr = app.smtp_intake.expect("the SMTP listener runs");
    AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(addr.ip().to_string())
        .port(addr.port())
        .build()
}

fn mail(to: &str, subject: &str, body: &str) -> Message {
    let from: Mailbox = "Backup cron <cron@db-1.example>".parse().unwrap();
    Message::builder()
        .from(from)
        .to(to.parse().unwrap())
        .subject(subject)
        .body(body.to_string())
        .unwrap()
}

#[tokio::test]
async fn a_mail_opens_an_alert_deduplicates_on_its_subject_and_resolves_by_prefix() {
    let app = app().await;
    let smtp = transport(&app);

    smtp.send(mail(
        "alerts@dutybell.test",
        "Backup of db-1 failed",
        "exit 3",
    ))
    .await
    .unwrap();
    app.run_engine_once().await;
    let reply = mail(
        "ALERTS@dutybell.test",
        "Re: Fwd:  Backup of  db-1 failed",
        "again",
    );
    smtp.send(reply).await.unwrap();
    app.run_engine_once().await;

    let open = app.open_alerts().await;
    assert_eq!(open.len(), 1, "one alert per normalised subject");
    assert_eq!(open[0]["summary"], "Backup of db-1 failed");
    assert_eq!(open[0]["details"], "again");
    assert_eq!(
        open[0]["source"], "\"Backup cron\" <cron@db-1.example>",
        "the From header"
    );
    assert_eq!(open[0]["trigger_count"], 2);
    assert_eq!(app.hooks.recipients(), ["ben"]);

    let resolve = mail(
        "alerts@dutybell.test",
        "RESOLVED: Backup of db-1 failed",
        "ok now",
    );
    smtp.send(resolve).await.unwrap();
    assert!(app.open_alerts().await.is_empty());
}

#[tokio::test]
async fn unknown_addresses_and_storage_trouble_get_the_right_smtp_replies() {
    let app = app().await;
    let smtp = transport(&app);

    let unknown = smtp
        .send(mail("nobody@dutybell.test", "x", "y"))
        .await
        .unwrap_err();
    assert!(unknown.is_permanent(), "{unknown}");
    assert!(unknown.to_string().contains("5.1.1"), "{unknown}");

    app.store.set_fail_writes(true);
    let failed = smtp
        .send(mail("alerts@dutybell.test", "Disk full", ""))
        .await
        .unwrap_err();
    assert!(failed.is_transient(), "451 so the relay retries: {failed}");
    app.store.set_fail_writes(false);
    smtp.send(mail("alerts@dutybell.test", "Disk full", ""))
        .await
        .unwrap();
    assert_eq!(app.open_alerts().await.len(), 1);
}

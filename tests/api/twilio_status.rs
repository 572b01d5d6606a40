//! Twilio status callbacks (issue #4, comms spec §3.7): Twilio taking an SMS or a call only
//! means it queued it. When it later reports the SMS `undelivered` or the call `busy`, the
//! page becomes a failed attempt on the alert's timeline and the person's next rule runs at
//! once, exactly as when the channel refuses at send time.

use dutybell::domain::slack::form;

use crate::helpers::spawn_app_with;
use crate::helpers::{HttpFake, STORM_KEY, Setup, TWILIO_AUTH_TOKEN, TestApp, am_body};
use crate::voice_ack::sign;

const ACCOUNT_SID: &str = "AC0123456789abcdef0123456789abcdef";

struct Sent {
    app: TestApp,
    fake: HttpFake,
    alert: i64,
    /// The `StatusCallback` the page named.
    callback: String,
}

/// Gus is paged by `kind` (sms or voice) at once, and by e-mail only after 10 minutes.
async fn page_gus(kind: &str) -> Sent {
    let fake = HttpFake::start().await;
    let app = spawn_app_with(Setup {
        team: format!(
            "[[person]]\nid = \"gus\"\nemail = \"gus@example.com\"\n\
             contact = [{{ kind = \"{kind}\", to = \"+15550142\" }}]\n\
             notify = [{{ after = \"0m\", via = \"{kind}\" }}, \
             {{ after = \"10m\", via = \"email\" }}]\n"
        ),
        oncall: "[[escalation]]\nid = \"gus\"\nsteps = [{ targets = [\"person:gus\"] }]\n".into(),
        services: "[[service]]\nid = \"gus\"\nescalation = \"gus\"\n\
                   integrations = [{ kind = \"alertmanager\", key_env = \"KEY_STORM\" }]\n"
            .into(),
        instance: format!(
            "[twilio]\naccount_sid = \"{ACCOUNT_SID}\"\nauth_token_env = \"TWILIO_AUTH_TOKEN\"\n\
             from = \"+15550199\"\napi_base = \"http://{}\"\n",
            fake.addr
        ),
        ..Setup::default()
    })
    .await;
    let body = am_body("DiskFull", &[("firing", &app.clock.now().to_string())]);
    let url = app.url(&format!("/api/v1/integrations/{STORM_KEY}/alertmanager"));
    let response = app.client.post(url).body(body).send().await.unwrap();
    assert_eq!(response.status(), 202);
    let alert = response.json::<serde_json::Value>().await.unwrap()["alert_id"]
        .as_i64()
        .unwrap();
    app.run_engine_once().await;
    let requests = fake.requests();
    assert_eq!(requests.len(), 1, "one page to Twilio");
    let params = form::parse(requests[0].body.as_bytes());
    let callback = form::field(&params, "StatusCallback").unwrap().to_string();
    Sent {
        app,
        fake,
        alert,
        callback,
    }
}

impl Sent {
    /// POSTs a status callback with `params`, signed with `auth_token`.
    async fn report(&self, params: &[(&str, &str)], auth_token: &str) -> u16 {
        self.app
            .client
            .post(&self.callback)
            .header(
                "x-twilio-signature",
                sign(auth_token, &self.callback, params),
            )
            .form(params)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }

    async fn failures(&self) -> Vec<serde_json::Value> {
        self.app.alert(self.alert).await["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["kind"] == "notification_failed")
            .cloned()
            .collect()
    }
}

fn sms_status(status: &str) -> Vec<(&'static str, String)> {
    vec![
        ("AccountSid", ACCOUNT_SID.to_string()),
        (
            "MessageSid",
            "SM0123456789abcdef0123456789abcdef".to_string(),
        ),
        ("MessageStatus", status.to_string()),
        ("To", "+15550142".to_string()),
    ]
}

fn pairs<'a>(params: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    params.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

#[tokio::test]
async fn an_undelivered_sms_is_a_failed_attempt_and_email_goes_out_at_once() {
    let s = page_gus("sms").await;
    let message = s.app.alert(s.alert).await["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "notification_sent")
        .unwrap()["detail"]["message_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        s.callback,
        format!("http://{}/twilio/status/{message}", s.app.addr)
    );

    // Progress reports change nothing.
    for status in ["queued", "sent", "delivered"] {
        assert_eq!(
            s.report(&pairs(&sms_status(status)), TWILIO_AUTH_TOKEN)
                .await,
            204
        );
    }
    assert!(s.failures().await.is_empty());

    let mut undelivered = sms_status("undelivered");
    undelivered.push(("ErrorCode", "30005".to_string()));
    // A forged report is refused and records nothing.
    assert_eq!(s.report(&pairs(&undelivered), "not-the-token").await, 403);
    assert!(s.failures().await.is_empty());

    assert_eq!(s.report(&pairs(&undelivered), TWILIO_AUTH_TOKEN).await, 204);
    let failures = s.failures().await;
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert_eq!(failures[0]["detail"]["channel"], "sms");
    assert_eq!(
        failures[0]["detail"]["error"],
        "Twilio reported undelivered (error 30005)"
    );
    assert_eq!(failures[0]["detail"]["message_id"], message.as_str());

    // Twilio may say it again: still one failure.
    assert_eq!(s.report(&pairs(&undelivered), TWILIO_AUTH_TOKEN).await, 204);
    assert_eq!(s.failures().await.len(), 1);

    // The e-mail rule, due in 10 minutes, now goes out on the next pass at the same instant.
    s.app.run_engine_once().await;
    assert_eq!(s.app.smtp.recipients(), ["gus@example.com"]);
    let kinds = s.app.timeline_kinds(s.alert).await;
    let at = |kind: &str| kinds.iter().rposition(|k| k == kind).unwrap_or(usize::MAX);
    assert!(
        at("notification_failed") < at("notification_fell_through")
            && at("notification_fell_through") < at("notification_sent"),
        "{kinds:?}"
    );
    assert_eq!(s.fake.requests().len(), 1, "the SMS is not sent again");
}

#[tokio::test]
async fn a_busy_call_is_a_failed_attempt_but_an_answered_one_is_not() {
    let s = page_gus("voice").await;
    let call = |status: &'static str| {
        [
            ("AccountSid", ACCOUNT_SID),
            ("CallSid", "CA0123456789abcdef0123456789abcdef"),
            ("CallStatus", status),
        ]
    };
    assert_eq!(s.report(&call("ringing"), TWILIO_AUTH_TOKEN).await, 204);
    assert_eq!(s.report(&call("completed"), TWILIO_AUTH_TOKEN).await, 204);
    assert!(s.failures().await.is_empty());

    assert_eq!(s.report(&call("busy"), TWILIO_AUTH_TOKEN).await, 204);
    let failures = s.failures().await;
    assert_eq!(failures.len(), 1);
    assert_eq!(failures[0]["detail"]["error"], "Twilio reported busy");
    assert_eq!(failures[0]["detail"]["channel"], "voice");
}

#[tokio::test]
async fn a_report_after_the_ack_records_the_failure_but_pages_no_one() {
    let s = page_gus("sms").await;
    let ack = s
        .app
        .client
        .post(s.app.url(&format!("/api/v1/alerts/{}/ack", s.alert)))
        .bearer_auth(crate::helpers::API_TOKEN)
        .json(&serde_json::json!({"by": "gus"}))
        .send()
        .await
        .unwrap();
    assert_eq!(ack.status(), 200);

    assert_eq!(
        s.report(&pairs(&sms_status("failed")), TWILIO_AUTH_TOKEN)
            .await,
        204
    );
    assert_eq!(s.failures().await.len(), 1);
    s.app.run_engine_once().await;
    assert!(
        s.app.smtp.recipients().is_empty(),
        "acked: nobody else is paged"
    );
}

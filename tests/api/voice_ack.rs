//! Press 1 to acknowledge a voice page (issue #4, comms spec §3.7): the call's TwiML gathers
//! one digit and posts it to a signed link on this server, which checks Twilio's signature
//! and acks as the person the call went to.

use base64::Engine as _;
use dutybell::domain::action_link::{self, Action, ActionClaim};
use dutybell::domain::slack::form;
use hmac::{Hmac, Mac};
use jiff::SignedDuration;
use sha1::Sha1;

use crate::helpers::{HttpFake, SIGNING_SECRET, Setup, TWILIO_AUTH_TOKEN, TestApp, am_body};
use crate::helpers::{spawn_app_with, t0};

const ACCOUNT_SID: &str = "AC0123456789abcdef0123456789abcdef";

struct Called {
    app: TestApp,
    fake: HttpFake,
    alert: i64,
}

/// Ben (primary at t0) has a voice contact; an alert fires and the engine calls him.
async fn call_ben() -> Called {
    let fake = HttpFake::start().await;
    let app = spawn_app_with(Setup {
        contacts: vec![("ben", r#"{ kind = "voice", to = "+15550100" }"#.into())],
        instance: format!(
            "[twilio]\naccount_sid = \"{ACCOUNT_SID}\"\nauth_token_env = \"TWILIO_AUTH_TOKEN\"\n\
             from = \"+15550199\"\napi_base = \"http://{}\"\n",
            fake.addr
        ),
        ..Setup::default()
    })
    .await;
    let alert = app
        .open_alert(&am_body("DiskFull", &[("firing", &t0().to_string())]))
        .await;
    app.run_engine_once().await;
    Called { app, fake, alert }
}

impl Called {
    /// The Gather action a call placed at t0 must carry: ben's signed ack token.
    fn expected_action(&self) -> String {
        let claim = ActionClaim {
            act: Action::Ack,
            target: self.alert,
            person: "ben".into(),
            exp: (t0() + SignedDuration::from_hours(24)).as_second(),
        };
        let token = action_link::sign(&claim, SIGNING_SECRET.as_bytes());
        format!("http://{}/twilio/voice/{token}", self.app.addr)
    }

    /// The `action` of the `<Gather>` in the TwiML Twilio was sent.
    fn gather_action(&self) -> String {
        let requests = self.fake.requests();
        assert_eq!(requests.len(), 1);
        let params = form::parse(requests[0].body.as_bytes());
        let twiml = form::field(&params, "Twiml").unwrap();
        let start = twiml.find("action=\"").unwrap() + "action=\"".len();
        let end = start + twiml[start..].find('"').unwrap();
        twiml[start..end].to_string()
    }

    /// POSTs Twilio's Gather callback with `digits`, signed with `auth_token`.
    async fn press(&self, digits: &str, auth_token: &str) -> reqwest::Response {
        let url = self.gather_action();
        let params = [
            ("CallSid", "CA0123456789abcdef0123456789abcdef"),
            ("Digits", digits),
            ("From", "+15550199"),
            ("To", "+15550100"),
        ];
        self.app
            .client
            .post(&url)
            .header("x-twilio-signature", sign(auth_token, &url, &params))
            .form(&params)
            .send()
            .await
            .unwrap()
    }

    async fn alert_state(&self) -> (String, serde_json::Value) {
        let alert = self.app.alert(self.alert).await["alert"].clone();
        (
            alert["state"].as_str().unwrap().to_string(),
            alert["acked_by"].clone(),
        )
    }
}

/// Twilio's scheme: base64 HMAC-SHA1 over the URL, then each name and value by name.
pub fn sign(auth_token: &str, url: &str, params: &[(&str, &str)]) -> String {
    let mut sorted = params.to_vec();
    sorted.sort();
    let mut mac = <Hmac<Sha1> as Mac>::new_from_slice(auth_token.as_bytes()).unwrap();
    mac.update(url.as_bytes());
    for (name, value) in sorted {
        mac.update(name.as_bytes());
        mac.update(value.as_bytes());
    }
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

async fn twiml_reply(response: reqwest::Response) -> (u16, String, String) {
    let status = response.status().as_u16();
    let kind = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_string();
    (status, kind, response.text().await.unwrap())
}

fn said(text: &str) -> (u16, String, String) {
    (
        200,
        "text/xml".into(),
        format!("<Response><Say>{text}</Say></Response>"),
    )
}

#[tokio::test]
async fn a_voice_page_gathers_one_digit_for_a_signed_link_on_this_server() {
    let c = call_ben().await;

    assert_eq!(c.gather_action(), c.expected_action());
    let requests = c.fake.requests();
    let params = form::parse(requests[0].body.as_bytes());
    let twiml = form::field(&params, "Twiml").unwrap();
    let gather = format!(
        "<Gather numDigits=\"1\" action=\"{}\" method=\"POST\">\
         <Say>Press 1 to acknowledge.</Say></Gather></Response>",
        c.expected_action()
    );
    assert!(twiml.ends_with(&gather), "{twiml}");
}

#[tokio::test]
async fn pressing_1_on_a_signed_callback_acknowledges_as_the_person_called() {
    let c = call_ben().await;

    let reply = twiml_reply(c.press("1", TWILIO_AUTH_TOKEN).await).await;

    assert_eq!(reply, said("Acknowledged."));
    assert_eq!(c.alert_state().await, ("acknowledged".into(), "ben".into()));
    let kinds = c.app.timeline_kinds(c.alert).await;
    assert!(kinds.iter().any(|k| k == "acknowledged"), "{kinds:?}");
}

#[tokio::test]
async fn a_callback_with_a_wrong_or_missing_signature_is_refused_and_acks_nothing() {
    let c = call_ben().await;

    let response = c.press("1", "not-the-auth-token").await;
    assert_eq!(response.status(), 403);
    let unsigned = c
        .app
        .client
        .post(c.gather_action())
        .form(&[("Digits", "1")])
        .send()
        .await
        .unwrap();
    assert_eq!(unsigned.status(), 403);

    assert_eq!(
        c.alert_state().await,
        ("triggered".into(), serde_json::Value::Null)
    );
}

#[tokio::test]
async fn another_digit_acknowledges_nothing() {
    let c = call_ben().await;

    let reply = twiml_reply(c.press("2", TWILIO_AUTH_TOKEN).await).await;

    assert_eq!(reply, said("Not acknowledged."));
    assert_eq!(
        c.alert_state().await,
        ("triggered".into(), serde_json::Value::Null)
    );
}

#[tokio::test]
async fn an_expired_link_answers_twiml_and_acknowledges_nothing() {
    let c = call_ben().await;
    c.app.clock.advance(SignedDuration::from_hours(25));

    let reply = twiml_reply(c.press("1", TWILIO_AUTH_TOKEN).await).await;

    assert_eq!(reply, said("This link has expired."));
    let (state, acked_by) = c.alert_state().await;
    assert_ne!(state, "acknowledged");
    assert!(acked_by.is_null());
}

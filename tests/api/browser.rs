//! A small W3C WebDriver client over `reqwest`, driving Debian's headless Chromium through
//! `/usr/bin/chromedriver` (package `chromium-driver`) for the web UI tests.
//!
//! chromedriver listens on a free 127.0.0.1 port and dies with the [`Browser`]. Chromium
//! runs with a throwaway profile and every background service that would reach the
//! network switched off, and its host resolver maps every name to nothing, so it can only
//! load the pages our own server serves on 127.0.0.1.

use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::process::{Child, Command};

pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
pub const CHROMIUM: &str = "/usr/bin/chromium";
/// The key W3C WebDriver uses for element references.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// Chromium's flags: headless, no sandbox (CI runs as root), and nothing that phones home.
const ARGS: &[&str] = &[
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--disable-breakpad",
    "--disable-client-side-phishing-detection",
    "--disable-domain-reliability",
    "--disable-features=Translate,MediaRouter,DialMediaRouteProvider,\
     OptimizationHints,OptimizationGuideModelDownloading,AutofillServerCommunication,\
     CertificateTransparencyComponentUpdater,InterestFeedContentSuggestions",
    "--no-first-run",
    "--no-default-browser-check",
    "--no-pings",
    "--metrics-recording-only",
    "--safebrowsing-disable-auto-update",
    "--password-store=basic",
    "--use-mock-keychain",
    "--no-proxy-server",
    // Belt and braces: no name resolves, and only 127.0.0.1 is left reachable.
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
];

/// A running chromedriver and one browser session in it.
pub struct Browser {
    http: reqwest::Client,
    /// `http://127.0.0.1:<port>/session/<id>`.
    session: String,
    _driver: Child,
    _profile: tempfile::TempDir,
}

/// A free port on 127.0.0.1: bound, read back, released.
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

impl Browser {
    /// Starts chromedriver and opens a headless Chromium session.
    pub async fn start() -> Browser {
        assert!(
            std::path::Path::new(CHROMEDRIVER).exists(),
            "{CHROMEDRIVER} is missing: apt-get install chromium chromium-driver"
        );
        let port = free_port();
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(60))
            .build()
            .unwrap();
        let base = format!("http://127.0.0.1:{port}");

        // chromedriver takes a moment to listen; poll its status until it says ready.
        let mut ready = false;
        for _ in 0..100 {
            if let Ok(response) = http.get(format!("{base}/status")).send().await
                && let Ok(body) = response.json::<Value>().await
                && body["value"]["ready"] == true
            {
                ready = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(ready, "chromedriver did not become ready on port {port}");

        let profile = tempfile::tempdir().unwrap();
        let mut args: Vec<String> = ARGS.iter().map(|a| a.to_string()).collect();
        args.push(format!("--user-data-dir={}", profile.path().display()));
        let capabilities = json!({ "capabilities": { "alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": { "binary": CHROMIUM, "args": args },
        }}});
        let answer: Value = http
            .post(format!("{base}/session"))
            .json(&capabilities)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let id = answer["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {answer}"))
            .to_string();
        let browser = Browser {
            http,
            session: format!("{base}/session/{id}"),
            _driver: driver,
            _profile: profile,
        };
        // Finding an element waits up to 10 s for it, so a find after a click that loads
        // a page sees the new page.
        let timeouts = json!({ "implicit": 10_000, "pageLoad": 30_000 });
        browser
            .call(reqwest::Method::POST, "/timeouts", Some(timeouts))
            .await;
        browser
    }

    /// Waits up to 10 s for the browser to be at `expected` (a click on a submit button
    /// may return before the next page has loaded); panics naming where it is instead.
    pub async fn wait_for_url(&self, expected: &str) {
        let mut at = String::new();
        for _ in 0..100 {
            at = self.url().await;
            if at == expected {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the browser is at {at}, not {expected}");
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}{path}", self.session);
        let mut request = self.http.request(method, &url);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let answer: Value = response.json().await.unwrap();
        assert!(status.is_success(), "{url}: {status} {answer}");
        answer["value"].clone()
    }

    /// Loads `url` and waits for the page.
    pub async fn goto(&self, url: &str) {
        self.call(reqwest::Method::POST, "/url", Some(json!({ "url": url })))
            .await;
    }

    /// The current URL.
    pub async fn url(&self) -> String {
        let value = self.call(reqwest::Method::GET, "/url", None).await;
        value
            .as_str()
            .unwrap_or_else(|| panic!("url: {value}"))
            .to_string()
    }

    /// The element matching a CSS selector (the first one).
    pub async fn find(&self, css: &str) -> Element<'_> {
        let value = self
            .call(
                reqwest::Method::POST,
                "/element",
                Some(json!({ "using": "css selector", "value": css })),
            )
            .await;
        Element {
            browser: self,
            id: value[ELEMENT]
                .as_str()
                .unwrap_or_else(|| panic!("{css}: {value}"))
                .to_string(),
        }
    }

    /// The page's HTML as the browser holds it.
    pub async fn source(&self) -> String {
        let value = self.call(reqwest::Method::GET, "/source", None).await;
        value.as_str().unwrap().to_string()
    }

    /// Runs `script` (a function body; `arguments` are `args`) and returns its value.
    pub async fn execute(&self, script: &str, args: Value) -> Value {
        let body = json!({ "script": script, "args": args });
        self.call(reqwest::Method::POST, "/execute/sync", Some(body))
            .await
    }

    /// Sets the window's outer size in CSS pixels.
    pub async fn set_window_size(&self, width: u32, height: u32) {
        let body = json!({ "width": width, "height": height });
        self.call(reqwest::Method::POST, "/window/rect", Some(body))
            .await;
    }

    /// Ends the browser session (the driver dies on drop).
    pub async fn quit(self) {
        self.call(reqwest::Method::DELETE, "", None).await;
    }
}

/// An element of the current page.
pub struct Element<'a> {
    browser: &'a Browser,
    id: String,
}

impl Element<'_> {
    pub async fn send_keys(&self, text: &str) {
        let path = format!("/element/{}/value", self.id);
        let body = json!({ "text": text });
        self.browser
            .call(reqwest::Method::POST, &path, Some(body))
            .await;
    }

    /// Clicks it; a form submit waits for the next page.
    pub async fn click(&self) {
        let path = format!("/element/{}/click", self.id);
        self.browser
            .call(reqwest::Method::POST, &path, Some(json!({})))
            .await;
    }

    /// Clicks a button that submits a form, then waits (up to 10 s) until the page it was
    /// on is gone, so that a following `find` sees the next page even when the form leads
    /// back to the same URL.
    pub async fn submit(&self) {
        self.click().await;
        let url = format!("{}/element/{}/name", self.browser.session, self.id);
        for _ in 0..100 {
            let gone = match self.browser.http.get(&url).send().await {
                Ok(response) => !response.status().is_success(),
                Err(_) => false,
            };
            if gone {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the page did not change after submitting");
    }

    /// Its attribute `name`, if set.
    pub async fn attribute(&self, name: &str) -> Option<String> {
        let path = format!("/element/{}/attribute/{name}", self.id);
        let value = self.browser.call(reqwest::Method::GET, &path, None).await;
        value.as_str().map(str::to_string)
    }

    /// Its rendered size: (width, height) in CSS pixels.
    pub async fn size(&self) -> (f64, f64) {
        let path = format!("/element/{}/rect", self.id);
        let value = self.browser.call(reqwest::Method::GET, &path, None).await;
        (
            value["width"].as_f64().unwrap(),
            value["height"].as_f64().unwrap(),
        )
    }

    /// Its rendered text.
    pub async fn text(&self) -> String {
        let path = format!("/element/{}/text", self.id);
        let value = self.browser.call(reqwest::Method::GET, &path, None).await;
        value.as_str().unwrap().to_string()
    }
}

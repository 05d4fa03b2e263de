//! Headless Chromium driven over the DevTools protocol (CDP) with the
//! WebSocket client the tests already use: launch, open a page, evaluate
//! JavaScript, take screenshots. Needs Debian's `chromium` package (the
//! README's test command installs it).

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message as Frame;

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

pub struct Browser {
    child: Child,
    socket: Socket,
    next_id: u64,
    _profile: tempfile::TempDir,
}

/// A tab, addressed by its CDP session.
pub struct Page {
    session: String,
}

fn chromium_path() -> PathBuf {
    for candidate in ["/usr/bin/chromium", "/usr/bin/chromium-browser"] {
        if Path::new(candidate).exists() {
            return PathBuf::from(candidate);
        }
    }
    panic!(
        "Chromium is not installed: run the README's test command (bash tests/run.sh), which installs it"
    );
}

impl Browser {
    pub async fn launch() -> Self {
        let profile = tempfile::tempdir().expect("profile dir");
        let child = Command::new(chromium_path())
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-dev-shm-usage",
                "--remote-debugging-address=127.0.0.1",
                "--remote-debugging-port=0",
                "--window-size=1280,800",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("launch chromium");
        // Chromium writes its port and browser path here once it listens.
        let port_file = profile.path().join("DevToolsActivePort");
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        let endpoint = loop {
            if let Ok(text) = std::fs::read_to_string(&port_file) {
                let mut lines = text.lines();
                if let (Some(port), Some(path)) = (lines.next(), lines.next()) {
                    break format!("ws://127.0.0.1:{port}{path}");
                }
            }
            assert!(
                std::time::Instant::now() < deadline,
                "Chromium did not start within 30 s"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        let (socket, _) = tokio_tungstenite::connect_async(endpoint.as_str())
            .await
            .expect("connect to chromium");
        Self {
            child,
            socket,
            next_id: 0,
            _profile: profile,
        }
    }

    /// Sends one CDP command and waits for its result, skipping events.
    async fn call(&mut self, session: Option<&str>, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let mut request = json!({ "id": id, "method": method, "params": params });
        if let Some(s) = session {
            request["sessionId"] = json!(s);
        }
        self.socket
            .send(Frame::text(request.to_string()))
            .await
            .expect("send to chromium");
        loop {
            let frame = tokio::time::timeout(Duration::from_secs(30), self.socket.next())
                .await
                .unwrap_or_else(|_| panic!("no answer to {method} within 30 s"))
                .expect("chromium connection open")
                .expect("frame");
            let Frame::Text(text) = frame else { continue };
            let reply: Value = serde_json::from_str(text.as_str()).expect("cdp json");
            if reply["id"] == id {
                if let Some(error) = reply.get("error") {
                    panic!("{method} failed: {error}");
                }
                return reply["result"].clone();
            }
        }
    }

    pub async fn open(&mut self, url: &str) -> Page {
        let target = self
            .call(None, "Target.createTarget", json!({ "url": "about:blank" }))
            .await;
        let target_id = target["targetId"].as_str().expect("targetId").to_string();
        let attached = self
            .call(
                None,
                "Target.attachToTarget",
                json!({ "targetId": target_id, "flatten": true }),
            )
            .await;
        let page = Page {
            session: attached["sessionId"]
                .as_str()
                .expect("sessionId")
                .to_string(),
        };
        self.call(Some(&page.session), "Page.enable", json!({}))
            .await;
        self.navigate(&page, url).await;
        page
    }

    pub async fn navigate(&mut self, page: &Page, url: &str) {
        self.call(Some(&page.session), "Page.navigate", json!({ "url": url }))
            .await;
        self.wait_for(
            page,
            "document.readyState === 'complete'",
            Duration::from_secs(10),
        )
        .await;
    }

    /// Evaluates `expression` (promises awaited) and returns its value.
    pub async fn eval(&mut self, page: &Page, expression: &str) -> Value {
        let result = self
            .call(
                Some(&page.session),
                "Runtime.evaluate",
                json!({ "expression": expression, "returnByValue": true, "awaitPromise": true }),
            )
            .await;
        if let Some(exception) = result.get("exceptionDetails") {
            panic!("{expression} threw: {exception}");
        }
        result["result"]["value"].clone()
    }

    /// Polls until `condition` is truthy in the page.
    pub async fn wait_for(&mut self, page: &Page, condition: &str, within: Duration) {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let ok = self
                .call(
                    Some(&page.session),
                    "Runtime.evaluate",
                    json!({ "expression": format!("Boolean({condition})"), "returnByValue": true }),
                )
                .await;
            if ok["result"]["value"] == json!(true) {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out waiting for: {condition}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Shows the page at `width` × `height` CSS pixels (`mobile`: a phone's
    /// viewport, touch, no scrollbars), or back at the window's own size
    /// with `None`.
    pub async fn set_viewport(&mut self, page: &Page, size: Option<(u32, u32)>, mobile: bool) {
        match size {
            Some((width, height)) => {
                self.call(
                    Some(&page.session),
                    "Emulation.setDeviceMetricsOverride",
                    json!({ "width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile }),
                )
                .await;
            }
            None => {
                self.call(
                    Some(&page.session),
                    "Emulation.clearDeviceMetricsOverride",
                    json!({}),
                )
                .await;
            }
        }
    }

    /// Saves a PNG screenshot of the page under `target/screenshots/`.
    pub async fn screenshot(&mut self, page: &Page, name: &str) -> PathBuf {
        let shot = self
            .call(
                Some(&page.session),
                "Page.captureScreenshot",
                json!({ "format": "png" }),
            )
            .await;
        let data = shot["data"].as_str().expect("png data");
        let bytes = data_encoding::BASE64
            .decode(data.as_bytes())
            .expect("base64 png");
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
        std::fs::create_dir_all(&dir).expect("screenshot dir");
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, bytes).expect("write screenshot");
        path
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

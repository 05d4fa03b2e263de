//! Who may use the agent API: every route closed without credentials,
//! sign-in and out, disabled agents, CSRF on cookie writes, the sign-in
//! throttle.

use super::*;

#[tokio::test]
async fn every_agent_route_but_login_answers_401_without_credentials() {
    let gw = TestGateway::start().await;
    let (_, routes) = frontdesk::http::agent::routes();
    assert!(
        routes.len() >= 20,
        "the route table lists {} routes",
        routes.len()
    );
    for (method, path) in routes {
        let path = path
            .replace("{id}", "01900000-0000-7000-8000-000000000000")
            .replace("{name}", "x")
            .replace("{username}", "x");
        let url = gw.url(&format!("/api/v1/agent{path}"));
        for auth in [
            None,
            Some("Bearer not-a-real-token"),
            Some("Basic YWRtaW46YWRtaW4="),
        ] {
            let mut request = gw.http.request(method.clone(), &url).json(&json!({}));
            if let Some(value) = auth {
                request = request.header("authorization", value);
            }
            let status = request.send().await.expect("send").status().as_u16();
            if path == "/login" {
                assert_ne!(status, 401, "login must be open");
                assert_ne!(status, 200, "login with no credentials must fail");
            } else {
                assert_eq!(status, 401, "{method} {path} with {auth:?}");
            }
        }
    }
}

#[tokio::test]
async fn login_and_logout() {
    let gw = TestGateway::start().await;
    gw.add_agent("ann", PASSWORD, Role::Agent).await;
    let wrong = gw
        .http
        .post(gw.url("/api/v1/agent/login"))
        .json(&json!({"username": "ann", "password": "not it at all"}))
        .send()
        .await
        .expect("send");
    assert_eq!(wrong.status(), 401);
    let body: Value = wrong.json().await.expect("json");
    assert_eq!(body["error"], "invalid_credentials");

    let r = gw
        .http
        .post(gw.url("/api/v1/agent/login"))
        .json(&json!({"username": "ann", "password": PASSWORD}))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200);
    let cookie = r.headers()["set-cookie"]
        .to_str()
        .expect("cookie")
        .to_string();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let body: Value = r.json().await.expect("json");
    let login = AgentLogin {
        token: body["token"].as_str().expect("token").into(),
        csrf: body["csrf"].as_str().expect("csrf").into(),
        cookie: cookie.split(';').next().expect("pair").into(),
    };
    let (status, me) = gw.agent_call(&login, Method::GET, "/me", None).await;
    assert_eq!((status, me["username"].as_str()), (200, Some("ann")));

    assert_eq!(
        gw.agent_call(&login, Method::POST, "/logout", None).await.0,
        204
    );
    assert_eq!(
        gw.agent_call(&login, Method::GET, "/me", None).await.0,
        401,
        "the token died with the session"
    );
}

#[tokio::test]
async fn a_disabled_agent_is_signed_out_at_once() {
    let (gw, ann, _bob, boss) = gateway_with_agents().await;
    let (status, _) = gw
        .agent_call(&boss, Method::POST, "/agents/ann/disable", None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(gw.agent_call(&ann, Method::GET, "/me", None).await.0, 401);
    // And only admins may disable.
    let (gw2, ann2, bob2, _) = gateway_with_agents().await;
    assert_eq!(
        gw2.agent_call(&ann2, Method::POST, "/agents/bob/disable", None)
            .await
            .0,
        403
    );
    assert_eq!(gw2.agent_call(&bob2, Method::GET, "/me", None).await.0, 200);
}

#[tokio::test]
async fn cookie_writes_need_the_csrf_token() {
    let (gw, ann, _bob, _boss) = gateway_with_agents().await;
    let (_, id) = waiting_customer(&gw, "my blender grinds oddly").await;
    let by_cookie = |method: Method, path: &str| {
        gw.http
            .request(method, gw.url(&format!("/api/v1/agent{path}")))
            .header("cookie", &ann.cookie)
    };
    let me = by_cookie(Method::GET, "/me").send().await.expect("send");
    assert_eq!(me.status(), 200, "cookie reads need no CSRF token");
    let forged = by_cookie(Method::POST, &format!("/conversations/{id}/claim"))
        .send()
        .await
        .expect("send");
    assert_eq!(forged.status(), 403);
    let body: Value = forged.json().await.expect("json");
    assert_eq!(body["error"], "csrf_token_required");
    let wrong = by_cookie(Method::POST, &format!("/conversations/{id}/claim"))
        .header("x-csrf-token", "0".repeat(64))
        .send()
        .await
        .expect("send");
    assert_eq!(wrong.status(), 403);
    let detail = gw
        .store()
        .conversation(id.parse().expect("id"))
        .await
        .expect("read")
        .expect("exists");
    assert_eq!(
        detail.assigned_agent, None,
        "the rejected writes changed nothing"
    );
    let ok = by_cookie(Method::POST, &format!("/conversations/{id}/claim"))
        .header("x-csrf-token", &ann.csrf)
        .send()
        .await
        .expect("send");
    assert_eq!(ok.status(), 200);
}

#[tokio::test]
async fn repeated_failed_logins_are_slowed_down() {
    let gw = TestGateway::start().await;
    gw.add_agent("ann", PASSWORD, Role::Agent).await;
    let attempt = |password: &'static str| {
        gw.http
            .post(gw.url("/api/v1/agent/login"))
            .json(&json!({"username": "ann", "password": password}))
            .send()
    };
    for _ in 0..5 {
        assert_eq!(attempt("wrong password").await.expect("send").status(), 401);
    }
    let throttled = attempt(PASSWORD).await.expect("send");
    assert_eq!(throttled.status(), 429, "even the right password waits");
    assert!(throttled.headers().contains_key("retry-after"));
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(
        attempt(PASSWORD).await.expect("send").status(),
        200,
        "after the wait, it works"
    );
}

//! The Grafana dashboard in `config/grafana/` asks only for what the
//! gateway exports: after a scripted conversation (a bot answer, a hand-off
//! claimed, answered and resolved by an agent), every series a panel
//! selects is on `/metrics`, and times are histograms with buckets.

use crate::support::TestGateway;
use frontdesk::model::Role;
use serde_json::Value;
use std::time::Duration;

/// Every `expr` of every panel.
fn queries(dashboard: &Value) -> Vec<String> {
    let panels = dashboard["panels"].as_array().expect("panels");
    assert!(panels.len() >= 8, "a panel for each measure");
    let mut found = Vec::new();
    for panel in panels {
        assert!(
            panel["title"].is_string() && panel["gridPos"].is_object(),
            "{panel}"
        );
        assert_eq!(panel["datasource"]["uid"], "${datasource}", "{panel}");
        for target in panel["targets"].as_array().expect("targets") {
            found.push(target["expr"].as_str().expect("expr").to_string());
        }
    }
    found
}

/// Each metric a query names, with the `label="value"` pairs it selects.
fn selectors(query: &str) -> Vec<(String, Vec<String>)> {
    let pattern = regex::Regex::new(r#"(frontdesk_[a-z_]+)(\{([^}]*)\})?"#).expect("regex");
    pattern
        .captures_iter(query)
        .map(|c| {
            let labels = c
                .get(3)
                .map(|l| {
                    l.as_str()
                        .split(',')
                        .map(|p| p.trim().to_string())
                        .collect()
                })
                .unwrap_or_default();
            (c[1].to_string(), labels)
        })
        .collect()
}

/// Whether the scrape has a sample of `metric` carrying every label that
/// `labels` select on (a value may not have occurred yet: no failure, no
/// breach).
fn exported(scrape: &str, metric: &str, labels: &[String]) -> bool {
    scrape.lines().any(|line| {
        let name_ends = line.find(['{', ' ']).unwrap_or(line.len());
        line[..name_ends] == *metric
            && labels.iter().all(|l| {
                let key = l.split(['=', '!', '~']).next().unwrap_or(l);
                line.contains(&format!("{key}=\""))
            })
    })
}

#[tokio::test]
async fn every_dashboard_query_names_an_exported_series() {
    let dashboard: Value = serde_json::from_str(
        &std::fs::read_to_string("config/grafana/frontdesk.json").expect("the dashboard"),
    )
    .expect("the dashboard is JSON");
    let queries = queries(&dashboard);

    let gw = TestGateway::start().await;
    gw.add_agent("ann", "ann-password", Role::Agent).await;
    let ann = gw.login("ann", "ann-password").await;
    let answered = gw.session().await;
    gw.post(&answered, "1", "Where is my order?").await;
    let waiting = gw.session().await;
    let (_, receipt) = gw
        .post(&waiting, "1", "My lamp flickers when the fridge starts")
        .await;
    gw.wait_for_messages(&waiting, 2).await;
    let id = receipt["conversation_id"].as_str().expect("id");
    super::answer_and_resolve(&gw, &ann, &waiting, id, "Let us look at the wiring.").await;

    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let missing = loop {
        let scrape = gw
            .http
            .get(gw.url("/metrics"))
            .send()
            .await
            .expect("metrics")
            .text()
            .await
            .expect("text");
        let missing: Vec<String> = queries
            .iter()
            .flat_map(|q| selectors(q))
            .filter(|(metric, labels)| !exported(&scrape, metric, labels))
            .map(|(metric, labels)| format!("{metric}{{{}}}", labels.join(",")))
            .collect();
        if missing.is_empty() {
            assert!(
                !scrape.contains("quantile="),
                "times are histograms, not summaries"
            );
            for histogram in [
                "frontdesk_pickup_wait_seconds",
                "frontdesk_first_response_seconds",
            ] {
                assert!(
                    scrape.contains(&format!("{histogram}_bucket{{")),
                    "{scrape}"
                );
                assert!(
                    scrape.contains(&format!("# TYPE {histogram} histogram")),
                    "{scrape}"
                );
            }
            break missing;
        }
        if tokio::time::Instant::now() > deadline {
            break missing;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(missing.is_empty(), "queried but not exported: {missing:?}");
}

#[test]
fn a_query_naming_a_metric_that_does_not_exist_is_caught() {
    let scrape = "# TYPE frontdesk_outbox_depth gauge\nfrontdesk_outbox_depth 0\n\
                  frontdesk_deliveries_total{channel=\"web\",outcome=\"delivered\"} 3\n";
    let check = |query: &str| {
        selectors(query)
            .iter()
            .all(|(metric, labels)| exported(scrape, metric, labels))
    };
    assert!(check("max(frontdesk_outbox_depth)"));
    assert!(check(
        r#"sum(rate(frontdesk_deliveries_total{outcome="delivered"}[5m]))"#
    ));
    assert!(!check("max(frontdesk_outbox_dept)"));
    assert!(check(
        r#"sum(rate(frontdesk_deliveries_total{outcome="failed"}[5m]))"#
    ));
    assert!(!check(
        r#"sum(rate(frontdesk_deliveries_total{result="failed"}[5m]))"#
    ));
}

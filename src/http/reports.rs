//! `GET /api/v1/reports/summary`: the summary report (see [`crate::service_levels::reports`])
//! as JSON, or CSV with `format=csv`; `GET /api/v1/reports/staffing`: the
//! staffing forecast (see [`crate::service_levels::forecast`]). Signed-in agents only.

use super::agent::Authed;
use super::error::{ApiQuery, AppError, ErrorBody};
use crate::http::routes::{RouteTable, Routes};
use crate::http::state::App;
use crate::model::ChannelKind;
use crate::service_levels::forecast;
use crate::service_levels::reports::{self, Period};
use axum::Router;
use axum::extract::State;
use axum::http::{Method, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use std::sync::Arc;

/// The reports' part of the API document (paths under `/api/v1/reports`).
#[derive(utoipa::OpenApi)]
#[openapi(paths(summary, staffing))]
pub struct ReportsApi;

/// The reports' routes, under `/api/v1/reports`.
pub fn routes() -> (Router<Arc<App>>, RouteTable) {
    Routes::default()
        .add(Method::GET, "/summary", summary)
        .add(Method::GET, "/staffing", staffing)
        .into_parts()
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct SummaryQuery {
    /// RFC 3339; default: a week before `to`.
    from: Option<String>,
    /// RFC 3339; default: now.
    to: Option<String>,
    channel: Option<String>,
    segment: Option<String>,
    /// `json` (default) or `csv`.
    format: Option<String>,
}

fn instant(name: &str, text: &str) -> Result<DateTime<Utc>, AppError> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| {
            AppError::bad_request(
                "invalid_query",
                format!("`{name}` is not an RFC 3339 time like 2026-12-01T00:00:00Z"),
            )
        })
}

/// `GET /summary`: every measure of the period (first response,
/// resolution, FCR, CSAT, NPS, CES, SLA), as JSON or CSV.
#[utoipa::path(
    get, path = "/summary", tag = "reports", params(SummaryQuery),
    responses(
        (status = 200, description = "The period's figures", body = reports::Summary),
        (status = 200, description = "The same as CSV with `format=csv`", content_type = "text/csv", body = String),
        (status = 400, description = "A malformed query", body = ErrorBody), (status = 401, description = "Not signed in", body = ErrorBody),
    )
)]
async fn summary(
    State(app): State<Arc<App>>,
    _authed: Authed,
    ApiQuery(query): ApiQuery<SummaryQuery>,
) -> Result<Response, AppError> {
    let to = match &query.to {
        Some(t) => instant("to", t)?,
        None => Utc::now(),
    };
    let from = match &query.from {
        Some(f) => instant("from", f)?,
        None => to - chrono::Duration::days(7),
    };
    if from >= to {
        return Err(AppError::bad_request(
            "invalid_query",
            "`from` must be before `to`",
        ));
    }
    let channel = match query.channel.as_deref() {
        None => None,
        Some(name) => Some(
            serde_json::from_value::<ChannelKind>(serde_json::json!(name)).map_err(|_| {
                AppError::bad_request("invalid_query", "`channel` is one of web, telegram, email")
            })?,
        ),
    };
    let period = Period {
        from,
        to,
        channel,
        segment: query.segment,
        zone: app.report_zone(),
        reopen_window: chrono::Duration::hours(i64::from(app.config.reports.reopen_window_hours)),
    };
    let store = app.store.clone();
    // Counting a long period is CPU work: off the async workers.
    let runtime = tokio::runtime::Handle::current();
    let report = tokio::task::spawn_blocking(move || {
        runtime.block_on(reports::summary(store.as_ref(), &period))
    })
    .await
    .map_err(|_| AppError::unavailable("the report could not be computed"))??;
    Ok(match query.format.as_deref() {
        None | Some("json") => axum::Json(report).into_response(),
        Some("csv") => (
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
                (
                    header::CONTENT_DISPOSITION,
                    "attachment; filename=\"summary.csv\"",
                ),
            ],
            reports::to_csv(&report),
        )
            .into_response(),
        Some(_) => {
            return Err(AppError::bad_request(
                "invalid_query",
                "`format` is json or csv",
            ));
        }
    })
}

/// `GET /staffing`: agents needed per hour of the week (Erlang C), from
/// the recent weeks' traffic.
#[utoipa::path(
    get, path = "/staffing", tag = "reports",
    responses((status = 200, description = "The staffing forecast", body = forecast::Forecast), (status = 401, description = "Not signed in", body = ErrorBody))
)]
async fn staffing(
    State(app): State<Arc<App>>,
    _authed: Authed,
) -> Result<axum::Json<forecast::Forecast>, AppError> {
    let zone = app.report_zone();
    let (store, config) = (app.store.clone(), app.config.clone());
    let runtime = tokio::runtime::Handle::current();
    let forecast = tokio::task::spawn_blocking(move || {
        let targets = forecast::targets(config.sla.as_ref(), &config.segments);
        runtime.block_on(forecast::from_store(
            store.as_ref(),
            &config.reports,
            &targets,
            zone,
            Utc::now(),
        ))
    })
    .await
    .map_err(|_| AppError::unavailable("the forecast could not be computed"))??;
    Ok(axum::Json(forecast))
}

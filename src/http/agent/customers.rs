//! One customer's data, for admins: everything kept about them, erasure
//! everywhere (GDPR, PIPL), and the audit log of erasures.

use super::Authed;
use crate::core::customers::{self, CustomerData, CustomerError, CustomerSelector};
use crate::http::error::{ApiJson, AppError, ErrorBody};
use crate::http::state::App;
use crate::model::AuditEntry;
use axum::Json;
use axum::extract::State;
use std::sync::Arc;

impl From<CustomerError> for AppError {
    fn from(error: CustomerError) -> Self {
        match error {
            CustomerError::NotFound(_) => {
                AppError::not_found("customer_not_found", error.to_string())
            }
            CustomerError::Store(e) => e.into(),
        }
    }
}

/// `POST /customers/export {"ticket": N}` or `{"email"}` / `{"telegram"}`
/// (admins): every conversation of the customer with its transcript.
#[utoipa::path(
    post, path = "/customers/export", tag = "agent", request_body = CustomerSelector,
    responses(
        (status = 200, description = "Everything kept about the customer", body = CustomerData),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Admins only", body = ErrorBody),
        (status = 404, description = "No such customer", body = ErrorBody),
    )
)]
pub(super) async fn export_customer(
    State(app): State<Arc<App>>,
    authed: Authed,
    ApiJson(selector): ApiJson<CustomerSelector>,
) -> Result<Json<CustomerData>, AppError> {
    authed.require_admin()?;
    let customer = customers::customer_of(app.store.as_ref(), &selector).await?;
    Ok(Json(
        customers::export_customer(app.store.as_ref(), &customer).await?,
    ))
}

/// `POST /customers/erase {"ticket": N}` (admins): the customer's words,
/// names, addresses, files and sessions erased everywhere; their
/// conversations stay as counts. Answers with the audit entry.
#[utoipa::path(
    post, path = "/customers/erase", tag = "agent", request_body = CustomerSelector,
    responses(
        (status = 200, description = "Erased; the audit entry", body = AuditEntry),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Admins only", body = ErrorBody),
        (status = 404, description = "No such customer", body = ErrorBody),
    )
)]
pub(super) async fn erase_customer(
    State(app): State<Arc<App>>,
    authed: Authed,
    ApiJson(selector): ApiJson<CustomerSelector>,
) -> Result<Json<AuditEntry>, AppError> {
    authed.require_admin()?;
    let customer = customers::customer_of(app.store.as_ref(), &selector).await?;
    let entry =
        customers::erase_customer(app.store.as_ref(), &customer, &authed.agent.username).await?;
    Ok(Json(entry))
}

/// `GET /audit` (admins): every erasure, oldest first.
#[utoipa::path(
    get, path = "/audit", tag = "agent",
    responses(
        (status = 200, description = "The audit log", body = Vec<AuditEntry>),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Admins only", body = ErrorBody),
    )
)]
pub(super) async fn audit_log(
    State(app): State<Arc<App>>,
    authed: Authed,
) -> Result<Json<Vec<AuditEntry>>, AppError> {
    authed.require_admin()?;
    Ok(Json(app.store.audit_log().await?))
}

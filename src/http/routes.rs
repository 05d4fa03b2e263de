//! A router that lists its routes as it is built: the API document must
//! name every route served (`tests/operations/openapi.rs`), and every agent
//! route but sign-in must be closed (`tests/agent_api/access.rs`).

use crate::http::state::App;
use axum::Router;
use axum::handler::Handler;
use axum::http::Method;
use axum::routing::{MethodFilter, MethodRouter, on};
use std::sync::Arc;

/// (method, path) of every route, as added.
pub type RouteTable = Vec<(Method, &'static str)>;

/// Routes and their list, built together.
pub struct Routes {
    router: Router<Arc<App>>,
    listed: RouteTable,
}

impl Default for Routes {
    fn default() -> Self {
        Self {
            router: Router::new(),
            listed: Vec::new(),
        }
    }
}

impl Routes {
    /// Serves `handler` for `method` on `path`.
    pub fn add<H, T>(mut self, method: Method, path: &'static str, handler: H) -> Self
    where
        H: Handler<T, Arc<App>>,
        T: 'static,
    {
        let filter = MethodFilter::try_from(method.clone()).unwrap_or(MethodFilter::GET);
        let route: MethodRouter<Arc<App>> = on(filter, handler);
        self.router = self.router.route(path, route);
        self.listed.push((method, path));
        self
    }

    pub fn into_parts(self) -> (Router<Arc<App>>, RouteTable) {
        (self.router, self.listed)
    }
}

use axum::Router;
use axum::handler::Handler;
use axum::routing::{MethodFilter, on};

/// A function's routes, recorded as they are added: the router and its `(method, path)`
/// list, which the template test compares with the API events in template.yaml.
/// `S` is the state its handlers take.
pub struct RouteTable<S> {
    router: Router<S>,
    routes: Vec<(&'static str, &'static str)>,
}

impl<S: Clone + Send + Sync + 'static> Default for RouteTable<S> {
    fn default() -> Self {
        Self {
            router: Router::new(),
            routes: Vec::new(),
        }
    }
}

macro_rules! method {
    ($name:ident, $verb:literal, $filter:ident) => {
        pub fn $name<H, T>(self, path: &'static str, handler: H) -> Self
        where
            H: Handler<T, S>,
            T: 'static,
        {
            self.add($verb, MethodFilter::$filter, path, handler)
        }
    };
}

impl<S: Clone + Send + Sync + 'static> RouteTable<S> {
    pub fn new() -> Self {
        Self::default()
    }

    fn add<H, T>(
        mut self,
        verb: &'static str,
        filter: MethodFilter,
        path: &'static str,
        handler: H,
    ) -> Self
    where
        H: Handler<T, S>,
        T: 'static,
    {
        self.router = self.router.route(path, on(filter, handler));
        self.routes.push((verb, path));
        self
    }

    method!(get, "GET", GET);
    method!(post, "POST", POST);
    method!(put, "PUT", PUT);
    method!(patch, "PATCH", PATCH);
    method!(delete, "DELETE", DELETE);

    /// Every `(method, path)` served, in the order added.
    pub fn routes(&self) -> &[(&'static str, &'static str)] {
        &self.routes
    }

    pub fn into_router(self) -> Router<S> {
        self.router
    }
}

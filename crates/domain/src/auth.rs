//! The authorization model (ARCHITECTURE.md, "Identity and authorization"): scopes, the principal, and the one route table that the
//! authorizer (to build its policy) and the local gateway (to route) both use.

use std::collections::BTreeSet;

use crate::error::Error;
use crate::ids::{CompanyId, CustomerId};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    ProductsRead,
    ProductsWrite,
    OrdersRead,
    OrdersWrite,
    SimulationsRun,
}

impl Scope {
    pub const ALL: [Scope; 5] = [
        Scope::ProductsRead,
        Scope::ProductsWrite,
        Scope::OrdersRead,
        Scope::OrdersWrite,
        Scope::SimulationsRun,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::ProductsRead => "products:read",
            Scope::ProductsWrite => "products:write",
            Scope::OrdersRead => "orders:read",
            Scope::OrdersWrite => "orders:write",
            Scope::SimulationsRun => "simulations:run",
        }
    }

    pub fn parse(s: &str) -> Option<Scope> {
        Scope::ALL.into_iter().find(|scope| scope.as_str() == s)
    }
}

/// Who is calling: the token's `sub`, its known scopes, and a company user's `company_id`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    pub sub: CustomerId,
    pub scopes: BTreeSet<Scope>,
    pub company_id: Option<CompanyId>,
}

impl Principal {
    /// Builds a principal from token claims (or authorizer context). Unknown scopes are ignored:
    /// a token may carry scopes of other services.
    pub fn from_claims(
        sub: &str,
        scope: &str,
        company_id: Option<&str>,
    ) -> Result<Principal, Error> {
        let sub = CustomerId::parse(sub)
            .map_err(|e| Error::Unauthorized(format!("the token's sub {e}")))?;
        let company_id = match company_id.filter(|c| !c.is_empty()) {
            Some(c) => Some(
                CompanyId::parse(c)
                    .map_err(|e| Error::Unauthorized(format!("the token's company_id {e}")))?,
            ),
            None => None,
        };
        Ok(Principal {
            sub,
            scopes: scope.split_whitespace().filter_map(Scope::parse).collect(),
            company_id,
        })
    }

    pub fn has(&self, scope: Scope) -> bool {
        self.scopes.contains(&scope)
    }

    /// 403 unless the principal holds `scope`.
    pub fn require(&self, scope: Scope) -> Result<(), Error> {
        if self.has(scope) {
            Ok(())
        } else {
            Err(Error::Forbidden(format!(
                "This requires the {} scope",
                scope.as_str()
            )))
        }
    }

    /// The company a product write acts for; a token without one cannot write products.
    pub fn company(&self) -> Result<&CompanyId, Error> {
        self.company_id
            .as_ref()
            .ok_or_else(|| Error::Forbidden("The token carries no company_id".to_owned()))
    }

    /// The scopes as the space-separated claim.
    pub fn scope_claim(&self) -> String {
        self.scopes
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// The Lambda function serving a route.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Function {
    ListProducts,
    OrderTotal,
    UpdateProduct,
    StartImport,
    PlaceOrder,
    GetOrder,
    OrderSimulator,
}

impl Function {
    pub fn name(self) -> &'static str {
        match self {
            Function::ListProducts => "list-products",
            Function::OrderTotal => "order-total",
            Function::UpdateProduct => "update-product",
            Function::StartImport => "start-import",
            Function::PlaceOrder => "place-order",
            Function::GetOrder => "get-order",
            Function::OrderSimulator => "order-simulator",
        }
    }
}

/// One route of the HTTP API: API Gateway's method + resource path, its function and scope,
/// and the query parameters it reads (any other is refused, as an unknown body field is).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Route {
    pub method: &'static str,
    pub resource: &'static str,
    pub function: Function,
    pub scope: Scope,
    pub query: &'static [&'static str],
}

const fn route(
    method: &'static str,
    resource: &'static str,
    function: Function,
    scope: Scope,
) -> Route {
    Route {
        method,
        resource,
        function,
        scope,
        query: &[],
    }
}

/// The query parameters of a paginated listing.
pub const PAGING: &[&str] = &["limit", "cursor"];

const fn listing(
    resource: &'static str,
    function: Function,
    scope: Scope,
    query: &'static [&'static str],
) -> Route {
    Route {
        query,
        ..route("GET", resource, function, scope)
    }
}

/// Every route of the API. The authorizer's policy and the gateway derive from it.
pub const ROUTES: &[Route] = &[
    listing(
        "/products",
        Function::ListProducts,
        Scope::ProductsRead,
        &["limit", "cursor", "company_id"],
    ),
    route(
        "GET",
        "/products/{id}",
        Function::ListProducts,
        Scope::ProductsRead,
    ),
    route(
        "PUT",
        "/products/{id}",
        Function::UpdateProduct,
        Scope::ProductsWrite,
    ),
    route(
        "PATCH",
        "/products/{id}",
        Function::UpdateProduct,
        Scope::ProductsWrite,
    ),
    listing(
        "/products/{id}/history",
        Function::UpdateProduct,
        Scope::ProductsWrite,
        PAGING,
    ),
    route(
        "POST",
        "/imports",
        Function::StartImport,
        Scope::ProductsWrite,
    ),
    route(
        "GET",
        "/imports/{id}",
        Function::StartImport,
        Scope::ProductsWrite,
    ),
    route(
        "POST",
        "/orders/total",
        Function::OrderTotal,
        Scope::OrdersWrite,
    ),
    route("POST", "/orders", Function::PlaceOrder, Scope::OrdersWrite),
    listing("/orders", Function::GetOrder, Scope::OrdersRead, PAGING),
    route("GET", "/orders/{id}", Function::GetOrder, Scope::OrdersRead),
    route(
        "POST",
        "/simulations",
        Function::OrderSimulator,
        Scope::SimulationsRun,
    ),
];

/// The routes a principal's scopes allow: exactly what its authorizer policy must cover.
pub fn allowed_routes(principal: &Principal) -> impl Iterator<Item = &'static Route> + '_ {
    ROUTES.iter().filter(|r| principal.has(r.scope))
}

/// The outcome of matching a request against [`ROUTES`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RouteMatch {
    Found {
        route: &'static Route,
        /// Path parameters, e.g. `("id", "p1")`.
        params: Vec<(&'static str, String)>,
    },
    /// The path is a resource, the method is not one of its methods.
    MethodNotAllowed {
        allowed: Vec<&'static str>,
    },
    NotFound,
}

/// Matches a (decoded) path the way API Gateway does: literal segments take precedence over
/// `{param}` segments, so `POST /orders/total` is the bill and `GET /orders/total` is a 405.
pub fn resolve(method: &str, path: &str) -> RouteMatch {
    let Some(segments) = path
        .strip_prefix('/')
        .map(|p| p.split('/').collect::<Vec<_>>())
    else {
        return RouteMatch::NotFound;
    };
    let best = ROUTES
        .iter()
        .filter_map(|r| {
            match_resource(r.resource, &segments).map(|(literals, params)| (r, literals, params))
        })
        .max_by_key(|(_, literals, _)| *literals);
    let Some((best, _, params)) = best else {
        return RouteMatch::NotFound;
    };
    let on_resource = ROUTES.iter().filter(|r| r.resource == best.resource);
    match on_resource.clone().find(|r| r.method == method) {
        Some(route) => RouteMatch::Found { route, params },
        None => RouteMatch::MethodNotAllowed {
            allowed: on_resource.map(|r| r.method).collect(),
        },
    }
}

/// `(number of literal segments, params)` when `resource` matches `segments`.
fn match_resource(
    resource: &'static str,
    segments: &[&str],
) -> Option<(usize, Vec<(&'static str, String)>)> {
    let template: Vec<&'static str> = resource.trim_start_matches('/').split('/').collect();
    if template.len() != segments.len() {
        return None;
    }
    let mut literals = 0;
    let mut params = Vec::new();
    for (t, s) in template.iter().zip(segments) {
        match t.strip_prefix('{').and_then(|t| t.strip_suffix('}')) {
            Some(name) if !s.is_empty() => params.push((name, (*s).to_owned())),
            Some(_) => return None,
            None if t == s => literals += 1,
            None => return None,
        }
    }
    Some((literals, params))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A function's name is its crate's, its Terraform instance's and its zip's: the wiring
    /// check finds each by it.
    #[test]
    fn functions_are_named_as_their_crates() {
        let names: Vec<&str> = [
            Function::ListProducts,
            Function::OrderTotal,
            Function::UpdateProduct,
            Function::StartImport,
            Function::PlaceOrder,
            Function::GetOrder,
            Function::OrderSimulator,
        ]
        .into_iter()
        .map(Function::name)
        .collect();
        assert_eq!(
            names,
            [
                "list-products",
                "order-total",
                "update-product",
                "start-import",
                "place-order",
                "get-order",
                "order-simulator"
            ]
        );
    }

    /// A listing reads its paging parameters (and the catalog its company filter); every
    /// other route reads no query at all.
    #[test]
    fn listings_read_their_query_and_nothing_else_does() {
        let query = |method: &str, resource: &str| {
            ROUTES
                .iter()
                .find(|r| r.method == method && r.resource == resource)
                .unwrap()
                .query
        };
        assert_eq!(query("GET", "/products"), ["limit", "cursor", "company_id"]);
        assert_eq!(query("GET", "/orders"), ["limit", "cursor"]);
        assert_eq!(query("GET", "/products/{id}/history"), ["limit", "cursor"]);
        let listings = ["/products", "/orders", "/products/{id}/history"];
        let others = ROUTES
            .iter()
            .filter(|r| !(r.method == "GET" && listings.contains(&r.resource)));
        for route in others {
            assert!(
                route.query.is_empty(),
                "{} {}",
                route.method,
                route.resource
            );
        }
    }

    fn found(method: &str, path: &str) -> (Function, Vec<(&'static str, String)>) {
        match resolve(method, path) {
            RouteMatch::Found { route, params } => (route.function, params),
            other => panic!("{method} {path}: {other:?}"),
        }
    }

    #[test]
    fn resolves_like_api_gateway() {
        assert_eq!(found("GET", "/products").0, Function::ListProducts);
        assert_eq!(
            found("GET", "/products/p1"),
            (Function::ListProducts, vec![("id", "p1".to_owned())])
        );
        assert_eq!(found("PATCH", "/products/p1").0, Function::UpdateProduct);
        assert_eq!(found("POST", "/orders/total").0, Function::OrderTotal);
        assert_eq!(found("GET", "/orders/abc").0, Function::GetOrder);
        assert_eq!(
            found("GET", "/products/p1/history"),
            (Function::UpdateProduct, vec![("id", "p1".to_owned())])
        );
        assert_eq!(
            resolve("PUT", "/products/p1/history"),
            RouteMatch::MethodNotAllowed {
                allowed: vec!["GET"]
            }
        );
        assert_eq!(
            resolve("GET", "/orders/total"),
            RouteMatch::MethodNotAllowed {
                allowed: vec!["POST"]
            }
        );
        assert_eq!(
            resolve("DELETE", "/products/p1"),
            RouteMatch::MethodNotAllowed {
                allowed: vec!["GET", "PUT", "PATCH"]
            }
        );
        for path in ["/", "/nope", "/products/", "/products/a/b", "products", ""] {
            assert_eq!(resolve("GET", path), RouteMatch::NotFound, "{path}");
        }
    }

    #[test]
    fn principal_scopes_and_routes() {
        let p = Principal::from_claims("alice", "products:read orders:write other:thing", None)
            .unwrap();
        assert!(p.has(Scope::OrdersWrite));
        assert_eq!(p.scope_claim(), "products:read orders:write");
        assert!(matches!(
            p.require(Scope::OrdersRead),
            Err(Error::Forbidden(_))
        ));
        assert!(matches!(p.company(), Err(Error::Forbidden(_))));
        let routes: Vec<_> = allowed_routes(&p).map(|r| (r.method, r.resource)).collect();
        assert_eq!(
            routes,
            [
                ("GET", "/products"),
                ("GET", "/products/{id}"),
                ("POST", "/orders/total"),
                ("POST", "/orders")
            ]
        );
        assert!(matches!(
            Principal::from_claims("", "x", None),
            Err(Error::Unauthorized(_))
        ));
        assert!(matches!(
            Principal::from_claims("u", "", Some("a b")),
            Err(Error::Unauthorized(_))
        ));
    }

    #[test]
    fn every_scope_has_a_route_and_every_route_is_unique() {
        for scope in Scope::ALL {
            assert!(ROUTES.iter().any(|r| r.scope == scope), "{scope:?}");
        }
        for (i, a) in ROUTES.iter().enumerate() {
            for b in &ROUTES[i + 1..] {
                assert!(!(a.method == b.method && a.resource == b.resource));
            }
        }
    }
}

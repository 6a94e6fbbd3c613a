//! The IAM policy of a principal, from the shared route table, and its evaluation the way
//! API Gateway does it (used by the local gateway and the tests).

use aws_lambda_events::apigw::ApiGatewayCustomAuthorizerPolicy;
use aws_lambda_events::iam::{IamPolicyEffect, IamPolicyStatement};
use domain::auth::{Principal, ROUTES, Route, allowed_routes};

/// `arn:aws:execute-api:{region}:{account}:{api}/{stage}/{METHOD}/{path}`, split.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MethodArn {
    /// Everything up to and including the stage: `arn:aws:execute-api:r:a:api/stage`.
    pub base: String,
    pub method: String,
    pub path: String,
}

impl MethodArn {
    pub fn parse(arn: &str) -> Option<MethodArn> {
        let parts: Vec<&str> = arn.splitn(6, ':').collect();
        if parts.len() != 6 || parts[0] != "arn" || parts[2] != "execute-api" {
            return None;
        }
        let mut rest = parts[5].splitn(4, '/');
        let (api, stage, method) = (rest.next()?, rest.next()?, rest.next()?);
        let path = format!("/{}", rest.next().unwrap_or(""));
        if api.is_empty() || stage.is_empty() || method.is_empty() {
            return None;
        }
        let base = format!(
            "{}:{}:{}:{}:{}:{api}/{stage}",
            parts[0], parts[1], parts[2], parts[3], parts[4]
        );
        Some(MethodArn {
            base,
            method: method.to_owned(),
            path,
        })
    }

    pub fn to_arn(&self) -> String {
        format!("{}/{}{}", self.base, self.method, self.path)
    }
}

fn statement(effect: IamPolicyEffect, resource: Vec<String>) -> IamPolicyStatement {
    let mut s = IamPolicyStatement::default();
    s.action = vec!["execute-api:Invoke".to_owned()];
    s.effect = effect;
    s.resource = resource;
    s
}

/// A route's resource on this API and stage, each path parameter replaced by `fill`.
fn resource(arn: &MethodArn, route: &Route, fill: &str) -> String {
    let path = route
        .resource
        .split('/')
        .map(|s| if s.starts_with('{') { fill } else { s })
        .collect::<Vec<_>>()
        .join("/");
    format!("{}/{}{path}", arn.base, route.method)
}

/// Allows exactly the routes the principal's scopes allow, on this API and stage; a principal
/// with no usable scope gets an explicit deny of everything.
///
/// IAM's `*` matches any run of characters, slashes included, so the pattern of an allowed
/// route may cover a route under it that the scopes do not allow (`GET …/products/*` covers
/// `GET …/products/p1/history`). Such a route is denied explicitly: a deny wins over any allow.
/// A path parameter never holds a `/`, so the deny's own pattern never covers an allowed route.
pub fn policy_for(principal: &Principal, arn: &MethodArn) -> ApiGatewayCustomAuthorizerPolicy {
    let allowed: Vec<String> = allowed_routes(principal)
        .map(|r| resource(arn, r, "*"))
        .collect();
    let covered: Vec<String> = ROUTES
        .iter()
        .filter(|r| !principal.has(r.scope))
        .filter(|r| allowed.iter().any(|a| glob(a, &resource(arn, r, "x"))))
        .map(|r| resource(arn, r, "*"))
        .collect();
    let mut policy = ApiGatewayCustomAuthorizerPolicy::default();
    policy.version = Some("2012-10-17".to_owned());
    policy.statement = if allowed.is_empty() {
        vec![statement(
            IamPolicyEffect::Deny,
            vec![format!("{}/*", arn.base)],
        )]
    } else if covered.is_empty() {
        vec![statement(IamPolicyEffect::Allow, allowed)]
    } else {
        vec![
            statement(IamPolicyEffect::Allow, allowed),
            statement(IamPolicyEffect::Deny, covered),
        ]
    };
    policy
}

/// IAM evaluation for `execute-api:Invoke` on `arn`: an explicit deny wins, then any allow,
/// else denied.
pub fn policy_allows(policy: &ApiGatewayCustomAuthorizerPolicy, arn: &str) -> bool {
    let matching = |effect: IamPolicyEffect| {
        policy.statement.iter().any(|s| {
            s.effect == effect
                && s.action.iter().any(|a| glob(a, "execute-api:Invoke"))
                && s.resource.iter().any(|r| glob(r, arn))
        })
    };
    !matching(IamPolicyEffect::Deny) && matching(IamPolicyEffect::Allow)
}

/// IAM wildcard match: `*` any run of characters (slashes included), `?` one character.
fn glob(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::auth::{ROUTES, Scope};

    fn arn(method: &str, path: &str) -> String {
        format!("arn:aws:execute-api:eu-west-1:123456789012:abc123/prod/{method}{path}")
    }

    #[test]
    fn parses_method_arns() {
        let a = MethodArn::parse(&arn("GET", "/products/p1")).unwrap();
        assert_eq!(
            a.base,
            "arn:aws:execute-api:eu-west-1:123456789012:abc123/prod"
        );
        assert_eq!(
            (a.method.as_str(), a.path.as_str()),
            ("GET", "/products/p1")
        );
        assert_eq!(a.to_arn(), arn("GET", "/products/p1"));
        for bad in [
            "",
            "arn:aws:s3:::bucket",
            "arn:aws:execute-api:r:a:api",
            // Each part on its own: the prefix, the service, the API, the stage, the method.
            "xrn:aws:execute-api:r:a:api/prod/GET/x",
            "arn:aws:lambda:r:a:api/prod/GET/x",
            "arn:aws:execute-api:r:a:/prod/GET/x",
            "arn:aws:execute-api:r:a:api//GET/x",
            "arn:aws:execute-api:r:a:api/prod//x",
        ] {
            assert!(MethodArn::parse(bad).is_none(), "{bad}");
        }
    }

    /// IAM's wildcards, as API Gateway matches a policy's resources against a method ARN.
    #[test]
    fn globs_match_as_iam_wildcards_do() {
        for (pattern, text) in [
            ("*", ""),
            ("*", "a/b/c"),
            ("a*", "a"),
            ("*/orders", "x/y/orders"),
            ("a*bc", "abxbc"),
            ("a?c", "abc"),
            ("*?", "x*"),
            ("a*b*c", "aXbYbZc"),
            ("GET/products/*", "GET/products/p1/history"),
        ] {
            assert!(glob(pattern, text), "{pattern} should match {text}");
        }
        for (pattern, text) in [
            ("a", ""),
            ("a?c", "ac"),
            ("a*c", "abcd"),
            ("*/orders", "x/orders/1"),
            ("GET/products/*", "PUT/products/p1"),
            ("a*b*c", "aXbY"),
        ] {
            assert!(!glob(pattern, text), "{pattern} should not match {text}");
        }
    }

    #[test]
    fn glob_matches_like_iam() {
        assert!(glob("a/*", "a/b/c"));
        assert!(glob("a/?", "a/b"));
        assert!(!glob("a/?", "a/bc"));
        assert!(glob("*", ""));
        assert!(!glob("a/GET/products", "a/GET/products/x"));
    }

    /// Under the authorizer cache, the policy for one call is reused for every other route: it
    /// must allow every route the scopes allow, and no other.
    #[test]
    fn policy_is_exactly_the_scopes_routes() {
        let here = MethodArn::parse(&arn("GET", "/products")).unwrap();
        let concrete = |resource: &str| resource.replace("{id}", "x-1");
        for scopes in [
            "",
            "products:read",
            "products:read orders:write",
            "orders:read",
            "products:write",
            "simulations:run",
            "products:read products:write orders:read orders:write simulations:run",
        ] {
            let principal = Principal::from_claims("alice", scopes, Some("acme")).unwrap();
            let policy = policy_for(&principal, &here);
            for route in ROUTES {
                let allowed = policy_allows(&policy, &arn(route.method, &concrete(route.resource)));
                assert_eq!(
                    allowed,
                    principal.has(route.scope),
                    "{scopes:?}: {} {}",
                    route.method,
                    route.resource
                );
            }
            for (method, path) in [
                ("DELETE", "/products/x"),
                ("GET", "/admin"),
                ("POST", "/products"),
            ] {
                assert!(
                    !policy_allows(&policy, &arn(method, path)),
                    "{scopes:?}: {method} {path}"
                );
            }
            // Another API or stage is never covered.
            let other = "arn:aws:execute-api:eu-west-1:123456789012:zzz/prod/GET/products";
            assert!(!policy_allows(&policy, other));
        }
        let _ = Scope::ALL;
    }
}

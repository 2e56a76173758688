//! API Gateway's route throttling, when asked for (`--throttle`): each route of the HTTP API has a
//! token bucket of its own, as the stack's `DefaultRouteSettings` give every route (login and
//! register get their `RouteSettings` instead), and a request past its route's bucket is answered
//! by the gateway, not the API: 429 `{"message": "Too Many Requests"}`, without `Retry-After` or
//! any header of ours. The routes and the buckets are read from `template.yaml`
//! ([`testkit::throttle`]), so the local server throttles what the stack throttles, by the same
//! numbers unless flags say otherwise. A path no route takes counts against the `$default` route,
//! as on AWS; the local server's own pages (which the stack does not serve) are not throttled.
//!
//! The WebSocket API's stage gives each of its routes a bucket too (`WebSocketThrottling*`). Its
//! `$connect` is mirrored: a handshake past the bucket is refused with that 429, before any
//! `$connect` runs. Messages on an open socket (`$default`) are not throttled here: AWS documents
//! the buckets but not what a client is told of a message past one, and the local server does not
//! make an answer up.
//!
//! Off by default: tests, benchmarks and scripts send far faster than 100 requests a second on
//! one route, as nothing in front of a deployed stack would let them.

use std::collections::BTreeMap;
use std::num::NonZeroU32;
use std::sync::Arc;

use anyhow::Context;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use testkit::throttle::{Bucket, http_api_routes, http_api_throttling, websocket_throttling};

/// The throttling flags (the defaults are the stack parameters' defaults).
#[derive(Debug, clap::Args)]
pub struct ThrottleArgs {
    /// Throttle each route of the API as the stack's HTTP API does: a token bucket per route
    /// (by default 100 requests a second with bursts of 200; 20 and 40 on login and on register),
    /// answering 429 {"message": "Too Many Requests"} past it, as API Gateway does; and WebSocket
    /// handshakes as its WebSocket API's $connect route (100 and 200, over all clients).
    #[arg(long, env = "TASKMASTER_THROTTLE")]
    throttle: bool,
    /// With --throttle: requests a second on each route (HttpApiThrottlingRateLimit) [default: 100].
    #[arg(long, value_name = "N", requires = "throttle", value_parser = clap::value_parser!(u32).range(1..))]
    throttle_rate: Option<u32>,
    /// With --throttle: the burst on each route (HttpApiThrottlingBurstLimit) [default: 200].
    #[arg(long, value_name = "N", requires = "throttle", value_parser = clap::value_parser!(u32).range(1..))]
    throttle_burst: Option<u32>,
    /// With --throttle: requests a second on login and on register each (AuthThrottlingRateLimit)
    /// [default: 20].
    #[arg(long, value_name = "N", requires = "throttle", value_parser = clap::value_parser!(u32).range(1..))]
    auth_throttle_rate: Option<u32>,
    /// With --throttle: the burst on login and on register each (AuthThrottlingBurstLimit)
    /// [default: 40].
    #[arg(long, value_name = "N", requires = "throttle", value_parser = clap::value_parser!(u32).range(1..))]
    auth_throttle_burst: Option<u32>,
    /// With --throttle: WebSocket handshakes a second, over all clients
    /// (WebSocketThrottlingRateLimit) [default: 100].
    #[arg(long, value_name = "N", requires = "throttle", value_parser = clap::value_parser!(u32).range(1..))]
    ws_throttle_rate: Option<u32>,
    /// With --throttle: the burst of WebSocket handshakes (WebSocketThrottlingBurstLimit)
    /// [default: 200].
    #[arg(long, value_name = "N", requires = "throttle", value_parser = clap::value_parser!(u32).range(1..))]
    ws_throttle_burst: Option<u32>,
}

/// Which API `path` is: the WebSocket API's, the local server's own pages (neither), or the
/// HTTP API's.
pub fn api_of(path: &str) -> Api {
    if crate::ws::serves(path) {
        Api::WebSocket
    } else if crate::pages::serves(path) {
        Api::Neither
    } else {
        Api::Http
    }
}

/// Which of the stack's APIs a path is, for its throttling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    /// The HTTP API: its route's bucket.
    Http,
    /// The WebSocket API: `$connect`'s bucket.
    WebSocket,
    /// Neither (the local server's own pages): never throttled.
    Neither,
}

impl ThrottleArgs {
    /// The routes' buckets, if throttling was asked for; `api` tells which API a path is.
    pub fn throttle(&self, api: fn(&str) -> Api) -> anyhow::Result<Option<Arc<Throttle>>> {
        if !self.throttle {
            return Ok(None);
        }
        let template = testkit::schema::TEMPLATE;
        let mut throttling = http_api_throttling(template)?;
        apply(
            &mut throttling.every_route,
            self.throttle_rate,
            self.throttle_burst,
        );
        for (_, bucket) in &mut throttling.routes {
            apply(bucket, self.auth_throttle_rate, self.auth_throttle_burst);
        }
        let mut handshakes = websocket_throttling(template)?;
        apply(
            &mut handshakes,
            self.ws_throttle_rate,
            self.ws_throttle_burst,
        );
        let routes = http_api_routes(template)?;
        let buckets = Buckets {
            every_route: throttling.every_route,
            own: &throttling.routes,
            handshakes,
        };
        let throttle = Throttle::new(&routes, &buckets, api)?;
        Ok(Some(Arc::new(throttle)))
    }
}

fn apply(bucket: &mut Bucket, rate: Option<u32>, burst: Option<u32>) {
    bucket.rate = rate.unwrap_or(bucket.rate);
    bucket.burst = burst.unwrap_or(bucket.burst);
}

/// The buckets the template gives, before they are filled.
pub struct Buckets<'a> {
    /// Each HTTP API route's, unless it is in `own`.
    pub every_route: Bucket,
    /// HTTP API routes with settings of their own, by route key (`"POST /api/v1/auth/login"`).
    pub own: &'a [(String, Bucket)],
    /// The WebSocket API's `$connect`.
    pub handshakes: Bucket,
}

/// Every route's bucket, and which route a request is.
pub struct Throttle {
    /// By route path (and the same path with a trailing slash): each method's bucket.
    paths: matchit::Router<Vec<(Method, usize)>>,
    /// The `$default` route's first ([`DEFAULT_ROUTE`]), then one per route.
    buckets: Vec<DefaultDirectRateLimiter>,
    /// The WebSocket API's `$connect`.
    handshakes: DefaultDirectRateLimiter,
    /// Which API a path is.
    api: fn(&str) -> Api,
}

/// Where the `$default` route's bucket is: requests no route takes.
const DEFAULT_ROUTE: usize = 0;

impl Throttle {
    /// The HTTP API's `routes` as `(method, path)`, each with its bucket of `buckets`; `api`
    /// tells which API a path is.
    pub fn new(
        routes: &[(String, String)],
        buckets: &Buckets<'_>,
        api: fn(&str) -> Api,
    ) -> anyhow::Result<Self> {
        let &Buckets {
            every_route,
            own,
            handshakes,
        } = buckets;
        let limiter = |bucket: Bucket| -> anyhow::Result<DefaultDirectRateLimiter> {
            let rate = NonZeroU32::new(bucket.rate).context("a rate of 0")?;
            let burst = NonZeroU32::new(bucket.burst).context("a burst of 0")?;
            Ok(RateLimiter::direct(
                Quota::per_second(rate).allow_burst(burst),
            ))
        };
        let mut buckets = vec![limiter(every_route)?];
        let mut by_path: BTreeMap<&str, Vec<(Method, usize)>> = BTreeMap::new();
        for (method, path) in routes {
            let key = format!("{method} {path}");
            let bucket = own
                .iter()
                .find(|(route, _)| *route == key)
                .map_or(every_route, |(_, bucket)| *bucket);
            buckets.push(limiter(bucket)?);
            let method = Method::from_bytes(method.as_bytes()).context("a route's method")?;
            by_path
                .entry(path)
                .or_default()
                .push((method, buckets.len() - 1));
        }
        let mut paths = matchit::Router::new();
        for (path, methods) in by_path {
            paths.insert(path, methods.clone())?;
            paths.insert(format!("{path}/"), methods)?;
        }
        Ok(Self {
            paths,
            buckets,
            handshakes: limiter(handshakes)?,
            api,
        })
    }

    /// The bucket a request of `method` to `path` counts against; `None` for a path of neither
    /// API.
    fn bucket(&self, method: &Method, path: &str) -> Option<&DefaultDirectRateLimiter> {
        match (self.api)(path) {
            Api::Http => Some(self.route_bucket(method, path)),
            Api::WebSocket => Some(&self.handshakes),
            Api::Neither => None,
        }
    }

    /// The bucket of the HTTP API's route `method` and `path` reach: its own, or `$default`'s.
    fn route_bucket(&self, method: &Method, path: &str) -> &DefaultDirectRateLimiter {
        let route = self.paths.at(path).ok().and_then(|found| {
            found
                .value
                .iter()
                .find(|(route_method, _)| route_method == method)
        });
        &self.buckets[route.map_or(DEFAULT_ROUTE, |(_, bucket)| *bucket)]
    }
}

/// Answers a request past its route's bucket as API Gateway does (a WebSocket handshake too,
/// refused before its `$connect`); lets any other through.
pub async fn throttle(
    State(throttle): State<Arc<Throttle>>,
    request: Request,
    next: Next,
) -> Response {
    let bucket = throttle.bucket(request.method(), request.uri().path());
    if bucket.is_none_or(|bucket| bucket.check().is_ok()) {
        return next.run(request).await;
    }
    let mut response = (
        StatusCode::TOO_MANY_REQUESTS,
        r#"{"message":"Too Many Requests"}"#,
    )
        .into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;

    fn throttle() -> Throttle {
        let routes = [
            ("GET", "/api/v1/tasks"),
            ("GET", "/api/v1/tasks/{id}"),
            ("DELETE", "/api/v1/tasks/{id}"),
            ("POST", "/api/v1/auth/login"),
        ]
        .map(|(method, path)| (method.to_owned(), path.to_owned()));
        let own = [(
            "POST /api/v1/auth/login".to_owned(),
            Bucket { rate: 1, burst: 1 },
        )];
        let buckets = Buckets {
            every_route: Bucket { rate: 1, burst: 2 },
            own: &own,
            handshakes: Bucket { rate: 1, burst: 3 },
        };
        Throttle::new(&routes, &buckets, api).expect("a throttle")
    }

    /// The WebSocket API at `/ws/…`, the local server's own pages at `/` and `/web/…`.
    fn api(path: &str) -> Api {
        if path.starts_with("/ws/") {
            Api::WebSocket
        } else if path == "/" || path.starts_with("/web/") {
            Api::Neither
        } else {
            Api::Http
        }
    }

    /// Drains routes' buckets and checks what each let through against what it should have,
    /// allowing for the tokens its rate has added since the test began: a test thread held off a
    /// core for 10 ms would otherwise see one request more than a bucket of 100 a second holds.
    struct Drain {
        began: Instant,
    }

    impl Drain {
        fn new() -> Self {
            Self {
                began: Instant::now(),
            }
        }

        /// Takes requests in a row (up to 500) on the route of `method` and `path`, and checks
        /// that `expected` went through, or at most as many more as `rate` a second has added.
        fn takes(
            &self,
            throttle: &Throttle,
            method: Method,
            path: &str,
            expected: usize,
            rate: u32,
        ) {
            let bucket = throttle.bucket(&method, path).expect("a throttled path");
            let taken = (0..500).take_while(|_| bucket.check().is_ok()).count();
            let added = (self.began.elapsed().as_secs_f64() * f64::from(rate)).ceil() as usize;
            assert!(
                (expected..=expected + added).contains(&taken),
                "{method} {path}: {taken} let through, {expected} expected (+{added} added since)"
            );
        }
    }

    #[derive(clap::Parser)]
    struct Flags {
        #[command(flatten)]
        throttle: ThrottleArgs,
    }

    fn parsed(args: &[&str]) -> Result<Option<Arc<Throttle>>, clap::Error> {
        use clap::Parser;
        let flags =
            Flags::try_parse_from(std::iter::once("taskmaster-local").chain(args.iter().copied()))?;
        Ok(flags
            .throttle
            .throttle(api)
            .expect("the template's throttling"))
    }

    #[test]
    fn off_unless_asked_for_and_then_the_templates_numbers() {
        let drain = Drain::new();
        assert!(parsed(&[]).expect("no flags").is_none());
        assert!(
            parsed(&["--throttle-rate", "5"]).is_err(),
            "needs --throttle"
        );
        assert!(parsed(&["--throttle", "--throttle-burst", "0"]).is_err());
        let throttle = parsed(&["--throttle"]).expect("flags").expect("a throttle");
        drain.takes(&throttle, Method::GET, "/api/v1/tasks/", 200, 100);
        drain.takes(&throttle, Method::POST, "/api/v1/auth/register/", 40, 20);
        drain.takes(&throttle, Method::GET, "/ws/tasks", 200, 100);
        let flags = [
            "--throttle",
            "--auth-throttle-burst",
            "3",
            "--ws-throttle-burst",
            "4",
        ];
        let throttle = parsed(&flags).expect("flags").expect("a throttle");
        drain.takes(&throttle, Method::POST, "/api/v1/auth/login/", 3, 20);
        drain.takes(&throttle, Method::PATCH, "/api/v1/tasks/x/", 200, 100);
        drain.takes(&throttle, Method::GET, "/ws/tasks/", 4, 100);
    }

    #[test]
    fn each_route_has_a_bucket_of_its_own() {
        let drain = Drain::new();
        let throttle = throttle();
        drain.takes(&throttle, Method::GET, "/api/v1/tasks/a", 2, 1);
        // The same route, whichever task, with or without the trailing slash.
        drain.takes(&throttle, Method::GET, "/api/v1/tasks/b/", 0, 1);
        // Another method of the same path is another route.
        drain.takes(&throttle, Method::DELETE, "/api/v1/tasks/a", 2, 1);
        drain.takes(&throttle, Method::GET, "/api/v1/tasks/", 2, 1);
        // Login's settings of its own.
        drain.takes(&throttle, Method::POST, "/api/v1/auth/login/", 1, 1);
    }

    #[test]
    fn what_no_route_takes_shares_the_default_routes_bucket() {
        let drain = Drain::new();
        let throttle = throttle();
        drain.takes(&throttle, Method::GET, "/api/v1/nothing", 2, 1);
        drain.takes(&throttle, Method::PATCH, "/api/v1/tasks", 0, 1);
        drain.takes(&throttle, Method::GET, "/api/v1/tasks/a/b", 0, 1);
    }

    #[test]
    fn websocket_handshakes_share_connects_bucket_and_pages_none() {
        let drain = Drain::new();
        let throttle = throttle();
        drain.takes(&throttle, Method::GET, "/ws/tasks", 3, 1);
        drain.takes(&throttle, Method::GET, "/ws/tasks/", 0, 1);
        // The HTTP API's buckets are apart from it.
        drain.takes(&throttle, Method::GET, "/api/v1/tasks/", 2, 1);
        assert!(throttle.bucket(&Method::GET, "/").is_none());
        assert!(throttle.bucket(&Method::GET, "/web/app.js").is_none());
    }
}

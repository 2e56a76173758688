//! The HTTP API's routes and their throttling, and the WebSocket API's, as `template.yaml` declares
//! them, read once, so the local server can throttle each route as the deployed APIs do
//! (`taskmaster-local --throttle`).

use anyhow::{Context, bail};
use serde_norway::Value;

use crate::cors::{http_api, resolve};

/// A token bucket: `rate` requests a second on average, and up to `burst` at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bucket {
    pub rate: u32,
    pub burst: u32,
}

/// What the template's HTTP API throttles, with `!Ref` parameters resolved to their defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Throttling {
    /// `DefaultRouteSettings`: each route's own bucket, the `$default` route's included.
    pub every_route: Bucket,
    /// `RouteSettings`: routes (route keys such as `POST /api/v1/auth/login`) with a bucket of
    /// their own settings instead.
    pub routes: Vec<(String, Bucket)>,
}

/// Reads the throttling of the `AWS::Serverless::HttpApi` in `template`.
pub fn http_api_throttling(template: &str) -> anyhow::Result<Throttling> {
    let doc: Value = serde_norway::from_str(template).context("parsing template.yaml")?;
    let properties = &http_api(&doc)?["Properties"];
    let every_route = bucket(&doc, &properties["DefaultRouteSettings"])?;
    let routes = match properties["RouteSettings"].as_mapping() {
        None => Vec::new(),
        Some(routes) => routes
            .iter()
            .map(|(key, settings)| {
                let key = key.as_str().context("a route key that is not a string")?;
                Ok((key.to_owned(), bucket(&doc, settings)?))
            })
            .collect::<anyhow::Result<_>>()?,
    };
    Ok(Throttling {
        every_route,
        routes,
    })
}

/// Each WebSocket route's own bucket (`$connect`'s, `$default`'s, `$disconnect`'s): the
/// `DefaultRouteSettings` of the template's one `AWS::ApiGatewayV2::Stage`, the WebSocket API's.
pub fn websocket_throttling(template: &str) -> anyhow::Result<Bucket> {
    let doc: Value = serde_norway::from_str(template).context("parsing template.yaml")?;
    let resources = doc["Resources"]
        .as_mapping()
        .context("template.yaml has no Resources")?;
    let mut stages = resources
        .values()
        .filter(|r| r["Type"].as_str() == Some("AWS::ApiGatewayV2::Stage"));
    let stage = stages
        .next()
        .context("template.yaml has no AWS::ApiGatewayV2::Stage")?;
    if stages.next().is_some() {
        bail!("template.yaml has more than one AWS::ApiGatewayV2::Stage");
    }
    bucket(&doc, &stage["Properties"]["DefaultRouteSettings"])
}

/// The bucket of a route's `settings` (`ThrottlingRateLimit`, `ThrottlingBurstLimit`), `!Ref`s
/// resolved to their parameters' defaults.
fn bucket(doc: &Value, settings: &Value) -> anyhow::Result<Bucket> {
    let number = |field: &str| -> anyhow::Result<u32> {
        let value = resolve(doc, &settings[field])?;
        let number = value
            .as_u64()
            .with_context(|| format!("{field} is not a whole number"))?;
        if number == 0 {
            bail!("{field} is 0");
        }
        Ok(u32::try_from(number)?)
    };
    Ok(Bucket {
        rate: number("ThrottlingRateLimit")?,
        burst: number("ThrottlingBurstLimit")?,
    })
}

/// The HTTP API's routes other than `$default`, as `(method, path)`: each `HttpApi` event of the
/// template's functions (`("GET", "/api/v1/tasks/{id}")`).
pub fn http_api_routes(template: &str) -> anyhow::Result<Vec<(String, String)>> {
    let doc: Value = serde_norway::from_str(template).context("parsing template.yaml")?;
    let resources = doc["Resources"]
        .as_mapping()
        .context("template.yaml has no Resources")?;
    let mut routes = Vec::new();
    for resource in resources.values() {
        let Some(events) = resource["Properties"]["Events"].as_mapping() else {
            continue;
        };
        for event in events.values() {
            if event["Type"].as_str() != Some("HttpApi") {
                continue;
            }
            let field = |name: &str| {
                event["Properties"][name]
                    .as_str()
                    .with_context(|| format!("an HttpApi event without {name}"))
            };
            let path = field("Path")?;
            if path != "$default" {
                routes.push((field("Method")?.to_uppercase(), path.to_owned()));
            }
        }
    }
    Ok(routes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::TEMPLATE;

    #[test]
    fn the_templates_throttling_resolves_its_parameters() {
        let throttling = http_api_throttling(TEMPLATE).expect("readable throttling");
        assert_eq!(
            throttling.every_route,
            Bucket {
                rate: 100,
                burst: 200
            }
        );
        let mut routes = throttling.routes;
        routes.sort_by(|a, b| a.0.cmp(&b.0));
        let auth = Bucket {
            rate: 20,
            burst: 40,
        };
        assert_eq!(
            routes,
            [
                ("POST /api/v1/auth/login".to_owned(), auth),
                ("POST /api/v1/auth/register".to_owned(), auth),
            ]
        );
    }

    #[test]
    fn the_websocket_stages_throttling_resolves_its_parameters() {
        let bucket = websocket_throttling(TEMPLATE).expect("readable throttling");
        assert_eq!(
            bucket,
            Bucket {
                rate: 100,
                burst: 200
            }
        );
    }

    #[test]
    fn every_routed_event_is_read() {
        let routes = http_api_routes(TEMPLATE).expect("readable routes");
        for route in [
            ("POST", "/api/v1/auth/login"),
            ("GET", "/api/v1/tasks/{id}"),
            ("DELETE", "/api/v1/tasks/{id}"),
            ("GET", "/api/v1/openapi.json"),
        ] {
            assert!(
                routes.contains(&(route.0.to_owned(), route.1.to_owned())),
                "{route:?} in {routes:?}"
            );
        }
        assert!(routes.iter().all(|(_, path)| path.starts_with("/api/v1/")));
    }
}

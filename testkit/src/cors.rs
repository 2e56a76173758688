//! The HTTP API's CORS settings as `template.yaml` declares them, read once, so the local server
//! answers browsers exactly as the deployed API will.

use anyhow::{Context, bail};
use serde_norway::Value;

/// `CorsConfiguration` of the template's HTTP API, with `!Ref` parameters resolved to their
/// defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CorsSettings {
    pub allow_origins: Vec<String>,
    pub allow_headers: Vec<String>,
    pub allow_methods: Vec<String>,
    pub expose_headers: Vec<String>,
    pub max_age_seconds: u64,
}

/// Reads the `CorsConfiguration` of the `AWS::Serverless::HttpApi` in `template`.
pub fn cors_settings(template: &str) -> anyhow::Result<CorsSettings> {
    let doc: Value = serde_norway::from_str(template).context("parsing template.yaml")?;
    let cors = &http_api(&doc)?["Properties"]["CorsConfiguration"];
    let list = |field: &str| -> anyhow::Result<Vec<String>> {
        let value = resolve(&doc, &cors[field])?;
        match value {
            Value::Sequence(items) => items
                .iter()
                .map(|item| {
                    item.as_str()
                        .map(str::to_owned)
                        .with_context(|| format!("{field}: not a string"))
                })
                .collect(),
            // A CommaDelimitedList parameter's default.
            Value::String(text) => Ok(text.split(',').map(|s| s.trim().to_owned()).collect()),
            other => bail!("CorsConfiguration.{field}: unexpected {other:?}"),
        }
    };
    Ok(CorsSettings {
        allow_origins: list("AllowOrigins")?,
        allow_headers: list("AllowHeaders")?,
        allow_methods: list("AllowMethods")?,
        expose_headers: list("ExposeHeaders")?,
        max_age_seconds: cors["MaxAge"]
            .as_u64()
            .context("CorsConfiguration.MaxAge is not a number")?,
    })
}

/// The one `AWS::Serverless::HttpApi` resource of the template `doc`.
pub(crate) fn http_api(doc: &Value) -> anyhow::Result<&Value> {
    let resources = doc["Resources"]
        .as_mapping()
        .context("template.yaml has no Resources")?;
    resources
        .values()
        .find(|r| r["Type"].as_str() == Some("AWS::Serverless::HttpApi"))
        .context("template.yaml has no AWS::Serverless::HttpApi")
}

/// `value`, or for `!Ref Parameter` that parameter's default.
pub(crate) fn resolve(doc: &Value, value: &Value) -> anyhow::Result<Value> {
    let Value::Tagged(tagged) = value else {
        return Ok(value.clone());
    };
    if tagged.tag != "Ref" {
        bail!("unsupported tag {} in an API's settings", tagged.tag);
    }
    let name = tagged.value.as_str().context("!Ref of a non-string")?;
    let default = &doc["Parameters"][name]["Default"];
    if default.is_null() {
        bail!("parameter {name} has no default");
    }
    Ok(default.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_templates_settings_resolve_their_parameters() {
        let settings = cors_settings(crate::schema::TEMPLATE).expect("readable settings");
        assert_eq!(settings.allow_origins, ["*"]);
        assert!(settings.allow_methods.iter().any(|m| m == "PATCH"));
        assert!(settings.allow_headers.iter().any(|h| h == "Authorization"));
        assert!(settings.max_age_seconds > 0);
    }
}

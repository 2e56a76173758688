//! What the annotated operations leave unsaid, said once for all of them: who may call an
//! operation that needs no token (`security: []`, rather than nothing at all), and what any
//! operation may answer besides what it lists (a `default` response).

use utoipa::Modify;
use utoipa::openapi::content::ContentBuilder;
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::schema::{OneOfBuilder, Schema};
use utoipa::openapi::{OpenApi as Document, Ref, RefOr};

const OTHER: &str = "Other";

/// The refusals operations list that API Gateway also answers on AWS, in its own form: the body
/// of each is either, so that a client generated from the document reads both.
const ALSO_FROM_THE_GATEWAY: [(&str, &str); 2] = [
    (
        "TooManyRequests",
        " On AWS (and locally with `--throttle`), API Gateway's route throttling also answers \
         429, in `{\"message\": \"Too Many Requests\"}` and without `Retry-After` or this API's \
         headers: back off and retry.",
    ),
    (
        "Unavailable",
        " On AWS, API Gateway also answers 503 when a function could not answer, in \
         `{\"message\": ...}` and without this API's headers.",
    ),
];

/// Marks every operation without a security requirement as open to anyone, and gives every
/// operation the `default` response [`OTHER`].
pub struct Outcomes;

impl Modify for Outcomes {
    fn modify(&self, doc: &mut Document) {
        let body = detail_or_message();
        let other = ResponseBuilder::new()
            .description(
                "Any other answer. From the API, in `{\"detail\": ...}`: 404 for a path it does \
                 not serve, 405 for a method the path does not take (with `Allow`), 500 for a \
                 failure of its own. On AWS, from API Gateway itself, in `{\"message\": ...}` and \
                 without this API's headers: 429 when a route's throttling refuses the request \
                 (no `Retry-After`; back off and retry), 500, 502, 503 or 504 when a function \
                 could not answer.",
            )
            .content(
                "application/json",
                ContentBuilder::new().schema(Some(body)).build(),
            )
            .build();
        let responses = &mut doc
            .components
            .get_or_insert_with(Default::default)
            .responses;
        for (name, said) in ALSO_FROM_THE_GATEWAY {
            if let Some(RefOr::T(response)) = responses.get_mut(name) {
                response.description.push_str(said);
                for content in response.content.values_mut() {
                    if let RefOr::T(content) = content {
                        let body = Schema::OneOf(detail_or_message().build());
                        content.schema = Some(RefOr::T(body));
                    }
                }
            }
        }
        responses.insert(OTHER.into(), RefOr::T(other));
        for item in doc.paths.paths.values_mut() {
            for (_, operation) in super::operations(item) {
                operation.security.get_or_insert_with(Vec::new);
                operation.responses.responses.insert(
                    "default".into(),
                    RefOr::Ref(Ref::new(format!("#/components/responses/{OTHER}"))),
                );
            }
        }
    }
}

/// A body of this API's (`{"detail": ...}`) or of API Gateway's (`{"message": ...}`).
fn detail_or_message() -> OneOfBuilder {
    OneOfBuilder::new()
        .item(Ref::from_schema_name("Detail"))
        .item(Ref::from_schema_name("Message"))
}

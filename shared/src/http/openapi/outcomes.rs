//! What the annotated operations leave unsaid, said once for all of them: who may call an
//! operation that needs no token (`security: []`, rather than nothing at all), and what any
//! operation may answer besides what it lists (a `default` response).

use utoipa::Modify;
use utoipa::openapi::content::ContentBuilder;
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::schema::OneOfBuilder;
use utoipa::openapi::{OpenApi as Document, Ref, RefOr};

const OTHER: &str = "Other";

/// Marks every operation without a security requirement as open to anyone, and gives every
/// operation the `default` response [`OTHER`].
pub struct Outcomes;

impl Modify for Outcomes {
    fn modify(&self, doc: &mut Document) {
        let body = OneOfBuilder::new()
            .item(Ref::from_schema_name("Detail"))
            .item(Ref::from_schema_name("Message"));
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
        doc.components
            .get_or_insert_with(Default::default)
            .responses
            .insert(OTHER.into(), RefOr::T(other));
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

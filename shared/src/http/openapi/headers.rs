//! The headers every operation shares, declared once in the document's components and referenced
//! from each operation and response: the request id a client may send and always gets back, and
//! `Cache-Control` (`super::super::default_headers`, `super::super::carrying_tokens`).

use utoipa::Modify;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::path::{ParameterBuilder, ParameterIn};
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::{OpenApi as Document, Ref, RefOr, Required, Response};

const CACHE_CONTROL: &str = "CacheControl";
const REQUEST_ID: &str = "RequestId";

/// Adds the shared headers to every operation and response of the document.
pub struct CommonHeaders;

impl Modify for CommonHeaders {
    fn modify(&self, doc: &mut Document) {
        let components = doc.components.get_or_insert_with(Default::default);
        let text = |description: &str| {
            HeaderBuilder::new()
                .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
                .description(Some(description))
                .build()
        };
        components.headers.insert(
            CACHE_CONTROL.into(),
            RefOr::T(text(
                "`no-store` on the answers of register, login, token refresh and password change, \
                 which carry tokens; `private, no-cache` on every other answer.",
            )),
        );
        components.headers.insert(
            REQUEST_ID.into(),
            RefOr::T(text(
                "This request's id, as the logs name it: the client's own `X-Request-Id` when it \
                 was 1 to 64 letters, digits or hyphens, else one made by the server.",
            )),
        );
        let parameter = ParameterBuilder::new()
            .name("X-Request-Id")
            .parameter_in(ParameterIn::Header)
            .required(Required::False)
            .description(Some(
                "An id of the client's for this request, echoed and logged; any other value is \
                 replaced by one of the server's.",
            ))
            .schema(Some(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .pattern(Some("^[A-Za-z0-9-]{1,64}$")),
            ))
            .build();
        components
            .parameters
            .insert(REQUEST_ID.into(), RefOr::T(parameter));
        for response in components.responses.values_mut() {
            add_headers(response);
        }
        for item in doc.paths.paths.values_mut() {
            for (_, operation) in super::operations(item) {
                let reference =
                    RefOr::Ref(Ref::new(format!("#/components/parameters/{REQUEST_ID}")));
                operation
                    .parameters
                    .get_or_insert_with(Vec::new)
                    .push(reference);
                for response in operation.responses.responses.values_mut() {
                    add_headers(response);
                }
            }
        }
    }
}

/// Adds the shared response headers to `response`, unless it refers to a component response
/// (which gets them itself).
fn add_headers(response: &mut RefOr<Response>) {
    let RefOr::T(response) = response else {
        return;
    };
    for (name, component) in [
        ("Cache-Control", CACHE_CONTROL),
        ("X-Request-Id", REQUEST_ID),
    ] {
        let reference = Ref::new(format!("#/components/headers/{component}"));
        response.headers.insert(name.into(), RefOr::Ref(reference));
    }
}

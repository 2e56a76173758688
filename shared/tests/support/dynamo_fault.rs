//! [`Fault`]: an SDK interceptor that makes one DynamoDB operation fail the way DynamoDB Local
//! never does, or lands it and loses its answer.

// Test helpers panic to report a failure.
#![allow(clippy::unwrap_used)]

use std::sync::atomic::{AtomicUsize, Ordering};

use aws_sdk_dynamodb::config::interceptors::{
    BeforeDeserializationInterceptorContextMut, BeforeTransmitInterceptorContextMut,
};
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::retries::RequestAttempts;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::config_bag::{Storable, StoreReplace};
use serde_json::{Value, json};

/// Makes one operation fail with a DynamoDB error: its request is emptied before it is sent (so
/// DynamoDB Local applies nothing) and the response is replaced by the error. It fails every
/// attempt, or only the first `times` attempts. Or, [`Fault::answer_lost`], the request goes
/// through and only its answer is replaced, as when a send times out after DynamoDB applied it.
#[derive(Debug)]
pub struct Fault {
    operation: &'static str,
    error_body: Value,
    /// Attempts still to fail; `None`: all of them.
    remaining: Option<AtomicUsize>,
    /// Whether the request still reaches DynamoDB.
    applied: bool,
    /// Only requests whose body holds this text.
    holding: &'static str,
    /// Only each call's first send, not the SDK's resends of it.
    first_sends: bool,
}

/// Marks an attempt the fault applies to, between its two hooks.
#[derive(Debug, Clone)]
struct Faulted;

impl Storable for Faulted {
    type Storer = StoreReplace<Self>;
}

impl Intercept for Fault {
    fn name(&self) -> &'static str {
        "Fault"
    }

    fn modify_before_transmit(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let holds = |body: &[u8]| {
            self.holding.is_empty()
                || body
                    .windows(self.holding.len())
                    .any(|w| w == self.holding.as_bytes())
        };
        if context.request().body().bytes().is_some_and(holds) && self.applies(cfg) {
            if !self.applied {
                let request = context.request_mut();
                *request.body_mut() = SdkBody::from("{}");
                request.headers_mut().insert("content-length", "2");
            }
            cfg.interceptor_state().store_put(Faulted);
        } else {
            cfg.interceptor_state().unset::<Faulted>();
        }
        Ok(())
    }

    fn modify_before_deserialization(
        &self,
        context: &mut BeforeDeserializationInterceptorContextMut<'_>,
        _: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if cfg.load::<Faulted>().is_some() {
            let response = context.response_mut();
            // The status DynamoDB gives the error: 5xx for its own failures (a lost answer is
            // one), which the SDK sends again, 400 for the rest (throttling, conflicts).
            let kind = self.error_body["__type"].as_str().unwrap_or_default();
            let status: u16 = match kind.rsplit('#').next() {
                Some("InternalServerError") => 500,
                Some("ServiceUnavailable") => 503,
                _ => 400,
            };
            *response.status_mut() = status.try_into()?;
            *response.body_mut() = SdkBody::from(self.error_body.to_string());
        }
        Ok(())
    }
}

impl Fault {
    /// Every attempt of `operation` fails with `error_body`.
    pub fn always(operation: &'static str, error_body: Value) -> Self {
        Self {
            operation,
            error_body,
            remaining: None,
            applied: false,
            holding: "",
            first_sends: false,
        }
    }

    /// The first `times` attempts of `operation` fail with `error_body`, later ones go through.
    pub fn times(operation: &'static str, error_body: Value, times: usize) -> Self {
        Self {
            remaining: Some(AtomicUsize::new(times)),
            ..Self::always(operation, error_body)
        }
    }

    /// The first attempt of `operation` whose request holds `holding` is applied, but its answer
    /// is lost: the SDK sees a 500, a transient failure, and sends it again.
    pub fn answer_lost(operation: &'static str, holding: &'static str) -> Self {
        let error = json!({ "__type": "com.amazonaws.dynamodb.v20120810#InternalServerError", "message": "lost" });
        Self {
            applied: true,
            holding,
            ..Self::times(operation, error, 1)
        }
    }

    /// Every call of `operation` whose request holds `holding` is applied but the answer to its
    /// first send is lost: the SDK sends it again, and both sends land, as when DynamoDB is slow
    /// past the SDK's attempt timeout.
    pub fn every_first_answer_lost(operation: &'static str, holding: &'static str) -> Self {
        Self {
            first_sends: true,
            ..Self::every_answer_lost(operation, holding)
        }
    }

    /// Every send of `operation` whose request holds `holding` is applied and its answer lost:
    /// the call fails, though every send landed (DynamoDB answering past the call's timeout).
    pub fn every_answer_lost(operation: &'static str, holding: &'static str) -> Self {
        Self {
            remaining: None,
            ..Self::answer_lost(operation, holding)
        }
    }

    /// Only the requests whose body holds `text`: one item's write among others, say.
    pub fn holding(self, text: &'static str) -> Self {
        Self {
            holding: text,
            ..self
        }
    }

    /// Whether this attempt fails (and, when counted, uses up one failure).
    fn applies(&self, cfg: &ConfigBag) -> bool {
        let operation = cfg
            .load::<Metadata>()
            .is_some_and(|m| m.name() == self.operation);
        let first_send = || cfg.load::<RequestAttempts>().map(|a| a.attempts()) == Some(1);
        operation
            && (!self.first_sends || first_send())
            && self.remaining.as_ref().is_none_or(|left| {
                left.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                    .is_ok()
            })
    }
}

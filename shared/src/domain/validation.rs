//! Field-keyed validation errors, collected so that one answer names every bad field.

use std::collections::BTreeMap;

/// Messages per field, in the original API's shape: `{"field": ["message", ...]}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
#[serde(transparent)]
pub struct FieldErrors(BTreeMap<String, Vec<String>>);

impl FieldErrors {
    /// One error on one field.
    pub fn single(field: &str, message: impl Into<String>) -> Self {
        let mut errors = Self::default();
        errors.add(field, message);
        errors
    }

    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        self.0
            .entry(field.to_owned())
            .or_default()
            .push(message.into());
    }

    /// Parses a required field read with `#[serde(default, deserialize_with = "nullable")]`:
    /// "required" when left out, "may not be null" when sent as `null`, else the parser's message
    /// when invalid, as the original API answered.
    pub fn required<R, T>(
        &mut self,
        field: &str,
        raw: Option<Option<R>>,
        parse: impl FnOnce(R) -> Result<T, String>,
    ) -> Option<T> {
        match raw {
            Some(raw) => self.check(field, non_null(parse)(raw)),
            None => {
                self.add(field, "This field is required.");
                None
            }
        }
    }

    /// Parses an optional field: `None` when absent, `Some(None)` when present but invalid
    /// (then recorded). `.flatten()` gives the value when only validity matters.
    pub fn optional<R, T>(
        &mut self,
        field: &str,
        raw: Option<R>,
        parse: impl FnOnce(R) -> Result<T, String>,
    ) -> Option<Option<T>> {
        raw.map(|raw| self.check(field, parse(raw)))
    }

    /// Keeps the value, or records the message under `field`.
    pub fn check<T>(&mut self, field: &str, result: Result<T, String>) -> Option<T> {
        result.map_err(|message| self.add(field, message)).ok()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `Ok(())` when no field failed.
    pub fn into_result(self) -> Result<(), Self> {
        if self.is_empty() { Ok(()) } else { Err(self) }
    }
}

/// `parse` for a field that may be left out but not sent as `null` (read as `Option<R>`, `None`
/// being the `null`), with the original API's message.
pub fn non_null<R, T>(
    parse: impl FnOnce(R) -> Result<T, String>,
) -> impl FnOnce(Option<R>) -> Result<T, String> {
    move |value| parse(value.ok_or_else(|| "This field may not be null.".to_owned())?)
}

/// Checks a text field as the original API's serializers did, with their messages: no NUL
/// character (clients and stores built on C strings trip on one), and its length in characters
/// (Unicode code points) within `min..=max`.
pub(crate) fn check_text(value: &str, min: usize, max: usize) -> Result<(), String> {
    check_no_nul(value)?;
    let len = value.chars().count();
    if len < min {
        if min == 1 {
            return Err("This field may not be blank.".into());
        }
        return Err(format!("Ensure this field has at least {min} characters."));
    }
    if len > max {
        return Err(format!(
            "Ensure this field has no more than {max} characters."
        ));
    }
    Ok(())
}

/// Refuses a NUL character, as Django REST framework refuses one in any text field.
pub(crate) fn check_no_nul(value: &str) -> Result<(), String> {
    if value.contains('\0') {
        return Err("Null characters are not allowed.".into());
    }
    Ok(())
}

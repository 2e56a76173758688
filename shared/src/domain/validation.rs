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

    /// Parses a required text field read with `#[serde(default, deserialize_with = "nullable")]`:
    /// "required" when left out, "may not be null" when sent as `null`, "not a valid string" when
    /// no text, else the parser's message when invalid, as the original API answered.
    pub fn required<T>(
        &mut self,
        field: &str,
        raw: Option<Option<Text>>,
        parse: impl FnOnce(String) -> Result<T, String>,
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

/// `parse` for a text field that may be left out but not sent as `null` (read as `Option<Text>`,
/// `None` being the `null`), with the original API's message.
pub fn non_null<T>(
    parse: impl FnOnce(String) -> Result<T, String>,
) -> impl FnOnce(Option<Text>) -> Result<T, String> {
    move |value| text(parse)(value.ok_or_else(|| "This field may not be null.".to_owned())?)
}

/// `parse` for a text field: a value that is no text is refused with the original API's message.
pub fn text<T>(
    parse: impl FnOnce(String) -> Result<T, String>,
) -> impl FnOnce(Text) -> Result<T, String> {
    move |value| match value {
        Text::Given(text) => parse(text),
        Text::NotText => Err("Not a valid string.".to_owned()),
    }
}

/// A request body's text field as the original app's framework (Django REST framework) read one:
/// a string, or a number read as its text (`5` is `"5"`, `1.5` is `"1.5"`, and `1e16` is
/// `"1e+16"`, as Python writes it). Any other value (`true`, a list, an object) is no text. It is
/// kept as such rather than failing the body, so that one answer names it beside every other bad
/// field. A `null` is read around it (`Option<Text>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Text {
    /// A string as sent, or a number's text.
    Given(String),
    /// `true`, `false`, a list or an object.
    NotText,
}

impl<'de> serde::Deserialize<'de> for Text {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(TextVisitor)
    }
}

struct TextVisitor;

impl<'de> serde::de::Visitor<'de> for TextVisitor {
    type Value = Text;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_str<E>(self, value: &str) -> Result<Text, E> {
        Ok(Text::Given(value.to_owned()))
    }

    fn visit_string<E>(self, value: String) -> Result<Text, E> {
        Ok(Text::Given(value))
    }

    fn visit_i64<E>(self, value: i64) -> Result<Text, E> {
        Ok(Text::Given(value.to_string()))
    }

    fn visit_u64<E>(self, value: u64) -> Result<Text, E> {
        Ok(Text::Given(value.to_string()))
    }

    fn visit_f64<E>(self, value: f64) -> Result<Text, E> {
        Ok(Text::Given(python_float(value)))
    }

    fn visit_bool<E>(self, _: bool) -> Result<Text, E> {
        Ok(Text::NotText)
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Text, A::Error> {
        while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
        Ok(Text::NotText)
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Text, A::Error> {
        while map
            .next_entry::<serde::de::IgnoredAny, serde::de::IgnoredAny>()?
            .is_some()
        {}
        Ok(Text::NotText)
    }
}

/// A float as Python's `str` writes it: its shortest digits that read back as the same number,
/// in positional notation when its decimal exponent is from -4 to 15 (`0.0001`, `1.0`,
/// `1000000000000000.0`), else in scientific notation with a signed exponent of two digits or more
/// (`1e-05`, `1.5e+16`). Rust's `{:e}` gives the same shortest digits.
fn python_float(value: f64) -> String {
    let scientific = format!("{value:e}");
    let (mantissa, exponent) = scientific.split_once('e').unwrap_or((&scientific, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let (sign, mantissa) = match mantissa.strip_prefix('-') {
        Some(unsigned) => ("-", unsigned),
        None => ("", mantissa),
    };
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    if (-4..0).contains(&exponent) {
        let zeros = "0".repeat(exponent.unsigned_abs() as usize - 1);
        return format!("{sign}0.{zeros}{digits}");
    }
    if (0..16).contains(&exponent) {
        let point = usize::try_from(exponent + 1).unwrap_or(0);
        let whole = format!("{digits:0<point$}");
        let (whole, fraction) = whole.split_at(point);
        let fraction = if fraction.is_empty() { "0" } else { fraction };
        return format!("{sign}{whole}.{fraction}");
    }
    let (first, rest) = digits.split_at(1);
    let rest = if rest.is_empty() {
        String::new()
    } else {
        format!(".{rest}")
    };
    let exponent_sign = if exponent < 0 { '-' } else { '+' };
    format!(
        "{sign}{first}{rest}e{exponent_sign}{:02}",
        exponent.unsigned_abs()
    )
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

#[cfg(test)]
mod tests {
    use super::*;

    fn read(json: &str) -> Text {
        serde_json::from_str(json).expect("any JSON value reads")
    }

    #[test]
    fn numbers_read_as_the_text_python_writes_and_other_values_as_no_text() {
        // Each expected value printed by Python 3.11: `str(json.loads(json_text))`.
        let numbers = [
            ("1.5", "1.5"),
            ("1.0", "1.0"),
            ("0.1", "0.1"),
            ("1e16", "1e+16"),
            ("1e15", "1000000000000000.0"),
            ("123456789012345678", "123456789012345678"),
            ("-7", "-7"),
            ("1e-5", "1e-05"),
            ("0.0001", "0.0001"),
            ("0.00012345", "0.00012345"),
            ("-0.0", "-0.0"),
            ("-2.5e-7", "-2.5e-07"),
            ("1e300", "1e+300"),
            ("5e-324", "5e-324"),
            ("1.7976931348623157e308", "1.7976931348623157e+308"),
            ("12345.678", "12345.678"),
            ("1e2", "100.0"),
            ("-1e16", "-1e+16"),
            ("2.5e15", "2500000000000000.0"),
            ("9999999999999998.0", "9999999999999998.0"),
            ("1e22", "1e+22"),
            // Digits serde_json reads a step off without its `float_roundtrip` feature.
            ("1e-23", "1e-23"),
            ("1.1e-25", "1.1e-25"),
            ("449.49106478873813", "449.49106478873813"),
            ("2.2250738585072014e-308", "2.2250738585072014e-308"),
            ("4.9406564584124654e-324", "5e-324"),
            ("0.30000000000000004", "0.30000000000000004"),
        ];
        for (json, python) in numbers {
            assert_eq!(read(json), Text::Given(python.to_owned()), "{json}");
        }
        assert_eq!(read(r#""  a b ""#), Text::Given("  a b ".to_owned()));
        for json in [
            "true",
            "false",
            "[]",
            r#"["a", {"b": [1]}]"#,
            r#"{"a": {"b": 1}}"#,
        ] {
            assert_eq!(read(json), Text::NotText, "{json}");
        }
    }

    #[test]
    fn a_field_of_no_text_is_named_beside_the_others() {
        let mut errors = FieldErrors::default();
        errors.required("a", Some(Some(Text::NotText)), Ok);
        errors.required("b", Some(None), Ok);
        errors.required("c", None, Ok);
        let checked = errors.required("d", Some(Some(Text::Given("x".into()))), |value| {
            check_text(&value, 2, 5).map(|()| value)
        });
        errors.optional("e", Some(Some(Text::NotText)), non_null(Ok));
        errors.optional("f", Some(Text::NotText), text(Ok));

        assert_eq!(checked, None);
        assert_eq!(
            serde_json::to_value(&errors).expect("serializes"),
            serde_json::json!({
                "a": ["Not a valid string."],
                "b": ["This field may not be null."],
                "c": ["This field is required."],
                "d": ["Ensure this field has at least 2 characters."],
                "e": ["Not a valid string."],
                "f": ["Not a valid string."],
            })
        );
    }
}

//! Test users: unique names, the one password, and the tokens an answer carries.

use super::Answer;

/// The password every test user gets.
pub const PASSWORD: &str = "correct-horse-battery";

/// A username nobody has used before: `prefix` plus random hex, at most 30 characters.
pub fn unique_name(prefix: &str) -> String {
    let suffix = format!("{:016x}", rand::random::<u64>());
    format!("{prefix}_{suffix}").chars().take(30).collect()
}

/// The access and refresh tokens of a register or login answer.
#[track_caller]
pub fn tokens(answer: &Answer) -> (String, String) {
    let tokens = &answer.body["tokens"];
    let field = |name: &str| {
        tokens[name]
            .as_str()
            .unwrap_or_else(|| panic!("no {name} token in {}", answer.body))
            .to_owned()
    };
    (field("access"), field("refresh"))
}

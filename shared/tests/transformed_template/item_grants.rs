//! Grants held to some items of a table, by the partition key's pattern: each function may write
//! the kinds of item it writes and no other (the tests' IAM, `support/iam.rs`, reads the conditions
//! from the template as AWS applies them).

use serde_json::json;

/// A grant limited to some items is held to them: `task-create` may put an Idempotency-Key record
/// in the users table, in its create's transaction, but no user (the tests' IAM, as the template's
/// condition has it on AWS).
#[test]
fn task_create_may_put_idempotency_records_and_no_user() {
    let transaction = |pk: &str| {
        json!({ "TransactItems": [
            { "Put": { "TableName": "tasks-t", "Item": { "pk": { "S": "USER#1" }, "sk": { "S": "TASK#2" } } } },
            { "Put": { "TableName": "users-t", "Item": { "pk": { "S": pk } } } },
        ] })
    };
    let denied =
        |pk| crate::support::iam::denied("task-create", "TransactWriteItems", &transaction(pk));
    assert!(denied("IDEMPOTENCY#1#key").is_empty());
    assert_eq!(
        denied("USER#1"),
        ["dynamodb:PutItem UsersTable (item USER#1)"]
    );
    let put = json!({ "TableName": "users-t", "Item": { "pk": { "S": "USERNAME#ada" } } });
    assert_eq!(
        crate::support::iam::denied("task-create", "PutItem", &put).len(),
        1
    );
    assert!(crate::support::iam::denied("register", "PutItem", &put).is_empty());
}

#[test]
fn the_account_functions_may_write_only_the_items_they_write() {
    let one = |function, operation, pk: &str| {
        let item = json!({ "pk": { "S": pk } });
        let body = json!({ "TableName": "users-t", "Item": item, "Key": item });
        crate::support::iam::denied(function, operation, &body).is_empty()
    };
    for function in ["login", "token-refresh", "password-update"] {
        assert!(one(function, "PutItem", "REFRESH#jti"), "{function}");
        for other in ["USER#1", "USERNAME#ada", "LIMIT#x", "IDEMPOTENCY#1#k"] {
            assert!(!one(function, "PutItem", other), "{function} put {other}");
        }
    }
    for pk in ["USER#1", "USERNAME#ada", "EMAIL#a@b.c", "REFRESH#jti"] {
        assert!(one("register", "PutItem", pk), "register put {pk}");
    }
    assert!(!one("register", "PutItem", "IDEMPOTENCY#1#k"));
    for operation in ["PutItem", "DeleteItem"] {
        assert!(one("profile-update", operation, "USERNAME#ada"));
        assert!(one("profile-update", operation, "EMAIL#a@b.c"));
        assert!(!one("profile-update", operation, "USER#1"), "{operation}");
        assert!(
            !one("profile-update", operation, "REFRESH#jti"),
            "{operation}"
        );
    }
    assert!(one("logout", "DeleteItem", "REFRESH#jti"));
    assert!(!one("logout", "DeleteItem", "USER#1"));
    // An UpdateItem creates an absent item: each may update only the kinds it writes.
    let updates = [
        ("register", &["LIMIT#x"][..]),
        ("login", &["LIMIT#x", "USER#1"]),
        ("password-update", &["LIMIT#x", "USER#1"]),
        ("profile-update", &["LIMIT#x", "USER#1"]),
        ("token-refresh", &["REFRESH#jti", "USER#1"]),
        ("logout", &["USER#1"]),
        ("logout-all", &["USER#1"]),
    ];
    for (function, allowed) in updates {
        for pk in [
            "LIMIT#x",
            "USER#1",
            "REFRESH#jti",
            "USERNAME#ada",
            "IDEMPOTENCY#1#k",
        ] {
            let expected = allowed.contains(&pk);
            assert_eq!(
                one(function, "UpdateItem", pk),
                expected,
                "{function} update {pk}"
            );
        }
    }
}

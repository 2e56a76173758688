//! Rows of the source that come over changed, clash in a way the stores do not catch, or are
//! refused with values too long to print whole: each is said in the report.

use shared::domain::{TaskId, Username};

use super::fixture::{self, BUSY};
use super::{Setup, all_tasks, assert_run, user_id};

on_both_stores!(
    task_ids_alike_but_for_case_or_dashes_are_one_task_and_the_later_rows_are_refused,
    user_ids_alike_but_for_case_are_refused_with_their_tasks,
    a_users_email_that_is_anothers_username_gets_a_note_naming_that_user,
    titles_with_spaces_around_them_are_trimmed_and_counted_in_a_note,
    long_or_missing_values_are_shown_short_in_the_report,
    passwords_the_server_would_not_verify_come_over_unusable_and_escapes_stay_escaped,
    times_no_client_could_read_are_refused_with_their_rows,
    a_task_whose_owner_is_not_a_uuid_is_refused_for_that_and_not_as_ownerless,
);

/// ada's tasks the source keeps in these tests: with Grace's, 12 tasks of 4 users.
const KEPT: usize = 10;

/// When the tasks added here were made.
const CREATED: &str = "2024-06-01 10:00:00";

async fn importable_source(dynamodb: bool) -> Setup {
    let setup = Setup::new(dynamodb).await;
    fixture::keep_importable(&setup.db, KEPT);
    setup
}

async fn task_ids_alike_but_for_case_or_dashes_are_one_task_and_the_later_rows_are_refused(
    dynamodb: bool,
) {
    let setup = importable_source(dynamodb).await;
    let (ada, grace) = (fixture::source_id(BUSY), fixture::source_id("Grace.Hopper"));
    let first = "d1000000000000000000000000000001";
    let (upper, dashed) = (first.to_uppercase(), "d1000000-0000-0000-0000-000000000001");
    // Read by owner, then creation time: `first` comes first.
    let add = |id: &str, owner: &str, title: &str, created: &str| {
        fixture::add_task(&setup.db, id, Some(owner), title, created);
    };
    add(first, &ada, "first", "2020-01-01 00:00:00");
    add(&upper, &ada, "in capitals", "2020-01-02 00:00:00");
    add(dashed, &grace, "with dashes", "2020-01-03 00:00:00");

    for (flags, done) in [(&["--dry-run"][..], "to import"), (&[], "imported")] {
        let run = setup.import(flags);

        let totals = format!("tasks: 15 in the source: 13 {done}, 0 already there, 2 not imported");
        let same = format!("its id is the same UUID as task {first}'s");
        let lines = [
            totals,
            format!("task {upper}: {same}"),
            format!("task {dashed}: {same}"),
        ];
        assert_run(&run, 2, &lines.each_ref().map(String::as_str));
    }
    let stores = setup.stores();
    let id = TaskId::parse(first).expect("an id");
    let kept = stores.tasks.task(user_id(BUSY), id).await.expect("reading");
    assert_eq!(kept.expect("the first").title.as_ref(), "first");
    let (graces, _) = all_tasks(&stores, user_id("Grace.Hopper")).await;
    assert_eq!(graces, 2, "not the one with dashes");
}

/// Two users whose ids are one UUID but for case would be one account: neither is imported, and
/// the id's tasks (both users') are reported, never given to one of them (the second user's
/// tasks went to the first, and it was reported as already there).
async fn user_ids_alike_but_for_case_are_refused_with_their_tasks(dynamodb: bool) {
    let setup = importable_source(dynamodb).await;
    let grace = fixture::source_id("Grace.Hopper");
    let upper = grace.to_uppercase();
    fixture::add_user(&setup.db, &upper, "mallory", "mallory@example.com", CREATED);
    fixture::add_task(
        &setup.db,
        "d2000000000000000000000000000001",
        Some(&upper),
        "hers",
        CREATED,
    );

    let run = setup.import(&[]);

    let same = "its id is the same UUID as user";
    let lines = [
        "users: 5 in the source: 3 imported, 0 already there, 2 not imported",
        "tasks: 13 in the source: 10 imported, 0 already there, 3 not imported",
        &format!("user \"Grace.Hopper\": {same} \"mallory\"'s"),
        &format!("user \"mallory\": {same} \"Grace.Hopper\"'s"),
    ];
    assert_run(&run, 2, &lines);
    let stores = setup.stores();
    for name in ["grace.hopper", "mallory"] {
        let name = Username::existing(name.into()).expect("a name");
        let found = stores.users.user_by_username(&name).await;
        assert!(found.expect("reading").is_none(), "{name:?} not imported");
    }
    assert!(
        stores
            .users
            .user(user_id("Grace.Hopper"))
            .await
            .expect("reading")
            .is_none(),
        "no account under the shared id"
    );
}

async fn a_users_email_that_is_anothers_username_gets_a_note_naming_that_user(dynamodb: bool) {
    let setup = importable_source(dynamodb).await;
    // The one whose email it is joined first: the note is on it all the same.
    let (y, x) = (
        "a0000000000000000000000000000011",
        "a0000000000000000000000000000010",
    );
    fixture::add_user(
        &setup.db,
        y,
        "carol_y",
        "Carol@Example.com",
        "2023-01-01 00:00:00",
    );
    fixture::add_user(&setup.db, x, "Carol@example.com", "x@example.com", CREATED);
    let note = |other: &str| {
        format!(
            "user \"carol_y\": its email carol@example.com is also the username of user \
             \"{other}\": a login as carol@example.com reaches that user, so this one logs in by \
             its username"
        )
    };

    let run = setup.import(&[]);

    let totals = "users: 6 in the source: 6 imported, 0 already there, 0 not imported";
    assert_run(&run, 0, &[totals, &note("Carol@example.com")]);
    let stores = setup.stores();
    for name in ["carol_y", "carol@example.com"] {
        let name = Username::existing(name.into()).expect("a name");
        let found = stores.users.user_by_username(&name).await;
        assert!(found.expect("reading").is_some(), "{name:?} imported");
    }
    drop(stores);
    // The other one in taskmaster only: found there, and named as taskmaster holds it.
    fixture::edit(
        &setup.db,
        &format!("DELETE FROM accounts_user WHERE id = '{x}'"),
    );
    assert_run(&setup.import(&[]), 0, &[&note("carol@example.com")]);
}

async fn titles_with_spaces_around_them_are_trimmed_and_counted_in_a_note(dynamodb: bool) {
    let setup = importable_source(dynamodb).await;
    let ada = fixture::source_id(BUSY);
    let padded = "e0000000000000000000000000000001";
    fixture::add_task(&setup.db, padded, Some(&ada), "  padded  ", CREATED);
    let tabbed = "e0000000000000000000000000000002";
    fixture::add_task(&setup.db, tabbed, Some(&ada), "\tpadded too\n", CREATED);

    let run = setup.import(&[]);

    let note = "2 tasks had spaces around the title in the source: trimmed, as every API write \
                trims a title";
    assert_run(&run, 0, &[note]);
    let stores = setup.stores();
    let task = stores
        .tasks
        .task(user_id(BUSY), TaskId::parse(padded).expect("an id"))
        .await;
    assert_eq!(
        task.expect("reading").expect("padded").title.as_ref(),
        "padded"
    );
    drop(stores);
    // Trimmed once, the same after: a second run finds them as the source has them.
    let again = "tasks: 14 in the source: 0 imported, 14 already there, 0 not imported";
    assert_run(&setup.import(&[]), 0, &[again]);
}

async fn long_or_missing_values_are_shown_short_in_the_report(dynamodb: bool) {
    let setup = importable_source(dynamodb).await;
    fixture::loosen(&setup.db);
    let ada = fixture::source_id(BUSY);
    let long = "e0000000000000000000000000000001";
    fixture::add_task(&setup.db, long, Some(&ada), &"t".repeat(5000), CREATED);
    let untitled = "e0000000000000000000000000000002";
    let long_name = "u".repeat(200);
    fixture::add_user(
        &setup.db,
        "a0000000000000000000000000000020",
        &long_name,
        "l@x.io",
        CREATED,
    );
    let nameless = "a0000000000000000000000000000021";
    fixture::edit(
        &setup.db,
        &format!(
            "INSERT INTO taskmanager_task VALUES ('{untitled}', '{ada}', NULL, '', 'TO DO',
                '{CREATED}', '{CREATED}');
             INSERT INTO accounts_user VALUES ('{nameless}', NULL, 'n@x.io', '!', '', '', NULL,
                '{CREATED}', '{CREATED}', '{CREATED}', 0, 0, 1);"
        ),
    );

    let run = setup.import(&[]);

    let (t, u) = ("t".repeat(60), "u".repeat(60));
    let lines = [
        format!("task {long}: its title \"{t}…\" (5000 characters) is refused"),
        format!("task {untitled}: its title is missing"),
        format!(
            "user \"{u}…\" (200 characters): its username \"{u}…\" (200 characters) is refused"
        ),
        format!("user with id {nameless}: its username is missing"),
    ];
    assert_run(&run, 2, &lines.each_ref().map(String::as_str));
    let longest = run.stdout.lines().map(|line| line.chars().count()).max();
    assert!(longest < Some(300), "{}", run.stdout);
}

/// Only Django's `pbkdf2_sha256` hashes come over usable, up to the iterations the server
/// verifies: another hasher's (an argon2 hash taskmaster would verify, with whatever parameters it
/// names) or too many iterations is kept unusable, and a field no hasher makes is refused. A value
/// with terminal escapes is shown escaped.
async fn passwords_the_server_would_not_verify_come_over_unusable_and_escapes_stay_escaped(
    dynamodb: bool,
) {
    let setup = importable_source(dynamodb).await;
    fixture::loosen(&setup.db);
    let argon2 = shared::auth::rehash_password(super::support::PASSWORD)
        .await
        .expect("a hash");
    let many = "pbkdf2_sha256$20000000$salt$a2V5";
    let users = [
        (
            "a0000000000000000000000000000030",
            "argon_user",
            argon2.as_str(),
        ),
        ("a0000000000000000000000000000031", "many_rounds", many),
        (
            "a0000000000000000000000000000033",
            "bad_rounds",
            "pbkdf2_sha256$-5$salt$a2V5",
        ),
        (
            "a0000000000000000000000000000034",
            "bad_key",
            "pbkdf2_sha256$1000$salt$not base64",
        ),
        (
            "a0000000000000000000000000000032",
            "huge_hash",
            &"h".repeat(2000),
        ),
    ];
    for (id, name, hash) in users {
        fixture::add_user(&setup.db, id, name, &format!("{name}@x.io"), CREATED);
        fixture::edit(
            &setup.db,
            &format!("UPDATE accounts_user SET password = '{hash}' WHERE id = '{id}'"),
        );
    }
    // A task id with a terminal escape (clear the screen): the report shows it escaped.
    let (raw_id, shown) = ("e0000000000000000000000000000003\u{1b}[2J", r"\u{1b}[2J");
    let ada = fixture::source_id(BUSY);
    fixture::add_task(&setup.db, raw_id, Some(&ada), "x", CREATED);

    let run = setup.import(&[]);

    let lines = [
        "user \"argon_user\": its password hash (\"argon2id\") cannot be checked here: imported, cannot log in",
        "user \"many_rounds\": its password hash: it asks for 20000000 iterations, more than the 3000000 this server verifies: imported, cannot log in",
        "user \"bad_rounds\": its password hash: it is not of Django's shape (iterations$salt$key): imported, cannot log in",
        "user \"bad_key\": its password hash: it is not of Django's shape (iterations$salt$key): imported, cannot log in",
        "user \"huge_hash\": its password is 2000 bytes long: no hasher makes one over 512",
    ];
    assert_run(&run, 2, &lines);
    assert!(
        !run.stdout.contains('\u{1b}'),
        "a raw escape in:\n{}",
        run.stdout
    );
    assert!(run.stdout.contains(shown), "{}", run.stdout);
    let server = setup.server();
    let api = super::support::Api::new(&server);
    let answer = api.login("argon_user").await;
    answer.expect(reqwest::StatusCode::UNAUTHORIZED);
}

/// A leap second or a year 0 (which Django could not have written) would reach clients whose date
/// parsers refuse them, the web client's included: the row is refused, as an unreadable date is.
async fn times_no_client_could_read_are_refused_with_their_rows(dynamodb: bool) {
    let setup = importable_source(dynamodb).await;
    let ada = fixture::source_id(BUSY);
    let leap = (
        "f0000000000000000000000000000001",
        "2024-12-31 23:59:60.999999",
    );
    let year_zero = ("f0000000000000000000000000000002", "0000-01-01 00:00:00");
    for (id, created) in [leap, year_zero] {
        fixture::add_task(&setup.db, id, Some(&ada), "when?", created);
    }

    let run = setup.import(&[]);

    let totals = "tasks: 14 in the source: 12 imported, 0 already there, 2 not imported";
    let refused = |(id, created): (&str, &str)| {
        format!("task {id}: its date_created {created:?} is not a date and time")
    };
    assert_run(&run, 2, &[totals, &refused(leap), &refused(year_zero)]);
    let stores = setup.stores();
    for (id, _) in [leap, year_zero] {
        let task = stores
            .tasks
            .task(user_id(BUSY), TaskId::parse(id).expect("an id"))
            .await;
        assert!(task.expect("reading").is_none(), "{id} imported");
    }
}

/// A user whose id is not a UUID is left out, and its task is refused for its owner's id, not as
/// one without an owner (which `--orphans-to` would mend: it cannot).
async fn a_task_whose_owner_is_not_a_uuid_is_refused_for_that_and_not_as_ownerless(dynamodb: bool) {
    let setup = importable_source(dynamodb).await;
    let task = "d4000000000000000000000000000001";
    fixture::add_user(&setup.db, "12345", "odd", "odd@example.com", CREATED);
    fixture::add_task(&setup.db, task, Some("12345"), "odd task", CREATED);

    let run = setup.import(&[]);

    let refused = format!("task {task}: its owner \"12345\" is not a UUID");
    assert_run(&run, 2, &["its id \"12345\" is not a UUID", &refused]);
    assert!(!run.stdout.contains("no owner"), "{}", run.stdout);
}

//! An import over a target an earlier one filled: a row changed in the source since is listed
//! and left as it is, and tasks of a user the source no longer has are counted; both exit 2,
//! in the dry run as in the real run. Ownerless tasks go to the user the first run gave them to.

use shared::domain::{TaskId, User, UserId};

use super::fixture::{self, BUSY};
use super::{IMPORTABLE_TASKS, Setup, all_tasks, assert_run, user_id};

on_both_stores!(
    a_reimport_lists_rows_changed_in_the_source_and_leaves_them_as_they_are,
    a_reimport_counts_a_users_tasks_that_the_source_no_longer_has,
    ownerless_tasks_stay_with_the_user_an_earlier_run_gave_them,
    a_name_with_a_dotted_capital_i_is_kept_as_one_that_reads_back,
);

/// ada's tasks the source keeps in these tests: the source holds 4 users and 12 tasks.
const KEPT: usize = 10;

/// A source of rows that all import, imported once.
async fn imported(dynamodb: bool) -> Setup {
    let setup = Setup::new(dynamodb).await;
    fixture::keep_importable(&setup.db, KEPT);
    assert_run(
        &setup.import(&[]),
        0,
        &["tasks: 12 in the source: 12 imported"],
    );
    setup
}

async fn a_reimport_lists_rows_changed_in_the_source_and_leaves_them_as_they_are(dynamodb: bool) {
    let setup = imported(dynamodb).await;
    // ada logged in to taskmaster since: its hash is taskmaster's now, whatever the source's.
    let users = setup.stores().users;
    let ada = users.user(user_id(BUSY)).await.expect("reading");
    let ada = ada.expect("ada");
    let upgraded = User {
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo".into(),
        version: ada.version + 1,
        ..ada.clone()
    };
    users.update_user(&ada, &upgraded).await.expect("updating");
    drop(users);
    let (ada, grace) = (fixture::source_id(BUSY), fixture::source_id("Grace.Hopper"));
    let renamed = fixture::task_id(&setup.db, &ada, "task 4");
    // Another hash than the fixture's, of the same shape.
    let new_hash = fixture::A_HASH.replace("$salt$", "$new$");
    fixture::edit(
        &setup.db,
        &format!(
            "UPDATE accounts_user SET email = 'grace@navy.mil', is_active = 0,
                password = '{new_hash}' WHERE id = '{grace}';
             UPDATE accounts_user SET password = '{new_hash}' WHERE id = '{ada}';
             UPDATE taskmanager_task SET title = 'renamed', status_task = 'DONE'
                WHERE id = '{renamed}';"
        ),
    );

    for flags in [&["--dry-run"][..], &[]] {
        let run = setup.import(flags);

        let lines = [
            "user \"Grace.Hopper\": already in taskmaster but differs from the source (email, \
             is_active, password): not overwritten"
                .to_owned(),
            format!(
                "task {renamed}: already in taskmaster but differs from the source (title, \
                 status_task): not overwritten"
            ),
            "users: 4 in the source: ".to_owned(),
            ", 4 already there (1 of them different, not overwritten), 0 not imported".to_owned(),
            ", 12 already there (1 of them different, not overwritten), 0 not imported".to_owned(),
            "already there but different (2):".to_owned(),
        ];
        assert_run(&run, 2, &lines.each_ref().map(String::as_str));
        assert!(!run.stdout.contains("user \"ada\""), "{}", run.stdout);
    }
    let stores = setup.stores();
    let grace = stores.users.user(user_id("Grace.Hopper")).await;
    let grace = grace.expect("reading").expect("grace");
    assert_eq!(
        (grace.email.as_ref(), grace.session_epoch),
        ("grace@example.com", 0)
    );
    let id = TaskId::parse(&renamed).expect("an id");
    let task = stores.tasks.task(user_id(BUSY), id).await.expect("reading");
    assert_eq!(task.expect("the task").title.as_ref(), "task 4");
}

async fn a_reimport_counts_a_users_tasks_that_the_source_no_longer_has(dynamodb: bool) {
    let setup = imported(dynamodb).await;
    let ada = fixture::source_id(BUSY);
    fixture::edit(
        &setup.db,
        &format!(
            "DELETE FROM taskmanager_task WHERE user_id = '{ada}' AND title IN ('task 1', 'task 2')"
        ),
    );
    let new = "e0000000000000000000000000000001";
    fixture::add_task(&setup.db, new, Some(&ada), "new", "2024-06-01 10:00:00");

    for (flags, done) in [(&["--dry-run"][..], "to import"), (&[], "imported")] {
        let run = setup.import(flags);

        let totals = format!("tasks: 11 in the source: 1 {done}, 10 already there, 0 not imported");
        let extra = "user \"ada\": taskmaster holds 2 tasks of this user that the source does \
                     not: deleted in the original after an earlier import, or created in \
                     taskmaster; not removed";
        assert_run(&run, 2, &[&totals, extra]);
        assert!(!run.stdout.contains("Grace"), "{}", run.stdout);
    }
    let (count, _) = all_tasks(&setup.stores(), user_id(BUSY)).await;
    assert_eq!(count, KEPT as u64 + 1, "nothing removed");
}

async fn ownerless_tasks_stay_with_the_user_an_earlier_run_gave_them(dynamodb: bool) {
    let setup = Setup::new(dynamodb).await;
    // A dry run records nobody: the real run may name someone else.
    assert_run(
        &setup.import(&["--orphans-to", "Grace.Hopper", "--dry-run"]),
        2,
        &[],
    );
    assert_run(&setup.import(&["--orphans-to", BUSY]), 2, &[]);
    let (ada, grace) = (user_id(BUSY), user_id("Grace.Hopper"));
    let counts = || async {
        let stores = setup.stores();
        (
            all_tasks(&stores, ada).await.0,
            all_tasks(&stores, grace).await.0,
        )
    };
    let before = counts().await;

    // Given to another user, they would be stored a second time: refused before any write.
    for dry_run in [false, true] {
        let mut flags = vec!["--orphans-to", "Grace.Hopper"];
        flags.extend(dry_run.then_some("--dry-run"));
        let run = setup.import(&flags);
        assert_eq!(run.status.code(), Some(1), "{run:#?}");
        let said = "an earlier import gave the ownerless tasks to user \"ada\"";
        assert!(run.stderr.contains(said), "{run:#?}");
    }
    // Named again, or not named: they are ada's, already there.
    let totals = format!(
        "tasks: 1004 in the source: 0 imported, {} already there, 1 not imported",
        IMPORTABLE_TASKS + 1
    );
    let note = "ownerless tasks go to user \"ada\", as an earlier run's --orphans-to gave them";
    assert_run(&setup.import(&[]), 2, &[&totals, note]);
    assert_run(&setup.import(&["--orphans-to", "ADA"]), 2, &[&totals]);
    for run in [setup.import(&[]), setup.import(&["--dry-run"])] {
        assert!(!run.stdout.contains("not removed"), "{}", run.stdout);
    }
    assert_eq!(counts().await, before);
}

/// Django let `İ` (U+0130) into a username. Lowercased as Unicode does it fully, `i` and a
/// combining dot, the name could not be read back: the user's every login was a 500, and every
/// later run failed reading it. It is kept as `admin`, its simple lowercase.
async fn a_name_with_a_dotted_capital_i_is_kept_as_one_that_reads_back(dynamodb: bool) {
    let setup = Setup::new(dynamodb).await;
    fixture::keep_importable(&setup.db, KEPT);
    let id = "a0000000000000000000000000000130";
    fixture::add_user(
        &setup.db,
        id,
        "Admİn",
        "admin@example.com",
        "2024-06-01 10:00:00",
    );

    assert_run(
        &setup.import(&[]),
        0,
        &["users: 5 in the source: 5 imported"],
    );
    assert_run(
        &setup.import(&[]),
        0,
        &["users: 5 in the source: 0 imported, 5 already there"],
    );

    let id = UserId::parse("a0000000-0000-0000-0000-000000000130").expect("an id");
    let user = setup.stores().users.user(id).await.expect("reading");
    assert_eq!(user.expect("the user").username.as_ref(), "admin");
}

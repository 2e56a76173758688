//! `taskmaster-local set-password`: an operator gives a user a new password, on either store or
//! on AWS. It is how a user who forgot theirs gets back in (the API has no reset by email), and
//! how one the import brought over unable to log in (an inactive user, a hash of another hasher:
//! docs/MIGRATING.md) is let in. The password comes on standard input, never as an argument,
//! which other users of the machine could read in the process list; it is checked by the rules
//! a registration's is, and hashed as a password change hashes it. The change is one conditional
//! write and ends every session of the user, as a password change does: their tokens are refused
//! at once, and their sockets get no more task events. Given the WebSocket API's endpoint
//! (`--ws-endpoint`), it also closes those sockets at once, as the API's password change does;
//! without it they close at the user's next task change, or at API Gateway's two-hour limit.

use std::io::{IsTerminal, Read, Write};
use std::process::ExitCode;

use anyhow::{Context, anyhow, bail};
use shared::auth::hash_password;
use shared::domain::{Ended, Password, Timestamp, User, Username};
use shared::realtime::Notifier;
use shared::retry;
use shared::store::{DynamoConfig, DynamoStore, StoreError, Stores, UserStore};

use crate::store_args::StoreArgs;

/// Exit code 0: the password is set and the user's sessions are ended; 1: it failed (no such user,
/// a password the rules refuse, a store that cannot be opened or did not answer). A store that
/// did not answer may have made the change: running it again is safe.
#[derive(Debug, clap::Args)]
pub struct SetPasswordArgs {
    /// The user whose password to set (a username, in any case).
    #[arg(long, value_name = "USERNAME")]
    username: String,
    #[command(flatten)]
    store: StoreArgs,
    /// The WebSocket API (the stack's `WebSocketUrl` output, or its `https://` management
    /// endpoint): the user's open sockets are closed through it at once. DynamoDB only.
    #[arg(long, env = "TASKMASTER_WS_ENDPOINT", value_name = "URL")]
    ws_endpoint: Option<String>,
}

pub async fn run(args: SetPasswordArgs) -> anyhow::Result<ExitCode> {
    let username = Username::existing(args.username.clone())
        .map_err(|why| anyhow!("--username {:?}: {why}", args.username))?;
    let password = Password::parse(read_password()?)
        .map_err(|why| anyhow!("the password is refused: {why}"))?;
    let dynamo = args.store.dynamo_config()?;
    if args.ws_endpoint.is_some() && dynamo.is_none() {
        bail!("--ws-endpoint closes sockets on AWS: it needs --aws (or --dynamodb-endpoint)");
    }
    let (stores, lock) = open(dynamo, &args.store.data_dir)?;
    let found = stores
        .users
        .user_by_username(&username)
        .await
        .context("reading the user")?
        .with_context(|| format!("no user is named {username}"))?;
    let password_hash = hash_password(&password).await?;
    let user = set(stores.users.as_ref(), found, &password_hash).await?;
    let sockets = match &args.ws_endpoint {
        Some(endpoint) => {
            let endpoint = management_endpoint(endpoint);
            let notifier = Notifier::new(&stores, Notifier::management_client(&endpoint, None));
            if notifier
                .close_ended(user.id, Ended::Before(user.session_epoch))
                .await
            {
                "their open sockets are closed"
            } else {
                "some of their open sockets could not be closed (the log says why); those get no more task events"
            }
        }
        None => "their open sockets get no more task events",
    };
    // The store closes before its data dir is let go: a server started then finds it free.
    drop(stores);
    drop(lock);
    // A closed stdout loses the message, not the exit code.
    let _ = writeln!(
        std::io::stdout(),
        "password set for {}; every session of theirs has ended, and {sockets}",
        user.username
    );
    Ok(ExitCode::SUCCESS)
}

/// The management API's endpoint: the WebSocket URL with `https://` for `wss://` (and `http://`
/// for `ws://`), as the Lambdas' `TASKMASTER_WS_ENDPOINT` has it.
fn management_endpoint(url: &str) -> String {
    if let Some(rest) = url.strip_prefix("wss://") {
        format!("https://{rest}")
    } else if let Some(rest) = url.strip_prefix("ws://") {
        format!("http://{rest}")
    } else {
        url.to_owned()
    }
}

/// Standard input, one line, without its line end. A terminal is refused: what is typed there
/// shows.
fn read_password() -> anyhow::Result<String> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        bail!(
            "give the password on standard input, not typed here, where it would show: \
             IFS= read -rs P && printf '%s\\n' \"$P\" | taskmaster-local set-password --username NAME"
        );
    }
    let mut input = String::new();
    // A password is far shorter than this; more is not a password.
    stdin
        .lock()
        .take(64 * 1024)
        .read_to_string(&mut input)
        .context("reading the password from standard input")?;
    let line = input.strip_suffix('\n').unwrap_or(&input);
    let line = line.strip_suffix('\r').unwrap_or(line);
    // Which line would be meant is a guess: the first, a file's whole text, a blank line's?
    if line.contains('\n') {
        bail!("standard input holds more than one line: give the password alone, on one line");
    }
    Ok(line.to_owned())
}

/// The stores (DynamoDB's tables, or else the embedded store in `data_dir`), and the data dir's
/// lock for an embedded one (held until the change is made).
fn open(
    dynamo: Option<DynamoConfig>,
    data_dir: &std::path::Path,
) -> anyhow::Result<(Stores, Option<std::fs::File>)> {
    let Some(config) = dynamo else {
        let file = data_dir.join(crate::DATABASE_FILE);
        if !file.exists() {
            bail!("no embedded store at {}", file.display());
        }
        let lock = crate::data_dir::lock_data_dir(data_dir)?;
        let store = crate::open_embedded(data_dir)?;
        return Ok((Stores::new(store), Some(lock)));
    };
    let store = DynamoStore::new(config.patient_client(), &config);
    Ok((Stores::new(store), None))
}

/// Stores `password_hash` as the user's and ends their sessions, in one conditional write; a
/// write that lost a race (the user changed meanwhile) is made again on the user as they are now.
async fn set(users: &dyn UserStore, found: User, password_hash: &str) -> anyhow::Result<User> {
    let id = found.id;
    let mut read = Some(found);
    retry::optimistic(|| {
        let first = read.take();
        async move {
            let before = match first {
                Some(before) => before,
                None => users.user(id).await?.ok_or_else(|| {
                    StoreError::Unexpected(anyhow!("the user was deleted meanwhile"))
                })?,
            };
            let mut after = before.clone();
            after.change_password_hash(password_hash.to_owned(), Timestamp::now());
            users.update_user(&before, &after).await?;
            Ok::<_, StoreError>(after)
        }
    })
    .await
    .context("storing the new password")
}

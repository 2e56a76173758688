//! What an import did, row by row where it matters: every row not imported with its reason,
//! notes on rows brought over with a change, and the totals.

use std::fmt;
use std::io::{ErrorKind, Write};

use anyhow::Context;

/// Rows of one table.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Tally {
    /// Rows in the source.
    pub source: u64,
    /// Written by this run (a dry run: would be written).
    pub imported: u64,
    /// Already in the target from an earlier run.
    pub present: u64,
    /// Of `present`, those that differ from the source (left as they are); each has its line
    /// under `different`.
    pub differing: u64,
    /// Not imported; each has its line under `refused`.
    pub refused: u64,
}

#[derive(Debug, Default)]
pub struct Report {
    pub dry_run: bool,
    pub users: Tally,
    pub tasks: Tally,
    refused: Vec<String>,
    different: Vec<String>,
    extra: Vec<String>,
    notes: Vec<String>,
}

impl Report {
    pub fn new(dry_run: bool, users: u64, tasks: u64) -> Self {
        let tally = |source| Tally {
            source,
            ..Tally::default()
        };
        Self {
            dry_run,
            users: tally(users),
            tasks: tally(tasks),
            ..Self::default()
        }
    }

    /// A user not imported, and why.
    pub fn refuse_user(&mut self, label: &str, why: &str) {
        self.users.refused += 1;
        self.refused.push(format!("user {label}: {why}"));
    }

    /// A task not imported, and why.
    pub fn refuse_task(&mut self, id: &str, why: &str) {
        self.tasks.refused += 1;
        self.refused.push(format!("task {id}: {why}"));
    }

    /// A user already in the target whose `fields` differ from the source's: there, but left as
    /// it is.
    pub fn user_differs(&mut self, label: &str, fields: &[&str]) {
        self.users.present += 1;
        self.users.differing += 1;
        self.different
            .push(format!("user {label}: {}", differs(fields)));
    }

    /// A task already in the target whose `fields` differ from the source's: there, but left as
    /// it is.
    pub fn task_differs(&mut self, label: &str, fields: &[&str]) {
        self.tasks.present += 1;
        self.tasks.differing += 1;
        self.different
            .push(format!("task {label}: {}", differs(fields)));
    }

    /// Something the target holds that the source does not: listed under its own heading (the
    /// target does not match the source), though no row of the source is counted.
    pub fn mismatch(&mut self, line: String) {
        self.extra.push(line);
    }

    /// Something an operator should know about a row that was imported.
    pub fn note(&mut self, line: String) {
        self.notes.push(line);
    }

    /// Whether the target matches the source: every row of the source in it as the source has
    /// it (or to be, for a dry run), and no task of its users beyond them.
    pub fn complete(&self) -> bool {
        self.refused.is_empty() && self.different.is_empty() && self.extra.is_empty()
    }
}

fn differs(fields: &[&str]) -> String {
    format!(
        "already in taskmaster but differs from the source ({}): not overwritten",
        fields.join(", ")
    )
}

/// `n` of `noun`, in the singular or plural.
pub fn counted(n: u64, noun: &str) -> String {
    match n {
        1 => format!("1 {noun}"),
        _ => format!("{n} {noun}s"),
    }
}

/// How many characters of a value the report quotes: a title of thousands would bury the rest.
const SHOWN_CHARACTERS: usize = 60;

/// `value` as the report quotes it: `"…"` with escapes, cut at [`SHOWN_CHARACTERS`] and then
/// followed by its length (`"aaaa…" (5000 characters)`).
pub fn quoted(value: &str) -> String {
    match cut(value) {
        Some((head, length)) => format!("{:?} ({length} characters)", format!("{head}…")),
        None => format!("{value:?}"),
    }
}

/// `value` as the report shows it bare (a name or an address), cut as [`quoted`] cuts it, and
/// with control characters escaped: a row's terminal escapes must not reach the terminal.
pub fn plain(value: &str) -> String {
    let escaped = |text: &str| -> String {
        text.chars()
            .map(|c| {
                if c.is_control() {
                    c.escape_default().to_string()
                } else {
                    c.to_string()
                }
            })
            .collect()
    };
    match cut(value) {
        Some((head, length)) => format!("{}… ({length} characters)", escaped(head)),
        None => escaped(value),
    }
}

/// The first [`SHOWN_CHARACTERS`] of `value` and its length, when it is longer than that.
fn cut(value: &str) -> Option<(&str, usize)> {
    let (end, _) = value.char_indices().nth(SHOWN_CHARACTERS)?;
    Some((&value[..end], value.chars().count()))
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (done, there) = if self.dry_run {
            ("to import", "already there")
        } else {
            ("imported", "already there")
        };
        for (name, tally) in [("users", self.users), ("tasks", self.tasks)] {
            let differing = match tally.differing {
                0 => String::new(),
                n => format!(" ({n} of them different, not overwritten)"),
            };
            writeln!(
                f,
                "{name}: {} in the source: {} {done}, {} {there}{differing}, {} not imported",
                tally.source, tally.imported, tally.present, tally.refused
            )?;
        }
        for (heading, lines) in [
            ("not imported", &self.refused),
            ("already there but different", &self.different),
            ("in taskmaster, not in the source", &self.extra),
            ("notes", &self.notes),
        ] {
            if !lines.is_empty() {
                writeln!(f, "{heading} ({}):", lines.len())?;
                for line in lines {
                    writeln!(f, "  {line}")?;
                }
            }
        }
        if self.dry_run {
            writeln!(f, "dry run: nothing was written")?;
        }
        Ok(())
    }
}

/// Standard output, where a closed reader (`import-django … | head -2`) ends the output, not the
/// run: the import goes on to its end and its exit code.
#[derive(Debug, Default)]
pub struct Output {
    closed: bool,
}

impl Output {
    /// Writes `text` (its lines end with their newlines); nothing once the reader has gone.
    pub fn print(&mut self, text: impl fmt::Display) -> anyhow::Result<()> {
        if self.closed {
            return Ok(());
        }
        let mut stdout = std::io::stdout().lock();
        match write!(stdout, "{text}").and_then(|()| stdout.flush()) {
            Err(e) if e.kind() == ErrorKind::BrokenPipe => {
                self.closed = true;
                Ok(())
            }
            written => written.context("printing to standard output"),
        }
    }
}

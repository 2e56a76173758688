//! The login and registration limits as `taskmaster-local` flags: the same variables a Lambda
//! reads ([`shared::config::LimitsConfig`]), given on the command line too. An unset flag keeps
//! the variable's value or its default.

use shared::config::{LimitsConfig, MAX_SECONDS};

/// Failed-login and registration limits (the defaults are the Lambdas').
#[derive(Debug, clap::Args)]
pub struct LimitArgs {
    /// Failed logins allowed per login name (username or email, any case) per window [default: 20].
    #[arg(long, env = "TASKMASTER_LOGIN_FAILURES_PER_USERNAME", value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    login_failures_per_username: Option<u64>,
    /// Failed logins allowed per client address per window [default: 100].
    #[arg(long, env = "TASKMASTER_LOGIN_FAILURES_PER_ADDRESS", value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    login_failures_per_address: Option<u64>,
    /// The failed-login window [default: 900].
    #[arg(long, env = "TASKMASTER_LOGIN_WINDOW", value_name = "SECONDS", value_parser = clap::value_parser!(i64).range(1..=MAX_SECONDS))]
    login_window: Option<i64>,
    /// Registration attempts allowed per client address per window [default: 20].
    #[arg(long, env = "TASKMASTER_REGISTRATIONS_PER_ADDRESS", value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    registrations_per_address: Option<u64>,
    /// The registration window [default: 3600].
    #[arg(long, env = "TASKMASTER_REGISTRATION_WINDOW", value_name = "SECONDS", value_parser = clap::value_parser!(i64).range(1..=MAX_SECONDS))]
    registration_window: Option<i64>,
}

impl LimitArgs {
    /// `limits` with the flags given applied. Each was checked as it was read (a limit at least 1,
    /// a window from 1 s to the environment's bound, [`MAX_SECONDS`]), so a refusal names its flag.
    pub fn apply(&self, mut limits: LimitsConfig) -> LimitsConfig {
        let counts = [
            (
                self.login_failures_per_username,
                &mut limits.login_failures_per_username,
            ),
            (
                self.login_failures_per_address,
                &mut limits.login_failures_per_address,
            ),
            (
                self.registrations_per_address,
                &mut limits.registrations_per_address,
            ),
        ];
        for (flag, slot) in counts {
            if let Some(value) = flag {
                *slot = value;
            }
        }
        let windows = [
            (self.login_window, &mut limits.login_window_seconds),
            (
                self.registration_window,
                &mut limits.registration_window_seconds,
            ),
        ];
        for (flag, slot) in windows {
            if let Some(value) = flag {
                *slot = value;
            }
        }
        limits
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Flags {
        #[command(flatten)]
        limits: LimitArgs,
    }

    fn applied(args: &[&str]) -> anyhow::Result<LimitsConfig> {
        let flags =
            Flags::try_parse_from(std::iter::once("taskmaster-local").chain(args.iter().copied()))?;
        Ok(flags.limits.apply(LimitsConfig::default()))
    }

    #[test]
    fn windows_past_the_bound_are_refused_not_turned_off() {
        for window in ["0", "-5", "9000000000000"] {
            assert!(applied(&["--login-window", window]).is_err(), "{window}");
            assert!(
                applied(&["--registration-window", window]).is_err(),
                "{window}"
            );
        }
        let limits = applied(&["--login-window", "60"]).expect("a minute");
        assert_eq!(limits.login_window_seconds, 60);
    }
}

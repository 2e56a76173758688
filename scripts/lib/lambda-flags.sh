# Sourced by scripts/lambdas and scripts/sam-build: the Lambda bootstraps' code generation, for
# the arm64 target alone. Set here rather than in .cargo/config.toml, whose
# [target.aarch64-unknown-linux-gnu] table also applies to every build on an arm64 Linux host
# (a Graviton machine, a linux/arm64 container on an Apple Silicon Mac): its tests cannot build
# with panic=abort, and its taskmaster-local would abort on a panic instead of answering a JSON 500.
# Why each flag, measured: docs/BUILD.md, "Bootstrap size". These replace the build.rustflags
# cargo-lambda would pass (cargo takes a target's rustflags instead of, not beside, them), so its
# one flag, the CPU, is restated here.
#   -C target-cpu=neoverse-n1   Graviton2 (Neoverse N1) and later: every arm64 Lambda host.
#   -C panic=abort              a panic ends the process, as cargo-lambda's default has it: Lambda
#                               answers that one request with an error and starts a fresh
#                               container for the next. No unwinding tables or landing pads: 0.7 MiB
#                               of each bootstrap.
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUSTFLAGS="-C target-cpu=neoverse-n1 -C panic=abort"

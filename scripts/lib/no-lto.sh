# Sourced by scripts/lambdas and scripts/sam-build for --no-lto, the arm64 build CI makes: the
# shipping release profile without its link-time optimisation, through cargo's per-profile
# overrides (they win over Cargo.toml, and cargo-lambda leaves them alone). One place, so that
# `sam build`'s own cargo-lambda runs see exactly what scripts/lambdas built with and find it fresh.
export CARGO_PROFILE_RELEASE_LTO=off CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16

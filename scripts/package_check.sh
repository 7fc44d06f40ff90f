#!/usr/bin/env bash
# Packages the workspace as `cargo publish` would and builds a crate that depends on the
# packaged files only, outside the repository, the way a user's crate builds from crates.io.
#
#   scripts/package_check.sh
#
# 1. `cargo publish --dry-run -p wechat-card`: packages the crate and verifies the package by
#    building it from its own .crate, then stops before uploading. wechat-card is the only
#    package to publish: the generator (codegen/) is not a dependency of it (see build.rs).
# 2. Unpacks the .crate into a temporary directory and creates a consumer crate there
#    (scripts/consumer/main.rs) that depends on the unpacked wechat-card by path, so nothing
#    comes from the repository.
# 3. Builds the consumer `--offline` with default features and with `--all-features`, checks
#    that the generator was never compiled (a consumer compiles the committed generated code),
#    and runs a call: the all-features build starts the sandbox and a user receives a card; the
#    default-features build queries that code through the sandbox over loopback HTTP.
# 4. Edits the unpacked package's spec and checks that the build refuses it and says why (a
#    consumer compiles the committed code only if it matches spec/; build.rs reads no cfg or
#    environment setting to decide, so RUSTFLAGS and the like cannot change that).
#
# Run by .ci/run. Exits non-zero, saying what failed, on the first failure.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
work=$(mktemp -d)
server=
cleanup() {
    if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)

echo "== cargo publish --dry-run -p wechat-card"
# --allow-dirty: the check also runs on a working copy with uncommitted edits; a real publish
# does not pass it.
cargo publish --dry-run -p wechat-card --allow-dirty
# The dry run keeps its .crate in a folder of its own; `cargo package` (already verified above)
# puts the same file where it is documented to be.
cargo package -p wechat-card --allow-dirty --no-verify --quiet

echo "== unpack"
mkdir -p "$work/unpacked"
file="target/package/wechat-card-$version.crate"
[ -f "$file" ] || { echo "no $file after the dry run" >&2; exit 1; }
tar -xzf "$file" -C "$work/unpacked"
echo "$file: $(tar -tzf "$file" | wc -l) files, $(du -k "$file" | cut -f1) KiB"
if tar -tzf "$file" | grep -q "^wechat-card-$version/codegen/"; then
    echo "the wechat-card package contains the generator's folder" >&2
    exit 1
fi

consumer="$work/consumer"
mkdir -p "$consumer/src"
cp scripts/consumer/main.rs "$consumer/src/main.rs"
cat >"$consumer/Cargo.toml" <<TOML
[package]
name = "consumer"
version = "0.0.0"
edition = "2024"
publish = false

[dependencies]
wechat-card = { path = "$work/unpacked/wechat-card-$version" }
serde_json = "1"

[features]
full = ["wechat-card/sandbox", "wechat-card/events", "wechat-card/redis", "wechat-card/serde-full", "wechat-card/tooling"]

[workspace]
TOML
# The repository's lock file fixes the versions the package was verified with.
cp Cargo.lock "$consumer/Cargo.lock"

build() {
    echo "== consumer: cargo build --offline $*"
    (cd "$consumer" && CARGO_TARGET_DIR="$consumer/target" cargo build --offline --quiet "$@")
}
build --all-features
cp "$consumer/target/debug/consumer" "$work/consumer-full"
build
cp "$consumer/target/debug/consumer" "$work/consumer-default"
if grep -q 'wechat-card-codegen' "$consumer/Cargo.lock" ||
    ls "$consumer/target/debug/.fingerprint" | grep -q '^wechat-card-codegen-'; then
    echo "the consumer's build involves the generator" >&2
    exit 1
fi
echo "the generator is neither in the consumer's Cargo.lock nor compiled"

echo "== consumer: a call against the sandbox"
mkfifo "$work/hold"
"$work/consumer-full" serve <"$work/hold" >"$work/served" &
server=$!
exec 3>"$work/hold"
for _ in $(seq 100); do
    [ -s "$work/served" ] && break
    sleep 0.1
done
read -r url appid secret card_id code <"$work/served" || {
    echo "the all-features consumer did not start the sandbox" >&2
    exit 1
}
echo "all-features consumer: sandbox at $url, card $card_id received as code $code"
"$work/consumer-default" call "$url" "$appid" "$secret" "$card_id" "$code"
exec 3>&-
wait "$server"
server=
echo "== consumer: an edited spec in the package is refused"
spec="$work/unpacked/wechat-card-$version/spec/consume.yaml"
cp "$spec" "$work/consume.yaml"
sed -i "0,/^    title: /s//    title: x/" "$spec"
if build 2>"$work/refused" || ! grep -q "spec/ differs from the spec the committed code" "$work/refused"; then
    cat "$work/refused" >&2
    echo "a build with an edited spec was not refused with the explanation" >&2
    exit 1
fi
cp "$work/consume.yaml" "$spec"
grep -m 1 "spec/ differs" "$work/refused" | cut -c 1-160
echo "== package check passed"

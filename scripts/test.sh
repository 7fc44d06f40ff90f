#!/usr/bin/env bash
# The README's test command: installs and starts what the tests need, then runs every test
# (`cargo test --all-features`; arguments are passed on, e.g. `scripts/test.sh shared_store`).
#
# The tests need, besides the Rust toolchain and crates.io:
# - redis-server (the shared token store tests): installed with apt-get when missing, started
#   on a free port of 127.0.0.1 in a temporary folder for the length of the run, its URL in
#   WECHAT_CARD_TEST_REDIS_URL;
# - python3 and its `cryptography` package (safe-mode vectors re-derived outside the library):
#   installed with apt-get when missing;
# - chromium and chromedriver (the sandbox console's browser test, tests/suite/sandbox_console.rs):
#   Debian's `chromium` and `chromium-driver`, installed with apt-get when missing.
# A plain `cargo test --all-features` without them fails those tests and says how to get them;
# no test reports `ok` without having run.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v python3 >/dev/null 2>&1 || missing+=(python3)
if command -v python3 >/dev/null 2>&1 && ! python3 -c 'import cryptography' 2>/dev/null; then
    missing+=(python3-cryptography)
fi
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v chromedriver >/dev/null 2>&1 || missing+=(chromium-driver)
if [ "${#missing[@]}" -gt 0 ]; then
    echo "== installing ${missing[*]} (apt-get)"
    if [ "$(id -u)" -eq 0 ]; then sudo=(); else sudo=(sudo); fi
    if ! command -v apt-get >/dev/null 2>&1; then
        echo "no apt-get here: install ${missing[*]} yourself and run this again" >&2
        exit 1
    fi
    "${sudo[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null
fi

redis_dir="$(mktemp -d)"
redis_port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no --daemonize no \
    --dir "$redis_dir" >"$redis_dir/redis.log" 2>&1 &
redis_pid=$!
trap 'kill "$redis_pid" 2>/dev/null || true; wait "$redis_pid" 2>/dev/null || true; rm -rf "$redis_dir"' EXIT
for _ in $(seq 1 100); do
    redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break
    sleep 0.1
done
if ! redis-cli -p "$redis_port" ping >/dev/null 2>&1; then
    echo "redis-server did not start:" >&2
    cat "$redis_dir/redis.log" >&2
    exit 1
fi
export WECHAT_CARD_TEST_REDIS_URL="redis://127.0.0.1:$redis_port/"

echo "== cargo test --all-features (redis-server on 127.0.0.1:$redis_port)"
cargo test --all-features "$@"

#!/usr/bin/env bash
# What depending on wechat-card costs a user at build time.
#
#   benches/build_cost.sh                 # this checkout, one run
#   RUNS=3 benches/build_cost.sh          # medians of three interleaved runs
#   benches/build_cost.sh OLD_CHECKOUT .  # two checkouts side by side (before/after), same runs
#
# In a temporary folder, builds from scratch (empty target folders, the registry already
# downloaded) two consumer crates that each make one card/code/get call:
#   - "wechat-card": depends on wechat-card (default features) from each checkout given;
#   - "ureq+serde": depends on ureq (the same version and features as wechat-card) + serde
#     (derive) + serde_json and writes the call by hand.
# Each run builds every consumer in debug and in release, in a rotated order, so that all of them
# see the same machine load. Then, per checkout, a maintainer's release rebuilds of the crate in
# its own folder (where the generator runs on spec/): after `touch src/lib.rs` and after a
# one-line spec edit (an endpoint title). Printed: wall and CPU (user+system) seconds
# of each build, their medians over the runs, and the ratios to the ureq+serde consumer.
# Targets: ratio <= 1.3 (debug and release), release rebuild after touching src/lib.rs <= 15 s,
# rebuild after a spec edit <= 1.3x that. Needs cargo, GNU time (/usr/bin/time) and the crates
# in ~/.cargo/registry (run `cargo fetch` once); nothing is downloaded (--offline).
set -euo pipefail

RUNS=${RUNS:-1}
here=$(cd "$(dirname "$0")/.." && pwd)
if [ $# -eq 0 ]; then set -- "$here"; fi
[ -x /usr/bin/time ] || { echo "needs GNU time at /usr/bin/time" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/wechat-card-build-cost.XXXXXX")
trap 'rm -rf "$work"' EXIT

# The versions wechat-card resolves, so that both consumers build the same dependency versions.
lock="$here/Cargo.lock"
ureq_version=$(awk '/^name = "ureq"$/ { getline; gsub(/"/, "", $3); print $3; exit }' "$lock")
serde_version=$(awk '/^name = "serde"$/ { getline; gsub(/"/, "", $3); print $3; exit }' "$lock")
serde_json_version=$(awk '/^name = "serde_json"$/ { getline; gsub(/"/, "", $3); print $3; exit }' "$lock")

names=()
# A copy of each checkout (its sources only), so that touching files never disturbs it.
i=0
for src in "$@"; do
    src=$(cd "$src" && pwd)
    i=$((i + 1))
    name="wechat-card#$i"
    names+=("$name")
    mkdir -p "$work/crate$i"
    (cd "$src" && tar --exclude=./target --exclude=./.git -cf - .) | (cd "$work/crate$i" && tar -xf -)
    mkdir -p "$work/consumer$i/src"
    cat > "$work/consumer$i/Cargo.toml" <<EOF
[package]
name = "consumer-wechat-card"
version = "0.0.0"
edition = "2021"
publish = false

[dependencies]
wechat-card = { path = "../crate$i" }

[workspace]
EOF
    cat > "$work/consumer$i/src/main.rs" <<'EOF'
fn main() {
    let client = wechat_card::Client::builder()
        .base_url("http://127.0.0.1:9")
        .fixed_token("T")
        .build()
        .expect("client");
    let answer = client.get_code(&wechat_card::GetCodeRequest::new("110201201245"));
    println!("{}", answer.is_ok());
}
EOF
    cp "$src/Cargo.lock" "$work/consumer$i/Cargo.lock"
    echo "$name = $src" >&2
done

names+=("ureq+serde")
base=$work/consumer0
mkdir -p "$base/src"
cat > "$base/Cargo.toml" <<EOF
[package]
name = "consumer-ureq-serde"
version = "0.0.0"
edition = "2021"
publish = false

[dependencies]
ureq = { version = "=$ureq_version", default-features = false, features = ["json", "rustls"] }
serde = { version = "=$serde_version", features = ["derive"] }
serde_json = "=$serde_json_version"

[workspace]
EOF
cat > "$base/src/main.rs" <<'EOF'
#[derive(serde::Serialize)]
struct GetCode<'a> {
    code: &'a str,
}

#[derive(serde::Deserialize)]
#[allow(dead_code)]
struct Answer {
    #[serde(default)]
    errcode: i64,
    #[serde(default)]
    errmsg: String,
    openid: Option<String>,
}

fn main() {
    let body = serde_json::to_vec(&GetCode { code: "110201201245" }).expect("encode");
    let answer = ureq::post("http://127.0.0.1:9/card/code/get?access_token=T")
        .header("Content-Type", "application/json")
        .send(&body[..])
        .and_then(|mut r| r.body_mut().read_to_vec())
        .map(|b| serde_json::from_slice::<Answer>(&b).is_ok());
    println!("{answer:?}");
}
EOF
cp "$lock" "$base/Cargo.lock"

consumer_dir() { # index in names -> folder
    if [ "$1" -eq $((${#names[@]} - 1)) ]; then echo "$base"; else echo "$work/consumer$(($1 + 1))"; fi
}

results=$work/results
: > "$results"
# measure KEY DIR ARGS...: one cargo build, appends "KEY wall cpu" to the results.
measure() {
    local key=$1 dir=$2
    shift 2
    local t=$work/time.txt
    if ! (cd "$dir" && /usr/bin/time -f '%e %U %S' -o "$t" cargo build --offline --quiet "$@" >/dev/null 2>"$work/err.txt"); then
        cat "$work/err.txt" >&2
        echo "build failed: $key" >&2
        exit 1
    fi
    read -r wall user sys < "$t"
    cpu=$(echo "$user + $sys" | bc)
    echo "$key $wall $cpu" >> "$results"
    printf '  %-34s wall %7.1f s   cpu %7.1f s\n' "$key" "$wall" "$cpu" >&2
}

n=${#names[@]}
for run in $(seq 1 "$RUNS"); do
    echo "run $run/$RUNS" >&2
    shift_by=0
    for profile in debug release; do
        flag=()
        if [ "$profile" = release ]; then flag=(--release); shift_by=1; fi
        for k in $(seq 0 $((n - 1))); do
            idx=$(( (k + run + shift_by) % n ))
            dir=$(consumer_dir "$idx")
            rm -rf "$dir/target"
            measure "${names[$idx]}|$profile" "$dir" ${flag[@]+"${flag[@]}"}
        done
    done
    # A maintainer's rebuilds, inside the crate's own folder: there codegen/ is present, so a
    # spec edit runs the generator (a consumer of the published package compiles the committed
    # generated code instead, and would refuse an edited spec). An unmeasured build first, then the two rebuilds; the spec is put
    # back afterwards, for the consumers of the next run.
    for idx in $(seq 0 $((n - 2))); do
        crate=$work/crate$((idx + 1))
        (cd "$crate" && cargo build --offline --quiet --release --lib >/dev/null 2>&1) || {
            echo "build failed in $crate" >&2
            exit 1
        }
        touch "$crate/src/lib.rs"
        measure "${names[$idx]}|rebuild:touch-lib.rs" "$crate" --release --lib
        # A one-line spec edit: the first endpoint title of consume.yaml gets a character more.
        cp "$crate/spec/consume.yaml" "$work/consume.yaml"
        sed -i "0,/^    title: /s//    title: x/" "$crate/spec/consume.yaml"
        measure "${names[$idx]}|rebuild:spec-edit" "$crate" --release --lib
        cp "$work/consume.yaml" "$crate/spec/consume.yaml"
    done
done

median() { sort -n | awk '{ a[NR] = $1 } END { if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
stat() { # KEY COLUMN(2=wall,3=cpu)
    awk -v k="$1" -v c="$2" '$1 == k { print $c }' "$results" | median
}

echo
echo "build cost, medians of $RUNS run(s), seconds (wall / cpu); ratio to ureq+serde"
for profile in debug release; do
    bw=$(stat "ureq+serde|$profile" 2); bc_=$(stat "ureq+serde|$profile" 3)
    printf '%-8s %-14s %8s %8s\n' "$profile" "ureq+serde" "$bw" "$bc_"
    for idx in $(seq 0 $((n - 2))); do
        w=$(stat "${names[$idx]}|$profile" 2); c=$(stat "${names[$idx]}|$profile" 3)
        printf '%-8s %-14s %8s %8s   ratio wall %.2fx  cpu %.2fx   (target <= 1.30x)\n' \
            "$profile" "${names[$idx]}" "$w" "$c" "$(echo "$w / $bw" | bc -l)" "$(echo "$c / $bc_" | bc -l)"
    done
done
for idx in $(seq 0 $((n - 2))); do
    tw=$(stat "${names[$idx]}|rebuild:touch-lib.rs" 2); tc=$(stat "${names[$idx]}|rebuild:touch-lib.rs" 3)
    sw=$(stat "${names[$idx]}|rebuild:spec-edit" 2); sc=$(stat "${names[$idx]}|rebuild:spec-edit" 3)
    printf '%-14s release rebuild after touch src/lib.rs: wall %s s, cpu %s s (target <= 15 s)\n' \
        "${names[$idx]}" "$tw" "$tc"
    printf '%-14s release rebuild after a spec edit:      wall %s s, cpu %s s, %.2fx the touch rebuild (target <= 1.3x)\n' \
        "${names[$idx]}" "$sw" "$sc" "$(echo "$sw / $tw" | bc -l)"
done

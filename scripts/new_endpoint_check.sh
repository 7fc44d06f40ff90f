#!/usr/bin/env bash
# A maintainer adds an endpoint to the spec and writes nothing else: does the sandbox serve it
# faithfully? This script does exactly that on a copy of the working tree and runs the tests
# that hold the sandbox to the spec.
#
#   scripts/new_endpoint_check.sh
#
# 1. Copies the repository's files (tracked and untracked, not target/) to a temporary directory.
# 2. Writes spec/scratch.yaml: one new endpoint that refers to a card (`card_id`) and to a list of
#    codes (`code_list`), with byte and count limits and an example, as WeChat's pages describe
#    their endpoints. No sandbox code, no test, no hand edit of generated files.
# 3. Builds and runs, in the copy, the suite's sandbox tests, the generated limit tests and the
#    spec example tests. build.rs sees that spec/ changed and regenerates (saying the committed
#    copy is stale); the new endpoint is then in `schema::ENDPOINTS`, and
#    `sandbox_fidelity::every_endpoint_refuses_an_unknown_card_id_or_code` sends it an unknown
#    card and unknown codes (40073 / 40056 expected), the limit tests send it values at and past
#    each limit, and the sandbox answers a valid request from the example.
#
# Run by .ci/run. Exits non-zero on the first failure. Reuses the repository's target directory
# for the dependencies (only wechat-card itself is rebuilt).
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
copy="$work/wechat-card"
mkdir -p "$copy"

(cd "$repo" && git ls-files -z --cached --others --exclude-standard) |
    (cd "$repo" && tar --null -T - -cf -) | (cd "$copy" && tar -xf -)

cat >"$copy/spec/scratch.yaml" <<'EOF'
# Written by scripts/new_endpoint_check.sh: a new endpoint, as a maintainer would add it.
page: manage
endpoints:
  card/code/scratchcheck:
    name: scratch_check_codes
    idempotent: true
    title: 核查一批Code (scratch)
    doc: Checks which of a card's codes exist (an endpoint added by the new-endpoint check).
    request:
      card_id: { type: string(32), required: true, doc: 卡券ID。 }
      code_list: { type: list<string(20)>(1..=10), required: true, doc: Code列表。 }
      note: { type: string(24), doc: 备注。 }
    response:
      exist_code: list<string>
      not_exist_code: list<string>
    examples:
      - name: two codes
        request: { card_id: "pFS7Fjg8kV1IdDz01r4SQwMkuCKc", code_list: ["11111", "22222"] }
        response: { errcode: 0, errmsg: ok, exist_code: ["11111"], not_exist_code: ["22222"] }
EOF

# The one piece of test code the check adds (no sandbox code): with the card and one code in the
# sandbox, a valid request is answered from the spec's example.
cat >"$copy/tests/suite/scratch_endpoint.rs" <<'EOF'
use serde_json::{Value, json};
use wechat_card::schema::HttpMethod;
use wechat_card::sandbox::Sandbox;

use crate::sandbox_support::{approved, discount_card};

#[test]
fn sandbox_scratch_endpoint_answers_from_its_example() {
    let sandbox = Sandbox::start().unwrap();
    let client = sandbox.client().unwrap();
    let card_id = approved(&sandbox, &discount_card(10, json!({})));
    let code = sandbox.receive_card("o-scratch", &card_id).unwrap();
    let answer: Value = client
        .call_json(
            HttpMethod::Post,
            "card/code/scratchcheck",
            &json!({ "card_id": card_id, "code_list": [code] }),
            true,
        )
        .unwrap();
    assert_eq!(answer["exist_code"], json!(["11111"]), "{answer}");
}
EOF
echo "mod scratch_endpoint;" >>"$copy/tests/suite/main.rs"

target=${CARGO_TARGET_DIR:-"$repo/target"}
cd "$copy"
echo "== the copy's spec has the new endpoint; building and running the sandbox and limit tests"
log="$work/test.log"
if ! CARGO_TARGET_DIR="$target/new-endpoint" cargo test --all-features --test suite -- \
    sandbox_ limits spec_examples >"$log" 2>&1; then
    tail -n 60 "$log"
    echo "new endpoint check FAILED: the sandbox does not serve a new spec endpoint faithfully" >&2
    exit 1
fi
grep -E "warning: .*(stale|spec)" "$log" | head -n 3 || true
grep -E "^test result" "$log"
if ! grep -q "^test scratch_endpoint::sandbox_scratch_endpoint_answers_from_its_example ... ok" "$log"; then
    echo "new endpoint check FAILED: the call to the new endpoint did not run" >&2
    exit 1
fi
# The new endpoint must really have been compiled in and checked, not skipped.
if ! grep -rq "card/code/scratchcheck" "$target/new-endpoint/debug/build/"wechat-card-*/out/ 2>/dev/null; then
    echo "new endpoint check FAILED: card/code/scratchcheck is not in the generated code" >&2
    exit 1
fi
echo "== new endpoint check passed: card/code/scratchcheck was validated, refused unknown cards and codes, and answered from its example, with no sandbox code written"

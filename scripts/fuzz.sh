#!/usr/bin/env bash
# libFuzzer runs for Depot's parsers: scripts/fuzz.sh TARGET SECONDS [libFuzzer args...]
#
#   TARGET   multipart | jwt | objectkey | tus | fastcgi | all
#   SECONDS  time budget per target (-max_total_time); 0 = build only
#
# Builds with plain swiftc (not SwiftPM): each module the target needs
# (DepotEncoding, DepotCrypto, DepotAuth, DepotHTTP, DepotDomain, and the test
# helpers of DepotTestSupport) is compiled from Sources/<Module>/*.swift (or
# Tests/<Module>/) with -sanitize=fuzzer,address -enable-testing into
# one object and one .swiftmodule, then the target (Tests/Fuzz/<target>/*.swift,
# with @_cdecl("LLVMFuzzerTestOneInput")) is linked against them (and
# libcrypto for the crypto). Objects are rebuilt only when a source is newer.
#
# Corpus: seeds are read from Tests/Fuzz/corpus/<target>/ (never written);
# new inputs go to a scratch corpus under the build dir. Crash, leak and
# timeout artifacts go to FUZZ_ARTIFACT_DIR (default: a fresh temp dir, kept
# only when something was found). Exit status is non-zero when any target
# finds a crash or fails to build.
#
# Environment: FUZZ_BUILD_DIR (default .build-fuzz), FUZZ_ARTIFACT_DIR,
# FUZZ_JOBS (parallel fuzzing processes per target, default 1),
# SWIFTC (default swiftc).
#
# Reproduce a crash: scripts/fuzz.sh TARGET 0 && .build-fuzz/fuzz-TARGET CRASH_FILE
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
SWIFTC=${SWIFTC:-swiftc}
BUILD=${FUZZ_BUILD_DIR:-$ROOT/.build-fuzz}
TARGET=${1:-}
SECONDS_PER_TARGET=${2:-}
shift 2 2>/dev/null || true

usage() { sed -n '2,8p' "$0" >&2; exit 2; }
[[ -n "$TARGET" && "$SECONDS_PER_TARGET" =~ ^[0-9]+$ ]] || usage

# module -> modules it imports (in build order). A module's sources are
# Sources/<Module>/*.swift, or Tests/<Module>/*.swift for test helpers.
declare -A DEPS=(
    [DepotEncoding]=""
    [DepotCrypto]=""
    [DepotHTTP]="DepotEncoding"
    [DepotDomain]="DepotCrypto DepotEncoding"
    [DepotAuth]="DepotCrypto DepotEncoding DepotDomain"
    [DepotFastCGI]="DepotEncoding DepotHTTP"
    [DepotTestSupport]=""
)
# target -> modules it links, dependencies first.
declare -A MODULES=(
    [multipart]="DepotEncoding DepotHTTP DepotTestSupport"
    [jwt]="DepotEncoding DepotCrypto DepotDomain DepotAuth"
    [objectkey]="DepotEncoding DepotCrypto DepotDomain"
    [tus]="DepotEncoding DepotHTTP"
    [fastcgi]="DepotEncoding DepotHTTP DepotFastCGI DepotTestSupport"
)

# target -> longest input tried (tokens are refused past 8 KiB, keys past 1 KiB).
declare -A MAX_LEN=([multipart]=16384 [jwt]=9000 [objectkey]=1100 [tus]=5000 [fastcgi]=70000)

case "$TARGET" in
    all) TARGETS=(multipart jwt objectkey tus fastcgi) ;;
    multipart|jwt|objectkey|tus|fastcgi) TARGETS=("$TARGET") ;;
    *) usage ;;
esac

mkdir -p "$BUILD/modules"
# -O keeps bounds and overflow checks (only -Ounchecked drops them).
FLAGS=(-O -g -swift-version 5 -parse-as-library -sanitize=fuzzer,address
       -I "$BUILD/modules" -I "$ROOT/Sources/CCrypto")

# Quietens gold's harmless "Cannot export local symbol '__asan_*'" warnings.
filter_link_noise() { grep -v "Cannot export local symbol '__asan" >&2 || true; }

newer_than() { # newer_than OUTPUT FILES... : true when OUTPUT is missing or older than any file
    local out=$1; shift
    [[ ! -e "$out" ]] && return 0
    local f
    for f in "$@"; do [[ "$f" -nt "$out" ]] && return 0; done
    return 1
}

build_module() {
    local module=$1 obj="$BUILD/modules/$1.o" dir="$ROOT/Sources/$1"
    [[ -d "$dir" ]] || dir="$ROOT/Tests/$1"
    local sources=("$dir"/*.swift) dep deps=()
    for dep in ${DEPS[$module]}; do
        build_module "$dep" || return 1
        deps+=("$BUILD/modules/$dep.swiftmodule")
    done
    # A removed or renamed source changes the list: rebuild then too.
    local list="$BUILD/modules/$module.sources"
    if newer_than "$obj" "${sources[@]}" "${deps[@]}" "$0" || [[ "$(printf '%s\n' "${sources[@]}")" != "$(cat "$list" 2>/dev/null)" ]]; then
        echo "fuzz: compiling $module" >&2
        "$SWIFTC" "${FLAGS[@]}" -enable-testing -wmo -module-name "$module" \
            -emit-module -emit-module-path "$BUILD/modules/$module.swiftmodule" \
            -c "${sources[@]}" -o "$obj" || { rm -f "$obj"; return 1; }
        touch "$obj" # swiftc keeps the old mtime when the object did not change
        printf '%s\n' "${sources[@]}" > "$list"
    fi
}

build_target() {
    local target=$1 exe="$BUILD/fuzz-$1" module objects=() sources=("$ROOT/Tests/Fuzz/$1"/*.swift)
    for module in ${MODULES[$target]}; do
        build_module "$module" || return 1
        objects+=("$BUILD/modules/$module.o")
    done
    if newer_than "$exe" "${sources[@]}" "${objects[@]}"; then
        echo "fuzz: linking fuzz-$target" >&2
        "$SWIFTC" "${FLAGS[@]}" -module-name "Fuzz_$target" "${sources[@]}" "${objects[@]}" -lcrypto -o "$exe" \
            2> >(filter_link_noise) || { rm -f "$exe"; return 1; }
    fi
}

status=0
for target in "${TARGETS[@]}"; do
    if ! build_target "$target"; then
        echo "fuzz: $target: build failed" >&2
        status=1
        continue
    fi
    [[ "$SECONDS_PER_TARGET" == 0 ]] && { echo "fuzz: built $BUILD/fuzz-$target"; continue; }

    artifacts=${FUZZ_ARTIFACT_DIR:-$(mktemp -d -t "depot-fuzz-$target-XXXXXX")}
    mkdir -p "$artifacts"
    work="$BUILD/corpus/$target"
    mkdir -p "$work"
    dict=()
    [[ -f "$ROOT/Tests/Fuzz/$target.dict" ]] && dict=(-dict="$ROOT/Tests/Fuzz/$target.dict")
    log="$BUILD/fuzz-$target.log"
    jobs=${FUZZ_JOBS:-1}
    parallel=()
    (( jobs > 1 )) && parallel=(-fork="$jobs" -ignore_crashes=0)
    echo "fuzz: $target for ${SECONDS_PER_TARGET}s (log $log, artifacts $artifacts)"
    started=$(date +%s)
    set +e
    "$BUILD/fuzz-$target" "${dict[@]}" "${parallel[@]}" -max_total_time="$SECONDS_PER_TARGET" -timeout=10 \
        -rss_limit_mb=2048 -max_len="${MAX_LEN[$target]}" -print_final_stats=1 -artifact_prefix="$artifacts/" \
        "$@" "$work" "$ROOT/Tests/Fuzz/corpus/$target" >"$log" 2>&1
    rc=$?
    set -e
    runs=$(grep -ao 'stat::number_of_executed_units: *[0-9]*' "$log" | awk '{s+=$2} END {print s+0}')
    cov=$(grep -ao 'cov: [0-9]*' "$log" | tail -1 | awk '{print $2}')
    echo "fuzz: $target: exit $rc, $runs runs, coverage ${cov:-?} edges, $(( $(date +%s) - started ))s, corpus $(ls "$work" | wc -l) files"
    if (( rc != 0 )) || compgen -G "$artifacts/*" >/dev/null; then
        status=1
        echo "fuzz: $target FOUND A PROBLEM; artifacts in $artifacts:" >&2
        ls -l "$artifacts" >&2 || true
        grep -aE -m5 'invariant violated|Fatal error|ERROR: AddressSanitizer|ERROR: libFuzzer|SUMMARY' "$log" >&2 || true
    elif [[ -z "${FUZZ_ARTIFACT_DIR:-}" ]]; then
        rmdir "$artifacts" 2>/dev/null || true
    fi
done
exit $status

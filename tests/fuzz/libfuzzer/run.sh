#!/bin/sh
# Build the libFuzzer harnesses with clang, or run one for a bounded time.
#
#   run.sh build BUILD_DIR                  configure (CC=clang) and build
#   run.sh run BUILD_DIR HARNESS [SECONDS]  fuzz HARNESS (header, jsonreq,
#                                           config, hook) from its seed corpus
#   run.sh all BUILD_DIR [SECONDS]          build, then run every harness
#
# New inputs go to BUILD_DIR/corpus/HARNESS (kept between runs), findings to
# BUILD_DIR/artifacts/. Exit status: 0 clean; 1 a finding (crash, leak,
# sanitizer report, failed check, timeout) or a build failure; 77 (CTest's
# skip) when clang or its libFuzzer runtime is missing, except under CI=true,
# where that is a failure. Debian 12: apt-get install clang libclang-rt-14-dev.
set -eu

src=$(cd "$(dirname "$0")" && pwd)
harnesses="header jsonreq config hook"

usage() {
	echo "usage: $0 build BUILD_DIR | run BUILD_DIR HARNESS [SECONDS] | all BUILD_DIR [SECONDS]" >&2
	exit 2
}

# clang that can link a libFuzzer harness, or exit 77 (1 under CI).
need_clang() {
	cc=${HOTLOAD_FUZZ_CC:-clang}
	if command -v "$cc" >/dev/null 2>&1 &&
		printf 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { return 0; }\n' |
		"$cc" -fsanitize=fuzzer,address,undefined -x c - -o /dev/null >/dev/null 2>&1; then
		return 0
	fi
	echo "libfuzzer: '$cc' cannot build a libFuzzer harness (Debian: apt-get install clang libclang-rt-14-dev)" >&2
	[ "${CI:-}" = true ] && exit 1
	exit 77
}

build() {
	need_clang
	cmake -S "$src" -B "$1" -DCMAKE_C_COMPILER="$cc" >"$1/configure.log" 2>&1 || {
		cat "$1/configure.log" >&2
		exit 1
	}
	cmake --build "$1" -j"$(nproc)"
}

# Fuzz one harness for $3 seconds; fail on anything it reports.
run() {
	b=$1 h=$2 secs=${3:-45}
	case " $harnesses " in *" $h "*) ;; *) usage ;; esac
	if [ ! -x "$b/fuzz_$h" ]; then
		need_clang # skip when that is why it was not built
		echo "libfuzzer: $b/fuzz_$h is not built (run.sh build $b)" >&2
		exit 1
	fi
	mkdir -p "$b/corpus/$h" "$b/artifacts"
	rm -f "$b/artifacts/$h-"*
	log=$b/fuzz_$h.log
	set -- -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -error_exitcode=1 \
		-print_final_stats=1 -artifact_prefix="$b/artifacts/$h-"
	[ -f "$src/$h.dict" ] && set -- "$@" -dict="$src/$h.dict"
	echo "libfuzzer: fuzz_$h for ${secs}s (log: $log)"
	status=0
	UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
		"$b/fuzz_$h" "$@" "$b/corpus/$h" "$src/corpus/$h" >"$log" 2>&1 || status=$?
	grep -E '^#[0-9]+[[:space:]]+(INITED|DONE)' "$log" || true
	grep -E '^stat::' "$log" || true
	if [ "$status" -ne 0 ] || ls "$b/artifacts/$h-"* >/dev/null 2>&1 ||
		grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:' "$log"; then
		tail -n 80 "$log" >&2
		echo "libfuzzer: fuzz_$h found something (exit $status); inputs:" >&2
		ls "$b/artifacts/$h-"* >&2 2>/dev/null || true
		exit 1
	fi
}

[ $# -ge 2 ] || usage
cmd=$1 b=$2
shift 2
mkdir -p "$b"
b=$(cd "$b" && pwd)
case $cmd in
build) [ $# -eq 0 ] || usage; build "$b" ;;
run) [ $# -ge 1 ] || usage; run "$b" "$@" ;;
all)
	build "$b"
	for h in $harnesses; do run "$b" "$h" "${1:-45}"; done
	;;
*) usage ;;
esac

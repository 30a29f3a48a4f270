#!/usr/bin/env bash
# Runs the side-by-side benchmarks interleaved and rewrites the results
# section of BENCHMARKS.md (between its BEGIN/END RESULTS markers): bench/
# or the repository root, wherever it is, or $DOC.
#
#   bench/compare/run.sh                  # ROUNDS=20 BENCHTIME=0.3s: about 3-4 minutes on 2 cores
#   ROUNDS=10 BENCHTIME=0.2s bench/compare/run.sh   # a quicker look
#
# Interleaving: one test binary is built once; each round runs every
# (benchmark, library) pair as its own short process, rows of one benchmark
# back to back and the library order rotated every round, so slow drifts in
# machine load spread over all libraries instead of landing on one. Each
# round adds one sample per row; benchstat summarises the samples.
set -euo pipefail
cd "$(dirname "$0")"

ROUNDS=${ROUNDS:-20}
BENCHTIME=${BENCHTIME:-0.3s}
RESULTS=${RESULTS:-results.txt}
if [ -z "${DOC:-}" ]; then
	for DOC in ../BENCHMARKS.md ../../BENCHMARKS.md; do
		[ -f "$DOC" ] && break
	done
fi
BENCHSTAT_VERSION=v0.0.0-20260908200009-22c9c6c9d4da # golang.org/x/perf, pinned

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "building the test binary and benchstat ($BENCHSTAT_VERSION)..." >&2
go vet ./...
go test -count=1 -run '^TestSameWork$' . >&2 # every library really does the work the rows claim
go test -c -o "$work/compare.test" .
# oauthlink's own code exchange cannot be reached through its public API;
# the root module's BenchmarkExchangeInMemory times it with this module's
# configuration and token body, and runs among the callback rows below.
(cd ../.. && go test -c -o "$work/oauthlink.test" .)
GOBIN="$work/bin" go install "golang.org/x/perf/cmd/benchstat@$BENCHSTAT_VERSION"

libs=(oauthlink gologin zitadel gothic)
benches=(Start Callback BadState)
started=$(date +%s)
: >"$RESULTS"
for ((round = 0; round < ROUNDS; round++)); do
	echo "round $((round + 1))/$ROUNDS" >&2
	for bench in "${benches[@]}"; do
		rows=()
		for lib in "${libs[@]}"; do
			rows+=("^Benchmark${bench}\$/^lib=${lib}\$")
		done
		if [ "$bench" = Callback ]; then
			# The exchanges the callbacks contain (x/oauth2's for the peers,
			# oauthlink's own), timed among them so that subtracting one sees
			# the same machine load.
			rows+=('^BenchmarkReference$/^op=x-oauth2-exchange$' oauthlink-exchange)
		fi
		for ((i = 0; i < ${#rows[@]}; i++)); do
			row=${rows[$(((i + round) % ${#rows[@]}))]}
			if [ "$row" = oauthlink-exchange ]; then
				"$work/oauthlink.test" -test.run '^$' -test.benchtime "$BENCHTIME" \
					-test.bench '^BenchmarkExchangeInMemory$' |
					sed -n 's|^BenchmarkExchangeInMemory|BenchmarkReference/op=oauthlink-exchange|p' >>"$RESULTS"
				continue
			fi
			"$work/compare.test" -test.run '^$' -test.benchtime "$BENCHTIME" \
				-test.bench "$row" >>"$RESULTS"
		done
	done
	"$work/compare.test" -test.run '^$' -test.benchtime "$BENCHTIME" \
		-test.bench '^BenchmarkReference$/^op=memstore-upsert$' >>"$RESULTS"
done
elapsed=$(($(date +%s) - started))

{
	"$work/bin/benchstat" -filter '.name:(Start OR Callback OR BadState)' -col /lib "$RESULTS"
	echo
	"$work/bin/benchstat" -filter '.name:Reference' "$RESULTS"
} >"$work/benchstat.txt"
cat "$work/benchstat.txt"

go run ./benchreport -results "$RESULTS" -benchstat "$work/benchstat.txt" -doc "$DOC" \
	-cmd "bench/compare/run.sh" -rounds "$ROUNDS" -benchtime "$BENCHTIME" \
	-elapsed "$((elapsed / 60)) min $((elapsed % 60)) s"
echo "wrote $DOC and $RESULTS (relative to bench/compare)" >&2

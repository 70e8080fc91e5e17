# bench/lib.sh - sourced by bench sections: median wall time of a command
# run as a whole process, by hyperfine when present, else a shell loop.

# bench_median RUNS PREPARE-CMD CMD: prints the median in milliseconds
# (three decimals).  PREPARE-CMD (a shell command, may be "") runs before
# every timed run, untimed.  CMD runs through the shell too.
bench_median() {
	local runs=$1 prepare=$2 cmd=$3 json
	if command -v hyperfine >/dev/null; then
		json=$(mktemp)
		local prep=()
		[ -n "$prepare" ] && prep=(--prepare "$prepare")
		hyperfine --style none --warmup 2 --runs "$runs" "${prep[@]}" \
			--export-json "$json" "$cmd" >/dev/null 2>&1 || { rm -f "$json"; return 1; }
		jq -r '.results[0].median * 1000 | . * 1000 | round / 1000' "$json"
		rm -f "$json"
		return
	fi
	local t=() i t0 t1
	for ((i = 0; i < runs; i++)); do
		[ -n "$prepare" ] && bash -c "$prepare"
		t0=$(date +%s%N)
		bash -c "$cmd" >/dev/null 2>&1 || return 1
		t1=$(date +%s%N)
		t+=($(((t1 - t0) / 1000)))
	done
	printf '%s\n' "${t[@]}" | sort -n | awk '{a[NR]=$1} END {m = NR % 2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2; printf "%.3f\n", m/1000}'
}

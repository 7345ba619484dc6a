# Sourced by hack/testbin/build.sh and hack/istiobin/build.sh: building one Go binary into the
# versioned cache, atomically and visibly. The caller defines log().

gobuild_pid= gobuild_tmp=

# On interruption, stop the running build and drop its partial output.
gobuild_cleanup() {
	if [ -n "$gobuild_pid" ]; then kill "$gobuild_pid" 2>/dev/null || true; fi
	if [ -n "$gobuild_tmp" ]; then rm -f "$gobuild_tmp"; fi
}
trap gobuild_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# gobuild LABEL MODULE_DIR LDFLAGS PACKAGE OUT builds PACKAGE in the module at MODULE_DIR into a
# temporary file beside OUT, renamed to OUT only when the build succeeds, with a heartbeat every
# minute so CI logs show it is alive. It returns non-zero when the build fails.
gobuild() {
	local label=$1 dir=$2 ldflags=$3 pkg=$4 out=$5 start
	mkdir -p "$(dirname "$out")"
	gobuild_tmp=$(mktemp "$(dirname "$out")/.$(basename "$out").XXXXXX")
	start=$(date +%s)
	(cd "$dir" && exec go build -trimpath -ldflags "$ldflags" -o "$gobuild_tmp" "$pkg") &
	gobuild_pid=$!
	while kill -0 "$gobuild_pid" 2>/dev/null; do
		for _ in $(seq 60); do
			sleep 1
			kill -0 "$gobuild_pid" 2>/dev/null || break
		done
		if kill -0 "$gobuild_pid" 2>/dev/null; then
			log "$label: still building ($(( ($(date +%s) - start) / 60 )) min)"
		fi
	done
	if wait "$gobuild_pid"; then
		gobuild_pid=
		chmod 0755 "$gobuild_tmp"
		mv -f "$gobuild_tmp" "$out"
		gobuild_tmp=
		log "$label: built in $(( $(date +%s) - start )) s -> $out"
		return 0
	fi
	gobuild_pid=
	rm -f "$gobuild_tmp"
	gobuild_tmp=
	log "$label: BUILD FAILED after $(( $(date +%s) - start )) s"
	return 1
}

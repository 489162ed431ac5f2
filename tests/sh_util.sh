# SPDX-License-Identifier: MIT
# tests/sh_util.sh: shared by the shell tests that run programs under
# nalloc (sourced, POSIX sh).  see src/malloc.c

# nalloc_lib NAME: $NALLOC_LIB (libnalloc.so, set by make check) made
# absolute and exported; exits 77 (skip) when it is not there.
nalloc_lib() {
	if [ -z "${NALLOC_LIB:-}" ] || [ ! -f "$NALLOC_LIB" ]; then
		echo "$1: NALLOC_LIB='${NALLOC_LIB:-}' not found: skipped"
		exit 77
	fi
	case "$NALLOC_LIB" in
	/*) ;;
	*) NALLOC_LIB="$(pwd)/$NALLOC_LIB" ;;
	esac
	export NALLOC_LIB
}

# find_python: $PY = a real python3 interpreter ($PYTHON3, /usr/bin/python3
# or python3 on PATH), not a wrapper script (pyenv shims and the like); empty
# when there is none.
find_python() {
	PY=
	for _c in "${PYTHON3:-}" /usr/bin/python3 python3; do
		[ -n "$_c" ] || continue
		_p=$(command -v "$_c" 2>/dev/null) || continue
		PY=$("$_p" -c 'import sys; print(sys.executable)' 2>/dev/null) && [ -n "$PY" ] && break
		PY=
	done
}

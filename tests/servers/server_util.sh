# SPDX-License-Identifier: MIT
# tests/servers/server_util.sh: shared by the real-server tests (sourced, POSIX
# sh): a free loopback port, waiting for a server, stopping it.  see src/malloc.c

# free_port: print a TCP port nothing listens on (127.0.0.1)
free_port() {
	"$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_port PORT PID: wait (10 s) until something accepts on 127.0.0.1:PORT;
# fails if PID died
wait_port() {
	_i=0
	while [ $_i -lt 100 ]; do
		kill -0 "$2" 2>/dev/null || return 1
		"$PY" -c 'import socket,sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=1)' "$1" 2>/dev/null && return 0
		sleep 0.1
		_i=$((_i + 1))
	done
	return 1
}

# stop_server PID: TERM, then KILL after 10 s; returns the server's status
stop_server() {
	kill -TERM "$1" 2>/dev/null
	_i=0
	while kill -0 "$1" 2>/dev/null && [ $_i -lt 100 ]; do
		sleep 0.1
		_i=$((_i + 1))
	done
	kill -KILL "$1" 2>/dev/null
	wait "$1"
}

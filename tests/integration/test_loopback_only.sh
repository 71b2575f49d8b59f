#!/bin/sh
# The own HTTP/1.1 client must reach a backend on 127.0.0.1, named
# "localhost" or by a name of /etc/hosts (its resolver is libevent's, not
# glibc's), whatever addresses the host has: with only loopback (a
# container with no network, a build sandbox), and with an IPv6 address
# but IPv4 only on loopback. The script runs itself again in new network
# and mount namespaces (unshare -mn, as root): only lo exists, and its
# own hosts file is mounted over /etc/hosts.
if [ -z "${AGENTD_NETNS_INNER:-}" ]; then
	if [ "$(id -u)" -ne 0 ] || ! unshare -mn true 2>/dev/null; then
		echo "SKIP loopback only: needs root and unshare -mn"
		exit 0
	fi
	AGENTD_NETNS_INNER=1 exec unshare -mn sh "$0" "$@"
fi
. "$(dirname "$0")/lib.sh"

printf '127.0.0.1 localhost\n::1 ip6-localhost\n127.0.0.1 backend.test\n' \
    >"$T/hosts"
mount --bind "$T/hosts" /etc/hosts ||
    { fail "loopback only: cannot mount a hosts file"; exit 1; }

# lo starts down in a new namespace: up, with python (no iproute2 needed).
python3 - <<'PY' || { fail "loopback only: cannot bring lo up"; exit 1; }
import fcntl, socket, struct
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1
flags = struct.unpack("16sH", fcntl.ioctl(s, SIOCGIFFLAGS,
    struct.pack("16sH", b"lo", 0)))[1]
fcntl.ioctl(s, SIOCSIFFLAGS, struct.pack("16sH", b"lo", flags | IFF_UP))
PY
n=$(tail -n +3 /proc/net/dev | grep -vc '^ *lo:')	# this namespace's
check "loopback only: no interface but lo ($n)" [ "$n" -eq 0 ]

own() {
	api http://localhost/metrics |
	    awk '$1 == "agentd_backend_requests_own_client_total" { print $2 }'
}
own_seen() { [ "$(own)" -ge 4 ]; }

# round NAME HOST: 4 runs against the mock on 127.0.0.1, named HOST.
round() {
	rm -f "$DB" "$DB"-* "$DB.lock"
	start_mock
	MOCK_URL=http://$2:$MOCK_PORT	# by name, not the literal
	start_agentd --workers 1
	submit 4 20 5 >/dev/null || { fail "$1: submit"; exit 1; }
	check "$1: all runs finish" wait_for 30 all_terminal
	check "$1: all completed" [ "$(count_status completed)" -eq 4 ]
	check "$1: events equal the ground truth" verify
	wait_for 5 own_seen
	check "$1: streams went through the own client ($(own))" own_seen
	kill_agentd 15
	stop_mock
}

round "loopback only, localhost" localhost
round "loopback only, a hosts name" backend.test

# An IPv6 address that is not loopback (fd00::1, a unique local one, on
# lo itself: no other interface is needed); IPv4 still only 127.0.0.1.
python3 - <<'PY' || { fail "ipv6 host: cannot add fd00::1"; exit 1; }
import fcntl, socket, struct
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
SIOCSIFADDR = 0x8916
fcntl.ioctl(s, SIOCSIFADDR, struct.pack("16sIi", socket.inet_pton(
    socket.AF_INET6, "fd00::1"), 64, socket.if_nametoindex("lo")))
PY
check "ipv6 host: fd00::1 is there" grep -q '^fd000*1 ' /proc/net/if_inet6
round "ipv6 host, localhost" localhost
round "ipv6 host, a hosts name" backend.test
exit 0

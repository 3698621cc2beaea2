#!/usr/bin/env bash
# A throwaway single-node Ceph RGW (S3) on 127.0.0.1 for the S3 tests and
# benchmarks: one monitor, one memstore OSD (data in RAM), no manager, no
# cephx inside the cluster, and radosgw (beast) serving S3.
#
#   scripts/rgw.sh up DIR PORT    start; S3 at http://127.0.0.1:PORT, user
#                                 TESTKEY / TESTSECRET, region us-east-1
#   scripts/rgw.sh down DIR       stop the daemons of DIR and remove DIR
#
# Several clusters may run at once (the normal and the sanitizer test runs):
# each one lives in its own DIR and its monitor listens on PORT+1 (msgr v2)
# and PORT+2 (msgr v1); the OSD picks free ports in Ceph's 6800-7300 range.
# `up` first stops whatever an earlier run left behind in DIR.  Virtual-hosted
# addressing works through http://localhost:PORT (rgw dns name = localhost;
# curl resolves BUCKET.localhost to 127.0.0.1 by itself).
#
# Any failure exits non-zero, names the stage that failed and prints the end
# of the daemons' logs: a test suite that needs S3 must fail loudly, never
# skip.
#
# Needs radosgw, ceph-mon, ceph-osd (scripts/deps.sh) and curl.
set -eEuo pipefail
# The cluster is on 127.0.0.1: a proxy from the caller's environment must not
# see curl's readiness checks.
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY

usage() {
	echo "usage: $0 up DIR PORT | down DIR" >&2
	exit 2
}

# The memstore OSD reports this capacity; memory is only used for what is
# stored.  Room for the 1 GiB conformance object, the 256 MiB benchmark
# objects, what RGW keeps until its garbage collection runs, and the 85%
# "nearfull" margin.
MEMSTORE_BYTES=$((6 << 30))
START_TIMEOUT=${RGW_START_TIMEOUT:-90}  # seconds for the whole start
STOP_TIMEOUT=15                         # seconds for each group to exit

log() { echo "rgw.sh: $*" >&2; }

# The pids of the daemons that belong to DIR: those in its pid files and any
# process started with DIR's ceph.conf (a pid file is gone when a daemon
# exited cleanly, or was never written when it died early).
cluster_pids() {
	local dir=$1 conf=$1/ceph.conf pids=() p
	for p in "$dir"/{rgw,osd,mon}.pid; do
		[[ -s $p ]] && pids+=("$(cat "$p")")
	done
	# shellcheck disable=SC2009,SC2207  # whole-argument match; pids are words
	pids+=($(ps -ww -eo pid=,args= | { grep -F -- "-c $conf " || true; } | awk '{print $1}'))
	# Only processes that still run with DIR's configuration: a pid in a
	# stale pid file may since have been reused by something else.
	for p in $(printf '%s\n' "${pids[@]}" | sort -un); do
		[[ $p == "$$" ]] && continue
		{ tr '\0' '\n' <"/proc/$p/cmdline"; } 2>/dev/null | grep -qxF -- "$conf" && echo "$p"
	done
	return 0
}

# stop_pids PID...: TERM them, wait up to STOP_TIMEOUT, then KILL the rest.
stop_pids() {
	local targets="$*" p i alive
	[[ -z $targets ]] && return 0
	# shellcheck disable=SC2086  # a list of pids
	kill $targets 2>/dev/null || true
	for ((i = 0; i < STOP_TIMEOUT * 10; i++)); do
		alive=""
		for p in $targets; do kill -0 "$p" 2>/dev/null && alive+=" $p"; done
		[[ -z $alive ]] && return 0
		sleep 0.1
	done
	log "pids$alive did not exit within ${STOP_TIMEOUT}s of SIGTERM; killing them"
	# shellcheck disable=SC2086
	kill -KILL $alive 2>/dev/null || true
	for ((i = 0; i < 50; i++)); do
		alive=""
		for p in $targets; do kill -0 "$p" 2>/dev/null && alive+=" $p"; done
		[[ -z $alive ]] && return 0
		sleep 0.1
	done
	log "pids$alive survive SIGKILL"
	return 1
}

# stop_cluster DIR: radosgw (and any radosgw-admin) first, then the OSD,
# then the monitor; each one's shutdown talks to the ones after it and hangs
# when they are gone.
stop_cluster() {
	local p clients="" osd="" mon=""
	for p in $(cluster_pids "$1"); do
		case $(cat "/proc/$p/comm" 2>/dev/null) in
		ceph-osd) osd+=" $p" ;;
		ceph-mon) mon+=" $p" ;;
		*) clients+=" $p" ;;
		esac
	done
	# shellcheck disable=SC2086  # lists of pids
	stop_pids $clients && stop_pids $osd && stop_pids $mon
}

# A TCP port on 127.0.0.1 that something listens on.
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# The absolute path of DIR (the daemons are found by their -c DIR/ceph.conf).
abs_dir() {
	case $1 in
	/*) echo "$1" ;;
	*) echo "$PWD/$1" ;;
	esac
}

cmd_down() {
	local dir
	dir=$(abs_dir "${1:?}")
	stop_cluster "$dir"
	rm -rf "$dir"
	log "stopped and removed $dir"
}

# ---- up ---------------------------------------------------------------------

DIR="" STAGE="" T0=0

elapsed() { echo $((($(date +%s%N) - T0) / 1000000)); }
remaining() { echo $((START_TIMEOUT - ($(date +%s%N) - T0) / 1000000000)); }

# On any failure: say which stage failed, stop what was started and show the
# end of the logs (DIR is kept for a post-mortem; `down` removes it).
on_error() {
	local rc=$? f
	trap - ERR
	set +e
	log "FAILED at stage '$STAGE' after $(elapsed) ms (exit $rc)"
	stop_cluster "$DIR"
	for f in "$DIR"/log/*.log "$DIR"/log/*.out; do
		[[ -s $f ]] || continue
		echo "----- tail of $f -----" >&2
		tail -n 40 "$f" >&2
	done
	exit 1
}

# wait_for WHAT CMD...: run CMD until it succeeds, at most until the start
# timeout runs out.
wait_for() {
	local what=$1
	shift
	while ! "$@" >/dev/null 2>&1; do
		if (($(remaining) <= 0)); then
			log "timed out after ${START_TIMEOUT}s waiting for $what"
			return 1
		fi
		sleep 0.2
	done
}

# Fail the start if DAEMON (a pid file name) is gone.
still_running() {
	local pid
	pid=$(cat "$DIR/$1.pid" 2>/dev/null) || return 1
	kill -0 "$pid" 2>/dev/null
}

# radosgw answers HTTP at all (an anonymous request; any status will do).
# Fails for good when radosgw is gone.
rgw_answers() {
	still_running rgw || {
		log "radosgw exited"
		RGW_GONE=1
		return 0
	}
	curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$PORT/"
}

osd_up() { ceph "${CONF[@]}" --connect-timeout 5 osd stat 2>/dev/null | grep -q ' 1 up'; }

# curl signing a bodiless S3 request as TESTKEY (RGW wants the payload hash
# header, which curl 7.88 does not add by itself).
s3_curl() {
	curl -s --max-time 5 --aws-sigv4 "aws:amz:us-east-1:s3" --user TESTKEY:TESTSECRET \
		-H "x-amz-content-sha256: $EMPTY_SHA256" "$@"
}
EMPTY_SHA256=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855

# A signed S3 request (ListBuckets) as TESTKEY succeeds: RGW serves and the
# user exists.
s3_ready() { s3_curl -f -o /dev/null "http://127.0.0.1:$PORT/"; }

cmd_up() {
	DIR=${1:?}
	PORT=${2:?}
	if ! [[ $PORT =~ ^[0-9]+$ ]] || ((PORT < 1 || PORT > 65533)); then usage; fi
	DIR=$(abs_dir "$DIR")
	local mon_v2=$((PORT + 1)) mon_v1=$((PORT + 2)) p
	T0=$(date +%s%N)
	trap on_error ERR

	STAGE="stop the previous cluster in $DIR"
	stop_cluster "$DIR"
	rm -rf "$DIR"
	local t_stale
	t_stale=$(elapsed)
	for p in "$PORT" "$mon_v2" "$mon_v1"; do
		if port_busy "$p"; then
			STAGE="check ports"
			log "port $p on 127.0.0.1 is taken by another program (not a cluster of $DIR)"
			false
		fi
	done
	for b in ceph-mon ceph-osd radosgw radosgw-admin ceph ceph-authtool monmaptool curl; do
		command -v "$b" >/dev/null || {
			STAGE="find programs"
			log "$b not found: run scripts/deps.sh (radosgw ceph-mon ceph-osd)"
			false
		}
	done
	mkdir -p "$DIR"/{mon/ceph-a,osd/ceph-0,run,log,rgw}
	local fsid mon_addr
	fsid=$(cat /proc/sys/kernel/random/uuid)
	mon_addr="[v2:127.0.0.1:$mon_v2,v1:127.0.0.1:$mon_v1]"
	cat >"$DIR/ceph.conf" <<EOF
[global]
fsid = $fsid
mon host = $mon_addr
public addr = 127.0.0.1
cluster addr = 127.0.0.1
public network = 127.0.0.1/32
cluster network = 127.0.0.1/32
ms bind ipv6 = false
auth cluster required = none
auth service required = none
auth client required = none
run dir = $DIR/run
admin socket = $DIR/run/\$name.asok
log file = $DIR/log/\$name.log
keyring = $DIR/keyring
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
mon allow pool size one = true
mon warn on pool no redundancy = false
mon max pg per osd = 1000
osd crush chooseleaf type = 0
# the test machine's disk may be nearly full: the monitor's store is tiny
mon data avail warn = 1
mon data avail crit = 0
# pools are created one osdmap epoch at a time: do not wait 1 s per epoch
paxos propose interval = 0.05
paxos min wait = 0.01
[mon]
mon data = $DIR/mon/\$cluster-\$id
[osd]
osd data = $DIR/osd/\$cluster-\$id
osd objectstore = memstore
memstore device bytes = $MEMSTORE_BYTES
# a machine busy with two builds and a benchmark may starve an op thread for
# minutes; the default (150 s) then aborts the OSD and the tests hang
osd op thread suicide timeout = 900
[client.rgw.a]
# radosgw defaults to ms_mon_client_mode=secure + auth_client_required=cephx
ms mon client mode = crc
auth client required = none
# tcp_nodelay: without it Nagle's algorithm and the client's delayed ACK add
# 40 ms to every small response (a ranged GET of a chunk: 6 ms -> 50 ms)
rgw frontends = beast endpoint=127.0.0.1:$PORT tcp_nodelay=1
rgw data = $DIR/rgw
# BUCKET.localhost:PORT is virtual-hosted addressing of BUCKET
rgw dns name = localhost
# no bucket lifecycle rules here; the thread only delays shutdown
rgw enable lc threads = false
# Deleted and overwritten objects stay in memory until RGW's garbage
# collection removes them, by default after 2 hours: a benchmark that puts a
# 256 MiB object again and again would fill the machine's memory.
rgw gc obj min wait = 10
rgw gc processor period = 10
EOF
	CONF=(-c "$DIR/ceph.conf")

	STAGE="monitor"
	ceph-authtool --create-keyring "$DIR/keyring" --gen-key -n mon. --cap mon 'allow *' \
		>"$DIR/log/authtool.out" 2>&1
	monmaptool --create --fsid "$fsid" --addv a "$mon_addr" "$DIR/monmap" \
		>"$DIR/log/monmaptool.out" 2>&1
	ceph-mon "${CONF[@]}" --mkfs -i a --monmap "$DIR/monmap" --keyring "$DIR/keyring" \
		>"$DIR/log/mon-mkfs.out" 2>&1
	ceph-mon "${CONF[@]}" -i a --pid-file "$DIR/mon.pid" >"$DIR/log/mon.out" 2>&1
	wait_for "the monitor" ceph "${CONF[@]}" --connect-timeout 5 mon stat
	local t_mon
	t_mon=$(elapsed)

	STAGE="OSD"
	local uuid id
	uuid=$(cat /proc/sys/kernel/random/uuid)
	id=$(timeout 30 ceph "${CONF[@]}" --connect-timeout 10 osd new "$uuid" 2>"$DIR/log/osd-new.out")
	[[ $id == 0 ]] || {
		log "'ceph osd new' gave id '$id', wanted 0"
		false
	}
	ceph-osd "${CONF[@]}" -i "$id" --mkfs --osd-uuid "$uuid" >"$DIR/log/osd-mkfs.out" 2>&1
	ceph-osd "${CONF[@]}" -i "$id" --pid-file "$DIR/osd.pid" >"$DIR/log/osd.out" 2>&1
	wait_for "the OSD to come up" osd_up
	local t_osd
	t_osd=$(elapsed)

	STAGE="radosgw"
	radosgw "${CONF[@]}" -n client.rgw.a --pid-file "$DIR/rgw.pid" >"$DIR/log/rgw.out" 2>&1
	# radosgw daemonizes; it writes its pid file once it runs
	wait_for "radosgw's pid file" test -s "$DIR/rgw.pid"
	wait_for "radosgw to answer on port $PORT" rgw_answers
	[[ -z ${RGW_GONE:-} ]] || false
	local t_rgw
	t_rgw=$(elapsed)

	STAGE="S3 user"
	timeout "$(($(remaining) > 1 ? $(remaining) : 1))" radosgw-admin "${CONF[@]}" -n client.rgw.a user create \
		--uid=tester --display-name=tester --max-buckets=100000 \
		--access-key=TESTKEY --secret-key=TESTSECRET >"$DIR/log/user-create.out" 2>&1 || {
		cat "$DIR/log/user-create.out" >&2
		false
	}
	wait_for "a signed request as TESTKEY to succeed" s3_ready

	STAGE="virtual-hosted addressing"
	# The bucket does not exist: RGW must say NoSuchBucket, which proves it
	# took the bucket from the Host header.
	local vh
	vh=$(s3_curl "http://rgw-probe.localhost:$PORT/") || true
	[[ $vh == *NoSuchBucket* ]] || {
		log "GET http://rgw-probe.localhost:$PORT/ answered: $vh"
		false
	}
	trap - ERR
	echo "rgw up on http://127.0.0.1:$PORT (TESTKEY/TESTSECRET) in $(elapsed) ms" \
		"(at ms: old cluster stopped $t_stale, monitor $t_mon, OSD $t_osd, radosgw $t_rgw);" \
		"dir $DIR;" \
		"pids mon=$(cat "$DIR/mon.pid") osd=$(cat "$DIR/osd.pid") rgw=$(cat "$DIR/rgw.pid")"
}

case ${1:-} in
up)
	[[ $# == 3 ]] || usage
	cmd_up "$2" "$3"
	;;
down)
	[[ $# == 2 ]] || usage
	cmd_down "$2"
	;;
*) usage ;;
esac

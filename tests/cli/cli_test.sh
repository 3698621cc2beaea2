#!/usr/bin/env bash
# End-to-end test of the tess CLI on one backend.
#
#   cli_test.sh TESS BACKEND [PYTHON]      BACKEND: file | lmdb | s3
#
# s3 works on a fresh bucket of the server that AWS_ENDPOINT_URL and the
# AWS_* credentials name (the test RGW of the ctest fixture `s3`).
#
# mem:// is left out on purpose: a mem store lives only as long as the process
# that made it, and each tess command is its own process, so `tess init` and
# every later command would each see a different, empty store.
set -euo pipefail

TESS=$1
BACKEND=$2
PY=${3:-/usr/bin/python3}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/tess-cli-$BACKEND.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

case $BACKEND in
file)
	URL=$tmp/store
	OTHER=lmdb://$tmp/other.lmdb   # the store of the other kind, for cp
	MISSING=$tmp/plain-dir
	mkdir "$MISSING"                # a directory that is not a store
	;;
lmdb)
	URL=lmdb://$tmp/store.lmdb
	OTHER=$tmp/other
	MISSING=lmdb://$tmp/missing.lmdb
	;;
s3)
	# bucket names: lowercase, at most 63 characters; pids wrap, so $RANDOM
	URL=s3://tess-cli-$$-$RANDOM
	OTHER=$tmp/other
	MISSING=s3://tess-cli-missing-$$-$RANDOM # a bucket nobody created
	;;
*)
	echo "unknown backend '$BACKEND'" >&2
	exit 2
	;;
esac
unset TESS_STORE
# Under the sanitizers a leak or error must not pass for an expected exit 1.
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}exitcode=99
export UBSAN_OPTIONS=${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}exitcode=99

step() { echo "--- $*"; }
fail() {
	echo "FAIL: $*" >&2
	exit 1
}

# expect CODE CMD...: run CMD with stdout in $tmp/out and stderr in $tmp/err
# and check its exit status.
expect() {
	local want=$1 got=0
	shift
	"$@" >"$tmp/out" 2>"$tmp/err" || got=$?
	[[ $got == "$want" ]] ||
		fail "'$*' exited $got, want $want; stderr: $(cat "$tmp/err")"
}
err_has() { grep -qF -- "$1" "$tmp/err" || fail "stderr lacks '$1': $(cat "$tmp/err")"; }
out_has() { grep -qxF -- "$1" "$tmp/out" || fail "stdout lacks line '$1': $(cat "$tmp/out")"; }
out_lacks() { ! grep -qxF -- "$1" "$tmp/out" || fail "stdout has line '$1'"; }
one_err_line() {
	[[ $(wc -l <"$tmp/err") == 1 ]] || fail "want one line on stderr, got: $(cat "$tmp/err")"
	grep -q '^tess: ' "$tmp/err" || fail "stderr does not start with 'tess: ': $(cat "$tmp/err")"
}
# pycheck 'PYTHON EXPRESSION over j' FILE: the file is one JSON document.
pycheck() {
	"$PY" -c 'import json, sys
j = json.load(open(sys.argv[2]))
assert eval(sys.argv[1]), (sys.argv[1], j)' "$1" "$2" || fail "JSON check '$1' on $(cat "$2")"
}
t() { "$TESS" --store "$URL" "$@"; }

step "usage: help, version, errors"
for cmd in "" init put get ls stat rm cp attr "attr get" "attr set" "attr rm" help; do
	# shellcheck disable=SC2086  # $cmd is one or two words on purpose
	expect 0 "$TESS" $cmd --help
	grep -q '^Usage: ' "$tmp/out" || fail "tess $cmd --help: no Usage line"
	[[ ! -s $tmp/err ]] || fail "tess $cmd --help wrote to stderr"
	# shellcheck disable=SC2086
	expect 0 "$TESS" $cmd -h
	grep -q '^Usage: ' "$tmp/out" || fail "tess $cmd -h: no Usage line"
done
expect 0 "$TESS" help attr set
grep -q '^Usage: tess attr set' "$tmp/out" || fail "tess help attr set"
expect 0 "$TESS" --version
grep -q '^tess ' "$tmp/out" || fail "--version"
expect 2 "$TESS"
expect 2 "$TESS" --bogus ls
err_has "unknown option '--bogus'"
expect 2 t ls --bogus
err_has "unknown option '--bogus'"
err_has "Usage: tess ls"
expect 2 t ls -Z
err_has "unknown option '-Z'"
expect 2 t frobnicate
err_has "unknown command 'frobnicate'"
expect 2 t attr frobnicate
err_has "unknown command 'frobnicate'"
expect 2 t get
err_has "missing argument"
expect 2 t stat a b
err_has "too many arguments"
expect 2 t cp --from
err_has "needs an argument"
expect 2 "$TESS" ls
err_has "no store: give --store URL or set TESS_STORE"

step "init"
expect 0 "$TESS" init "$URL"
expect 1 "$TESS" init "$URL"
one_err_line
err_has "already exists"
expect 0 "$TESS" --store "$OTHER" init --json
pycheck 'list(j) == ["url"] and j["url"].rstrip("/").endswith(("other", "other.lmdb"))' "$tmp/out"
expect 1 "$TESS" --store "$MISSING" ls
one_err_line
err_has "not found"
err_has "tess init"
TESS_STORE=$URL expect 0 "$TESS" ls # the store from the environment

step "put and get, byte-exact"
printf 'hello\n' >"$tmp/hello"
expect 0 t put notes/hello "$tmp/hello"
[[ ! -s $tmp/out ]] || fail "put printed something"
expect 0 t get notes/hello
cmp "$tmp/out" "$tmp/hello"
printf 'from stdin' | t put notes/stdin
[[ $(t get notes/stdin) == "from stdin" ]] || fail "put from stdin"
printf 'dash' | t put notes/dash -
[[ $(t get notes/dash -) == "dash" ]] || fail "put -, get -"
expect 0 t put --json notes/j "$tmp/hello"
pycheck 'j == {"key": "notes/j", "bytes": 6}' "$tmp/out"
expect 1 t put --if-absent notes/j "$tmp/hello"
one_err_line
err_has "notes/j"
err_has "already exists"
expect 0 t put --if-absent notes/new "$tmp/hello"

: >"$tmp/empty"
expect 0 t put e/empty "$tmp/empty"
expect 0 t get e/empty "$tmp/empty.out"
cmp "$tmp/empty" "$tmp/empty.out"
t put e/empty-stdin </dev/null
t get e/empty-stdin >"$tmp/empty.out2"
cmp "$tmp/empty" "$tmp/empty.out2"

head -c $((50 << 20)) /dev/urandom >"$tmp/big"
expect 0 t put data/big "$tmp/big"
t get data/big >"$tmp/big.stdout"
cmp "$tmp/big" "$tmp/big.stdout"
expect 0 t get --json data/big "$tmp/big.file"
cmp "$tmp/big" "$tmp/big.file"
pycheck 'j == {"key": "data/big", "bytes": 50 << 20}' "$tmp/out"
t put data/big-stdin <"$tmp/big"
t get data/big-stdin "$tmp/big.file2"
cmp "$tmp/big" "$tmp/big.file2"
rm -f "$tmp/big.stdout" "$tmp/big.file" "$tmp/big.file2"

expect 1 t get notes/missing "$tmp/never"
one_err_line
err_has "get 'notes/missing': not found"
[[ ! -e $tmp/never ]] || fail "a failed get left a file"
[[ -z $(find "$tmp" -maxdepth 1 -name 'never*') ]] || fail "a failed get left a temporary file"
expect 1 t get notes/missing
[[ ! -s $tmp/out ]] || fail "a failed get wrote to stdout"
mkdir "$tmp/into"
expect 0 t get notes/hello "$tmp/into"
cmp "$tmp/hello" "$tmp/into/hello"
expect 2 t get --json notes/hello

step "bad keys"
for key in "../x" "a//b" "a/./b" "x/"; do
	expect 1 t put "$key" "$tmp/hello"
	one_err_line
	err_has "invalid key"
	expect 1 t get "$key"
	err_has "invalid key"
	expect 1 t stat "$key"
	err_has "invalid key"
done
expect 1 t rm "a//b"
err_has "invalid key"
expect 1 t put .tessera/format "$tmp/hello"
one_err_line

step "ls"
printf a | t put dir/a
printf b | t put dir/b
printf c | t put dir/sub/c
printf top | t put top
expect 0 t ls
out_has "dir/"
out_has "top"
out_has "notes/"
out_lacks ".tessera/"
out_lacks "dir/a"
out_lacks ".zgroup"
expect 0 t ls -a
out_has ".zgroup"
out_lacks ".tessera/"
expect 0 t ls dir
out_has "dir/a"
out_has "dir/b"
out_has "dir/sub/"
out_lacks "dir/sub/c"
expect 0 t ls dir/
out_has "dir/sub/"
expect 0 t ls -r dir
out_has "dir/a"
out_has "dir/sub/c"
out_lacks "dir/sub/"
expect 0 t ls top
out_has "top"
expect 0 t ls -l dir
grep -qE '^ +1  [0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z  dir/a$' "$tmp/out" || fail "ls -l: $(cat "$tmp/out")"
expect 0 t ls --json
pycheck 'isinstance(j, list) and {"key": "dir/", "size": 0, "mtime": None, "type": "prefix"} in j' "$tmp/out"
pycheck '[e for e in j if e["key"] == "top"][0]["size"] == 3' "$tmp/out"
pycheck 'all(e["type"] == "object" and e["mtime"].endswith("Z") for e in j if not e["key"].endswith("/"))' "$tmp/out"
expect 0 t ls -r --json dir
pycheck '[e["key"] for e in j] == ["dir/a", "dir/b", "dir/sub/c"]' "$tmp/out"
expect 0 t ls -r --json
pycheck 'not any(e["key"].startswith(".tessera/") for e in j) and len(j) >= 10' "$tmp/out"
expect 1 t ls nothere
one_err_line
err_has "nothere"

step "stat"
expect 0 t stat --json notes/hello
pycheck 'j["key"] == "notes/hello" and j["size"] == 6 and j["mtime"].endswith("Z") and j["etag"]' "$tmp/out"
pycheck 'isinstance(j["mtime_ns"], int)' "$tmp/out"
expect 0 t stat notes/hello
grep -q '^size:  6 ' "$tmp/out" || fail "stat: $(cat "$tmp/out")"
expect 1 t stat notes/missing
one_err_line
err_has "stat 'notes/missing': not found"

step "rm"
expect 0 t rm top
expect 1 t rm top
one_err_line
err_has "rm 'top': not found"
expect 0 t rm -f top
expect 1 t rm notes/dash nope/x
err_has "nope/x"
expect 1 t get notes/dash  # the existing key was still deleted
expect 0 t rm -r --json dir/
pycheck 'j == [{"key": "dir", "deleted": 3}]' "$tmp/out"
expect 1 t ls dir
expect 1 t rm -r dir
for key in / "" //; do # never "empty the store"
	expect 1 t rm -r "$key"
	err_has "invalid key"
done
expect 0 t stat notes/hello

step "cp"
expect 0 t cp notes/hello notes/hello2
t get notes/hello2 | cmp - "$tmp/hello"
expect 0 t cp --json notes/hello notes/copies/
pycheck 'j == {"src": "notes/hello", "dst": "notes/copies/hello", "bytes": 6}' "$tmp/out"
mkdir -p "$tmp/src/sub/deeper"
printf one >"$tmp/src/one"
printf two >"$tmp/src/sub/two"
printf three >"$tmp/src/sub/deeper/three"
: >"$tmp/src/sub/empty"
expect 0 t cp -r "$tmp/src" tree
expect 0 t ls -r tree
out_has "tree/one"
out_has "tree/sub/deeper/three"
expect 0 t cp -r tree "$tmp/out-tree"
diff -r "$tmp/src" "$tmp/out-tree" || fail "store -> local tree differs"
(cd "$tmp" && expect 0 t cp -r ./src tree-rel && expect 0 t cp tree-rel/one local:one.txt)
cmp "$tmp/one.txt" "$tmp/src/one"
expect 0 t cp tree/one "$tmp/into/"
cmp "$tmp/into/one" "$tmp/src/one"
expect 1 t cp nothing "$tmp/nothing"
one_err_line
expect 2 t cp "$tmp/src/one" "$tmp/other"
expect 2 t cp --from "$OTHER" "$tmp/src/one" x
expect 0 t cp -r --to "$OTHER" tree tree
expect 0 t cp --to "$OTHER" data/big data/big
"$TESS" --store "$OTHER" get data/big | cmp - "$tmp/big"
expect 0 "$TESS" --store "$OTHER" cp -r tree "$tmp/from-other"
diff -r "$tmp/src" "$tmp/from-other" || fail "tree copied through the other store differs"
expect 0 t cp -r --from "$OTHER" --json tree back/tree
pycheck 'j["bytes"] == 11' "$tmp/out"
expect 0 t get back/tree/sub/deeper/three
[[ $(cat "$tmp/out") == three ]] || fail "cp --from"

step "attr"
expect 0 t attr get /
pycheck 'j == {}' "$tmp/out"
expect 0 t attr set / title '"Basin study"'
expect 0 t attr set . count 3
expect 0 t attr set / dt 0.1
expect 0 t attr set / neg -1
expect 0 t attr set / tags '["a", "b"]'
expect 0 t attr set --string / units meters
expect 0 t attr get / title
[[ $(cat "$tmp/out") == '"Basin study"' ]] || fail "attr get title: $(cat "$tmp/out")"
expect 0 t attr get --raw / title
[[ $(cat "$tmp/out") == 'Basin study' ]] || fail "attr get --raw"
expect 0 t attr get / dt
[[ $(cat "$tmp/out") == '0.1' ]] || fail "attr get dt: $(cat "$tmp/out")"
expect 0 t attr get ""
pycheck 'j == {"title": "Basin study", "count": 3, "dt": 0.1, "neg": -1, "tags": ["a", "b"], "units": "meters"}' "$tmp/out"
expect 0 t attr get --compact /
[[ $(wc -l <"$tmp/out") == 1 ]] || fail "attr get --compact"
expect 0 t attr set grp/sub n 5
expect 0 t attr get /grp/sub/
pycheck 'j == {"n": 5}' "$tmp/out"
expect 0 t attr rm grp/sub n
expect 1 t attr get grp/sub n
one_err_line
err_has "not found"
expect 1 t attr rm grp/sub n
one_err_line
expect 1 t attr set / units meters
one_err_line
err_has "invalid JSON value 'meters'"
err_has "'\"meters\"'"
expect 1 t attr set / bad '[1, 2'
one_err_line
expect 0 t attr get / units
[[ $(cat "$tmp/out") == '"meters"' ]] || fail "a refused set changed the value"
expect 1 t attr get "a//b"
one_err_line
expect 2 t attr set / only-name

echo "PASS cli $BACKEND"

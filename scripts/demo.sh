#!/usr/bin/env bash
# The main job of `make run`: a demo store with blobs and attributes in it.
#   scripts/demo.sh PATH/TO/tess [STORE]
set -euo pipefail
tess=$1
store=${2:-./demo-store}
export TESS_STORE=$store
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

if [[ -t 1 ]]; then bold=$'\033[1m' plain=$'\033[0m'; else bold= plain=; fi
say() { printf '\n%s$ %s%s\n' "$bold" "$*" "$plain"; }
# run 'COMMAND LINE': show it as typed, then run it.
run() {
  local shown=${1//'$tess'/$tess}
  shown=${shown//'$store'/$store}
  say "${shown//'$work'/$work}"
  eval "$1"
}

if [[ -e $store ]]; then
  echo "Removing the previous demo store at $store"
  rm -rf -- "$store"
fi
run '$tess init $store'

# Blobs: a model run's files, the way a compute plugin would leave them.
mkdir -p "$work/run-001/output"
printf 'name = "my-basin"\nsteps = 240\ndt = 30\n' > "$work/run-001/config.toml"
seq 1 1000 | awk '{printf "%d,%.3f\n", $1, sin($1/50)*10}' > "$work/run-001/output/stage.csv"
head -c 3000000 /dev/urandom > "$work/run-001/output/depth.bin"
run '$tess cp -r $work/run-001 my-basin/sims/1'
run 'echo '\''{"plugin": "ras-runner", "version": "6.3"}'\'' | $tess put my-basin/sims/1/manifest.json -'

# Attributes: typed JSON on the root and on a group, visible to zarr-python.
run '$tess attr set / title '\''"Tessera demo store"'\'''
run '$tess attr set my-basin/sims/1 steps 240'
run '$tess attr set my-basin/sims/1 params '\''{"dt": 30, "scheme": "implicit", "gauges": [1, 7, 12]}'\'''

run '$tess ls'
run '$tess ls -r my-basin'
run '$tess stat my-basin/sims/1/output/depth.bin'
run '$tess attr get my-basin/sims/1'
run '$tess get my-basin/sims/1/config.toml'

cat <<EOF

The demo store is at $store (a plain directory and a Zarr hierarchy).
Try next:
  export TESS_STORE=$store
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
  $tess ls -r --json                              # every key, for scripts
  $tess get my-basin/sims/1/output/stage.csv - | head
  $tess cp -r my-basin/sims/1 ./run-copy          # store -> local tree
  $tess attr set my-basin/sims/1 status '"done"'
  $tess rm -r my-basin/sims/1
  $tess --store lmdb://\$PWD/demo.lmdb init       # the same on one LMDB file
  /usr/bin/python3 -c "import zarr; print(dict(zarr.open_group('$store', mode='r').attrs))"
  $tess --help
EOF

#!/usr/bin/env bash
# Disk use under the sample workload with the retention: `npm start` (no main job) on a fresh
# home, a full save, then a delta save and a DSIM unload every INTERVAL seconds for MINUTES
# minutes; each minute it prints the broker's bytes per topic and PostgreSQL's data.
# dsf.plog is truncated by the DSIM builder (DSIM_BUILDER_PLOG_KEEP_SAVES, default 2),
# dsf.block-changes by the change logger (CHANGE_LOGGER_RETENTION_INTERVAL_MS; 0 shows the
# growth without it); dsf.dlog below its snapshots. Data sets: `dsf retention set --keep-saves
# KEEP_SAVES` (default 2; 0: no data set retention) and a `dsf expire` after each step, every
# FULL_EVERY-th step (default 4; 0: never) a full save instead of a delta, so the data set directory
# stays bounded too (a delta chain needs its full save and every earlier delta: only a newer full
# save lets a chain go). Each minute also: the data sets' bytes, PostgreSQL's
# pg_wal and its largest tables (test/soak/pg-tables.js). A heavier workload: NUCLEUS_DB_MIB=32
# NUCLEUS_TXN_INTERVAL_MS=10 test/soak/retention.sh.
#   test/soak/retention.sh [MINUTES=5] [INTERVAL=30]
set -euo pipefail
cd "$(dirname "$0")/../.."
MINUTES="${1:-5}"
INTERVAL="${2:-30}"
HOME_DIR="$(mktemp -d /tmp/deltaflow-soak-XXXXXX)"
chmod 755 "$HOME_DIR"
export DELTAFLOW_HOME="$HOME_DIR" DELTAFLOW_MAIN_JOB=0 DELTAFLOW_KAFKA_PORT=0 DELTAFLOW_TOPIC_PARTITIONS="${DELTAFLOW_TOPIC_PARTITIONS:-4}"
export DSIM_BUILDER_PLOG_RETENTION_INTERVAL_MS="${DSIM_BUILDER_PLOG_RETENTION_INTERVAL_MS:-10000}"
export CHANGE_LOGGER_RETENTION_INTERVAL_MS="${CHANGE_LOGGER_RETENTION_INTERVAL_MS:-10000}"
for s in NUCLEUS_SIM CHANGE_LOGGER DSIM_BUILDER SAVE_WRITER MERGE_ENGINE CATALOG STREAM_MULTIPLEXER; do export "${s}_HTTP_PORT=0"; done
node infra/launcher/bin/start.js > "$HOME_DIR/launcher.log" 2>&1 &
LAUNCHER=$!
trap 'kill -INT $LAUNCHER 2>/dev/null; wait $LAUNCHER 2>/dev/null; rm -rf "$HOME_DIR"' EXIT
for _ in $(seq 1 240); do grep -q "Press Ctrl-C" "$HOME_DIR/launcher.log" && break; sleep 1; done
grep -q "Press Ctrl-C" "$HOME_DIR/launcher.log" || { tail -40 "$HOME_DIR/launcher.log"; exit 1; }
dsf() { node infra/launcher/bin/run-ts.js apps/cli/src/main.ts "$@" --timeout 300 > /dev/null; }
sizes() {
  local k="$HOME_DIR/kafka" line=""
  for t in dsf.block-changes dsf.plog dsf.dlog dsf.nucleus-state dsf.events; do
    line+="$(printf '%s %6s  ' "$t" "$(du -sh "$k/topics/$t" 2>/dev/null | cut -f1)")"
  done
  local pg; pg="$(du -sh "$HOME_DIR/postgres" 2>/dev/null | cut -f1 || echo '?')"
  local wal; wal="$(du -sh "$HOME_DIR/postgres/pg_wal" 2>/dev/null | cut -f1 || echo '?')"
  local ds; ds="$(du -sh "$HOME_DIR/data/datasets" 2>/dev/null | cut -f1 || echo '?')"
  echo "$(printf '%4ss' "$1")  $line postgres $pg (pg_wal $wal) datasets $ds"
  node test/soak/pg-tables.js "$HOME_DIR" 8 || true
}
start=$(date +%s)
KEEP_SAVES="${KEEP_SAVES:-2}"
FULL_EVERY="${FULL_EVERY:-4}"
if (( KEEP_SAVES > 0 )); then dsf retention set --dbid 1 --keep-saves "$KEEP_SAVES"; fi
dsf save --dbid 1 --full --dest soak-full
dsf dsim unload --dbid 1 --wait --dest soak-full.dsim
n=0; next_print=0
while (( $(date +%s) - start < MINUTES * 60 )); do
  now=$(( $(date +%s) - start ))
  if (( now >= next_print )); then sizes "$now"; next_print=$(( next_print + 60 )); fi
  n=$((n + 1))
  kind=--delta
  if (( FULL_EVERY > 0 && n % FULL_EVERY == 0 )); then kind=--full; fi
  dsf save --dbid 1 "$kind" --dest "soak-d$n"
  dsf dsim unload --dbid 1 --wait --dest "soak-d$n.dsim"
  if (( KEEP_SAVES > 0 )); then dsf expire; fi
  sleep "$INTERVAL"
done
sizes "$(( $(date +%s) - start ))"
echo "saves after the first full one: $n (every ${FULL_EVERY}th full); the retention said:"
grep -o "PLOG retention: dsf.plog\[[0-9]*\] truncated below offset [0-9]* (was [0-9]*)" "$HOME_DIR/launcher.log" | tail -3 || true
grep -o "block-changes retention: dsf.block-changes\[[0-9]*\] truncated below offset [0-9]* (was [0-9]*)" "$HOME_DIR/launcher.log" | tail -3 || true
grep -o "block-changes retention keeps .*" "$HOME_DIR/launcher.log" | tail -3 || true
echo "data sets expired by the retention: $(grep -c "data sets of save .* expired" "$HOME_DIR/launcher.log" || true); left: $(ls "$HOME_DIR/data/datasets" | grep -vc '\.dsim$' || true) saves"

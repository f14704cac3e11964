#!/usr/bin/env bash
# Disk use under the sample workload with the retention: `npm start` (no main job) on a fresh
# home, a full save, then a delta save and a DSIM unload every INTERVAL seconds for MINUTES
# minutes; each minute it prints the broker's bytes per topic and PostgreSQL's data.
# dsf.plog is truncated by the DSIM builder (DSIM_BUILDER_PLOG_KEEP_SAVES, default 2),
# dsf.block-changes by the change logger (CHANGE_LOGGER_RETENTION_INTERVAL_MS; 0 shows the
# growth without it); dsf.dlog is not truncated yet. A heavier workload: NUCLEUS_DB_MIB=32
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
  echo "$(printf '%4ss' "$1")  $line postgres $pg"
}
start=$(date +%s)
dsf save --dbid 1 --full --dest soak-full
dsf dsim unload --dbid 1 --wait --dest soak-full.dsim
n=0; next_print=0
while (( $(date +%s) - start < MINUTES * 60 )); do
  now=$(( $(date +%s) - start ))
  if (( now >= next_print )); then sizes "$now"; next_print=$(( next_print + 60 )); fi
  n=$((n + 1))
  dsf save --dbid 1 --delta --dest "soak-d$n"
  dsf dsim unload --dbid 1 --wait --dest "soak-d$n.dsim"
  sleep "$INTERVAL"
done
sizes "$(( $(date +%s) - start ))"
echo "delta saves: $n; the retention said:"
grep -o "PLOG retention: dsf.plog\[[0-9]*\] truncated below offset [0-9]* (was [0-9]*)" "$HOME_DIR/launcher.log" | tail -3 || true
grep -o "block-changes retention: dsf.block-changes\[[0-9]*\] truncated below offset [0-9]* (was [0-9]*)" "$HOME_DIR/launcher.log" | tail -3 || true
grep -o "block-changes retention keeps .*" "$HOME_DIR/launcher.log" | tail -3 || true

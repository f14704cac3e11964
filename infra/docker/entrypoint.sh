#!/bin/sh
# Entry point of the Deltaflow image, run under tini (PID 1: forwards SIGTERM/SIGINT to the
# service and reaps zombies). SERVICE picks what runs:
#   SERVICE=<app>         node infra/launcher/bin/run-ts.js apps/<app>/src/main.ts [args...]
#   SERVICE=kafka-topics  the topic set-up of infra/docker/kafka-topics.ts (one-shot)
# Arguments go to the program: `docker compose run --rm dsf saves list --dbid 1` runs the
# dsf CLI (SERVICE=cli) with them. The process replaces this shell (exec), so it receives
# the signals itself and its exit status is the container's.
set -eu
# the application root: /app in the image (this file is /app/infra/docker/entrypoint.sh)
cd "$(dirname "$0")/../.."

if [ -z "${SERVICE:-}" ]; then
  echo "deltaflow: SERVICE is not set; one of: $(ls apps | tr '\n' ' ')kafka-topics" >&2
  exit 64
fi
case "$SERVICE" in
  *[!a-z0-9-]* | -*)
    echo "deltaflow: SERVICE=\"$SERVICE\" is not a service name (lower-case letters, digits, dashes)" >&2
    exit 64
    ;;
esac

if [ "$SERVICE" = kafka-topics ]; then
  entry=infra/docker/kafka-topics.ts
else
  entry="apps/$SERVICE/src/main.ts"
  if [ ! -f "$entry" ]; then
    echo "deltaflow: no service \"$SERVICE\" in this image ($entry is missing); services: $(ls apps | tr '\n' ' ')" >&2
    exit 64
  fi
fi

# The services write under DELTAFLOW_DATA_DIR (and the stream multiplexer under
# SOV_VOLUME_DIR). Say so plainly when a mounted volume is not writable by this user
# (a host directory owned by root, an NFS share without matching ownership) instead of
# failing later with EACCES deep inside a service.
writable() {
  if [ -n "$1" ] && [ -d "$1" ] && [ ! -w "$1" ]; then
    echo "deltaflow: $1 is not writable by uid $(id -u) gid $(id -g) (owner: $(stat -c '%u:%g' "$1")); give the volume to uid 1000 (Kubernetes: securityContext.fsGroup: 1000)" >&2
    exit 73
  fi
}
case "$SERVICE" in
  kafka-topics | cli) ;; # write no files
  stream-multiplexer) writable "${DELTAFLOW_DATA_DIR:-}" && writable "${SOV_VOLUME_DIR:-}" ;;
  *) writable "${DELTAFLOW_DATA_DIR:-}" ;;
esac

exec node infra/launcher/bin/run-ts.js "$entry" "$@"

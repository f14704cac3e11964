#!/bin/bash
# PostgreSQL container init script (docker-compose.yml mounts it into
# /docker-entrypoint-initdb.d): runs once, when the data volume is empty. Creates the role
# the services connect as (DELTAFLOW_DB_USER, default `deltaflow`, password
# DELTAFLOW_DB_PASSWORD) as an ordinary role (no superuser, no CREATEDB, no CREATEROLE) that
# owns its database (DELTAFLOW_DB_NAME, default `deltaflow`) and so may create tables and
# schemas there (migrations, the catalog's replay schemas) and nothing else.
# The superuser (POSTGRES_USER/POSTGRES_PASSWORD) stays for the operator.
# To change the password later: ALTER ROLE deltaflow PASSWORD '...' as the superuser, then
# update DELTAFLOW_DB_PASSWORD (a changed variable does not re-run this script).
set -euo pipefail

if [ -z "${DELTAFLOW_DB_PASSWORD:-}" ]; then
  echo "10-deltaflow-role.sh: DELTAFLOW_DB_PASSWORD is not set" >&2
  exit 1
fi

export DELTAFLOW_DB_USER="${DELTAFLOW_DB_USER:-deltaflow}" DELTAFLOW_DB_NAME="${DELTAFLOW_DB_NAME:-deltaflow}"
# psql reads names and password from the environment (\getenv, psql 15+) and quotes them
# (:"x" as an identifier, :'x' as a literal): the password is on no command line.
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "${POSTGRES_DB:-$POSTGRES_USER}" <<'SQL'
\getenv pw DELTAFLOW_DB_PASSWORD
\getenv role DELTAFLOW_DB_USER
\getenv db DELTAFLOW_DB_NAME
CREATE ROLE :"role" LOGIN PASSWORD :'pw' NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION;
CREATE DATABASE :"db" OWNER :"role";
REVOKE ALL ON DATABASE :"db" FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE :"db" TO :"role";
SQL
echo "10-deltaflow-role.sh: role $DELTAFLOW_DB_USER and database $DELTAFLOW_DB_NAME created"

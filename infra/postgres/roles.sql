-- The role and database Deltaflow's services need on an external PostgreSQL (DATABASE_URL):
-- a login role that is no superuser, owning the database the services use. Owning it is all
-- it needs: the services' migrations create tables (in public, or in a schema such as
-- CATALOG_SCHEMA), and the catalog's replay creates and drops scratch schemas.
-- The embedded PostgreSQL of `npm start` does the same by itself (infra/embedded-postgres).
--
-- Run once, as a superuser (or a role with CREATEROLE and CREATEDB), with psql:
--   psql "postgres://admin@db.example:5432/postgres" -f infra/postgres/roles.sql
-- It asks for the new role's password (or pass -v password=... , which `ps` can show).
-- Other names: -v role=... -v database=... (defaults deltaflow, deltaflow). Then:
--   DATABASE_URL=postgres://deltaflow:<password>@db.example:5432/deltaflow
-- and in pg_hba.conf, scram-sha-256 (not trust, not md5) for the hosts the services run on.
\set ON_ERROR_STOP on
\if :{?role}
\else
  \set role deltaflow
\endif
\if :{?database}
\else
  \set database deltaflow
\endif
\if :{?password}
\else
  \prompt 'Password for the new role: ' password
\endif

-- the password reaches the server as a SCRAM verifier, never stored as md5
SET password_encryption = 'scram-sha-256';
CREATE ROLE :"role" WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD :'password';
CREATE DATABASE :"database" OWNER :"role";

\connect :"database"
-- PostgreSQL 15 and later: public belongs to pg_database_owner, i.e. to the role already.
-- Before 15 it belongs to the bootstrap superuser and everyone may create in it:
ALTER SCHEMA public OWNER TO :"role";
REVOKE CREATE ON SCHEMA public FROM PUBLIC;

-- Nothing else: no membership in pg_execute_server_program, pg_read_server_files or
-- pg_write_server_files (COPY ... PROGRAM / files as the server's OS user). To check:
--   SELECT rolsuper, rolcreaterole, rolcreatedb,
--          pg_has_role(:'role', 'pg_execute_server_program', 'MEMBER') AS program
--   FROM pg_roles WHERE rolname = :'role';          -- f, f, f, f

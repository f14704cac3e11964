#!/usr/bin/env node
/**
 * The largest PostgreSQL relations of a running `npm start` home (test/soak/retention.sh prints
 * them each minute): pg_total_relation_size (table + indexes + TOAST) of the service database,
 * its WAL directory, and the row count of each table shown.
 *   node test/soak/pg-tables.js HOME_DIR [TOP=8]
 */
const fs = require('node:fs');
const path = require('node:path');
const { Client } = require('pg');

async function main() {
  const [home, top = '8'] = process.argv.slice(2);
  const creds = JSON.parse(fs.readFileSync(path.join(home, 'credentials', 'postgres.json'), 'utf8'));
  const log = fs.readFileSync(path.join(home, 'launcher.log'), 'utf8');
  const m = /postgres(?:ql)?:\/\/[^@\s]*@([^:/\s]+):(\d+)\//.exec(log);
  if (!m) throw new Error('no PostgreSQL URL in the launcher log');
  const c = new Client({ host: m[1], port: Number(m[2]), user: creds.service.user, password: creds.service.password, database: creds.service.database });
  await c.connect();
  try {
    const rows = (
      await c.query(
        `SELECT n.nspname || '.' || c.relname AS rel, pg_total_relation_size(c.oid) AS bytes, c.reltuples::bigint AS rows
           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema')
          ORDER BY 2 DESC LIMIT $1`,
        [Number(top)],
      )
    ).rows;
    const db = (await c.query('SELECT pg_database_size(current_database()) AS b')).rows[0].b;
    const kb = (b) => `${(Number(b) / 1024).toFixed(0)}K`;
    console.log(`  database ${kb(db)}: ${rows.map((r) => `${r.rel} ${kb(r.bytes)} (${r.rows} rows)`).join(', ')}`);
  } finally {
    await c.end();
  }
}
main().catch((e) => {
  console.log(`  pg-tables: ${e.message}`);
});

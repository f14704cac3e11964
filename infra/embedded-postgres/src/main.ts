/**
 * Runs one embedded PostgreSQL until SIGINT/SIGTERM and prints the service role's URL on
 * stdout, password masked (`--show-password` prints it whole, for scripts).
 *   node infra/launcher/bin/run-ts.js infra/embedded-postgres/src/main.ts [--data-dir DIR] [--port N] [--no-fsync]
 *     [--credentials FILE] [--listen ADDR[,ADDR]] [--show-password]
 * Defaults: data dir $DELTAFLOW_PG_DATA or <tmp>/deltaflow-pg, a free port, fsync on,
 * credentials in <parent of the data dir>/credentials/<its name>.json, 127.0.0.1 only.
 */
import os from 'node:os';
import path from 'node:path';
import { startEmbeddedPostgres } from './embedded-postgres';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

async function main(): Promise<void> {
  const dataDir = arg('--data-dir') ?? process.env.DELTAFLOW_PG_DATA ?? path.join(os.tmpdir(), 'deltaflow-pg');
  const portText = arg('--port') ?? '0';
  const port = Number(portText);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    process.stderr.write(`--port: expected an integer in [0, 65535], got ${portText}\n`);
    process.exit(2);
  }
  const pg = await startEmbeddedPostgres({
    dataDir,
    port,
    fsync: !process.argv.includes('--no-fsync'),
    ...(arg('--credentials') ? { credentialsFile: arg('--credentials') } : {}),
    ...(arg('--listen') ? { listenAddresses: arg('--listen')!.split(',') } : {}),
    logger: { info: (m) => process.stderr.write(`${m}\n`), warn: (m) => process.stderr.write(`WARN ${m}\n`) },
  });
  process.stderr.write(`passwords in ${pg.credentialsFile}\n`);
  process.stdout.write(`${process.argv.includes('--show-password') ? pg.url : pg.url.replace(/:[^:@/]*@/, ':***@')}\n`);
  const shutdown = () => {
    pg.stop().then(
      () => process.exit(0),
      (err) => {
        process.stderr.write(`${(err as Error).message}\n`);
        process.exit(1);
      },
    );
  };
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);
}

main().catch((err) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});

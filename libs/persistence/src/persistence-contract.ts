/**
 * The persistence behaviour suite, written once and run against any PostgreSQL: the embedded
 * server always, a testcontainers PostgreSQL where a Docker engine answers.
 */
import { Client } from 'pg';
import type { DataSource, MigrationInterface, QueryRunner } from 'typeorm';
import { applyOnce, CheckpointMigration, readCheckpoints } from './checkpoint';
import { openDataSource } from './data-source';

class Widgets1700000000100 implements MigrationInterface {
  name = 'Widgets1700000000100';
  async up(q: QueryRunner): Promise<void> {
    await q.query('CREATE TABLE widget (id int PRIMARY KEY, label text NOT NULL)');
  }
  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE widget');
  }
}
const migrations = [CheckpointMigration, Widgets1700000000100];

export interface DatabaseFactory {
  /** a fresh, empty database */
  create(): Promise<{ url: string; drop(): Promise<void> }>;
}

async function tables(url: string, schema: string): Promise<string[]> {
  const c = new Client({ connectionString: url });
  await c.connect();
  try {
    const r = await c.query<{ table_name: string }>('SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY table_name', [schema]);
    return r.rows.map((x) => x.table_name);
  } finally {
    await c.end();
  }
}

async function widgets(ds: DataSource): Promise<Array<{ id: number; label: string }>> {
  return ds.query('SELECT id, label FROM widget ORDER BY id');
}

export function describePersistenceContract(name: string, factory: () => DatabaseFactory): void {
  describe(`persistence on ${name}`, () => {
    let db: { url: string; drop(): Promise<void> };
    const open: DataSource[] = [];
    const openDs = async (schema?: string) => {
      const ds = await openDataSource({ url: db.url, entities: [], migrations, ...(schema ? { schema } : {}) });
      open.push(ds);
      return ds;
    };

    beforeEach(async () => {
      db = await factory().create();
    });
    afterEach(async () => {
      for (const ds of open.splice(0)) if (ds.isInitialized) await ds.destroy();
      await db.drop();
    });

    it('creates the tables by migration, and re-running the migrations is a no-op', async () => {
      const ds = await openDs();
      expect(await tables(db.url, 'public')).toEqual(['migrations', 'projection_checkpoint', 'widget']);
      await ds.query("INSERT INTO widget VALUES (1, 'kept')");
      await ds.destroy();
      const again = await openDs();
      expect(await again.showMigrations()).toBe(false);
      const ran: Array<{ name: string }> = await again.query('SELECT name FROM migrations ORDER BY id');
      expect(ran.map((r) => r.name)).toEqual(['CheckpointMigration1700000000000', 'Widgets1700000000100']);
      expect(await widgets(again)).toEqual([{ id: 1, label: 'kept' }]);
    });

    it('puts the tables of a schema-scoped data source in that schema only', async () => {
      await openDs('replay_1');
      expect(await tables(db.url, 'replay_1')).toEqual(['migrations', 'projection_checkpoint', 'widget']);
      expect(await tables(db.url, 'public')).toEqual([]);
    });

    it('applies a record once: a duplicate offset changes nothing', async () => {
      const ds = await openDs();
      const at = { projection: 'widgets', topic: 't', partition: 0 };
      const put = (id: number, label: string) => async (m: import('typeorm').EntityManager) => {
        await m.query('INSERT INTO widget VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET label = EXCLUDED.label', [id, label]);
      };
      expect(await applyOnce(ds, { ...at, offset: '0' }, put(1, 'a'))).toBe('applied');
      expect(await applyOnce(ds, { ...at, offset: '1' }, put(2, 'b'))).toBe('applied');
      // Redelivery of offset 0 with different content: skipped, so row 1 keeps 'a'.
      expect(await applyOnce(ds, { ...at, offset: '0' }, put(1, 'changed'))).toBe('duplicate');
      expect(await applyOnce(ds, { ...at, offset: '1' }, put(3, 'c'))).toBe('duplicate');
      expect(await widgets(ds)).toEqual([
        { id: 1, label: 'a' },
        { id: 2, label: 'b' },
      ]);
      expect(await readCheckpoints(ds, 'widgets')).toEqual([{ topic: 't', partition: 0, nextOffset: '2' }]);
      // Gaps in offsets (compaction, transaction markers) are fine: the checkpoint jumps.
      expect(await applyOnce(ds, { ...at, offset: '10' }, put(4, 'd'))).toBe('applied');
      expect(await readCheckpoints(ds, 'widgets')).toEqual([{ topic: 't', partition: 0, nextOffset: '11' }]);
      // Other projections and partitions have their own checkpoints.
      expect(await applyOnce(ds, { ...at, partition: 1, offset: '0' }, put(5, 'e'))).toBe('applied');
      expect(await readCheckpoints(ds, 'other')).toEqual([]);
    });

    it('a throwing fn leaves neither rows nor checkpoint', async () => {
      const ds = await openDs();
      const at = { projection: 'widgets', topic: 't', partition: 0, offset: '0' };
      await expect(
        applyOnce(ds, at, async (m) => {
          await m.query("INSERT INTO widget VALUES (1, 'half')");
          throw new Error('boom');
        }),
      ).rejects.toThrow('boom');
      expect(await widgets(ds)).toEqual([]);
      expect(await readCheckpoints(ds, 'widgets')).toEqual([]);
      // The same record applies cleanly afterwards.
      expect(await applyOnce(ds, at, async (m) => void (await m.query("INSERT INTO widget VALUES (1, 'whole')")))).toBe('applied');
      expect(await widgets(ds)).toEqual([{ id: 1, label: 'whole' }]);
    });

    it('two instances applying the same records concurrently apply each exactly once', async () => {
      const a = await openDs();
      const b = await openDs();
      const outcomes = await Promise.all(
        Array.from({ length: 20 }, (_, i) => i).flatMap((i) =>
          [a, b].map((ds) =>
            applyOnce(ds, { projection: 'count', topic: 't', partition: 0, offset: String(i) }, async (m) => {
              // Not idempotent on its own: a double apply would violate the primary key or add a row.
              await m.query('INSERT INTO widget VALUES ($1, $2)', [i, 'x']);
            }),
          ),
        ),
      );
      // Out-of-order racing can make a lower offset a 'duplicate' after a higher one was applied,
      // but no record is ever applied twice.
      expect(outcomes.filter((o) => o === 'applied').length).toBeLessThanOrEqual(20);
      const rows = await widgets(a);
      expect(new Set(rows.map((r) => r.id)).size).toBe(rows.length);
      expect(rows.length).toBe(outcomes.filter((o) => o === 'applied').length);
    });

    it('rejects a malformed offset before touching the database', async () => {
      const ds = await openDs();
      await expect(applyOnce(ds, { projection: 'p', topic: 't', partition: 0, offset: '-1' }, async () => undefined)).rejects.toThrow(/offset must be/);
      await expect(applyOnce(ds, { projection: 'p', topic: 't', partition: 0, offset: '1e3' }, async () => undefined)).rejects.toThrow(/offset must be/);
      expect(await readCheckpoints(ds, 'p')).toEqual([]);
    });
  });
}

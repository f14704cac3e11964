import { BadRequestException, Body, Controller, Get, HttpCode, Inject, NotFoundException, Param, Post, Query } from '@nestjs/common';
import { EventPattern, Payload } from '@nestjs/microservices';
import { Topic, type TopicMessage } from '@deltaflow/contracts';
import type { DecodedRecord } from '@deltaflow/service-kit';
import type { DataSource } from 'typeorm';
import { queryDsims } from './dsims/dsims.projection';
import { queryLineages } from './lineages/lineages.projection';
import type { CatalogEvent, DsfEvent, SovEvent } from './projection';
import { applyCatalogRecords, catalogPosition, stateDigest, type CatalogRecord } from './read-models';
import { queryDlog } from './dlog/dlog.projection';
import { queryRestores } from './restores/restores.projection';
import { querySaves } from './saves/saves.projection';
import { queryClientFiles, queryPlacements, volumeFactsDigest, type ClientFileState } from './sov-client-files/client-files.projection';
import { queryStreams } from './sov-streams/streams.projection';
import { queryVerifications } from './sov-verifications/verifications.projection';
import { queryVolumes } from './sov-volumes/volumes.projection';
import { CATALOG_DB, SovadmService } from './sovadm/sovadm.service';
import { chainHook } from './audit/hash-chain';

export { CATALOG_DB };

/**
 * Thin: dsf.events, dsf.dlog and sov.events → the read models, a fetched batch of one partition at
 * a time in one transaction (apply-batch.ts; its checkpoints in the same transaction).
 */
@Controller()
export class CatalogEventsController {
  constructor(@Inject(CATALOG_DB) private readonly ds: DataSource) {}

  // a database fault is retried by the service kit (isRejection: SQLSTATE errors are transient)
  @EventPattern(Topic.dsfEvents, { batch: true })
  async onEvents(@Payload() records: DecodedRecord<DsfEvent>[]): Promise<void> {
    await applyCatalogRecords(this.ds, records.map(toRecord), chainHook);
  }

  @EventPattern(Topic.dlog, { batch: true })
  async onDlog(@Payload() records: DecodedRecord<TopicMessage<'dsf.dlog'>>[]): Promise<void> {
    await applyCatalogRecords(this.ds, records.map(toRecord), chainHook);
  }

  @EventPattern(Topic.sovEvents, { batch: true })
  async onSovEvents(@Payload() records: DecodedRecord<SovEvent>[]): Promise<void> {
    await applyCatalogRecords(this.ds, records.map(toRecord), chainHook);
  }
}

function toRecord(r: DecodedRecord<CatalogEvent>): CatalogRecord {
  return { event: r.message, at: { topic: r.ctx.topic, partition: r.ctx.partition, offset: r.ctx.offset }, value: r.ctx.value ?? null };
}

const STREAM = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const STATES = ['open', 'closed', 'aborted', 'expired'];

function optional(name: string, raw: unknown, pattern: RegExp, rule: string): string | undefined {
  if (raw === undefined) return undefined;
  if (typeof raw !== 'string' || !pattern.test(raw)) throw new BadRequestException(`${name}: expected ${rule}, got ${JSON.stringify(raw).slice(0, 80)}`);
  return raw;
}

/** `asOf`: ms since the epoch or an ISO date (default now). */
export function parseAsOf(raw: unknown, now = Date.now()): number {
  if (raw === undefined || raw === null) return now;
  if (typeof raw === 'number' && Number.isSafeInteger(raw) && raw >= 0) return raw;
  if (typeof raw === 'string' && /^\d{4}-\d{2}-\d{2}/.test(raw) && Number.isFinite(Date.parse(raw))) return Date.parse(raw);
  throw new BadRequestException(`asOf: expected ms since the epoch or an ISO date, got ${JSON.stringify(raw).slice(0, 80)}`);
}

/** `dbid` query parameter: an integer in [1, 65535]. */
export function parseDbid(raw: unknown): number {
  if (typeof raw !== 'string' || raw.length === 0) throw new BadRequestException('dbid: required query parameter, an integer in [1, 65535]');
  if (!/^[1-9][0-9]{0,4}$/.test(raw) || Number(raw) > 65535) {
    throw new BadRequestException(`dbid: expected an integer in [1, 65535], got ${JSON.stringify(raw.slice(0, 32))}`);
  }
  return Number(raw);
}

/** The query API. */
@Controller()
export class CatalogQueryController {
  constructor(
    @Inject(CATALOG_DB) private readonly ds: DataSource,
    private readonly sovadm: SovadmService,
  ) {}

  /** The data set retention of database N (or of every database): policy, kept saves and why, due, expired. */
  @Get('retention')
  retention(@Query('dbid') dbid: unknown, @Query('asOf') asOf: unknown) {
    return this.sovadm.retention(dbid === undefined ? undefined : parseDbid(dbid), parseAsOf(asOf));
  }

  /** The databases the catalog knows (a save, DSIM, restore or DLOG of theirs), ascending: the console lists them. */
  @Get('databases')
  async databases() {
    const rows: Array<{ dbid: number }> = await this.ds.query(
      `SELECT dbid FROM catalog_save UNION SELECT dbid FROM catalog_dsim UNION SELECT dbid FROM catalog_restore UNION SELECT dbid FROM catalog_dlog ORDER BY dbid`,
    );
    return rows.map((r) => Number(r.dbid));
  }

  @Get('saves')
  saves(@Query('dbid') dbid: unknown) {
    return querySaves(this.ds, parseDbid(dbid));
  }

  @Get('dsims')
  dsims(@Query('dbid') dbid: unknown) {
    return queryDsims(this.ds, parseDbid(dbid));
  }

  @Get('lineages')
  lineages(@Query('dbid') dbid: unknown) {
    return queryLineages(this.ds, parseDbid(dbid));
  }

  @Get('restores')
  restores(@Query('dbid') dbid: unknown) {
    return queryRestores(this.ds, parseDbid(dbid));
  }

  /** ADAREP's Delta Save section: DLOG state, the save chain with DSIDs and lineage, the DSIM, the last merges and restores. */
  @Get('report')
  async report(@Query('dbid') raw: unknown, @Query('topics') withTopics: unknown) {
    const dbid = parseDbid(raw);
    const [retention] = await this.sovadm.retention(dbid, Date.now());
    // topics=0: without the topic retentions (asked of Kafka), e.g. the console's refreshes
    const topics = withTopics === '0' ? undefined : await this.sovadm.topicRetention(dbid);
    return this.ds.transaction('REPEATABLE READ', async (m) => {
      const saves = await querySaves(m, dbid);
      const dsims = await queryDsims(m, dbid);
      return {
        dbid,
        asOf: Date.now(),
        dlog: await queryDlog(m, dbid),
        dsim: dsims.length > 0 ? dsims[dsims.length - 1] : null,
        saves: saves.filter((s) => s.origin === 'save'),
        merges: saves.filter((s) => s.origin === 'merge'),
        restores: await queryRestores(m, dbid),
        lineages: await queryLineages(m, dbid),
        retention: { dataSets: retention, ...(topics ? { topics } : {}) },
      };
    });
  }

  @Get('state-digest')
  async digest() {
    // Read rows and checkpoints in one snapshot so the digest matches the position.
    return this.ds.transaction('REPEATABLE READ', async (m) => {
      const { digest, rows } = await stateDigest(m);
      const position = await catalogPosition(m);
      // the on-volume facts (client files, runs, volumes): what SCANSTREAMFILE rebuilds
      const volumeDigest = await volumeFactsDigest(m);
      return { digest, volumeDigest, rows, position };
    });
  }

  @Get('streams')
  streams() {
    return queryStreams(this.ds);
  }

  @Get('client-files')
  clientFiles(@Query('stream') stream: unknown, @Query('dbid') dbid: unknown, @Query('name') name: unknown, @Query('state') state: unknown) {
    return queryClientFiles(this.ds, {
      ...(stream !== undefined ? { stream: optional('stream', stream, STREAM, 'a stream name') } : {}),
      ...(dbid !== undefined ? { dbid: parseDbid(dbid) } : {}),
      ...(name !== undefined ? { name: optional('name', name, NAME, 'a client file name') } : {}),
      ...(state !== undefined ? { state: optional('state', state, /^(open|closed|aborted|expired)$/, STATES.join(' | ')) as ClientFileState } : {}),
    });
  }

  @Get('client-files/:incarnation/placements')
  async placements(@Param('incarnation') incarnation: string) {
    optional('incarnation', incarnation, UUID, 'a lower-case UUID');
    const p = await queryPlacements(this.ds, incarnation);
    if (!p) throw new NotFoundException(`no client file with incarnation ${incarnation}`);
    return p;
  }

  @Get('volumes')
  volumes(@Query('stream') stream: unknown) {
    return queryVolumes(this.ds, optional('stream', stream, STREAM, 'a stream name'));
  }

  /** Verifications of volumes and client files, newest first (VolumeVerified, ClientFileVerified). */
  @Get('verifications')
  verifications(@Query() q: Record<string, unknown>) {
    const ok = optional('ok', q.ok, /^(true|false)$/, 'true | false');
    const limit = optional('limit', q.limit, /^[1-9][0-9]{0,3}$/, 'an integer in [1, 9999]');
    const incarnation = optional('incarnation', q.incarnation, UUID, 'a lower-case UUID');
    const volser = optional('volser', q.volser, /^[A-Z0-9]{1,6}$/, 'a volser (1-6 of A-Z 0-9)');
    const stream = optional('stream', q.stream, STREAM, 'a stream name');
    const clientFile = optional('clientFile', q.clientFile, NAME, 'a client file name');
    const correlationId = optional('correlationId', q.correlationId, /^[\x21-\x7e]{1,128}$/, 'a correlation id');
    return queryVerifications(this.ds, {
      ...(stream ? { stream } : {}),
      ...(volser ? { volser } : {}),
      ...(clientFile ? { clientFile } : {}),
      ...(incarnation ? { incarnation } : {}),
      ...(correlationId ? { correlationId } : {}),
      ...(ok ? { ok: ok === 'true' } : {}),
      ...(limit ? { limit: Number(limit) } : {}),
    });
  }
}

/** SOVADM: expire, catalog backup and restore, SCANSTREAMFILE. */
@Controller('sovadm')
export class SovadmController {
  constructor(private readonly sovadm: SovadmService) {}

  @Post('expire')
  @HttpCode(200)
  expire(@Body() body: { asOf?: unknown; dryRun?: unknown } = {}) {
    return this.sovadm.expire(parseAsOf(body?.asOf), body?.dryRun === true);
  }

  @Post('backup')
  @HttpCode(200)
  backup(@Body() body: { name?: unknown } = {}) {
    return this.sovadm.backup(optional('name', body?.name, NAME, 'a backup name') ?? `catalog-${new Date().toISOString().slice(0, 19).replace(/[:T]/g, '-')}`);
  }

  @Post('restore')
  @HttpCode(200)
  restore(@Body() body: { name?: unknown; schema?: unknown } = {}) {
    const name = optional('name', body?.name, NAME, 'a backup name');
    const schema = optional('schema', body?.schema, /^[a-z_][a-z0-9_]{0,62}$/, 'a lower-case schema name');
    if (!name || !schema) throw new BadRequestException('name and schema: required');
    return this.sovadm.restore(name, schema);
  }

  @Post('scan')
  @HttpCode(200)
  scan(@Body() body: { schema?: unknown; volsers?: unknown; mode?: unknown } = {}) {
    const schema = optional('schema', body?.schema, /^[a-z_][a-z0-9_]{0,62}$/, 'a lower-case schema name') ?? 'catalog_scan';
    const volsers = body?.volsers;
    if (volsers !== undefined && (!Array.isArray(volsers) || volsers.some((v) => typeof v !== 'string' || !/^[A-Z0-9]{1,6}$/.test(v))))
      throw new BadRequestException('volsers: expected a list of volsers (1-6 of A-Z 0-9)');
    const mode = optional('mode', body?.mode, /^(auto|full)$/, 'auto | full') as 'auto' | 'full' | undefined;
    return this.sovadm.scan(schema, { ...(volsers ? { volsers: volsers as string[] } : {}), ...(mode ? { mode } : {}) });
  }

  @Get('health')
  health() {
    return { status: 'ok' };
  }
}

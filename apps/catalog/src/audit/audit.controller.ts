/**
 * The auditor's HTTP API: GET /at (the state at a past point), GET /history (every event of one
 * save, data set or client file), GET /verify (replay from offset 0 against the live state and the
 * hash chain). Each reads the log itself (throw-away readers: the live catalog's offsets never move).
 */
import { BadRequestException, ConflictException, Controller, Get, Inject, Query } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import { CatalogError } from '../errors';
import { CATALOG_DB, SOVADM_CONFIG, type SovadmConfig } from '../sovadm/sovadm.service';
import { parseAtSpec, stateAt } from './as-of';
import { historyOf, parseSubject } from './history';
import { verifyCatalog } from './verify';

/** A CatalogError as the HTTP answer it means (400 bad input, 409 a fold already running). */
async function answer<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof CatalogError && err.code === 'VALIDATION') throw new BadRequestException(err.message);
    if (err instanceof CatalogError && err.code === 'CONCURRENCY') throw new ConflictException(err.message);
    throw err;
  }
}

@Controller()
export class AuditController {
  constructor(
    @Inject(CATALOG_DB) private readonly ds: DataSource,
    @Inject(SOVADM_CONFIG) private readonly config: SovadmConfig,
  ) {}

  private brokers(): readonly string[] {
    if (!this.config.brokers?.length) throw new CatalogError('VALIDATION', 'this catalog has no Kafka brokers to read the log from');
    return this.config.brokers;
  }

  @Get('at')
  at(@Query('offset') offset: unknown, @Query('sovOffset') sovOffset: unknown, @Query('time') time: unknown, @Query('dbid') dbid: unknown) {
    return answer(() => stateAt(this.brokers(), this.config.databaseUrl, parseAtSpec({ offset, sovOffset, time, dbid })));
  }

  @Get('history')
  async history(@Query('subject') subject: unknown) {
    return answer(async () => {
      const s = parseSubject(subject);
      return { subject: s, events: await historyOf(this.brokers(), s) };
    });
  }

  @Get('verify')
  verify() {
    return answer(() => verifyCatalog(this.ds, this.brokers(), this.config.databaseUrl));
  }
}

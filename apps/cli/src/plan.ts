/**
 * What a parsed command line asks for, before anything is sent: the tests check plans, the
 * runner carries them out. A command group (commands/*.ts) turns its options into a plan.
 */
import { randomUUID } from 'node:crypto';
import type { Command } from 'commander';
import { registry } from '@deltaflow/contracts';
import { CliUsageError, DEFAULT_TIMEOUT_SEC, type CommonOptions } from './options';
import type { DiscoveryContext } from './endpoints';
import type { DsfCommand, Outcome } from './outcome';

/** Publish a command on dsf.commands and follow its outcome on dsf.events by correlation id. */
export interface SendPlan {
  readonly kind: 'send';
  readonly message: DsfCommand;
  readonly json: boolean;
  readonly timeoutSec: number;
  /** false: done once the broker has the command (dsim print has no outcome event) */
  readonly follow: boolean;
  /** `dsim unload --wait` (DSIMWAIT): ask again, as ID.2, ID.3..., while the answer is DSIM_NOT_COMPLETE */
  readonly retryWhileNotComplete?: boolean;
}

/** GET a catalog query and render its answer. */
export interface QueryPlan {
  readonly kind: 'query';
  /** path and query under CATALOG_URL, e.g. /saves?dbid=1 */
  readonly path: string;
  readonly json: boolean;
  readonly timeoutSec: number;
  /** the answer (parsed JSON of a 2xx response) as text and JSON; throws when it is not what was expected */
  render(body: unknown): Outcome;
}

/** What a command that does its own work gets: where Kafka is, the environment, stderr for notes. */
export interface RunContext {
  readonly discovery: DiscoveryContext;
  readonly env: NodeJS.ProcessEnv;
  /** where relative paths are resolved (default: the working directory) */
  readonly cwd?: string;
  /** a line of stderr (notes while it works) */
  readonly err: (line: string) => void;
}

/**
 * A command that does its own work and returns its outcome (`dsf upstream check` reads a topic
 * and checks it). A thrown error is infrastructure trouble (exit 3); bad inputs it finds itself
 * (an unreadable geometry file) are its own `usage` outcome (exit 2).
 */
export interface RunPlan {
  readonly kind: 'run';
  /** the dsf words, e.g. "upstream check" */
  readonly command: string;
  readonly json: boolean;
  run(ctx: RunContext): Promise<Outcome>;
}

export type Plan = SendPlan | QueryPlan | RunPlan;

/** What a command group registers on the program. */
export interface CommandGroup {
  /** Adds the group's command(s) to `program`; each action hands its plan to `use`. */
  register(program: Command, use: (plan: Plan) => void): void;
}

/** A fresh correlation id, unless the operator chose one with --id. */
export function correlationIdOf(o: CommonOptions): string {
  return o.id ?? `cli-${randomUUID()}`;
}

/**
 * The plan that sends `message`, checked against its contract here, so a value the options let
 * through but the contract refuses is still a usage error with nothing sent.
 */
export function sendPlan(message: DsfCommand, o: CommonOptions, extra: { follow?: boolean; retryWhileNotComplete?: boolean; dsimWaitSec?: number } = {}): SendPlan {
  try {
    registry.get(message.type)!.validate(message);
  } catch (e) {
    throw new CliUsageError((e as Error).message);
  }
  return {
    kind: 'send',
    message,
    json: o.json === true,
    // DSIMWAIT happens before the outcome: the default wait grows by it
    timeoutSec: o.timeout ?? DEFAULT_TIMEOUT_SEC + (extra.dsimWaitSec ?? 0),
    follow: extra.follow ?? true,
    ...(extra.retryWhileNotComplete ? { retryWhileNotComplete: true } : {}),
  };
}

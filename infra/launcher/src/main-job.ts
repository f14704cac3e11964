/** The job `npm start` runs once everything is up. */
import { Child } from './processes';

export interface MainJobContext {
  brokers: string;
  databaseUrl: string;
  home: string;
  env: NodeJS.ProcessEnv;
  onChild(child: Child): void;
}

export async function runMainJob(_ctx: MainJobContext): Promise<void> {
  // Filled in as services land: the reference nucleus with a sample database and workload.
}

/**
 * The services `npm start` runs, in start order. Each is a NestJS application under apps/
 * started as its own process, exactly as it would run alone against external Kafka and
 * PostgreSQL (see README, "Running one service alone").
 */
export interface ServiceSpec {
  /** folder under apps/ */
  name: string;
  /** whether it needs DATABASE_URL */
  database: boolean;
  /** extra environment for the embedded default */
  env?: Record<string, string>;
}

export const SERVICES: ServiceSpec[] = [];

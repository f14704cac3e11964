/** A sov.events message as the stream decider decides it: its fields, the stream and the time. */
export type Stamped<T> = T & { readonly stream: string; readonly occurredAt: number };

/** Where verification found a problem, and what (sov.events VolumeVerified / ClientFileVerified). */
export interface VerificationProblem {
  readonly volser?: string;
  readonly position?: number;
  readonly kind: 'damage' | 'index' | 'catalog' | 'content' | 'missing';
  readonly reason: string;
}

/** The outcome of a verification: reported, changes no state. */
export type VerificationEvent =
  | Stamped<{
      readonly type: 'VolumeVerified';
      readonly volser: string;
      readonly ok: boolean;
      readonly problems: readonly VerificationProblem[];
      readonly problemCount: number;
      readonly status: 'mounted' | 'full' | 'suspect';
      readonly end: number;
      readonly runs: number;
      readonly superblocks: number;
      readonly trigger: 'operator' | 'scrub';
      readonly correlationId?: string;
    }>
  | Stamped<{
      readonly type: 'ClientFileVerified';
      readonly clientFile: string;
      readonly incarnation?: string;
      readonly ok: boolean;
      readonly problems: readonly VerificationProblem[];
      readonly superblocks: number;
      readonly bytes: number;
      readonly sha256?: string;
      readonly volsers: readonly string[];
      readonly trigger: 'operator' | 'scrub';
      readonly correlationId?: string;
    }>;

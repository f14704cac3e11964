import { randomBytes } from 'node:crypto';
import { ErrorCode } from '../protocol/error-codes';
import { DEFAULT_ITERATIONS, digestOf, hmac, passwordMatches, type CredentialStore, type ScramCredential, type ScramMechanism } from './credentials';
import { ScramServer } from './scram';

/**
 * SASL on one connection, following Kafka's SaslServerAuthenticator:
 *
 *   initial ── ApiVersions ──> initial
 *   initial ── SaslHandshake v1 (enabled mechanism) ──> authenticate ── SaslAuthenticate ... ──> authenticated
 *   initial ── SaslHandshake v0 (enabled mechanism) ──> raw: the next frames are bare SASL tokens
 *                                                      (no request header), answered by bare tokens
 *
 * Before `authenticated`, any other request closes the connection (anonymous clients are
 * refused); frames sent while a step is still being checked wait for its outcome. A
 * failed authentication is answered SASL_AUTHENTICATION_FAILED (58) after a short delay (Kafka's
 * connection.failed.authentication.delay.ms) and the connection is closed.
 */
export type SaslMechanism = 'PLAIN' | ScramMechanism;
export const SASL_MECHANISMS: readonly SaslMechanism[] = ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512'];

export interface AuthConfig {
  readonly mechanisms: readonly SaslMechanism[];
  readonly credentials: CredentialStore;
  /** Per-broker secret for the made-up salts of unknown users. */
  readonly fakeSecret: Buffer;
  /** Delay before a failure is answered (slows password guessing). */
  readonly failureDelayMs: number;
}

export type SaslState = 'initial' | 'authenticate' | 'raw' | 'authenticated' | 'failed';

export type SaslStepResult =
  | { kind: 'continue'; token: Buffer }
  | { kind: 'success'; token: Buffer; principal: string }
  | { kind: 'failure'; message: string; reason: string };

const API_VERSIONS = 18;
const SASL_HANDSHAKE = 17;
const SASL_AUTHENTICATE = 36;

export class SaslSession {
  state: SaslState = 'initial';
  principal: string | null = null;
  /** True while a token is being checked: nothing else may arrive meanwhile. */
  busy = false;
  private mechanism: SaslMechanism | null = null;
  private scram: ScramServer | null = null;

  constructor(private readonly config: AuthConfig) {}

  get authenticated(): boolean {
    return this.state === 'authenticated';
  }

  /** Whether a request with this API key may be handled now (raw tokens are not requests). */
  allows(apiKey: number): boolean {
    if (this.state === 'authenticated') return true;
    if (this.busy) return false;
    if (this.state === 'initial') return apiKey === API_VERSIONS || apiKey === SASL_HANDSHAKE;
    if (this.state === 'authenticate') return apiKey === SASL_AUTHENTICATE;
    return false;
  }

  /** SaslHandshake: picks the mechanism; `close` when the connection must end after the answer. */
  handshake(mechanism: string, version: number): { errorCode: number; mechanisms: string[]; close: boolean } {
    const mechanisms = [...this.config.mechanisms];
    if (this.state !== 'initial') return { errorCode: ErrorCode.ILLEGAL_SASL_STATE, mechanisms, close: true };
    const m = this.config.mechanisms.find((x) => x === mechanism);
    if (!m) {
      this.state = 'failed';
      return { errorCode: ErrorCode.UNSUPPORTED_SASL_MECHANISM, mechanisms, close: true };
    }
    this.mechanism = m;
    if (m !== 'PLAIN') this.scram = new ScramServer(m, (user) => this.config.credentials.get(user, m), this.config.fakeSecret);
    this.state = version === 0 ? 'raw' : 'authenticate';
    return { errorCode: ErrorCode.NONE, mechanisms, close: false };
  }

  /** One client token (SaslAuthenticate bytes, or a bare frame after a v0 handshake). */
  async step(token: Buffer): Promise<SaslStepResult> {
    if ((this.state !== 'authenticate' && this.state !== 'raw') || this.busy || !this.mechanism) {
      this.state = 'failed';
      return { kind: 'failure', message: 'Unexpected SASL token', reason: `token in state ${this.state}` };
    }
    this.busy = true;
    try {
      const r = this.mechanism === 'PLAIN' ? await this.plain(token) : this.scramStep(token);
      if (r.kind === 'success') {
        this.state = 'authenticated';
        this.principal = r.principal;
      } else if (r.kind === 'failure') {
        this.state = 'failed';
        await new Promise((resolve) => setTimeout(resolve, this.config.failureDelayMs));
      }
      return r;
    } finally {
      this.busy = false;
    }
  }

  private scramStep(token: Buffer): SaslStepResult {
    const r = this.scram!.step(token);
    switch (r.kind) {
      case 'challenge':
        return { kind: 'continue', token: r.token };
      case 'success':
        return r;
      case 'failure':
        return { kind: 'failure', message: `Authentication failed during authentication due to invalid credentials with SASL mechanism ${this.mechanism}`, reason: r.reason };
      default: {
        const never: never = r;
        return never;
      }
    }
  }

  /** PLAIN (RFC 4616): authzid NUL authcid NUL password, checked against the user's SCRAM record. */
  private async plain(token: Buffer): Promise<SaslStepResult> {
    const fail = (reason: string): SaslStepResult => ({ kind: 'failure', message: 'Authentication failed: Invalid username or password', reason });
    const parts = token.toString('utf8').split('\u0000');
    if (parts.length !== 3) return fail('malformed PLAIN message');
    const [authzid, user, password] = parts;
    if (authzid !== '' && authzid !== user) return fail('authorization id differs from the user name');
    const mech: ScramMechanism = this.config.credentials.get(user, 'SCRAM-SHA-512') ? 'SCRAM-SHA-512' : 'SCRAM-SHA-256';
    const cred = this.config.credentials.get(user, mech);
    // An unknown user costs the same PBKDF2 as a known one (no timing hint).
    const check: ScramCredential = cred ?? { salt: hmac(mech, this.config.fakeSecret, `salt:${user}`), iterations: DEFAULT_ITERATIONS, storedKey: randomBytes(digestOf(mech).bytes), serverKey: Buffer.alloc(0) };
    const ok = await passwordMatches(mech, check, Buffer.from(password, 'utf8'));
    if (!ok || !cred) return fail(cred ? `wrong password for ${user}` : `unknown user ${user}`);
    return { kind: 'success', token: Buffer.alloc(0), principal: user };
  }
}

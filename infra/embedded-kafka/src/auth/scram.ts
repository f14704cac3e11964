import { randomBytes } from 'node:crypto';
import { constantTimeEqual, DEFAULT_ITERATIONS, digestOf, hash, hmac, type ScramCredential, type ScramMechanism } from './credentials';

/**
 * Server side of a SCRAM exchange (RFC 5802, RFC 7677), as Kafka runs it (ScramSaslServer):
 *
 *   client-first  n,,n=<user>,r=<client nonce>[,extensions]     (gs2 header "n,," or "y,,"; no channel binding)
 *   server-first  r=<client nonce><server nonce>,s=<base64 salt>,i=<iterations>
 *   client-final  c=<base64 gs2 header>,r=<same nonce (librdkafka: client nonce + it)>,p=<base64 ClientProof>
 *   server-final  v=<base64 ServerSignature>
 *
 * The proof is checked as ClientKey = ClientProof XOR HMAC(StoredKey, AuthMessage) and
 * H(ClientKey) == StoredKey. An unknown user gets a made-up salt derived from a per-broker secret
 * and fails at the final step like a wrong password, so user names cannot be probed.
 */
export type ScramStep =
  | { kind: 'challenge'; token: Buffer }
  | { kind: 'success'; token: Buffer; principal: string }
  | { kind: 'failure'; reason: string };

export class ScramServer {
  private state: 'first' | 'final' | 'done' = 'first';
  private user = '';
  private cred: ScramCredential | undefined;
  private fake: ScramCredential | undefined;
  private nonce = '';
  private gs2 = '';
  private clientFirstBare = '';
  private serverFirst = '';

  constructor(
    readonly mechanism: ScramMechanism,
    private readonly lookup: (user: string) => ScramCredential | undefined,
    private readonly fakeSecret: Buffer,
    /** The server's part of the nonce (tests give a fixed one to replay RFC 7677's example). */
    private readonly serverNonce: () => string = () => randomBytes(24).toString('base64'),
  ) {}

  step(token: Buffer): ScramStep {
    const text = token.toString('utf8');
    switch (this.state) {
      case 'first':
        return this.first(text);
      case 'final':
        return this.final(text);
      case 'done':
        return { kind: 'failure', reason: 'exchange already complete' };
      default: {
        const never: never = this.state;
        return never;
      }
    }
  }

  private first(msg: string): ScramStep {
    this.state = 'done';
    // gs2-header: gs2-cbind-flag "," [authzid] ","
    const m = /^([ny]),(a=[^,]*)?,(.*)$/s.exec(msg);
    if (!m) return { kind: 'failure', reason: msg.startsWith('p=') ? 'channel binding is not supported' : 'malformed client-first message' };
    this.gs2 = `${m[1]},${m[2] ?? ''},`;
    this.clientFirstBare = m[3];
    const attrs = parseAttributes(this.clientFirstBare);
    if (!attrs || attrs[0]?.[0] !== 'n' || attrs[1]?.[0] !== 'r') return { kind: 'failure', reason: 'malformed client-first message' };
    const user = decodeSaslName(attrs[0][1]);
    if (user === null) return { kind: 'failure', reason: 'malformed user name' };
    const authzid = m[2] ? decodeSaslName(m[2].slice(2)) : null;
    if (m[2] && authzid !== user) return { kind: 'failure', reason: 'authorization id differs from the user name' };
    if (attrs.slice(2).some(([k, v]) => k === 'tokenauth' && v === 'true')) return { kind: 'failure', reason: 'delegation tokens are not supported' };
    const clientNonce = attrs[1][1];
    if (clientNonce.length === 0 || /[^\x21-\x2b\x2d-\x7e]/.test(clientNonce)) return { kind: 'failure', reason: 'malformed nonce' };
    this.user = user;
    this.cred = this.lookup(user);
    if (!this.cred) {
      // Same shape of answer as for a real user; fails at the final step.
      const none = Buffer.alloc(digestOf(this.mechanism).bytes);
      this.fake = { salt: hmac(this.mechanism, this.fakeSecret, `salt:${user}`).subarray(0, 32), iterations: DEFAULT_ITERATIONS, storedKey: none, serverKey: none };
    }
    const c = this.cred ?? this.fake!;
    this.nonce = clientNonce + this.serverNonce();
    this.serverFirst = `r=${this.nonce},s=${c.salt.toString('base64')},i=${c.iterations}`;
    this.state = 'final';
    return { kind: 'challenge', token: Buffer.from(this.serverFirst) };
  }

  private final(msg: string): ScramStep {
    this.state = 'done';
    const attrs = parseAttributes(msg);
    if (!attrs || attrs.length < 3) return { kind: 'failure', reason: 'malformed client-final message' };
    const [c, r] = attrs;
    const p = attrs[attrs.length - 1];
    if (c[0] !== 'c' || r[0] !== 'r' || p[0] !== 'p') return { kind: 'failure', reason: 'malformed client-final message' };
    if (c[1] !== Buffer.from(this.gs2).toString('base64')) return { kind: 'failure', reason: 'channel binding does not match the gs2 header' };
    // Kafka (ScramSaslServer) accepts a final nonce that ENDS with the server-first one: librdkafka
    // sends its client nonce again in front of it. The server's random part is in either form.
    if (!r[1].endsWith(this.nonce)) return { kind: 'failure', reason: 'nonce mismatch' };
    const withoutProof = msg.slice(0, msg.lastIndexOf(',p='));
    const authMessage = `${this.clientFirstBare},${this.serverFirst},${withoutProof}`;
    const cred = this.cred ?? this.fake!;
    const proof = Buffer.from(p[1], 'base64');
    if (proof.length !== digestOf(this.mechanism).bytes || !this.cred) return { kind: 'failure', reason: 'invalid credentials' };
    const signature = hmac(this.mechanism, cred.storedKey, authMessage);
    const clientKey = Buffer.alloc(proof.length);
    for (let i = 0; i < proof.length; i++) clientKey[i] = proof[i] ^ signature[i];
    if (!constantTimeEqual(hash(this.mechanism, clientKey), cred.storedKey)) return { kind: 'failure', reason: 'invalid credentials' };
    const serverSignature = hmac(this.mechanism, cred.serverKey, authMessage);
    return { kind: 'success', token: Buffer.from(`v=${serverSignature.toString('base64')}`), principal: this.user };
  }
}

/** "k=v,k=v" into pairs; null when an attribute is not of that form. */
function parseAttributes(s: string): [string, string][] | null {
  const out: [string, string][] = [];
  for (const part of s.split(',')) {
    const eq = part.indexOf('=');
    if (eq < 1) return null;
    out.push([part.slice(0, eq), part.slice(eq + 1)]);
  }
  return out;
}

/** RFC 5802 saslname: "=2C" is ',' and "=3D" is '='; any other '=' is malformed. */
function decodeSaslName(s: string): string | null {
  if (/=(?!2C|3D)/.test(s)) return null;
  return s.replace(/=2C/g, ',').replace(/=3D/g, '=');
}

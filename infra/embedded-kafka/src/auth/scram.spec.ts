import { randomBytes } from 'node:crypto';
import { makeScramCredential, type ScramCredential } from './credentials';
import { ScramServer } from './scram';

/** The server against the worked example of RFC 7677 section 3 (SCRAM-SHA-256, user "user", password "pencil"). */
describe('ScramServer', () => {
  const salt = Buffer.from('W22ZaJ0SNY7soEsUEjb6gQ==', 'base64');
  const cred = makeScramCredential('SCRAM-SHA-256', 'pencil', 4096, salt);
  const users = new Map<string, ScramCredential>([['user', cred]]);
  const server = () => new ScramServer('SCRAM-SHA-256', (u) => users.get(u), randomBytes(32), () => '%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0');
  const clientFirst = 'n,,n=user,r=rOprNGfwEbeRWgbNEkqO';
  const serverFirst = 'r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096';
  const clientFinal = 'c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=';

  it('answers the RFC 7677 exchange byte for byte', () => {
    const s = server();
    expect(s.step(Buffer.from(clientFirst))).toEqual({ kind: 'challenge', token: Buffer.from(serverFirst) });
    expect(s.step(Buffer.from(clientFinal))).toEqual({ kind: 'success', token: Buffer.from('v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4='), principal: 'user' });
    expect(s.step(Buffer.from(clientFinal))).toMatchObject({ kind: 'failure' }); // no replay on the same exchange
  });

  it('refuses a wrong proof, a wrong nonce, a different gs2 header, an unknown user and channel binding', () => {
    const flipProof = clientFinal.replace('p=dHzb', 'p=eHzb');
    const cases: [string, string, RegExp][] = [
      [clientFirst, flipProof, /invalid credentials/],
      [clientFirst, clientFinal.replace('r=rOpr', 'r=xOpr'), /nonce mismatch/],
      ['y,,n=user,r=rOprNGfwEbeRWgbNEkqO', clientFinal, /channel binding does not match/],
      ['n,,n=nobody,r=rOprNGfwEbeRWgbNEkqO', clientFinal, /invalid credentials/],
    ];
    for (const [first, final, reason] of cases) {
      const s = server();
      expect(s.step(Buffer.from(first)).kind).toBe('challenge');
      expect(s.step(Buffer.from(final))).toMatchObject({ kind: 'failure', reason: expect.stringMatching(reason) });
    }
    expect(server().step(Buffer.from('p=tls-unique,,n=user,r=abc'))).toMatchObject({ kind: 'failure', reason: expect.stringMatching(/channel binding/) });
    expect(server().step(Buffer.from('n,,n=us=er,r=abc'))).toMatchObject({ kind: 'failure', reason: expect.stringMatching(/user name/) });
  });

  it('gives an unknown user a stable made-up salt, like a real one', () => {
    const secret = randomBytes(32);
    const salts = [0, 1].map(() => {
      const s = new ScramServer('SCRAM-SHA-512', () => undefined, secret);
      const r = s.step(Buffer.from('n,,n=ghost,r=abc'));
      return r.kind === 'challenge' ? /s=([^,]+)/.exec(r.token.toString())![1] : '';
    });
    expect(salts[0]).toBe(salts[1]);
    expect(Buffer.from(salts[0], 'base64')).toHaveLength(32);
  });
});

import type { SaslAuthenticateRequest, SaslAuthenticateResponse } from '../../protocol/apis/sasl-authenticate';
import type { SaslHandshakeRequest, SaslHandshakeResponse } from '../../protocol/apis/sasl-handshake';
import { ErrorCode } from '../../protocol/error-codes';
import type { Handler } from '../context';

/**
 * SaslHandshake: picks the connection's mechanism. Without SASL configured (or once
 * authenticated: no re-authentication) the answer is an error and the connection closes after it.
 */
export const handleSaslHandshake: Handler<SaslHandshakeRequest, SaslHandshakeResponse> = (broker, req, ctx) => {
  const session = ctx.connection.session;
  if (!session) {
    ctx.closeAfterResponse();
    return { errorCode: ErrorCode.UNSUPPORTED_SASL_MECHANISM, mechanisms: [] };
  }
  const r = session.handshake(req.mechanism, ctx.version);
  if (r.close) {
    broker.log('warn', `SASL handshake from ${ctx.clientHost} refused: mechanism '${req.mechanism}' (enabled: ${r.mechanisms.join(', ')})`);
    ctx.closeAfterResponse();
  }
  return { errorCode: r.errorCode, mechanisms: r.mechanisms };
};

/** SaslAuthenticate: one token of the exchange; a failure answers 58 and closes the connection. */
export const handleSaslAuthenticate: Handler<SaslAuthenticateRequest, SaslAuthenticateResponse> = async (broker, req, ctx) => {
  const session = ctx.connection.session;
  if (!session || session.authenticated) {
    ctx.closeAfterResponse();
    return { errorCode: ErrorCode.ILLEGAL_SASL_STATE, errorMessage: 'no SASL authentication in progress on this connection', authBytes: Buffer.alloc(0) };
  }
  const r = await session.step(req.authBytes);
  switch (r.kind) {
    case 'continue':
      return { errorCode: ErrorCode.NONE, errorMessage: null, authBytes: r.token };
    case 'success':
      broker.log('info', `${ctx.clientHost} authenticated as ${r.principal}`);
      return { errorCode: ErrorCode.NONE, errorMessage: null, authBytes: r.token };
    case 'failure':
      broker.log('warn', `SASL authentication from ${ctx.clientHost} failed: ${r.reason}`);
      ctx.closeAfterResponse();
      return { errorCode: ErrorCode.SASL_AUTHENTICATION_FAILED, errorMessage: r.message, authBytes: Buffer.alloc(0) };
    default: {
      const never: never = r;
      return never;
    }
  }
};

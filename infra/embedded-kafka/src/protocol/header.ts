import { MalformedRequestError } from '../errors';
import { Reader } from './reader';

/**
 * Request header v1: api_key INT16, api_version INT16, correlation_id INT32, client_id NULLABLE_STRING.
 * Header v2 (flexible requests) adds a tagged-field section; client_id stays an int16 string.
 * Of the versions this broker implements only ApiVersions v3+ is flexible.
 */
export interface RequestHeader {
  readonly apiKey: number;
  readonly apiVersion: number;
  readonly correlationId: number;
  readonly clientId: string | null;
}

/** Reads the fixed part of the header (key, version, correlation id) without the client id. */
export function peekHeader(frame: Buffer): { apiKey: number; apiVersion: number; correlationId: number } {
  if (frame.length < 8) throw new MalformedRequestError(`request of ${frame.length} bytes is shorter than a header`);
  return { apiKey: frame.readInt16BE(0), apiVersion: frame.readInt16BE(2), correlationId: frame.readInt32BE(4) };
}

export function decodeHeader(r: Reader, flexible: boolean): RequestHeader {
  const apiKey = r.int16();
  const apiVersion = r.int16();
  const correlationId = r.int32();
  const clientId = r.nullableString();
  if (flexible) r.taggedFields();
  return { apiKey, apiVersion, correlationId, clientId };
}

/** ApiVersions is flexible from v3; no other implemented version is. */
export function isFlexibleRequest(apiKey: number, apiVersion: number): boolean {
  return apiKey === 18 && apiVersion >= 3;
}

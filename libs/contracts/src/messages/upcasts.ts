/** Upcasters shared by several messages (see define.ts: decoding an older version runs them in turn). */
import type { Upcaster } from '../define';

/** v1 -> v2 of the save messages: full/delta was called `mode`; its one name is `kind`. */
export const modeToKind: Upcaster = ({ mode, ...rest }) => ({ kind: mode, ...rest });

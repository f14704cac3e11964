export { crc32c, crc32cImplementation } from './crc32c';
export { crc32cJs } from './crc32c-js';
export { crc32cCombine } from './crc32c-combine';

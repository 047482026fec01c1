export { DATA_KEY_BYTES, FORMAT_VERSION, HEADER_BYTES } from './envelope.ts';
export {
  CryptoError,
  type CryptoErrorCode,
  DecryptionError,
  KeyDestroyedError,
  MasterKeyError,
} from './errors.ts';
export {
  KeyStore,
  type KeyStoreOptions,
  type MasterKeyInfo,
  type RewrapResult,
  SYSTEM_OWNER,
} from './key-store.ts';

/**
 * Issuer keys (DESIGN §12.12): Ed25519. Public keys are read as PEM or as the raw 32-byte key in
 * base64; the operator's private key is PEM. Signatures are over the exact UTF-8 bytes of a
 * command's `body` string, never over re-serialised JSON.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import { OszError } from '../errors';

const RAW_PREFIX = Buffer.from('302a300506032b6570032100', 'hex'); // SPKI header of an Ed25519 key

/** an Ed25519 public key from PEM or 32 raw bytes in base64; throws a plain Error saying why not */
export function parsePublicKey(text: string): crypto.KeyObject {
  const t = text.trim();
  if (t.length > 4096) throw new Error('a public key is at most 4096 characters');
  const key = t.includes('BEGIN') ? crypto.createPublicKey(t) : rawKey(t);
  if (key.asymmetricKeyType !== 'ed25519') throw new Error(`this is a ${key.asymmetricKeyType ?? 'non-asymmetric'} key, not Ed25519`);
  return key;
}

function rawKey(text: string): crypto.KeyObject {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(text)) throw new Error('neither PEM nor base64');
  const raw = Buffer.from(text, 'base64');
  if (raw.length !== 32) throw new Error(`a raw Ed25519 key is 32 bytes, this is ${raw.length}`);
  return crypto.createPublicKey({ key: Buffer.concat([RAW_PREFIX, raw]), format: 'der', type: 'spki' });
}

export function readPublicKey(file: string): crypto.KeyObject {
  try {
    return parsePublicKey(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    throw new OszError('OSZ_E_CONFIG', `${file} is not an Ed25519 public key: ${(err as Error).message}`, { file });
  }
}

/** the first 16 hex digits of the sha256 of the key's SPKI DER: what `issuers.list` shows */
export function fingerprint(key: crypto.KeyObject): string {
  return crypto.createHash('sha256').update(key.export({ type: 'spki', format: 'der' })).digest('hex').slice(0, 16);
}

export function newKeyPair(): { publicPem: string; privatePem: string } {
  const { publicKey, privateKey } = crypto.generateKeyPairSync('ed25519');
  return { publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(), privatePem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() };
}

export function signBody(body: string, privateKey: crypto.KeyObject | string): string {
  return crypto.sign(null, Buffer.from(body, 'utf8'), privateKey).toString('base64');
}

export function verifyBody(body: string, sig: string, publicKey: crypto.KeyObject): boolean {
  try {
    return crypto.verify(null, Buffer.from(body, 'utf8'), publicKey, Buffer.from(sig, 'base64'));
  } catch {
    return false;
  }
}

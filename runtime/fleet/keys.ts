/**
 * Issuer keys (DESIGN §12.12): Ed25519. Public keys are read as PEM or as the raw 32-byte key in
 * base64; the operator's private key is PEM. Signatures are over the exact UTF-8 bytes of a
 * command's `body` string, never over re-serialised JSON.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import { OszError } from '../errors';

const RAW_PREFIX = Buffer.from('302a300506032b6570032100', 'hex'); // SPKI header of an Ed25519 key

export function readPublicKey(file: string): crypto.KeyObject {
  const text = fs.readFileSync(file, 'utf8').trim();
  try {
    if (text.includes('BEGIN')) return crypto.createPublicKey(text);
    const raw = Buffer.from(text, 'base64');
    if (raw.length !== 32) throw new Error(`a raw Ed25519 key is 32 bytes, this is ${raw.length}`);
    return crypto.createPublicKey({ key: Buffer.concat([RAW_PREFIX, raw]), format: 'der', type: 'spki' });
  } catch (err) {
    throw new OszError('OSZ_E_CONFIG', `${file} is not an Ed25519 public key: ${(err as Error).message}`, { file });
  }
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

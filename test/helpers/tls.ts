/**
 * A throwaway certificate authority for TLS tests (openssl from Debian): a CA, a server
 * certificate for 127.0.0.1 / localhost, and client certificates whose CN is the MQTT identity
 * (mosquitto's use_identity_as_username). EC P-256 keys, valid for a day.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export interface TestCa {
  dir: string;
  ca: string;
  server: { cert: string; key: string };
  client(cn: string): { cert: string; key: string };
}

const openssl = (args: string[], cwd: string): void => {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
};

function issue(dir: string, name: string, subject: string, ext: string): { cert: string; key: string } {
  const key = path.join(dir, `${name}.key`);
  const csr = path.join(dir, `${name}.csr`);
  const cert = path.join(dir, `${name}.pem`);
  const extFile = path.join(dir, `${name}.ext`);
  fs.writeFileSync(extFile, ext);
  openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', key], dir);
  openssl(['req', '-new', '-key', key, '-subj', subject, '-out', csr], dir);
  openssl(['x509', '-req', '-in', csr, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '1', '-sha256', '-extfile', extFile, '-out', cert], dir);
  fs.chmodSync(key, 0o600);
  return { cert, key };
}

export function makeCa(dir: string): TestCa {
  fs.mkdirSync(dir, { recursive: true });
  openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', 'ca.key'], dir);
  openssl(['req', '-x509', '-new', '-key', 'ca.key', '-sha256', '-days', '1', '-subj', '/CN=openstarry test CA', '-out', 'ca.pem'], dir);
  const server = issue(dir, 'server', '/CN=localhost', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  return {
    dir,
    ca: path.join(dir, 'ca.pem'),
    server,
    client: (cn) => issue(dir, `client-${cn}`, `/CN=${cn}`, 'extendedKeyUsage=clientAuth\n'),
  };
}

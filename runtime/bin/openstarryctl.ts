/** Bundle entry of the CLI (dist/openstarryctl.mjs). */
import { runCli } from '../cli/main';

const io = {
  out: (t: string) => void process.stdout.write(t + '\n'),
  err: (t: string) => void process.stderr.write(t + '\n'),
  readStdin: async (): Promise<string> => {
    const chunks: Buffer[] = [];
    for await (const c of process.stdin) chunks.push(c as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  },
};

void runCli(process.argv.slice(2), io).then((code) => {
  process.exitCode = code;
});

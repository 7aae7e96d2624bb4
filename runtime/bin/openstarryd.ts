/** Bundle entry of the daemon (dist/openstarryd.mjs). */
import { runDaemon } from '../main';

process.on('uncaughtException', (err) => {
  process.stderr.write(`openstarryd: uncaught exception: ${err.stack ?? err.message}\n`);
  process.exit(70);
});
process.on('unhandledRejection', (err) => {
  process.stderr.write(`openstarryd: unhandled rejection: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(70);
});

void runDaemon(process.argv.slice(2)).then((code) => process.exit(code));

/**
 * Config from the environment: OPENSTARRYD_<SECTION>__<KEY>[__<KEY>…] (DESIGN §12.5).
 * SECTION and KEY are upper snake case and map to camelCase keys (TRAP_HANDLER → trapHandler).
 * Values are typed by the schema leaf they land on (numbers, booleans, arrays as JSON).
 */
export const ENV_PREFIX = 'OPENSTARRYD_';
/** Variables with the prefix that are not config keys. */
const NOT_CONFIG = new Set(['OPENSTARRYD_HOME']);

export function envToKeys(env: NodeJS.ProcessEnv): Array<{ name: string; key: string; raw: string }> {
  const out: Array<{ name: string; key: string; raw: string }> = [];
  for (const [name, raw] of Object.entries(env)) {
    if (!name.startsWith(ENV_PREFIX) || NOT_CONFIG.has(name) || raw === undefined) continue;
    const key = name
      .slice(ENV_PREFIX.length)
      .split('__')
      .map((part) => part.toLowerCase().replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase()))
      .join('.');
    out.push({ name, key, raw });
  }
  return out;
}

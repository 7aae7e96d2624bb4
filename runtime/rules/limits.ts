/** The rules file size cap, shared by the loader, the operation and the CLI without loading the engine. */
export const MAX_RULES_BYTES = 1024 * 1024;

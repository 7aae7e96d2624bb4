/** What every event must satisfy (DESIGN §12.4), without the schema library: WASM cells import these. */
export const EVENT_TYPE = /^[a-z][a-z0-9_-]*:[a-z0-9_.-]+$/;
export const MAX_EVENT_DATA_BYTES = 64 * 1024;
export const MAX_EVENT_DEPTH = 16;

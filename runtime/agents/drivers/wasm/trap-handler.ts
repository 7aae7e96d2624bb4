/** Whether V8's wasm trap handler is on in this process (off: explicit bounds checks, which fit a small address space). */
export function trapHandlerEnabled(): boolean {
  const args = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)];
  return !args.includes('--disable-wasm-trap-handler');
}

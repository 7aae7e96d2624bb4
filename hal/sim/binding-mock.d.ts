// serialport's mock binding ships types its package.json "exports" hide from TypeScript's bundler
// resolution; this is the part the sim board uses.
declare module '@serialport/binding-mock' {
  export const MockBinding: {
    createPort(path: string, opts?: { echo?: boolean; record?: boolean }): void;
    reset(): void;
  };
}

/** What every CLI verb is: usage, flags, and one run that calls the control plane (runtime/cli/commands.ts lists them). */
import { OszError } from '../errors';
import type { ControlClient } from './client';

export interface CliIO {
  out(text: string): void;
  err(text: string): void;
  readStdin(): Promise<string>;
}

export interface VerbArgs {
  positionals: string[];
  flags: Record<string, string | boolean | string[] | undefined>;
  json: boolean;
}

export interface Verb {
  usage: string;
  summary: string;
  /** flags this verb accepts beyond the global ones */
  flags?: Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean }>;
  run(client: ControlClient, a: VerbArgs, io: CliIO): Promise<number>;
}

export const need = (a: VerbArgs, n: number, usage: string): string[] => {
  if (a.positionals.length < n) throw new OszError('OSZ_E_INVALID_PARAMS', `usage: openstarryctl ${usage}`);
  return a.positionals;
};

export const print = (io: CliIO, a: VerbArgs, value: unknown, human: () => string): number => {
  io.out(a.json ? JSON.stringify(value, null, 2) : human());
  return 0;
};


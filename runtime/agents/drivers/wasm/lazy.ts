/**
 * The wasm driver as the composition root holds it: the driver itself (cells, compile cache,
 * watchdog) is loaded on the first WASM spawn, so a daemon without WASM agents does not carry it
 * (DESIGN §12.13: optional parts load on first use).
 */
import { OszError } from '../../../errors';
import type { Manifest } from '../../manifest';
import type { AgentDriver, LaunchedAgent, LaunchSpec } from '../driver';
import type { WasmDriver, WasmDriverOptions, WasmStats } from './driver';
import { trapHandlerEnabled } from './trap-handler';

export function checkWasmManifest(manifest: Manifest): void {
  if (!manifest.runtime.module) throw new OszError('OSZ_E_DRIVER_REFUSED', 'the wasm driver needs runtime.module (the .wasm file)');
}

export class LazyWasmDriver implements AgentDriver {
  readonly name = 'wasm' as const;
  private loading: Promise<WasmDriver> | undefined;
  private driver: WasmDriver | undefined;

  constructor(private readonly opts: WasmDriverOptions) {}

  check(manifest: Manifest): void {
    checkWasmManifest(manifest);
  }

  async launch(spec: LaunchSpec): Promise<LaunchedAgent> {
    this.loading ??= import('./driver').then((m) => (this.driver = new m.WasmDriver(this.opts)));
    return (await this.loading).launch(spec);
  }

  stats(): WasmStats {
    return this.driver?.stats() ?? { cells: 0, guests: 0, restarts: 0, modules: 0, trapHandler: trapHandlerEnabled() };
  }

  close(): void {
    this.driver?.close();
  }
}

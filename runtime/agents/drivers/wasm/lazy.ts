/**
 * The wasm driver as the composition root holds it: the driver itself (cells, compile cache,
 * watchdog) is loaded on the first WASM spawn, so a daemon without WASM agents does not carry it
 * (DESIGN §12.13: optional parts load on first use).
 */
import { OszError } from '../../../errors';
import { heldMemoryMb } from './module-file';
import type { Manifest } from '../../manifest';
import type { AgentDriver, LaunchedAgent, LaunchSpec } from '../driver';
import { checkCeilings, resolveCeilings, type WasmCeilings, WasmMemoryBudget } from './ceilings';
import type { WasmDriver, WasmDriverOptions, WasmStats } from './driver';
import { trapHandlerEnabled } from './trap-handler';

export function checkWasmManifest(manifest: Manifest): void {
  if (!manifest.runtime.module) throw new OszError('OSZ_E_DRIVER_REFUSED', 'the wasm driver needs runtime.module (the .wasm file)');
}

export class LazyWasmDriver implements AgentDriver {
  readonly name = 'wasm' as const;
  private loading: Promise<WasmDriver> | undefined;
  private driver: WasmDriver | undefined;
  /** here, not in the driver, so the first spawns are counted while the driver is still loading */
  private readonly budget: WasmMemoryBudget;
  private readonly ceilings: WasmCeilings;

  constructor(private readonly opts: WasmDriverOptions) {
    this.ceilings = resolveCeilings(opts.ceilings);
    this.budget = opts.budget ?? new WasmMemoryBudget(this.ceilings.totalMemoryMb);
  }

  /** Also at spawn (the supervisor calls it first), so a refusal reaches the caller, not only the instance log. */
  check(manifest: Manifest): void {
    checkWasmManifest(manifest);
    checkCeilings(manifest, this.ceilings);
    // what the instance will hold is known once its module is read (launch); here: is there room at all
    this.budget.assertRoom(undefined, 1);
  }

  async launch(spec: LaunchSpec): Promise<LaunchedAgent> {
    this.check(spec.manifest);
    // loaded: the driver holds the instance's share itself, from the module it reads anyway
    if (this.driver) return this.driver.launch(spec);
    // Held before the first await: two spawns in one tick cannot both take the last room.
    this.budget.reserve(spec.instanceId, heldMemoryMb(spec));
    try {
      this.loading ??= import('./driver').then((m) => (this.driver = new m.WasmDriver({ ...this.opts, ceilings: this.ceilings, budget: this.budget })));
      return await (await this.loading).launch(spec);
    } catch (err) {
      this.budget.release(spec.instanceId);
      throw err;
    }
  }

  stats(): WasmStats {
    return this.driver?.stats() ?? { cells: 0, guests: 0, restarts: 0, recycled: 0, modules: 0, trapHandler: trapHandlerEnabled(), memoryHeldMb: this.budget.usedMb, memoryTotalMb: this.budget.totalMb };
  }

  close(): void {
    this.driver?.close();
  }
}

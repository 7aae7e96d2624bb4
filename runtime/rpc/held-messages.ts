/**
 * Listeners for an agent channel that may start talking before anyone listens: a sandbox can say
 * `hello` before the driver's launch() has returned and the session has attached. Messages are
 * held (at most `max`) until the first listener, which gets them in order; later ones go straight
 * through. Used by the wasm cells' routes and the docker agent socket.
 */
export class HeldMessages {
  private readonly fns: Array<(m: unknown, bytes: number) => void> = [];
  private held: Array<[unknown, number]> = [];

  constructor(private readonly max = 1000) {}

  /** `bytes`: the message's size on the wire, for the channel budget (0 when not framed as bytes) */
  emit(m: unknown, bytes = 0): void {
    if (this.fns.length > 0) this.fns.forEach((f) => f(m, bytes));
    else if (this.held.length < this.max) this.held.push([m, bytes]);
  }

  on(fn: (m: unknown, bytes: number) => void): void {
    this.fns.push(fn);
    if (this.fns.length === 1) {
      const held = this.held;
      this.held = [];
      held.forEach(([m, bytes]) => fn(m, bytes));
    }
  }
}

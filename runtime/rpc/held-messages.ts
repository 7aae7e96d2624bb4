/**
 * Listeners for an agent channel that may start talking before anyone listens: a sandbox can say
 * `hello` before the driver's launch() has returned and the session has attached. Messages are
 * held (at most `max`) until the first listener, which gets them in order; later ones go straight
 * through. Used by the wasm cells' routes and the docker agent socket.
 */
export class HeldMessages {
  private readonly fns: Array<(m: unknown) => void> = [];
  private held: unknown[] = [];

  constructor(private readonly max = 1000) {}

  emit(m: unknown): void {
    if (this.fns.length > 0) this.fns.forEach((f) => f(m));
    else if (this.held.length < this.max) this.held.push(m);
  }

  on(fn: (m: unknown) => void): void {
    this.fns.push(fn);
    if (this.fns.length === 1) {
      const held = this.held;
      this.held = [];
      held.forEach((m) => fn(m));
    }
  }
}

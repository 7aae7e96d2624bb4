/**
 * One end of a JSON-RPC 2.0 conversation over any transport that moves whole messages: calls
 * with ids and timeouts, incoming requests answered by a handler, notifications. Used by the
 * agent host, the agent SDK and the CLI's control client, so all three frame and fail alike.
 * Requests and notifications reach their handlers in the order they arrived, within `receive`
 * (an async request handler runs up to its first await there); answers go out when it resolves.
 */
import { OszError } from '../errors';
import { classify, errorResponse, fromErrorObject, type Id, type Message, RPC } from './jsonrpc';

export interface PeerHandlers {
  /** answers a request; may return a value or a promise of one */
  request?: (method: string, params: unknown) => unknown;
  notification?: (method: string, params: unknown) => void;
  /** a message that is not valid JSON-RPC arrived */
  invalid?: (reason: string) => void;
  /** an error answering no request (id null): the far end refused the line or the connection */
  unsolicitedError?: (err: OszError) => void;
}

interface Pending {
  resolve(v: unknown): void;
  reject(e: Error): void;
  timer: NodeJS.Timeout | undefined;
}

export class RpcPeer {
  private nextId = 1;
  private readonly pending = new Map<Id, Pending>();
  private closedWith: Error | undefined;

  constructor(
    private readonly send: (msg: Message) => void,
    private readonly handlers: PeerHandlers = {},
  ) {}

  call(method: string, params?: unknown, timeoutMs = 30_000): Promise<unknown> {
    if (this.closedWith) return Promise.reject(this.closedWith);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer =
        timeoutMs > 0
          ? setTimeout(() => {
              this.pending.delete(id);
              reject(new OszError('OSZ_E_AGENT_TIMEOUT', `${method} got no answer within ${timeoutMs} ms`, { method }));
            }, timeoutMs)
          : undefined;
      timer?.unref?.();
      this.pending.set(id, { resolve, reject, timer });
      try {
        this.send({ jsonrpc: '2.0', id, method, ...(params === undefined ? {} : { params }) });
      } catch (err) {
        this.settle(id);
        reject(err instanceof Error ? err : new Error(String(err)));
      }
    });
  }

  notify(method: string, params?: unknown): void {
    if (this.closedWith) return;
    this.send({ jsonrpc: '2.0', method, ...(params === undefined ? {} : { params }) });
  }

  /** Feeds one parsed message in. */
  receive(value: unknown): void {
    const c = classify(value);
    switch (c.kind) {
      case 'response': {
        if (c.msg.id === null && c.msg.error) this.handlers.unsolicitedError?.(fromErrorObject(c.msg.error));
        const p = c.msg.id === null ? undefined : this.settle(c.msg.id);
        if (!p) return;
        if (c.msg.error) p.reject(fromErrorObject(c.msg.error));
        else p.resolve(c.msg.result);
        return;
      }
      case 'notification':
        this.handlers.notification?.(c.msg.method, c.msg.params);
        return;
      case 'request': {
        const { id, method, params } = c.msg;
        const handler = this.handlers.request;
        if (!handler) {
          this.safeSend(errorResponse(id, new OszError('OSZ_E_UNKNOWN_OPERATION', `unknown method "${method}"`)));
          return;
        }
        // The handler starts at once, like a notification's, so messages are seen in arrival
        // order: a `log` that came in one chunk with the `hello` before it finds hello handled.
        let out: unknown;
        try {
          out = handler(method, params);
        } catch (err) {
          out = Promise.reject(err instanceof Error ? err : new Error(String(err)));
        }
        Promise.resolve(out).then(
            (result) => this.safeSend({ jsonrpc: '2.0', id, result: result ?? null }),
            (err: unknown) => this.safeSend(errorResponse(id, err)),
          );
        return;
      }
      case 'invalid':
        this.handlers.invalid?.(c.reason);
        if (c.id !== null) this.safeSend({ jsonrpc: '2.0', id: c.id, error: { code: RPC.INVALID_REQUEST, message: c.reason } });
    }
  }

  /** Fails every pending call; later calls fail at once. */
  close(reason: Error): void {
    this.closedWith = reason;
    for (const id of [...this.pending.keys()]) this.settle(id)?.reject(reason);
  }

  private settle(id: Id): Pending | undefined {
    const p = this.pending.get(id);
    if (!p) return undefined;
    this.pending.delete(id);
    if (p.timer) clearTimeout(p.timer);
    return p;
  }

  private safeSend(msg: Message): void {
    if (this.closedWith) return;
    try {
      this.send(msg);
    } catch {
      /* the transport is gone; its close handler fails the peer */
    }
  }
}

/**
 * The status page's routes on the daemon's HTTP server (DESIGN §9, §12.7): REST over the control
 * plane, the SSE stream, /metrics and the page itself. The composition root calls this once with
 * the parts; each part reads them lazily, so routes registered before the dashboard step starts
 * see the dashboard once it exists.
 */
import type { EventBus } from '../bus/bus';
import type { ControlPlane } from '../control/plane';
import type { Projector } from '../dashboard/projector';
import { locatePage, registerPage } from './page';
import { registerMetrics, type MetricsSources } from './metrics';
import { registerRest } from './rest';
import type { HttpServer } from './server';
import { SseHub, type StreamOptions } from './stream';

export interface StatusRouteParts {
  plane: ControlPlane;
  bus: EventBus;
  token(): string;
  dashboard(): Projector | undefined;
  rules: MetricsSources['rules'];
  hal: MetricsSources['hal'];
  /** what a request without the token gets (config `http.anonymousStreams`, `http.anonymousEvents`) */
  anonymous?: StreamOptions;
}

export function registerStatusRoutes(server: HttpServer, p: StatusRouteParts): SseHub {
  const hub = new SseHub(
    {
      dashboard: () => p.dashboard()?.get() ?? {},
      watch: (fn) => {
        const projector = p.dashboard();
        return projector ? projector.watch(fn) : () => undefined;
      },
      events: (fn) => p.bus.on(`http:stream`, '**', fn),
    },
    () => p.token(),
    p.anonymous,
  );
  // the stream first: the router takes the first route that matches, and REST matches /api/v1/*
  hub.register(server);
  registerRest(server, p.plane, () => p.token(), { anonymousEvents: p.anonymous?.anonymousEvents ?? false });
  registerMetrics(server, { dashboard: () => p.dashboard()?.get() ?? {}, rules: () => p.rules(), hal: () => p.hal(), streams: () => hub.size });
  registerPage(server, locatePage());
  return hub;
}

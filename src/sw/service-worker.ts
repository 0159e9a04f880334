/**
 * The offline service worker: precaches every file of the build (the list and a content version
 * are written in at build time by the precache plugin in vite.config.ts), answers same-origin GETs
 * from that cache first, and deletes the caches of older builds once it takes over. It never
 * fetches anything but the app's own files.
 */

// The webworker lib clashes with the DOM lib the app compiles with: just what is used, typed here.
interface ExtendableEvent extends Event {
  waitUntil(p: Promise<unknown>): void;
}
interface FetchEvent extends ExtendableEvent {
  readonly request: Request;
  respondWith(r: Response | Promise<Response>): void;
}
interface SwScope {
  readonly registration: { readonly scope: string };
  readonly clients: { claim(): Promise<void> };
  addEventListener(type: 'install' | 'activate', fn: (e: ExtendableEvent) => void): void;
  addEventListener(type: 'fetch', fn: (e: FetchEvent) => void): void;
}
const sw = self as unknown as SwScope;

/** Replaced by the build with JSON {version, files}: files relative to the scope, no source maps. */
const PRECACHE: { version: string; files: string[] } = JSON.parse('__VMFS_RESCUE_PRECACHE__');

const PREFIX = 'vmfs-rescue-';
const CACHE = `${PREFIX}${PRECACHE.version}`;
const scopeUrl = (path: string): string => new URL(path, sw.registration.scope).href;

sw.addEventListener('install', (e) => {
  e.waitUntil(
    (async () => {
      const cache = await caches.open(CACHE);
      // 'reload': straight from the server, never from the HTTP cache, so the version matches the list.
      await cache.addAll(PRECACHE.files.map((f) => new Request(scopeUrl(f), { cache: 'reload' })));
      // No skipWaiting: a newer build waits until the tabs of the old one are closed, so an open tab
      // never loses the old worker chunks it may still start.
    })(),
  );
});

sw.addEventListener('activate', (e) => {
  e.waitUntil(
    (async () => {
      for (const key of await caches.keys()) if (key.startsWith(PREFIX) && key !== CACHE) await caches.delete(key);
      // Take the open page at once, so the first visit already works offline afterwards.
      await sw.clients.claim();
    })(),
  );
});

sw.addEventListener('fetch', (e) => {
  const req = e.request;
  if (req.method !== 'GET' || new URL(req.url).origin !== new URL(sw.registration.scope).origin) return;
  e.respondWith(
    (async () => {
      const cache = await caches.open(CACHE);
      const hit = (await cache.match(req, { ignoreSearch: true, ignoreVary: true })) ??
        // A page load of the scope itself ('./', the start_url) is index.html.
        (req.url.split(/[?#]/)[0] === sw.registration.scope ? await cache.match(scopeUrl('index.html'), { ignoreVary: true }) : undefined);
      return hit ?? fetch(req);
    })(),
  );
});

// tests/browser/lib/page_helpers.js — loaded into every page the harness opens (as
// window.T), before the page's own scripts. Each wait has a timeout that names what was
// awaited, so a failing case says what it missed instead of hanging.
'use strict';
(() => {
  const DEFAULT_TIMEOUT = 5000;

  function withTimeout(promise, what, ms = DEFAULT_TIMEOUT) {
    let timer;
    const timeout = new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
    });
    return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
  }

  // A queue of events: push() from a listener, next() from the test.
  function queue(name) {
    const items = [];
    const waiters = [];
    return {
      items,
      push(item) {
        const w = waiters.shift();
        if (w) w(item); else items.push(item);
      },
      next(ms) {
        if (items.length) return Promise.resolve(items.shift());
        return withTimeout(new Promise((resolve) => waiters.push(resolve)), `${name}`, ms);
      },
      get length() { return items.length; },
    };
  }

  // A WebSocket with its messages queued: binary ones arrive as ArrayBuffer.
  //   const s = T.socket('/ws/echo'); await s.opened; s.ws.send('x');
  //   const m = await s.next();  // {data, binary}
  //   const c = await s.closed;  // {code, reason, wasClean}
  function socket(url, protocols) {
    if (url.startsWith('/')) url = `ws://${location.host}${url}`;
    const ws = new WebSocket(url, protocols);
    ws.binaryType = 'arraybuffer';
    const messages = queue(`a message on ${url}`);
    const s = { ws, messages, errors: 0 };
    s.opened = new Promise((resolve, reject) => {
      ws.addEventListener('open', () => resolve(ws));
      ws.addEventListener('close', (e) => reject(new Error(`${url} closed before opening (code ${e.code})`)));
    });
    s.opened.catch(() => {});
    s.closed = new Promise((resolve) => {
      ws.addEventListener('close', (e) => resolve({ code: e.code, reason: e.reason, wasClean: e.wasClean }));
    });
    ws.addEventListener('error', () => { s.errors += 1; });
    ws.addEventListener('message', (e) => {
      messages.push({ data: e.data, binary: typeof e.data !== 'string' });
    });
    s.next = (ms) => messages.next(ms);
    s.waitOpen = (ms) => withTimeout(s.opened, `${url} to open`, ms);
    s.waitClosed = (ms) => withTimeout(s.closed, `${url} to close`, ms);
    return s;
  }

  // An EventSource whose events of the given types are queued in arrival order, with
  // their type, data and lastEventId; opens and errors are counted.
  function eventSource(url, types = ['message']) {
    const es = new EventSource(url);
    const events = queue(`an event on ${url}`);
    const s = { es, events, opens: 0, errors: 0 };
    const opens = queue(`${url} to open`);
    es.addEventListener('open', () => { s.opens += 1; opens.push(s.opens); });
    es.addEventListener('error', () => { s.errors += 1; });
    for (const type of types) {
      es.addEventListener(type, (e) => events.push({ type: e.type, data: e.data, lastEventId: e.lastEventId }));
    }
    s.next = (ms) => events.next(ms);
    s.nextOpen = (ms) => opens.next(ms);
    return s;
  }

  function bytes(buffer) { return new Uint8Array(buffer); }
  function bytesEqual(a, b) {
    const x = bytes(a), y = bytes(b);
    if (x.length !== y.length) return false;
    for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
    return true;
  }
  // Deterministic pseudo-random bytes (incompressible, reproducible).
  function randomBytes(n, seed = 1) {
    const out = new Uint8Array(n);
    let x = seed >>> 0 || 1;
    for (let i = 0; i < n; i++) {
      x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
      out[i] = x & 0xff;
    }
    return out.buffer;
  }
  async function postJSON(path, form = {}) {
    const r = await withTimeout(fetch(path, { method: 'POST', body: new URLSearchParams(form) }), `POST ${path}`);
    return r.json();
  }
  async function getJSON(path) {
    const r = await withTimeout(fetch(path), `GET ${path}`);
    return r.json();
  }
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  window.T = { withTimeout, queue, socket, eventSource, bytesEqual, randomBytes, postJSON, getJSON, sleep };
})();

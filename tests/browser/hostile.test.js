// Hostile pages against browser_test_server: a page that floods the server, a server that
// floods the page, pages reloaded or closed mid-stream. After each, the server's own
// counters (GET /stats) must return to where they were: no handler left behind.
'use strict';
const assert = require('node:assert/strict');
const { browserSuite, test, fetchJSON } = require('./lib/harness');

// Polls /stats until `check` holds (or 5 s pass); returns the last stats.
async function statsUntil(env, check) {
  let stats;
  for (let i = 0; i < 100; i++) {
    stats = (await fetchJSON(`${env.server.origin}/stats`)).body;
    if (check(stats)) return stats;
    await new Promise((r) => setTimeout(r, 50));
  }
  return stats;
}
const idle = (s) => s.open_websockets === 0 && s.open_event_streams === 0;

browserSuite('hostile', { server: [process.env.BROWSER_TEST_SERVER] }, (env) => {
  test('a page floods 1,000 messages of 1 KB without waiting: all echo back, in order', async () => {
    const page = await env.page('/');
    const result = await page.evaluate(async () => {
      const s = T.socket('/ws/echo');
      await s.waitOpen();
      const n = 1000;
      const pad = 'x'.repeat(1000);
      for (let i = 0; i < n; i++) s.ws.send(`${i}:${pad}`);
      let inOrder = 0;
      for (let i = 0; i < n; i++) {
        const m = await s.next(10000);
        if (m.data === `${i}:${pad}`) inOrder++;
      }
      s.ws.close();
      await s.waitClosed();
      return { n, inOrder };
    });
    assert.equal(result.inOrder, result.n);
    assert.ok(idle(await statsUntil(env, idle)), 'a WebSocket handler was left open');
  });

  test('the server floods 5 MB to a page: every message arrives, in order', async () => {
    const page = await env.page('/');
    const result = await page.evaluate(async () => {
      const n = 5000;
      const s = T.socket(`/ws/flood?n=${n}&size=1000`);
      await s.waitOpen();
      let inOrder = 0;
      for (let i = 0; i < n; i++) {
        const m = await s.next(10000);
        if (m.data.startsWith(`${i}:`) && m.data.length === 1000) inOrder++;
      }
      s.ws.close();
      return { n, inOrder };
    });
    assert.equal(result.inOrder, result.n);
    assert.ok(idle(await statsUntil(env, idle)), 'a WebSocket handler was left open');
  });

  test('a page closed while the server floods it: the handler ends', async () => {
    const page = await env.page('/');
    await page.evaluate(async () => {
      window.s = T.socket('/ws/flood?n=1000000&size=10000');  // 10 GB: never finishes
      await window.s.waitOpen();
      await window.s.next();
    });
    await page.context().close();
    const stats = await statsUntil(env, idle);
    assert.ok(idle(stats), `handlers left open: ${JSON.stringify(stats)}`);
  });

  test('a page with 12 WebSockets and 5 event streams closed at once: every handler ends', async () => {
    const page = await env.page('/');
    await page.evaluate(async () => {
      // Chromium delays a page's handshakes by seconds past about a dozen pending ones (its
      // WebSocket throttle; our server opens 50 at once in 0.2 s): 12 stay under it.
      const sockets = Array.from({ length: 12 }, (_, i) => T.socket(i % 2 ? '/ws/echo' : '/ws/echo_plain'));
      const feeds = Array.from({ length: 5 }, () => T.eventSource('/sse/feed/many'));
      await Promise.all(sockets.map((s) => s.waitOpen(10000)));
      await Promise.all(feeds.map((f) => f.nextOpen()));
      sockets.forEach((s, i) => s.ws.send(`m${i}`));  // some answers still in flight
    }).catch(async (e) => {
      await page.context().close();  // the page's sockets must not outlive a failed case
      throw e;
    });
    const during = await statsUntil(env, (s) => s.open_websockets === 12 && s.open_event_streams === 5);
    assert.deepEqual([during.open_websockets, during.open_event_streams], [12, 5]);
    await page.context().close();
    const stats = await statsUntil(env, idle);
    assert.ok(idle(stats), `handlers left open: ${JSON.stringify(stats)}`);
  });

  test('a page reloaded five times mid-stream (SSE and a hub room): no handler left behind, the topic still works', async () => {
    const name = `h${Date.now()}`;
    const page = await env.page('/');
    const open = async () => page.evaluate(async (name) => {
      window.feed = T.eventSource(`/sse/feed/${name}`);
      window.room = T.socket(`/ws/room/${name}`);
      await window.feed.nextOpen();
      await window.room.waitOpen();
    }, name);
    await open();
    // Events and messages in flight while the page goes away.
    for (let i = 0; i < 50; i++) {
      await fetchJSON(`${env.server.origin}/publish/${name}`, { method: 'POST', body: new URLSearchParams({ data: `e${i}` }) });
    }
    for (let i = 0; i < 5; i++) {  // reloaded again and again, each time mid-stream
      await page.reload();
      await open();
    }
    const stats = await statsUntil(env, (s) => s.open_websockets === 1 && s.open_event_streams === 1);
    assert.equal(stats.open_websockets, 1, 'the reloaded page\'s WebSocket handler was left open');
    assert.equal(stats.open_event_streams, 1, 'the reloaded page\'s event stream was left open');
    const got = await page.evaluate(async (name) => {
      await T.postJSON(`/publish/${name}`, { data: 'after reload' });
      window.room.ws.send('room after reload');
      const e = await window.feed.next();
      const m = await window.room.next();
      window.feed.es.close();
      window.room.ws.close();
      return [e.data, m.data];
    }, name);
    assert.deepEqual(got, ['after reload', 'room after reload']);
    assert.ok(idle(await statsUntil(env, idle)), 'handlers left open after the page closed them');
  });
  // A write that the kernel accepts at once completes without suspending; a producer
  // awaiting write_message() while the socket drains as fast as it writes (deflate makes
  // each message tiny) used to hold its loop: every other connection waited (seen: /stats
  // unanswered for 10 s and more), even after the page closed, since Chromium's close frame
  // was not read. Now such awaits go through the loop every max_inline_completions() of them
  // (docs/iostream.md). Last in this file so that a regression cannot delay the other cases.
  test('a page reading a deflated flood does not starve other requests on the loop', async () => {
    const page = await env.page('/');
    await page.evaluate(async () => {
      window.s = T.socket('/ws/flood?n=300000&size=10000');
      await window.s.waitOpen();
      await window.s.next();
    });
    // The bound: a starved loop left /stats unanswered for 10 s and more; a healthy one under
    // ASan, with ctest -j2 and Chromium inflating the flood on the same two cores, answered in
    // up to 1.2 s (CI of session 23). 3 s separates the two on any machine this runs on.
    const t0 = Date.now();
    const stats = await fetchJSON(`${env.server.origin}/stats`, {}, 6000).catch((e) => ({ error: String(e) }));
    const waited = Date.now() - t0;
    await page.context().close();
    await statsUntil(env, idle);
    assert.ok(waited < 3000, `/stats took ${waited} ms during the flood: ${JSON.stringify(stats)}`);
    // Answered while the flood still ran: a starved loop answers only once it has ended.
    assert.equal(stats.body?.floods_running, 1, `/stats was answered only after the flood: ${JSON.stringify(stats)}`);
  });
});

// The pub/sub hub over WebSocket in headless Chromium: pages subscribed to a room of
// browser_test_server receive each published message once, in one order, with and without
// the hub's deflate-once frames (server_no_context_takeover).
'use strict';
const assert = require('node:assert/strict');
const { browserSuite, test } = require('./lib/harness');

browserSuite('websocket_pubsub', { server: [process.env.BROWSER_TEST_SERVER] }, (env) => {
  test('two pages in a hub room: each message reaches both, once, in the same order', async () => {
    const room = `r${Date.now()}`;
    const pages = [await env.page('/'), await env.page('/')];
    await Promise.all(pages.map((p) => p.evaluate(async (room) => {
      window.room = T.socket(`/ws/room/${room}`);
      await window.room.waitOpen();
    }, room)));
    const perPage = 20;
    // Both pages publish at once, interleaved by the network.
    await Promise.all(pages.map((p, who) => p.evaluate(({ who, perPage }) => {
      for (let i = 0; i < perPage; i++) window.room.ws.send(`p${who}-${i}`);
    }, { who, perPage })));
    const received = await Promise.all(pages.map((p) => p.evaluate(async (total) => {
      const got = [];
      for (let i = 0; i < total; i++) got.push((await window.room.next()).data);
      await T.sleep(200);  // nothing more may arrive (a duplicate would)
      const extra = window.room.messages.length;
      window.room.ws.close();
      return { got, extra };
    }, 2 * perPage)));
    for (const r of received) {
      assert.equal(r.extra, 0, 'a page received more messages than were published');
      assert.equal(new Set(r.got).size, 2 * perPage, 'a message arrived twice');
      for (const who of [0, 1]) {
        const own = r.got.filter((m) => m.startsWith(`p${who}-`));
        assert.deepEqual(own, Array.from({ length: perPage }, (_, i) => `p${who}-${i}`));
      }
    }
    assert.deepEqual(received[0].got, received[1].got, 'the two pages saw different orders');
  });

  test('a hub room deflated once (server_no_context_takeover): both pages inflate every message exactly', async () => {
    const room = `n${Date.now()}`;
    const pages = [await env.page('/'), await env.page('/')];
    await Promise.all(pages.map((p) => p.evaluate(async (room) => {
      window.room = T.socket(`/ws/room_nct/${room}`);
      await window.room.waitOpen();
    }, room)));
    const sent = await pages[0].evaluate(() => {
      const texts = ['short', 'tornado '.repeat(9000), 'emoji \u{1F600}'.repeat(500)];
      texts.forEach((t) => window.room.ws.send(t));
      window.room.ws.send(T.randomBytes(70 * 1024, 3));
      return texts;
    });
    const received = await Promise.all(pages.map((p) => p.evaluate(async (sent) => {
      const out = { extensions: window.room.ws.extensions, same: [] };
      for (const text of sent) out.same.push((await window.room.next()).data === text);
      const b = await window.room.next();
      out.same.push(b.binary && T.bytesEqual(b.data, T.randomBytes(70 * 1024, 3)));
      window.room.ws.close();
      return out;
    }, sent)));
    for (const r of received) {
      assert.match(r.extensions, /server_no_context_takeover/, r.extensions);
      assert.deepEqual(r.same, [true, true, true, true]);
    }
  });
});

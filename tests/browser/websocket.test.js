// WebSocket in headless Chromium against browser_test_server: echoes byte-exact (text,
// 4-byte UTF-8, 70 KB, binary ArrayBuffer), permessage-deflate negotiated with Chromium,
// close codes and reasons both ways, 1009 past max_message_size, and a
// cross-origin page refused by check_origin.
'use strict';
const assert = require('node:assert/strict');
const { browserSuite, test, fetchJSON } = require('./lib/harness');

browserSuite('websocket', { server: [process.env.BROWSER_TEST_SERVER] }, (env) => {
  test('text messages echo exactly: ASCII, 4-byte UTF-8, 70 KB', async () => {
    const page = await env.page('/');
    const result = await page.evaluate(async () => {
      const s = T.socket('/ws/echo');
      await s.waitOpen();
      const big = Array.from({ length: 70 * 1024 }, (_, i) => String.fromCharCode(33 + (i * 7919) % 94)).join('');
      const texts = ['hello', '', 'emoji \u{1F600} \u{1F680} math \u{1D49C} cjk \u4E2D\u6587 e\u0301', big];
      const echoed = [];
      for (const text of texts) {
        s.ws.send(text);
        const m = await s.next();
        echoed.push({ binary: m.binary, same: m.data === text, length: m.data.length });
      }
      s.ws.close();
      return { echoed, expected: texts.map((t) => t.length) };
    });
    result.echoed.forEach((e, i) => {
      assert.equal(e.binary, false, `message ${i} came back binary`);
      assert.equal(e.length, result.expected[i], `message ${i} length`);
      assert.ok(e.same, `message ${i} differs`);
    });
  });

  test('binary ArrayBuffer messages echo byte-exact (every byte value, 70 KB random)', async () => {
    const page = await env.page('/');
    const result = await page.evaluate(async () => {
      const s = T.socket('/ws/echo');
      await s.waitOpen();
      const all = new Uint8Array(256).map((_, i) => i).buffer;
      const buffers = [all, T.randomBytes(70 * 1024, 7), new ArrayBuffer(0)];
      const out = [];
      for (const b of buffers) {
        s.ws.send(b);
        const m = await s.next();
        out.push({ binary: m.binary, same: m.binary && T.bytesEqual(m.data, b), length: m.binary ? m.data.byteLength : -1 });
      }
      s.ws.close();
      return out;
    });
    assert.deepEqual(result.map((r) => r.length), [256, 70 * 1024, 0]);
    for (const r of result) {
      assert.equal(r.binary, true);
      assert.ok(r.same, 'bytes differ');
    }
  });

  test('permessage-deflate is negotiated with Chromium and messages still round-trip', async () => {
    const page = await env.page('/');
    const result = await page.evaluate(async () => {
      const deflate = T.socket('/ws/echo');
      const plain = T.socket('/ws/echo_plain');
      await deflate.waitOpen();
      await plain.waitOpen();
      const compressible = 'tornado '.repeat(10000);
      const random = T.randomBytes(70 * 1024, 99);
      deflate.ws.send(compressible);
      const a = await deflate.next();
      deflate.ws.send(random);
      const b = await deflate.next();
      const out = {
        extensions: deflate.ws.extensions,
        plainExtensions: plain.ws.extensions,
        textSame: a.data === compressible,
        binarySame: b.binary && T.bytesEqual(b.data, random),
      };
      deflate.ws.close();
      plain.ws.close();
      return out;
    });
    assert.match(result.extensions, /^permessage-deflate/, `extensions: "${result.extensions}"`);
    assert.equal(result.plainExtensions, '', 'a handler without compression negotiated an extension');
    assert.ok(result.textSame, 'compressible text differs after the deflate round trip');
    assert.ok(result.binarySame, 'random binary differs after the deflate round trip');
  });

  test('the server closes with a code and reason: the page sees both', async () => {
    const page = await env.page('/');
    const closed = await page.evaluate(async () => {
      const s = T.socket('/ws/close?code=4001&reason=' + encodeURIComponent('server says bye \u00E9'));
      await s.waitOpen();
      s.ws.send('close me');
      return s.waitClosed();
    });
    assert.deepEqual(closed, { code: 4001, reason: 'server says bye \u00E9', wasClean: true });
  });

  test('the page closes with 4000 "bye": the server\'s on_close sees it', async () => {
    const page = await env.page('/');
    const id = `t${Date.now()}`;
    const closed = await page.evaluate(async (id) => {
      const s = T.socket(`/ws/track/${id}`);
      await s.waitOpen();
      s.ws.send('ping');
      await s.next();
      s.ws.close(4000, 'bye');
      return s.waitClosed();
    }, id);
    assert.equal(closed.code, 4000, 'the server echoes the close code');
    const report = await fetchJSON(`${env.server.origin}/report/close/${id}`);
    assert.equal(report.status, 200, JSON.stringify(report.body));
    assert.deepEqual(report.body, { code: 4000, reason: 'bye' });
  });

  test('a message over max_message_size closes the socket with 1009, seen by the page', async () => {
    const page = await env.page('/');
    const closed = await page.evaluate(async () => {
      const s = T.socket('/ws/small');  // max_message_size 64 KiB
      await s.waitOpen();
      s.ws.send(new ArrayBuffer(64 * 1024));  // at the limit: echoed
      const echoed = await s.next();
      s.ws.send(new ArrayBuffer(1024 * 1024));  // in flight when the server fails it
      return { echoed: echoed.data.byteLength, ...(await s.waitClosed()) };
    });
    assert.equal(closed.echoed, 64 * 1024);
    assert.equal(closed.code, 1009);
  });

  test('a cross-origin page is refused (403 by check_origin) and sees the failure', async () => {
    // http://localhost:P and ws://127.0.0.1:P are different origins (the host differs).
    const page = await env.page('/', `http://localhost:${env.server.port}`);
    const before = (await fetchJSON(`${env.server.origin}/stats`)).body.origin_refused;
    const result = await page.evaluate(async (port) => {
      const cross = T.socket(`ws://127.0.0.1:${port}/ws/echo`);
      let opened = false;
      cross.opened.then(() => { opened = true; }, () => {});
      const closed = await cross.waitClosed();
      const same = T.socket(`ws://localhost:${port}/ws/echo`);  // control: same origin opens
      await same.waitOpen();
      same.ws.close();
      return { opened, closed, errors: cross.errors };
    }, env.server.port);
    assert.equal(result.opened, false, 'the cross-origin socket opened');
    assert.equal(result.errors, 1, 'the page saw no error event');
    assert.equal(result.closed.code, 1006);
    assert.equal(result.closed.wasClean, false);
    const after = (await fetchJSON(`${env.server.origin}/stats`)).body.origin_refused;
    assert.equal(after, before + 1, 'the server did not refuse the handshake in check_origin');
  });
});

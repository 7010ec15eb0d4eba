// demos/echo in headless Chromium: the pattern for a demo binary under test (issue 9's chat
// and dashboard follow it). Two pages subscribe on /sub; a third page's messages on /pub
// reach both, once, in order; /echo negotiates permessage-deflate with Chromium.
'use strict';
const assert = require('node:assert/strict');
const { browserSuite, test } = require('../lib/harness');

// The demo prints "listening on port P" and drains on SIGTERM (docs/drain.md), then exits
// with status 0 (a sanitizer report would make it non-zero), and it accepts any origin, so the page may be on another
// origin: the server serves no page, browser_test_server does (BROWSER_TEST_SERVER).
browserSuite('demo_echo', {
  server: [process.env.ECHO_BINARY, ['--port=0', '--address=127.0.0.1', '--drain_timeout=5'],
           { pattern: /listening on port (\d+)/, stopSignal: 'SIGTERM' }],  // drains, exits 0
  pageServer: [process.env.BROWSER_TEST_SERVER],
}, (env) => {
  test('messages on /pub reach two /sub pages once each, in order; /echo deflates', async () => {
    const ws = `ws://127.0.0.1:${env.server.port}`;
    const subs = [await env.page('/', env.pageServer.origin), await env.page('/', env.pageServer.origin)];
    await Promise.all(subs.map((p) => p.evaluate(async (url) => {
      window.sub = T.socket(url);
      await window.sub.waitOpen();
    }, `${ws}/sub`)));
    const pub = await env.page('/', env.pageServer.origin);
    const extensions = await pub.evaluate(async (ws) => {
      const p = T.socket(`${ws}/pub`);
      await p.waitOpen();
      for (let i = 0; i < 30; i++) p.ws.send(`m${i} \u{1F600}`);
      const e = T.socket(`${ws}/echo`);
      await e.waitOpen();
      e.ws.send('x'.repeat(70000));
      const back = await e.next();
      return back.data.length === 70000 ? e.ws.extensions : 'bad echo';
    }, ws);
    assert.match(extensions, /^permessage-deflate/);
    for (const page of subs) {
      const got = await page.evaluate(async () => {
        const out = [];
        for (let i = 0; i < 30; i++) out.push((await window.sub.next()).data);
        await T.sleep(200);
        return { out, extra: window.sub.messages.length };
      });
      assert.deepEqual(got.out, Array.from({ length: 30 }, (_, i) => `m${i} \u{1F600}`));
      assert.equal(got.extra, 0);
    }
  });
});

// demos/chat in headless Chromium: users signed in on the three transports (WebSocket,
// Server-Sent Events, long polling) type messages and see one another's in one order; the
// page falls back from WebSocket to SSE to long polling when the browser lacks one or it
// fails; a WebSocket dropped mid-conversation gets exactly the messages it missed on
// reconnect, and one cut by the browser's offline mode gets them too; a message with
// <script> and <img onerror> shows as text; presence follows users in and out; a page closed
// while its long poll waits leaves no waiter. Screenshots: chat*.png.
'use strict';
const assert = require('node:assert/strict');
const { browserSuite, screenshot, test } = require('../lib/harness');

browserSuite('demo_chat', {
  timeoutMs: 240000,  // eight cases with several pages each; slower under ASan
  server: [process.env.CHAT_BINARY, ['--port=0', '--address=127.0.0.1', '--cookie_secret=browser-test',
                                     '--poll_timeout=5', '--drain_timeout=5'],
           { pattern: /listening on port (\d+)/, stopSignal: 'SIGTERM' }],  // drains, exits 0
}, (env) => {
  // A page signed in as `name`, on `path` (the sign-in form first, as a user would).
  async function signedIn(name, path = '/', initScript = null) {
    const page = await env.page('/auth/login?next=' + encodeURIComponent(path));
    if (initScript) await page.context().addInitScript(initScript);
    await page.fill('input[name=name]', name);
    await Promise.all([page.waitForNavigation(), page.click('input[type=submit]')]);
    await page.waitForSelector('#status[data-state="live"]', { timeout: 15000 });
    return page;
  }
  const transport = (page) => page.getAttribute('#status', 'data-transport');
  const messages = (page) => page.$$eval('#inbox .message', (els) => els.map((e) => e.textContent.trim()));
  async function waitForMessages(page, count) {
    await page.waitForFunction((n) => document.querySelectorAll('#inbox .message').length >= n,
                               count, { timeout: 15000 });
    return messages(page);
  }
  async function say(page, text) {
    await page.fill('#message', text);
    await page.press('#message', 'Enter');  // Enter sends, as in Tornado's demo
  }

  test('three users on three transports see one another in one order', async () => {
    const ws = await signedIn('ana', '/room/three?transport=websocket');
    const sse = await signedIn('ben', '/room/three?transport=sse');
    const poll = await signedIn('cai', '/room/three?transport=poll');
    assert.deepEqual([await transport(ws), await transport(sse), await transport(poll)],
                     ['websocket', 'sse', 'poll']);
    const pages = [ws, sse, poll];
    const sent = [];
    for (let i = 0; i < 9; i++) {
      const page = pages[i % 3];
      const text = `message ${i} <b>not bold</b> ✓`;
      await say(page, text);
      sent.push(text);
      await waitForMessages(page, i + 1);  // seen by its sender before the next is typed
    }
    const expected = sent.map((t, i) => `${['ana', 'ben', 'cai'][i % 3]} ${t}`);
    for (const page of pages) {
      assert.deepEqual(await waitForMessages(page, 9), expected);
      assert.equal(await page.$$eval('#inbox b', (els) => els.length), 0);  // escaped
      assert.deepEqual(page.problems, []);
    }
    // Everyone is listed on every page.
    await ws.waitForFunction(() => document.querySelectorAll('#members li').length === 3);
    assert.deepEqual(await ws.$$eval('#members li', (els) => els.map((e) => e.textContent)),
                     ['ana', 'ben', 'cai']);
    await screenshot(ws, 'chat');
  });

  test('without WebSocket the page uses SSE, without both long polling; a failing WebSocket falls back', async () => {
    const noWs = await signedIn('dee', '/room/fallback', () => { delete window.WebSocket; });
    assert.equal(await transport(noWs), 'sse');
    const neither = await signedIn('eli', '/room/fallback', () => {
      delete window.WebSocket;
      delete window.EventSource;
    });
    assert.equal(await transport(neither), 'poll');
    // A WebSocket that never connects (a proxy that drops upgrades): twice, then SSE.
    const blocked = await signedIn('fay', '/room/fallback', () => {
      const Real = window.WebSocket;
      window.WebSocket = function () { return new Real('ws://127.0.0.1:9/'); };
      window.WebSocket.OPEN = 1;
    });
    assert.equal(await transport(blocked), 'sse');
    await say(neither, 'from long polling');
    await say(noWs, 'from sse');
    for (const page of [noWs, neither, blocked]) {
      assert.deepEqual(await waitForMessages(page, 2), ['eli from long polling', 'dee from sse']);
    }
    await screenshot(blocked, 'chat-fallback');
  });

  test('a line typed in one page shows in the other within a second; markup shows as text', async () => {
    const a = await signedIn('kim', '/room/fast');
    const b = await signedIn('lea', '/room/fast');
    const hostile = '<script>window.pwned = 1</script><img src=x onerror="window.pwned = 2">';
    // Timed inside the browser (one clock for both pages): from the form's submit in one
    // page to the message's node in the other, without the test driver's own latency.
    await b.evaluate(() => {
      const inbox = document.getElementById('inbox');
      new MutationObserver(() => {
        if (!window.arrivedAt && inbox.querySelector('.message')) window.arrivedAt = Date.now();
      }).observe(inbox, { childList: true });
    });
    await a.evaluate(() => {
      document.getElementById('messageform').addEventListener('submit', () => {
        window.sentAt = Date.now();
      }, { capture: true });
    });
    await say(a, hostile);
    await waitForMessages(b, 1);
    const elapsed = (await b.evaluate(() => window.arrivedAt)) - (await a.evaluate(() => window.sentAt));
    assert.ok(elapsed >= 0 && elapsed < 1000, `took ${elapsed} ms`);
    assert.deepEqual(await messages(b), [`kim ${hostile}`]);
    for (const page of [a, b]) {
      assert.equal(await page.$$eval('#inbox img, #inbox script', (els) => els.length), 0);
      assert.equal(await page.evaluate(() => window.pwned), undefined);
    }
    await screenshot(b, 'chat-escaped');
  });

  test('a page cut off by offline mode for two seconds gets every missed message once', async () => {
    const reader = await signedIn('max', '/room/offline?transport=websocket');
    const writer = await signedIn('ned', '/room/offline?transport=poll');
    await say(writer, 'before');
    await waitForMessages(reader, 1);
    await reader.context().setOffline(true);
    await reader.waitForSelector('#status[data-state="offline"]');
    // One at a time: the writer long-polls, so each line is its own POST, and POSTs in
    // flight together may be published in either order (seen under ASan: 0, 2, 1).
    for (let i = 0; i < 3; i++) {
      await say(writer, `offline ${i}`);
      await waitForMessages(writer, 2 + i);
    }
    await reader.waitForTimeout(2000);
    await reader.context().setOffline(false);
    await reader.waitForSelector('#status[data-state="live"]', { timeout: 20000 });
    await say(writer, 'back');
    await waitForMessages(reader, 5);
    await reader.waitForTimeout(300);
    assert.deepEqual(await messages(reader), ['ned before', 'ned offline 0', 'ned offline 1',
                                              'ned offline 2', 'ned back']);
    await screenshot(reader, 'chat-recovered');
  });

  test('a page closed while its long poll waits leaves no waiter behind', async () => {
    const stats = async () => (await (await fetch(`${env.server.origin}/a/stats`)).json()).waiting_polls;
    // The earlier cases' long-polling pages re-poll (after each message, and every
    // --poll_timeout), so the count moves under them: they are closed first, and the count
    // starts from zero.
    await Promise.all(env.pages.splice(0).map((p) => p.context().close()));
    const settled = Date.now() + 10000;
    while (await stats() !== 0 && Date.now() < settled) await new Promise((r) => setTimeout(r, 50));
    const before = await stats();
    assert.equal(before, 0, 'the earlier pages\' polls are still waiting');
    const page = await signedIn('oli', '/room/closing?transport=poll');
    const deadline = Date.now() + 10000;
    while (await stats() <= before && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.equal(await stats(), before + 1);
    await page.close();
    while (await stats() > before && Date.now() < deadline + 5000) await new Promise((r) => setTimeout(r, 50));
    assert.equal(await stats(), before);
  });

  test('a dropped WebSocket gets exactly the missed messages on reconnect, once', async () => {
    const keep = () => {
      const Real = window.WebSocket;
      window.openSockets = [];
      window.WebSocket = function (url) {
        const ws = new Real(url);
        window.openSockets.push(ws);
        return ws;
      };
      window.WebSocket.OPEN = 1;
    };
    const reader = await signedIn('gus', '/room/drop?transport=websocket', keep);
    const writer = await signedIn('hal', '/room/drop?transport=poll');
    await say(writer, 'before the drop');
    await waitForMessages(reader, 1);
    // The connection drops; messages are sent while it is down.
    await reader.evaluate(() => window.openSockets[0].close());
    await reader.waitForSelector('#status[data-state="offline"]');
    for (let i = 0; i < 3; i++) {  // one POST at a time, as above
      await say(writer, `while down ${i}`);
      await waitForMessages(writer, 2 + i);
    }
    await reader.waitForSelector('#status[data-state="live"]', { timeout: 15000 });
    await say(writer, 'after the reconnect');
    const got = await waitForMessages(reader, 5);
    await reader.waitForTimeout(300);  // nothing more (no duplicate) arrives
    assert.deepEqual(await messages(reader), ['hal before the drop', 'hal while down 0', 'hal while down 1',
                                              'hal while down 2', 'hal after the reconnect']);
    assert.equal(got.length, 5);
    const urls = await reader.evaluate(() => window.openSockets.map((s) => s.url));
    assert.equal(urls.length, 2);
    assert.match(urls[1], /since=[0-9a-f]+-\d+/);
  });

  test('presence follows a user in and out', async () => {
    const host = await signedIn('ivy', '/room/presence');
    const names = () => host.$$eval('#members li', (els) => els.map((e) => e.textContent));
    await host.waitForFunction(() => document.querySelectorAll('#members li').length === 1);
    const guest = await signedIn('jon', '/room/presence');
    await host.waitForFunction(() => document.querySelectorAll('#members li').length === 2);
    assert.deepEqual(await names(), ['ivy', 'jon']);
    await guest.close();
    await host.waitForFunction(() => document.querySelectorAll('#members li').length === 1);
    assert.deepEqual(await names(), ['ivy']);
  });
});

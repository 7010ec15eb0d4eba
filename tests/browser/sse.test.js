// Server-Sent Events in headless Chromium's EventSource against browser_test_server:
// multi-line data, named events, ids, and a stream the server ends: the browser reconnects
// by itself with Last-Event-ID and the hub's history delivers exactly the missed events.
'use strict';
const assert = require('node:assert/strict');
const { browserSuite, test, fetchJSON } = require('./lib/harness');

browserSuite('sse', { server: [process.env.BROWSER_TEST_SERVER] }, (env) => {
  test('multi-line data, blank lines, named events and ids arrive intact', async () => {
    const page = await env.page('/');
    const events = await page.evaluate(async () => {
      const s = T.eventSource('/sse/events', ['message', 'greeting', 'unicode', 'empty', 'done']);
      const got = [];
      for (;;) {
        const e = await s.next();
        got.push(e);
        if (e.type === 'done') break;
      }
      s.es.close();
      return got;
    });
    assert.deepEqual(events, [
      // CR, LF and CRLF all split lines; the browser joins them with LF.
      { type: 'message', data: 'first line\nsecond line\nthird line\nfourth line', lastEventId: '' },
      { type: 'message', data: 'before blank\n\nafter blank', lastEventId: '' },
      { type: 'greeting', data: 'hello, named', lastEventId: '' },
      { type: 'unicode', data: '\u{1F600} \u20AC \u00E9', lastEventId: 'u1' },
      { type: 'empty', data: '', lastEventId: 'u1' },
      { type: 'done', data: 'end', lastEventId: 'u1' },
    ]);
  });

  test('the server ends the stream: the browser reconnects with Last-Event-ID and gets exactly the missed events', async () => {
    const name = `f${Date.now()}`;
    const page = await env.page('/');
    const result = await page.evaluate(async (name) => {
      const s = T.eventSource(`/sse/feed/${name}`);
      await s.nextOpen();
      const got = [];
      const take = async (n) => {
        for (let i = 0; i < n; i++) {
          const e = await s.next();
          got.push({ data: e.data, id: e.lastEventId });
        }
      };
      for (let i = 1; i <= 3; i++) await T.postJSON(`/publish/${name}`, { data: `live-${i}` });
      await take(3);
      // The server closes the stream, then publishes 3 messages while the page is away.
      const drop = await T.postJSON(`/sse/drop/${name}?then=3`);
      await s.nextOpen(5000);  // reconnected by the browser itself (retry: 300 ms)
      await take(3);
      for (let i = 4; i <= 5; i++) await T.postJSON(`/publish/${name}`, { data: `live-${i}` });
      await take(2);
      await T.sleep(300);  // a repeat would arrive now
      const extra = s.events.length;
      s.es.close();
      return { got, drop, opens: s.opens, errors: s.errors, extra };
    }, name);
    assert.deepEqual(result.drop, { closed: 1, published: 3 });
    assert.deepEqual(result.got.map((e) => e.data),
                     ['live-1', 'live-2', 'live-3', 'missed-1', 'missed-2', 'missed-3', 'live-4', 'live-5']);
    assert.equal(result.extra, 0, 'an event arrived twice');
    assert.equal(result.opens, 2, 'the browser did not reconnect exactly once');
    assert.ok(result.errors >= 1, 'the page saw no error event when the stream ended');
    // Ids are stream positions "<epoch>-<offset>", offsets 1..8 without a gap.
    const offsets = result.got.map((e) => Number(e.id.split('-')[1]));
    assert.deepEqual(offsets, [1, 2, 3, 4, 5, 6, 7, 8]);
    const report = (await fetchJSON(`${env.server.origin}/report/feed/${name}`)).body;
    assert.equal(report.connects.length, 2);
    assert.equal(report.connects[0].last_event_id, null);
    assert.equal(report.connects[1].last_event_id, result.got[2].id,
                 'the reconnect did not send the last id the page had seen');
    assert.equal(report.connects[1].recovery, 'recovered');
  });
});

// The dashboard page: receives the server's samples (WebSocket, or Server-Sent Events when
// WebSocket is missing or fails), keeps the last minute per process, and draws moving line
// charts on canvases. No library: the charts are a few dozen lines of canvas drawing.
'use strict';
(() => {
  const WINDOW_MS = 60000;
  const base = location.pathname.replace(/[^/]*$/, '');  // the mount point, with its '/'
  const params = new URLSearchParams(location.search);

  // ---- the charts and what each draws --------------------------------------------------
  const CHARTS = [
    { id: 'requests', title: 'HTTP requests / s', series: [
      { name: 'all', value: (s) => s.requests_per_s },
      { name: '4xx+5xx', value: (s) => s.status_per_s['4xx'] + s.status_per_s['5xx'] }] },
    { id: 'connections', title: 'Open connections', series: 'connections' },
    { id: 'messages', title: 'Messages / s', series: [
      { name: 'hub published', value: (s) => s.hub_published_per_s },
      { name: 'WebSocket in', value: (s) => s.ws_in_per_s },
      { name: 'WebSocket out', value: (s) => s.ws_out_per_s }] },
    { id: 'dropped', title: 'Deliveries dropped by slow-consumer policy / s', series: [
      { name: 'dropped', value: (s) => s.hub_dropped_per_s }] },
    { id: 'rss', title: 'Resident memory (MiB)', series: [
      { name: 'RSS', value: (s) => s.rss_bytes / 1048576 }] },
    { id: 'lag', title: 'Loop lag (ms, worst loop)', aggregate: 'max', series: [
      { name: 'lag', value: (s) => s.loop_lag_ms }] },
    { id: 'cpu', title: 'CPU (% of one core)', series: [
      { name: 'CPU', value: (s) => s.cpu_percent }] },
  ];
  const COLORS = ['#2563eb', '#dc2626', '#16a34a', '#9333ea', '#ea580c', '#0891b2', '#ca8a04', '#db2777'];

  const processes = new Map();  // pid -> samples (oldest first, by seq)
  const state = { received: 0, transport: null, lastSampleAt: 0, connects: 0 };
  window.dashboard = {
    state,
    processes,
    latest: (pid) => { const l = processes.get(pid || [...processes.keys()][0]); return l && l[l.length - 1]; },
    drawn: {},  // chart id -> {points, last}: what the last drawing showed (for tests)
  };

  function seriesOf(chart) {
    if (chart.series !== 'connections') return chart.series;
    const names = new Set(['http', 'websocket', 'sse']);
    for (const list of processes.values()) {
      for (const s of list) for (const k of Object.keys(s.connections || {})) names.add(k);
    }
    return [...names].map((name) => ({ name, value: (s) => (s.connections || {})[name] || 0 }));
  }

  function addSample(s) {
    if (!s || typeof s.pid !== 'string' || typeof s.seq !== 'number') return;
    let list = processes.get(s.pid);
    if (!list) { list = []; processes.set(s.pid, list); }
    const last = list[list.length - 1];
    if (last && s.seq < last.seq && s.t > last.t) list.length = 0;  // restarted, same name
    if (list.some((x) => x.seq === s.seq)) return;  // seen (a reconnect resends the history)
    list.push(s);
    if (last && s.seq < last.seq) list.sort((a, b) => a.seq - b.seq);
    state.received++;
    state.lastSampleAt = Date.now();
    const cutoff = s.t - WINDOW_MS - 5000;
    while (list.length && list[0].t < cutoff) list.shift();
  }

  // Lines to draw: [{label, color, dash, points: [[t, v]...]}].
  function lines(chart, mode) {
    const series = seriesOf(chart);
    const pids = [...processes.keys()].sort();
    const out = [];
    if (mode === 'each' && pids.length > 1) {
      pids.forEach((pid, p) => series.forEach((se, i) => out.push({
        label: `${pid} ${se.name}`, color: COLORS[p % COLORS.length], dash: i ? [4 * i, 3] : [],
        points: processes.get(pid).map((s) => [s.t, se.value(s)]),
      })));
      return out;
    }
    // Sum (or max) over processes, second by second.
    series.forEach((se, i) => {
      const buckets = new Map();
      for (const pid of pids) {
        for (const s of processes.get(pid)) {
          const key = Math.round(s.t / 1000);
          const v = se.value(s);
          const prev = buckets.get(key);
          buckets.set(key, prev === undefined ? v : chart.aggregate === 'max' ? Math.max(prev, v) : prev + v);
        }
      }
      const points = [...buckets.entries()].sort((a, b) => a[0] - b[0]).map(([k, v]) => [k * 1000, v]);
      out.push({ label: se.name, color: COLORS[i % COLORS.length], dash: [], points });
    });
    return out;
  }

  function niceMax(v) {
    if (!(v > 0)) return 1;
    const p = Math.pow(10, Math.floor(Math.log10(v)));
    for (const m of [1, 2, 2.5, 5, 10]) if (v <= m * p) return m * p;
    return 10 * p;
  }

  function format(v) {
    if (v === undefined || Number.isNaN(v)) return '–';
    return Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 10 ? v.toFixed(1) : v.toFixed(2);
  }

  function draw(chart, mode, now) {
    const canvas = chart.canvas;
    const dpr = window.devicePixelRatio || 1;
    const w = canvas.clientWidth, h = canvas.clientHeight;
    if (canvas.width !== Math.round(w * dpr)) { canvas.width = Math.round(w * dpr); canvas.height = Math.round(h * dpr); }
    const ctx = canvas.getContext('2d');
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, w, h);
    const ls = lines(chart, mode);
    const left = 44, right = 6, top = 6, bottom = 18;
    const t0 = now - WINDOW_MS;
    let max = 0;
    for (const l of ls) for (const [t, v] of l.points) if (t >= t0 && v > max) max = v;
    max = niceMax(max * 1.1);
    const x = (t) => left + ((t - t0) / WINDOW_MS) * (w - left - right);
    const y = (v) => top + (1 - v / max) * (h - top - bottom);
    // Grid and labels.
    ctx.font = '11px system-ui, sans-serif';
    ctx.fillStyle = '#6b7280';
    ctx.strokeStyle = '#e5e7eb';
    ctx.lineWidth = 1;
    ctx.textAlign = 'right';
    ctx.textBaseline = 'middle';
    for (let i = 0; i <= 4; i++) {
      const v = (max * i) / 4;
      ctx.beginPath(); ctx.moveTo(left, y(v)); ctx.lineTo(w - right, y(v)); ctx.stroke();
      ctx.fillText(format(v), left - 4, y(v));
    }
    ctx.textBaseline = 'top';
    for (let s = 60; s >= 0; s -= 15) {
      ctx.textAlign = s === 60 ? 'left' : s === 0 ? 'right' : 'center';
      ctx.fillText(s ? `-${s}s` : 'now', x(now - s * 1000), h - bottom + 4);
    }
    // Lines.
    let points = 0;
    ctx.lineWidth = 1.6;
    ctx.lineJoin = 'round';
    for (const l of ls) {
      ctx.strokeStyle = l.color;
      ctx.setLineDash(l.dash);
      ctx.beginPath();
      let started = false;
      for (const [t, v] of l.points) {
        if (t < t0 - 1000) continue;
        if (started) ctx.lineTo(x(t), y(v)); else { ctx.moveTo(x(t), y(v)); started = true; }
        points++;
      }
      ctx.stroke();
    }
    ctx.setLineDash([]);
    // Legend with the latest values.
    const legend = ls.map((l) => {
      const last = l.points[l.points.length - 1];
      return `<span style="--c:${l.color}">${escapeHtml(l.label)} <b>${format(last && last[1])}</b></span>`;
    }).join('');
    if (chart.legend.innerHTML !== legend) chart.legend.innerHTML = legend;
    const first = ls[0] && ls[0].points[ls[0].points.length - 1];
    window.dashboard.drawn[chart.id] = { points, last: first ? first[1] : null, lines: ls.length };
    canvas.dataset.points = points;
    canvas.dataset.last = first ? first[1] : '';
  }

  function escapeHtml(s) {
    return String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
  }

  // ---- the page ---------------------------------------------------------------------
  const main = document.getElementById('charts');
  for (const chart of CHARTS) {
    const box = document.createElement('section');
    box.className = 'chart';
    box.innerHTML = `<h2>${chart.title}</h2><canvas data-chart="${chart.id}"></canvas><div class="legend"></div>`;
    main.appendChild(box);
    chart.canvas = box.querySelector('canvas');
    chart.legend = box.querySelector('.legend');
  }
  const status = document.getElementById('status');
  const modeSelect = document.getElementById('mode');
  const processList = document.getElementById('processes');

  function setStatus(state_, text) {
    status.dataset.state = state_;
    status.textContent = text;
  }

  function render() {
    const now = Date.now();
    for (const chart of CHARTS) draw(chart, modeSelect.value, now);
    const pids = [...processes.keys()].sort();
    const text = `${pids.length} process${pids.length === 1 ? '' : 'es'}: ${pids.join(', ')}`;
    if (processList.textContent !== text) processList.textContent = text;
    if (status.dataset.state === 'live' && now - state.lastSampleAt > 3500) {
      setStatus('stale', `no sample for ${Math.round((now - state.lastSampleAt) / 1000)} s (${state.transport})`);
    } else if (status.dataset.state === 'stale' && now - state.lastSampleAt <= 3500) {
      setStatus('live', `live · ${state.transport}`);
    }
  }
  setInterval(render, 250);  // the lines move with the clock, samples or not
  modeSelect.addEventListener('change', render);

  // ---- transports: WebSocket first, SSE as the fallback, reconnect with backoff ------
  let delay = 500;
  let useSse = params.has('sse') || typeof window.WebSocket !== 'function';
  let wsWorked = false;

  function onData(text) {
    let msg;
    try { msg = JSON.parse(text); } catch { return; }
    if (Array.isArray(msg.history)) msg.history.forEach(addSample);
    else addSample(msg);
    if (status.dataset.state !== 'live') setStatus('live', `live · ${state.transport}`);
  }

  function retry(why) {
    const wait = Math.round(delay * (0.75 + Math.random() * 0.5));
    delay = Math.min(delay * 2, 10000);
    setStatus('reconnecting', `${why}: reconnecting in ${(wait / 1000).toFixed(1)} s`);
    setTimeout(connect, wait);
  }

  function connectWebSocket() {
    const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}${base}ws`;
    let opened = false;
    let ws;
    try { ws = new WebSocket(url); } catch { useSse = true; return connect(); }
    state.transport = 'WebSocket';
    ws.onopen = () => { opened = true; wsWorked = true; delay = 500; state.connects++; };
    ws.onmessage = (e) => onData(e.data);
    ws.onclose = () => {
      // A WebSocket that never opened in this page (blocked, a proxy refusing the upgrade):
      // SSE from now on. One that worked before and fails now: the server is away; retry it.
      if (!opened && !wsWorked) {
        useSse = true;
        return retry('WebSocket unavailable');
      }
      retry(opened ? 'WebSocket closed' : 'server unreachable');
    };
  }

  function connectEventSource() {
    if (typeof window.EventSource !== 'function') {
      setStatus('failed', 'this browser has neither WebSocket nor EventSource');
      return;
    }
    state.transport = 'SSE';
    const es = new EventSource(`${base}events`);
    es.onopen = () => { delay = 500; state.connects++; };
    es.addEventListener('history', (e) => onData(`{"history":${e.data}}`));
    es.onmessage = (e) => onData(e.data);
    es.onerror = () => {
      // The browser reconnects by itself while readyState is CONNECTING; when it gave up
      // (CLOSED), we do, with our backoff.
      if (es.readyState === EventSource.CLOSED) retry('event stream closed');
      else setStatus('reconnecting', 'event stream lost: reconnecting');
    };
  }

  function connect() {
    if (useSse) connectEventSource(); else connectWebSocket();
  }
  connect();
})();

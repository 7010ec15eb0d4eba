// tests/browser/lib/harness.js — the Node side of the browser tests: starts a C++ server
// under test, launches Debian's headless Chromium through playwright-core, opens pages with
// the page-side helpers (page_helpers.js) loaded, and stops everything at the end, failing
// when the server does not exit cleanly (a sanitizer report makes its exit status non-zero).
// docs/testing-browser.md shows how to write a test with it.
'use strict';

const { spawn } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { describe, test, before, after } = require('node:test');

const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const ARTIFACTS = process.env.BROWSER_ARTIFACTS || path.join(process.cwd(), 'browser-artifacts');

// playwright-core, from the node_modules the ctest fixture browser_setup made (npm ci).
function playwright() {
  const dir = process.env.BROWSER_NODE_MODULES || path.join(__dirname, '..', 'node_modules');
  try {
    return require(path.resolve(dir, 'playwright-core'));
  } catch (e) {
    throw new Error(`playwright-core not found in ${dir}: run tests/browser/setup.sh DIR ` +
                    `(the ctest test browser_setup does it) — ${e.message}`);
  }
}

// Starts `command args`; resolves once it prints its port ("LISTENING <port>", or the
// pattern given). stop() closes its stdin (the servers here exit at EOF; `stopSignal`
// for those that wait for a signal) and resolves {code, signal, output}.
function startServer(command, args = [], options = {}) {
  const pattern = options.pattern || /LISTENING (\d+)/;
  const timeoutMs = options.timeoutMs || 15000;
  if (!command || !fs.existsSync(command)) {
    return Promise.reject(new Error(`server binary not found: ${command} (built by the normal build)`));
  }
  const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'], env: options.env || process.env });
  let output = '';
  const exited = new Promise((resolve) => {
    child.on('exit', (code, signal) => resolve({ code, signal, output }));
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`server did not print its port within ${timeoutMs} ms:\n${output}`));
    }, timeoutMs);
    let ready = false;
    const onData = (chunk) => {
      output += chunk.toString();
      if (options.echo) process.stderr.write(chunk);
      const m = !ready && output.match(pattern);
      if (m) {
        ready = true;
        clearTimeout(timer);
        const port = Number(m[1]);
        resolve({
          port,
          origin: `http://127.0.0.1:${port}`,
          output: () => output,
          process: child,
          async stop(waitMs = 10000) {
            if (child.exitCode === null && child.signalCode === null) {
              if (options.stopSignal) child.kill(options.stopSignal);
              else child.stdin.end();
            }
            const killer = setTimeout(() => child.kill('SIGKILL'), waitMs);
            const result = await exited;
            clearTimeout(killer);
            return result;
          },
        });
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    exited.then((r) => {
      if (!ready) {
        clearTimeout(timer);
        reject(new Error(`server exited (${r.code ?? r.signal}) before listening:\n${output}`));
      }
    });
  });
}

// Debian's chromium, headless. Its absence is a failure with the fix in the message, never
// a skip: CI installs it (scripts/packages.txt).
async function launchBrowser() {
  if (!fs.existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} not found: run scripts/bootstrap (scripts/packages.txt lists chromium)`);
  }
  const args = ['--disable-gpu', '--disable-quic', '--no-first-run', '--disable-sync',
                '--disable-background-networking', '--disable-component-update'];
  // Chromium's sandbox refuses to start as root.
  if (process.getuid && process.getuid() === 0) args.push('--no-sandbox');
  return playwright().chromium.launch({ executablePath: CHROMIUM, headless: true, args });
}

// A new page (in its own context: no shared cookies or cache) at `url`, with the page
// helpers (window.T) loaded before any script of the page. Page errors and console errors
// are kept in page.problems, for a test to check or print.
async function openPage(browser, url) {
  const context = await browser.newContext();
  await context.addInitScript({ path: path.join(__dirname, 'page_helpers.js') });
  const page = await context.newPage();
  page.problems = [];
  page.on('pageerror', (e) => page.problems.push(`pageerror: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error') page.problems.push(`console: ${m.text()}`); });
  const response = await page.goto(url);
  if (!response || !response.ok()) {
    throw new Error(`GET ${url}: ${response ? response.status() : 'no response'}`);
  }
  return page;
}

// A PNG of the page under BROWSER_ARTIFACTS (build/tests/browser/artifacts under ctest).
async function screenshot(page, name) {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  const file = path.join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path: file });
  return file;
}

// JSON over HTTP from the Node side (the server's control and report endpoints).
async function fetchJSON(url, init = {}, timeoutMs = 10000) {
  const response = await fetch(url, { ...init, signal: AbortSignal.timeout(timeoutMs) });
  const text = await response.text();
  let body;
  try { body = JSON.parse(text); } catch { body = text; }
  return { status: response.status, body };
}

// A group of cases sharing one server and one browser:
//   browserSuite('websocket', { server: [binary, args] }, (env) => {
//     test('...', async () => { const page = await env.page('/'); ... });
//   });
// env.server (port, origin), env.browser and env.page(path, origin?) are set before the
// first case. After the cases, one more case checks that the server exits with status 0
// (or as `exitOk(result)` of the server's options says). `pageServer: [binary, args]`
// starts a second server as env.pageServer, e.g. to serve pages for a server that has none.
function browserSuite(name, options, body) {
  const env = { pages: [] };
  env.page = async (pathOrUrl = '/', origin) => {
    const url = /^https?:/.test(pathOrUrl) ? pathOrUrl : (origin || env.server.origin) + pathOrUrl;
    const page = await openPage(env.browser, url);
    env.pages.push(page);
    return page;
  };
  describe(name, { timeout: options.timeoutMs || 60000 }, () => {
    before(async () => {
      const [command, args = [], serverOptions = {}] = options.server;
      env.server = await startServer(command, args, serverOptions);
      env.exitOk = serverOptions.exitOk || ((r) => r.code === 0);
      if (options.pageServer) {  // a second server that serves the pages (another origin)
        const [pageCommand, pageArgs = [], pageOptions = {}] = options.pageServer;
        env.pageServer = await startServer(pageCommand, pageArgs, pageOptions);
      }
      env.browser = await launchBrowser();
    });
    body(env);
    test('the server exits cleanly at the end (status 0: no sanitizer report)', async () => {
      await env.browser.close();
      env.browser = null;
      const result = await env.server.stop();
      env.server = null;
      const pageResult = env.pageServer ? await env.pageServer.stop() : { code: 0 };
      env.pageServer = null;
      if (!env.exitOk(result)) {
        throw new Error(`server exit ${result.code ?? result.signal}; its output:\n${result.output}`);
      }
      if (pageResult.code !== 0) {
        throw new Error(`page server exit ${pageResult.code ?? pageResult.signal}:\n${pageResult.output}`);
      }
    });
    after(async () => {  // after a failure above: nothing left running
      if (env.browser) await env.browser.close().catch(() => {});
      if (env.server) await env.server.stop(2000);
      if (env.pageServer) await env.pageServer.stop(2000);
    });
  });
  return env;
}

module.exports = { startServer, launchBrowser, openPage, screenshot, fetchJSON, browserSuite, test };

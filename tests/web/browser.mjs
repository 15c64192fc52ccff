// Shared helpers for the web chat's browser tests: Debian's Chromium driven by playwright-core,
// axe-core injected from node_modules. No browser is ever downloaded.
import { readFileSync, mkdirSync } from 'node:fs';
import net from 'node:net';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const here = path.dirname(fileURLToPath(import.meta.url));
export const ROOT = path.resolve(here, '..', '..');
const { chromium } = require(path.join(ROOT, 'node_modules', 'playwright-core'));
const AXE_SOURCE = readFileSync(path.join(ROOT, 'node_modules', 'axe-core', 'axe.min.js'), 'utf8');

export const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
export const ARTIFACTS = process.env.WEB_ARTIFACTS || path.join(ROOT, 'test-artifacts', 'web');
export const AXE_TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'];

export async function launch() {
  mkdirSync(ARTIFACTS, { recursive: true });
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    // Autoplay allowed: "nothing plays by itself" is then the page's doing, and read-aloud can play.
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--autoplay-policy=no-user-gesture-required'],
  });
}

export async function newPage(browser, options = {}) {
  const context = await browser.newContext({
    viewport: options.viewport || { width: 1024, height: 900 },
    locale: options.locale || 'ja-JP',
    reducedMotion: 'reduce',
    acceptDownloads: true,
  });
  if (options.init) await context.addInitScript(options.init);
  const page = await context.newPage();
  const problems = [];
  page.on('pageerror', (error) => problems.push(`pageerror: ${error.message}`));
  page.on('console', (message) => { if (message.type() === 'error') problems.push(`console: ${message.text()}`); });
  page.problems = problems;
  return { context, page };
}

export async function openChat(page, base, pathname = '/') {
  await page.goto(base + pathname, { waitUntil: 'load' });
  // Ready when the counter information has arrived and the live stream is open.
  await page.waitForFunction(() => document.getElementById('info-phone').textContent.length > 0);
  await page.waitForFunction(() => window.madoguchiChat && window.madoguchiChat.state.stream
    && window.madoguchiChat.state.stream.readyState === 1);
}

export async function axe(page) {
  await page.evaluate(AXE_SOURCE);
  const result = await page.evaluate(async (tags) => {
    // eslint-disable-next-line no-undef
    const r = await axe.run(document, { runOnly: { type: 'tag', values: tags }, resultTypes: ['violations'] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help,
      nodes: v.nodes.slice(0, 5).map((n) => ({ target: n.target.join(' '), summary: n.failureSummary })) }));
  }, AXE_TAGS);
  return result;
}

export async function shot(page, name, options = {}) {
  const file = path.join(ARTIFACTS, `${name}.png`);
  // A full-page capture would paint the sticky toolbar in the middle of the page: pin it for the
  // picture (through the CSSOM, which the page's Content-Security-Policy allows).
  const pin = (value) => page.evaluate((v) => { const bar = document.getElementById('toolbar'); if (bar) bar.style.position = v; }, value);
  await pin('static');
  await page.screenshot({ path: file, fullPage: options.fullPage !== false });
  await pin('');
  return file;
}

export const counts = (page) => page.evaluate(() => ({
  bot: document.querySelectorAll('#transcript .msg--bot, #transcript .msg--staff').length,
  user: document.querySelectorAll('#transcript .msg--user').length,
  pending: document.querySelectorAll('#transcript .msg--pending').length,
}));

/** Wait until the bot has answered: more bot messages than `before` and nothing pending. */
export async function waitForReply(page, before, timeout = 30000) {
  await page.waitForFunction((n) => {
    const bot = document.querySelectorAll('#transcript .msg--bot, #transcript .msg--staff').length;
    return bot > n && !document.querySelector('#transcript .msg--pending');
  }, before, { timeout });
  await page.waitForTimeout(150);   // a second reply of the same turn lands in the same response
}

export async function say(page, text) {
  const before = (await counts(page)).bot;
  await page.locator('#message-input').fill(text);
  await page.locator('#message-input').press('Enter');
  await waitForReply(page, before);
}

export async function clickChoice(page, title) {
  const before = (await counts(page)).bot;
  await page.locator('#transcript .msg__buttons button', { hasText: title }).first().click();
  await waitForReply(page, before);
}

export const lastBot = (page) => page.evaluate(() => {
  const nodes = document.querySelectorAll('#transcript .msg--bot, #transcript .msg--staff');
  const node = nodes[nodes.length - 1];
  const body = node.querySelector('.msg__body');
  return { text: body.textContent, lang: body.getAttribute('lang'), html: body.innerHTML,
    buttons: Array.from(node.querySelectorAll('.msg__buttons button')).map((b) => b.textContent) };
});

export const userTexts = (page) => page.evaluate(() =>
  Array.from(document.querySelectorAll('#transcript .msg--user .msg__body')).map((n) => n.textContent));

export const activeId = (page) => page.evaluate(() => document.activeElement && document.activeElement.id);

/** A TCP proxy on 127.0.0.1 in front of the real server, to cut the line like an outage would:
 * `down()` drops every open connection and refuses new ones; `up()` listens again on the same port. */
export async function startProxy(target) {
  const url = new URL(target);
  const sockets = new Set();
  let server = null;
  let port = 0;
  const listen = () => new Promise((resolve) => {
    server = net.createServer((client) => {
      const upstream = net.connect(Number(url.port), url.hostname);
      for (const s of [client, upstream]) { sockets.add(s); s.on('close', () => sockets.delete(s)); s.on('error', () => {}); }
      client.pipe(upstream).pipe(client);
    });
    server.listen(port, '127.0.0.1', () => { port = server.address().port; resolve(); });
  });
  await listen();
  return {
    get base() { return `http://127.0.0.1:${port}`; },
    async down() {
      await new Promise((resolve) => { server.close(() => resolve()); for (const s of sockets) s.destroy(); });
    },
    up: listen,
    async stop() { for (const s of sockets) s.destroy(); await new Promise((resolve) => server.close(() => resolve())); },
  };
}

/** Run scenarios named on the command line; print one JSON object with the results. */
export async function main(scenarios) {
  const [base, ...names] = process.argv.slice(2);
  const browser = await launch();
  const results = {};
  try {
    for (const name of names) {
      if (!scenarios[name]) { results[name] = { error: `no scenario ${name}` }; continue; }
      try {
        results[name] = await scenarios[name](browser, base);
      } catch (error) {
        results[name] = { error: String(error && error.stack || error) };
      }
    }
  } finally {
    await browser.close();
  }
  process.stdout.write(JSON.stringify(results) + '\n');
}

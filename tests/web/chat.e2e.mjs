// Browser scenarios for the web chat, against the real server.
//   node tests/web/chat.e2e.mjs <base url> <scenario> [<scenario> ...]
// Prints {"<scenario>": {observations...}} as JSON; tests/web/test_web_chat.py asserts on them.
import { createHash } from 'node:crypto';
import http from 'node:http';

import {
  activeId, axe, clickChoice, counts, lastBot, main, newPage, openChat, say, shot, startProxy, userTexts, waitForReply,
} from './browser.mjs';

/** The web conversation of a browser context: `web:` + a hash of its HttpOnly cookie (the page cannot read it). */
async function conversationOf(context, base) {
  const cookie = (await context.cookies(base)).find((c) => c.name === 'madoguchi_web');
  if (!cookie) return { cookie: null, id: null };
  return { cookie, id: 'web:' + createHash('sha256').update(cookie.value).digest('hex').slice(0, 32) };
}

async function trackerUsers(base, id) {
  const reply = await fetch(`${base}/conversations/${id}/tracker?token=${process.env.MADOGUCHI_API_TOKEN}`);
  const tracker = await reply.json();
  return (tracker.events || []).filter((e) => e.event === 'user').map((e) => e.text);
}

const KANJI = /[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff々〆]/;

/** Kanji in the element's text that are not the base of a <ruby> with a reading. */
function kanjiWithoutRuby(page, selector) {
  return page.evaluate(({ selector, source }) => {
    const kanji = new RegExp(source);
    const bare = [];
    document.querySelectorAll(selector).forEach((root) => {
      const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
      for (let node = walker.nextNode(); node; node = walker.nextNode()) {
        const parent = node.parentElement;
        if (parent.closest('rt, rp')) continue;
        const ruby = parent.closest('ruby');
        if (ruby && ruby.querySelector('rt') && ruby.querySelector('rt').textContent.trim()) continue;
        for (const ch of node.textContent) if (kanji.test(ch)) bare.push(ch);
      }
    });
    return bare.join('');
  }, { selector, source: KANJI.source });
}

const noHorizontalScroll = (page) => page.evaluate(() => ({
  scrollWidth: document.documentElement.scrollWidth,
  clientWidth: document.documentElement.clientWidth,
}));

/** Visible controls smaller than 44×44 CSS px. */
const smallTargets = (page) => page.evaluate(() => {
  const small = [];
  document.querySelectorAll('button, a[href], summary, textarea, input').forEach((node) => {
    const rect = node.getBoundingClientRect();
    const style = getComputedStyle(node);
    if (!rect.width || !rect.height || style.visibility === 'hidden') return;
    if (node.classList.contains('skip-link')) return;   // off-screen until focused
    if (node.id === 'info-phone') return;               // inline link in text (WCAG 2.5.8 exception)
    if (rect.width < 44 || rect.height < 44) {
      small.push(`${node.tagName.toLowerCase()}#${node.id || ''}.${node.className} ${Math.round(rect.width)}x${Math.round(rect.height)}`);
    }
  });
  return small;
});

const scenarios = {
  async load(browser, base) {
    const { context, page } = await newPage(browser);
    await openChat(page, base);
    const facts = await page.evaluate(() => ({
      lang: document.documentElement.lang,
      title: document.title,
      log: !!document.querySelector('[role="log"]#transcript'),
      status: !!document.querySelector('[role="status"]#status'),
      alert: !!document.querySelector('[role="alert"]#alert'),
      languages: Array.from(document.querySelectorAll('[data-language]')).map((b) => [b.textContent.trim(), b.getAttribute('lang'), b.tagName]),
      human: document.getElementById('human-button').textContent.trim(),
      micHidden: document.getElementById('mic-button').hidden,
      hasRecognition: !!(window.SpeechRecognition || window.webkitSpeechRecognition),
      sizes: Array.from(document.querySelectorAll('button[data-text-size]')).map((b) => b.textContent.trim()),
      contrast: document.getElementById('contrast-toggle').getAttribute('aria-pressed'),
      stored: Object.keys(window.localStorage).join(' '),
      location: window.location.href,
    }));
    const { cookie } = await conversationOf(context, base);
    const axeLoad = await axe(page);
    await shot(page, '01-load');
    await page.locator('#counter-info summary').click();
    const info = await page.locator('#counter-details').innerText();
    const phoneHref = await page.locator('#info-phone').getAttribute('href');
    await shot(page, '02-counter-info');
    const axeInfo = await axe(page);
    const root = await (await fetch(base + '/')).text();
    await context.close();
    return { ...facts, axe: axeLoad, axeInfo, info, phoneHref, rootServesPage: root.includes('role="log"'),
      cookie: cookie && { httpOnly: cookie.httpOnly, sameSite: cookie.sameSite, path: cookie.path, length: cookie.value.length },
      problems: page.problems };
  },

  // An answer from the city's FAQ: its text, and its source page as a link (question in FAQ_QUESTION).
  async faq(browser, base) {
    const { context, page } = await newPage(browser);
    await openChat(page, base);
    await say(page, process.env.FAQ_QUESTION);
    const answer = await page.evaluate(() => {  // the text as read, without the furigana readings
      const body = Array.from(document.querySelectorAll('#transcript .msg--bot .msg__body')).pop().cloneNode(true);
      body.querySelectorAll('rt, rp').forEach((n) => n.remove());
      return { text: body.textContent, lang: body.getAttribute('lang') };
    });
    const link = await page.evaluate(() => {
      const a = Array.from(document.querySelectorAll('#transcript .msg--bot .msg__link')).pop();
      if (!a) return null;
      const box = a.getBoundingClientRect();
      return { href: a.href, target: a.target, rel: a.rel, text: a.textContent, lang: a.getAttribute('lang'),
        height: box.height };
    });
    const axeFaq = await axe(page);
    await shot(page, '20-faq-answer');
    await context.close();
    return { answer, link, axe: axeFaq, problems: page.problems };
  },

  async conversation(browser, base) {
    const { context, page } = await newPage(browser);
    await openChat(page, base);
    await page.locator('#message-input').click();
    await say(page, '住民票がほしい');
    const first = await lastBot(page);
    const focusAfterSend = await activeId(page);
    const allBots = await page.evaluate(() => Array.from(document.querySelectorAll('#transcript .msg--bot .msg__body'))
      .map((n) => n.getAttribute('lang')));
    const buttonTags = await page.evaluate(() => Array.from(document.querySelectorAll('#transcript .msg__buttons > *'))
      .map((n) => n.tagName));
    await clickChoice(page, '手数料');
    const fee = await lastBot(page);
    const focusAfterButton = await activeId(page);
    await say(page, '窓口は何時まで開いていますか');
    const hours = await lastBot(page);
    const axeThree = await axe(page);
    await shot(page, '03-three-exchanges');
    const facts = await page.evaluate(() => ({
      readAloud: document.querySelectorAll('#transcript .msg--bot .msg__speak').length,
      botMessages: document.querySelectorAll('#transcript .msg--bot').length,
      buttonGroups: document.querySelectorAll('#transcript .msg__buttons').length,
      times: Array.from(document.querySelectorAll('#transcript time')).length,
    }));
    const users = await userTexts(page);
    await context.close();
    return { first, fee, hours, focusAfterSend, focusAfterButton, allBots, buttonTags, users, ...facts,
      axe: axeThree, problems: page.problems };
  },

  async languages(browser, base) {
    const { context, page } = await newPage(browser);
    await openChat(page, base);
    await say(page, 'マイナンバーカードをなくした');
    let before = (await counts(page)).bot;
    await page.locator('[data-language="easy"]').click();
    await waitForReply(page, before);
    const easy = await page.evaluate(() => ({
      lang: document.documentElement.lang,
      variant: document.documentElement.dataset.variant,
      pressed: document.querySelector('[data-language="easy"]').getAttribute('aria-pressed'),
      rubyInReplies: document.querySelectorAll('#transcript .msg--bot:last-child .msg__body ruby rt').length,
      lastUser: Array.from(document.querySelectorAll('#transcript .msg--user .msg__body')).pop().textContent,
      furiganaToggleHidden: document.getElementById('furigana-toggle').hidden,
      rtVisible: (() => { const rt = document.querySelector('#transcript .msg--bot:last-child rt');
        return rt ? getComputedStyle(rt).display !== 'none' : false; })(),
      chromeRuby: document.querySelectorAll('header ruby, .settings ruby, .composer ruby').length,
    }));
    // Every bot message written in やさしい日本語 (after the switch) has furigana on every kanji.
    const bareInEasyReplies = await kanjiWithoutRuby(page, '#transcript .msg--bot .msg__body:not(.ruby-optional)[lang="ja"]');
    const bareInChrome = await kanjiWithoutRuby(page, '.masthead, .toolbar, .settings, .counter-info, .intro, .composer, .footer');
    const easyReply = await lastBot(page);
    const axeEasy = await axe(page);
    await shot(page, '04-easy-japanese');
    await say(page, 'てすうりょうは いくら');
    const bareAfterQuestion = await kanjiWithoutRuby(page, '#transcript .msg--bot:last-child .msg__body');
    before = (await counts(page)).bot;
    await page.locator('[data-language="en"]').click();
    await waitForReply(page, before);
    const english = await page.evaluate(() => ({
      lang: document.documentElement.lang,
      replyLang: Array.from(document.querySelectorAll('#transcript .msg--bot .msg__body')).pop().getAttribute('lang'),
      send: document.querySelector('#send-button').textContent.trim(),
      human: document.getElementById('human-button').textContent.trim(),
      lastUser: Array.from(document.querySelectorAll('#transcript .msg--user .msg__body')).pop().textContent,
    }));
    const englishReply = await lastBot(page);
    await shot(page, '05-english');
    await context.close();
    return { easy, easyReply, bareInEasyReplies, bareInChrome, bareAfterQuestion, axe: axeEasy, english, englishReply,
      problems: page.problems };
  },

  async newConversation(browser, base) {
    // A kiosk: the next resident starts afresh, in the language the last one chose.
    const { context, page } = await newPage(browser);
    page.on('dialog', (dialog) => dialog.accept());
    await openChat(page, base);
    let before = (await counts(page)).bot;
    await page.locator('[data-language="easy"]').click();
    await waitForReply(page, before);
    const oldSender = (await conversationOf(context, base)).id;
    await page.locator('#new-button').click();
    await page.waitForFunction(() => !document.querySelector('#transcript .msg'));
    await page.waitForFunction(() => document.activeElement && document.activeElement.id === 'message-input');
    const cleared = { messages: (await counts(page)).bot + (await counts(page)).user,
      introVisible: await page.locator('#intro').isVisible(), focus: await activeId(page),
      sender: (await conversationOf(context, base)).id };
    before = (await counts(page)).bot;
    await page.locator('#message-input').fill('じゅうみんひょうが ほしい');
    await page.locator('#message-input').press('Enter');
    await page.waitForFunction(() => document.querySelectorAll('#transcript .msg--user').length === 2
      && !document.querySelector('#transcript .msg--pending'), null, { timeout: 30000 });
    await waitForReply(page, before + 1);
    const users = await userTexts(page);
    const reply = await page.evaluate(() => Array.from(document.querySelectorAll('#transcript .msg--bot .msg__body'))
      .map((n) => n.textContent).join('\n'));
    const variant = await page.evaluate(() => document.documentElement.dataset.variant);
    const bare = await kanjiWithoutRuby(page, '#transcript .msg--bot .msg__body');
    const oldKept = (await trackerUsers(base, oldSender)).length;
    await context.close();
    return { oldSender, cleared, users, reply, variant, bare, oldKept, problems: page.problems };
  },

  async furigana(browser, base) {
    const { context, page } = await newPage(browser);
    await openChat(page, base);
    await say(page, '転入届について教えて');
    const rtDisplay = () => page.evaluate(() => {
      const rt = document.querySelector('#transcript .msg--bot .msg__body rt');
      return rt ? getComputedStyle(rt).display : null;
    });
    const toggleHidden = await page.locator('#furigana-toggle').isHidden();
    const before = await rtDisplay();
    await page.locator('#furigana-toggle').click();
    const after = await rtDisplay();
    const pressed = await page.locator('#furigana-toggle').getAttribute('aria-pressed');
    await shot(page, '06-furigana-on');
    const axeOn = await axe(page);
    await page.reload();
    await openChat(page, base);
    await page.waitForSelector('#transcript .msg--bot');
    const persisted = await page.locator('#furigana-toggle').getAttribute('aria-pressed');
    const afterReload = await rtDisplay();
    await page.locator('#furigana-toggle').click();
    const offAgain = await rtDisplay();
    await context.close();
    return { toggleHidden, before, after, pressed, persisted, afterReload, offAgain, axe: axeOn, problems: page.problems };
  },

  async keyboard(browser, base) {
    const { context, page } = await newPage(browser);
    await openChat(page, base);
    const steps = [];
    const focused = () => page.evaluate(() => {
      const a = document.activeElement;
      const style = getComputedStyle(a);
      return { id: a.id, tag: a.tagName, text: (a.textContent || '').trim().slice(0, 40),
        ring: style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) >= 2 };
    });
    await page.keyboard.press('Tab');
    steps.push(await focused());                   // skip link
    await page.keyboard.press('Tab');
    steps.push(await focused());                   // 日本語
    await page.keyboard.press('Tab');
    steps.push(await focused());                   // English
    await page.keyboard.press('Tab');
    steps.push(await focused());                   // やさしい にほんご
    await page.keyboard.press('Tab');
    steps.push(await focused());                   // 人と話す
    // Back to the top and through the skip link to the message box.
    await page.keyboard.press('Shift+Tab');
    await page.keyboard.press('Shift+Tab');
    await page.keyboard.press('Shift+Tab');
    await page.keyboard.press('Shift+Tab');
    const skip = await focused();
    await page.keyboard.press('Enter');
    const afterSkip = await focused();
    await page.keyboard.type('住民票がほしい');
    let before = (await counts(page)).bot;
    await page.keyboard.press('Enter');
    await waitForReply(page, before);
    const afterSend = await focused();
    // The bot's choices come just before the message box: Shift+Tab reaches the last one.
    await page.keyboard.press('Shift+Tab');
    const choice = await focused();
    before = (await counts(page)).bot;
    await page.keyboard.press('Enter');
    await waitForReply(page, before);
    const afterChoice = await focused();
    const users = await userTexts(page);
    await shot(page, '07-keyboard');
    // Shift+Enter is a new line, not a send.
    await page.keyboard.type('一行目');
    await page.keyboard.press('Shift+Enter');
    await page.keyboard.type('二行目');
    const draft = await page.locator('#message-input').inputValue();
    const pending = (await counts(page)).pending;
    await context.close();
    return { steps, skip, afterSkip, afterSend, choice, afterChoice, users, draft, pending, problems: page.problems };
  },

  async reload(browser, base) {
    const { context, page } = await newPage(browser);
    await openChat(page, base);
    await say(page, '住民票がほしい');
    await clickChoice(page, '持ち物');
    const beforeReload = await page.evaluate(() => ({
      ids: Array.from(document.querySelectorAll('#transcript .msg')).map((n) => n.dataset.id),
      texts: Array.from(document.querySelectorAll('#transcript .msg__body')).map((n) => n.textContent),
    }));
    await page.locator('#message-input').fill('まだ送っていない文');
    await page.reload();
    await openChat(page, base);
    await page.waitForSelector('#transcript .msg');
    const afterReload = await page.evaluate(() => ({
      ids: Array.from(document.querySelectorAll('#transcript .msg')).map((n) => n.dataset.id),
      texts: Array.from(document.querySelectorAll('#transcript .msg__body')).map((n) => n.textContent),
      buttonGroups: Array.from(document.querySelectorAll('#transcript .msg')).map((n) => n.querySelectorAll('.msg__buttons button').length),
      draft: document.getElementById('message-input').value,
      introHidden: document.getElementById('intro').hidden,
    }));
    // A restored button still works.
    await clickChoice(page, '手数料');
    const fee = await lastBot(page);
    await shot(page, '08-after-reload');
    await context.close();
    return { beforeReload, afterReload, fee, problems: page.problems };
  },

  async reflow(browser, base) {
    const { context, page } = await newPage(browser, { viewport: { width: 320, height: 640 } });
    await openChat(page, base);
    const atLoad = await noHorizontalScroll(page);
    const small = await smallTargets(page);
    await shot(page, '09-320px-load');
    await say(page, '住民票がほしい');
    await say(page, 'https://example.jp/a/very/long/address/without/any/spaces/' + 'x'.repeat(120));
    const afterChat = await noHorizontalScroll(page);
    await page.locator('button[data-text-size="3"]').click();
    await page.locator('#counter-info summary').click();
    const largest = await noHorizontalScroll(page);
    const smallLargest = await smallTargets(page);
    await shot(page, '10-320px-largest-text');
    const axeNarrow = await axe(page);
    await page.reload();
    await openChat(page, base);
    const sizeKept = await page.evaluate(() => document.documentElement.dataset.textSize);
    const sizePressed = await page.locator('button[data-text-size="3"]').getAttribute('aria-pressed');
    const rootSize = await page.evaluate(() => getComputedStyle(document.documentElement).fontSize);
    await context.close();
    return { atLoad, afterChat, largest, small, smallLargest, sizeKept, sizePressed, rootSize, axe: axeNarrow, problems: page.problems };
  },

  async xss(browser, base) {
    const { context, page } = await newPage(browser);
    await openChat(page, base);
    const attack = '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script>{漢字|かんじ}<b>太字</b>';
    await say(page, attack);
    const shown = await page.evaluate(() => {
      const bodies = document.querySelectorAll('#transcript .msg--user .msg__body');
      const body = bodies[bodies.length - 1];
      return { text: body.textContent, children: body.children.length };
    });
    const live = await page.evaluate(() => ({
      xss: window.__xss === undefined ? null : window.__xss,
      injected: document.querySelectorAll('#transcript img, #transcript script, #transcript b').length,
      ruby: document.querySelectorAll('#transcript .msg--user ruby').length,
    }));
    await page.reload();
    await openChat(page, base);
    await page.waitForSelector('#transcript .msg--user');
    const restored = await page.evaluate(() => ({
      text: document.querySelector('#transcript .msg--user .msg__body').textContent,
      xss: window.__xss === undefined ? null : window.__xss,
      injected: document.querySelectorAll('#transcript img, #transcript script, #transcript b').length,
    }));
    await shot(page, '11-xss-as-text');
    await context.close();
    return { attack, shown, live, restored, problems: page.problems };
  },

  async limits(browser, base) {
    const { context, page } = await newPage(browser, { init: () => { window.MADOGUCHI = { replyTimeoutMs: 2000, offlineNoticeMs: 500 }; } });
    await openChat(page, base);
    const posts = [];
    page.on('request', (r) => { if (r.url().endsWith('/webhooks/web/message')) posts.push(r.method()); });
    const long = 'あ'.repeat(5000);
    await page.locator('#message-input').fill(long);
    await page.locator('#send-button').click();
    await page.waitForFunction(() => document.getElementById('alert').textContent.length > 0);
    const tooLong = {
      alert: await page.locator('#alert').innerText(),
      kept: (await page.locator('#message-input').inputValue()).length,
      count: await page.locator('#char-count').innerText(),
      posts: posts.length,
      focus: await activeId(page),
      userBubbles: (await counts(page)).user,
    };
    await shot(page, '12-too-long');

    // No silent timeout: a reply that never comes is reported, and the text is kept.
    await page.route('**/webhooks/web/message', () => { /* never answered */ });
    await page.locator('#message-input').fill('窓口はどこですか');
    await page.locator('#message-input').press('Enter');
    await page.waitForFunction(() => document.querySelector('#alert button'), null, { timeout: 10000 });
    const timeout = { alert: await page.locator('#alert').innerText(), kept: await page.locator('#message-input').inputValue(),
      pending: (await counts(page)).pending };
    await page.unroute('**/webhooks/web/message');
    await context.close();
    return { tooLong, timeout, problems: page.problems };
  },

  async outage(browser, base) {
    // The page talks to the server through a proxy that the test can cut, like a real outage.
    const proxy = await startProxy(base);
    const { context, page } = await newPage(browser, { init: () => { window.MADOGUCHI = { offlineNoticeMs: 1000 }; } });
    try {
      await openChat(page, proxy.base);
      await say(page, 'こんにちは');
      const { cookie } = await conversationOf(context, proxy.base);
      await proxy.down();
      await page.waitForFunction(() => document.getElementById('alert').dataset.kind === 'offline', null, { timeout: 15000 });
      const lost = { alert: await page.locator('#alert').innerText(), button: await page.locator('#alert button').innerText() };
      await shot(page, '13-connection-lost');
      // Typing and sending during the outage: the text is not lost.
      await page.locator('#message-input').fill('手数料はいくらですか');
      await page.locator('#message-input').press('Enter');
      await page.waitForFunction(() => document.getElementById('alert').textContent.includes('送信できません'), null, { timeout: 15000 });
      const failedSend = { alert: await page.locator('#alert').innerText(), kept: await page.locator('#message-input').inputValue(),
        pending: (await counts(page)).pending, users: (await counts(page)).user };
      await shot(page, '14-send-failed');
      // Meanwhile the conversation goes on at the server (e.g. another tab): the page must catch up.
      const direct = await fetch(`${base}/webhooks/web/message`, { method: 'POST',
        headers: { 'Content-Type': 'application/json', Cookie: `madoguchi_web=${cookie.value}` },
        body: JSON.stringify({ message: '住民票がほしい' }) });
      await proxy.up();
      await page.waitForFunction(() => Array.from(document.querySelectorAll('#transcript .msg--user .msg__body'))
        .some((n) => n.textContent === '住民票がほしい'), null, { timeout: 20000 });
      await page.waitForTimeout(300);
      const caughtUp = { users: await userTexts(page), ids: await page.evaluate(() =>
        Array.from(document.querySelectorAll('#transcript .msg')).map((n) => n.dataset.id)) };
      // The retry button sends what was kept in the box.
      const before = (await counts(page)).bot;
      await page.locator('#alert button').click();
      await waitForReply(page, before);
      const recovered = { alert: await page.locator('#alert').innerText(), input: await page.locator('#message-input').inputValue(),
        users: await userTexts(page), reply: (await lastBot(page)).text, focus: await activeId(page) };
      return { lost, failedSend, directStatus: direct.status, caughtUp, recovered, problems: page.problems };
    } finally {
      await context.close();
      await proxy.stop();
    }
  },

  async contrast(browser, base) {
    const { context, page } = await newPage(browser);
    await openChat(page, base);
    await page.locator('#contrast-toggle').click();
    await say(page, '引っ越しをします');
    await say(page, '人と話したい');
    const facts = await page.evaluate(() => ({
      theme: document.documentElement.dataset.theme,
      pressed: document.getElementById('contrast-toggle').getAttribute('aria-pressed'),
      background: getComputedStyle(document.body).backgroundColor,
      color: getComputedStyle(document.body).color,
    }));
    const axeHigh = await axe(page);
    await page.locator('#counter-info summary').click();
    await shot(page, '15-high-contrast');
    await page.reload();
    await openChat(page, base);
    const kept = await page.evaluate(() => document.documentElement.dataset.theme);
    await context.close();
    return { ...facts, kept, axe: axeHigh, problems: page.problems };
  },

  async live(browser, base) {
    const token = process.env.MADOGUCHI_API_TOKEN;
    const first = await newPage(browser);
    await openChat(first.page, base);
    await say(first.page, 'こんにちは');
    const sender = (await conversationOf(first.context, base)).id;
    // A second tab of the same conversation (same browser storage) sees what the first one sends.
    const second = await first.context.newPage();
    await openChat(second, base);
    const secondBefore = await counts(second);
    await say(first.page, '住民票がほしい');
    await second.waitForFunction((n) => document.querySelectorAll('#transcript .msg--bot').length > n, secondBefore.bot);
    await second.waitForTimeout(300);
    const secondAfter = await counts(second);
    // A message the server sends on its own (Rasa's trigger_intent → the channel's output) appears live.
    const before = (await counts(first.page)).bot;
    const triggered = await fetch(`${base}/conversations/${sender}/trigger_intent?output_channel=latest&token=${token}`, {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ name: 'counter_hours' }),
    });
    await waitForReply(first.page, before);
    const pushed = await lastBot(first.page);
    const status = await first.page.locator('#status').innerText();
    // A counter clerk's reply, stored as a bot event with staff metadata and sent on the resident's
    // channel (what the staff console does), appears live and labelled as from staff.
    const beforeStaff = (await counts(first.page)).bot;
    const staffReply = await fetch(
      `${base}/conversations/${sender}/tracker/events?output_channel=latest&execute_side_effects=true&token=${token}`, {
        method: 'POST', headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ event: 'bot', text: '市民課の山田です。ご用件をお聞きします。',
          metadata: { lang: 'ja', variant: 'ja', staff: { name: '山田' } } }),
      });
    await waitForReply(first.page, beforeStaff);
    const staff = await first.page.evaluate(() => {
      const node = Array.from(document.querySelectorAll('#transcript .msg')).pop();
      return { className: node.className, who: node.querySelector('.msg__who').textContent,
        text: node.querySelector('.msg__body').textContent };
    });
    await shot(first.page, '19-staff-reply-live');
    // 読み上げ needs a stored message (the server reads it by id): a message pushed before it was
    // stored gets its button when the stored copy arrives (here with the reply to the next message).
    const speakableLive = await first.page.evaluate(() => Array.from(document.querySelectorAll('#transcript .msg--bot, #transcript .msg--staff'))
      .map((node) => ({ id: node.dataset.id || null, speak: node.querySelectorAll('.msg__speak').length })));
    await say(first.page, 'ありがとうございます');
    const speakable = await first.page.evaluate(() => Array.from(document.querySelectorAll('#transcript .msg--bot, #transcript .msg--staff'))
      .map((node) => ({ text: node.querySelector('.msg__body').textContent, id: node.dataset.id || null,
        speak: node.querySelectorAll('.msg__speak').length })));
    // Reload: the pushed message is in the history exactly once.
    await first.page.reload();
    await openChat(first.page, base);
    await first.page.waitForSelector('#transcript .msg--bot');
    const afterReload = await first.page.evaluate(() => Array.from(document.querySelectorAll('#transcript .msg--bot .msg__body')).map((n) => n.textContent));
    const staffAfterReload = await first.page.evaluate(() => Array.from(document.querySelectorAll('#transcript .msg--staff .msg__who')).map((n) => n.textContent));
    await first.context.close();
    return { triggered: triggered.status, secondBefore, secondAfter, pushed, status, staffStatus: staffReply.status, staff,
      afterReload, staffAfterReload, speakableLive, speakable,
      problems: first.page.problems.concat(second.problems || []) };
  },

  async voice(browser, base) {
    // No browser voice at all (as kiosk Chromium on Linux): the page must play the server's audio.
    const init = () => { delete window.speechSynthesis; delete window.SpeechSynthesisUtterance; };
    const { context, page } = await newPage(browser, { init });
    await openChat(page, base);
    const audioState = () => page.evaluate(() => {
      const audio = document.getElementById('speech-audio');
      const pressed = Array.from(document.querySelectorAll('#transcript .msg__speak'))
        .map((b, i) => (b.getAttribute('aria-pressed') === 'true' ? i : -1)).filter((i) => i >= 0);
      return { src: audio.getAttribute('src'), currentSrc: audio.currentSrc, paused: audio.paused,
        currentTime: audio.currentTime, duration: audio.duration, readyState: audio.readyState,
        pressed, status: document.getElementById('status').textContent,
        stopVisible: !document.getElementById('stop-speaking').hidden,
        pace: Array.from(document.querySelectorAll('button[data-pace]')).map((b) => [b.textContent, b.getAttribute('aria-pressed')]),
        storedPace: window.localStorage.getItem('madoguchi.pace') };
    });
    /** Wait until the <audio> plays `url` (or any new url) and its time has advanced. */
    const playing = (notUrl) => page.waitForFunction((old) => {
      const audio = document.getElementById('speech-audio');
      return audio.getAttribute('src') && audio.getAttribute('src') !== old && !audio.paused && audio.currentTime > 0.3;
    }, notUrl || null, { timeout: 60000 });
    const speechPosts = [];
    page.on('request', (request) => {
      if (request.url().endsWith('/webhooks/web/speech')) speechPosts.push(JSON.parse(request.postData()));
    });
    const audioReplies = [];
    page.on('response', (reply) => {
      if (reply.url().includes('/audio/')) audioReplies.push({ status: reply.status(), type: reply.headers()['content-type'] });
    });

    await say(page, '住民票がほしい');
    const beforeClick = await audioState();                 // nothing plays by itself
    const speak = page.locator('#transcript .msg--bot .msg__speak').first();
    const buttonCount = await page.locator('#transcript .msg--bot .msg__speak').count();
    await speak.click();
    await playing();
    const slow = { ...(await audioState()), label: await speak.innerText() };
    await shot(page, '16-reading-aloud');
    const axePlaying = await axe(page);

    // ふつう: the same message again, from a different (faster) file.
    await page.locator('button[data-pace="normal"]').click();
    await playing(slow.src);
    const normal = await audioState();

    // The stop control stops it; focus can go back to typing.
    await page.locator('#stop-speaking').click();
    const stopped = { ...(await audioState()), focus: await activeId(page) };

    // Keyboard only: Tab to a message's 読み上げ and press Space; a second message replaces the first.
    await say(page, '手数料はいくらですか');
    const buttons = page.locator('#transcript .msg__speak');
    const total = await buttons.count();
    await buttons.nth(0).click();
    await playing();
    const first = await audioState();
    await buttons.nth(total - 1).focus();
    await page.keyboard.press('Space');
    await playing(first.src);
    const second = await audioState();
    await page.locator('#message-input').focus();
    await page.keyboard.press('Escape');                   // Escape in the message box stops reading too
    const escaped = await audioState();

    // The pace is remembered.
    await page.reload({ waitUntil: 'load' });
    await openChat(page, base);
    const afterReload = await audioState();
    const mic = await page.evaluate(() => ({
      supported: !!(window.SpeechRecognition || window.webkitSpeechRecognition),
      visible: !document.getElementById('mic-button').hidden,
      notice: document.getElementById('mic-notice').hidden ? null : document.getElementById('mic-notice').textContent,
      describedBy: document.getElementById('mic-button').getAttribute('aria-describedby'),
    }));
    await page.locator('button[data-language="easy"]').click();
    await waitForReply(page, (await counts(page)).bot);
    const easyNotice = await page.locator('#mic-notice').innerText();
    const easyPace = await page.locator('#pace-label').innerText();
    await page.locator('button[data-language="en"]').click();
    await waitForReply(page, (await counts(page)).bot);
    const english = { notice: await page.locator('#mic-notice').innerText(), pace: await page.locator('#pace-label').innerText(),
      paces: await page.locator('button[data-pace]').allInnerTexts(), speak: await buttons.first().innerText() };
    const axeEnglish = await axe(page);
    await context.close();

    // Without speech recognition neither the microphone nor its notice is offered.
    const without = await newPage(browser, {
      init: () => { delete window.webkitSpeechRecognition; delete window.SpeechRecognition; } });
    await openChat(without.page, base);
    const micWithout = await without.page.evaluate(() => ({
      visible: !document.getElementById('mic-button').hidden, notice: !document.getElementById('mic-notice').hidden }));
    const axeWithout = await axe(without.page);
    const problemsWithout = without.page.problems.slice();   // Chromium logs the 429 below as a console error
    // A refusal from the server (here the real per-conversation cap) is said plainly; nothing stays pressed.
    await say(without.page, '住民票がほしい');
    const refusedStatuses = await without.page.evaluate(async () => {
      const id = document.querySelector('#transcript .msg--bot').dataset.id;
      const statuses = [];
      for (let i = 0; i < 30; i += 1) {
        const reply = await fetch('/webhooks/web/speech', { method: 'POST', headers: { 'Content-Type': 'application/json' },
          body: JSON.stringify({ id, pace: 'slow' }) });
        statuses.push(reply.status);
      }
      return statuses;
    });
    await without.page.locator('#transcript .msg--bot .msg__speak').first().click();
    await without.page.waitForFunction(() => document.getElementById('alert').textContent.length > 0);
    const refused = await without.page.evaluate(() => ({
      alert: document.getElementById('alert').textContent,
      pressed: document.querySelectorAll('#transcript .msg__speak[aria-pressed="true"]').length,
      stopVisible: !document.getElementById('stop-speaking').hidden,
      src: document.getElementById('speech-audio').getAttribute('src'),
      status: document.getElementById('status').textContent }));
    await without.context.close();
    return { beforeClick, buttonCount, slow, normal, stopped, first, second, escaped, total, afterReload,
      speechPosts, audioReplies, mic, easyNotice, easyPace, english, micWithout, axePlaying, axeEnglish, axeWithout,
      refusedStatuses, refused,
      problems: page.problems.concat(problemsWithout),
      refusedProblems: without.page.problems.slice(problemsWithout.length) };
  },

  async print(browser, base) {
    const { context, page } = await newPage(browser);
    await openChat(page, base);
    await say(page, 'マイナンバーカードを受け取りたい');
    const downloadPromise = page.waitForEvent('download');
    await page.locator('#save-button').click();
    const download = await downloadPromise;
    const stream = await download.createReadStream();
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    const saved = Buffer.concat(chunks).toString('utf8');
    await page.emulateMedia({ media: 'print' });
    await page.evaluate(() => window.dispatchEvent(new Event('beforeprint')));
    const printed = await page.evaluate(() => ({
      composer: getComputedStyle(document.getElementById('composer')).display,
      toolbar: getComputedStyle(document.getElementById('toolbar')).display,
      infoOpen: document.getElementById('counter-info').open,
      transcript: getComputedStyle(document.getElementById('transcript')).display,
      stamp: document.getElementById('print-stamp').textContent,
    }));
    await shot(page, '17-print');
    const pdf = await page.pdf({ format: 'A4' });
    await context.close();
    return { filename: download.suggestedFilename(), saved, printed, pdfBytes: pdf.length, problems: page.problems };
  },

  async deleteConversation(browser, base) {
    // 「この会話を消す」: a confirmation dialog, then everything of the conversation leaves the server.
    const { context, page } = await newPage(browser);
    await openChat(page, base);
    await say(page, '印鑑登録をしたい');
    await say(page, '/visit_slip');
    const before = await conversationOf(context, base);
    const usersBefore = (await trackerUsers(base, before.id)).length;
    await page.locator('#delete-button').click();
    await page.waitForFunction(() => document.getElementById('delete-dialog').open);
    const dialog = await page.evaluate(() => ({
      open: document.getElementById('delete-dialog').open,
      modal: document.getElementById('delete-dialog').matches(':modal'),
      title: document.getElementById('delete-title').textContent,
      text: document.getElementById('delete-text').textContent,
      focus: document.activeElement.id,
      buttons: Array.from(document.querySelectorAll('#delete-dialog button')).map((b) => b.textContent.trim()),
    }));
    const axeDialog = await axe(page);
    await shot(page, '20-delete-dialog', { fullPage: false });
    await page.keyboard.press('Escape');                       // the safe way out
    const afterEscape = { open: await page.evaluate(() => document.getElementById('delete-dialog').open),
      messages: (await counts(page)).bot };
    await page.locator('#delete-button').click();
    await page.locator('#delete-confirm').click();
    await page.waitForFunction(() => !document.querySelector('#transcript .msg')
      && document.getElementById('status').textContent.includes('消しました'), null, { timeout: 20000 });
    const after = await conversationOf(context, base);
    const deleted = {
      status: await page.locator('#status').innerText(),
      focus: await activeId(page),
      introVisible: await page.locator('#intro').isVisible(),
      dialogOpen: await page.evaluate(() => document.getElementById('delete-dialog').open),
      oldUsers: (await trackerUsers(base, before.id)).length,
      newConversation: after.id !== before.id,
    };
    await page.waitForFunction(() => window.madoguchiChat.state.stream && window.madoguchiChat.state.stream.readyState === 1);
    const axeAfter = await axe(page);
    await shot(page, '21-deleted');
    // A reload shows nothing of it, and the next message starts a fresh conversation.
    await page.reload();
    await openChat(page, base);
    const afterReload = (await counts(page)).user;
    await say(page, 'こんにちは');
    const fresh = await trackerUsers(base, after.id);
    await context.close();
    return { usersBefore, dialog, axeDialog, afterEscape, deleted, axeAfter, afterReload, fresh, problems: page.problems };
  },

  async kiosk(browser, base) {
    // A lobby tablet: idle → a visible countdown (「続けますか？」) → the next resident starts afresh.
    const init = () => { window.MADOGUCHI = { kioskIdleSeconds: 2, kioskCountdownSeconds: 5 }; };
    const { context, page } = await newPage(browser, { init });
    await openChat(page, base, '/?kiosk=1');
    await say(page, '住民票がほしい');
    const first = await conversationOf(context, base);
    await page.waitForSelector('#kiosk-countdown:not([hidden])', { timeout: 10000 });
    const countdown = await page.evaluate(() => ({
      role: document.getElementById('kiosk-countdown').getAttribute('role'),
      title: document.getElementById('kiosk-title').textContent,
      seconds: document.getElementById('kiosk-seconds').textContent,
      live: document.getElementById('kiosk-live').textContent,
      liveMode: document.getElementById('kiosk-live').getAttribute('aria-live'),
      focus: document.activeElement.id,
      messages: document.querySelectorAll('#transcript .msg').length,
    }));
    const axeCountdown = await axe(page);
    await shot(page, '22-kiosk-countdown', { fullPage: false });
    await page.locator('#kiosk-continue').click();          // 「続ける」 keeps the conversation
    const continued = { hidden: await page.locator('#kiosk-countdown').isHidden(),
      messages: await page.evaluate(() => document.querySelectorAll('#transcript .msg').length) };
    await page.waitForSelector('#kiosk-countdown:not([hidden])', { timeout: 10000 });
    await page.waitForFunction(() => !document.querySelector('#transcript .msg'), null, { timeout: 15000 });
    await page.waitForFunction(() => window.madoguchiChat.state.stream && window.madoguchiChat.state.stream.readyState === 1);
    const second = await conversationOf(context, base);
    const reset = {
      messages: (await counts(page)).bot + (await counts(page)).user,
      countdownHidden: await page.locator('#kiosk-countdown').isHidden(),
      status: await page.locator('#status').innerText(),
      input: await page.locator('#message-input').inputValue(),
      newConversation: second.id !== first.id,
      history: (await (await page.evaluate(() => fetch('/webhooks/web/history').then((r) => r.json())))).messages.length,
    };
    const axeReset = await axe(page);
    await context.close();
    return { countdown, axeCountdown, continued, reset, axeReset, oldKept: (await trackerUsers(base, first.id)).length,
      problems: page.problems };
  },

  async tooManyTabs(browser, base) {
    // The 9th tab of one conversation is refused with a polite note; the resident's own tabs stay open.
    const { context, page } = await newPage(browser);
    await openChat(page, base);
    const { cookie } = await conversationOf(context, base);
    const held = [];
    for (let n = 0; n < 7; n += 1) {
      const controller = new AbortController();
      const reply = await fetch(`${base}/webhooks/web/events?page=${String(n).padStart(2, '0').repeat(8)}`,
        { headers: { Cookie: `madoguchi_web=${cookie.value}` }, signal: controller.signal });
      held.push({ controller, status: reply.status });
    }
    const second = await context.newPage();
    second.problems = [];
    second.on('pageerror', (error) => second.problems.push(`pageerror: ${error.message}`));
    await second.goto(base + '/');
    await second.waitForFunction(() => document.getElementById('alert').textContent.includes('タブ'), null, { timeout: 15000 });
    const note = { alert: await second.locator('#alert').innerText(), button: await second.locator('#alert button').innerText() };
    const axeNote = await axe(second);
    await shot(second, '23-too-many-tabs', { fullPage: false });
    const firstStillOpen = await page.evaluate(() => window.madoguchiChat.state.stream.readyState === 1);
    held.forEach((h) => h.controller.abort());
    await page.waitForTimeout(500);
    await second.locator('#alert button').click();
    await second.waitForFunction(() => window.madoguchiChat.state.stream && window.madoguchiChat.state.stream.readyState === 1,
      null, { timeout: 15000 });
    const recovered = await second.locator('#alert').innerText();
    await context.close();
    return { held: held.map((h) => h.status), note, axeNote, firstStillOpen, recovered,
      problems: page.problems.concat(second.problems) };
  },

  async widget(browser, base) {
    const { context, page } = await newPage(browser, { viewport: { width: 900, height: 900 } });
    // The city's own site: another origin (another port), one <script> tag.
    const site = http.createServer((request, response) => {
      response.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
      response.end(`<!doctype html><html lang="ja"><head><meta charset="utf-8"><title>サンプル市公式サイト</title></head>
        <body style="font-family: sans-serif; margin: 2rem"><h1>サンプル市公式サイト</h1><p>くらしの情報・手続きの案内</p>
        <script src="${base}/webhooks/web/widget.js" defer></script></body></html>`);
    });
    await new Promise((resolve) => site.listen(0, '127.0.0.1', resolve));
    try {
      return await widgetOnSite(page, base, `http://localhost:${site.address().port}/`);
    } finally {
      await context.close();
      site.close();
    }
  },
};

async function widgetOnSite(page, base, siteUrl) {
  await page.goto(siteUrl);
  const opener = page.locator('button[aria-controls="madoguchi-widget-panel"]');
  await opener.waitFor();
  const closedState = await opener.getAttribute('aria-expanded');
  await opener.click();
  const frame = page.frameLocator('#madoguchi-widget-panel iframe');
  await frame.locator('#message-input').waitFor();
  await frame.locator('#info-phone:not(:empty)').waitFor({ state: 'attached' });
  const openState = await opener.getAttribute('aria-expanded');
  await frame.locator('#message-input').fill('こんにちは');
  await frame.locator('#message-input').press('Enter');
  await frame.locator('#transcript .msg--bot').first().waitFor();
  await shot(page, '18-widget', { fullPage: false });
  const frameTitle = await page.locator('#madoguchi-widget-panel iframe').getAttribute('title');
  const inFrame = await frame.locator('html').evaluate(() => ({
    // Chromium blocks third-party storage in a cross-site frame: either way nothing of the conversation is kept.
    stored: (() => { try { return Object.keys(window.localStorage).join(' '); } catch (e) { return 'blocked'; } })(),
    location: window.location.href,
    token: /^[0-9a-f]{32}$/.test(window.madoguchiChat.state.token || ''),
  }));
  const cookies = (await page.context().cookies(base)).map((c) => c.name);
  // 読み上げ in the embedded page: its in-memory token names the conversation, the audio plays.
  await frame.locator('#transcript .msg--bot .msg__speak').first().click();
  await frame.locator('html').evaluate(() => new Promise((resolve, reject) => {
    const audio = document.getElementById('speech-audio');
    const started = Date.now();
    (function check() {
      if (!audio.paused && audio.currentTime > 0.2) resolve();
      else if (Date.now() - started > 60000) reject(new Error('the embedded page did not play'));
      else setTimeout(check, 100);
    }());
  }));
  const frameAudio = await frame.locator('#speech-audio').evaluate((a) => ({ src: a.getAttribute('src'), paused: a.paused }));
  const frameAllow = await page.locator('#madoguchi-widget-panel iframe').getAttribute('allow');
  await page.locator('#madoguchi-widget-panel > button').click();
  const afterClose = { expanded: await opener.getAttribute('aria-expanded'),
    focus: await page.evaluate(() => document.activeElement.getAttribute('aria-controls')) };
  return { closedState, openState, frameTitle, afterClose, inFrame, cookies, frameAudio, frameAllow, problems: page.problems };
}

await main(scenarios);

// The staff console in a real browser, against the real server.
//   STAFF_USER=… STAFF_PASSWORD=… RESIDENT=… node tests/web/staff.e2e.mjs <base url> console
// Prints {"console": {observations...}}; tests/handoff/test_staff_console_browser.py asserts on them.
import { axe, main, newPage, shot } from './browser.mjs';

const scenarios = {
  async console(browser, base) {
    const { context, page } = await newPage(browser);
    const user = process.env.STAFF_USER, password = process.env.STAFF_PASSWORD, resident = process.env.RESIDENT;
    await page.goto(base + '/staff', { waitUntil: 'load' });
    await page.waitForSelector('#login-view:not([hidden])');
    const facts = { lang: await page.evaluate(() => document.documentElement.lang) };
    facts.axeLogin = await axe(page);
    await shot(page, 'staff-login');

    // Keyboard only: type the credentials and press Enter.
    await page.focus('#username');
    await page.keyboard.type(user);
    await page.keyboard.press('Tab');
    await page.keyboard.type(password);
    await page.keyboard.press('Enter');
    await page.waitForSelector('#console-view:not([hidden])');
    await page.waitForFunction((id) => [...document.querySelectorAll('#queue button')]
      .some((b) => b.textContent.includes('待機中')), resident);
    facts.queueText = await page.evaluate(() => document.getElementById('queue').textContent);
    facts.axeQueue = await axe(page);
    await shot(page, 'staff-queue');

    // Open the resident's conversation: it is the one whose last message we know.
    const opened = await page.evaluate((needle) => {
      const button = [...document.querySelectorAll('#queue button')].find((b) => b.textContent.includes(needle));
      if (button) button.click();
      return !!button;
    }, process.env.RESIDENT_LAST);
    facts.opened = opened;
    await page.waitForSelector('#conv:not([hidden])');
    await page.waitForSelector('#claim:not([hidden])');
    // Opening a conversation moves focus to its first action (here: claim).
    await page.waitForFunction(() => document.activeElement && document.activeElement.id === 'claim', null, { timeout: 10000 })
      .catch(() => {});
    facts.focusAfterOpen = await page.evaluate(() => document.activeElement && document.activeElement.id);
    await page.keyboard.press('Enter');                       // claim with the keyboard
    try {
      await page.waitForSelector('#reply-form:not([hidden])', { timeout: 15000 });
    } catch (error) {
      throw new Error('claim did not open the reply form; alert: ' + await page.evaluate(() => document.getElementById('alert').textContent)
        + '; focus: ' + facts.focusAfterOpen);
    }
    await page.fill('#reply', '確認しますので少々お待ちください。<script>alert(1)</script>');
    await page.click('#reply-form button[type=submit]');
    await page.waitForFunction(() => [...document.querySelectorAll('#transcript li.staff')]
      .some((li) => li.textContent.includes('少々お待ちください')));
    facts.transcript = await page.evaluate(() => [...document.querySelectorAll('#transcript li')].map((li) => [li.className, li.textContent]));
    facts.scriptElements = await page.evaluate(() => document.querySelectorAll('#transcript script').length);
    facts.axeConversation = await axe(page);
    await shot(page, 'staff-conversation');
    facts.problems = page.problems;
    await context.close();
    return facts;
  },

  // An after-hours call-back: reveal the number (audited), call, mark it done (number deleted).
  async callback(browser, base) {
    const { context, page } = await newPage(browser);
    await page.goto(base + '/staff', { waitUntil: 'load' });
    await page.waitForSelector('#login-view:not([hidden])');
    await page.fill('#username', process.env.STAFF_USER);
    await page.fill('#password', process.env.STAFF_PASSWORD);
    await page.keyboard.press('Enter');
    await page.waitForSelector('#console-view:not([hidden])');
    const needle = process.env.RESIDENT_LAST;
    await page.waitForFunction((n) => [...document.querySelectorAll('#queue button')].some((b) => b.textContent.includes('折り返し希望') && b.textContent.includes(n)), needle);
    await page.evaluate((n) => [...document.querySelectorAll('#queue button')].find((b) => b.textContent.includes('折り返し希望') && b.textContent.includes(n)).click(), needle);
    await page.waitForSelector('#callback:not([hidden])');
    const facts = { queueEntry: await page.evaluate((n) => [...document.querySelectorAll('#queue button')].find((b) => b.textContent.includes('折り返し希望') && b.textContent.includes(n)).textContent, needle) };
    await page.click('#show-phone');
    await page.waitForFunction(() => document.getElementById('phone').textContent.length > 0);
    facts.phone = await page.evaluate(() => document.getElementById('phone').textContent);
    facts.transcript = await page.evaluate(() => [...document.querySelectorAll('#transcript li')].map((li) => li.textContent));
    facts.axe = await axe(page);
    await shot(page, 'staff-callback');
    await page.fill('#callback-note', '折り返し済み：児童手当の申請方法を案内');
    await page.click('#callback-form button[type=submit]');
    await page.waitForFunction((n) => ![...document.querySelectorAll('#queue button')].some((b) => b.textContent.includes('折り返し希望') && b.textContent.includes(n)), needle);
    facts.callbackHidden = await page.waitForFunction(() => document.getElementById('callback').hidden, null, { timeout: 10000 })
      .then(() => true, () => false);
    facts.problems = page.problems;
    await context.close();
    return facts;
  },
};

await main(scenarios);

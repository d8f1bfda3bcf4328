import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Browser, BrowserContext, chromium, ConsoleMessage, Locator, Page, WebSocketRoute } from 'playwright-core';
import { adminToken, call, createSale, shopperToken, Stack, startStack, testConfig, waitFor } from './helpers';

/**
 * The pages in a real browser (Debian's Chromium, driven by playwright-core) against the real
 * API and worker. Every test fails on a console error or an uncaught page error, except the
 * one refusal it provokes on purpose.
 */

const CHROMIUM = '/usr/bin/chromium';
const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-dev-shm-usage',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];
const SHOTS = path.join(__dirname, '..', 'artifacts', 'screenshots');
const UI_TIMEOUT = 15_000;

type Opened = {
  page: Page;
  /** Console errors and uncaught errors, minus the allowed ones. */
  problems: string[];
  /** Console errors the test expected (e.g. the browser logging a provoked 409). */
  allowed: string[];
  /** Full page loads of the main frame: 1 means the page never reloaded. */
  loads: () => number;
};

const pad = (n: number) => String(n).padStart(2, '0');
/** A time as the value of an <input type="datetime-local"> (local time, minutes), as the page writes it. */
const localInput = (ms: number) => {
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
};

const text = async (l: Locator) => ((await l.textContent()) ?? '').replace(/\s+/g, ' ').trim();

/** Polls a locator's text until `ok` holds (never a fixed sleep). */
function untilText(l: Locator, ok: (t: string) => boolean, what: string): Promise<string> {
  return waitFor(
    async () => {
      const t = (await l.count()) > 0 ? await text(l.first()) : '';
      return ok(t) ? t : undefined;
    },
    what,
    UI_TIMEOUT,
  );
}

describe('Pages in a real browser', () => {
  let stack: Stack;
  let browser: Browser;
  let contexts: BrowserContext[] = [];

  beforeAll(async () => {
    fs.mkdirSync(SHOTS, { recursive: true });
    // The simulated provider's timeout, short enough for a test to show it (the default is 5 s).
    stack = await startStack(testConfig({ PAYMENT_TIMEOUT_MS: '800' }));
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
  });

  afterEach(async () => {
    await Promise.all(contexts.map((c) => c.close().catch(() => undefined)));
    contexts = [];
  });

  afterAll(async () => {
    await browser?.close();
    await stack?.stop();
  });

  /** A fresh context (no storage shared with other tests), one page, watched for errors. */
  async function open(
    urlPath: string,
    opts: { allow?: (m: ConsoleMessage) => boolean; mobile?: boolean; before?: (page: Page) => Promise<unknown> } = {},
  ): Promise<Opened> {
    const context = await browser.newContext(
      opts.mobile
        ? { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true }
        : { viewport: { width: 1280, height: 900 } },
    );
    contexts.push(context);
    const page = await context.newPage();
    const problems: string[] = [];
    const allowed: string[] = [];
    let loads = 0;
    page.on('console', (m) => {
      if (m.type() !== 'error') return;
      const line = `console.error: ${m.text()} (${m.location().url})`;
      (opts.allow?.(m) ? allowed : problems).push(line);
    });
    page.on('pageerror', (err) => problems.push(`pageerror: ${err.message}`));
    // The pages ask and confirm within themselves: a native dialog is a bug (and would block the page).
    page.on('dialog', (d) => {
      problems.push(`dialog: ${d.type()} ${d.message()}`);
      void d.dismiss().catch(() => undefined);
    });
    page.on('load', () => loads++);
    await opts.before?.(page);
    await page.goto(stack.api.url + urlPath);
    // A marker that only survives if the document is never reloaded.
    await page.evaluate(() => {
      (globalThis as unknown as { __sameDocument: boolean }).__sameDocument = true;
    });
    return { page, problems, allowed, loads: () => loads };
  }

  async function expectSameDocument(o: Opened): Promise<void> {
    expect(o.loads()).toBe(1);
    expect(await o.page.evaluate(() => (globalThis as unknown as { __sameDocument?: boolean }).__sameDocument)).toBe(true);
  }

  /** Lets running CSS transitions (the stock meter sliding) end, so a capture never shows them halfway. */
  const settled = (p: Page) =>
    p
      .evaluate(
        'Promise.race([Promise.all(document.getAnimations().filter((a) => a instanceof CSSTransition).map((a) => a.finished)), new Promise((r) => setTimeout(r, 2000))])',
      )
      .catch(() => undefined);

  /** A full-page screenshot taken from the top (a capture of a scrolled page paints the sticky header mid-image). */
  async function screenshot(p: Page, name: string): Promise<void> {
    await p.evaluate('window.scrollTo(0, 0)');
    await settled(p);
    await p.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
  }

  /** Saves the screenshot even when an assertion failed, then rethrows. */
  async function withScreenshot(name: string, page: () => Page | undefined, body: () => Promise<void>): Promise<void> {
    try {
      await body();
    } finally {
      const p = page();
      if (p) {
        // From the top: a full-page capture of a scrolled page paints the sticky header mid-image.
        await p.evaluate("window.scrollTo(0, 0)").catch(() => undefined);
        await settled(p);
        await p.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true }).catch(() => undefined);
      }
    }
  }

  const buy = (saleId: string, token: string) =>
    call(stack.api.url, 'POST', `/api/sales/${saleId}/purchases`, { token, body: { quantity: 1 } });

  it('When a shopper opens the shop from a link with a token and buys the last unit, then "confirmed" appears live, without a reload', async () => {
    const name = `Browser drop ${randomUUID().slice(0, 8)}`;
    const { saleId } = await createSale(stack.api.url, {
      name,
      stock: 1,
      perUserLimit: 1,
      priceCents: 4999,
      startsAt: new Date(Date.now() - 1000).toISOString(),
    });
    const shopper = `alice-${randomUUID()}`;
    let o: Opened | undefined;
    await withScreenshot('shopper-confirmed', () => o?.page, async () => {
      o = await open(`/#token=${shopperToken(shopper)}`);
      const { page } = o;
      // The token went to sessionStorage and left the address bar.
      expect(page.url()).not.toContain('token=');
      await untilText(page.locator('#who'), (t) => t.includes(shopper), 'the signed-in shopper in the header');

      const card = page.getByTestId('sale-card').filter({ hasText: name });
      await untilText(card.getByTestId('sale-remaining'), (t) => t === '1', 'the sale card with 1 left');
      expect(await text(card)).toContain('$49.99');
      // A live countdown to the end: it ticks without any reload.
      const countdown = card.locator('time[data-countdown]');
      const before = await text(countdown);
      expect(await text(card)).toMatch(/Ends in (\d+:)?\d\d:\d\d/);
      await untilText(countdown, (t) => t !== before && /^(\d+:)?\d\d:\d\d$/.test(t), 'the countdown to tick');
      await card.click();
      await page.waitForURL(`**/#sale=${saleId}`);

      const remaining = page.getByTestId('sale-remaining');
      await untilText(remaining, (t) => t === '1', 'the sale view with 1 left');
      await untilText(page.getByTestId('connection'), (t) => t === 'Live', 'the socket to connect');
      await page.getByTestId('quantity').fill('1');
      await page.getByTestId('buy-button').click();

      const status = page.getByTestId('purchase-status');
      // Confirmed but unpaid: reserved, with a live countdown to the hold's end and a Pay button.
      const shown = await untilText(status, (t) => t.includes('Reserved — pay within'), 'the purchase to show as reserved');
      expect(shown).toMatch(/Reserved — pay within \d\d:\d\d/);
      expect(shown).not.toContain("It's yours");
      await expect(status.getByTestId('pay-button').isEnabled()).resolves.toBe(true);
      expect(await status.getAttribute('data-status')).toBe('confirmed');
      // The stock pushed over the socket follows: the last unit is gone.
      await untilText(remaining, (t) => t === '0', 'remaining to drop to 0');
      await untilText(page.getByTestId('sale-notice'), (t) => t.startsWith('Sold out'), 'the sold-out notice');
      await expectSameDocument(o);

      // What the page shows is what the engine decided, for this very purchase.
      const purchaseId = await status.getAttribute('data-purchase-id');
      const mine = await call(stack.api.url, 'GET', '/api/me/purchases', { token: shopperToken(shopper) });
      expect(mine.body.items).toEqual([expect.objectContaining({ purchaseId, saleId, status: 'confirmed', quantity: 1 })]);
      const row = page.getByTestId('my-purchase').filter({ hasText: name });
      await untilText(row, (t) => t.includes('Reserved — pay within'), 'the purchase in "My purchases"');
      expect(await row.getAttribute('data-purchase-id')).toBe(purchaseId);
      expect(o.problems).toEqual([]);
    });
  });

  it('When a second shopper opens a sale another shopper emptied, then it shows sold out, and Buy is refused with the sold-out message', async () => {
    const name = `Emptied drop ${randomUUID().slice(0, 8)}`;
    const { saleId } = await createSale(stack.api.url, {
      name,
      stock: 1,
      perUserLimit: 1,
      startsAt: new Date(Date.now() - 1000).toISOString(),
    });
    const first = shopperToken(`first-${randomUUID()}`);
    const taken = await buy(saleId, first);
    expect(taken.status).toBe(202);
    await waitFor(
      async () => ((await call(stack.api.url, 'GET', taken.body.statusUrl, { token: first })).body.status === 'confirmed' ? true : undefined),
      'the first shopper to be confirmed',
    );

    const second = `bob-${randomUUID()}`;
    let o: Opened | undefined;
    await withScreenshot('shopper-sold-out', () => o?.page, async () => {
      // On a phone-sized screen; the one console error allowed is the browser logging the refusal we provoke.
      o = await open(`/#token=${shopperToken(second)}`, {
        mobile: true,
        allow: (m) => m.text().includes('status of 409') && m.location().url.endsWith(`/api/sales/${saleId}/purchases`),
      });
      const { page } = o;
      const card = page.getByTestId('sale-card').filter({ hasText: name });
      await untilText(card.getByTestId('sale-remaining'), (t) => t === '0', 'the sold-out card');
      expect(await text(card)).toContain('Sold out');
      await card.click();
      await page.waitForURL(`**/#sale=${saleId}`);

      await untilText(page.getByTestId('sale-remaining'), (t) => t === '0', 'remaining 0 in the sale view');
      await untilText(page.getByTestId('sale-notice'), (t) => t.startsWith('Sold out'), 'the sold-out notice');
      expect(await page.getByTestId('buy-button').isEnabled()).toBe(true); // units can come back: the engine decides

      await page.getByTestId('buy-button').click();
      const error = page.getByTestId('error-message');
      await untilText(error, (t) => t.startsWith('Sold out'), 'the sold-out message');
      expect(await error.getAttribute('data-code')).toBe('SOLD_OUT');
      expect(await text(page.getByTestId('purchase-status'))).toBe('');
      await untilText(page.getByTestId('buy-button'), (t) => t === 'Buy now', 'the Buy button to be ready again');
      await expectSameDocument(o);

      const mine = await call(stack.api.url, 'GET', '/api/me/purchases', { token: shopperToken(second) });
      expect(mine.body.items).toEqual([]);
      expect(o.allowed).toHaveLength(1);
      expect(o.problems).toEqual([]);
    });
  });

  it('When an admin creates a product and a sale through the forms and watches it, then three purchases move its live counters, adding stock and cancelling through the page take effect, without a reload', async () => {
    // A product made elsewhere (another admin, the API): the picker lists it, from the API.
    const elsewhere = await call(stack.api.url, 'POST', '/api/admin/products', {
      token: adminToken(),
      body: { sku: `API-${randomUUID().slice(0, 8)}`, name: 'Made elsewhere', priceCents: 900 },
    });
    expect(elsewhere.status).toBe(201);
    const saleUrl = /\/api\/admin\/sales\/[0-9a-f-]{36}$/;
    const requested: string[] = [];
    let o: Opened | undefined;
    await withScreenshot('admin-live-view', () => o?.page, async () => {
      o = await open(`/admin#token=${adminToken()}`, {
        // The one refusal provoked on purpose: moving the end of a started sale earlier.
        allow: (m) => m.text().includes('status of 409') && saleUrl.test(m.location().url),
        before: async (page) => page.on('request', (r) => requested.push(new URL(r.url()).pathname + new URL(r.url()).search)),
      });
      const { page } = o;
      expect(page.url()).not.toContain('token=');

      const saleForm = page.getByTestId('sale-form');
      const picker = saleForm.getByLabel('Product');
      await waitFor(async () => ((await picker.locator(`option[value="${elsewhere.body.id}"]`).count()) === 1 ? true : undefined), 'the product from the API in the picker', UI_TIMEOUT);

      const productForm = page.getByTestId('product-form');
      const sku = `WEB-${randomUUID().slice(0, 8)}`;
      await productForm.getByLabel('SKU').fill(sku);
      await productForm.getByLabel('Name', { exact: true }).fill('Browser tee');
      await productForm.getByLabel('Price (USD)').fill('25.00');
      await productForm.getByRole('button', { name: 'Create product' }).click();
      await untilText(page.getByTestId('product-result'), (t) => t.includes('created'), 'the product to be created');

      const saleName = `Admin drop ${randomUUID().slice(0, 8)}`;
      expect(await picker.locator('option:checked').textContent()).toContain(sku);
      // Newest first: the new product, then the one made elsewhere just before.
      const ids = await picker.locator('option').evaluateAll((els) => els.map((e) => e.getAttribute('value')));
      expect(ids.indexOf(elsewhere.body.id)).toBe(1);
      // Defaults: starts now, ends in an hour; the product's price.
      const startsAt = Date.parse(await saleForm.getByLabel('Starts').inputValue());
      const endsAt = Date.parse(await saleForm.getByLabel('Ends').inputValue());
      expect(Math.abs(startsAt - Date.now())).toBeLessThan(2 * 60_000);
      expect(endsAt - startsAt).toBe(3600_000);
      expect(await saleForm.getByLabel('Sale price (USD)').inputValue()).toBe('25.00');
      await saleForm.getByLabel('Sale name').fill(saleName);
      await saleForm.getByLabel('Stock').fill('10');
      await saleForm.getByLabel('Limit per shopper').fill('1');
      // The time to pay: 600 s unless the admin changes it.
      expect(await saleForm.getByLabel('Time to pay (seconds)').inputValue()).toBe('600');
      await saleForm.getByLabel('Time to pay (seconds)').fill('300');
      // Listed in the shop unless the admin unticks it.
      expect(await saleForm.getByLabel('Listed in the shop').isChecked()).toBe(true);
      await saleForm.getByRole('button', { name: 'Create sale' }).click();
      await untilText(page.getByTestId('sale-result'), (t) => t.includes('created'), 'the sale to be created');

      const row = page.getByTestId('sale-row').filter({ hasText: saleName });
      await row.getByTestId('watch-sale').click();
      const live = page.getByTestId('live-view');
      await untilText(live.locator('h2'), (t) => t === saleName, 'the live view of the new sale');
      const saleId = (await live.getAttribute('data-sale-id'))!;
      const sale = await call(stack.api.url, 'GET', `/api/sales/${saleId}`);
      expect(sale.body).toMatchObject({ name: saleName, stock: 10, perUserLimit: 1, priceCents: 2500, status: 'active', holdSeconds: 300, listed: true });
      expect(await text(row.getByTestId('sale-row-hold'))).toBe('5 min to pay');
      expect(await row.getByTestId('sale-row-unlisted').count()).toBe(0);
      expect(await text(page.getByTestId('listing-state'))).toBe('Listed: in the shop’s list');

      const stat = (key: string) => page.getByTestId(`stat-${key}`);
      await untilText(stat('admitted'), (t) => t === '0', 'admitted 0 before any purchase');
      await untilText(stat('remaining-redis'), (t) => t === '10', 'Redis remaining 10');
      await untilText(stat('remaining-postgres'), (t) => t === '10', 'PostgreSQL remaining 10');
      await untilText(stat('remaining-live'), (t) => t === '10', 'the socket stock 10');
      await untilText(stat('queue'), (t) => /^\d+$/.test(t), 'the queue depth');

      const replies = await Promise.all([1, 2, 3].map(() => buy(saleId, shopperToken(`fan-${randomUUID()}`))));
      expect(replies.map((r) => r.status)).toEqual([202, 202, 202]);

      await untilText(stat('admitted'), (t) => t === '3', 'admitted 3');
      await untilText(stat('confirmed'), (t) => t === '3', 'confirmed 3');
      // What became of them: all three held, none paid, expired or given up; nothing refused.
      const count = (testid: string) => page.getByTestId(testid).locator('span').last();
      await untilText(count('holds-held'), (t) => t === '3', 'the 3 confirmed purchases held');
      expect(await Promise.all(['holds-paid', 'holds-expired', 'holds-cancelled'].map((id) => text(count(id))))).toEqual(['0', '0', '0']);
      expect(await text(stat('refused'))).toBe('0');
      expect(await text(page.getByTestId('refused-codes'))).toBe('none');
      await untilText(stat('remaining-redis'), (t) => t === '7', 'Redis remaining 7');
      await untilText(stat('remaining-postgres'), (t) => t === '7', 'PostgreSQL remaining 7');
      await untilText(stat('remaining-live'), (t) => t === '7', 'the socket stock 7');
      // Nobody paid: the 3 units are held by confirmed purchases, none sold yet.
      await untilText(stat('sold'), (t) => t === '0', 'sold 0');
      await untilText(stat('held'), (t) => t === '3', 'held 3');
      await untilText(stat('orders'), (t) => t === '3', 'orders 3');
      // The sales table reads the same paid / held units from the stats.
      await untilText(row.getByTestId('sale-row-held'), (t) => t === '3', 'held 3 in the sales table');
      expect(await text(row.getByTestId('sale-row-paid'))).toBe('0');
      await untilText(stat('drift'), (t) => t === '0', 'drift 0');

      // The chart drew the burst from the deltas between polls.
      const chart = page.getByTestId('live-chart');
      await waitFor(async () => (Number(await chart.getAttribute('data-peak-confirmed')) > 0 ? true : undefined), 'confirmations on the chart', UI_TIMEOUT);
      expect(Number(await chart.getAttribute('data-peak-admitted'))).toBeGreaterThan(0);
      expect(await chart.locator('polyline[data-series="admitted"]').getAttribute('points')).toMatch(/\d/);
      await untilText(live.locator('.checks'), (t) => t.includes('Redis = PostgreSQL'), 'the invariant checks');
      const checks = await text(live.locator('.checks'));
      expect(checks).toContain('✓ sold 0 + held 3 + left 7 = stock 10');
      expect(checks).toContain('✓ paid + held + expired + given up = confirmed');
      expect(checks).not.toContain('✗');

      // Add 2 units: stock 10 -> 12, so 10 - 3 + 2 = 9 left, in the gate and in PostgreSQL.
      await page.getByTestId('add-stock-units').fill('2');
      await page.getByTestId('add-stock').click();
      await untilText(page.getByTestId('stock-added'), (t) => t.includes('stock 10 → 12'), 'the stock to be added');
      await untilText(stat('remaining-redis'), (t) => t === '9', 'Redis remaining 9');
      await untilText(stat('remaining-postgres'), (t) => t === '9', 'PostgreSQL remaining 9');
      await untilText(stat('remaining-live'), (t) => t === '9', 'the socket stock 9');
      await untilText(stat('sold-sub'), (t) => t === 'of 12 in stock', 'stock 12');
      const stats = await call(stack.api.url, 'GET', `/api/admin/sales/${saleId}/stats`, { token: adminToken() });
      expect(stats.body).toMatchObject({
        stock: 12,
        remaining: { redis: 9, postgres: 9 },
        decided: { confirmed: 3, rejected: 0 },
        holds: { held: 3, paid: 0, expired: 0, cancelled: 0 },
        units: { sold: 0, held: 3 },
        drift: 0,
      });
      const left = row.getByTestId('sale-row-left');
      await waitFor(async () => ((await left.innerText()).replace(/\s+/g, ' ') === '9 of 12' ? true : undefined), 'the sales table to follow', UI_TIMEOUT);

      // Moving the end of a started sale earlier is refused, in the page; an hour later is fine.
      const endField = page.getByTestId('extend-end-at');
      const proposed = Date.parse(await endField.inputValue());
      expect(proposed - Date.parse(sale.body.endsAt)).toBe(3600_000);
      await endField.fill(localInput(Date.parse(sale.body.endsAt) - 30 * 60_000));
      await page.getByTestId('extend-end').click();
      const refused = page.getByTestId('action-error');
      await untilText(refused, (t) => t.includes('SALE_STARTED'), 'the refusal in the page');
      expect(await refused.getAttribute('data-code')).toBe('SALE_STARTED');
      await endField.fill(localInput(proposed));
      await page.getByTestId('extend-end').click();
      await untilText(page.getByTestId('end-extended'), (t) => t.startsWith('The sale now ends'), 'the end to move');
      const extended = await call(stack.api.url, 'GET', `/api/sales/${saleId}`);
      expect(Date.parse(extended.body.endsAt)).toBe(proposed);

      await page.getByTestId('reconcile-sale').click();
      await untilText(page.getByTestId('reconcile-report'), (t) => t.includes('Redis agreed with PostgreSQL'), 'the reconcile report');
      expect(await text(page.getByTestId('reconcile-drift'))).toBe('0');

      // Cancel: the page asks first (in the page), then reports what the sale had.
      await page.getByTestId('cancel-sale').click();
      const confirm = page.getByTestId('cancel-confirm');
      await confirm.waitFor({ state: 'visible', timeout: UI_TIMEOUT });
      expect(await text(confirm)).toContain(saleName);
      expect((await call(stack.api.url, 'GET', `/api/sales/${saleId}`)).body.status).toBe('active');
      await screenshot(page, 'admin-cancel-confirm');
      await page.getByTestId('confirm-cancel').click();
      const cancelled = page.getByTestId('cancel-report');
      await untilText(cancelled, (t) => t.startsWith('Sale cancelled at'), 'the cancel report');
      expect(await text(page.getByTestId('cancel-orders'))).toBe('3');
      expect(await text(page.getByTestId('cancel-units'))).toBe('3');
      expect(await text(page.getByTestId('cancel-queued'))).toBe('0');
      expect(await confirm.isHidden()).toBe(true);
      await untilText(page.getByTestId('live-status'), (t) => t === 'Cancelled', 'the status to show cancelled');
      await untilText(row, (t) => t.includes('Cancelled'), 'the sales table to show cancelled');
      expect(await page.getByTestId('add-stock').isDisabled()).toBe(true);
      expect(await page.getByTestId('cancel-sale').isDisabled()).toBe(true);
      expect((await call(stack.api.url, 'GET', `/api/sales/${saleId}`)).body.status).toBe('cancelled');

      // Lists come from the admin routes; nothing reads the public sales list.
      expect(requested.some((u) => u.startsWith('/api/admin/products?'))).toBe(true);
      expect(requested.some((u) => u.startsWith('/api/admin/sales?'))).toBe(true);
      expect(requested.some((u) => u.startsWith('/api/sales?'))).toBe(false);
      await expectSameDocument(o);
      expect(o.allowed).toHaveLength(1);
      expect(o.problems).toEqual([]);
    });
  });

  it('When a shopper presses Buy on a live sale in the list, then one unit is bought without opening the sale, and it shows reserved in "My purchases"', async () => {
    const name = `List drop ${randomUUID().slice(0, 8)}`;
    const { saleId } = await createSale(stack.api.url, { name, stock: 3, perUserLimit: 1, priceCents: 1250 });
    const sub = `lister-${randomUUID()}`;
    let o: Opened | undefined;
    await withScreenshot('shopper-list-buy', () => o?.page, async () => {
      o = await open(`/#token=${shopperToken(sub)}`);
      const { page } = o;
      const card = page.getByTestId('sale-card').filter({ hasText: name });
      await untilText(card.getByTestId('sale-remaining'), (t) => t === '3', 'the sale card with 3 left');
      await untilText(page.getByTestId('connection'), (t) => t === 'Live', 'the socket to connect');
      await card.getByTestId('card-buy-button').click();
      // Still the list: the button bought, it did not open the sale.
      expect(page.url()).not.toContain('sale=');
      await untilText(card.getByTestId('card-message'), (t) => t.includes('My purchases'), 'the card to say the order was sent');
      const row = page.getByTestId('my-purchase').filter({ hasText: name });
      await untilText(row, (t) => /Reserved — pay within \d\d:\d\d/.test(t), 'the purchase reserved in "My purchases"');
      expect(await row.getByTestId('pay-button').isEnabled()).toBe(true);
      await untilText(card.getByTestId('sale-remaining'), (t) => t === '2', 'the card stock to drop to 2');
      const mine = await call(stack.api.url, 'GET', '/api/me/purchases', { token: shopperToken(sub) });
      expect(mine.body.items).toEqual([expect.objectContaining({ saleId, status: 'confirmed', quantity: 1 })]);
      expect(await row.getAttribute('data-purchase-id')).toBe(mine.body.items[0].purchaseId);
      await expectSameDocument(o);
      expect(o.problems).toEqual([]);
    });
  });

  it('When a shopper buys, and the simulated payment is declined, then times out, then is approved, then the purchase stays payable and ends paid ("Paid — it\'s yours"), in the box and in "My purchases"', async () => {
    const name = `Pay drop ${randomUUID().slice(0, 8)}`;
    const { saleId } = await createSale(stack.api.url, { name, stock: 2, perUserLimit: 1, priceCents: 2500 });
    const sub = `payer-${randomUUID()}`;
    let o: Opened | undefined;
    await withScreenshot('shopper-paid', () => o?.page, async () => {
      // The declined (402) and timed-out (504) payments are logged by the browser: expected here.
      o = await open(`/#token=${shopperToken(sub)}&sale=${saleId}`, { allow: (m) => /\b(402|504)\b/.test(m.text()) });
      const { page } = o;
      await untilText(page.getByTestId('sale-remaining'), (t) => t === '2', 'the sale view');
      await untilText(page.getByTestId('connection'), (t) => t === 'Live', 'the socket to connect');
      await page.getByTestId('buy-button').click();
      const status = page.getByTestId('purchase-status');
      const reserved = await untilText(status, (t) => /Reserved — pay within \d\d:\d\d/.test(t), 'the purchase reserved, with its countdown');
      expect(reserved).toContain('Pay $25.00');
      // The countdown is live: it ticks down from the hold's end.
      const clock = status.locator('time[data-countdown]');
      const first = await text(clock);
      await untilText(clock, (t) => t !== first && /^\d\d:\d\d$/.test(t), 'the hold countdown to tick');

      const box = status.getByTestId('pay-box');
      await box.getByTestId('pay-token').selectOption('tok_decline');
      await box.getByTestId('pay-button').click();
      const declined = await untilText(status.getByTestId('pay-message'), (t) => t.includes('declined'), 'the declined payment');
      expect(declined).toContain('still reserved');
      expect(await status.getAttribute('data-status')).toBe('confirmed');
      await screenshot(page, 'shopper-payment-declined');

      await status.getByTestId('pay-token').selectOption('tok_timeout');
      await status.getByTestId('pay-button').click();
      await untilText(status.getByTestId('pay-message'), (t) => t.includes('did not answer in time'), 'the timed-out payment');
      expect(await text(status)).toContain('Reserved — pay within');
      expect(await status.getByTestId('pay-button').isEnabled()).toBe(true);

      await status.getByTestId('pay-token').selectOption('tok_approve');
      await status.getByTestId('pay-button').click();
      const paid = await untilText(status, (t) => t.includes("Paid — it's yours"), 'the purchase paid');
      expect(paid).not.toContain('Reserved');
      // Bought, and when: the paidAt time.
      expect(paid).toMatch(/You bought 1 unit: payment received at \d\d:\d\d:\d\d( [AP]M)?\./);
      expect(await status.getAttribute('data-status')).toBe('paid');
      expect(await status.getByTestId('pay-button').count()).toBe(0);
      const row = page.getByTestId('my-purchase').filter({ hasText: name });
      await untilText(row, (t) => /Paid at \d\d:\d\d:\d\d( [AP]M)? — it's yours/.test(t), 'the purchase paid in "My purchases"');
      expect(await row.getAttribute('data-status')).toBe('paid');

      const mine = await call(stack.api.url, 'GET', '/api/me/purchases', { token: shopperToken(sub) });
      expect(mine.body.items).toEqual([expect.objectContaining({ saleId, status: 'paid', quantity: 1 })]);
      expect(await status.getAttribute('data-purchase-id')).toBe(mine.body.items[0].purchaseId);
      // Paid is sold: the unit does not come back.
      expect(await text(page.getByTestId('sale-remaining'))).toBe('1');
      expect(o.allowed.length).toBeGreaterThanOrEqual(2);
      await expectSameDocument(o);
      expect(o.problems).toEqual([]);
    });
  });

  it('When a sale has a waiting room, then the shopper joins the line, sees their place, ETA range, progress and chances, and on their turn buys with the pass', async () => {
    const name = `Line drop ${randomUUID().slice(0, 8)}`;
    const { saleId } = await createSale(stack.api.url, { name, stock: 5, perUserLimit: 1, startsAt: new Date(Date.now() - 1000).toISOString() });
    const admin = adminToken();
    const room = await call(stack.api.url, 'PUT', `/api/admin/sales/${saleId}/waiting-room`, {
      token: admin,
      body: { enabled: true, admitPerSecond: 2, passSeconds: 60, margin: 0, paused: true },
    });
    expect(room.status).toBe(200);
    // Three shoppers ahead.
    for (let i = 0; i < 3; i++) await call(stack.api.url, 'POST', `/api/sales/${saleId}/line`, { token: shopperToken(`ahead-${i}-${randomUUID()}`) });
    const sub = `liner-${randomUUID()}`;
    let o: Opened | undefined;
    await withScreenshot('shopper-line-turn', () => o?.page, async () => {
      // The page asks whether the shopper is in line yet: a 404 LINE_PLACE_NOT_FOUND the browser logs.
      o = await open(`/#token=${shopperToken(sub)}&sale=${saleId}`, { allow: (m) => /\b404\b/.test(m.text()) && m.location().url.endsWith('/line') });
      const { page } = o;
      const panel = page.getByTestId('line-panel');
      await untilText(panel, (t) => t.includes('Join the line'), 'the offer to join');
      expect(await page.getByTestId('buy-button').isVisible()).toBe(false);
      await page.getByTestId('join-line').click();
      await untilText(page.getByTestId('line-position'), (t) => t === '4', 'place 4 in line');
      await untilText(page.getByTestId('line-likely'), (t) => t.startsWith('Likely'), 'likely to get one');
      await call(stack.api.url, 'PATCH', `/api/admin/sales/${saleId}/waiting-room`, { token: admin, body: { paused: false } });
      await untilText(page.getByTestId('line-eta'), (t) => /Your turn in about \d+–\d+ s/.test(t), 'the ETA range');
      await screenshot(page, 'shopper-line-waiting');
      // The turn comes (pushed: line:turn, then the page reads its pass).
      await untilText(page.getByTestId('line-pass'), (t) => /Pass valid for \d\d:\d\d/.test(t), 'the pass countdown');
      expect(await panel.getAttribute('data-state')).toBe('your_turn');
      await page.getByTestId('buy-button').click();
      await untilText(page.getByTestId('purchase-status'), (t) => t.includes('Reserved — pay within'), 'the purchase reserved');
      const mine = await call(stack.api.url, 'GET', `/api/sales/${saleId}/line`, { token: shopperToken(sub) });
      expect(mine.body.state).toBe('passed'); // the pass was used
      await untilText(page.getByTestId('line-text'), (t) => t.startsWith('You used your turn'), 'the used turn');
      expect(o.problems).toEqual([]);
    });

    // The admin's live view: the line's counters, and its controls take effect.
    let a: Opened | undefined;
    await withScreenshot('admin-line', () => a?.page, async () => {
      a = await open(`/admin#token=${admin}&sale=${saleId}`);
      const { page } = a;
      const card = page.getByTestId('line-card');
      await untilText(card.getByTestId('stat-line-joined'), (t) => t === '4', '4 joined');
      await untilText(card.getByTestId('stat-line-served'), (t) => t === '4', '4 served');
      await card.getByTestId('line-pause').click();
      await untilText(card.getByTestId('stat-line-rate'), (t) => t === 'paused', 'the line paused');
      expect((await call(stack.api.url, 'GET', `/api/admin/sales/${saleId}/waiting-room`, { token: admin })).body.settings.paused).toBe(true);
      await card.getByTestId('line-rate-input').fill('7.5');
      await card.getByTestId('line-set-rate').click();
      await card.getByTestId('line-pause').click();
      await untilText(card.getByTestId('stat-line-rate'), (t) => t === '7.5/s', 'the new rate, resumed');
      expect(a.problems).toEqual([]);
    });
  });

  it('When a waiting room asks a proof of work, then the page solves it in the browser (altcha-lib, WebCrypto) and joins', async () => {
    const { saleId } = await createSale(stack.api.url, { name: `PoW drop ${randomUUID().slice(0, 8)}`, stock: 5, perUserLimit: 1, startsAt: new Date(Date.now() - 1000).toISOString() });
    const room = await call(stack.api.url, 'PUT', `/api/admin/sales/${saleId}/waiting-room`, { token: adminToken(), body: { enabled: true, paused: true, proofOfWork: 20_000 } });
    expect(room.status).toBe(200);
    const sub = `pow-${randomUUID()}`;
    let o: Opened | undefined;
    await withScreenshot('shopper-line-proof', () => o?.page, async () => {
      // Expected refusals the browser logs: not in line yet (404), then the join without a proof (403 PROOF_REQUIRED).
      o = await open(`/#token=${shopperToken(sub)}&sale=${saleId}`, { allow: (m) => /\b(403|404)\b/.test(m.text()) && m.location().url.endsWith('/line') });
      const { page } = o;
      await page.getByTestId('join-line').click();
      await untilText(page.getByTestId('line-position'), (t) => t === '1', 'place 1, after the proof');
      const mine = await call(stack.api.url, 'GET', `/api/sales/${saleId}/line`, { token: shopperToken(sub) });
      expect(mine.body).toMatchObject({ state: 'waiting', position: 1 });
      expect(o.problems).toEqual([]);
    });
  });

  it('When a shopper buys on a sale with a 1-second hold and does not pay, then the purchase shows the hold ended and the unit back on sale, and the stock goes back up', async () => {
    const name = `Short hold ${randomUUID().slice(0, 8)}`;
    // holdSeconds: 1 is the smallest the API accepts (src/modules/sales/validators.ts).
    const { saleId } = await createSale(stack.api.url, { name, stock: 1, perUserLimit: 1, holdSeconds: 1 });
    const sub = `idler-${randomUUID()}`;
    let o: Opened | undefined;
    await withScreenshot('shopper-hold-expired', () => o?.page, async () => {
      o = await open(`/#token=${shopperToken(sub)}&sale=${saleId}`);
      const { page } = o;
      const remaining = page.getByTestId('sale-remaining');
      await untilText(remaining, (t) => t === '1', 'the sale view with 1 left');
      await untilText(page.getByTestId('connection'), (t) => t === 'Live', 'the socket to connect');
      await page.getByTestId('buy-button').click();
      const status = page.getByTestId('purchase-status');
      // Reserved first (if the page catches it inside the second), then the hold ends unpaid.
      await waitFor(async () => ((await status.getAttribute('data-status')) ? true : undefined), 'a status', UI_TIMEOUT);
      const ended = await untilText(status, (t) => t.includes('Hold ended'), 'the hold to end');
      expect(ended).toContain('went back on sale');
      expect(await status.getAttribute('data-status')).toBe('expired');
      expect(await status.getByTestId('pay-button').count()).toBe(0);
      const row = page.getByTestId('my-purchase').filter({ hasText: name });
      await untilText(row, (t) => t.includes('went back on sale'), 'the purchase expired in "My purchases"');
      expect(await row.getAttribute('data-status')).toBe('expired');
      // The unit is for sale again, shown live.
      await untilText(remaining, (t) => t === '1', 'the stock back to 1');
      const mine = await call(stack.api.url, 'GET', '/api/me/purchases', { token: shopperToken(sub) });
      expect(mine.body.items).toEqual([expect.objectContaining({ saleId, status: 'expired', reason: 'HOLD_EXPIRED' })]);
      const sale = await call(stack.api.url, 'GET', `/api/sales/${saleId}`);
      expect(sale.body.remaining).toBe(1);
      await expectSameDocument(o);
      expect(o.problems).toEqual([]);
    });
  });

  it('When a shopper gives up a reserved purchase, then it asks first, shows a refusal in words, then shows it given up, and the unit is back on sale', async () => {
    const name = `Give up ${randomUUID().slice(0, 8)}`;
    const { saleId } = await createSale(stack.api.url, { name, stock: 1, perUserLimit: 1, priceCents: 1500 });
    const sub = `quitter-${randomUUID()}`;
    const cancelUrl = /\/api\/purchases\/[0-9a-f-]{36}\/cancel$/;
    let o: Opened | undefined;
    await withScreenshot('shopper-gave-up', () => o?.page, async () => {
      // The one refusal provoked on purpose (a 409 the test answers in the engine's place) is logged by the browser.
      // On a phone-sized screen, where Pay, "Give it up" and the question must still fit.
      o = await open(`/#token=${shopperToken(sub)}&sale=${saleId}`, {
        mobile: true,
        allow: (m) => m.text().includes('status of 409') && cancelUrl.test(m.location().url),
      });
      const { page } = o;
      const remaining = page.getByTestId('sale-remaining');
      await untilText(remaining, (t) => t === '1', 'the sale view with 1 left');
      await untilText(page.getByTestId('connection'), (t) => t === 'Live', 'the socket to connect');
      await page.getByTestId('buy-button').click();
      const status = page.getByTestId('purchase-status');
      await untilText(status, (t) => t.includes('Reserved — pay within'), 'the purchase reserved');
      await untilText(remaining, (t) => t === '0', 'the last unit taken');
      const purchaseId = (await status.getAttribute('data-purchase-id'))!;

      // Beside Pay, a quieter button; it asks first, and "Keep it" keeps the reservation.
      const giveUp = status.getByTestId('cancel-button');
      expect(await text(giveUp)).toBe('Give it up');
      await giveUp.click();
      const ask = status.getByTestId('cancel-confirm');
      expect(await text(ask)).toContain('goes back on sale for other shoppers');
      await status.getByTestId('keep-hold').click();
      expect(await ask.count()).toBe(0);
      expect(await status.getAttribute('data-status')).toBe('confirmed');

      // A refusal is told in words (answered here as the engine would while the purchase is queued).
      await page.route(cancelUrl, (r) =>
        r.fulfill({ status: 409, contentType: 'application/json', body: JSON.stringify({ error: { code: 'PURCHASE_NOT_CONFIRMED', message: 'This purchase is still being processed' } }) }),
      );
      await status.getByTestId('cancel-button').click();
      await status.getByTestId('confirm-cancel').click();
      const refused = await untilText(status.getByTestId('cancel-message'), (t) => t.length > 0, 'the refusal in words');
      expect(refused).toBe('Your order is still being confirmed. You can give it up once it shows as reserved.');
      expect(await status.getByTestId('cancel-message').getAttribute('data-code')).toBe('PURCHASE_NOT_CONFIRMED');
      await page.unroute(cancelUrl);
      await screenshot(page, 'shopper-give-up-refused');

      await status.getByTestId('cancel-button').click();
      await ask.waitFor({ timeout: UI_TIMEOUT });
      await screenshot(page, 'shopper-give-up-ask');
      await status.getByTestId('confirm-cancel').click();
      const ended = await untilText(status, (t) => t.includes('You gave this up'), 'the purchase given up');
      expect(ended).toMatch(/You let the hold go at \d\d:\d\d:\d\d( [AP]M)?: the unit went back on sale for other shoppers\. Nothing was charged\./);
      expect(await status.getAttribute('data-status')).toBe('cancelled');
      expect(await status.getByTestId('pay-button').count()).toBe(0);
      const row = page.getByTestId('my-purchase').filter({ hasText: name });
      await untilText(row, (t) => t.includes('You gave this up'), 'the purchase given up in "My purchases"');
      expect(await row.getAttribute('data-status')).toBe('cancelled');
      expect(await text(row)).toContain('Given up');
      // The unit is for sale again at once, shown live; the Buy button may take it again.
      await untilText(remaining, (t) => t === '1', 'the stock back to 1');
      expect(await page.getByTestId('buy-button').isEnabled()).toBe(true);

      const mine = await call(stack.api.url, 'GET', `/api/purchases/${purchaseId}`, { token: shopperToken(sub) });
      expect(mine.body).toMatchObject({ status: 'cancelled', reason: 'CANCELLED_BY_SHOPPER' });
      expect(await status.getAttribute('data-purchase-id')).toBe(purchaseId);
      expect((await call(stack.api.url, 'GET', `/api/sales/${saleId}`)).body.remaining).toBe(1);
      expect(o.allowed).toHaveLength(1);
      await expectSameDocument(o);
      expect(o.problems).toEqual([]);
    });
  });

  it('When an admin presses "Queue dashboard", then bull-board opens in a new tab on the session cookie (HttpOnly: the page cannot read it) and lists the queues', async () => {
    let admin: Opened | undefined;
    let board: Page | undefined;
    await withScreenshot('admin-queue-dashboard', () => board, async () => {
      admin = await open(`/admin#token=${adminToken()}`);
      const { page } = admin;
      const link = page.getByTestId('open-queues');
      await link.waitFor({ state: 'visible', timeout: UI_TIMEOUT });
      // The dashboard's own errors too (a CSP refusal of its scripts or styles shows here). Its
      // template links Google Fonts, unreachable here: it falls back to system fonts, not an error of ours.
      const boardProblems: string[] = [];
      const fontRefusals: string[] = [];
      const externalFont = (m: ConsoleMessage) => /^https:\/\/fonts\.(googleapis|gstatic)\.com\//.test(m.location().url);
      page.context().on('page', (p) => {
        p.on('console', (m) => {
          if (m.type() === 'error') (externalFont(m) ? fontRefusals : boardProblems).push(`console.error: ${m.text()} (${m.location().url})`);
        });
        p.on('pageerror', (err) => boardProblems.push(`pageerror: ${err.message}`));
      });
      [board] = await Promise.all([page.context().waitForEvent('page', { timeout: UI_TIMEOUT }), link.click()]);
      // 'load': after its stylesheets (the external font's included) are loaded or refused.
      await board.waitForLoadState('load');
      expect(new URL(board.url()).pathname).toBe('/admin/queues/');
      await board.getByText('purchases', { exact: false }).first().waitFor({ timeout: UI_TIMEOUT });
      // The overview has loaded the queues' counts (its API answered on the cookie too).
      await board.getByText('Loading', { exact: false }).first().waitFor({ state: 'hidden', timeout: UI_TIMEOUT });
      const cookies = await page.context().cookies(`${stack.api.url}/admin/queues/`);
      expect(cookies.find((c) => c.name === 'fs_queue_dashboard')).toEqual(expect.objectContaining({ httpOnly: true, sameSite: 'Strict', path: '/admin/queues' }));
      expect(await page.evaluate('document.cookie')).toBe('');
      expect(boardProblems).toEqual([]);
      console.log(`[browser] queue dashboard: ${fontRefusals.length} external font load(s) failed: ${fontRefusals.join('; ')}`);
      await expectSameDocument(admin);
      expect(admin.problems).toEqual([]);
    });
  });

  it('When an admin creates an unlisted sale through the form, then the sales table marks it, the shop does not list it, its link still sells, and the live view lists and unlists it', async () => {
    const name = `Unlisted drop ${randomUUID().slice(0, 8)}`;
    let admin: Opened | undefined;
    let shop: Opened | undefined;
    await withScreenshot('admin-unlisted-sale', () => admin?.page, async () => {
      admin = await open(`/admin#token=${adminToken()}`);
      const { page } = admin;
      const saleForm = page.getByTestId('sale-form');
      const picker = saleForm.getByLabel('Product');
      await waitFor(async () => ((await picker.locator('option[value]:not([value=""])').count()) > 0 ? true : undefined), 'products in the picker', UI_TIMEOUT);
      await saleForm.getByLabel('Sale name').fill(name);
      await saleForm.getByLabel('Stock').fill('3');
      await saleForm.getByLabel('Listed in the shop').uncheck();
      await saleForm.getByRole('button', { name: 'Create sale' }).click();
      const result = page.getByTestId('sale-result');
      await untilText(result, (t) => t.includes('created'), 'the sale to be created');
      expect(await text(result)).toContain('Unlisted: shoppers reach it by its link only.');
      const link = (await result.getByTestId('shop-link').getAttribute('href'))!;
      const saleId = /^\/#sale=([0-9a-f-]{36})$/.exec(link)![1]!;
      const sale = await call(stack.api.url, 'GET', `/api/admin/sales/${saleId}`, { token: adminToken() });
      expect(sale.body).toMatchObject({ name, listed: false, status: 'active' });

      const row = page.getByTestId('sale-row').filter({ hasText: name });
      await untilText(row.getByTestId('sale-row-unlisted'), (t) => t === 'unlisted', 'the unlisted badge in the sales table');
      await screenshot(page, 'admin-unlisted-created');

      // A listed sale that starts at the same time: the shop lists it, and leaves the unlisted one out.
      const control = await createSale(stack.api.url, { name: `Listed beside ${randomUUID().slice(0, 8)}`, stock: 3, startsAt: sale.body.startsAt });
      shop = await open(`/#token=${shopperToken(`insider-${randomUUID()}`)}`);
      const cards = shop.page.getByTestId('sale-card');
      await waitFor(async () => ((await cards.and(shop!.page.locator(`[data-sale-id="${control.saleId}"]`)).count()) === 1 ? true : undefined), 'the listed sale in the shop', UI_TIMEOUT);
      expect(await cards.filter({ hasText: name }).count()).toBe(0);
      expect(await shop.page.locator(`[data-sale-id="${saleId}"]`).count()).toBe(0);
      const listed = await call(stack.api.url, 'GET', '/api/sales?status=active&limit=100');
      expect(listed.body.items.map((s: { id: string }) => s.id)).not.toContain(saleId);

      // Its link opens the sale in the shop, and buying there works.
      await shop.page.goto(stack.api.url + link);
      await untilText(shop.page.getByTestId('sale-remaining'), (t) => t === '3', 'the unlisted sale opened by its link');
      expect(await text(shop.page.locator('#sale-title'))).toBe(name);
      await shop.page.getByTestId('buy-button').click();
      await untilText(shop.page.getByTestId('purchase-status'), (t) => t.includes('Reserved — pay within'), 'the purchase reserved');
      await screenshot(shop.page, 'shopper-unlisted-by-link');
      expect(shop.problems).toEqual([]);

      // The live view lists it in the shop, then unlists it again.
      await row.getByTestId('watch-sale').click();
      const state = page.getByTestId('listing-state');
      await untilText(state, (t) => t === 'Unlisted: reachable by its link only', 'the listing in the live view');
      await page.getByTestId('toggle-listed').click();
      await untilText(page.getByTestId('listing-changed'), (t) => t.startsWith('Listed'), 'the sale listed');
      await untilText(state, (t) => t === 'Listed: in the shop’s list', 'the listing state');
      await waitFor(async () => ((await row.getByTestId('sale-row-unlisted').count()) === 0 ? true : undefined), 'the badge to go', UI_TIMEOUT);
      expect((await call(stack.api.url, 'GET', `/api/sales/${saleId}`)).body.listed).toBe(true);
      await page.getByTestId('toggle-listed').click();
      await untilText(page.getByTestId('listing-changed'), (t) => t.startsWith('Unlisted'), 'the sale unlisted');
      await untilText(row.getByTestId('sale-row-unlisted'), (t) => t === 'unlisted', 'the badge back');
      expect((await call(stack.api.url, 'GET', `/api/sales/${saleId}`)).body.listed).toBe(false);
      await expectSameDocument(admin);
      expect(admin.problems).toEqual([]);
    });
  });

  it('When the socket cannot connect and a short hold ends unpaid, then polling shows it expired and the stock back up', async () => {
    const { saleId } = await createSale(stack.api.url, { stock: 1, perUserLimit: 1, holdSeconds: 1 });
    let o: Opened | undefined;
    await withScreenshot('shopper-hold-expired-polling', () => o?.page, async () => {
      o = await open(`/#token=${shopperToken(`idle-poller-${randomUUID()}`)}&sale=${saleId}`, {
        allow: (m) => m.text().includes('net::ERR_FAILED') && m.location().url.includes('/socket.io/'),
        before: (page) => page.route('**/socket.io/?**', (r) => r.abort()),
      });
      const { page } = o;
      const remaining = page.getByTestId('sale-remaining');
      await untilText(remaining, (t) => t === '1', 'the sale view');
      expect(await text(page.getByTestId('connection'))).not.toBe('Live');
      await page.getByTestId('buy-button').click();
      const status = page.getByTestId('purchase-status');
      await untilText(status, (t) => t.includes('Hold ended'), 'the hold to end, by polling');
      expect(await status.getAttribute('data-status')).toBe('expired');
      expect(await status.getAttribute('data-via')).toBe('poll');
      await untilText(remaining, (t) => t === '1', 'the stock back to 1');
      await expectSameDocument(o);
      expect(o.problems).toEqual([]);
    });
  });

  /** Buys one unit for each token and waits until each purchase is confirmed; returns the purchase ids. */
  async function confirmedPurchases(saleId: string, tokens: string[]): Promise<string[]> {
    const replies = await Promise.all(tokens.map((t) => buy(saleId, t)));
    for (const [i, r] of replies.entries()) {
      expect(r.status).toBe(202);
      await waitFor(async () => ((await call(stack.api.url, 'GET', r.body.statusUrl, { token: tokens[i] })).body.status === 'confirmed' ? true : undefined), 'the decision');
    }
    return replies.map((r) => r.body.purchaseId as string);
  }

  it('When shoppers pay, hold, give up and let expire purchases of two sales, then the admin sales table shows Paid / Held / Expired as the stats count them, and the live view the paid and held units', async () => {
    const name = `Paid and held ${randomUUID().slice(0, 8)}`;
    const { saleId } = await createSale(stack.api.url, { name, stock: 5, perUserLimit: 1, holdSeconds: 90 });
    const tokens = [1, 2, 3].map(() => shopperToken(`holder-${randomUUID()}`));
    const [paidId, , givenUpId] = await confirmedPurchases(saleId, tokens);
    const paid = await call(stack.api.url, 'POST', `/api/purchases/${paidId}/pay`, { token: tokens[0], body: { paymentToken: 'tok_approve' } });
    expect(paid.status).toBe(200);
    const gaveUp = await call(stack.api.url, 'POST', `/api/purchases/${givenUpId}/cancel`, { token: tokens[2] });
    expect(gaveUp.body).toMatchObject({ status: 'cancelled', reason: 'CANCELLED_BY_SHOPPER' });
    // Another sale, whose 1-second hold runs out unpaid.
    const shortName = `Ran out ${randomUUID().slice(0, 8)}`;
    const short = await createSale(stack.api.url, { name: shortName, stock: 2, perUserLimit: 1, holdSeconds: 1 });
    const idler = shopperToken(`idler-${randomUUID()}`);
    const [expiredId] = await confirmedPurchases(short.saleId, [idler]);
    await waitFor(async () => ((await call(stack.api.url, 'GET', `/api/purchases/${expiredId}`, { token: idler })).body.status === 'expired' ? true : undefined), 'the hold to run out');

    const statsOf = async (id: string) => (await call(stack.api.url, 'GET', `/api/admin/sales/${id}/stats`, { token: adminToken() })).body;
    const stats = await statsOf(saleId);
    expect(stats).toMatchObject({ stock: 5, decided: { confirmed: 3 }, holds: { paid: 1, held: 1, expired: 0, cancelled: 1 }, units: { sold: 1, held: 1, returned: 1 } });
    expect(stats.remaining.postgres).toBe(3);
    const shortStats = await statsOf(short.saleId);
    expect(shortStats).toMatchObject({ holds: { paid: 0, held: 0, expired: 1, cancelled: 0 }, units: { sold: 0, held: 0, returned: 1 } });

    let o: Opened | undefined;
    await withScreenshot('admin-paid-held', () => o?.page, async () => {
      o = await open(`/admin#token=${adminToken()}`);
      const { page } = o;
      // The shared database holds many sales: show the live ones, where these are.
      await page.getByTestId('sales-filter').selectOption('active');
      const figures = async (rowName: string) => {
        const row = page.getByTestId('sale-row').filter({ hasText: rowName });
        // A figure, not the placeholder (nor the empty text of a row not drawn yet).
        await untilText(row.getByTestId('sale-row-paid'), (t) => /^\d/.test(t), `the figures of ${rowName} in the sales table`);
        await untilText(row.getByTestId('sale-row-expired'), (t) => /^\d/.test(t), `the expired figure of ${rowName}`);
        return Promise.all(['paid', 'held', 'expired'].map((f) => text(row.getByTestId(`sale-row-${f}`)).then(Number)));
      };
      // The table's Paid / Held / Expired are the stats' holds, sale by sale.
      expect(await figures(name)).toEqual([stats.holds.paid, stats.holds.held, stats.holds.expired]);
      expect(await figures(shortName)).toEqual([shortStats.holds.paid, shortStats.holds.held, shortStats.holds.expired]);
      const row = page.getByTestId('sale-row').filter({ hasText: name });
      expect(await text(row.getByTestId('sale-row-cancelled'))).toBe('+1 given up');
      expect(await page.getByTestId('sale-row').filter({ hasText: shortName }).getByTestId('sale-row-cancelled').isHidden()).toBe(true);
      expect(await text(row.getByTestId('sale-row-hold'))).toBe('90 s to pay');

      await row.getByTestId('watch-sale').click();
      const stat = (key: string) => page.getByTestId(`stat-${key}`);
      await untilText(stat('sold'), (t) => t === '1', 'sold (paid) 1 in the live view');
      await untilText(stat('held'), (t) => t === '1', 'held 1 in the live view');
      expect(await text(stat('held-sub'))).toContain('90 s to pay');
      expect(await text(stat('confirmed'))).toBe('3');
      const count = (testid: string) => text(page.getByTestId(testid).locator('span').last());
      expect(await Promise.all(['paid', 'held', 'expired', 'cancelled'].map((k) => count(`holds-${k}`)))).toEqual(['1', '1', '0', '1']);
      expect(await text(stat('remaining-postgres-sub'))).toBe('authoritative; 1 back from ended holds');
      await untilText(page.getByTestId('live-view').locator('.checks'), (t) => t.includes('sold 1 + held 1 + left 3 = stock 5'), 'the invariant check');
      expect(await text(page.getByTestId('live-view').locator('.checks'))).not.toContain('✗');
      await expectSameDocument(o);
      expect(o.problems).toEqual([]);
    });
  });

  /** The browser logging a request the test itself cut (socket.io transport, or an aborted POST). */
  const cutByTest = (m: ConsoleMessage) => m.text().includes('net::ERR_FAILED');
  const statusOf = (page: Page) => page.getByTestId('purchase-status').getAttribute('data-status');

  it('When the socket cannot connect, then the purchase status still arrives, by polling its statusUrl', async () => {
    const { saleId } = await createSale(stack.api.url, { stock: 5, perUserLimit: 1 });
    let o: Opened | undefined;
    await withScreenshot('shopper-polling-fallback', () => o?.page, async () => {
      o = await open(`/#token=${shopperToken(`poller-${randomUUID()}`)}&sale=${saleId}`, {
        allow: (m) => cutByTest(m) && m.location().url.includes('/socket.io/'),
        before: (page) => page.route('**/socket.io/?**', (r) => r.abort()),
      });
      const { page } = o;
      await untilText(page.getByTestId('sale-remaining'), (t) => t === '5', 'the sale view');
      expect(await text(page.getByTestId('connection'))).not.toBe('Live');
      await page.getByTestId('buy-button').click();
      await waitFor(async () => ((await statusOf(page)) === 'confirmed' ? true : undefined), 'confirmed by polling', UI_TIMEOUT);
      expect(await page.getByTestId('purchase-status').getAttribute('data-via')).toBe('poll');
      expect(await text(page.getByTestId('purchase-status'))).toContain('Reserved — pay within');
      await expectSameDocument(o);
      expect(o.problems).toEqual([]);
    });
  });

  it('When the network fails while buying, then the same Idempotency-Key is retried and exactly one purchase is made', async () => {
    const { saleId } = await createSale(stack.api.url, { stock: 5, perUserLimit: 1 });
    const sub = `flaky-${randomUUID()}`;
    const keys: string[] = [];
    let o: Opened | undefined;
    await withScreenshot('shopper-network-retry', () => o?.page, async () => {
      o = await open(`/#token=${shopperToken(sub)}&sale=${saleId}`, {
        allow: (m) => cutByTest(m) && m.location().url.endsWith(`/api/sales/${saleId}/purchases`),
        before: (page) =>
          page.route(`**/api/sales/${saleId}/purchases`, (r) => {
            keys.push(r.request().headers()['idempotency-key'] ?? '');
            // The click's own attempt and its two automatic retries fail; the Retry button's goes through.
            return keys.length <= 3 ? r.abort('failed') : r.continue();
          }),
      });
      const { page } = o;
      await untilText(page.getByTestId('sale-remaining'), (t) => t === '5', 'the sale view');
      await page.getByTestId('buy-button').click();
      await page.getByTestId('retry-button').waitFor({ timeout: UI_TIMEOUT });
      expect(await text(page.getByTestId('error-message'))).toContain("couldn't reach the shop");
      await page.getByTestId('retry-button').click();
      await waitFor(async () => ((await statusOf(page)) === 'confirmed' ? true : undefined), 'confirmed after the retry', UI_TIMEOUT);
      expect(keys).toHaveLength(4);
      expect(new Set(keys).size).toBe(1);
      const mine = await call(stack.api.url, 'GET', '/api/me/purchases', { token: shopperToken(sub) });
      expect(mine.body.items).toEqual([expect.objectContaining({ saleId, status: 'confirmed' })]);
      expect(o.problems).toEqual([]);
    });
  });

  it('When the socket drops and a purchase is decided meanwhile, then the page re-fetches its purchases on reconnect', async () => {
    const { saleId } = await createSale(stack.api.url, { stock: 5, perUserLimit: 1 });
    const sub = `away-${randomUUID()}`;
    const sockets: WebSocketRoute[] = [];
    let refuse = false;
    let o: Opened | undefined;
    await withScreenshot('shopper-reconnect-refetch', () => o?.page, async () => {
      o = await open(`/#token=${shopperToken(sub)}`, {
        allow: (m) => cutByTest(m) && m.location().url.includes('/socket.io/'),
        before: async (page) => {
          await page.routeWebSocket(/\/socket\.io\//, (ws) => {
            if (refuse) return void ws.close();
            // A transparent proxy that notes engine.io's upgrade packet ("5"): only a websocket
            // that carries the connection can drop it (one still probing is just abandoned).
            const server = ws.connectToServer();
            ws.onMessage((m) => {
              server.send(m);
              if (m === '5') sockets.push(ws);
            });
            server.onMessage((m) => ws.send(m));
          });
          await page.route('**/socket.io/?**', (r) => (refuse ? r.abort() : r.continue()));
        },
      });
      const { page } = o;
      const connection = page.getByTestId('connection');
      await untilText(connection, (t) => t === 'Live', 'the socket to connect');
      await waitFor(async () => (sockets.length ? true : undefined), 'the upgrade to websocket', UI_TIMEOUT);
      refuse = true;
      await Promise.all(sockets.map((ws) => ws.close()));
      await untilText(connection, (t) => t !== 'Live', 'the socket to drop');

      // Bought elsewhere (another tab) while this page is away: its push is lost.
      const token = shopperToken(sub);
      const r = await buy(saleId, token);
      await waitFor(async () => ((await call(stack.api.url, 'GET', r.body.statusUrl, { token })).body.status === 'confirmed' ? true : undefined), 'the decision');
      expect(await page.getByTestId('my-purchase').count()).toBe(0);

      refuse = false;
      await untilText(connection, (t) => t === 'Live', 'the socket to reconnect');
      const row = page.getByTestId('my-purchase');
      await untilText(row, (t) => t.includes('Reserved'), 'the re-fetched purchase');
      expect(await row.getAttribute('data-purchase-id')).toBe(r.body.purchaseId);
      await expectSameDocument(o);
      expect(o.problems).toEqual([]);
    });
  });
  it('When a purchase ended PROCESSING_FAILED, then the admin page lists it under Dead letters with its error, and Replay attempts it again (confirmed), without a reload', async () => {
    const { saleId } = await createSale(stack.api.url, { stock: 3, perUserLimit: 1 });
    const user = `dead-${randomUUID()}`;
    const token = shopperToken(user);
    const db = stack.api.deps.db;
    const fn = `br_${saleId.slice(0, 8)}`;
    await db.raw(`CREATE FUNCTION ${fn}() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'browser fault'; END $$ LANGUAGE plpgsql`);
    await db.raw(`CREATE TRIGGER ${fn} BEFORE INSERT ON orders FOR EACH ROW WHEN (NEW.sale_id = '${saleId}') EXECUTE FUNCTION ${fn}()`);
    let failedId = '';
    try {
      const attempt = await call(stack.api.url, 'POST', `/api/sales/${saleId}/purchases`, { token, body: { quantity: 1 } });
      failedId = attempt.body.purchaseId;
      await waitFor(async () => ((await call(stack.api.url, 'GET', `/api/purchases/${failedId}`, { token })).body.reason === 'PROCESSING_FAILED' ? true : undefined), 'PROCESSING_FAILED', 30_000);
    } finally {
      await db.raw(`DROP TRIGGER IF EXISTS ${fn} ON orders`);
      await db.raw(`DROP FUNCTION IF EXISTS ${fn}()`);
    }
    let o: Opened | undefined;
    await withScreenshot('admin-dead-letters', () => o?.page, async () => {
      o = await open(`/admin#token=${adminToken()}`);
      const { page } = o;
      const section = page.getByTestId('dead-letters');
      await section.getByLabel('Show dead letters').selectOption('purchase');
      const row = section.locator(`tr[data-dead-letter-id="${failedId}"]`);
      await untilText(row, (t) => t.includes('browser fault') && t.includes(`shopper ${user}`), 'the dead letter row');
      await row.getByTestId('replay').click();
      const said = await untilText(section.getByRole('alert'), (t) => t.includes('Purchase attempted again'), 'the replay message');
      const replayShort = /again: ([0-9a-f]{8})/.exec(said)![1]!;
      await waitFor(async () => ((await row.count()) === 0 ? true : undefined), 'the row to leave the list', UI_TIMEOUT);
      const mine = await call(stack.api.url, 'GET', '/api/me/purchases', { token });
      const replayed = mine.body.items.find((p: { purchaseId: string }) => p.purchaseId.startsWith(replayShort));
      expect(replayed).toBeDefined();
      await waitFor(async () => ((await call(stack.api.url, 'GET', `/api/purchases/${replayed.purchaseId}`, { token })).body.status === 'confirmed' ? true : undefined), 'the replay confirmed');
      expect(o.problems).toEqual([]);
      await expectSameDocument(o);
    });
  });
});

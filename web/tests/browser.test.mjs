// The web page in a real browser (Debian's chromium, driven by playwright-core) against a real
// delivery-local: a customer orders and sees the order dispatched; a company edits a price and
// then meets the conflict of a stale edit, and imports a CSV; a product name that is HTML
// renders as text.
// Screenshots go to target/screenshots (SCREENSHOT_DIR).

import { after, afterEach, before, beforeEach, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { chromium } from "playwright-core";

const root = path.resolve(import.meta.dirname, "../..");
const bin = process.env.DELIVERY_LOCAL_BIN || path.join(root, "target/debug/delivery-local");
const shots = process.env.SCREENSHOT_DIR || path.join(root, "target/screenshots");
const chromiumPath = process.env.CHROMIUM || "/usr/bin/chromium";

let server;
let base;
let dataDir;
let browser;

function token(...args) {
  return execFileSync(bin, ["token", "--data-dir", dataDir, ...args], { encoding: "utf8" }).trim();
}

async function api(method, urlPath, bearer, body, headers = {}) {
  const response = await fetch(base + urlPath, {
    method,
    headers: { Authorization: `Bearer ${bearer}`, "Content-Type": "application/json", ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, json: await response.json() };
}

/** A delivery-local of its own for one test, in a data directory of its own, so that no test
 * sees what another left behind (an order, a changed price, faults turned on). */
async function startServer() {
  dataDir = mkdtempSync(path.join(tmpdir(), "delivery-web-"));
  // A short visibility timeout: a rehearsal with faults redelivers within seconds. The faults
  // the console turns on draw from a fixed seed, so a failure can be run again as it was.
  server = spawn(bin, ["serve", "--port", "0", "--data-dir", dataDir, "--visibility-timeout", "2", "--faults-seed", "7"], {
    stdio: ["ignore", "pipe", "inherit"],
    env: { ...process.env, RUST_LOG: "warn" },
  });
  const started = server;
  base = await new Promise((resolve, reject) => {
    let seen = "";
    const timer = setTimeout(() => reject(new Error("delivery-local printed no URL within 60 s")), 60_000);
    started.stdout.on("data", (chunk) => {
      seen += chunk;
      const url = /delivery-local listening on (\S+)/.exec(seen);
      if (url) {
        clearTimeout(timer);
        resolve(url[1]);
      }
    });
    started.on("exit", (code) => reject(new Error(`delivery-local exited with ${code}`)));
  });
}

/** Stops the test's server, waits for it to exit, and removes its data directory. */
async function stopServer() {
  const stopping = server;
  server = undefined;
  if (stopping && stopping.exitCode === null && stopping.signalCode === null) {
    const exited = new Promise((resolve) => stopping.once("exit", resolve));
    stopping.kill("SIGTERM");
    await exited;
  }
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  dataDir = undefined;
}

before(async () => {
  mkdirSync(shots, { recursive: true });
  browser = await chromium.launch({
    executablePath: chromiumPath,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
  });
});

beforeEach(startServer);
afterEach(stopServer);

after(async () => {
  await browser?.close();
});

/** A fresh page that records console errors, uncaught exceptions, dialogs, and every request
 * that failed or was answered 4xx/5xx (`METHOD path status`), so that a test can say exactly
 * which refusals it provoked and fail on any other. */
async function openPage(viewport = { width: 1200, height: 900 }, prepare = async () => {}) {
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  await prepare(page);
  const problems = { console: [], exceptions: [], dialogs: [], failed: [] };
  page.on("console", (message) => {
    // A refused request is also logged by the browser: it is judged by `failed` below.
    if (message.type() === "error" && !/Failed to load resource: the server responded with a status of/.test(message.text())) {
      problems.console.push(message.text());
    }
  });
  page.on("pageerror", (error) => problems.exceptions.push(String(error)));
  page.on("requestfailed", (request) => problems.failed.push(`${request.method()} ${new URL(request.url()).pathname} ${request.failure()?.errorText}`));
  page.on("response", (response) => {
    if (response.status() >= 400) problems.failed.push(`${response.request().method()} ${new URL(response.url()).pathname} ${response.status()}`);
  });
  page.on("dialog", async (dialog) => {
    problems.dialogs.push(dialog.message());
    await dialog.dismiss();
  });
  await page.goto(`${base}/`);
  return { page, problems, context };
}

async function signInAs(page, sub) {
  await page.locator(`#demo-buttons button[data-sub="${sub}"]`).click();
  await page.waitForFunction((s) => document.getElementById("who").textContent.includes(`Signed in as ${s}`), sub);
}

test("a customer places an order and sees it dispatched", async () => {
  const { page, problems, context } = await openPage();
  await signInAs(page, "alice");
  const orderable = page.locator(".card").filter({ has: page.locator("button:not([disabled])", { hasText: "Add to basket" }) });
  await orderable.first().waitFor();
  const first = orderable.first();
  const productName = await first.locator("h3").textContent();
  await first.locator("input.qty").fill("2");
  await first.getByRole("button", { name: "Add to basket" }).click();
  await page.waitForFunction(() => document.getElementById("bill-total").textContent !== "—");
  const total = await page.locator("#bill-total").textContent();
  assert.match(total, /^\d+(\.\d+)? [A-Z]{3}$/);

  // The delivery phone is checked by the API, and its error is shown next to the field.
  await page.getByLabel("Delivery address").fill("742 Evergreen Terrace");
  await page.getByLabel(/^Phone/).fill("not a phone");
  await page.getByRole("button", { name: "Place order" }).click();
  await page.locator("#phone-error:not(:empty)").waitFor();
  assert.equal(await page.getByLabel(/^Phone/).getAttribute("aria-invalid"), "true");

  await page.getByLabel(/^Phone/).fill("+15551234567");
  await page.locator("#basket").screenshot({ path: path.join(shots, "customer-basket.png") });
  await page.getByRole("button", { name: "Place order" }).click();
  const status = page.locator('#order-status .status[data-status="dispatched"]');
  await status.waitFor({ timeout: 60_000 });
  assert.match(await status.textContent(), /dispatched .* carrier: /);
  await page.locator("#order-list .status[data-status=dispatched]").first().waitFor();
  assert.match(await page.locator("#order-list").textContent(), new RegExp(`2 × ${productName}`));
  await page.screenshot({ path: path.join(shots, "customer-order-dispatched.png"), fullPage: true });

  // Usable on a phone: the same page at a phone's width.
  await page.setViewportSize({ width: 390, height: 844 });
  await page.screenshot({ path: path.join(shots, "customer-phone.png"), fullPage: true });

  assert.deepEqual(problems.exceptions, []);
  assert.deepEqual(problems.dialogs, []);
  assert.deepEqual(problems.console, []);
  // The one deliberate refusal (the bad phone); once ordered, the empty basket is not priced.
  assert.deepEqual(problems.failed, ["POST /orders 400"]);
  await context.close();
});

test("a company edits a price, then is told when someone else changed the product first", async () => {
  const acme = token("--sub", "acme-admin", "--scope", "products:read products:write", "--company", "acme");
  const { page, problems, context } = await openPage();
  await signInAs(page, "acme-admin");
  await page.getByLabel("Company").fill("acme");
  await page.getByRole("button", { name: "Filter" }).click();
  const card = page.locator(".card").filter({ has: page.locator("details.editor") }).first();
  await card.waitFor();
  const id = await card.getAttribute("data-product");
  const card1 = page.locator(`.card[data-product="${id}"]`);

  await card1.getByText("Edit this product", { exact: true }).click();
  const before = await api("GET", `/products/${id}`, acme);
  await card1.getByLabel("Price").fill("9.99");
  // Preparing the product for a sale: its stock spread over 8 shards, the total unchanged.
  await card1.getByLabel(/^Stock shards/).fill("8");
  await card1.getByRole("button", { name: "Save" }).click();
  await card1.getByText(/^Saved: version \d+\.$/).waitFor();
  const saved = await api("GET", `/products/${id}`, acme);
  assert.equal(saved.json.price.amount, "9.99");
  assert.equal(saved.json.stock_shards, 8);
  assert.equal(saved.json.stock, before.json.stock);

  // Someone else writes first; the page still holds the version it read.
  const other = await api("PATCH", `/products/${id}`, acme, { stock: 77 }, { "If-Match": `"${saved.json.version}"` });
  assert.equal(other.status, 200);
  await card1.getByLabel("Price").fill("8.88");
  await card1.getByRole("button", { name: "Save" }).click();
  await card1.getByText(/Someone else changed this product first/).waitFor();
  // The form now shows the latest values, and nothing was overwritten.
  assert.equal(await card1.getByLabel("Stock", { exact: true }).inputValue(), "77");
  assert.equal(await card1.getByLabel(/^Stock shards/).inputValue(), "8");
  const after = await api("GET", `/products/${id}`, acme);
  assert.equal(after.json.price.amount, "9.99");
  await page.screenshot({ path: path.join(shots, "company-conflict.png"), fullPage: true });

  // The product's history: the other write first, then the page's, each with who made it.
  await card1.getByText("History", { exact: true }).click();
  const entries = card1.locator("ol.history > li");
  await entries.first().waitFor();
  assert.match(await entries.nth(0).innerText(), new RegExp(`Version ${other.json.version}, .* by acme-admin\\n+stock: \\d+ → 77`));
  assert.match(await entries.nth(1).innerText(), /by acme-admin\n+price: [\d.]+ [A-Z]{3} → 9\.99 [A-Z]{3}; stock_shards: 1 → 8 \(request /);
  await card1.screenshot({ path: path.join(shots, "company-history.png") });

  // A bad price and a bad shard count are refused with each field named, next to it.
  await card1.getByLabel("Price").fill("9.999");
  await card1.getByLabel(/^Stock shards/).fill("33");
  await card1.getByRole("button", { name: "Save" }).click();
  await card1.locator(".field-error:not(:empty)").first().waitFor();
  assert.equal(await card1.getByLabel("Price").getAttribute("aria-invalid"), "true");
  assert.equal(await card1.getByLabel(/^Stock shards/).getAttribute("aria-invalid"), "true");

  assert.deepEqual(problems.exceptions, []);
  assert.deepEqual(problems.dialogs, []);
  assert.deepEqual(problems.console, []);
  // The deliberate stale edit and bad price are the only refused requests.
  assert.deepEqual(problems.failed, [`PATCH /products/${id} 412`, `PATCH /products/${id} 400`]);
  await context.close();
});

test("a company imports a CSV from the page and reads which rows were refused", async () => {
  const { page, problems, context } = await openPage();
  // Served by delivery-local, the page offers its demo principals, not a hosted login.
  assert.equal(await page.locator("#hosted-signin").isHidden(), true);
  await signInAs(page, "acme-admin");
  const imports = page.locator("#imports");
  await imports.getByRole("heading", { name: "Import products" }).waitFor();
  // No file chosen: said next to the field, and nothing is sent.
  await imports.getByRole("button", { name: "Upload and import" }).click();
  assert.equal(await page.locator("#import-file-error").textContent(), "Choose a CSV or JSON-lines file");
  // `brownie` is globex's: refused for acme, row by row, like the bad second row.
  const file = "\ufeffid,name,price_amount,price_currency,stock\r\nweb-bagel,Bagel,2.50,USD,40\r\nweb-bad,,2.5,USD,1\r\nbrownie,Mine,1.00,USD,1\r\n";
  await page.getByLabel(/^File/).setInputFiles({ name: "catalog.csv", mimeType: "text/csv", buffer: Buffer.from(file) });
  await imports.getByRole("button", { name: "Upload and import" }).click();
  await imports.getByText("Done: 3 rows, 1 written, 2 refused.").waitFor();
  const refused = await page.locator("#import-errors-body tr").allTextContents();
  assert.deepEqual(refused, ["2namemust be 1 to 200 characters long", "2price_amountmust be a decimal string with exactly 2 decimal digits, like \"12.50\"", "3idis a product of another company"]);
  await page.screenshot({ path: path.join(shots, "company-import.png"), fullPage: true });
  const acme = token("--sub", "acme-admin", "--scope", "products:read products:write", "--company", "acme");
  const bagel = await api("GET", "/products/web-bagel", acme);
  assert.deepEqual([bagel.status, bagel.json.company_id, bagel.json.price.amount], [200, "acme", "2.50"]);

  assert.deepEqual(problems.exceptions, []);
  assert.deepEqual(problems.dialogs, []);
  assert.deepEqual(problems.console, []);
  assert.deepEqual(problems.failed, []);
  await context.close();
});

test("deployed with a user pool, the page signs in through its hosted login with PKCE", async () => {
  // What scripts/publish-page writes with enable_cognito; the hosted login and its token
  // endpoint are played by the test (same origin, so the page's own CSP is unchanged).
  const signIn = {
    authorizeUrl: `${base}/oauth2/authorize`,
    tokenUrl: `${base}/oauth2/token`,
    logoutUrl: `${base}/logout`,
    clientId: "page-client",
    scopes: ["openid", "products:read", "orders:write", "orders:read"],
    redirectUri: `${base}/`,
  };
  const issued = token("--sub", "carol", "--scope", "products:read orders:write orders:read");
  let asked;
  let signedOut;
  const redeemed = [];
  const { page, problems, context } = await openPage(undefined, async (page) => {
    await page.route("**/config.json", async (route) => {
      const served = await (await route.fetch()).json();
      await route.fulfill({ json: { ...served, local: false, signIn } });
    });
    await page.route("**/oauth2/authorize?*", async (route) => {
      asked = Object.fromEntries(new URL(route.request().url()).searchParams);
      const back = `${signIn.redirectUri}?code=c0de&state=${encodeURIComponent(asked.state)}`;
      await route.fulfill({ status: 302, headers: { Location: back } });
    });
    await page.route("**/oauth2/token", async (route) => {
      redeemed.push(Object.fromEntries(new URLSearchParams(route.request().postData())));
      await route.fulfill({ json: { access_token: issued, id_token: "id", token_type: "Bearer", expires_in: 3600 } });
    });
    await page.route("**/logout?*", async (route) => {
      signedOut = Object.fromEntries(new URL(route.request().url()).searchParams);
      await route.fulfill({ status: 302, headers: { Location: signedOut.logout_uri } });
    });
  });
  await page.locator("#hosted-signin").click();
  // Through the login and back: a locator waits across the navigations (a function on the
  // page would run in a document being replaced).
  await page.locator("#who", { hasText: "Signed in as carol" }).waitFor();
  assert.equal(asked.response_type, "code");
  assert.equal(asked.client_id, "page-client");
  assert.equal(asked.code_challenge_method, "S256");
  assert.equal(asked.scope, "openid products:read orders:write orders:read");
  assert.equal(redeemed.length, 1);
  const { code_verifier: verifier, ...form } = redeemed[0];
  assert.deepEqual(form, { grant_type: "authorization_code", client_id: "page-client", code: "c0de", redirect_uri: `${base}/` });
  // The verifier redeemed is the one whose S256 challenge was sent.
  const digest = createHash("sha256").update(verifier).digest("base64url");
  assert.equal(digest, asked.code_challenge);
  assert.equal(new URL(page.url()).search, "", "the code is gone from the address bar");
  await page.locator("#product-list li").first().waitFor();
  await page.screenshot({ path: path.join(shots, "hosted-signin.png") });
  // Signing out ends the hosted login's session too, and comes back signed out.
  // The page is left for the login's sign-out, which sends it back: wait for that new page.
  await Promise.all([page.waitForEvent("load"), page.locator("#sign-out").click()]);
  await page.locator("#hosted-signin").waitFor();
  assert.equal(page.url(), `${base}/`);
  assert.equal(await page.locator("#who").textContent(), "Not signed in");
  assert.deepEqual(signedOut, { client_id: "page-client", logout_uri: `${base}/` });
  assert.equal(await page.locator("#hosted-signin").isVisible(), true);
  assert.deepEqual(problems, { console: [], exceptions: [], dialogs: [], failed: [] });
  await context.close();
});

test("a product name that is HTML renders as text", async () => {
  const acme = token("--sub", "acme-admin", "--scope", "products:read products:write", "--company", "acme");
  const name = "<img src=x onerror=alert(1)>";
  const description = "<script>alert(2)</script><b>bold?</b>";
  const created = await api("PUT", "/products/xss-probe", acme, {
    name,
    description,
    price: { amount: "1.00", currency: "USD" },
    stock: 5,
  });
  assert.equal(created.status, 201);

  const { page, problems, context } = await openPage();
  await signInAs(page, "alice");
  await page.getByLabel("Company").fill("acme");
  await page.getByRole("button", { name: "Filter" }).click();
  const card = page.locator('.card[data-product="xss-probe"]');
  await card.waitFor();
  assert.equal(await card.locator("h3").textContent(), name);
  assert.equal(await card.locator(".description").textContent(), description);
  assert.equal(await page.locator("main img, main script, main b").count(), 0);
  await page.screenshot({ path: path.join(shots, "html-name-as-text.png"), fullPage: true });

  // A malformed company filter is refused with the field named next to it.
  await page.getByLabel("Company").fill("no spaces allowed");
  await page.getByRole("button", { name: "Filter" }).click();
  await page.locator("#company-filter-error:not(:empty)").waitFor();
  assert.equal(await page.getByLabel("Company").getAttribute("aria-invalid"), "true");

  assert.deepEqual(problems.dialogs, []);
  assert.deepEqual(problems.exceptions, []);
  assert.deepEqual(problems.console, []);
  assert.deepEqual(problems.failed, ["GET /products 400"]);
  await context.close();
});

test("an operator rehearses a spike with faults from the console, by keyboard, and redrives a dead letter", async () => {
  // The faults this test turns on die with its own server: no other test meets them.
  const { page, problems, context } = await openPage({ width: 1300, height: 1000 });
  await signInAs(page, "ops");
  const console_ = page.locator("#console");
  await console_.waitFor();
  // The charts fill from the stream, a sample a second, before anything happens.
  await page.waitForFunction(() => document.querySelector("#console-now tbody")?.rows.length > 0);

  // By keyboard: type the numbers, choose the fault profile, press Enter to start.
  await page.getByLabel("Orders", { exact: true }).focus();
  await page.keyboard.press("Control+A");
  await page.keyboard.type("400");
  await page.getByLabel("Malformed ratio").fill("0.05");
  await page.getByLabel("Faults").selectOption("default");
  await page.getByLabel("Malformed ratio").press("Enter");
  await page.getByText(/^Running: 400 messages enqueued \(20 malformed\)/).waitFor();

  // Mid-rehearsal: the orders chart has drawn what the stream counted.
  await page.waitForFunction(() => {
    const row = [...document.querySelectorAll("#console-now tbody tr")].find((r) => r.textContent.includes("(OrdersPlaced)"));
    return row && Number(row.cells[2].textContent) >= 380;
  });
  assert.equal(await page.locator("#chart-orders canvas").count(), 1);
  // The faults, by kind, as the fault layer counts them: all fifteen, sns.lose among them.
  assert.equal(await page.locator("#console-faults tbody tr").count(), 15);
  await console_.screenshot({ path: path.join(shots, "console-rehearsal.png") });

  // It drains, and the invariants of the rehearsal appear, each marked in words.
  const invariants = page.locator("#rehearsal-invariants li");
  await invariants.first().waitFor({ timeout: 120_000 });
  assert.equal(await invariants.count(), 7);
  for (const line of await invariants.allTextContents()) assert.match(line, /^\[ok\] /);
  assert.match(await page.locator("#rehearsal-status").textContent(), /every invariant holds/);
  await console_.screenshot({ path: path.join(shots, "console-invariants.png") });

  // The malformed messages are dead letters, each with its reason; redrive them.
  const deadLetters = page.locator("#dlq-list li");
  await deadLetters.first().waitFor();
  assert.match(await deadLetters.first().textContent(), /orders · \d+ receives · \S+/);
  await page.getByRole("button", { name: "Redrive all to their queues" }).click();
  await page.getByText(/^\d+ dead letter\(s\) sent back to their queues\.$/).waitFor();
  assert.ok((await page.locator("#sms-list li").count()) > 0, "the SMS outbox is listed");

  assert.deepEqual(problems.exceptions, []);
  assert.deepEqual(problems.dialogs, []);
  assert.deepEqual(problems.console, []);
  assert.deepEqual(problems.failed, []);
  await context.close();
});

test("the API reference renders the API's own document, offline", async () => {
  const context = await browser.newContext({ viewport: { width: 1200, height: 900 } });
  const page = await context.newPage();
  const problems = { console: [], exceptions: [], outside: [] };
  page.on("console", (message) => {
    if (message.type() === "error") problems.console.push(message.text());
  });
  page.on("pageerror", (error) => problems.exceptions.push(String(error)));
  // Nothing may come from anywhere but the server itself: no CDN, no web font.
  page.on("request", (request) => {
    if (!request.url().startsWith(base) && !request.url().startsWith("data:")) problems.outside.push(request.url());
  });
  await page.goto(`${base}/docs`);
  const doc = page.locator("rapi-doc");
  await page.waitForFunction(() => document.querySelector("rapi-doc")?.shadowRoot?.textContent.includes("/orders/total"));
  const text = await doc.evaluate((el) => el.shadowRoot.textContent);
  const served = await (await fetch(`${base}/openapi.json`)).json();
  assert.ok(text.includes(served.info.title), "the document's title is shown");
  for (const path of Object.keys(served.paths)) assert.ok(text.includes(path), `${path} is listed`);
  await page.screenshot({ path: path.join(shots, "api-reference.png"), fullPage: false });
  assert.deepEqual(problems.exceptions, []);
  assert.deepEqual(problems.console, []);
  assert.deepEqual(problems.outside, []);
  await context.close();
});

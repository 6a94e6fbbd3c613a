// The delivery web page: customers browse, get a live bill, order and follow their orders;
// company users edit their own products and import many at once (imports.js); locally,
// operators watch and rehearse on the console (console.js). Plain DOM, no framework.
//
// Data from the API (product names and descriptions come from companies: untrusted) only ever
// reaches the page as text nodes and property values, never as HTML.

import { api, ApiError, setSession } from "./api.js";
import { startConsole } from "./console.js";
import { $, clearProblems, el, notice, show, showProblem } from "./dom.js";
import { startImports } from "./imports.js";
import { finishSignIn, grantedScopes, signOutUrl, startSignIn } from "./signin.js";

// The page's state. Each field is read anywhere, and changed only by the few named functions
// of the feature that owns it, found under that feature's heading below: signing in
// (setClaims), the catalog (catalogPageShown, productSeen, filterByCompany), the basket (setLine,
// emptyBasket, orderKey), its bill (billAsked, billAnswered, scheduleBill), following an order
// (followOrder, stopFollowing), my orders (ordersPageShown). `config` is set once at start.
const state = {
  config: { apiBaseUrl: "", local: false },
  claims: null,
  products: new Map(), // every product seen, by id (names and prices for the basket)
  pages: [null], // cursor of each product page seen; pages[0] is the first page
  page: 0,
  company: "",
  basket: new Map(), // product id -> quantity, in the order added
  bill: null, // the last bill for the current basket
  billSeq: 0,
  billTimer: null,
  idempotencyKey: null, // kept until the order is accepted, so a retry never orders twice
  ordersCursor: null,
  pollTimer: null,
};
// The features started once, at start (the console is served by delivery-local only).
const features = { console: null, imports: null };

// ---- signing in ----

function decodeClaims(token) {
  const part = token.split(".")[1];
  if (!part) return null;
  try {
    const json = atob(part.replace(/-/g, "+").replace(/_/g, "/").padEnd(Math.ceil(part.length / 4) * 4, "="));
    return JSON.parse(new TextDecoder().decode(Uint8Array.from(json, (c) => c.charCodeAt(0))));
  } catch {
    return null;
  }
}

const can = (scope) => grantedScopes(state.claims, state.config.signIn?.scopePrefix).includes(scope);

/** The signed-in user's claims, or null when signed out. */
function setClaims(claims) {
  state.claims = claims;
}

function signIn(token) {
  const claims = decodeClaims(token);
  if (!claims) {
    notice("That is not a JWT (three base64url parts separated by dots).");
    return;
  }
  setSession({ token });
  setClaims(claims);
  sessionStorage.setItem("token", token);
  notice("");
  const company = claims.company_id ? ` of ${claims.company_id}` : "";
  const scopes = grantedScopes(claims, state.config.signIn?.scopePrefix).join(" ");
  // Cognito's access tokens name the user in `username`; `sub` is an opaque id.
  $("who").textContent = `Signed in as ${claims.username || claims.sub}${company} (${scopes || "no scopes"})`;
  show($("catalog"), can("products:read"));
  show($("basket"), can("orders:write"));
  show($("orders"), can("orders:read"));
  if (!can("products:read") && !can("orders:read")) notice("This token grants neither products:read nor orders:read.");
  emptyBasket();
  renderBasket();
  if (can("products:read")) loadProducts(0);
  if (can("orders:read")) loadOrders(true);
  features.console?.signedIn();
  features.imports?.signedIn(claims, can);
}

function signOut() {
  setSession({ token: null });
  setClaims(null);
  sessionStorage.removeItem("token");
  // Signed in through the hosted login: sign out there too.
  const hosted = sessionStorage.getItem("hosted") && signOutUrl(state.config.signIn);
  sessionStorage.removeItem("hosted");
  if (hosted) {
    location.assign(hosted);
    return;
  }
  stopFollowing();
  $("who").textContent = "Not signed in";
  for (const id of ["catalog", "basket", "orders", "imports"]) show($(id), false);
  features.console?.signedIn();
}

async function loadDemoPrincipals() {
  if (!state.config.local) return;
  let principals;
  try {
    const response = await fetch("/_local/tokens", { headers: { Accept: "application/json" } });
    if (!response.ok) return;
    principals = await response.json();
  } catch {
    return;
  }
  const buttons = $("demo-buttons");
  buttons.replaceChildren(
    ...principals.map((p) =>
      el("button", { type: "button", "data-sub": p.sub, onclick: () => signIn(p.token) }, `${p.sub} — ${p.who}`),
    ),
  );
  show($("demo"), principals.length > 0);
}

// ---- the catalog ----

const money = (m) => `${m.amount} ${m.currency}`;

/** A page of products shown: where it is, the cursor to the next, and its products kept by id. */
function catalogPageShown(page, data) {
  state.page = page;
  state.pages[page + 1] = data.next_cursor;
  for (const p of data.items) productSeen(p);
}

/** A product as the API last answered it (the basket names and prices its lines from these). */
function productSeen(product) {
  state.products.set(product.id, product);
}

/** Lists one company's products only (all of them for ""), from the first page. */
function filterByCompany(company) {
  state.company = company;
  state.pages = [null];
}

async function loadProducts(page) {
  const query = new URLSearchParams({ limit: "10" });
  if (state.pages[page]) query.set("cursor", state.pages[page]);
  if (state.company) query.set("company_id", state.company);
  const scope = $("catalog");
  clearProblems(scope);
  try {
    const data = await api("GET", `/products?${query}`);
    catalogPageShown(page, data);
    $("product-list").replaceChildren(...data.items.map(productCard));
    if (data.items.length === 0) $("product-list").append(el("li", { class: "muted" }, "No products."));
    $("products-page").textContent = `Page ${page + 1}`;
    $("products-prev").disabled = page === 0;
    $("products-next").disabled = !data.next_cursor;
  } catch (e) {
    showProblem(scope, e, $("catalog-error"));
  }
}

function productCard(p, { open = false, message = "", ok = false } = {}) {
  const stock = p.available ? `${p.stock} in stock` : "Unavailable";
  const card = el(
    "li",
    { class: "card", "data-product": p.id },
    el("h3", {}, p.name),
    el("p", { class: "muted" }, `${p.id} · ${p.company_id}`),
    p.description ? el("p", { class: "description" }, p.description) : null,
    el("p", { class: "price" }, money(p.price), el("span", { class: "muted" }, ` · ${stock}`)),
  );
  if (can("orders:write")) card.append(addToBasketForm(p));
  if (can("products:write") && state.claims?.company_id === p.company_id) card.append(editForm(p, open, message, ok));
  return card;
}

function addToBasketForm(p) {
  const id = `qty-${p.id}`;
  const orderable = p.available && p.stock > 0;
  return el(
    "form",
    {
      class: "inline",
      onsubmit: (event) => {
        event.preventDefault();
        const quantity = Number.parseInt(event.target.elements.quantity.value, 10) || 1;
        setLine(p.id, (state.basket.get(p.id) || 0) + quantity);
        renderBasket();
        $("order-status").textContent = `Added ${quantity} × ${p.name} to the basket.`;
      },
    },
    el("label", { for: id }, "Quantity"),
    el("input", { id, name: "quantity", type: "number", min: "1", max: "1000", value: "1", class: "qty", disabled: !orderable }),
    el("button", { type: "submit", disabled: !orderable }, "Add to basket"),
  );
}

function editForm(p, open, message, ok) {
  const ids = {
    amount: `price-${p.id}`,
    currency: `currency-${p.id}`,
    stock: `stock-${p.id}`,
    shards: `shards-${p.id}`,
    available: `available-${p.id}`,
  };
  const field = (key, label, input) =>
    el("div", { class: "field" }, el("label", { for: ids[key] }, label), input, el("p", { id: `${ids[key]}-error`, class: "field-error" }));
  // A conflict is an alert; a save is a status, cleared when a problem is shown.
  const general = el("p", { class: "form-error", role: "alert", hidden: !message || ok }, ok ? "" : message);
  const saved = ok ? el("p", { class: "form-ok", role: "status" }, message) : null;
  const form = el(
    "form",
    { class: "edit", novalidate: true, onsubmit: (event) => saveProduct(event, p) },
    field("amount", "Price", el("input", { id: ids.amount, name: "amount", inputmode: "decimal", value: p.price.amount, "data-field": "price.amount", "aria-describedby": `${ids.amount}-error` })),
    field(
      "currency",
      "Currency",
      el(
        "select",
        { id: ids.currency, name: "currency", "data-field": "price.currency", "aria-describedby": `${ids.currency}-error` },
        ...["USD", "EUR", "GBP", "BRL", "JPY"].map((c) => el("option", { value: c, selected: c === p.price.currency }, c)),
      ),
    ),
    field("stock", "Stock", el("input", { id: ids.stock, name: "stock", inputmode: "numeric", value: String(p.stock), "data-field": "stock", "aria-describedby": `${ids.stock}-error` })),
    // A sale on one product: its stock spread over more items takes more orders a second
    // (each item takes about 500). The docs' "Preparing for a sale" says how many.
    field(
      "shards",
      "Stock shards (1–32; more for a sale)",
      el("input", {
        id: ids.shards,
        name: "stock_shards",
        inputmode: "numeric",
        value: String(p.stock_shards ?? 1),
        "data-field": "stock_shards",
        "aria-describedby": `${ids.shards}-error`,
      }),
    ),
    el(
      "div",
      { class: "field check" },
      el("input", { id: ids.available, name: "available", type: "checkbox", checked: p.available, "data-field": "available", "aria-describedby": `${ids.available}-error` }),
      el("label", { for: ids.available }, "Available"),
      el("p", { id: `${ids.available}-error`, class: "field-error" }),
    ),
    general,
    saved,
    el("button", { type: "submit" }, "Save"),
    el("span", { class: "muted" }, ` version ${p.version}`),
  );
  return el("details", { class: "editor", open }, el("summary", {}, "Edit this product"), form, historyPanel(p));
}

// ---- a product's history: who changed what, newest first ----

/** A field's value as the history shows it: money as "12.50 EUR", nothing as "—". */
function shownValue(value) {
  if (value === null || value === undefined) return "—";
  if (typeof value === "object" && "amount" in value) return `${value.amount} ${value.currency}`;
  return String(value);
}

function historyEntry(entry) {
  const via = entry.via.import_id ? `import ${entry.via.import_id}` : `request ${entry.via.request_id}`;
  const changes = Object.entries(entry.changes).map(([field, c]) => `${field}: ${shownValue(c.from)} → ${shownValue(c.to)}`);
  return el(
    "li",
    { "data-version": entry.version },
    el("p", {}, `Version ${entry.version}, ${new Date(entry.at).toLocaleString()}, by ${entry.by.sub}`),
    el("p", { class: "muted" }, `${changes.join("; ") || "no field changed"} (${via})`),
  );
}

/** The product's history, read when first opened, a page at a time. */
function historyPanel(p) {
  const list = el("ol", { class: "history" });
  const general = el("p", { class: "form-error", role: "alert", hidden: true });
  const more = el("button", { type: "button", hidden: true }, "Older changes");
  let cursor = null;
  const panel = el("details", { class: "history-panel" }, el("summary", {}, "History"), list, general, more);
  const load = async () => {
    const query = new URLSearchParams({ limit: "10" });
    if (cursor) query.set("cursor", cursor);
    try {
      const page = await api("GET", `/products/${encodeURIComponent(p.id)}/history?${query}`);
      list.append(...page.items.map(historyEntry));
      cursor = page.next_cursor;
      more.hidden = !cursor;
      if (!list.childElementCount) list.append(el("li", { class: "muted" }, "No change recorded yet."));
    } catch (e) {
      showProblem(panel, e, general);
    }
  };
  more.addEventListener("click", load);
  panel.addEventListener("toggle", () => {
    if (panel.open && !list.childElementCount) load();
  });
  return panel;
}

async function saveProduct(event, p) {
  event.preventDefault();
  const form = event.target;
  // A number when it is one; otherwise the text, so the API names the field's problem.
  const integer = (name) => {
    const text = form.elements[name].value.trim();
    return /^\d+$/.test(text) ? Number(text) : text;
  };
  const body = {
    price: { amount: form.elements.amount.value.trim(), currency: form.elements.currency.value },
    stock: integer("stock"),
    stock_shards: integer("stock_shards"),
    available: form.elements.available.checked,
  };
  const card = form.closest(".card");
  try {
    const saved = await api("PATCH", `/products/${encodeURIComponent(p.id)}`, { body, headers: { "If-Match": `"${p.version}"` } });
    productSeen(saved);
    card.replaceWith(productCard(saved, { open: true, message: `Saved: version ${saved.version}.`, ok: true }));
    scheduleBill();
  } catch (e) {
    if (e instanceof ApiError && e.status === 412) {
      // Someone else wrote first: show the product as it is now, and say so.
      try {
        const latest = await api("GET", `/products/${encodeURIComponent(p.id)}`);
        productSeen(latest);
        card.replaceWith(
          productCard(latest, {
            open: true,
            message: `Someone else changed this product first (now version ${latest.version}). The form shows the latest values: check them and save again.`,
          }),
        );
      } catch (again) {
        showProblem(form, again);
      }
    } else {
      showProblem(form, e);
    }
  }
}

// ---- the basket and its live bill ----

// The basket changes only through these two: any change is another order, so the key of the
// order being placed is dropped with it (a retry of the old basket must not reuse it for the new).

/** Sets a line's quantity (or removes the line). */
function setLine(productId, quantity, { remove = false } = {}) {
  if (remove) state.basket.delete(productId);
  else state.basket.set(productId, quantity);
  state.idempotencyKey = null;
}

/** Empties the basket: signed in anew, or its order accepted. */
function emptyBasket() {
  state.basket.clear();
  state.bill = null;
  state.idempotencyKey = null;
}

function renderBasket() {
  const empty = state.basket.size === 0;
  show($("basket-empty"), empty);
  show($("bill-area"), !empty);
  const lines = [...state.basket.entries()].map(([id, quantity], i) => {
    const product = state.products.get(id);
    const priced = state.bill?.lines.find((l) => l.product_id === id);
    const qtyId = `basket-qty-${i}`;
    return el(
      "tr",
      {},
      el("th", { scope: "row" }, product ? product.name : id, el("p", { id: `${qtyId}-error`, class: "field-error" })),
      el(
        "td",
        {},
        el("label", { for: qtyId, class: "visually-hidden" }, `Quantity of ${product ? product.name : id}`),
        el("input", {
          id: qtyId,
          type: "number",
          min: "1",
          max: "1000",
          class: "qty",
          value: String(quantity),
          "data-field": `items[${i}].quantity`,
          "aria-describedby": `${qtyId}-error`,
          onchange: (event) => {
            const q = Number.parseInt(event.target.value, 10);
            setLine(id, Number.isFinite(q) ? q : 0);
            scheduleBill();
          },
        }),
      ),
      el("td", {}, priced ? money(priced.unit_price) : "—"),
      el("td", {}, priced ? money(priced.line_total) : "—"),
      el(
        "td",
        {},
        el(
          "button",
          {
            type: "button",
            class: "secondary",
            "aria-label": `Remove ${product ? product.name : id}`,
            onclick: () => {
              setLine(id, 0, { remove: true });
              renderBasket();
            },
          },
          "Remove",
        ),
      ),
    );
  });
  $("bill-lines").replaceChildren(...lines);
  $("bill-total").textContent = state.bill ? money(state.bill.total) : "—";
  scheduleBill();
}

/** The Idempotency-Key of the order being placed: made for its first attempt, and kept for its
 * retries until the basket changes. */
function orderKey() {
  state.idempotencyKey ||= crypto.randomUUID();
  return state.idempotencyKey;
}

const basketItems = () => [...state.basket.entries()].map(([product_id, quantity]) => ({ product_id, quantity }));

/** Prices the basket shortly; an empty basket has no bill to ask for (and a bill already on its
 * way for an earlier basket is dropped when it comes). */
function scheduleBill() {
  clearTimeout(state.billTimer);
  if (state.basket.size === 0) {
    billAsked();
    return;
  }
  state.billTimer = setTimeout(updateBill, 200);
}

/** A bill is asked for the basket as it is now: the number of that question. */
function billAsked() {
  state.billSeq += 1;
  return state.billSeq;
}

/** Keeps the answer to question `seq` (a bill, or null when refused), unless a newer basket was
 * asked about since: true when it was kept. */
function billAnswered(seq, bill) {
  if (seq !== state.billSeq) return false;
  state.bill = bill;
  return true;
}

async function updateBill() {
  const seq = billAsked();
  const items = basketItems();
  if (items.length === 0) return;
  try {
    const bill = await api("POST", "/orders/total", { body: { items } });
    if (!billAnswered(seq, bill)) return; // a newer basket is being priced
    fillBill();
    clearProblems($("bill"));
    show($("bill-error"), false);
  } catch (e) {
    if (!billAnswered(seq, null)) return;
    fillBill();
    showProblem($("bill"), e, $("bill-error"));
  }
}

/** Puts the current bill's amounts into the rendered lines, without re-rendering the inputs. */
function fillBill() {
  const rows = $("bill-lines").rows;
  [...state.basket.keys()].forEach((id, i) => {
    const priced = state.bill?.lines.find((l) => l.product_id === id);
    if (!rows[i]) return;
    rows[i].cells[2].textContent = priced ? money(priced.unit_price) : "—";
    rows[i].cells[3].textContent = priced ? money(priced.line_total) : "—";
  });
  $("bill-total").textContent = state.bill ? money(state.bill.total) : "—";
}

async function placeOrder(event) {
  event.preventDefault();
  const form = $("order-form");
  clearProblems(form);
  clearProblems($("bill"));
  const button = $("place-order");
  button.disabled = true;
  const key = orderKey();
  const body = {
    items: basketItems(),
    delivery: { address: $("address").value.trim(), phone: $("phone").value.trim() },
  };
  try {
    const placed = await api("POST", "/orders", { body, headers: { "Idempotency-Key": key } });
    emptyBasket();
    renderBasket();
    followOrder(placed.order_id, placed.total);
  } catch (e) {
    // Line errors go next to the basket lines, delivery errors next to their fields.
    const lineErrors = (e.problem?.errors || []).filter((f) => f.field.startsWith("items"));
    showProblem(form, e);
    if (lineErrors.length) showProblem($("bill"), new ApiError({ ...e.problem, errors: lineErrors }, e.status), $("bill-error"));
  } finally {
    button.disabled = false;
  }
}

// ---- following an order ----

function orderSummary(order) {
  const parts = [`Order ${order.id}`, order.status];
  if (order.total) parts.push(money(order.total));
  if (order.reason) parts.push(`reason: ${order.reason}`);
  if (order.carrier) parts.push(`carrier: ${order.carrier.name}`);
  return parts.join(" · ");
}

/** Stops following the order being followed, if any. */
function stopFollowing() {
  clearTimeout(state.pollTimer);
  state.pollTimer = null;
}

function followOrder(orderId, total) {
  stopFollowing();
  const status = $("order-status");
  status.replaceChildren(el("p", { class: "status", "data-order": orderId, "data-status": "queued" }, `Order ${orderId} · queued · ${money(total)}`));
  const started = Date.now();
  const poll = async () => {
    try {
      // The list answers 200 from the start; the order appears in it once recorded.
      const page = await api("GET", "/orders?limit=20");
      const order = page.items.find((o) => o.id === orderId);
      if (order) {
        const line = status.querySelector(".status");
        line.textContent = orderSummary(order);
        line.dataset.status = order.status;
        if (order.status === "dispatched" || order.status === "rejected") {
          renderOrders(page, true);
          loadProducts(state.page); // the stock the order took
          state.pollTimer = null;
          return;
        }
      }
    } catch (e) {
      status.append(el("p", { class: "form-error" }, e.message));
    }
    if (Date.now() - started < 120_000) state.pollTimer = setTimeout(poll, 1000);
  };
  state.pollTimer = setTimeout(poll, 500);
}

// ---- my orders ----

async function loadOrders(first) {
  const query = new URLSearchParams({ limit: "10" });
  if (!first && state.ordersCursor) query.set("cursor", state.ordersCursor);
  try {
    renderOrders(await api("GET", `/orders?${query}`), first);
    show($("orders-error"), false);
  } catch (e) {
    showProblem($("orders"), e, $("orders-error"));
  }
}

/** A page of my orders shown: the cursor to the next. */
function ordersPageShown(page) {
  state.ordersCursor = page.next_cursor;
}

function renderOrders(page, first) {
  ordersPageShown(page);
  const items = page.items.map((o) =>
    el(
      "li",
      { class: "card", "data-order": o.id },
      el("p", { class: "status", "data-status": o.status }, orderSummary(o)),
      el("p", { class: "muted" }, `${new Date(o.created_at).toLocaleString()} · ${o.lines.map((l) => `${l.quantity} × ${l.name}`).join(", ")}`),
    ),
  );
  if (first) $("order-list").replaceChildren(...items);
  else $("order-list").append(...items);
  if (first && items.length === 0) $("order-list").append(el("li", { class: "muted" }, "No orders yet."));
  show($("orders-more"), Boolean(page.next_cursor));
}

// ---- start ----

/** With an identity provider (config.json's `signIn`), the "Sign in" button, and the way back
 * from its hosted login: true when the page signed in that way. */
async function hostedSignIn() {
  const signInConfig = state.config.signIn;
  if (!signInConfig) return false;
  show($("hosted-signin"), true);
  $("hosted-signin").addEventListener("click", () => startSignIn(signInConfig));
  let token;
  try {
    token = await finishSignIn(signInConfig);
  } catch (error) {
    history.replaceState(null, "", location.pathname);
    notice(String(error.message || error));
    return false;
  }
  if (!token) return false;
  // The code is used: keep it out of the address bar and the history.
  history.replaceState(null, "", location.pathname);
  sessionStorage.setItem("hosted", "1");
  signIn(token);
  return true;
}

async function loadConfig() {
  // Deployed, config.json (written at deploy time) names the API; locally the API is this origin.
  try {
    const response = await fetch("config.json", { cache: "no-store" });
    if (response.ok) Object.assign(state.config, await response.json());
  } catch {
    // Same origin, then.
  }
  state.config.apiBaseUrl = (state.config.apiBaseUrl || "").replace(/\/+$/, "");
  setSession({
    baseUrl: state.config.apiBaseUrl,
    onRefused: (problem) => notice(`Your token was refused: ${problem.detail || problem.title}. Sign in again.`),
  });
}

async function start() {
  await loadConfig();
  $("token-form").addEventListener("submit", (event) => {
    event.preventDefault();
    signIn($("token-input").value.trim());
  });
  $("sign-out").addEventListener("click", signOut);
  $("filter-form").addEventListener("submit", (event) => {
    event.preventDefault();
    filterByCompany($("company-filter").value.trim());
    loadProducts(0);
  });
  $("products-prev").addEventListener("click", () => loadProducts(Math.max(0, state.page - 1)));
  $("products-next").addEventListener("click", () => loadProducts(state.page + 1));
  $("order-form").addEventListener("submit", placeOrder);
  // Editing a field the API refused clears its error.
  document.addEventListener("input", (event) => {
    const input = event.target;
    if (!input.hasAttribute?.("aria-invalid")) return;
    input.removeAttribute("aria-invalid");
    const holder = document.getElementById(input.getAttribute("aria-describedby"));
    if (holder) holder.textContent = "";
  });
  $("orders-refresh").addEventListener("click", () => loadOrders(true));
  if (state.config.local) {
    show($("console"), true);
    features.console = startConsole({ can });
    features.console.signedIn();
  }
  $("orders-more").addEventListener("click", () => loadOrders(false));
  features.imports = startImports({ onImported: () => loadProducts(state.page) });
  if (await hostedSignIn()) return;
  await loadDemoPrincipals();
  const saved = sessionStorage.getItem("token");
  if (saved) signIn(saved);
}

start();

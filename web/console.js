// The operator console (delivery-local only): live charts from GET /_local/metrics/stream
// (server-sent events, a sample a second), a rehearsal (POST /simulations, then the
// rehearsal's invariants from the stores), the dead letters with a redrive, and the SMS outbox.
// uPlot (vendored, no CDN) draws; each series also has its own dash pattern and a label, and
// the table beside the charts gives the same numbers as text.

import { api, ApiError } from "./api.js";
import { $, clearProblems, el, showProblem } from "./dom.js";

const WINDOW = 120; // seconds on screen
const QUIET = 3; // samples in a row with empty queues before a rehearsal counts as drained

const SERIES = {
  orders: [
    ["OrdersPlaced", "placed", "#0b5cad", []],
    ["OrdersAccepted", "accepted", "#1b6e3a", [8, 4]],
    ["OrdersRejected", "rejected", "#b36b00", [2, 3]],
    ["OrdersDispatched", "dispatched", "#6a3d9a", [12, 3, 2, 3]],
  ],
  queue: [
    ["ApproximateNumberOfMessagesVisible", "waiting", "#0b5cad", []],
    ["ApproximateNumberOfMessagesNotVisible", "in flight", "#b36b00", [8, 4]],
    ["DeadLetters", "dead letters", "#b00020", [2, 3]],
  ],
  latency: [
    ["ProcessingLatency.p50", "recorded p50", "#1b6e3a", []],
    ["ProcessingLatency.p99", "recorded p99", "#b00020", [8, 4]],
    ["OrderToSmsLatency.p50", "order → SMS p50", "#0b5cad", [2, 3]],
    ["OrderToSmsLatency.p99", "order → SMS p99", "#6a3d9a", [12, 3, 2, 3]],
  ],
  faults: [
    ["SmsSent", "SMS sent", "#1b6e3a", []],
    ["FaultsInjected", "faults injected", "#b00020", [8, 4]],
    ["OrdersReconciled", "orders announced again", "#b36b00", [2, 3]],
    ["ImportsReconciled", "stalled imports failed", "#6a3d9a", [12, 3, 2, 3]],
  ],
};

/** One sample's value for a series name. */
function value(sample, name) {
  // A latency percentile: "<metric>.<p50|p99>", null in a second without a data point.
  const [metric, percentile] = name.split(".");
  if (percentile) return sample[metric]?.[percentile] ?? null;
  if (name === "FaultsInjected") return Object.values(sample.Faults || {}).reduce((a, b) => a + b, 0);
  return sample[name] ?? 0;
}

export function startConsole({ can }) {
  const samples = [];
  const totals = new Map();
  const faultTotals = new Map(); // by kind, since the console opened
  const charts = {};
  const rehearsal = { running: false, outcome: null, quiet: 0, started: 0 };

  const width = (id) => Math.max(300, $(id).clientWidth || 420);
  for (const [key, series] of Object.entries(SERIES)) {
    const id = `chart-${key}`;
    charts[key] = new uPlot(
      {
        width: width(id),
        height: 200,
        scales: { x: { time: true } },
        series: [{}, ...series.map(([, label, stroke, dash]) => ({ label, stroke, dash, width: 2, spanGaps: key === "latency" }))],
        axes: [{}, { size: 50 }],
      },
      [[], ...series.map(() => [])],
      $(id),
    );
  }
  window.addEventListener("resize", () => {
    for (const key of Object.keys(charts)) charts[key].setSize({ width: width(`chart-${key}`), height: 200 });
  });

  function draw() {
    const xs = samples.map((s) => s.t / 1000);
    for (const [key, series] of Object.entries(SERIES)) {
      charts[key].setData([xs, ...series.map(([name]) => samples.map((s) => value(s, name)))]);
    }
    const last = samples[samples.length - 1];
    const rows = Object.values(SERIES)
      .flat()
      .map(([name, label]) => el("tr", {}, el("th", { scope: "row" }, name === label || name.startsWith("p") ? label : `${label} (${name})`), el("td", {}, String(value(last, name) ?? "—")), el("td", {}, String(totals.get(name) ?? "—"))));
    $("console-now").tBodies[0].replaceChildren(...rows);
    const kinds = Object.entries(last.Faults || {}).map(([kind, n]) =>
      el("tr", {}, el("th", { scope: "row" }, kind), el("td", {}, String(n)), el("td", {}, String(faultTotals.get(kind) || 0))),
    );
    $("console-faults").tBodies[0].replaceChildren(...kinds);
  }

  function receive(sample) {
    samples.push(sample);
    if (samples.length > WINDOW) samples.shift();
    for (const name of ["OrdersPlaced", "OrdersAccepted", "OrdersRejected", "OrdersDispatched", "SmsSent", "FaultsInjected"]) {
      totals.set(name, (totals.get(name) || 0) + value(sample, name));
    }
    for (const [kind, n] of Object.entries(sample.Faults || {})) faultTotals.set(kind, (faultTotals.get(kind) || 0) + n);
    draw();
    if (rehearsal.running) watchDrain(sample);
  }

  const stream = new EventSource("/_local/metrics/stream");
  stream.addEventListener("message", (event) => receive(JSON.parse(event.data)));

  async function local(method, path, body) {
    const response = await fetch(path, {
      method,
      headers: body === undefined ? {} : { "Content-Type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const data = await response.json().catch(() => ({}));
    if (!response.ok) throw new ApiError(data, response.status);
    return data;
  }

  // ---- a rehearsal ----

  const status = (text) => ($("rehearsal-status").textContent = text);

  async function start(event) {
    event.preventDefault();
    const form = $("rehearsal-form");
    clearProblems(form);
    $("rehearsal-invariants").replaceChildren();
    const button = $("rehearsal-start");
    button.disabled = true;
    const orders = Number($("rehearsal-orders").value);
    const ratio = Number($("rehearsal-invalid").value);
    try {
      const faults = $("rehearsal-faults").value;
      if (faults) await local("POST", "/_local/faults", { faults });
      status("Reading the stores before the rehearsal…");
      await local("POST", "/_local/rehearsal/baseline");
      rehearsal.outcome = await api("POST", "/simulations", { body: { orders, invalid_ratio: ratio } });
      Object.assign(rehearsal, { running: true, quiet: 0, started: Date.now() });
      status(`Running: ${rehearsal.outcome.enqueued} messages enqueued (${rehearsal.outcome.invalid} malformed). Waiting for the queues to drain…`);
    } catch (e) {
      showProblem(form, e);
      status("");
      button.disabled = false;
    }
  }

  function watchDrain(sample) {
    const busy = value(sample, "ApproximateNumberOfMessagesVisible") + value(sample, "ApproximateNumberOfMessagesNotVisible") + (sample.NotificationsWaiting || 0);
    rehearsal.quiet = busy === 0 && sample.t > rehearsal.started ? rehearsal.quiet + 1 : 0;
    if (rehearsal.quiet >= QUIET) finish();
  }

  async function finish() {
    rehearsal.running = false;
    status("Drained. Checking the invariants from the stores…");
    try {
      const verdict = await local("POST", "/_local/rehearsal/verdict", rehearsal.outcome);
      const lines = verdict.invariants.filter((line) => /\[(ok|FAILED)\]/.test(line));
      $("rehearsal-invariants").replaceChildren(...lines.map((line) => el("li", { "data-holds": String(!line.includes("[FAILED]")) }, line.trim())));
      status(verdict.passed ? "Rehearsal over: every invariant holds." : `Rehearsal over: ${verdict.failures.length} invariant(s) FAILED.`);
    } catch (e) {
      status(`The invariants could not be read: ${e.message}`);
    }
    $("rehearsal-start").disabled = false;
    refreshLists();
  }

  // ---- dead letters and SMS ----

  async function refreshLists() {
    try {
      const [dead, sms] = await Promise.all([local("GET", "/_local/dlq"), local("GET", "/_local/sms")]);
      $("dlq-list").replaceChildren(
        ...dead.slice(-50).reverse().map((d) => el("li", {}, `${d.queue} · ${d.receive_count} receives · ${d.reason}`)),
      );
      if (dead.length === 0) $("dlq-list").append(el("li", { class: "muted" }, "No dead letters."));
      $("dlq-redrive").disabled = dead.length === 0;
      $("sms-list").replaceChildren(...sms.slice(-20).reverse().map((s) => el("li", {}, `${s.to} · order ${s.order_id} · ${s.message}`)));
      if (sms.length === 0) $("sms-list").append(el("li", { class: "muted" }, "No SMS sent yet."));
    } catch (e) {
      $("dlq-status").textContent = `The lists could not be read: ${e.message}`;
    }
  }

  async function redrive() {
    try {
      const { redriven } = await local("POST", "/_local/dlq/redrive");
      $("dlq-status").textContent = `${redriven} dead letter(s) sent back to their queues.`;
    } catch (e) {
      $("dlq-status").textContent = `Redrive failed: ${e.message}`;
    }
    refreshLists();
  }

  $("rehearsal-form").addEventListener("submit", start);
  $("dlq-refresh").addEventListener("click", refreshLists);
  $("dlq-redrive").addEventListener("click", redrive);
  refreshLists();

  return {
    /** The rehearsal needs simulations:run; the charts and lists are for anyone on this machine. */
    signedIn() {
      const allowed = can("simulations:run");
      $("rehearsal-start").disabled = !allowed || rehearsal.running;
      $("rehearsal-start").title = allowed ? "" : "Sign in as ops (simulations:run) to start a rehearsal";
    },
  };
}

// The page's DOM helpers: elements built from data as text (never HTML), the notice line, and
// problem+json shown next to the fields it names. Imported by every part of the page.

import { ApiError } from "./api.js";

export const $ = (id) => document.getElementById(id);

/** An element with attributes, properties (value, checked, on*) and text or element children. */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "value" || key === "checked" || key === "open") node[key] = value;
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

export function show(element, visible) {
  element.hidden = !visible;
}

export function notice(text) {
  $("notice").textContent = text || "";
  show($("notice"), Boolean(text));
}

// problem+json next to the fields it names.

function fieldFor(scope, field) {
  const fields = [...scope.querySelectorAll("[data-field]")];
  const exact = fields.find((f) => f.dataset.field === field);
  if (exact) return exact;
  // items[2].product_id, items[2].currency…: the line's quantity input stands for the line.
  const line = /^items\[(\d+)\]/.exec(field);
  return line ? fields.find((f) => f.dataset.field === `items[${line[1]}].quantity`) : undefined;
}

export function clearProblems(scope) {
  for (const input of scope.querySelectorAll("[aria-invalid]")) input.removeAttribute("aria-invalid");
  for (const message of scope.querySelectorAll(".field-error, .form-ok")) message.textContent = "";
  for (const general of scope.querySelectorAll(".form-error")) {
    general.textContent = "";
    general.hidden = true;
  }
}

export function showProblem(scope, error, general = scope.querySelector(".form-error")) {
  clearProblems(scope);
  const problem = error instanceof ApiError ? error.problem : { title: "Error", detail: String(error) };
  const unplaced = [];
  for (const { field, message } of problem.errors || []) {
    const input = fieldFor(scope, field);
    const holder = input && document.getElementById(input.getAttribute("aria-describedby"));
    if (holder) {
      input.setAttribute("aria-invalid", "true");
      holder.textContent = holder.textContent ? `${holder.textContent}; ${message}` : message;
    } else {
      unplaced.push(`${field}: ${message}`);
    }
  }
  if (general) {
    const summary = problem.errors?.length ? problem.title : [problem.title, problem.detail].filter(Boolean).join(": ");
    general.textContent = [summary, ...unplaced].join(" — ");
    show(general, true);
  }
}

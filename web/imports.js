// Bulk catalog imports, for a company user: the file goes to the upload URL that
// POST /imports answers (a presigned S3 PUT, or delivery-local's own), then the report of
// GET /imports/{id} is followed until the import ends: its counts, and each refused row with
// its field. The file never passes through the API.

import { api, ApiError } from "./api.js";
import { $, clearProblems, el, show, showProblem } from "./dom.js";

const POLL_MS = 500;
const SHOWN_ERRORS = 50;

/** csv or jsonl, from the form's choice or else the file's name. */
function formatOf(choice, file) {
  if (choice) return choice;
  const name = file.name.toLowerCase();
  if (name.endsWith(".csv")) return "csv";
  if (name.endsWith(".jsonl") || name.endsWith(".ndjson")) return "jsonl";
  return null;
}

const count = (n) => Number(n).toLocaleString("en");

export function startImports({ onImported }) {
  const form = $("import-form");
  const status = $("import-status");
  let timer = null;

  function describe(report) {
    const { total, written, rejected } = report.rows;
    const settled = written + rejected;
    const progress = total ? `${count(settled)} of ${count(total)} rows` : "reading the file";
    const words = {
      pending: "Waiting for the file…",
      running: `Importing: ${progress} (${count(written)} written, ${count(rejected)} refused)`,
      done: `Done: ${count(total)} rows, ${count(written)} written, ${count(rejected)} refused.`,
      failed: `The file was refused: ${report.reason}`,
    };
    return words[report.status] || report.status;
  }

  function renderErrors(report) {
    const rows = report.errors.slice(0, SHOWN_ERRORS).map((e) =>
      el("tr", {}, el("td", {}, String(e.row)), el("td", {}, el("code", {}, e.field)), el("td", {}, e.message)),
    );
    $("import-errors-body").replaceChildren(...rows);
    const more = report.rows.rejected > rows.length;
    $("import-errors-note").textContent = more
      ? `The first ${rows.length} refusals are shown; GET /imports/${report.import_id} lists the first 1,000.`
      : "";
    show($("import-errors"), rows.length > 0);
  }

  async function follow(id) {
    let report;
    try {
      report = await api("GET", `/imports/${id}`);
    } catch (error) {
      // A 503 or a dropped connection: ask again shortly.
      if (error instanceof ApiError && (error.status === 0 || error.status >= 500)) {
        timer = setTimeout(() => follow(id), POLL_MS * 2);
        return;
      }
      showProblem(form, error);
      return;
    }
    status.textContent = describe(report);
    renderErrors(report);
    if (report.status === "done" || report.status === "failed") {
      $("import-submit").disabled = false;
      if (report.status === "done") onImported();
      return;
    }
    timer = setTimeout(() => follow(id), POLL_MS);
  }

  /** The PUT a presigned upload asks for, with the headers it was signed with. */
  async function upload(target, file) {
    let response;
    try {
      response = await fetch(target.url, { method: target.method, headers: target.headers, body: file });
    } catch {
      throw new ApiError({ title: "Upload failed", detail: "The file could not be sent; try again." }, 0);
    }
    // Read to its end (S3 answers an empty body, or an XML error): an unread answer is
    // cancelled by the browser.
    const answer = await response.text().catch(() => "");
    if (!response.ok) {
      const code = /<Code>([^<]+)<\/Code>/.exec(answer)?.[1];
      throw new ApiError({ title: "Upload refused", detail: `The upload was refused (${response.status}${code ? ` ${code}` : ""}); start again.` }, response.status);
    }
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearProblems(form);
    clearTimeout(timer);
    const file = $("import-file").files[0];
    if (!file) {
      showProblem(form, new ApiError({ title: "No file", errors: [{ field: "file", message: "Choose a CSV or JSON-lines file" }] }, 400));
      return;
    }
    const format = formatOf($("import-format").value, file);
    if (!format) {
      showProblem(form, new ApiError({ title: "Which format?", errors: [{ field: "format", message: "The name ends in neither .csv nor .jsonl: choose the format" }] }, 400));
      return;
    }
    $("import-submit").disabled = true;
    status.textContent = "Uploading…";
    show($("import-errors"), false);
    try {
      const started = await api("POST", "/imports", { body: { format } });
      await upload(started.upload, file);
      status.textContent = "Uploaded; waiting for the import to start…";
      follow(started.import_id);
    } catch (error) {
      status.textContent = "";
      $("import-submit").disabled = false;
      showProblem(form, error);
    }
  });

  return {
    /** Shown to company users only. */
    signedIn(claims, can) {
      clearTimeout(timer);
      show($("imports"), can("products:write") && Boolean(claims?.company_id));
      if (claims?.company_id) $("import-company").textContent = claims.company_id;
    },
  };
}

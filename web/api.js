// The API client: JSON in and out, the session's bearer token, problem+json as an ApiError.
// The session changes only through setSession; a refused token (401) is reported through the
// handler app.js gives (the notice line).

const session = { token: null, baseUrl: "", onRefused: () => {} };

/** The token the API is called with (null: none), its base URL, and what a 401 does. */
export function setSession({ token = session.token, baseUrl = session.baseUrl, onRefused = session.onRefused } = {}) {
  Object.assign(session, { token, baseUrl, onRefused });
}

export class ApiError extends Error {
  constructor(problem, status) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.problem = problem;
    this.status = status;
  }
}

export async function api(method, path, { body, headers = {} } = {}) {
  const init = { method, headers: { Accept: "application/json", ...headers } };
  if (session.token) init.headers.Authorization = `Bearer ${session.token}`;
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(session.baseUrl + path, init);
  } catch {
    throw new ApiError({ title: "Network error", detail: "The API could not be reached; retry in a moment." }, 0);
  }
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!response.ok) {
    const problem = data && typeof data === "object" ? data : { title: response.statusText || "Error", detail: text.slice(0, 200) };
    if (response.status === 401) session.onRefused(problem);
    throw new ApiError(problem, response.status);
  }
  return data;
}

// The public API, as the page calls it: bearer token, JSON, problem details.

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
    this.errors = problem.errors || {};
  }
}

const OPERATION_POLL_MS = 300;
// The HTTP status the gateway gives each operation error code (api/views/dispatch.py).
const ERROR_STATUS = { not_found: 404, invalid: 400, conflict: 409, stale: 412 };
const OPERATION_WAIT_MS = 30000;

export class Api {
  constructor(token, onUnauthorized) {
    this.token = token;
    this.onUnauthorized = onUnauthorized;
    this.onStale = null;  // called on 412: what the page shows is out of date
  }

  headers(extra = {}) {
    return { Authorization: `Bearer ${this.token}`, Accept: "application/json", ...extra };
  }

  async request(method, path, { body, ifMatch, idempotencyKey, signal } = {}) {
    const headers = this.headers();
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (ifMatch !== undefined) headers["If-Match"] = `"${ifMatch}"`;
    if (idempotencyKey) headers["Idempotency-Key"] = idempotencyKey;
    let response;
    try {
      response = await fetch(path, {
        method, headers, signal, cache: "no-store",
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (error) {
      if (error.name === "AbortError") throw error;
      throw new ApiError(0, { detail: "The service cannot be reached. Check the connection and try again." });
    }
    const data = response.status === 204 ? null : await response.json().catch(() => ({}));
    if (response.status === 401 && this.onUnauthorized) this.onUnauthorized();
    if (response.status === 412 && this.onStale) this.onStale();
    if (!response.ok) throw new ApiError(response.status, data || {});
    if (response.status === 202) return this.settle(data.operation.id, data);
    return data;
  }

  // A command accepted but not yet applied: wait for its operation's outcome.
  async settle(operationId, accepted) {
    const deadline = Date.now() + OPERATION_WAIT_MS;
    while (Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, OPERATION_POLL_MS));
      const operation = await this.request("GET", `/v1/operations/${encodeURIComponent(operationId)}`);
      if (operation.status === "succeeded") {
        // An initial access token made: the answer showed it, this once.
        if (accepted.token) return accepted;
        if (!operation.client_key || operation.kind === "remove_client") return null;
        const client = await this.request("GET", `/v1/clients/${encodeURIComponent(operation.client_key)}`);
        return accepted.secret ? { ...client, secret: accepted.secret, warnings: [] } : client;
      }
      if (operation.status === "failed") {
        const error = operation.error || {};
        throw new ApiError(ERROR_STATUS[error.code] || 500,
          { detail: error.message, errors: error.fields || {} });
      }
    }
    throw new ApiError(0, {
      detail: "The change was accepted but is not applied yet. The table shows it once it is.",
    });
  }
}

export function describe(error) {
  if (!(error instanceof ApiError)) return "Something went wrong. Try again.";
  if (error.status === 412) {
    return "Someone changed this client since you opened it. The table now shows the current state; check it and try again.";
  }
  if (error.status === 429) {
    return "Too many attempts. Wait a minute and try again.";
  }
  return error.message;
}

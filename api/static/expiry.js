// A secret's expiry as the page marks it: expired, or expiring within the days that
// GET /v1/stats counts (the service's figure, from GET /v1/client-types' limits).
import { h, formatTime } from "./dom.js";

const DAY_MS = 24 * 3600 * 1000;
let warningDays = 14;

export function setExpiryWarning(days) {
  if (Number.isInteger(days)) warningDays = days;
}

// A badge for a client whose secret has expired or expires soon; null otherwise.
export function expiryBadge(client) {
  const at = client.client_secret_expires_at;
  if (!at) return null;
  const left = new Date(at).getTime() - Date.now();
  const title = `The secret expires ${formatTime(at)}`;
  if (left <= 0) return h("span", { class: "badge badge-expired", title }, "Secret expired");
  if (left > warningDays * DAY_MS) return null;
  const days = Math.floor(left / DAY_MS);
  const text = days < 1 ? "Secret expires today" : `Secret expires in ${days} day${days === 1 ? "" : "s"}`;
  return h("span", { class: "badge badge-expiring", title }, text);
}

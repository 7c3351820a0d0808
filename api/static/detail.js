// The detail view of one client: every field, its secret's facts and its history.
// Opened from the table (the client's name); it reads the client and its history
// afresh, so what it shows is the service's current state, not the table's copy.
import { $, h, formatTime } from "./dom.js";
import { describe } from "./api.js";
import { METHOD_TEXT } from "./advanced.js";
import { keyLine } from "./copy.js";
import { expiryBadge } from "./expiry.js";
import { uriList } from "./uris.js";
import { originText } from "./origin.js";
import { ACTION_TEXT, fieldsText, lastStatusChange, readHistory } from "./history.js";
import { Latest } from "./latest.js";

export const STATUS_TEXT = { pending: "Waiting for approval", approved: "Approved", disapproved: "Disapproved" };
const dialog = $("detail-dialog");
let returnFocus = null;
// One client at a time: a client opened, closed and another opened before the first one's
// answer came must not show the first one.
const latest = new Latest();

const time = (iso) => h("time", { datetime: iso }, formatTime(iso));
const list = (values) => (values.length ? values.join(", ") : "—");

function fact(term, ...value) {
  return [h("dt", {}, term), h("dd", {}, ...value)];
}

function statusFact(client, history) {
  const change = lastStatusChange(history);
  const by = change && change.actor ? ` by ${change.actor}` : "";
  return [h("span", { class: `status status-${client.status}` }, STATUS_TEXT[client.status]),
    " since ", time(client.status_changed_at), by];
}

function secretFacts(client) {
  if (client.token_endpoint_auth_method === "none") return ["None: a public client has no secret"];
  if (client.token_endpoint_auth_method === "private_key_jwt") {
    return ["None: the client signs assertions with its own key"];
  }
  const issued = client.client_secret_issued_at ? ["; issued ", time(client.client_secret_issued_at)] : [];
  const expires = client.client_secret_expires_at
    ? ["; expires ", time(client.client_secret_expires_at), expiryBadge(client)]
    : (client.token_endpoint_auth_method ? ["; never expires"] : []);
  const rotated = client.secret_rotated_at
    ? ["last replaced ", time(client.secret_rotated_at)] : ["never replaced since the client was created"];
  const previous = client.previous_secrets.length
    ? h("ul", { class: "plain" }, client.previous_secrets.map((secret) =>
      h("li", {}, "a previous secret stays valid until ", time(secret.expires_at),
        "; ", ...lastUsed(secret.last_used_at))))
    : h("span", {}, "; no previous secret is valid");
  return [h("span", {}, "Set, never shown; ", ...rotated, ...issued, ...expires, "; ",
    ...lastUsed(client.client_secret_last_used_at)), previous];
}

// When a secret last verified, to the minute (the service writes it at most a minute late).
function lastUsed(at) {
  return at ? ["last used ", time(at)] : ["not seen in use"];
}

// The RFC 7591 metadata of an OAuth 2.0 or OpenID Connect client; URLs as text, never links.
function metadataFacts(client, info) {
  const text = (value) => value || "—";
  return [
    fact("Token endpoint authentication",
      METHOD_TEXT[client.token_endpoint_auth_method] || text(client.token_endpoint_auth_method)),
    fact("Scope", text(client.scope)),
    fact("PKCE", client.require_pkce ? "Required" : "Not required"),
    (info.metadata_fields || []).includes("post_logout_redirect_uris") && fact("Post-logout redirect URIs",
      client.post_logout_redirect_uris.length ? uriList(client.post_logout_redirect_uris) : "—"),
    fact("Home page", text(client.client_uri)),
    fact("Logo", text(client.logo_uri)),
    fact("Privacy policy", text(client.policy_uri)),
    fact("Terms of service", text(client.tos_uri)),
    fact("Contacts", list(client.contacts)),
    client.token_endpoint_auth_method === "private_key_jwt" && fact("Public keys", ...keyFacts(client)),
  ].flat();
}

// Each registered key's kid, type and size (or curve); or where the set is fetched.
function keyFacts(client) {
  if (client.jwks_uri) return [h("span", {}, "Fetched from ", h("code", {}, client.jwks_uri))];
  const size = (key) => key.kty === "RSA"
    ? `RSA ${Math.floor((key.n.replace(/=+$/, "").length * 6) / 8) * 8} bits` : `${key.kty} ${key.crv}`;
  return [h("ul", { class: "keys" }, ((client.jwks || {}).keys || []).map((key) =>
    h("li", {}, h("code", {}, key.kid), `: ${size(key)}${key.alg ? `, ${key.alg}` : ""}`)))];
}

export function historyList(items) {
  if (!items.length) return h("p", { class: "note" }, "Nothing recorded yet.");
  return h("ol", { class: "history" }, items.map((entry) => h("li", {},
    h("span", { class: "history-action" }, ACTION_TEXT[entry.action] || entry.action),
    entry.outcome !== "applied" ? h("span", { class: "history-outcome" }, ` (${entry.outcome})`) : null,
    " by ", h("span", { class: "history-actor" }, entry.actor || "the service"), ", ", time(entry.at),
    entry.fields.length ? h("span", { class: "history-fields" }, `: ${fieldsText(entry.fields)}`) : null)));
}

function render(client, info, history) {
  $("detail-title").textContent = client.name;
  const oauth2 = info.redirect_uris;
  $("detail-body").replaceChildren(
    h("dl", { class: "facts" },
      fact("Type", info.label),
      fact(info.key_label, keyLine(client)),
      fact("Status", ...statusFact(client, history)),
      fact("Created", time(client.created_at)),
      fact("Origin", originText(client)),
      fact("Last changed", time(client.updated_at)),
      oauth2 && fact("Redirect URIs", client.redirect_uris.length ? uriList(client.redirect_uris) : "—"),
      oauth2 && fact("Grant types", list(client.grant_types)),
      oauth2 && fact("Response types", list(client.response_types)),
      oauth2 && metadataFacts(client, info),
      fact("Secret", ...secretFacts(client))),
    h("h3", {}, "History"),
    historyList(history));
}

// openDetail({ api, key, catalogue, returnFocus })
export async function openDetail({ api, key, catalogue, returnFocus: back }) {
  returnFocus = back;
  $("detail-title").textContent = "Loading…";
  $("detail-body").replaceChildren();
  $("detail-error").textContent = "";
  dialog.showModal();
  $("detail-close").focus();
  try {
    const answer = await latest.read((signal) => Promise.all([
      api.request("GET", `/v1/clients/${encodeURIComponent(key)}`, { signal }),
      readHistory(api, key, { signal })]));
    if (!answer) return;
    const [client, history] = answer.value;
    render(client, catalogue.find((t) => t.type === client.type), history);
  } catch (error) {
    $("detail-title").textContent = "Client";
    $("detail-error").textContent = describe(error);
  }
}

$("detail-close").addEventListener("click", () => dialog.close());
dialog.addEventListener("close", () => {
  // The event comes as a task of its own: opened again meanwhile (Enter on the name right
  // after closing), that opening's read and return of focus stand.
  if (dialog.open) return;
  latest.cancel();
  if (returnFocus) returnFocus();
  returnFocus = null;
});

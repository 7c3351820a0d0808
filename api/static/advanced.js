// The create / edit dialog's Advanced section: a client's RFC 7591 metadata
// (OAuth 2.0 and OpenID Connect only). Collapsed by default; opened when one of
// its fields has an error. The choices come from GET /v1/client-types, and every
// rule is the service's: the page sends what was typed and shows the verdict.
import { $, h } from "./dom.js";

// Field -> its input, where the service's errors for it are shown.
export const ADVANCED_FIELDS = {
  token_endpoint_auth_method: "auth-method", scope: "client-scope",
  require_pkce: "client-require-pkce", post_logout_redirect_uris: "client-post-logout",
  client_uri: "client-uri", logo_uri: "client-logo-uri", policy_uri: "client-policy-uri",
  tos_uri: "client-tos-uri", contacts: "client-contacts",
  jwks: "client-jwks", jwks_uri: "client-jwks-uri",
  client_secret_expires_at: "client-secret-expires",
};
export const METHOD_TEXT = {
  client_secret_basic: "Secret in the Authorization header (client_secret_basic)",
  client_secret_post: "Secret in the request body (client_secret_post)",
  none: "None: a public client without a secret (none)",
  private_key_jwt: "Signed assertions with the client's own key pair (private_key_jwt)",
};
const URI_FIELDS = ["client_uri", "logo_uri", "policy_uri", "tos_uri"];
const entries = (text) => text.split(/[\n,]/).map((value) => value.trim()).filter(Boolean);
const tokens = (text) => (text || "").split(" ").filter(Boolean).sort();
const sameList = (a, b) => JSON.stringify([...a].sort()) === JSON.stringify([...b].sort());

// An ISO time as a datetime-local input shows it (the browser's time zone, to the minute).
function localValue(iso) {
  if (!iso) return "";
  const at = new Date(iso);
  const pad = (n) => String(n).padStart(2, "0");
  return `${at.getFullYear()}-${pad(at.getMonth() + 1)}-${pad(at.getDate())}T${pad(at.getHours())}:${pad(at.getMinutes())}`;
}

export const isPublic = () => $("auth-method").value === "none";
// Neither a public client nor one that signs assertions has a secret.
export const hasNoSecret = () => ["none", "private_key_jwt"].includes($("auth-method").value);
const signsAssertions = () => $("auth-method").value === "private_key_jwt";

// The public keys are asked for only of a client that signs assertions.
export function renderKeyFields() {
  $("keys-field").hidden = !signsAssertions();
}

// The JWK Set as pasted: its JSON, or the text itself (the service names what is wrong).
function pastedJwks(text) {
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

// JSON with every object's members in order, so a pasted set and the stored one compare.
function canonical(value) {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (value && typeof value === "object") {
    return `{${Object.keys(value).sort().map((k) => `${JSON.stringify(k)}:${canonical(value[k])}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

export function fillAdvanced(info, client) {
  const methods = info.token_endpoint_auth_methods || [];
  $("auth-method").replaceChildren(...methods.map((method) =>
    h("option", { value: method }, METHOD_TEXT[method] || method)));
  $("auth-method").value = client ? client.token_endpoint_auth_method || "" : info.default_token_endpoint_auth_method || "";
  $("client-scope").value = client ? client.scope || "" : (info.required_scope || []).join(" ");
  $("client-require-pkce").checked = client ? Boolean(client.require_pkce) : true;
  $("post-logout-field").hidden = !(info.metadata_fields || []).includes("post_logout_redirect_uris");
  $("client-post-logout").value = client ? client.post_logout_redirect_uris.join("\n") : "";
  for (const field of URI_FIELDS) $(ADVANCED_FIELDS[field]).value = (client && client[field]) || "";
  $("client-contacts").value = client ? client.contacts.join("\n") : "";
  $("client-secret-expires").value = client ? localValue(client.client_secret_expires_at) : "";
  $("client-jwks").value = client && client.jwks ? JSON.stringify(client.jwks, null, 2) : "";
  $("client-jwks-uri").value = (client && client.jwks_uri) || "";
  renderKeyFields();
  $("advanced-fields").open = false;
}

// The metadata to send: for a create what differs from the service's defaults, for
// an edit what differs from the client as it was read.
export function advancedBody(info, client, grants) {
  const typed = {
    token_endpoint_auth_method: $("auth-method").value,
    scope: tokens($("client-scope").value.replace(/\s+/g, " ")).join(" "),
    require_pkce: $("client-require-pkce").checked,
    post_logout_redirect_uris: $("post-logout-field").hidden ? [] : entries($("client-post-logout").value),
    contacts: entries($("client-contacts").value),
  };
  for (const field of URI_FIELDS) typed[field] = $(ADVANCED_FIELDS[field]).value.trim() || null;
  typed.jwks = signsAssertions() ? pastedJwks($("client-jwks").value.trim()) : null;
  typed.jwks_uri = signsAssertions() ? $("client-jwks-uri").value.trim() || null : null;
  const expires = $("client-secret-expires").value;
  typed.client_secret_expires_at = expires && !hasNoSecret() ? new Date(expires).toISOString() : null;
  const body = {};
  if (!client) {
    const pkceDefault = isPublic() || grants.includes("authorization_code");
    const required = (info.required_scope || []).join(" ");
    for (const [field, value] of Object.entries(typed)) {
      if (value === null || value === "" || (Array.isArray(value) && !value.length)) continue;
      if (field === "token_endpoint_auth_method" && value === info.default_token_endpoint_auth_method) continue;
      if (field === "scope" && value === required) continue;
      if (field === "require_pkce" && value === pkceDefault) continue;
      body[field] = value;
    }
    return body;
  }
  for (const [field, value] of Object.entries(typed)) {
    const was = client[field];
    if (field === "scope" ? sameList(tokens(value), tokens(was))
      : field === "jwks" ? canonical(value) === canonical(was ?? null)
      : Array.isArray(value) ? sameList(value, was)
        : field === "client_secret_expires_at" ? localValue(value) === localValue(was)
          : value === was) continue;
    if (field === "client_secret_expires_at" && hasNoSecret()) continue;
    if (field === "jwks_uri" && value === (was ?? null)) continue;
    body[field] = value;
  }
  return body;
}

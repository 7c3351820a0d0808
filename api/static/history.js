// A client's history (GET /v1/clients/{key}/history, newest first) read for people:
// what each action was, who last changed the status, and what was edited since
// the last approval (an approver should see it before approving again).
const HISTORY_LIMIT = 100;
export const ACTION_TEXT = {
  create_client: "Created", update_client: "Edited", approve_client: "Approved",
  disapprove_client: "Disapproved", remove_client: "Removed", rotate_secret: "Secret rotated",
  end_secret_grace: "Grace of previous secrets ended",
};
export const FIELD_TEXT = {
  name: "name", secret: "secret", redirect_uris: "redirect URIs", grant_types: "grant types",
  response_types: "response types", previous_secrets: "previous secrets", type: "type",
  token_endpoint_auth_method: "token endpoint authentication", scope: "scope",
  require_pkce: "PKCE", post_logout_redirect_uris: "post-logout redirect URIs",
  client_uri: "home page", logo_uri: "logo", policy_uri: "privacy policy",
  tos_uri: "terms of service", contacts: "contacts", jwks: "public keys", jwks_uri: "key set URL",
  client_secret_expires_at: "secret expiry",
};
const STATUS_ACTIONS = new Set(["create_client", "approve_client", "disapprove_client"]);
const EDITS = new Set(["update_client", "rotate_secret", "end_secret_grace"]);

export async function readHistory(api, key, { signal } = {}) {
  const page = await api.request("GET", `/v1/clients/${encodeURIComponent(key)}/history?limit=${HISTORY_LIMIT}`,
    { signal });
  return page.items;
}

export const fieldsText = (names) => names.map((name) => FIELD_TEXT[name] || name).join(", ");

const applied = (entry) => entry.outcome === "applied";

// The entry that set the current status (a create sets "pending"), or null.
export function lastStatusChange(items) {
  return items.find((entry) => applied(entry) && STATUS_ACTIONS.has(entry.action)) || null;
}

// The edits applied since the last approval, newest first; null if never approved.
export function editsSinceApproval(items) {
  const approval = items.findIndex((entry) => applied(entry) && entry.action === "approve_client");
  if (approval < 0) return null;
  const edits = items.slice(0, approval).filter((entry) => applied(entry) && EDITS.has(entry.action));
  return { approval: items[approval], edits };
}

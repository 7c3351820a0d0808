// Initial access tokens for self-registration: create one (shown once, with Copy),
// list them with their uses left, revoke one at once.
import { $, h, formatTime } from "./dom.js";
import { describe } from "./api.js";
import { copyText } from "./copy.js";
import { notify } from "./notice.js";
import { Latest } from "./latest.js";

const dialog = $("tokens-dialog");
const DEFAULT_DAYS = 7;
let api = null;
// The list is read on opening and after each create or revoke: only the newest read is shown.
const latest = new Latest();

function state(token) {
  if (token.revoked) return "Revoked";
  if (new Date(token.expires_at) <= new Date()) return "Expired";
  return token.uses_left > 0 ? "Active" : "Used up";
}

function policyText(policy) {
  const parts = [];
  if (policy.client_types.length) parts.push(`types: ${policy.client_types.join(", ")}`);
  if (policy.grant_types.length) parts.push(`grants: ${policy.grant_types.join(", ")}`);
  if (policy.redirect_uri_hosts.length) parts.push(`hosts: ${policy.redirect_uri_hosts.join(", ")}`);
  parts.push(policy.auto_approve ? "approved at once" : "waits for approval");
  return parts.join("; ");
}

async function revoke(token) {
  try {
    await api.request("DELETE", `/v1/registration-tokens/${encodeURIComponent(token.id)}`);
    notify(`Token ${token.label} revoked.`);
    await load();
  } catch (error) {
    $("tokens-error").textContent = describe(error);
  }
}

function row(token) {
  const usable = state(token) === "Active";
  return h("tr", { "data-id": token.id },
    h("th", { scope: "row" }, token.label),
    h("td", {}, h("code", {}, token.id)),
    h("td", {}, token.created_by),
    h("td", {}, h("time", { datetime: token.expires_at }, formatTime(token.expires_at))),
    h("td", {}, `${token.uses_left} of ${token.max_uses}`),
    h("td", { title: policyText(token.policy) }, state(token)),
    h("td", {}, usable ? h("button", {
      type: "button", class: "danger revoke", "aria-label": `Revoke ${token.label}`,
      onclick: () => revoke(token),
    }, "Revoke") : ""));
}

async function load() {
  const answer = await latest.read((signal) => api.request("GET", "/v1/registration-tokens", { signal }));
  if (!answer) return;
  const { items } = answer.value;
  $("tokens-body").replaceChildren(...items.map(row));
  $("tokens-empty").hidden = items.length > 0;
}

function lines(id) {
  return $(id).value.split(/[\s,]+/).map((value) => value.trim()).filter(Boolean);
}

async function create(event) {
  event.preventDefault();
  $("tokens-error").textContent = "";
  const expires = $("token-expires").value;
  const body = {
    label: $("token-label").value.trim(),
    max_uses: Number($("token-uses").value),
    expires_at: expires ? new Date(expires).toISOString() : "",
    policy: {
      client_types: [...document.querySelectorAll("input[name=token-type]:checked")].map((box) => box.value),
      redirect_uri_hosts: lines("token-hosts"),
      auto_approve: $("token-auto-approve").checked,
    },
  };
  try {
    const made = await api.request("POST", "/v1/registration-tokens", { body });
    $("shown-token").value = made.token;
    // A create answered 202 shows the token, not yet its record.
    $("shown-token-label").textContent = made.label ?? body.label;
    $("token-shown").hidden = false;
    $("copy-token").focus();
    $("token-form").reset();
    defaults();
    await load();
  } catch (error) {
    const fields = error.errors || {};
    $("tokens-error").textContent = [describe(error),
      ...Object.entries(fields).map(([name, messages]) => `${name}: ${[].concat(messages).join(" ")}`)].join(" ");
  }
}

function defaults() {
  const soon = new Date(Date.now() + DEFAULT_DAYS * 86400000);
  soon.setSeconds(0, 0);
  const local = new Date(soon.getTime() - soon.getTimezoneOffset() * 60000);
  $("token-expires").value = local.toISOString().slice(0, 16);
  $("token-uses").value = "1";
}

export async function openTokens(client) {
  api = client;
  $("tokens-error").textContent = "";
  $("token-shown").hidden = true;
  $("shown-token").value = "";
  defaults();
  dialog.showModal();
  $("token-label").focus();
  try {
    await load();
  } catch (error) {
    $("tokens-error").textContent = describe(error);
  }
}

$("token-form").addEventListener("submit", create);
$("copy-token").addEventListener("click", async () => {
  $("copy-token-status").textContent = await copyText($("shown-token").value)
    ? "Copied." : "Copying is not allowed here: select the token and copy it by hand.";
});
$("tokens-close").addEventListener("click", () => dialog.close());
// The token is shown once: gone from the page when the dialog closes.
dialog.addEventListener("close", () => {
  if (dialog.open) return;  // opened again before this event came (see detail.js)
  latest.cancel();
  $("shown-token").value = "";
  $("token-shown").hidden = true;
  $("copy-token-status").textContent = "";
});

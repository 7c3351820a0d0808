// The create / edit dialog. Every rule is the service's: a redirect URI is checked
// by POST /v1/redirect-uri-checks as its chip is added, the choices and warnings
// come from GET /v1/client-types, and Save shows every field error the service
// finds at once, each under its field.
import { $, h } from "./dom.js";
import { describe } from "./api.js";
import { ADVANCED_FIELDS, advancedBody, fillAdvanced, hasNoSecret, renderKeyFields } from "./advanced.js";
import { showSecret } from "./secret_dialog.js";
import { uriView } from "./uris.js";

const dialog = $("client-dialog");
const form = $("client-form");
const ERROR_FIELDS = {
  name: "client-name", secret: "client-secret", secret_confirmation: "client-secret-again",
  redirect_uris: "redirect-uri", grant_types: "grant-types", response_types: "response-types",
  generate_secret: null, ...ADVANCED_FIELDS,
};
// Preselected for a new OAuth 2.0 or OpenID Connect client: the flow RFC 9700 recommends.
const RECOMMENDED = { grant_types: ["authorization_code"], response_types: ["code"] };

let state = null;

function newIdempotencyKey() {
  // crypto.randomUUID needs a secure context; getRandomValues works on plain http too.
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function typeInfo(type) {
  return state.catalogue.find((entry) => entry.type === type);
}

function words(info) {
  return info.type === "oauth1" ? "consumer" : "client";
}

function secretMode() {
  return form.querySelector('input[name="secret-mode"]:checked').value;
}

function checkedValues(containerId) {
  return Array.from($(containerId).querySelectorAll("input:checked"), (box) => box.value);
}

// Messages of a field, however marshmallow or the rules nest them.
function messagesOf(value) {
  if (typeof value === "string") return [value];
  if (Array.isArray(value)) return value.flatMap(messagesOf);
  if (value && typeof value === "object") return Object.values(value).flatMap(messagesOf);
  return [];
}

function clearErrors() {
  $("client-form-error").textContent = "";
  for (const field of Object.keys(ERROR_FIELDS)) {
    $(`error-${field}`).textContent = "";
    const input = ERROR_FIELDS[field] && $(ERROR_FIELDS[field]);
    if (input) input.removeAttribute("aria-invalid");
  }
}

// A redirect URI's problem already shown on its chip is not repeated under the field.
function notOnAChip(message) {
  return !state.uris.some((chip) => chip.problem && message.includes(chip.problem));
}

function showErrors(errors, fallback) {
  const general = [];
  // An error in the Advanced section opens it, so the message is seen.
  if (Object.keys(errors).some((field) => field in ADVANCED_FIELDS)) $("advanced-fields").open = true;
  for (const [field, value] of Object.entries(errors)) {
    let messages = messagesOf(value);
    if (field === "redirect_uris") messages = messages.filter(notOnAChip);
    // "needs a secret" while no secret is being entered: said above the form.
    const hidden = field === "secret" && $("secret-inputs").hidden;
    if (field in ERROR_FIELDS && !hidden) {
      $(`error-${field}`).textContent = messages.join(" ");
      const input = ERROR_FIELDS[field] && $(ERROR_FIELDS[field]);
      if (input) input.setAttribute("aria-invalid", "true");
    } else {
      general.push(...messages);
    }
  }
  if (general.length || !Object.keys(errors).length) {
    $("client-form-error").textContent = general.length ? general.join(" ") : fallback;
  }
  // The first field in the form's order, whatever order the errors came in.
  const first = form.querySelector('input[aria-invalid="true"], select[aria-invalid="true"], textarea[aria-invalid="true"], .choices[aria-invalid="true"]');
  const target = first && first.matches("input, select, textarea") ? first : (first && first.querySelector("input"));
  if (target) target.focus();
  else if (general.length || !Object.keys(errors).length) $("client-form-error").scrollIntoView({ block: "nearest" });
}

function checkSecretPair() {
  const secret = $("client-secret").value;
  const again = $("client-secret-again").value;
  const mismatch = again !== "" && secret !== again;
  $("error-secret_confirmation").textContent = mismatch ? "The secrets do not match." : "";
  if (mismatch) $("client-secret-again").setAttribute("aria-invalid", "true");
  else $("client-secret-again").removeAttribute("aria-invalid");
  return !mismatch;
}

function renderUris() {
  const list = $("redirect-uris");
  list.replaceChildren(...state.uris.map((chip, index) => {
    const messageId = `redirect-uri-problem-${index}`;
    return h("li", { class: chip.problem ? "invalid" : "", "aria-invalid": chip.problem ? "true" : null },
      h("div", { class: "chip-row" },
        h("span", { class: "chip-text", "aria-describedby": chip.problem ? messageId : null },
          uriView(chip.uri)),
        h("button", {
          type: "button", class: "chip-remove", "aria-label": `Remove ${chip.uri}`,
          onclick: () => {
            state.uris.splice(index, 1);
            renderUris();
            $("redirect-uri").focus();
          },
        }, "×")),
      chip.problem && h("p", { class: "field-error chip-error", id: messageId }, chip.problem));
  }));
  const bad = state.uris.some((chip) => chip.problem);
  if (bad) $("redirect-uri").setAttribute("aria-invalid", "true");
  else if (!$("error-redirect_uris").textContent) $("redirect-uri").removeAttribute("aria-invalid");
}

// The service's verdict on one URI, shown on its chip as soon as it is added.
async function checkUri(chip) {
  try {
    const verdict = await state.api.request("POST", "/v1/redirect-uri-checks", { body: { uri: chip.uri } });
    chip.problem = verdict.problem;
  } catch (error) {
    chip.problem = error.errors && error.errors.uri ? messagesOf(error.errors.uri).join(" ") : null;
  }
  if (state.uris.includes(chip)) renderUris();
}

function addTypedUri() {
  const input = $("redirect-uri");
  const uri = input.value.trim();
  input.value = "";
  if (!uri || state.uris.some((chip) => chip.uri === uri)) return null;
  const chip = { uri, problem: null };
  state.uris.push(chip);
  renderUris();
  return checkUri(chip);
}

function renderChoices(containerId, choices, checked) {
  $(containerId).replaceChildren(...choices.map((choice) => h("label", { class: "inline" },
    h("input", {
      type: "checkbox", value: choice.value, checked: checked.includes(choice.value),
      onchange: renderWarnings,
    }), ` ${choice.value}`)));
}

function renderWarnings() {
  const info = typeInfo($("client-type").value);
  const chosen = [
    ...info.grant_types.filter((c) => checkedValues("grant-types").includes(c.value)),
    ...info.response_types.filter((c) => checkedValues("response-types").includes(c.value)),
  ];
  const warnings = [...new Set(chosen.flatMap((choice) => choice.warnings))];
  $("client-warnings").replaceChildren(...warnings.map((text) => h("li", { class: "warning" }, text)));
}

function renderType(selected) {
  const info = typeInfo($("client-type").value);
  const noun = words(info);
  const title = noun[0].toUpperCase() + noun.slice(1);
  $("client-name-label").textContent = `${title} name`;
  $("secret-legend").textContent = "Secret";
  $("client-secret-label").textContent = `${title} secret`;
  $("client-secret-again-label").textContent = `Re-type the ${noun} secret`;
  $("client-key-label").textContent = info.key_label;
  $("oauth2-fields").hidden = !info.redirect_uris;
  renderChoices("grant-types", info.grant_types, selected.grant_types);
  renderChoices("response-types", info.response_types, selected.response_types);
  fillAdvanced(info, state.editing ? state.client : null);
  renderWarnings();
  renderSecretMode();
}

// A public client (token endpoint authentication "none") and one that signs assertions
// (private_key_jwt) have no secret to offer; the latter asks for its public keys.
function renderSecretMode() {
  renderKeyFields();
  const none = !$("oauth2-fields").hidden && hasNoSecret();
  $("secret-choice").hidden = none;
  $("secret-expires-field").hidden = none;
  $("secret-inputs").hidden = none || secretMode() !== "enter";
  if (secretMode() !== "enter") {
    $("client-secret").value = "";
    $("client-secret-again").value = "";
    checkSecretPair();
  }
}

// open({ api, catalogue, limits, type, client?, returnFocus, onSaved(client) })
export function openClientDialog(options) {
  const { catalogue, limits, client } = options;
  const editing = Boolean(client);
  state = {
    ...options, editing, sent: null,
    uris: editing ? client.redirect_uris.map((uri) => ({ uri, problem: null })) : [],
  };
  form.reset();
  clearErrors();
  $("client-dialog-title").textContent = editing ? `Edit ${client.name}` : "Create client";
  $("client-type").replaceChildren(...catalogue.map((entry) =>
    h("option", { value: entry.type }, entry.label)));
  $("client-type").value = editing ? client.type : options.type;
  $("client-type").disabled = editing;
  $("key-field").hidden = !editing;
  $("client-key").value = editing ? client.key : "";
  $("client-name").value = editing ? client.name : "";
  $("client-name").maxLength = limits.name_max;
  $("secret-hint").textContent = `${limits.secret_min} to ${limits.secret_max} characters.`;
  $("keep-secret-option").hidden = !editing;
  form.querySelector(`input[name="secret-mode"][value="${editing ? "keep" : "enter"}"]`).checked = true;
  renderSecretMode();
  renderType(editing ? client : RECOMMENDED);
  renderUris();
  $("client-save").disabled = false;
  dialog.showModal();
  $("client-name").focus();
}

function requestBody() {
  const info = typeInfo($("client-type").value);
  const body = { name: $("client-name").value };
  const mode = info.redirect_uris && hasNoSecret() ? "none" : secretMode();
  if (mode === "enter") {
    body.secret = $("client-secret").value;
    body.secret_confirmation = $("client-secret-again").value;
  } else if (mode === "generate") {
    body.generate_secret = true;
  }
  if (info.redirect_uris) {
    body.redirect_uris = state.uris.map((chip) => chip.uri);
    body.grant_types = checkedValues("grant-types");
    body.response_types = checkedValues("response-types");
    Object.assign(body, advancedBody(info, state.editing ? state.client : null, body.grant_types));
  }
  if (!state.editing) return { type: info.type, ...body };
  // An edit sends what changed only.
  const client = state.client;
  const same = (a, b) => JSON.stringify([...a].sort()) === JSON.stringify([...b].sort());
  if (body.name === client.name) delete body.name;
  for (const field of ["redirect_uris", "grant_types", "response_types"]) {
    if (field in body && same(body[field], client[field])) delete body[field];
  }
  return body;
}

// What the page knows before asking the service, added to what the service says,
// so one Save shows every problem at once.
function localErrors() {
  const errors = {};
  if (secretMode() === "enter" && !$("secret-choice").hidden) {
    if (!$("client-secret").value) errors.secret = ["Enter a secret, or choose to generate one."];
    else if (!checkSecretPair()) errors.secret_confirmation = ["The secrets do not match."];
  }
  const bad = state.uris.filter((chip) => chip.problem);
  if (bad.length) errors.redirect_uris = bad.map((chip) => `${chip.uri}: ${chip.problem}`);
  return errors;
}

function merged(local, remote) {
  const errors = { ...remote };
  for (const [field, messages] of Object.entries(local)) {
    if (!(field in errors)) errors[field] = messages;
  }
  return errors;
}

async function save() {
  clearErrors();
  if (!$("oauth2-fields").hidden && $("redirect-uri").value.trim()) await addTypedUri();
  const local = localErrors();
  const body = requestBody();
  if (state.editing && !Object.keys(body).length) {
    dialog.close();
    return;
  }
  // The same request sent again (after a lost answer) reuses its key, so it is not applied twice.
  const text = JSON.stringify(body);
  if (!state.sent || state.sent.text !== text) state.sent = { text, key: newIdempotencyKey() };
  $("client-save").disabled = true;
  try {
    const { api, client } = state;
    const saved = state.editing
      ? await api.request("PATCH", `/v1/clients/${encodeURIComponent(client.key)}`,
        { body, ifMatch: client.version })
      : await api.request("POST", "/v1/clients", { body, idempotencyKey: state.sent.key });
    const { onSaved, returnFocus } = state;
    dialog.close();
    if (saved && saved.secret) showSecret(saved, returnFocus);
    onSaved(saved, state.editing ? "edited" : "created");
  } catch (error) {
    const remote = error.errors || {};
    showErrors(merged(local, remote), describe(error));
    // Not a verdict on the fields (a conflict, a stale copy, no connection): say so too.
    if (!Object.keys(remote).length) $("client-form-error").textContent = describe(error);
    $("client-save").disabled = false;
  }
}

$("client-type").addEventListener("change", () => renderType(RECOMMENDED));
form.addEventListener("change", (event) => {
  if (event.target.name === "secret-mode") renderSecretMode();
});
$("auth-method").addEventListener("change", renderSecretMode);
$("client-secret").addEventListener("input", checkSecretPair);
$("client-secret-again").addEventListener("input", checkSecretPair);
$("redirect-uri").addEventListener("keydown", (event) => {
  if (event.key === "Enter") {
    event.preventDefault();
    addTypedUri();
  }
});
$("client-cancel").addEventListener("click", () => dialog.close());
dialog.addEventListener("close", () => {
  $("client-secret").value = "";
  $("client-secret-again").value = "";
  if (state && state.returnFocus && !$("secret-dialog").open) state.returnFocus();
});
form.addEventListener("submit", (event) => {
  event.preventDefault();
  save();
});

// The create / edit dialog, and the dialog that shows a generated secret once.
import { $, h } from "./dom.js";
import { describe } from "./api.js";

const dialog = $("client-dialog");
const form = $("client-form");
const ERROR_FIELDS = {
  name: "client-name", secret: "client-secret", secret_confirmation: "client-secret-again",
  redirect_uris: "redirect-uri", grant_types: "grant-types", response_types: "response-types",
  generate_secret: null,
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

function showErrors(errors, fallback) {
  let first = null;
  const general = [];
  for (const [field, value] of Object.entries(errors)) {
    const messages = messagesOf(value);
    if (field in ERROR_FIELDS) {
      $(`error-${field}`).textContent = messages.join(" ");
      const input = ERROR_FIELDS[field] && $(ERROR_FIELDS[field]);
      if (input) {
        input.setAttribute("aria-invalid", "true");
        first = first || input;
      }
    } else {
      general.push(...messages);
    }
  }
  if (general.length || !Object.keys(errors).length) {
    $("client-form-error").textContent = general.length ? general.join(" ") : fallback;
  }
  const target = first && first.matches("input, select") ? first : (first && first.querySelector("input"));
  if (target) target.focus();
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
  list.replaceChildren(...state.uris.map((uri, index) => h("li", {},
    h("span", { class: "chip-text" }, uri),
    h("button", {
      type: "button", class: "chip-remove", "aria-label": `Remove ${uri}`,
      onclick: () => {
        state.uris.splice(index, 1);
        renderUris();
        $("redirect-uri").focus();
      },
    }, "×"))));
}

function addTypedUri() {
  const input = $("redirect-uri");
  const uri = input.value.trim();
  if (uri && !state.uris.includes(uri)) state.uris.push(uri);
  input.value = "";
  renderUris();
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
  renderWarnings();
}

function renderSecretMode() {
  $("secret-inputs").hidden = secretMode() !== "enter";
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
  state = { ...options, editing, uris: editing ? [...client.redirect_uris] : [], sent: null };
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
  const mode = secretMode();
  if (mode === "enter") {
    body.secret = $("client-secret").value;
    body.secret_confirmation = $("client-secret-again").value;
  } else if (mode === "generate") {
    body.generate_secret = true;
  }
  if (info.redirect_uris) {
    body.redirect_uris = [...state.uris];
    body.grant_types = checkedValues("grant-types");
    body.response_types = checkedValues("response-types");
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

function checkBeforeSending() {
  if (secretMode() !== "enter") return true;
  const secret = $("client-secret").value;
  if (!secret) {
    showErrors({ secret: ["Enter a secret, or choose to generate one."] });
    return false;
  }
  if (!checkSecretPair()) {
    $("client-secret-again").focus();
    return false;
  }
  return true;
}

async function save() {
  clearErrors();
  if (!$("oauth2-fields").hidden && $("redirect-uri").value.trim()) addTypedUri();
  if (!checkBeforeSending()) return;
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
    onSaved(saved);
  } catch (error) {
    showErrors(error.errors || {}, describe(error));
    $("client-save").disabled = false;
  }
}

function showSecret(client, returnFocus) {
  const secretDialog = $("secret-dialog");
  $("shown-secret-client").textContent = `${client.name} (${client.key})`;
  const owner = client.type === "oauth1" ? "consumer" : "client";
  $("secret-warning").textContent = `This secret will not be shown again. Copy it now and give it to the ${owner}'s owner; if it is lost, set a new one.`;
  $("shown-secret").value = client.secret;
  $("copy-status").textContent = "";
  secretDialog.addEventListener("close", () => {
    $("shown-secret").value = "";  // gone from the page once the dialog closes
    if (returnFocus) returnFocus();
  }, { once: true });
  secretDialog.showModal();
  $("copy-secret").focus();
}

async function copySecret() {
  const input = $("shown-secret");
  try {
    await navigator.clipboard.writeText(input.value);
  } catch {
    // No Clipboard API outside a secure context: copy the selection instead.
    input.select();
    if (!document.execCommand("copy")) {
      $("copy-status").textContent = "Copying is not allowed here: select the secret and copy it by hand.";
      return;
    }
  }
  $("copy-status").textContent = "Copied.";
}

$("client-type").addEventListener("change", () => renderType(RECOMMENDED));
form.addEventListener("change", (event) => {
  if (event.target.name === "secret-mode") renderSecretMode();
});
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
$("copy-secret").addEventListener("click", copySecret);

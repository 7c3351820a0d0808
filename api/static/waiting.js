// "Waiting for approval": pending clients of every type in one list, newest first,
// with where each came from, so self-registrations are looked at where they land.
import { $, h, formatTime } from "./dom.js";
import { describe } from "./api.js";
import { notify } from "./notice.js";
import { originText } from "./origin.js";
import { Latest } from "./latest.js";

const dialog = $("waiting-dialog");
const LIMIT = 200;
let current = null;  // { api, catalogue, canManage, onChanged }
// Read on opening and after each approval: only the newest read is shown.
const latest = new Latest();

function typeLabel(type) {
  const info = current.catalogue.find((t) => t.type === type);
  return info ? info.label : type;
}

async function approve(client) {
  try {
    await current.api.request("POST", `/v1/clients/${encodeURIComponent(client.key)}/approve`,
      { ifMatch: client.version });
    notify(`${client.name} approved.`);
    if (current.onChanged) current.onChanged(client.key);
    await load();
  } catch (error) {
    $("waiting-error").textContent = describe(error);
  }
}

function row(client) {
  return h("tr", { "data-key": client.key },
    h("td", {}, typeLabel(client.type)),
    h("th", { scope: "row" }, client.name),
    h("td", {}, h("code", { class: "key" }, client.key)),
    h("td", {}, originText(client)),
    h("td", {}, h("time", { datetime: client.created_at }, formatTime(client.created_at))),
    h("td", {}, current.canManage
      ? h("button", { type: "button", class: "approve", onclick: () => approve(client) }, "Approve")
      : ""));
}

async function load() {
  $("waiting-error").textContent = "";
  const answer = await latest.read((signal) =>
    current.api.request("GET", `/v1/clients?status=pending&limit=${LIMIT}`, { signal }));
  if (!answer) return;
  const page = answer.value;
  $("waiting-count").textContent = page.total === 1
    ? "1 client waits for approval." : `${page.total} clients wait for approval.`;
  $("waiting-body").replaceChildren(...page.items.map(row));
  $("waiting-table").hidden = page.items.length === 0;
}

export async function openWaiting({ api, catalogue, canManage, onChanged }) {
  current = { api, catalogue, canManage, onChanged };
  $("waiting-body").replaceChildren();
  $("waiting-count").textContent = "Loading…";
  dialog.showModal();
  $("waiting-close").focus();
  try {
    await load();
  } catch (error) {
    $("waiting-count").textContent = "";
    $("waiting-error").textContent = describe(error);
  }
}

$("waiting-close").addEventListener("click", () => dialog.close());
dialog.addEventListener("close", () => {
  if (!dialog.open) latest.cancel();  // unless opened again before this event came (detail.js)
});

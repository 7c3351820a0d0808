// The admin page: sign in with a token, then the OAuth clients page of the product.
import { setExpiryWarning } from "./expiry.js";
import { $, h } from "./dom.js";
import { Api, ApiError, describe } from "./api.js";
import { ClientTable } from "./table.js";
import { openClientDialog } from "./client_dialog.js";
import { confirmAction } from "./confirm.js";
import { openDetail } from "./detail.js";
import { approvalDetails } from "./approval.js";
import { LiveFeed } from "./live.js";
import { notify, clear as clearNotice } from "./notice.js";
import { discardSecret } from "./secret_dialog.js";
import { readViewState } from "./view_state.js";
import { openWaiting } from "./waiting.js";
import { openTokens } from "./registration_tokens.js";

const TOKEN_KEY = "clientkeys.token";  // sessionStorage: gone when the tab closes
const PERMISSION_TEXT = {
  configure_server: "manage clients",
  "clients:read": "read clients",
  "clients:verify": "check client credentials",
};
const LIVE_TEXT = {
  live: "Live", connecting: "Connecting…", offline: "Offline: reconnecting…", off: "Not live",
};

let session = null;  // { api, me, catalogue, limits, table, feed, type }

function signedOut(message = "") {
  if (session && session.feed) session.feed.stop();
  session = null;
  showLive("off");  // nothing is followed without a working token
  sessionStorage.removeItem(TOKEN_KEY);
  discardSecret();
  for (const dialog of document.querySelectorAll("dialog[open]")) dialog.close();
  clearNotice();
  $("session").hidden = true;
  $("clients").hidden = true;
  $("create").hidden = true;
  $("sign-in").hidden = false;
  $("token").value = "";
  $("token-error").textContent = message;
  $("token").focus();
}

async function signIn(token) {
  const api = new Api(token, () => signedOut("The token is no longer accepted. Sign in again."));
  const me = await api.request("GET", "/v1/me");
  sessionStorage.setItem(TOKEN_KEY, token);
  const may = me.permissions.map((p) => PERMISSION_TEXT[p] || p);
  $("who").textContent = `Signed in as ${me.subject}`;
  $("who").title = `This token may ${may.join(", ")}.`;
  $("sign-in").hidden = true;
  $("session").hidden = false;
  $("clients").hidden = false;
  session = { api, me };
  const canRead = me.permissions.includes("clients:read");
  const canManage = me.permissions.includes("configure_server");
  $("permissions-note").textContent = !canRead
    ? `This token may ${may.join(", ")}, but not read clients: there is nothing to show.`
    : canManage ? "You may create, approve, disapprove, edit and remove clients."
    : `Read-only: this token may ${may.join(", ")}, not change them.`;
  $("panel").hidden = !canRead;
  $("tabs").hidden = !canRead;
  if (!canRead) return;
  const { types, limits } = await api.request("GET", "/v1/client-types");
  Object.assign(session, { catalogue: types, limits });
  setExpiryWarning(limits.secret_expiry_warning_days);
  session.table = new ClientTable({ api, actions: canManage ? rowActions : null, onOpen: openClient });
  api.onStale = () => session.table.refresh();
  // The Create button (under the table, or the empty table's own) is shown by the table once
  // it knows which: showing one now would swap it for the other under a pointer.
  $("open-tokens").hidden = !canManage;
  renderTabs();
  session.feed = new LiveFeed(token, {
    onEvent: onLiveEvent,
    onState: showLive,
    onUnauthorized: () => signedOut("The token is no longer accepted. Sign in again."),
  });
  session.feed.start();
}

function showLive(state) {
  $("live-status").textContent = LIVE_TEXT[state];
  $("live-status").dataset.state = state;
}

function openClient(client) {
  openDetail({
    api: session.api, key: client.key, catalogue: session.catalogue,
    returnFocus: () => session && session.table.focusRow(client.key, ".open"),
  });
}

function onLiveEvent(type, data) {
  if (!session || !session.table) return;
  // "ready" (after each reconnect) and "resync": events may have been missed.
  const key = data && data.subject;
  session.table.refresh(type === "ready" || type === "resync" ? null : key);
}

function selectedType() {
  const wanted = readViewState().type;
  return session.catalogue.some((t) => t.type === wanted) ? wanted : session.catalogue[0].type;
}

function renderTabs() {
  const current = selectedType();
  const tabs = session.catalogue.map((info) => h("button", {
    type: "button", role: "tab", id: `tab-${info.type}`, "aria-controls": "panel",
    "aria-selected": info.type === current ? "true" : "false",
    tabindex: info.type === current ? "0" : "-1",
    onclick: () => selectTab(info.type, false),
  }, info.label));
  $("tabs").replaceChildren(...tabs);
  $("tabs").onkeydown = (event) => {
    const index = session.catalogue.findIndex((t) => t.type === selectedType());
    const moves = { ArrowRight: index + 1, ArrowLeft: index - 1, Home: 0, End: tabs.length - 1 };
    if (!(event.key in moves)) return;
    event.preventDefault();
    const next = session.catalogue[(moves[event.key] + tabs.length) % tabs.length];
    selectTab(next.type, true);
  };
  selectTab(current, false);
}

function selectTab(type, focusTab) {
  for (const tab of $("tabs").children) {
    const selected = tab.id === `tab-${type}`;
    tab.setAttribute("aria-selected", selected ? "true" : "false");
    tab.tabIndex = selected ? 0 : -1;
    if (selected && focusTab) tab.focus();
  }
  $("panel").setAttribute("aria-labelledby", `tab-${type}`);
  session.type = type;
  session.table.show(session.catalogue.find((t) => t.type === type));
}

function clientPath(client, action = "") {
  return `/v1/clients/${encodeURIComponent(client.key)}${action}`;
}

function rowActions(client) {
  const { api, table } = session;
  const back = () => table.focusRow(client.key);
  const who = `${client.name} (${client.key})`;
  const info = session.catalogue.find((t) => t.type === client.type);
  const after = (message) => () => {
    notify(message);
    table.refresh(client.key);
  };
  const actions = [{
    label: "Edit",
    run: () => openClientDialog({
      api, catalogue: session.catalogue, limits: session.limits, client,
      returnFocus: back, onSaved: (saved) => after(`${saved ? saved.name : client.name} saved.`)(),
    }),
  }];
  if (client.status !== "approved") {
    actions.push({
      label: "Approve",
      run: async () => confirmAction({
        title: "Approve this client key?",
        text: `${who} will be approved: it can be used to sign in from now on.`,
        details: await approvalDetails(api, client, info),
        ok: "Approve", returnFocus: back,
        action: () => api.request("POST", clientPath(client, "/approve"), { ifMatch: client.version })
          .then(after(`${client.name} approved.`)),
      }),
    });
  }
  if (client.status !== "disapproved") {
    actions.push({
      label: "Disapprove",
      run: () => confirmAction({
        title: "Disapprove this client key?",
        text: `${who} will be disapproved: its sign-in requests are refused until it is approved again.`,
        ok: "Disapprove", returnFocus: back,
        action: () => api.request("POST", clientPath(client, "/disapprove"), { ifMatch: client.version })
          .then(after(`${client.name} disapproved.`)),
      }),
    });
  }
  actions.push({
    label: "Remove", danger: true,
    run: () => confirmAction({
      title: "Remove this client key?",
      text: `${who} will be removed permanently. This cannot be undone.`,
      ok: "Remove", danger: true, returnFocus: () => $("panel").focus(),
      action: () => api.request("DELETE", clientPath(client), { ifMatch: client.version })
        .then(after(`${client.name} removed.`)),
    }),
  });
  return actions;
}

function createClient(event) {
  const opener = event.currentTarget;
  openClientDialog({
    api: session.api, catalogue: session.catalogue, limits: session.limits, type: session.type,
    // The empty table's prompt is gone once a client exists: focus the button that replaced it.
    returnFocus: () => (opener.checkVisibility() ? opener : $(opener.id === "create" ? "empty-create" : "create")).focus(),
    onSaved: (client) => {
      notify(client ? `${client.name} created: it waits for approval.` : "Client created.");
      if (client && client.type !== session.type) selectTab(client.type, false);
      session.table.refresh(client && client.key);
    },
  });
}
$("create").addEventListener("click", createClient);
$("empty-create").addEventListener("click", createClient);

$("sign-in-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const token = $("token").value.trim();
  if (!token) {
    $("token-error").textContent = "Paste an API token.";
    return;
  }
  try {
    await signIn(token);
  } catch (error) {
    const message = error instanceof ApiError && error.status === 401
      ? "This token was not accepted." : describe(error);
    signedOut(message);
  }
});

$("sign-out").addEventListener("click", () => signedOut());
$("open-waiting").addEventListener("click", () => openWaiting({
  api: session.api, catalogue: session.catalogue,
  canManage: session.me.permissions.includes("configure_server"),
  onChanged: (key) => session.table.refresh(key),
}));
$("open-tokens").addEventListener("click", () => openTokens(session.api));

const saved = sessionStorage.getItem(TOKEN_KEY);
if (saved) signIn(saved).catch((error) => signedOut(describe(error)));
else signedOut();

// The dialog that shows a generated secret, once. It closes through "I have copied
// it" only: Escape, a click outside it or any other way out first asks, because a
// secret closed away is gone for good (the service keeps no readable copy).
import { $ } from "./dom.js";
import { copyText } from "./copy.js";

const dialog = $("secret-dialog");
let acknowledged = false;
let onClosed = null;

function ask() {
  $("secret-leave").hidden = false;
  $("secret-stay").focus();
}

function stay() {
  $("secret-leave").hidden = true;
  $("copy-secret").focus();
}

function finish() {
  acknowledged = true;
  dialog.close();
}

// Signing out closes every dialog: the secret goes with it, without asking.
export function discardSecret() {
  if (dialog.open) finish();
}

export function showSecret(client, returnFocus) {
  $("shown-secret-client").textContent = `${client.name} (${client.key})`;
  const owner = client.type === "oauth1" ? "consumer" : "client";
  $("secret-warning").textContent = `This secret will not be shown again. Copy it now and give it to the ${owner}'s owner; if it is lost, set a new one.`;
  $("shown-secret").value = client.secret;
  $("copy-status").textContent = "";
  $("secret-leave").hidden = true;
  acknowledged = false;
  onClosed = returnFocus;
  dialog.showModal();
  $("copy-secret").focus();
}

async function copySecret() {
  const copied = await copyText($("shown-secret").value);
  $("copy-status").textContent = copied
    ? "Copied." : "Copying is not allowed here: select the secret and copy it by hand.";
}

// Escape: the browser would close the dialog; ask instead. Cancelling the key
// press stops the close request; the cancel event covers other close requests.
dialog.addEventListener("keydown", (event) => {
  if (event.key === "Escape") {
    event.preventDefault();
    ask();
  }
});
dialog.addEventListener("cancel", (event) => {
  event.preventDefault();
  ask();
});
// A click on the backdrop lands on the dialog element itself.
dialog.addEventListener("click", (event) => {
  if (event.target === dialog) ask();
});
dialog.addEventListener("close", () => {
  if (!acknowledged && $("shown-secret").value) {
    // Closed by a way nothing could intercept: open again and ask.
    dialog.showModal();
    ask();
    return;
  }
  $("shown-secret").value = "";  // gone from the page once the dialog closes
  if (onClosed) onClosed();
  onClosed = null;
});
dialog.querySelector("form").addEventListener("submit", (event) => {
  event.preventDefault();
  finish();
});
$("secret-stay").addEventListener("click", stay);
$("secret-discard").addEventListener("click", finish);
$("copy-secret").addEventListener("click", copySecret);

// The confirmation dialog every approve, disapprove and remove goes through.
import { $ } from "./dom.js";
import { describe } from "./api.js";

const dialog = $("confirm-dialog");
let pending = null;

// Shows the question; `action` runs on confirm. Its error is shown in the dialog,
// which stays open so the administrator can read it or cancel.
// `details`: nodes shown under the question (what changed, the redirect URIs).
export function confirmAction({ title, text, details = [], ok, danger = false, action, returnFocus }) {
  $("confirm-title").textContent = title;
  $("confirm-text").textContent = text;
  $("confirm-details").replaceChildren(...details);
  $("confirm-error").textContent = "";
  const button = $("confirm-ok");
  button.textContent = ok;
  button.disabled = false;
  button.classList.toggle("danger", danger);
  pending = { action, returnFocus };
  dialog.showModal();
  $("confirm-cancel").focus();
}

$("confirm-cancel").addEventListener("click", () => dialog.close());
dialog.addEventListener("close", () => {
  if (dialog.open) return;  // asked again before this event came: that question stands
  if (pending && pending.returnFocus) pending.returnFocus();
  pending = null;
});
dialog.querySelector("form").addEventListener("submit", async (event) => {
  event.preventDefault();
  if (!pending) return;
  const button = $("confirm-ok");
  button.disabled = true;
  try {
    await pending.action();
    dialog.close();
  } catch (error) {
    $("confirm-error").textContent = describe(error);
    button.disabled = false;
  }
});

// Copying text to the clipboard: the Clipboard API where the page is a secure
// context, else the selection of a hidden field (plain http on an internal host).
// And a client's key as the table and the detail view show it: one line, with Copy.
import { h } from "./dom.js";
import { notify } from "./notice.js";

export async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    const field = h("textarea", { class: "visually-hidden", readonly: true, "aria-hidden": "true" });
    field.value = text;
    const focused = document.activeElement;
    (document.querySelector("dialog[open]") || document.body).append(field);
    field.select();
    const copied = document.execCommand("copy");
    field.remove();
    if (focused && focused.focus) focused.focus();
    return copied;
  }
}

export function keyLine(client) {
  return h("span", { class: "key-line" },
    h("code", { class: "key", title: client.key }, client.key),
    h("button", {
      type: "button", class: "copy", "aria-label": `Copy the key of ${client.name}`,
      onclick: async () => notify(await copyText(client.key)
        ? `Key of ${client.name} copied.` : "Copying is not allowed here: select the key and copy it by hand."),
    }, "Copy"));
}

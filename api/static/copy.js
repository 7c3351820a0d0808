// Copying text to the clipboard: the Clipboard API where the page is a secure
// context, else the selection of a hidden field (plain http on an internal host).
import { h } from "./dom.js";

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

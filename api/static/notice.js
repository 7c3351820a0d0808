// Short messages after an action or a failure, where the administrator is looking:
// a live region fixed to the window (read out by screen readers), which fades on
// its own. Errors stay until the next message or a click on Dismiss.
import { $, h } from "./dom.js";

const SHOWN_MS = 6000;
let timer = null;

export function notify(text, kind = "done") {
  const region = $("notice");
  clearTimeout(timer);
  const dismiss = h("button", { type: "button", class: "link", onclick: () => clear() }, "Dismiss");
  region.replaceChildren(h("p", { class: `notice notice-${kind}` }, h("span", {}, text), dismiss));
  if (kind !== "error") timer = setTimeout(clear, SHOWN_MS);
}

export function clear() {
  clearTimeout(timer);
  $("notice").replaceChildren();
}

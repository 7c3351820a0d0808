// Redirect URIs as the page shows them: whole, broken only between their parts,
// and with the host's ASCII (punycode) form beside an internationalised host, so
// a homograph (a Cyrillic "а" for a Latin "a") is visible before anyone approves it.
import { h } from "./dom.js";

// The host as the browser's own URL parser resolves it (IDNA: punycode), when the
// URI spells it otherwise; null for an ASCII host or a URI without one.
export function asciiHost(uri) {
  let url;
  try { url = new URL(uri); } catch { return null; }
  const host = url.hostname;
  if (!host || !host.split(".").some((label) => label.startsWith("xn--"))) return null;
  return uri.toLowerCase().includes(host) ? null : host;
}

// Break opportunities after separators only: a URI never wraps mid-word.
function breakable(uri) {
  const parts = uri.split(/(?<=[/.?&=#:-])/);
  return parts.flatMap((part, index) => (index ? [h("wbr"), part] : [part]));
}

export function uriView(uri) {
  const host = asciiHost(uri);
  return h("span", { class: "uri" },
    h("span", { class: "uri-text", title: uri }, breakable(uri)),
    host && h("span", { class: "ascii-host", title: "The host as the browser resolves it" },
      `host: ${host}`));
}

export function uriList(uris) {
  return h("ul", { class: "plain uris" }, uris.map((uri) => h("li", {}, uriView(uri))));
}

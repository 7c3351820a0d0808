// Where a client came from: an administrator, or a self-registration with its
// initial access token (label and id), as rows and the detail view show it.
import { h } from "./dom.js";

export function originText(client) {
  const origin = client.origin || { kind: "admin" };
  if (origin.kind !== "registration") return "Created by an administrator";
  if (!origin.token_id) return "Self-registered (open registration)";
  return `Self-registered with token ${origin.label || ""} (${origin.token_id})`.replace("  ", " ");
}

// A small mark next to a self-registered client's name; nothing for an administrator's.
export function originBadge(client) {
  const origin = client.origin || { kind: "admin" };
  if (origin.kind !== "registration") return null;
  return h("span", { class: "origin-badge", title: originText(client) }, "Self-registered");
}

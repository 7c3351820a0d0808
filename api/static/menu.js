// The row menu: a button that opens a list of actions (WAI-ARIA menu button pattern).
// Enter, Space or ArrowDown opens it on the first item; arrows, Home and End move;
// Escape or Tab closes it and focus goes back to the button.
import { h } from "./dom.js";

let openMenu = null;

function close(menu, refocus) {
  menu.list.hidden = true;
  menu.button.setAttribute("aria-expanded", "false");
  if (refocus) menu.button.focus();
  if (openMenu === menu) openMenu = null;
}

document.addEventListener("click", (event) => {
  if (openMenu && !openMenu.root.contains(event.target)) close(openMenu, false);
});

// actions: [{ label, run }]; label names the row for screen readers.
export function rowMenu(label, actions) {
  const button = h("button", {
    type: "button", class: "menu-button", "aria-haspopup": "menu", "aria-expanded": "false",
    "aria-label": label,
  }, "⋮");
  const items = actions.map((action) => h("li", { role: "none" },
    h("button", { type: "button", role: "menuitem", tabindex: "-1", class: action.danger ? "danger" : "" },
      action.label)));
  const list = h("ul", { role: "menu", "aria-label": label, class: "menu", hidden: true }, items);
  const root = h("div", { class: "row-menu" }, button, list);
  const menu = { root, button, list };
  const buttons = items.map((item) => item.firstChild);

  const open = (index) => {
    if (openMenu && openMenu !== menu) close(openMenu, false);
    list.hidden = false;
    button.setAttribute("aria-expanded", "true");
    openMenu = menu;
    buttons[(index + buttons.length) % buttons.length].focus();
  };
  button.addEventListener("click", () => (list.hidden ? open(0) : close(menu, true)));
  button.addEventListener("keydown", (event) => {
    if (event.key === "ArrowDown" || event.key === "Enter" || event.key === " ") {
      event.preventDefault();
      open(0);
    } else if (event.key === "ArrowUp") {
      event.preventDefault();
      open(buttons.length - 1);
    }
  });
  buttons.forEach((item, index) => {
    item.addEventListener("click", () => {
      close(menu, true);
      actions[index].run(button);
    });
    item.addEventListener("keydown", (event) => {
      const moves = { ArrowDown: index + 1, ArrowUp: index - 1, Home: 0, End: buttons.length - 1 };
      if (event.key in moves) {
        event.preventDefault();
        buttons[(moves[event.key] + buttons.length) % buttons.length].focus();
      } else if (event.key === "Escape") {
        event.preventDefault();
        close(menu, true);
      } else if (event.key === "Tab") {
        close(menu, false);
      }
    });
  });
  return root;
}

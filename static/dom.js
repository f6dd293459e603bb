// Small DOM helpers shared by the views: building elements (text only through
// textContent), switching views, the live status line, modal dialogs, and
// forms that wait for an answer, and their checks before sending.

import { setMessage } from "/static/i18n.js";

export const byId = (id) => document.getElementById(id);

/**
 * Builds an element. `props`: `text` (textContent), `class`, `dataset`,
 * `message` (a `setMessage` message), `on<event>` listeners, and attributes
 * (`true` for a boolean one; null, undefined and false are left out).
 * Children: nodes and strings (as text), arrays of them; null, undefined and
 * false are left out.
 */
export function el(tag, props = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "text") element.textContent = value;
    else if (name === "class") element.className = value;
    else if (name === "dataset") Object.assign(element.dataset, value);
    else if (name === "message") setMessage(element, value);
    else if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else element.setAttribute(name, value === true ? "" : String(value));
  }
  element.append(...children.flat().filter((child) => child !== null && child !== undefined && child !== false));
  return element;
}

const VIEWS = ["setup-view", "login-view", "notes-view", "settings-view"];

/** Shows one view, hides the others, and moves the focus into it: to
 * `focus` (an element) or else to the view's heading, so that a screen
 * reader announces where the user is. */
export function showView(id, focus = null) {
  for (const view of VIEWS) byId(view).hidden = view !== id;
  const target = focus ?? byId(id).querySelector("h1");
  target?.focus({ preventScroll: false });
}

export function visibleView() {
  return VIEWS.find((view) => !byId(view).hidden) ?? null;
}

let statusTimer = 0;

/** A short confirmation or error in the polite live region `#status`. */
export function announce(message) {
  const status = byId("status");
  clearTimeout(statusTimer);
  setMessage(status, message);
  if (message) statusTimer = setTimeout(() => setMessage(status, null), 6000);
}

/** Opens a modal dialog. When it closes, the focus goes back to where it
 * was, or to `fallback()` when that element is gone (a deleted note). */
export function openDialog(dialog, fallback = () => null) {
  const opener = document.activeElement;
  dialog.addEventListener(
    "close",
    () => {
      const target = opener?.isConnected && !opener.closest("[hidden]") ? opener : fallback();
      target?.focus();
    },
    { once: true },
  );
  dialog.showModal();
}

/** Disables a form's buttons while its request runs. */
export function setBusy(form, busy) {
  form.setAttribute("aria-busy", String(busy));
  for (const button of form.querySelectorAll("button")) button.disabled = busy;
}

/** The server's minimum for a new password (see `Password::parse`). */
const MIN_PASSWORD_CHARS = 8;

/** A message for a form whose fields are left empty or whose new password
 * is too short, with the focus moved there; or null. */
export function checkFields(fields, password = null) {
  const empty = fields.find((field) => !field.value.trim());
  if (empty) {
    empty.focus();
    return { key: "form.required" };
  }
  if (password && [...password.value].length < MIN_PASSWORD_CHARS) {
    password.focus();
    return { key: "form.passwordShort" };
  }
  return null;
}

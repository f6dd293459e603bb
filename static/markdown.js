// Note bodies: Markdown to HTML with the vendored marked (raw HTML in a note
// stays text), then through the vendored DOMPurify, which returns inert DOM
// nodes to insert. Nothing from a note reaches the page without passing
// DOMPurify.

import { Marked } from "/static/vendor/marked/marked.esm.js";
import DOMPurify from "/static/vendor/dompurify/purify.es.mjs";

const ESCAPES = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };
const escape = (text) => String(text).replace(/[&<>"']/g, (c) => ESCAPES[c]);

// `breaks`: a line break in a note is a line break on screen, as people
// writing notes expect.
const marked = new Marked({ gfm: true, breaks: true, async: false });
marked.use({
  renderer: {
    // HTML typed into a note is shown as the text it is, not interpreted:
    // what the user wrote is what they see, and nothing in a note can
    // restyle the page or make it fetch anything.
    html(token) {
      const text = escape(token.text.replace(/\n+$/, ""));
      return token.block ? `<p>${text.replace(/\n/g, "<br>")}</p>\n` : text;
    },
    // Images could only come from this origin (the CSP), which has none to
    // show: an image becomes a link to it.
    image(token) {
      return `<a href="${escape(token.href)}">${escape(token.text || token.href)}</a>`;
    },
  },
});

const PURIFY = {
  USE_PROFILES: { html: true },
  // Forms and styles do not belong in a note (and inline styles would only
  // trip the CSP); the one input is a task list's checkbox (see the hook).
  // `id`, `name`, `class` and `data-*` could collide with the app's own ids
  // and selectors (`#search`, `li.note[data-id]`).
  FORBID_TAGS: ["style", "form", "button", "textarea", "select", "option", "dialog", "img"],
  FORBID_ATTR: ["style", "id", "name", "class", "tabindex", "autofocus"],
  ALLOW_DATA_ATTR: false,
  RETURN_DOM_FRAGMENT: true,
};

DOMPurify.addHook("afterSanitizeAttributes", (node) => {
  if (node.nodeName === "A" && node.hasAttribute("href")) {
    // Links leave the app in a new tab, and tell the other site nothing.
    node.setAttribute("target", "_blank");
    node.setAttribute("rel", "noopener noreferrer");
  } else if (node.nodeName === "INPUT") {
    // A task list item (`- [x] done`): a checkbox to look at, not to use.
    if (node.getAttribute("type") === "checkbox") node.setAttribute("disabled", "");
    else node.remove();
  }
});

/** A note's Markdown as a sanitized DocumentFragment. */
export function renderMarkdown(text) {
  return DOMPurify.sanitize(marked.parse(text ?? ""), PURIFY);
}

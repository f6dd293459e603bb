// The notes view: the list (newest first, paged by the server's
// `Link: rel="next"`, loaded on scroll or by #load-more) and search as you
// type (IME-aware, stale answers dropped). Titles are text; bodies are
// Markdown rendered by markdown.js, which sanitizes them. The editor and the
// delete confirmation are editor.js.

import * as api from "/static/api.js";
import { formatDate, setMessage } from "/static/i18n.js";
import { announce, byId, el } from "/static/dom.js";
import { askDelete, closeEditor, initEditor, openEditor } from "/static/editor.js";

const PAGE_SIZE = 30;
const SEARCH_DELAY_MS = 250;

// marked and DOMPurify (~130 KB) load while the session is checked, so that
// the login view never waits for them. Should they fail to load, bodies show
// as plain text: never as HTML.
let renderMarkdown = null;
const markdownReady = import("/static/markdown.js").then(
  (module) => {
    renderMarkdown = module.renderMarkdown;
  },
  () => {},
);

const state = {
  /** id -> the note as last received, for the editor. */
  notes: new Map(),
  /** The query asked for ("" = all notes), and the one the list shows. */
  query: "",
  shown: "",
  /** URL of the next page, from the Link header; null on the last page. */
  next: null,
  loading: false,
  /** The listing request in flight; a newer one aborts it. */
  controller: null,
  /** Bumped by every listing request: an answer for an older one is dropped. */
  generation: 0,
  /** The last page failed to load: scrolling does not retry it over and
   * over, the button does. */
  failed: false,
};

let composing = false;
let searchTimer = 0;
let observer = null;

const list = () => byId("notes");

export function initNotes() {
  const search = byId("search");
  // Search waits for an IME composition (Korean, Japanese...) to end: one
  // search per syllable, not per keystroke of it.
  search.addEventListener("compositionstart", () => {
    composing = true;
    clearTimeout(searchTimer);
  });
  search.addEventListener("compositionend", () => {
    composing = false;
    scheduleSearch();
  });
  search.addEventListener("input", (event) => {
    if (event.isComposing || composing) return;
    scheduleSearch();
  });
  search.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.isComposing && !composing) {
      event.preventDefault();
      runSearch();
    }
  });

  initEditor();
  byId("new-note").addEventListener("click", () => openEditor(null, showSaved));
  byId("load-more").addEventListener("click", () => {
    state.failed = false;
    loadMore({ announceCount: true });
  });
  list().addEventListener("click", onListClick);

  // Start the next page a little before the button scrolls into view.
  observer = new IntersectionObserver(
    (entries) => {
      if (!state.failed && entries.some((entry) => entry.isIntersecting)) loadMore();
    },
    { rootMargin: "0px 0px 400px 0px" },
  );
  observer.observe(byId("load-more"));

  document.addEventListener("keydown", focusSearchShortcut);
  let resizeTimer = 0;
  window.addEventListener("resize", () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(measureBodies, 200);
  });
}

/** Forgets everything shown (logging out: the next user sees none of it). */
export function resetNotes() {
  state.controller?.abort();
  state.generation += 1;
  state.loading = false;
  clearTimeout(searchTimer);
  composing = false;
  state.notes.clear();
  state.query = "";
  state.shown = "";
  state.next = null;
  state.failed = false;
  byId("search").value = "";
  list().replaceChildren();
  list().setAttribute("aria-busy", "false");
  byId("load-more").hidden = true;
  byId("notes-empty").hidden = true;
  closeEditor();
}

/** Loads the first page for the current query. */
export function loadNotes() {
  return loadFirst();
}

function scheduleSearch() {
  clearTimeout(searchTimer);
  searchTimer = setTimeout(runSearch, SEARCH_DELAY_MS);
}

function runSearch() {
  clearTimeout(searchTimer);
  const query = byId("search").value.trim();
  if (query === state.query) return;
  state.query = query;
  loadFirst();
}

/** `/` focuses the search box, unless the user is typing somewhere. */
function focusSearchShortcut(event) {
  if (event.key !== "/" || event.ctrlKey || event.metaKey || event.altKey || event.isComposing) return;
  if (byId("notes-view").hidden || document.querySelector("dialog[open]")) return;
  const target = event.target instanceof Element ? event.target : null;
  if (target?.closest("input, textarea, select, [contenteditable]")) return;
  event.preventDefault();
  byId("search").focus();
  byId("search").select();
}

function startListing() {
  state.controller?.abort();
  state.controller = new AbortController();
  state.generation += 1;
  state.loading = true;
  list().setAttribute("aria-busy", "true");
  return { signal: state.controller.signal, generation: state.generation };
}

function finishListing() {
  state.loading = false;
  state.controller = null;
  list().setAttribute("aria-busy", "false");
  updateFooter();
  if (state.next && !state.failed) {
    // Observing again reports whether the button is still in view (a short
    // page, a tall screen): if so, the next page loads at once.
    const more = byId("load-more");
    observer.unobserve(more);
    observer.observe(more);
  }
}

async function loadFirst() {
  const { signal, generation } = startListing();
  const query = state.query;
  let url = `/api/notes?limit=${PAGE_SIZE}`;
  if (query) url += `&q=${encodeURIComponent(query)}`;
  try {
    const [{ items, next }] = await Promise.all([api.page(url, { signal }), markdownReady]);
    if (generation !== state.generation) return;
    state.failed = false;
    state.shown = query;
    state.notes.clear();
    state.next = next;
    list().replaceChildren(...items.map(noteItem));
    measureBodies();
    if (query && !next) announce({ key: "notes.resultsCount", args: { count: items.length } });
  } catch (failure) {
    if (generation !== state.generation) return;
    // The list still shows the previous query: say so, so that searching
    // again (Enter, more typing) retries this one.
    state.query = state.shown;
    announce(api.errorMessage(failure));
  } finally {
    if (generation === state.generation) finishListing();
  }
}

async function loadMore({ announceCount = false } = {}) {
  if (!state.next || state.loading) return;
  const url = state.next;
  const { signal, generation } = startListing();
  const button = byId("load-more");
  try {
    const [{ items, next }] = await Promise.all([api.page(url, { signal }), markdownReady]);
    if (generation !== state.generation) return;
    state.failed = false;
    // A note created meanwhile can shift the pages: never show one twice.
    const fresh = items.filter((note) => !state.notes.has(note.id));
    const rendered = fresh.map(noteItem);
    list().append(...rendered);
    state.next = next;
    measureBodies();
    if (announceCount) announce({ key: "notes.moreLoaded", args: { count: fresh.length } });
    // A keyboard user who pressed the button goes on at the first new note
    // when the button disappears.
    if (!next && document.activeElement === button) rendered[0]?.querySelector(".edit-note")?.focus();
  } catch (failure) {
    if (generation !== state.generation) return;
    state.failed = !api.isAbort(failure);
    announce(api.errorMessage(failure));
  } finally {
    if (generation === state.generation) finishListing();
  }
}

function updateFooter() {
  const empty = byId("notes-empty");
  const none = list().children.length === 0;
  empty.hidden = !none;
  if (none) {
    setMessage(empty, state.shown ? { key: "notes.noResults", args: { query: state.shown } } : { key: "notes.empty" });
  }
  byId("load-more").hidden = !state.next;
}

function fillBody(element, markdown) {
  if (renderMarkdown) element.replaceChildren(renderMarkdown(markdown));
  else element.textContent = markdown;
}

function noteItem(note) {
  state.notes.set(note.id, note);
  const titleId = `note-${note.id}-title`;
  const body = el("div", { class: "note-body" });
  fillBody(body, note.body);
  return el(
    "li",
    { class: "note", dataset: { id: note.id } },
    el("h2", { class: "note-title", id: titleId, text: note.title }),
    el(
      "p",
      { class: "note-meta" },
      el("span", { class: "visually-hidden", message: { key: "notes.updated" } }),
      " ",
      el("time", { class: "note-date", datetime: note.updated_at, "data-date": true, text: formatDate(note.updated_at) }),
    ),
    body,
    el(
      "div",
      { class: "note-actions" },
      el("button", {
        type: "button",
        class: "note-expand quiet",
        "aria-expanded": "false",
        hidden: true,
        message: { key: "notes.showMore" },
      }),
      el("button", { type: "button", class: "edit-note", "aria-describedby": titleId, message: { key: "notes.edit" } }),
      el("button", {
        type: "button",
        class: "delete-note danger-quiet",
        "aria-describedby": titleId,
        message: { key: "notes.delete" },
      }),
    ),
  );
}

function itemOf(id) {
  return [...list().children].find((item) => item.dataset.id === String(id)) ?? null;
}

function updateItem(note) {
  state.notes.set(note.id, note);
  const item = itemOf(note.id);
  if (!item) return;
  item.querySelector(".note-title").textContent = note.title;
  const date = item.querySelector(".note-date");
  date.dateTime = note.updated_at;
  date.textContent = formatDate(note.updated_at);
  fillBody(item.querySelector(".note-body"), note.body);
}

/** Long bodies are clamped with a "Show more" button; measured after layout. */
function measureBodies() {
  requestAnimationFrame(() => {
    for (const item of list().children) {
      const body = item.querySelector(".note-body");
      const expand = item.querySelector(".note-expand");
      const expanded = item.classList.contains("expanded");
      const overflows = expanded || body.scrollHeight > body.clientHeight + 1;
      item.classList.toggle("clamped", overflows && !expanded);
      expand.hidden = !overflows;
    }
  });
}

function setExpanded(item, expanded) {
  item.classList.toggle("expanded", expanded);
  const button = item.querySelector(".note-expand");
  button.setAttribute("aria-expanded", String(expanded));
  setMessage(button, { key: expanded ? "notes.showLess" : "notes.showMore" });
}

function onListClick(event) {
  const button = event.target instanceof Element ? event.target.closest("button") : null;
  const item = button?.closest("li.note");
  // Only the note's own buttons: a rendered body holds no buttons, but be sure.
  if (!item || item.parentElement !== list() || button.parentElement?.parentElement !== item) return;
  const id = Number(item.dataset.id);
  const note = state.notes.get(id);
  if (!note) return;
  if (button.classList.contains("edit-note")) openEditor(note, showSaved);
  else if (button.classList.contains("delete-note")) askDelete(note, removeItem);
  else if (button.classList.contains("note-expand")) {
    setExpanded(item, !item.classList.contains("expanded"));
    measureBodies();
  }
}

/** Puts a saved note in the list: a new one on top, a changed one in place. */
async function showSaved(note, created) {
  await markdownReady;
  if (created) {
    list().prepend(noteItem(note));
    updateFooter();
  } else {
    updateItem(note);
  }
  measureBodies();
}

/** Takes a deleted note off the list; returns what to focus instead. */
function removeItem(id) {
  const item = itemOf(id);
  state.notes.delete(id);
  if (!item) return null;
  const neighbour = item.nextElementSibling ?? item.previousElementSibling;
  item.remove();
  updateFooter();
  return neighbour?.querySelector(".edit-note") ?? null;
}

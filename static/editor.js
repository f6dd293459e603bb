// The two dialogs about one note: the editor (#note-dialog), which creates
// or changes a note, and the delete confirmation (#confirm-dialog). They
// talk to the API and hand the outcome back to the list (notes.js).

import * as api from "/static/api.js";
import { setMessage } from "/static/i18n.js";
import { announce, byId, openDialog, setBusy } from "/static/dom.js";

/** The note in the editor (null for a new one), and what to do once saved. */
let editing = null;
let saved = async () => {};
/** The note the confirmation asks about, and what to do once it is gone. */
let deleting = null;
let deleted = () => null;
/** Where the focus goes when the deleted note's button is gone. */
let focusAfterDelete = null;

export function initEditor() {
  const form = byId("note-form");
  form.addEventListener("submit", save);
  form.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey) && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
  byId("note-cancel").addEventListener("click", () => byId("note-dialog").close());
  byId("confirm-yes").addEventListener("click", confirmDelete);
  byId("confirm-no").addEventListener("click", () => byId("confirm-dialog").close());
  byId("confirm-dialog").addEventListener("close", () => {
    deleting = null;
  });
}

/** Opens the editor on `note` (null: a new note). `onSaved(note, created)`
 * puts the answer in the list; the dialog closes once it has. */
export function openEditor(note, onSaved) {
  editing = note?.id ?? null;
  saved = onSaved;
  setMessage(byId("note-dialog-heading"), { key: note ? "editor.editHeading" : "editor.newHeading" });
  byId("note-title").value = note?.title ?? "";
  byId("note-body").value = note?.body ?? "";
  setMessage(byId("note-error"), null);
  openDialog(byId("note-dialog"), () => byId("new-note"));
  byId("note-title").focus();
}

async function save(event) {
  event.preventDefault();
  const form = event.currentTarget;
  const title = byId("note-title");
  const error = byId("note-error");
  if (!title.value.trim()) {
    setMessage(error, { key: "editor.titleRequired" });
    title.focus();
    return;
  }
  setMessage(error, null);
  setBusy(form, true);
  const id = editing;
  const input = { title: title.value, body: byId("note-body").value };
  try {
    const note = id === null ? await api.post("/api/notes", input) : await api.patch(`/api/notes/${id}`, input);
    await saved(note, id === null);
    byId("note-dialog").close();
    announce({ key: id === null ? "status.created" : "status.saved" });
  } catch (failure) {
    setMessage(error, api.errorMessage(failure));
  } finally {
    setBusy(form, false);
  }
}

/** Asks whether to delete `note`. `onDeleted(id)` takes it off the list and
 * returns the element to focus next (or null). */
export function askDelete(note, onDeleted) {
  deleting = note.id;
  deleted = onDeleted;
  focusAfterDelete = null;
  setMessage(byId("confirm-text"), { key: "confirm.body", args: { title: note.title } });
  openDialog(byId("confirm-dialog"), () => focusAfterDelete ?? byId("new-note"));
}

async function confirmDelete() {
  const id = deleting;
  if (id === null) return;
  const yes = byId("confirm-yes");
  yes.disabled = true;
  try {
    await api.del(`/api/notes/${id}`);
    gone(id);
  } catch (failure) {
    if (failure instanceof api.ApiError && failure.status === 404) {
      // Deleted elsewhere already: what the user wanted.
      gone(id);
    } else {
      byId("confirm-dialog").close();
      announce(api.errorMessage(failure));
    }
  } finally {
    yes.disabled = false;
  }
}

function gone(id) {
  focusAfterDelete = deleted(id);
  byId("confirm-dialog").close();
  announce({ key: "status.deleted" });
}

/** Closes both dialogs, unsaved (the session ended). */
export function closeEditor() {
  for (const dialog of [byId("note-dialog"), byId("confirm-dialog")]) {
    if (dialog.open) dialog.close();
  }
  editing = null;
}

// Editing one task in a dialog. Opening it reads the task and its ETag (its version); saving sends
// `If-Match` with that ETag, so a change made meanwhile elsewhere (another tab, another device) is
// never overwritten: the API answers 412, and the dialog says so and shows the task as it is now.

import { call } from "./session.js";
import { apply, focusEdit } from "./tasks.js";
import { $, CORRECT_FIELDS, busy, clearAlert, notify, unmark, values } from "./view.js";

// `base`: the task as the form was filled with it; `mine`: after a 412, the fields the user had
// changed from that base, to put back on request.
// `saving`: a save is under way, whose own change the socket may report before its answer comes.
const editing = { id: null, etag: null, base: null, mine: null, saving: false };
const FIELDS = ["title", "description", "status_task"];

const dialog = () => $("#editor");
const form = () => $("#editor-form");

function say(text) {
  $("#editor-message").textContent = text;
}

/** Shows `task` in the form, holding `etag` for the next save. */
function fill(task, etag) {
  Object.assign(editing, { id: task.id, etag, base: task });
  const fields = form().elements;
  fields.title.value = task.title;
  fields.description.value = task.description;
  fields.status_task.value = task.status_task;
}

let opening = 0;

/** Opens the dialog on the task as the server has it now; of two Edit clicks in quick
 * succession, the later one's task, whichever answer comes last. */
export async function open(id) {
  const ticket = ++opening;
  const { data, etag } = await call(`tasks/${id}/`);
  if (ticket !== opening) return;
  say("");
  unmark(form()); // an earlier task's refused save
  $("#editor-save").disabled = false;
  $("#editor-restore").hidden = true;
  fill(data, etag);
  dialog().showModal();
  form().elements.title.focus();
}

/** A live event about the task being edited: the save will be refused, so say it early. None
 * while a save is under way: the event may be that save's own, and a change from elsewhere makes
 * the save's answer a 412 (or a 404), which says so anyway. */
export function changedElsewhere(message) {
  if (!dialog().open || message.id !== editing.id || editing.saving) return;
  if (message.action === "task_delete") {
    say("This task was deleted elsewhere: there is nothing left to save.");
    $("#editor-save").disabled = true;
    return;
  }
  say("This task was just changed elsewhere: saving now will be refused, and the dialog will show the latest version.");
}

export const close = () => dialog().open && dialog().close();

// However the dialog closes (saved, Cancel, Escape), the focus goes back to the task's Edit button:
// the one that opened it may have been redrawn meanwhile, and the browser's own return of the
// focus would find it gone.
// A refusal's alert above the page goes with the dialog whose fields it pointed to.
dialog().addEventListener("close", () => {
  clearAlert(CORRECT_FIELDS);
  focusEdit(editing.id);
});

/** The dialog's submit: a conditional PATCH. */
export async function save() {
  await busy(form(), async () => {
    const { title, description, status_task } = values(form());
    editing.saving = true;
    try {
      const { data } = await call(`tasks/${editing.id}/`, {
        method: "PATCH",
        headers: { "if-match": editing.etag },
        body: { title, description, status_task },
      });
      apply({ action: "task_update", ...data });
      close();
      notify(`Saved “${data.title}”.`);
    } catch (error) {
      if (error.status === 412) return reload();
      if (error.status === 404) {
        apply({ action: "task_delete", id: editing.id });
        close();
        throw error;
      }
      if (error.status === 400) {
        // The fields it names get their messages beside them, as in the other forms.
        say(CORRECT_FIELDS);
        throw error;
      }
      say(error.message);
    } finally {
      editing.saving = false;
    }
  });
}

/** After a 412: the latest version in the form, why the change was not saved, and a way to put
 * the user's own text back over it (then saved against the latest version, knowingly). */
async function reload() {
  const typed = values(form());
  const mine = Object.fromEntries(FIELDS.filter((f) => typed[f] !== editing.base[f]).map((f) => [f, typed[f]]));
  const { data, etag } = await call(`tasks/${editing.id}/`);
  fill(data, etag);
  editing.mine = mine;
  $("#editor-restore").hidden = false;
  apply({ action: "task_update", ...data });
  say(
    "Not saved: this task was changed elsewhere after you opened it. It now shows the latest version: make your change again, or put yours back, and save.",
  );
  form().elements.title.focus();
}

/** "Put my changes back": the fields the user had changed before the 412, over the latest version. */
export function restore() {
  const fields = form().elements;
  for (const [name, value] of Object.entries(editing.mine ?? {})) fields[name].value = value;
  $("#editor-restore").hidden = true;
  say("Your changes are back, over the latest version: save to keep them.");
  fields.title.focus();
}

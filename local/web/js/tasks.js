// The task list: one page at a time (following the API's `next`/`previous` links), the status
// filter, creating and deleting, and live events applied in place. What an event cannot settle
// locally (a count, a page boundary) is settled by fetching the current page again.

import { call } from "./session.js";
import { $, busy, el, fail, notify, values } from "./view.js";

const PAGE_SIZE = 10;

// `page` is the page last asked for (shown, or still loading), which a re-list fetches again: a
// re-list due while the user moves to another page must not undo the move. `place` gives a page's
// answer its position, `offset` (the index of its first task in the whole list): cursors carry
// none, so it is counted from the moves that led there ("11–20 of 40"), and held to what the
// answer says for sure (the first page starts at 0, the last ends at `count`).
const empty = () => ({ page: null, place: () => 0, offset: 0, results: [], count: 0, next: null, previous: null });
const state = { ...empty(), filter: "" };
let relistTimer = null;
let latestLoad = 0;
let editHandler = () => {};

/** What Edit on a task calls: `(id) => ...`. */
export const onEdit = (handler) => (editHandler = handler);

/** The first page, for the current filter. */
function firstPage() {
  const query = new URLSearchParams({ page_size: PAGE_SIZE });
  if (state.filter) query.set("status_task", state.filter);
  return `tasks/?${query}`;
}

/** Fetches a page (the one last asked for by default) and shows it. */
export async function load(page = state.page ?? firstPage(), place = state.place) {
  const ticket = ++latestLoad;
  const shown = { page: state.page, place: state.place };
  Object.assign(state, { page, place });
  let data;
  try {
    ({ data } = await call(page));
  } catch (error) {
    // Not read: a re-list fetches the page still shown, not the one that failed.
    if (ticket === latestLoad) Object.assign(state, shown);
    throw error;
  }
  if (ticket !== latestLoad) return; // a later load (another page, a re-list) wins
  // A page emptied by deletes (its last tasks deleted here or elsewhere): show the one before.
  if (!data.results.length && data.previous) return load(data.previous, before(place(data)));
  const last = data.count - data.results.length;
  const offset = !data.previous ? 0 : !data.next ? last : Math.max(0, Math.min(place(data), last));
  Object.assign(state, { offset, results: data.results, count: data.count, next: data.next, previous: data.previous });
  render();
}

/** The place of a page that ends where `end` begins. */
const before = (end) => (data) => end - data.results.length;

/** The first page with another status filter ("" for all); the filter stays as it was if that
 * page cannot be read, and the filter in force is answered either way. */
export async function filter(status) {
  const was = state.filter;
  state.filter = status;
  try {
    await load(firstPage(), () => 0);
  } catch (error) {
    state.filter = was;
    throw error;
  }
}

export const currentFilter = () => state.filter;

export function nextPage() {
  const end = state.offset + state.results.length;
  return state.next && load(state.next, () => end);
}
export const previousPage = () => state.previous && load(state.previous, before(state.offset));

/** Forgets everything (on logout). */
export function clear() {
  Object.assign(state, empty(), { filter: "" });
  latestLoad++; // a load still under way is not shown
  clearTimeout(relistTimer);
  render();
}

/** Fetches the current page again soon; several events in a row cost one request. */
function relist() {
  clearTimeout(relistTimer);
  relistTimer = setTimeout(() => load().catch(fail), 300);
}

const matches = (task) => !state.filter || task.status_task === state.filter;
const indexOf = (id) => state.results.findIndex((task) => task.id === id);

/**
 * Applies a WebSocket message (or our own write's answer) to the page. Delivery is at least once,
 * so a task already shown is replaced only by a newer one.
 */
export function apply({ action, ...task }) {
  const at = indexOf(task.id);
  if (action === "task_delete") {
    if (at >= 0) {
      state.results.splice(at, 1);
      state.count -= 1;
    }
    relist();
  } else if (at >= 0) {
    if (Date.parse(task.last_updated) < Date.parse(state.results[at].last_updated)) return;
    if (matches(task)) state.results[at] = task;
    else {
      state.results.splice(at, 1);
      state.count -= 1;
      relist();
    }
  } else if (!matches(task)) {
    return;
  } else if (action === "task_create" && !state.previous && newest(task)) {
    state.results.unshift(task);
    state.count += 1;
    if (state.results.length > PAGE_SIZE) relist();
  } else {
    relist();
  }
  render();
}

/** Whether `task` belongs before every task shown (a late or repeated event may be older). */
const newest = (task) =>
  !state.results.length || Date.parse(task.date_created) >= Date.parse(state.results[0].date_created);

/** The task shown on this page, if it is. */
export const shown = (id) => state.results.find((task) => task.id === id);

function render() {
  const list = $("#task-list");
  const focused = focusedButton(list);
  list.replaceChildren(...state.results.map(item));
  if (focused) refocus(list, focused);
  $("#task-count").textContent = summary();
  // A page button that the new page disables would drop the focus to the page itself: it goes
  // to the other one (the first and last pages), or to the new task's title if both are off.
  const pages = [$("#previous-page"), $("#next-page")];
  const focusedPage = pages.find((page) => page === document.activeElement);
  pages[0].disabled = !state.previous;
  pages[1].disabled = !state.next;
  if (focusedPage?.disabled) (pages.find((page) => !page.disabled) ?? $("#create-form").elements.title).focus();
}

/** What the page shows, announced as it changes: "12 tasks.", or "11–12 of 12 tasks." past one page. */
function summary() {
  const { count, offset, results, filter } = state;
  if (count === 0) return filter ? `No tasks are ${filter}.` : "No tasks yet: add one above.";
  const tasks = `${count === 1 ? "task" : "tasks"}${filter ? ` ${filter}` : ""}`;
  // A page a live event changed shows up to a task more until its re-list: counted as a page.
  const shown = Math.min(results.length, PAGE_SIZE);
  if (!shown || shown >= count) return `${count} ${tasks}.`;
  const start = Math.max(0, Math.min(offset, count - shown));
  return `${start + 1}–${start + shown} of ${count} ${tasks}.`;
}

/** The task button that has the focus, if one has: a redraw puts the focus back on it. */
function focusedButton(list) {
  const button = document.activeElement;
  if (!list.contains(button) || button.tagName !== "BUTTON") return null;
  const task = button.closest("li");
  return { id: task.dataset.id, edit: button.classList.contains("edit"), at: [...list.children].indexOf(task) };
}

/** The focus back on the same button of the same task; if the task left the page, on the Edit
 * button of the one now in its place (or of the last), or on the new task's title if none is left. */
function refocus(list, { id, edit, at }) {
  const tasks = [...list.children];
  const same = tasks.find((task) => task.dataset.id === id);
  const task = same ?? tasks[Math.min(at, tasks.length - 1)];
  const button = task?.querySelector(same && !edit ? "button.delete" : "button.edit");
  (button ?? $("#create-form").elements.title).focus();
}

/** Puts the focus on task `id`'s Edit button after its dialog; on the new task's title if the
 * task is not on the page (deleted meanwhile), rather than nowhere. */
export function focusEdit(id) {
  for (const task of $("#task-list").children) {
    if (task.dataset.id === id) return task.querySelector("button.edit").focus();
  }
  $("#create-form").elements.title.focus();
}

function item(task) {
  const updated = new Date(task.last_updated);
  const slug = task.status_task.toLowerCase().replace(" ", "-");
  return el(
    "li",
    { class: "task", "data-id": task.id },
    el(
      "div",
      { class: "task-head" },
      el("h3", { class: "task-title" }, task.title),
      el("span", { class: `status status-${slug}` }, task.status_task),
    ),
    task.description ? el("p", { class: "task-description" }, task.description) : "",
    el(
      "div",
      { class: "task-foot" },
      el("p", { class: "task-meta" }, "Updated ", el("time", { datetime: task.last_updated }, updated.toLocaleString())),
      button("Edit", `Edit “${task.title}”`, "edit", () => editHandler(task.id)),
      button("Delete", `Delete “${task.title}”`, "delete danger", () => remove(task)),
    ),
  );
}

function button(text, label, className, onClick) {
  const node = el("button", { type: "button", class: className, "aria-label": label }, text);
  node.addEventListener("click", () => Promise.resolve(onClick()).catch(fail));
  return node;
}

/** A fresh idempotency key: a random UUID where the browser has one, else 128 random bits. */
function newKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** The create form's submit. */
export async function create(form) {
  await busy(form, async () => {
    const { title, description, status_task } = values(form);
    const body = { title, description, status_task };
    // One Idempotency-Key per intended task: submitting the same fields again after a timeout or
    // an error creates the task at most once; changed fields are a new task, with a new key.
    const fields = JSON.stringify(body);
    if (form.dataset.keyFor !== fields) {
      form.dataset.key = newKey();
      form.dataset.keyFor = fields;
    }
    const headers = { "idempotency-key": form.dataset.key };
    const { data } = await call("tasks/", { method: "POST", body, headers });
    delete form.dataset.keyFor;
    apply({ action: "task_create", ...data });
    form.reset();
    form.elements.title.focus();
    notify(`Added “${data.title}”.`);
  });
}

async function remove(task) {
  if (!confirm(`Delete “${task.title}”? This cannot be undone.`)) return;
  try {
    await call(`tasks/${task.id}/`, { method: "DELETE" });
    apply({ action: "task_delete", id: task.id });
    notify(`Deleted “${task.title}”.`);
  } catch (error) {
    if (error.status === 404) relist();
    throw error;
  }
}

// DOM helpers the other modules share: building elements, the status options, notices, busy forms.

/** The task statuses, in the order people work through them. */
export const STATUSES = ["TO DO", "IN PROGRESS", "DONE"];

export const $ = (selector) => document.querySelector(selector);

/** An element with attributes (`class`, `data-*`, `aria-*`, ...) and children (nodes or text). */
export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value !== undefined && value !== null) node.setAttribute(name, value);
  }
  node.append(...children);
  return node;
}

/** Fills a <select> with the statuses, after an "All" option when `all` is given. */
export function fillStatuses(select, all) {
  const options = STATUSES.map((status) => el("option", { value: status }, status));
  if (all) options.unshift(el("option", { value: "" }, all));
  select.replaceChildren(...options);
}

/** What a form's refusal says above it; its fields say the rest. */
export const CORRECT_FIELDS = "Please correct the fields marked below.";

// Whether the alert shown says the API could not be reached or could not answer (no answer, a
// 5xx), which a restored connection takes down; any other alert stays until the next action.
let outageShown = false;

/** A polite message for things that went well. */
export function notify(text) {
  $("#error").textContent = "";
  $("#notice").textContent = text;
  outageShown = false;
}

/** Takes down an alert that said the API was out of reach, once the connection is back. */
export function clearOutage() {
  if (outageShown) $("#error").textContent = "";
  outageShown = false;
}

/** Takes down the alert if it says `text`. */
export function clearAlert(text) {
  if ($("#error").textContent === text) $("#error").textContent = "";
}

/** An alert for things that did not. */
export function fail(error) {
  $("#notice").textContent = "";
  $("#error").textContent = error?.message ?? String(error);
  outageShown = error?.status === 0 || error?.status >= 500;
}

/**
 * Marks the fields of `form` that an API error names (`{"field": ["message", ...]}`): each gets
 * `aria-invalid` and its messages beside it; marks from before are cleared. Answers the first
 * field marked in the form's order (the answer's own order is the server's, not the page's), if
 * any.
 */
function markFields(form, error) {
  form.querySelectorAll(".field-error").forEach((node) => node.remove());
  form.querySelectorAll("[aria-invalid]").forEach((field) => field.removeAttribute("aria-invalid"));
  for (const [name, messages] of Object.entries(error?.body ?? {})) {
    const field = form.elements.namedItem(name);
    if (!Array.isArray(messages) || !(field instanceof HTMLElement)) continue;
    field.setAttribute("aria-invalid", "true");
    field.closest("label")?.append(el("small", { class: "field-error" }, messages.join(" ")));
  }
  return [...form.elements].find((field) => field.getAttribute("aria-invalid") === "true") ?? null;
}

/** Takes the marks of an earlier error off `form`'s fields. */
export const unmark = (form) => markFields(form, null);

/**
 * Runs `action` with the form's buttons disabled; reports a failure instead of throwing, beside
 * the fields it names. Focus goes back where it was (a disabled button drops it), or to the first
 * field to correct.
 */
export async function busy(form, action) {
  const buttons = form.querySelectorAll("button");
  const focused = document.activeElement;
  let invalid = null;
  buttons.forEach((button) => (button.disabled = true));
  try {
    const result = await action();
    markFields(form, null);
    return result;
  } catch (error) {
    invalid = markFields(form, error);
    fail(invalid ? new Error(CORRECT_FIELDS) : error);
  } finally {
    buttons.forEach((button) => (button.disabled = false));
    const target = invalid ?? (document.activeElement === document.body ? focused : null);
    if (target?.isConnected && !target.closest("[hidden]")) target.focus();
  }
}

/** A form's fields as an object of strings. */
export const values = (form) => Object.fromEntries(new FormData(form));

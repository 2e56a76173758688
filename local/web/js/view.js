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

/** A polite message for things that went well. */
export function notify(text) {
  $("#error").textContent = "";
  $("#notice").textContent = text;
}

/** Takes an alert down once what it said no longer holds (the connection is back). */
export function clearError() {
  $("#error").textContent = "";
}

/** An alert for things that did not. */
export function fail(error) {
  $("#notice").textContent = "";
  $("#error").textContent = error?.message ?? String(error);
}

/** Runs `action` with the form's buttons disabled; reports a failure instead of throwing. */
export async function busy(form, action) {
  const buttons = form.querySelectorAll("button");
  buttons.forEach((button) => (button.disabled = true));
  try {
    return await action();
  } catch (error) {
    fail(error);
  } finally {
    buttons.forEach((button) => (button.disabled = false));
  }
}

/** A form's fields as an object of strings. */
export const values = (form) => Object.fromEntries(new FormData(form));

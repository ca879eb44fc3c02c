// The page's one status line (announced to screen readers).
import { $ } from "./dom.js";

export function showError(message) {
  $("status").textContent = message;
}

export function clearStatus() { $("status").textContent = ""; }

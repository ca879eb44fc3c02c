// Start-up: language, API key dialog, page switching (#chat, #models, …).
import { apiKey, json, setApiKey, whenUnauthorized } from "./api.js";
import * as apps from "./apps.js";
import * as chat from "./chat.js";
import * as documents from "./documents.js";
import { $ } from "./dom.js";
import { applyStatic, currentLang, setLang, t } from "./i18n.js";
import * as models from "./models.js";
import * as operations from "./operations.js";
import { clearStatus, showError } from "./status.js";

const PAGES = { chat, models, documents, operations, apps };
let features = {};

function askForKey() {
  const dialog = $("key-dialog");
  if (!dialog.open) { $("key-input").value = apiKey(); dialog.showModal(); }
  showError(t("keyNeeded"));
}

async function show(page) {
  if (!PAGES[page] || (page === "documents" && features.rag === false)
      || (page === "models" && features.models_admin === false)
      || (page === "apps" && !features.apps?.length)) page = "chat";
  for (const name of Object.keys(PAGES)) {
    $(`page-${name}`).hidden = name !== page;
    const link = document.querySelector(`a[data-page="${name}"]`);
    if (name === page) link.setAttribute("aria-current", "page"); else link.removeAttribute("aria-current");
  }
  for (const name of Object.keys(PAGES)) if (name !== page) PAGES[name].leave?.();
  try {
    await PAGES[page].refresh();
    clearStatus();
  } catch (err) {
    if (err.status !== 401) showError(err.message + (err.hint ? ` (${err.hint})` : ""));
  }
  document.body.dataset.ready = page; // tests wait for this
  if (!performance.getEntriesByName("slm-ready").length) performance.mark("slm-ready");
}

async function loadFeatures() {
  try { features = await json("/v1/ui/features"); } catch { features = {}; }
  document.querySelector('a[data-page="documents"]').parentElement.hidden = features.rag === false;
  document.querySelector('a[data-page="models"]').parentElement.hidden = features.models_admin === false;
  document.querySelector('a[data-page="apps"]').parentElement.hidden = !features.apps?.length;
}

async function start() {
  applyStatic();
  $("lang").value = currentLang();
  $("lang").addEventListener("change", () => setLang($("lang").value));
  whenUnauthorized(askForKey);
  $("key-button").addEventListener("click", askForKey);
  $("key-cancel").addEventListener("click", () => $("key-dialog").close());
  $("key-form").addEventListener("submit", async () => {
    setApiKey($("key-input").value.trim());
    await loadFeatures();
    await show(location.hash.slice(1) || "chat");
  });
  for (const page of Object.values(PAGES)) page.init();
  window.addEventListener("hashchange", () => show(location.hash.slice(1) || "chat"));
  await loadFeatures();
  await show(location.hash.slice(1) || "chat");
}

start();

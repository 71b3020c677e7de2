// The coding hall's label page `/labels` (operator or device token in `#token=…`): a pilgrim's
// bag labels, drawn by the service (tagging/labels.py: ITF of the tag, QR of the payload), shown
// as images (an SVG in an <img> runs nothing) and printed one per 100 × 50 mm label.
import { $, el } from "./pagekit.js";
import ar from "./i18n/label/ar.json";
import en from "./i18n/label/en.json";

const CATALOGUES = { en, ar };
const TOKEN_KEY = "tariq-label-token";
const state = { lang: "en", token: null, shown: 0 };
window.tariq = state; // read by the browser tests

const t = (key, vars = {}) =>
  (CATALOGUES[state.lang][key] ?? en[key] ?? key).replace(/\{(\w+)\}/g, (_, k) => String(vars[k] ?? ""));

function applyLang() {
  document.documentElement.lang = state.lang;
  document.documentElement.dir = state.lang === "ar" ? "rtl" : "ltr";
  for (const node of document.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
}

async function show(pilgrimId, labelLang) {
  $("#problem").textContent = "";
  $("#sheet").replaceChildren();
  $("#print").hidden = true;
  $("#count").textContent = "";
  const response = await fetch(
    `/api/pilgrims/${encodeURIComponent(pilgrimId)}/labels?lang=${encodeURIComponent(labelLang)}`,
    { headers: { Authorization: `Bearer ${state.token}` } },
  );
  if (response.status === 401 || response.status === 403) {
    $("#problem").textContent = t("signin");
    return;
  }
  if (!response.ok) {
    $("#problem").textContent = t("none");
    return;
  }
  const body = await response.json();
  const images = [];
  for (const label of body.labels) {
    if (label.error) {
      $("#problem").textContent = t("error", { tag: label.tag, reason: label.error });
      continue;
    }
    const src = "data:image/svg+xml;charset=utf-8," + encodeURIComponent(label.svg);
    images.push(el("img", { src, alt: label.tag, "data-tag": label.tag }));
  }
  $("#sheet").replaceChildren(...images);
  state.shown = images.length;
  $("#count").textContent = t("count", { n: images.length });
  $("#print").hidden = images.length === 0;
}

function start() {
  const asked = new URLSearchParams(location.search).get("lang");
  state.lang = asked === "ar" ? "ar" : "en";
  const fromHash = new URLSearchParams(location.hash.slice(1)).get("token");
  if (fromHash) {
    localStorage.setItem(TOKEN_KEY, fromHash);
    history.replaceState(null, "", location.pathname + location.search);
  }
  state.token = localStorage.getItem(TOKEN_KEY);
  applyLang();
  $("#label-lang").value = state.lang;
  if (!state.token) {
    $("#signin").hidden = false;
    $("#find").hidden = true;
    return;
  }
  $("#lang-toggle").addEventListener("click", () => {
    state.lang = state.lang === "ar" ? "en" : "ar";
    applyLang();
  });
  $("#find").addEventListener("submit", (event) => {
    event.preventDefault();
    show($("#pilgrim").value.trim(), $("#label-lang").value);
  });
  $("#print").addEventListener("click", () => window.print());
}

start();

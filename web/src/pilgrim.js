// The pilgrim's page `/p/{link}`: where each of my bags is, in my language. Polls
// `/p/{link}/data` every 15 s (with an ETag, so an unchanged answer costs a few bytes), and at
// once when the phone comes back online or the page is shown again.
import {
  $,
  LANGUAGES,
  applyLanguage,
  el,
  fmtClock,
  fmtNumber,
  isLanguage,
  loadCatalogue,
  ltr,
} from "./pagekit.js";

const POLL_MS = 15_000;
const LANG_KEY = "tariq-pilgrim-lang";
const link = location.pathname.split("/")[2] || "";
const state = { lang: null, data: null, etag: null, fetchedAt: null, offline: false, polls: 0 };
window.tariq = state; // read by the browser tests

function askedLanguage() {
  const asked = new URLSearchParams(location.search).get("lang");
  if (isLanguage(asked)) return asked;
  const stored = localStorage.getItem(LANG_KEY);
  return isLanguage(stored) ? stored : null;
}

async function setLanguage(lang) {
  try {
    await loadCatalogue(lang);
  } catch {
    lang = "en"; // offline before this catalogue was ever loaded: English is bundled
  }
  state.lang = lang;
  $("#lang").value = lang;
  render();
}

function placeText(t, where) {
  if (!where) return "";
  if (where.kind === "hotel") return where.name;
  if (where.code === "JED" || where.code === "MED") return t(`place.${where.code}`);
  return t("place.airport", { code: where.code });
}

function bagItem(t, bag) {
  const item = el("li", { class: "bag", "data-tag": bag.tag, "data-stage": bag.stage });
  item.append(
    el("div", { class: "tagline" }, el("span", { text: t("tag") }), ltr(bag.tag, "id tag")),
    el("p", { class: "stage", text: t(`stage.${bag.stage}`, { place: placeText(t, bag.where) }) }),
  );
  if (bag.on_truck && bag.eta_minutes !== null && bag.eta_minutes !== undefined) {
    const minutes = fmtNumber(state.lang, bag.eta_minutes);
    const eta = bag.eta_minutes <= 2 ? t("eta.soon") : t("eta.minutes", { minutes });
    item.append(el("p", { class: "eta", text: eta }));
  }
  if (bag.on_truck && bag.eta_uncertain) {
    item.append(el("p", { class: "uncertain", text: t("eta.uncertain") }));
  }
  if (bag.hotel && bag.stage !== "delivered" && bag.stage !== "claimed") {
    item.append(el("p", { class: "dest", text: t("hotel_of_bag", { hotel: bag.hotel }) }));
  }
  if (bag.attention) item.append(el("p", { class: "attention", text: t("attention") }));
  return item;
}

function render() {
  const t = applyLanguage(state.lang || "en");
  const data = state.data;
  const status = $("#status");
  status.dataset.state = state.offline ? "offline" : data ? "live" : "loading";
  const at = fmtClock(state.lang, state.fetchedAt);
  status.textContent = !data ? "" : state.offline ? t("offline", { time: at }) : t("updated", { time: at });
  if (!data) return;
  $("#hello").textContent = data.given_name ? t("hello", { name: data.given_name }) : t("hello.anon");
  $("#hotel").textContent = data.hotel ? t("your_hotel", { hotel: data.hotel }) : "";
  const message = $("#message");
  message.hidden = data.bags.length > 0;
  message.textContent = t("none");
  $("#bags").replaceChildren(...data.bags.map((bag) => bagItem(t, bag)));
  const missing = $("#missing");
  missing.hidden = data.bags.length === 0;
  $("#missing-tags").replaceChildren(...data.bags.map((bag) => el("li", {}, ltr(bag.tag))));
  const call = $("#call");
  call.replaceChildren();
  if (data.help_phone) {
    const number = ltr(data.help_phone);
    const anchor = el("a", { href: `tel:${data.help_phone.replace(/[^0-9+]/g, "")}` }, number);
    const [before, after] = t("missing.call", { phone: "\u0000" }).split("\u0000");
    call.append(before, anchor, after ?? "");
  }
}

function showGone() {
  const t = applyLanguage(state.lang || "en");
  state.data = null;
  $("#bags").replaceChildren();
  $("#missing").hidden = true;
  $("#message").hidden = false;
  $("#message").textContent = t("notfound");
  $("#status").textContent = "";
}

async function poll() {
  state.polls += 1;
  try {
    const headers = state.etag ? { "If-None-Match": state.etag } : {};
    const response = await fetch(`/p/${encodeURIComponent(link)}/data`, { headers, cache: "no-cache" });
    if (response.status === 404) {
      showGone();
      return;
    }
    if (response.status === 200) {
      state.data = await response.json();
      state.etag = response.headers.get("ETag");
      if (!state.lang) await setLanguage(askedLanguage() || state.data.lang || "en");
    } else if (response.status !== 304) {
      throw new Error(`status ${response.status}`); // 429, 5xx: keep what we have
    }
    state.fetchedAt = new Date().toISOString();
    state.offline = false;
  } catch {
    state.offline = true;
  }
  render();
}

function start() {
  const select = $("#lang");
  for (const [code, name] of Object.entries(LANGUAGES)) {
    select.append(el("option", { value: code, lang: code, text: name }));
  }
  select.addEventListener("change", async () => {
    const lang = select.value;
    localStorage.setItem(LANG_KEY, lang);
    const url = new URL(location.href);
    url.searchParams.set("lang", lang);
    history.replaceState(null, "", url.pathname + url.search);
    await setLanguage(lang);
  });
  const asked = askedLanguage();
  if (asked) setLanguage(asked);
  poll();
  setInterval(poll, POLL_MS);
  window.addEventListener("online", poll);
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") poll();
  });
}

start();

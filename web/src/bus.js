// The in-bus screen `/bus/{vehicle_id}` (operator token, or the bus's device token, in the URL
// fragment `#token=…`): next stop, ETA (marked uncertain while the bus is stalled), and each
// passenger's bags in plain words, rotating through the passengers' languages. The content
// comes from `/bus/{id}/data`; the live feed `/ws/bus/{id}` says when to read it again.
import { $, applyLanguage, el, fmtNumber, loadCatalogue, ltr, translator } from "./pagekit.js";

const ROTATE_MS = Number(new URLSearchParams(location.search).get("rotate")) || 8_000;
const TOKEN_KEY = "tariq-bus-token";
const vehicleId = decodeURIComponent(location.pathname.split("/")[2] || "");
const state = { data: null, langs: ["en"], turn: 0, lang: "en", fetches: 0, feed: "connecting" };
window.tariq = state; // read by the browser tests

function takeToken() {
  const fromHash = new URLSearchParams(location.hash.slice(1)).get("token");
  if (fromHash) {
    localStorage.setItem(TOKEN_KEY, fromHash);
    history.replaceState(null, "", location.pathname + location.search);
  }
  return localStorage.getItem(TOKEN_KEY);
}

function placeText(t, where) {
  if (!where) return "";
  if (where.kind === "hotel") return where.name;
  if (where.code === "JED" || where.code === "MED") return t(`place.${where.code}`);
  return t("place.airport", { code: where.code });
}

function passengerCard(t, passenger) {
  const bags = passenger.bags.map((bag) =>
    el(
      "li",
      { "data-tag": bag.tag, "data-stage": bag.stage },
      ltr(bag.tag, "id tag"),
      el("span", { class: "words", text: t(`stage.${bag.stage}`, { place: placeText(t, bag.where) }) }),
    ),
  );
  if (bags.length === 0) bags.push(el("li", { class: "words", text: t("bus.nobags") }));
  const heading = t("bus.pilgrim", { id: "\u0000" }).split("\u0000");
  return el(
    "li",
    { class: "passenger", "data-pilgrim": passenger.pilgrim_id },
    el("h2", {}, heading[0], ltr(passenger.pilgrim_id), heading[1] ?? ""),
    el("ul", {}, ...bags),
  );
}

function render() {
  const t = applyLanguage(state.lang);
  $("#bus-id").textContent = vehicleId;
  const data = state.data;
  if (!data) return;
  $("#next").textContent = data.next_stop ? t("bus.next", { stop: data.next_stop }) : t("bus.no_stop");
  const eta = $("#eta");
  eta.dataset.uncertain = String(Boolean(data.eta_uncertain));
  if (data.eta_uncertain) eta.textContent = t("bus.eta_uncertain");
  else if (data.eta_minutes !== null && data.next_stop)
    eta.textContent = t("bus.eta", { minutes: fmtNumber(state.lang, data.eta_minutes) });
  else eta.textContent = "";
  $("#message").hidden = data.passengers.length > 0;
  $("#message").textContent = t("bus.empty");
  $("#passengers").replaceChildren(...data.passengers.map((p) => passengerCard(t, p)));
  $("#langs").textContent = state.langs.join(" · ");
}

function fail(key) {
  state.data = null;
  const t = translator(state.lang);
  $("#passengers").replaceChildren();
  $("#message").hidden = false;
  $("#message").textContent = t(key);
  $("#message").dataset.problem = key;
}

async function refresh(token) {
  state.fetches += 1;
  let response;
  try {
    response = await fetch(`/bus/${encodeURIComponent(vehicleId)}/data`, {
      headers: { Authorization: `Bearer ${token}` },
      cache: "no-store",
    });
  } catch {
    return; // offline: keep showing what we have
  }
  if (response.status === 404) return fail("bus.unknown");
  if (response.status === 401 || response.status === 403) return fail("bus.signin");
  if (!response.ok) return;
  state.data = await response.json();
  const langs = state.data.languages.length ? state.data.languages : ["en"];
  await Promise.all(langs.map((lang) => loadCatalogue(lang).catch(() => null)));
  state.langs = langs;
  if (!langs.includes(state.lang)) state.lang = langs[0];
  render();
}

function connect(token, onChange) {
  let delay = 1_000;
  const open = () => {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const socket = new WebSocket(
      `${scheme}://${location.host}/ws/bus/${encodeURIComponent(vehicleId)}?token=${encodeURIComponent(token)}`,
    );
    socket.onopen = () => {
      delay = 1_000;
      state.feed = "live";
      $("#feed").dataset.state = "live";
    };
    socket.onmessage = onChange;
    socket.onclose = () => {
      state.feed = "reconnecting";
      $("#feed").dataset.state = "reconnecting";
      setTimeout(open, delay);
      delay = Math.min(delay * 2, 30_000);
    };
  };
  open();
}

function start() {
  const token = takeToken();
  render();
  if (!token) return fail("bus.signin");
  let pending = null;
  const soon = () => {
    if (pending === null) pending = setTimeout(() => ((pending = null), refresh(token)), 500);
  };
  refresh(token).then(() => {
    if (state.data) connect(token, soon);
  });
  setInterval(() => refresh(token), 30_000);
  setInterval(() => {
    if (state.langs.length < 2) return;
    state.turn = (state.turn + 1) % state.langs.length;
    state.lang = state.langs[state.turn];
    render();
  }, ROTATE_MS);
}

start();

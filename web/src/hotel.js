// The hotel page: this hotel's expected bags, trucks on the way, deliveries, alerts, notices.
// It only ever receives this hotel's data (the feed is scoped by the token); it also drops
// anything naming another hotel, and never shows pilgrim names (ids are enough here).
import { $, apiGet, connectFeed, el, fmtNumber, fmtTime, initLang, label, scrub, signIn, t, takeToken } from "./common.js";
import { STAGES } from "./i18n.js";

const TOKEN_KEY = "tariq-hotel-token";
const BAG_ROWS = 500;
const RANK = Object.fromEntries(STAGES.map((s, i) => [s, i]));
const isDelivered = (bag) => RANK[bag.stage] >= RANK.delivered;

const state = { hotelId: null, bags: new Map(), notices: new Map(), alerts: new Map() };
window.tariq = { state };

function mine(item) {
  return !item.hotel_id || item.hotel_id === state.hotelId;
}

function handle(raw) {
  const msg = scrub(JSON.parse(raw));
  if (msg.kind === "snapshot") {
    state.hotelId = msg.hotel_id;
    state.bags.clear();
    state.notices.clear();
    state.alerts.clear();
    applyBags(msg.bags || []);
    for (const notice of msg.notices || []) if (mine(notice)) state.notices.set(notice.notice_id, notice);
    applyAlerts(msg.alerts || []);
  } else if (msg.kind === "bags") {
    applyBags(msg.bags || []);
  } else if (msg.kind === "notice" && msg.notice && mine(msg.notice)) {
    state.notices.set(msg.notice.notice_id, msg.notice);
  } else if (msg.kind === "alerts") {
    applyAlerts(msg.alerts || []);
  }
  render();
}

function applyBags(bags) {
  for (const bag of bags) {
    if (!mine(bag)) {
      // Re-coded for another hotel: no longer ours to show.
      state.bags.delete(bag.tag);
      continue;
    }
    const { name: _name, ...kept } = bag;
    state.bags.set(bag.tag, { ...state.bags.get(bag.tag), ...kept });
  }
}

function applyAlerts(alerts) {
  for (const alert of alerts) {
    if (alert.hotel_id !== state.hotelId || alert.status === "resolved") state.alerts.delete(alert.alert_id);
    else state.alerts.set(alert.alert_id, alert);
  }
}

function trucksOnTheWay() {
  const trucks = new Map();
  const notices = [...state.notices.values()].sort((a, b) => (a.created_at || "").localeCompare(b.created_at || ""));
  for (const notice of notices) {
    if (notice.kind !== "bags_en_route") continue;
    const waiting = (notice.tags || []).filter((tag) => !state.bags.get(tag) || !isDelivered(state.bags.get(tag)));
    if (waiting.length) trucks.set(notice.vehicle_id, { vehicle_id: notice.vehicle_id, eta: notice.eta, tags: waiting });
    else trucks.delete(notice.vehicle_id);
  }
  return [...trucks.values()].sort((a, b) => (a.eta || "").localeCompare(b.eta || ""));
}

function render() {
  const bags = [...state.bags.values()];
  const delivered = bags.filter(isDelivered).length;
  const onTruck = bags.filter((b) => b.stage === "truck_loaded").length;
  $("#hotel-id").textContent = state.hotelId ?? "—";
  $("#cards").replaceChildren(
    card("hotel.expected", bags.length - delivered, "expected"),
    card("hotel.en_route", onTruck, "en-route"),
    card("hotel.delivered", delivered, "delivered"),
    card("hotel.alerts", state.alerts.size, "alerts"),
  );
  renderGroups(bags);
  renderTrucks();
  renderBags(bags);
  renderAlerts();
  renderNotices();
}

const card = (key, n, cls) => el("div", { class: `card ${cls}` }, el("b", { text: fmtNumber(n) }), t(key));

function renderGroups(bags) {
  const groups = new Map();
  for (const bag of bags) {
    const key = `${bag.flight_id ?? "—"}\u0000${bag.group_id ?? "—"}`;
    const row = groups.get(key) || { flight: bag.flight_id ?? "—", group: bag.group_id ?? "—", total: 0, truck: 0, delivered: 0 };
    row.total++;
    if (bag.stage === "truck_loaded") row.truck++;
    if (isDelivered(bag)) row.delivered++;
    groups.set(key, row);
  }
  const rows = [...groups.values()].sort((a, b) => a.flight.localeCompare(b.flight) || a.group.localeCompare(b.group));
  $("#groups").replaceChildren(
    el("thead", {}, el("tr", {}, ...["field.flight", "field.group", "field.bags", "hotel.en_route", "hotel.delivered"].map((k) => el("th", { text: t(k) })))),
    el(
      "tbody",
      {},
      ...(rows.length
        ? rows.map((r) => el("tr", { "data-flight": r.flight }, el("td", { text: r.flight }), el("td", { text: r.group }), el("td", { text: fmtNumber(r.total) }), el("td", { text: fmtNumber(r.truck) }), el("td", { text: fmtNumber(r.delivered) })))
        : [el("tr", {}, el("td", { colspan: 5, class: "empty", text: t("hotel.none") }))]),
    ),
  );
}

function renderTrucks() {
  const trucks = trucksOnTheWay();
  $("#trucks").replaceChildren(
    ...(trucks.length
      ? trucks.map((tr) => el("li", { "data-vehicle": tr.vehicle_id }, el("b", { text: tr.vehicle_id }), ` · ${fmtNumber(tr.tags.length)} ${t("field.bags")} · ${t("field.eta")} ${fmtTime(tr.eta)}`))
      : [el("li", { class: "empty", text: t("hotel.trucks_none") })]),
  );
}

function renderBags(bags) {
  const q = $("#bag-filter").value.trim().toUpperCase();
  const shown = bags
    .filter((b) => !q || [b.tag, b.pilgrim_id, b.flight_id].some((v) => (v || "").toUpperCase().includes(q)))
    .sort((a, b) => (b.updated_at || "").localeCompare(a.updated_at || ""));
  $("#bags").replaceChildren(
    el("thead", {}, el("tr", {}, ...["field.tag", "field.pilgrim", "field.flight", "field.stage", "field.location", "field.updated"].map((k) => el("th", { text: t(k) })))),
    el(
      "tbody",
      {},
      ...shown.slice(0, BAG_ROWS).map((b) =>
        el("tr", { class: "bag", "data-tag": b.tag }, el("td", { text: b.tag }), el("td", { text: b.pilgrim_id ?? "—" }), el("td", { text: b.flight_id ?? "—" }), el("td", { text: label("stage", b.stage) }), el("td", { text: b.location ?? "—" }), el("td", { text: fmtTime(b.updated_at) })),
      ),
    ),
  );
}

function renderAlerts() {
  const alerts = [...state.alerts.values()].sort((a, b) => (b.raised_at || "").localeCompare(a.raised_at || ""));
  $("#alerts").replaceChildren(
    ...(alerts.length
      ? alerts.map((a) => el("li", { class: "alert", "data-alert-id": a.alert_id }, el("b", { text: label("alert", a.type) }), ` ${[a.tag, a.vehicle_id].filter(Boolean).join(" · ")} · ${fmtTime(a.raised_at)}`))
      : [el("li", { class: "empty", text: t("alerts.none") })]),
  );
}

function renderNotices() {
  const notices = [...state.notices.values()].sort((a, b) => (b.created_at || "").localeCompare(a.created_at || ""));
  $("#notices").replaceChildren(
    ...(notices.length
      ? notices.slice(0, 200).map((n) => el("li", { "data-notice": n.notice_id }, el("b", { text: t(`notice.${n.kind}`) }), ` · ${n.vehicle_id ?? ""} · ${fmtNumber((n.tags || []).length)} ${t("field.bags")} · ${fmtTime(n.created_at)}`))
      : [el("li", { class: "empty", text: t("hotel.notices_none") })]),
  );
}

// A hotel token is checked by the feed itself (any API probe would be a 403 for a hotel):
// a refused connection brings the sign-in box back.
const checkHotel = async () => null;

async function start() {
  initLang(render);
  render();
  $("#bag-filter").addEventListener("input", render);
  $("#signout").addEventListener("click", () => {
    localStorage.removeItem(TOKEN_KEY);
    location.reload();
  });
  let token = takeToken(TOKEN_KEY);
  if (!token) token = await signIn(TOKEN_KEY, checkHotel, null);
  const feed = $("#feed");
  connectFeed("/ws/hotel", token, {
    onMessage: handle,
    onStatus: (s) => {
      feed.dataset.state = s;
      feed.textContent = t(`feed.${s}`);
    },
    onRefused: async () => {
      localStorage.removeItem(TOKEN_KEY);
      await signIn(TOKEN_KEY, checkHotel, "signin.refused");
      location.reload();
    },
  });
}

start();

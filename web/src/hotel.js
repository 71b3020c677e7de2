// The hotel page: this hotel's expected bags, trucks on the way, deliveries, alerts, notices,
// and the other hotels' bags that ended up here ("not ours").
// It only ever receives this hotel's data (the feed is scoped by the token); it never shows
// pilgrim names (ids are enough here), and of another hotel's bag only its tag and hotel.
import { $, apiGet, apiPost, connectFeed, el, fmtNumber, fmtTime, initLang, label, loadTimeZone, scrub, signIn, t, takeToken, timeEl, tn } from "./common.js";
import { STAGES } from "./i18n.js";

const TOKEN_KEY = "tariq-hotel-token";
const BAG_ROWS = 500;
const RANK = Object.fromEntries(STAGES.map((s, i) => [s, i]));
// A truck is late when its current ETA is this much after the one first announced.
const LATE_MS = 10 * 60 * 1000;
// The forecast is asked for again after a change on the feed, at most this often.
const FORECAST_EVERY_MS = 5000;

const state = {
  hotelId: null,
  token: null,
  bags: new Map(), // tag -> own bag
  foreign: new Map(), // tag -> another hotel's bag held here
  notices: new Map(),
  alerts: new Map(),
  trucks: new Map(), // vehicle_id -> {status, next_stop, eta}
  forecast: null, // GET /api/hotels/{id}/forecast: when the last expected bag should arrive
};
window.tariq = { state };

/** Delivered for this hotel: delivered or claimed *here* (a bag delivered to another
 *  hotel is not), as the server says in the snapshot, then from each later scan. */
const atHere = (bag) => RANK[bag.stage] >= RANK.delivered && bag.location === state.hotelId;
const isDelivered = (bag) => bag.delivered === true;

function handle(raw) {
  const msg = scrub(JSON.parse(raw));
  if (msg.kind === "snapshot") {
    state.hotelId = msg.hotel_id;
    for (const map of [state.bags, state.foreign, state.notices, state.alerts, state.trucks]) map.clear();
    applyBags(msg.bags || [], true);
    for (const notice of msg.notices || []) if (notice.hotel_id === state.hotelId) state.notices.set(notice.notice_id, notice);
    applyAlerts(msg.alerts || []);
    applyTrucks(msg.trucks || []);
  } else if (msg.kind === "bags") {
    applyBags(msg.bags || [], false);
  } else if (msg.kind === "notice" && msg.notice && msg.notice.hotel_id === state.hotelId) {
    state.notices.set(msg.notice.notice_id, msg.notice);
  } else if (msg.kind === "alerts") {
    applyAlerts(msg.alerts || []);
  } else if (msg.kind === "vehicle_status") {
    applyTrucks(msg.vehicles || []);
  }
  if (["snapshot", "bags", "notice", "vehicle_status"].includes(msg.kind)) askForecast();
  render();
}

// ------------------------------------------------------------------ forecast

let forecastAsked = 0;
let forecastTimer = null;

/** Fetch the forecast now, or once FORECAST_EVERY_MS has passed since the last fetch (many
 *  feed messages, one request). */
function askForecast() {
  if (forecastTimer !== null || !state.hotelId) return;
  const wait = Math.max(0, forecastAsked + FORECAST_EVERY_MS - Date.now());
  forecastTimer = setTimeout(async () => {
    forecastTimer = null;
    forecastAsked = Date.now();
    const { status, body } = await apiGet(`/api/hotels/${encodeURIComponent(state.hotelId)}/forecast`, state.token);
    if (status === 200 && body) {
      state.forecast = body;
      render();
    }
  }, wait);
}

/** The forecast's time (the server's), with the bags still to come as the page counts them
 *  live (the same count as the cards: the forecast is fetched a few seconds behind). */
function renderForecast(remaining) {
  const f = state.forecast;
  const box = $("#forecast");
  box.hidden = !f;
  if (!f) return;
  box.dataset.remaining = String(remaining);
  box.dataset.last = f.last_expected_at ?? "";
  box.classList.toggle("partial", !f.complete);
  const parts = [];
  if (remaining === 0) parts.push(el("span", { class: "done-all", text: t("hotel.forecast.done") }));
  else if (f.last_expected_at)
    parts.push(el("b", {}, `${t("hotel.forecast.last")} `, timeEl(f.last_expected_at)), ` · ${tn("hotel.forecast.to_come", remaining)}`);
  else parts.push(el("b", { text: t("hotel.forecast.none") }), ` · ${tn("hotel.forecast.to_come", remaining)}`);
  if (remaining > 0 && f.without_forecast > 0) parts.push(el("span", { class: "without" }, ` · ${tn("hotel.forecast.without", f.without_forecast)}`));
  if (remaining > 0 && f.basis) parts.push(el("small", { class: "muted basis", text: ` (${t(`hotel.forecast.basis.${f.basis}`)})` }));
  $("#forecast-line").replaceChildren(...parts);
}

function applyBags(bags, fromSnapshot) {
  for (const bag of bags) {
    const { name: _name, ...kept } = bag;
    const ours = !bag.hotel_id || bag.hotel_id === state.hotelId;
    if (!ours) {
      state.bags.delete(bag.tag);
      // Another hotel's bag: shown while the scans put it here.
      if (bag.not_ours || atHere(bag)) state.foreign.set(bag.tag, { ...state.foreign.get(bag.tag), ...kept, not_ours: true });
      else state.foreign.delete(bag.tag);
      continue;
    }
    const merged = { ...state.bags.get(bag.tag), ...kept };
    if (!fromSnapshot || typeof bag.delivered !== "boolean") merged.delivered = atHere(merged);
    // Misdelivered: delivered or claimed at another hotel.
    if (!fromSnapshot) merged.held_at = RANK[merged.stage] >= RANK.delivered && merged.location !== state.hotelId ? merged.location : null;
    state.bags.set(bag.tag, merged);
  }
}

function applyAlerts(alerts) {
  for (const alert of alerts) {
    const ours = alert.hotel_id === state.hotelId || (alert.vehicle_id && state.trucks.has(alert.vehicle_id)) || alert.type === "vehicle_stalled";
    if (!ours || alert.status === "resolved") state.alerts.delete(alert.alert_id);
    else state.alerts.set(alert.alert_id, alert);
  }
}

function applyTrucks(vehicles) {
  for (const v of vehicles) {
    state.trucks.set(v.vehicle_id, { ...state.trucks.get(v.vehicle_id), status: v.status, next_stop: v.next_stop, eta: v.eta });
  }
}

/** The trucks with this hotel's bags still on board: from the en-route notices (the ETA
 *  announced, moved by later eta_changed notices) and the trucks' live status. */
function trucksOnTheWay() {
  const trucks = new Map();
  const notices = [...state.notices.values()].sort((a, b) => (a.occurred_at || "").localeCompare(b.occurred_at || "") || (a.created_at || "").localeCompare(b.created_at || ""));
  for (const notice of notices) {
    if (notice.kind === "eta_changed" && trucks.has(notice.vehicle_id)) {
      trucks.get(notice.vehicle_id).eta = notice.eta;
      continue;
    }
    if (notice.kind !== "bags_en_route") continue;
    const waiting = (notice.tags || []).filter((tag) => !state.bags.get(tag) || !isDelivered(state.bags.get(tag)));
    if (waiting.length) trucks.set(notice.vehicle_id, { vehicle_id: notice.vehicle_id, announced: notice.eta, eta: notice.eta, tags: waiting });
    else trucks.delete(notice.vehicle_id);
  }
  // Trucks known only from their status (carrying our bags, notice not seen yet).
  for (const [id, live] of state.trucks) if (!trucks.has(id) && live.status !== "idle") trucks.set(id, { vehicle_id: id, announced: null, eta: null, tags: [] });
  for (const truck of trucks.values()) {
    const live = state.trucks.get(truck.vehicle_id);
    if (live?.eta && live.next_stop === state.hotelId) truck.eta = live.eta;
    truck.status = live?.status ?? "on_trip";
    truck.late = Boolean(truck.announced && truck.eta && Date.parse(truck.eta) - Date.parse(truck.announced) >= LATE_MS);
  }
  return [...trucks.values()].sort((a, b) => (a.eta || "").localeCompare(b.eta || ""));
}

function render() {
  const bags = [...state.bags.values()];
  const delivered = bags.filter(isDelivered).length;
  const onTruck = bags.filter((b) => b.stage === "truck_loaded").length;
  $("#hotel-id").textContent = state.hotelId ?? "—";
  const feed = $("#feed");
  if (feed.dataset.state) feed.textContent = t(`feed.${feed.dataset.state}`);
  $("#cards").replaceChildren(
    card("hotel.expected", bags.length - delivered, "expected"),
    card("hotel.en_route", onTruck, "en-route"),
    card("hotel.delivered", delivered, "delivered"),
    card("hotel.not_ours", state.foreign.size, "not-ours"),
    card("hotel.alerts", state.alerts.size, "alerts"),
  );
  renderForecast(bags.length - delivered);
  renderGroups(bags);
  renderTrucks();
  renderForeign();
  renderBags(bags);
  renderAlerts();
  renderNotices();
}

const card = (key, n, cls) => el("div", { class: `card ${cls}` }, el("b", { text: fmtNumber(n) }), t(key));
const ltr = (text) => el("bdi", { dir: "ltr", text: text ?? "—" });

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
        ? rows.map((r) => el("tr", { "data-flight": r.flight }, el("td", {}, ltr(r.flight)), el("td", {}, ltr(r.group)), el("td", { text: fmtNumber(r.total) }), el("td", { text: fmtNumber(r.truck) }), el("td", { text: fmtNumber(r.delivered) })))
        : [el("tr", {}, el("td", { colspan: 5, class: "empty", text: t("hotel.none") }))]),
    ),
  );
}

function renderTrucks() {
  const trucks = trucksOnTheWay();
  $("#trucks").replaceChildren(
    ...(trucks.length
      ? trucks.map((tr) =>
          el(
            "li",
            { "data-vehicle": tr.vehicle_id, "data-status": tr.status, class: tr.status === "stalled" || tr.late ? "truck trouble" : "truck" },
            el("b", {}, ltr(tr.vehicle_id)),
            ` · ${tn("bags.count", tr.tags.length)} · ${t("field.eta")} `,
            el("time", {}, ltr(fmtTime(tr.eta))),
            tr.status === "stalled" ? el("span", { class: "flag stalled", text: ` · ${label("status", "stalled")}` }) : null,
            tr.late ? el("span", { class: "flag late", text: ` · ${t("hotel.late")}` }) : null,
          ),
        )
      : [el("li", { class: "empty", text: t("hotel.trucks_none") })]),
  );
}

async function act(bag, action) {
  const path = `/api/hotels/${encodeURIComponent(state.hotelId)}/bags/${encodeURIComponent(bag.tag)}/${action}`;
  const { status, body } = await apiPost(path, state.token);
  const target = action === "confirm" ? state.bags : state.foreign;
  const held = target.get(bag.tag);
  if (status === 200 || status === 202) {
    if (held) Object.assign(held, action === "confirm" ? { confirmed_at: body.confirmed_at } : { reported_wrong_at: body.reported_wrong_at });
  } else if (held) {
    held.action_error = status;
  }
  render();
}

function renderForeign() {
  const foreign = [...state.foreign.values()].sort((a, b) => (b.updated_at || "").localeCompare(a.updated_at || ""));
  $("#foreign").replaceChildren(
    ...(foreign.length
      ? foreign.map((b) =>
          el(
            "li",
            { class: "foreign", "data-tag": b.tag, "data-belongs": b.hotel_id ?? "" },
            el("b", {}, ltr(b.tag)),
            ` · ${t("hotel.belongs_to")} `,
            ltr(b.hotel_id),
            ` · ${label("stage", b.stage)} `,
            b.reported_wrong_at
              ? el("span", { class: "done" }, `· ${t("hotel.reported")} `, ltr(fmtTime(b.reported_wrong_at)))
              : el("button", { type: "button", class: "report", text: t("hotel.report"), onclick: () => act(b, "report-wrong") }),
          ),
        )
      : [el("li", { class: "empty", text: t("hotel.not_ours_none") })]),
  );
}

function bagAction(b) {
  // Short in the table (no sideways scroll on a tablet); the time on hover and for readers.
  if (b.confirmed_at) return el("span", { class: "done", title: fmtTime(b.confirmed_at), "aria-label": `${t("hotel.confirmed")} ${fmtTime(b.confirmed_at)}`, text: `✓ ${t("hotel.confirmed")}` });
  if (b.action_error) return el("span", { class: "error", text: t("search.error", { status: b.action_error }) });
  return el("button", { type: "button", class: "confirm", text: t("hotel.confirm"), onclick: () => act(b, "confirm") });
}

function renderBags(bags) {
  const q = $("#bag-filter").value.trim().toUpperCase();
  const shown = bags
    .filter((b) => !q || [b.tag, b.pilgrim_id, b.flight_id].some((v) => (v || "").toUpperCase().includes(q)))
    .sort((a, b) => (b.updated_at || "").localeCompare(a.updated_at || ""));
  $("#bags").replaceChildren(
    el("thead", {}, el("tr", {}, ...["field.tag", "field.pilgrim", "field.flight", "field.stage", "field.location", "field.updated", "hotel.receipt"].map((k) => el("th", { text: t(k) })))),
    el(
      "tbody",
      {},
      ...shown.slice(0, BAG_ROWS).map((b) =>
        el(
          "tr",
          { class: b.held_at ? "bag misdelivered" : "bag", "data-tag": b.tag, "data-delivered": String(isDelivered(b)) },
          el("td", {}, ltr(b.tag)),
          el("td", {}, ltr(b.pilgrim_id)),
          el("td", {}, ltr(b.flight_id)),
          el("td", { text: b.held_at ? t("hotel.misdelivered") : label("stage", b.stage) }),
          el("td", {}, b.held_at ? `${t("hotel.at")} ` : null, ltr(b.held_at ?? b.location)),
          el("td", {}, ltr(fmtTime(b.updated_at))),
          el("td", {}, bagAction(b)),
        ),
      ),
    ),
  );
}

function renderAlerts() {
  const alerts = [...state.alerts.values()].sort((a, b) => (b.raised_at || "").localeCompare(a.raised_at || ""));
  $("#alerts").replaceChildren(
    ...(alerts.length
      ? alerts.map((a) => el("li", { class: "alert", "data-alert-id": a.alert_id }, el("b", { text: label("alert", a.type) }), " ", ltr([a.tag, a.vehicle_id].filter(Boolean).join(" · ")), " · ", ltr(fmtTime(a.raised_at))))
      : [el("li", { class: "empty", text: t("alerts.none") })]),
  );
}

function renderNotices() {
  const notices = [...state.notices.values()].sort((a, b) => (b.occurred_at || "").localeCompare(a.occurred_at || "") || (b.created_at || "").localeCompare(a.created_at || ""));
  $("#notices").replaceChildren(
    ...(notices.length
      ? notices.slice(0, 200).map((n) =>
          el(
            "li",
            { "data-notice": n.notice_id, "data-kind": n.kind },
            el("b", { text: t(`notice.${n.kind}`) }),
            n.vehicle_id ? " · " : null,
            n.vehicle_id ? ltr(n.vehicle_id) : null,
            ` · ${tn("bags.count", (n.tags || []).length)}`,
            n.eta ? ` · ${t("field.eta")} ` : null,
            n.eta ? ltr(fmtTime(n.eta)) : null,
            " · ",
            // The event time of what caused it (truck left, scan), not the server's clock.
            ltr(fmtTime(n.occurred_at)),
          ),
        )
      : [el("li", { class: "empty", text: t("hotel.notices_none") })]),
  );
}

// A hotel token is checked by the feed itself (any API probe would be a 403 for a hotel):
// a refused connection brings the sign-in box back.
const checkHotel = async () => null;

async function start() {
  initLang(render);
  loadTimeZone(render);
  render();
  $("#bag-filter").addEventListener("input", render);
  $("#signout").addEventListener("click", () => {
    localStorage.removeItem(TOKEN_KEY);
    location.reload();
  });
  let token = takeToken(TOKEN_KEY);
  if (!token) token = await signIn(TOKEN_KEY, checkHotel, null);
  state.token = token;
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

// The operators' live map: vehicles, places, bag flow, alerts, search and details.
import L from "leaflet";
import { feature, mesh } from "topojson-client";
import {
  $,
  apiGet,
  apiPost,
  connectFeed,
  currentLang,
  el,
  fmtNumber,
  fmtTime,
  loadTimeZone,
  timeEl,
  initLang,
  label,
  scrub,
  signIn,
  t,
  takeToken,
  textTip,
} from "./common.js";
import { ALERT_TYPES, STAGES } from "./i18n.js";
import { PLACE_STYLE, PlaceLabels, legendKeys } from "./places.js";
import { setupReplay } from "./replay.js";
import { VehicleLayer, VehicleStore } from "./vehicles.js";

const TOKEN_KEY = "tariq-operator-token";
const AIRPORTS = ["JED", "MED"];
const ALERT_ROWS = 300;
const STAGE_RANK = Object.fromEntries(STAGES.map((s, i) => [s, i]));

const state = {
  token: null,
  summary: null,
  alerts: new Map(), // alert_id -> open Alert
  bagPlaces: new Map(), // tag -> latest location seen on the feed (for the airport filter)
  hotels: new Map(), // hotel_id -> [lat, lon]
  detail: null, // () => Node: re-render of the details panel (on a language change)
  alertRows: ALERT_ROWS, // alerts listed; "show more" adds ALERT_ROWS
  pendingAlert: null, // the alert the details being opened come from
  pastAlerts: new Map(), // the alerts open at the replayed event time, by type:subject
};
const vehicles = new VehicleStore(32_768);
// The vehicles as they were at the replayed event time (drawn instead of the live ones).
const pastVehicles = new VehicleStore(1024);
let replay = null; // the replay bar (replay.js), once set up
const replaying = () => Boolean(replay?.active);
const shown = () => (replaying() ? pastVehicles : vehicles);
// Figures the browser tests read (the burst measurement in particular).
const stats = { lastMessageMs: 0, lastApplyMs: 0, lastDrawMs: 0, messages: 0, snapshots: 0 };
window.tariq = { stats, vehicles, state };


// ------------------------------------------------------------------ map

const map = L.map("map", {
  preferCanvas: true,
  zoomControl: true,
  attributionControl: false,
  worldCopyJump: false,
  minZoom: 3,
  maxZoom: 18,
}).setView([22.9, 39.5], 7);
const renderer = L.canvas({ padding: 0.3 });
const vehicleLayer = new VehicleLayer(vehicles).addTo(map);
vehicleLayer.on("vehicleclick", (e) => showVehicle(e.vehicleId));
window.tariq.layer = vehicleLayer;
window.tariq.handle = (raw) => handle(raw);
window.tariq.map = map;
let trailLine = null;
const labels = new PlaceLabels(map);
window.tariq.labels = labels;

async function loadGeography() {
  const [world, network] = await Promise.all([
    fetch("/static/build/world-50m.topo.json").then((r) => r.json()),
    fetch("/geo/network.geojson").then((r) => r.json()),
  ]);
  L.geoJSON(feature(world, world.objects.land), {
    renderer,
    interactive: false,
    style: { color: "#b9c2b0", weight: 1, fillColor: "#eef0e6", fillOpacity: 1 },
  }).addTo(map);
  L.geoJSON(mesh(world, world.objects.countries, (a, b) => a !== b), {
    renderer,
    interactive: false,
    style: { color: "#9aa38f", weight: 1, dashArray: "4 3", fill: false },
  }).addTo(map);
  const roadStyle = {
    motorway: { color: PLACE_STYLE.motorway.color, weight: 3 },
    trunk: { color: "#e0a43c", weight: 2.5 },
    primary: { color: "#d2b45a", weight: 2 },
    secondary: { color: "#c9c1a0", weight: 1.5 },
  };
  const fenceStyle = {
    airport: { color: PLACE_STYLE.airport.color, fillColor: PLACE_STYLE.airport.fillColor, weight: 1.5, fillOpacity: 0.08 },
    baggage_yard: { color: "#8e44ad", weight: 1.5, fillOpacity: 0.2 },
    checkpoint: { color: "#555", weight: 1, fillOpacity: 0.1, dashArray: "3 3" },
    district: { color: "#8aa", weight: 0.8, fillOpacity: 0.03 },
  };
  L.geoJSON(network, {
    renderer,
    filter: (f) => f.properties.layer === "road" || f.properties.layer === "fence",
    style: (f) =>
      f.properties.layer === "road"
        ? { ...(roadStyle[f.properties.road_class] || { color: "#cfc9b8", weight: 1 }), opacity: 0.9 }
        : fenceStyle[f.properties.kind] || { weight: 1 },
    onEachFeature: (f, layer) => {
      if (f.properties.layer === "fence") layer.bindTooltip(textTip(f.properties.name));
    },
  }).addTo(map);
  for (const f of network.features) {
    const [lon, lat] = f.geometry.coordinates;
    const { layer, place, kind, id } = f.properties;
    if (layer === "label") labels.add(kind, id, [lat, lon], () => t(`map.${kind}.${id}`));
    if (layer !== "place") continue;
    L.circleMarker([lat, lon], { renderer, radius: 4, weight: 1, ...PLACE_STYLE.landmark, fillOpacity: 1 })
      .bindTooltip(() => textTip(t(`map.landmark.${place}`)))
      .addTo(map);
    labels.add("landmark", place, [lat, lon], () => t(`map.landmark.${place}`));
  }
  const hotels = await apiGet("/geo/hotels.geojson", state.token);
  if (hotels.status === 200) {
    for (const f of hotels.body.features) {
      const [lon, lat] = f.geometry.coordinates;
      state.hotels.set(f.properties.hotel_id, [lat, lon]);
      const name = `${f.properties.hotel_id} · ${f.properties.name ?? ""}`;
      L.circleMarker([lat, lon], { renderer, radius: 4, weight: 1, ...PLACE_STYLE.hotel, fillOpacity: 1 })
        .bindTooltip(textTip(name))
        .addTo(map);
      labels.add("hotel", f.properties.hotel_id, [lat, lon], () => name);
    }
  }
  const roads = network.features.filter((f) => f.properties.layer === "road");
  window.tariq.geography = {
    land: world.objects.land.geometries.length,
    roadSegments: roads.reduce((n, f) => n + f.geometry.coordinates.length, 0),
    places: network.features.filter((f) => f.properties.layer === "place").map((f) => f.properties.place),
    hotels: [...state.hotels.keys()],
  };
}

// ------------------------------------------------------------------ feed messages

function handle(raw) {
  const t0 = performance.now();
  const msg = scrub(JSON.parse(raw));
  stats.messages++;
  if (msg.kind === "snapshot") {
    stats.snapshots++;
    // A fresh snapshot is the resync: replace everything the feed gave before.
    vehicles.clear();
    state.alerts.clear();
    vehicles.apply(msg.vehicles || []);
    applyAlerts(msg.alerts || []);
    showSummary(msg.summary);
  } else if (msg.kind === "summary") {
    showSummary(msg);
  } else if (msg.kind === "bags") {
    applyBags(msg.bags || []);
  } else if (msg.kind === "vehicles") {
    const a0 = performance.now();
    vehicles.apply(msg.vehicles || []);
    stats.lastApplyMs = performance.now() - a0;
  } else if (msg.kind === "vehicle_status") {
    vehicles.applyStatus(msg.vehicles || []);
  } else if (msg.kind === "alerts") {
    applyAlerts(msg.alerts || []);
  } else if (msg.kind === "alert_triage" && msg.triage) {
    applyTriage(msg.triage);
  }
  if (msg.kind === "snapshot" || msg.kind === "vehicles" || msg.kind === "vehicle_status") {
    showVehicleCounts();
    vehicleLayer.schedule();
    if (!replaying()) refreshSelectedVehicle();
  }
  stats.lastMessageMs = performance.now() - t0;
}

function showSummary(summary) {
  if (!summary) return;
  state.summary = summary;
  if (!replaying()) showCounters(summary);
}

/** The clock, event counts, stages and flow of the live summary or of a replayed instant. */
function showCounters(summary) {
  $("#clock").replaceChildren(el("bdi", { dir: "ltr", text: fmtTime(summary.clock) }));
  const e = summary.events || {};
  $("#events").textContent = t("events.line", {
    processed: fmtNumber(e.processed),
    duplicates: fmtNumber(e.duplicates),
    rejected: fmtNumber(e.rejected),
  });
  const stages = summary.bags_by_stage || {};
  $("#stages").replaceChildren(
    ...STAGES.map((stage) =>
      el("div", { class: "stage", "data-stage": stage }, el("b", { text: fmtNumber(stages[stage] ?? 0) }), label("stage", stage)),
    ),
  );
  showFlow(summary.bags_by_airport);
}

function applyBags(bags) {
  for (const bag of bags) if (bag.location) state.bagPlaces.set(bag.tag, bag.location);
  showRecentBags(bags);
  if (state.detail?.tag && bags.some((b) => b.tag === state.detail.tag)) showBag(state.detail.tag);
}

/** Bags per stage by arrival airport: the server's totals (`bags_by_airport` of the
 *  summary, counted in PostgreSQL), so the table is right as soon as the page opens. */
function showFlow(byAirport = {}) {
  const airports = [...new Set([...AIRPORTS, ...Object.keys(byAirport)])];
  // One row per stage, one column per airport: narrow enough for the side panel and a phone.
  const head = el("tr", {}, el("th", { text: t("flow.stage") }), ...airports.map((a) => el("th", { text: a })));
  const rows = STAGES.map((stage) =>
    el(
      "tr",
      { "data-stage": stage },
      el("th", { text: label("stage", stage) }),
      ...airports.map((a) => el("td", { "data-airport": a, text: fmtNumber(byAirport[a]?.[stage] ?? 0) })),
    ),
  );
  $("#flow").replaceChildren(el("thead", {}, head), el("tbody", {}, ...rows));
}

function showRecentBags(bags) {
  const list = $("#recent");
  for (const bag of bags.slice(-20)) {
    list.prepend(
      el(
        "li",
        { class: "recent-bag", "data-tag": bag.tag },
        el("button", { class: "link", text: bag.tag, onclick: () => showBag(bag.tag) }),
        ` ${label("stage", bag.stage)} · ${bag.location ?? "—"}`,
      ),
    );
  }
  while (list.children.length > 20) list.lastChild.remove();
}

function showVehicleCounts() {
  $("#vehicle-count").textContent = t("vehicles.count", {
    buses: fmtNumber(shown().counts.bus),
    trucks: fmtNumber(shown().counts.truck),
  });
}

// ------------------------------------------------------------------ alerts

function applyAlerts(alerts) {
  for (const alert of alerts) {
    if (alert.status === "resolved") state.alerts.delete(alert.alert_id);
    else state.alerts.set(alert.alert_id, alert);
  }
  showAlerts();
}

function alertAirport(alert) {
  const place = alert.airport || alert.location || state.bagPlaces.get(alert.tag);
  return AIRPORTS.includes(place) ? place : null;
}

const SEVERITY_RANK = { critical: 3, high: 2, medium: 1, low: 0 };

function showAlerts() {
  const type = $("#filter-type").value;
  const airport = $("#filter-airport").value;
  const hotel = $("#filter-hotel").value.trim().toUpperCase();
  const source = replaying() ? state.pastAlerts : state.alerts;
  const matching = [...source.values()]
    .filter(
      (a) =>
        (!type || a.type === type) &&
        (!airport || alertAirport(a) === airport) &&
        (!hotel || (a.hotel_id || "").toUpperCase().includes(hotel)),
    )
    // Most urgent first (the server's severity, by type and age), then newest.
    .sort((a, b) => (SEVERITY_RANK[b.severity] ?? 1) - (SEVERITY_RANK[a.severity] ?? 1) || (b.raised_at || "").localeCompare(a.raised_at || ""));
  const items = matching.slice(0, state.alertRows).map((a) =>
    el(
      "li",
      {
        class: `alert alert-${a.type} severity-${a.severity ?? "medium"}${a.acknowledged_at ? " acknowledged" : ""}`,
        "data-alert-id": a.alert_id,
        "data-alert-key": `${a.type}:${a.tag || a.vehicle_id || ""}`,
        "data-severity": a.severity ?? "",
        tabindex: 0,
        role: "button",
        onclick: () => focusAlert(a),
        onkeydown: (e) => alertKey(e, a),
      },
      el("b", { text: label("alert", a.type) }),
      a.severity ? el("span", { class: "severity", text: ` ${label("severity", a.severity)}` }) : null,
      a.acknowledged_at ? el("span", { class: "ack", text: ` ✓ ${t("triage.acknowledged")}` }) : null,
      a.assignee ? el("span", { class: "assignee" }, " → ", el("bdi", { text: a.assignee })) : null,
      el("bdi", { class: "ids", dir: "ltr", text: [a.tag, a.flight_id, a.hotel_id, a.vehicle_id, a.pilgrim_id].filter(Boolean).join(" · ") }),
      timeEl(a.raised_at),
    ),
  );
  if (!items.length) items.push(el("li", { class: "empty", text: t("alerts.none") }));
  if (matching.length > state.alertRows)
    items.push(
      el(
        "li",
        { class: "more" },
        el("button", { type: "button", id: "alerts-more", text: t("alerts.show_more", { n: fmtNumber(Math.min(ALERT_ROWS, matching.length - state.alertRows)), rest: fmtNumber(matching.length - state.alertRows) }), onclick: () => { state.alertRows += ALERT_ROWS; showAlerts(); } }),
      ),
    );
  $("#alerts").replaceChildren(...items);
  const counts = replaying() ? replay.view?.alerts_open_by_type : state.summary?.alerts_open_by_type;
  const total = counts && Object.keys(counts).length ? Object.values(counts).reduce((x, y) => x + y, 0) : source.size;
  $("#alert-total").textContent = fmtNumber(total);
}

/** Keyboard: Enter or Space opens the alert; the arrows move through the list. */
function alertKey(event, alert) {
  if (event.key === "Enter" || event.key === " ") {
    event.preventDefault();
    focusAlert(alert);
  } else if (event.key === "ArrowDown" || event.key === "ArrowUp") {
    event.preventDefault();
    const next = event.key === "ArrowDown" ? event.currentTarget.nextElementSibling : event.currentTarget.previousElementSibling;
    if (next?.dataset.alertId) next.focus();
  }
}

function applyTriage(triage) {
  const alert = state.alerts.get(triage.alert_id);
  if (alert) Object.assign(alert, { acknowledged_at: triage.acknowledged_at, acknowledged_by: triage.acknowledged_by, assignee: triage.assignee, note: triage.note });
  showAlerts();
  if (state.detail?.alert === triage.alert_id) $("#details-body").replaceChildren(state.detail.render());
}

/** The triage box of the alert the details were opened from: acknowledge, assign, note. */
function triageBox(alertId) {
  const alert = state.alerts.get(alertId);
  if (!alert) return null;
  const assignee = el("input", { id: "triage-assignee", type: "text", maxlength: 100, value: alert.assignee ?? "" });
  const note = el("textarea", { id: "triage-note", rows: 2, maxlength: 1000 });
  note.value = alert.note ?? "";
  const send = async (body) => {
    const { status, body: saved } = await apiPost(`/api/alerts/${encodeURIComponent(alertId)}/triage`, state.token, body);
    if (status === 200) applyTriage(saved);
    else $("#triage-error").textContent = t("search.error", { status });
  };
  return el(
    "section",
    { class: "triage", "data-alert": alertId },
    el("h4", {}, `${label("alert", alert.type)} · ${label("severity", alert.severity ?? "medium")}`),
    alert.acknowledged_at
      ? el("p", { class: "ack" }, `✓ ${t("triage.acknowledged")} `, timeEl(alert.acknowledged_at), " · ", el("bdi", { text: alert.acknowledged_by ?? "" }))
      : el("button", { type: "button", class: "acknowledge", text: t("triage.acknowledge"), onclick: () => send({ acknowledged: true }) }),
    el("label", {}, el("span", { text: t("triage.assignee") }), " ", assignee),
    el("label", { class: "note" }, el("span", { text: t("triage.note") }), note),
    el("button", { type: "button", class: "save", text: t("triage.save"), onclick: () => send({ assignee: assignee.value || null, note: note.value || null }) }),
    el("p", { id: "triage-error", class: "error", role: "alert" }),
  );
}

function focusAlert(alert) {
  // A replayed alert is a past instant's: triage belongs to the live alerts.
  state.pendingAlert = alert.replayed ? null : alert.alert_id;
  if (alert.vehicle_id && shown().get(alert.vehicle_id)) showVehicle(alert.vehicle_id);
  else if (alert.tag) showBag(alert.tag);
  else if (alert.flight_id) showFlight(alert.flight_id);
  else if (alert.pilgrim_id) showPilgrim(alert.pilgrim_id);
  else showDetail(() => el("div"));
  if (!alert.vehicle_id && alert.hotel_id && state.hotels.has(alert.hotel_id))
    map.setView(state.hotels.get(alert.hotel_id), 16);
}

// ------------------------------------------------------------------ details and search

function showDetail(render, key = {}) {
  // Opened from an alert: its triage box comes first.
  const alert = state.pendingAlert;
  state.pendingAlert = null;
  const whole = alert ? () => el("div", {}, triageBox(alert), render()) : render;
  state.detail = { render: whole, alert, ...key };
  $("#details-body").replaceChildren(whole());
  $("#details").hidden = false;
  if (key.vehicle === undefined) clearTrail();
}

function clearTrail() {
  trailLine?.remove();
  trailLine = null;
  vehicleLayer.selected = null;
  vehicleLayer.schedule();
}

const kv = (rows) =>
  // Values isolated (<bdi>, direction from their own text): ids and times read left to right
  // on the Arabic page, translated words right to left.
  el("dl", { class: "kv" }, ...rows.flatMap(([k, v]) => [el("dt", { text: t(k) }), el("dd", {}, el("bdi", { text: v ?? "—" }))]));

async function showBag(tag) {
  const { status, body } = await apiGet(`/api/bags/${encodeURIComponent(tag)}`, state.token);
  if (status !== 200) return notFound(tag, status);
  const history = [...(body.history || [])].sort((a, b) => (a.occurred_at || "").localeCompare(b.occurred_at || ""));
  showDetail(
    () =>
      el(
        "section",
        { class: "bag", "data-tag": body.tag },
        el("h3", { text: t("bag.title", { tag: body.tag }) }),
        kv([
          ["field.stage", label("stage", body.stage)],
          ["field.location", body.location],
          ["field.pilgrim", body.pilgrim_id],
          ["field.flight", body.flight_id],
          ["field.hotel", body.hotel_id],
          ["field.updated", fmtTime(body.updated_at)],
        ]),
        el("h4", { text: t("bag.timeline") }),
        el(
          "ol",
          { class: "timeline" },
          ...history.map((h) =>
            el(
              "li",
              { "data-checkpoint": h.checkpoint },
              timeEl(h.occurred_at),
              el("b", { text: label("checkpoint", h.checkpoint) }),
              ` ${h.location ?? ""}`,
            ),
          ),
        ),
        body.alerts?.length
          ? el("div", {}, el("h4", { text: t("bag.alerts") }), ...body.alerts.map((a) => el("div", { class: "alert", text: `${label("alert", a.type)} · ${label("alert_status", a.status)}` })))
          : null,
        linkRow(body),
      ),
    { tag: body.tag },
  );
}

function linkRow(body) {
  const links = [];
  if (body.pilgrim_id) links.push(el("button", { class: "link", text: `${t("field.pilgrim")} ${body.pilgrim_id}`, onclick: () => showPilgrim(body.pilgrim_id) }));
  if (body.flight_id) links.push(el("button", { class: "link", text: `${t("field.flight")} ${body.flight_id}`, onclick: () => showFlight(body.flight_id) }));
  return el("p", { class: "links" }, ...links);
}

async function showPilgrim(id) {
  const { status, body } = await apiGet(`/api/pilgrims/${encodeURIComponent(id)}`, state.token);
  if (status !== 200) return notFound(id, status);
  showDetail(() =>
    el(
      "section",
      { class: "pilgrim" },
      el("h3", { text: t("pilgrim.title", { id: body.pilgrim_id }) }),
      // The name is shown here only: operators need it to talk to the pilgrim.
      kv([
        ["pilgrim.name", body.name],
        ["field.group", body.group_id],
        ["field.flight", body.flight_id],
        ["field.hotel", body.hotel_id],
        ["field.stage", label("pilgrim_stage", body.stage)],
      ]),
      el("h4", { text: t("pilgrim.bags") }),
      el(
        "ul",
        {},
        ...(body.bags || []).map((b) =>
          el("li", {}, el("button", { class: "link", text: b.tag ?? b, onclick: () => showBag(b.tag ?? b) }), b.stage ? ` ${label("stage", b.stage)}` : ""),
        ),
      ),
      linkRow({ flight_id: body.flight_id }),
    ),
  );
}

/** A flight: its pilgrims (registered, boarded, with bags) next to its bags by the furthest
 *  stage they reached, and its open alerts by type. Bags are not subtracted from pilgrims:
 *  a pilgrim has 0 to several bags, so no "difference" is meaningful. */
async function showFlight(id) {
  const { status, body } = await apiGet(`/api/flights/${encodeURIComponent(id)}`, state.token);
  if (status !== 200) return notFound(id, status);
  const reached = body.bags_reached || {};
  const byType = body.alerts_open_by_type || {};
  const row = (key, value, cls) => el("tr", { class: cls }, el("th", { text: t(key) }), el("td", { text: fmtNumber(value ?? 0) }));
  showDetail(() =>
    el(
      "section",
      { class: "flight", "data-flight": body.flight_id },
      el("h3", {}, t("flight.title", { id: "" }), el("bdi", { dir: "ltr", text: body.flight_id })),
      kv([
        ["flight.status", label("flight_status", body.status)],
        ["flight.route", [body.origin, body.destination].filter(Boolean).join(" → ") || "—"],
        ["flight.departed", fmtTime(body.departed_at)],
        ["flight.arrived", fmtTime(body.arrived_at)],
      ]),
      el("h4", { text: t("flight.reconciliation") }),
      el(
        "div",
        { class: "recon" },
        el(
          "table",
          { class: "recon-pilgrims" },
          el("tbody", {}, row("flight.registered", body.pilgrims_registered, "registered"), row("flight.boarded", body.pilgrims_boarded, "boarded"), row("flight.with_bags", body.pilgrims_with_bags, "with-bags"), row("flight.bags_of_boarded", body.bags_of_boarded_pilgrims, "bags-of-boarded")),
        ),
        el(
          "table",
          { class: "recon-bags" },
          el("tbody", {}, ...["coded", "loaded", "offloaded", "sorted", "delivered"].map((s) => row(`flight.reached.${s}`, reached[s], `reached-${s}`))),
        ),
      ),
      el("h4", { text: t("flight.alerts_open") }),
      Object.keys(byType).length
        ? el("ul", { class: "alert-types" }, ...Object.entries(byType).map(([type, n]) => el("li", { "data-type": type, text: `${label("alert", type)}: ${fmtNumber(n)}` })))
        : el("p", { class: "muted", text: t("alerts.none") }),
    ),
  );
}

function vehicleView(id) {
  const v = shown().get(id);
  if (!v) return el("p", { text: t("search.none", { q: id }) });
  const trail = shown().trail(id);
  return el(
    "section",
    { class: "vehicle", "data-vehicle": id },
    el("h3", { text: t("vehicle.title", { id }) }),
    kv([
      ["field.kind", label("kind", v.kind)],
      ["field.status", label("status", v.status)],
      ["vehicle.speed", v.speed_kmh == null ? "—" : `${Math.round(v.speed_kmh)} km/h`],
      ["vehicle.next_stop", v.next_stop],
      ["field.eta", fmtTime(v.eta)],
      ["field.updated", fmtTime(v.at)],
    ]),
    el("p", { class: "muted", text: t("vehicle.trail", { n: fmtNumber(trail.length) }) }),
  );
}

function showVehicle(id) {
  if (!shown().get(id)) return notFound(id, 404);
  showDetail(() => vehicleView(id), { vehicle: id });
  vehicleLayer.selected = id;
  drawTrail(id);
  const v = shown().get(id);
  map.setView([v.lat, v.lon], Math.max(map.getZoom(), 13));
}

function drawTrail(id) {
  const points = shown().trail(id);
  if (!trailLine) trailLine = L.polyline(points, { renderer, color: "#111", weight: 2, opacity: 0.7 }).addTo(map);
  else trailLine.setLatLngs(points);
}

function refreshSelectedVehicle() {
  const id = state.detail?.vehicle;
  if (!id) return;
  drawTrail(id);
  $("#details-body").replaceChildren(vehicleView(id));
}

function notFound(q, status) {
  showDetail(() => el("p", { class: "empty", text: status === 404 ? t("search.none", { q }) : t("search.error", { status }) }));
}

/** The server's forgiving search (`/api/search`: case-insensitive prefixes, spaces in tags
 *  ignored): one result opens at once, several make a list. */
async function search(query) {
  const q = query.trim();
  if (!q) return;
  const { status, body } = await apiGet(`/api/search?q=${encodeURIComponent(q)}`, state.token);
  if (status !== 200) return notFound(q, status);
  const results = body.results || [];
  if (!results.length) return notFound(q, 404);
  if (results.length === 1) return openResult(results[0]);
  showDetail(() =>
    el(
      "section",
      { class: "results" },
      el("h3", { text: t("search.results", { n: fmtNumber(results.length) }) }),
      el(
        "ul",
        { class: "results-list" },
        ...results.map((r) =>
          el(
            "li",
            { "data-kind": r.kind, "data-id": r.id },
            el("span", { class: "kind", text: label("result", r.kind) }),
            " ",
            el("button", { class: "link", type: "button", onclick: () => openResult(r) }, el("bdi", { dir: "ltr", text: r.id })),
            r.label ? el("span", { class: "muted", text: ` · ${r.label}` }) : null,
          ),
        ),
      ),
    ),
  );
}

function openResult(r) {
  if (r.kind === "bag") return showBag(r.id);
  if (r.kind === "pilgrim") return showPilgrim(r.id);
  if (r.kind === "flight") return showFlight(r.id);
  if (r.kind === "vehicle") return showVehicle(r.id);
  if (r.kind === "hotel") return showHotel(r.id);
  if (r.kind === "group") return showGroup(r.id);
}

async function showHotel(id) {
  const path = `/api/hotels/${encodeURIComponent(id)}`;
  const [{ status, body }, forecast] = await Promise.all([apiGet(`${path}/bags?limit=1`, state.token), apiGet(`${path}/forecast`, state.token)]);
  if (status !== 200) return notFound(id, status);
  const last = forecast.status === 200 ? forecast.body : null;
  showDetail(() =>
    el(
      "section",
      { class: "hotel", "data-hotel": id },
      el("h3", { text: t("hotel.title", { id }) }),
      kv([
        ["hotel.expected", fmtNumber(body.expected)],
        ["hotel.delivered", fmtNumber(body.delivered)],
        ["hotel.not_ours", fmtNumber((body.not_ours || []).length)],
        ["hotel.forecast.last", last?.last_expected_at ? fmtTime(last.last_expected_at) : "—"],
        ["hotel.forecast.remaining", last ? fmtNumber(last.remaining) : "—"],
      ]),
    ),
  );
  if (state.hotels.has(id)) map.setView(state.hotels.get(id), 16);
}

async function showGroup(id) {
  const { status, body } = await apiGet(`/api/groups/${encodeURIComponent(id)}`, state.token);
  if (status !== 200) return notFound(id, status);
  showDetail(() =>
    el(
      "section",
      { class: "group", "data-group": id },
      el("h3", { text: t("group.title", { id }) }),
      el(
        "ul",
        {},
        ...(body.pilgrims || []).map((p) =>
          el("li", {}, el("button", { class: "link", type: "button", onclick: () => showPilgrim(p.pilgrim_id) }, el("bdi", { dir: "ltr", text: p.pilgrim_id })), ` · ${p.flight_id ?? "—"} · ${p.hotel_id ?? "—"}`),
        ),
      ),
    ),
  );
}

// ------------------------------------------------------------------ replay

/** Draw a view of `/api/replay`: the vehicles, counters and open alerts at its event time. */
function showReplayed(view) {
  pastVehicles.clear();
  pastVehicles.apply(view.vehicles || []);
  vehicleLayer.store = pastVehicles;
  vehicleLayer.schedule();
  state.pastAlerts = new Map(
    (view.alerts || []).map((a) => {
      const key = `${a.type}:${a.tag || a.vehicle_id}`;
      return [key, { ...a, alert_id: key, status: "open", raised_at: a.began_at, replayed: true }];
    }),
  );
  showCounters({ ...view, clock: view.at, events: state.summary?.events });
  showAlerts();
  showVehicleCounts();
  if (state.detail?.vehicle) {
    if (pastVehicles.get(state.detail.vehicle)) refreshSelectedVehicle();
    else clearTrail();
  }
}

/** Back to the live state, which the feed kept up to date meanwhile. */
function showLive() {
  vehicleLayer.store = vehicles;
  vehicleLayer.schedule();
  state.pastAlerts = new Map();
  if (state.summary) showCounters(state.summary);
  showAlerts();
  showVehicleCounts();
  if (state.detail?.vehicle) refreshSelectedVehicle();
}

// ------------------------------------------------------------------ start

function renderAll() {
  legend();
  if (replaying()) replay.relabel();
  else if (state.summary) showSummary(state.summary);
  else showFlow();
  showAlerts();
  showVehicleCounts();
  fillTypeFilter();
  const feed = $("#feed");
  if (feed.dataset.state) feed.textContent = t(`feed.${feed.dataset.state}`);
  if (state.detail) $("#details-body").replaceChildren(state.detail.render());
}

function fillTypeFilter() {
  const select = $("#filter-type");
  const value = select.value;
  select.replaceChildren(el("option", { value: "", text: t("alerts.all") }), ...ALERT_TYPES.map((type) => el("option", { value: type, text: label("alert", type) })));
  select.value = value;
  const airports = $("#filter-airport");
  const chosen = airports.value;
  airports.replaceChildren(el("option", { value: "", text: t("alerts.all") }), ...AIRPORTS.map((a) => el("option", { value: a, text: a })));
  airports.value = chosen;
}

function legend() {
  $("#legend").replaceChildren(...legendKeys());
  labels.relabel();
}

async function checkOperator(token) {
  const { status } = await apiGet("/api/summary", token);
  if (status === 401) return "signin.refused";
  if (status === 403) return "signin.wrong_role";
  return null;
}

async function start() {
  initLang(renderAll);
  loadTimeZone(renderAll);
  renderAll();
  // The legend folds away on a phone (it would cover much of the map); open on wider screens.
  const narrow = matchMedia("(max-width: 600px)");
  const fitLegend = () => ($("#legend-box").open = !narrow.matches);
  narrow.addEventListener("change", fitLegend);
  fitLegend();
  for (const id of ["filter-type", "filter-airport", "filter-hotel"]) $(`#${id}`).addEventListener("input", showAlerts);
  $("#search-form").addEventListener("submit", (e) => {
    e.preventDefault();
    search($("#search-input").value);
  });
  $("#details-close").addEventListener("click", () => {
    $("#details").hidden = true;
    state.detail = null;
    clearTrail();
  });
  $("#signout").addEventListener("click", () => {
    localStorage.removeItem(TOKEN_KEY);
    location.reload();
  });
  let token = takeToken(TOKEN_KEY);
  const problem = token ? await checkOperator(token) : "";
  if (problem !== null) token = await signIn(TOKEN_KEY, checkOperator, problem || null);
  state.token = token;
  document.body.dataset.lang = currentLang();
  replay = setupReplay({ token: () => state.token, show: showReplayed, leave: showLive });
  window.tariq.replay = replay;
  connectFeed("/ws/live", token, {
    onMessage: handle,
    onStatus: (s) => {
      const status = $("#feed");
      status.dataset.state = s;
      status.textContent = t(`feed.${s}`);
    },
  });
  loadGeography().catch((err) => console.warn("geography not loaded", err));
}

start();

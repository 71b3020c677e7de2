// Place names on the operators' map and the legend: cities, airports, landmarks and hotels.
//
// The colours of what the map draws are in one table here and in vehicles.js (STATUS_COLOURS);
// the legend is built from the same tables, so it cannot say another colour than the map's.
// Names are written as text nodes (never HTML): a hotel's name is data from an event.
import L from "leaflet";
import { el, t } from "./common.js";
import { STATUSES, STATUS_COLOURS } from "./vehicles.js";

export const PLACE_STYLE = {
  hotel: { color: "#0b6e4f", fillColor: "#2fbf71" },
  landmark: { color: "#333333", fillColor: "#ffd45c" },
  airport: { color: "#6c3fc4", fillColor: "#6c3fc4" },
  motorway: { color: "#e08a3c" },
};
// Labels appear from this zoom in: hotels are dense (hundreds within a few km), so late.
export const LABEL_MIN_ZOOM = { city: 5, airport: 7, landmark: 11, hotel: 15 };

/** The labels of the map: each a marker whose icon is a text node, shown from its kind's
 *  zoom, worded again on a language change. */
export class PlaceLabels {
  constructor(map) {
    this.map = map;
    this.labels = []; // {kind, id, marker, text: () => string, node}
    map.on("zoomend", () => this.update());
  }

  add(kind, id, latlng, text) {
    const node = el("bdi", { class: "name", text: text() });
    const icon = L.divIcon({ className: `place-label place-${kind}`, html: el("span", {}, node), iconSize: null });
    const marker = L.marker(latlng, { icon, interactive: false, keyboard: false });
    this.labels.push({ kind, id, marker, text, node });
    this.show(this.labels[this.labels.length - 1]);
  }

  show(label) {
    const wanted = this.map.getZoom() >= LABEL_MIN_ZOOM[label.kind];
    if (wanted && !this.map.hasLayer(label.marker)) label.marker.addTo(this.map);
    else if (!wanted && this.map.hasLayer(label.marker)) label.marker.remove();
  }

  update() {
    for (const label of this.labels) this.show(label);
  }

  relabel() {
    for (const label of this.labels) label.node.textContent = label.text();
  }

  /** What is shown now (the tests read it): [{kind, id, text}]. */
  shown() {
    return this.labels.filter((l) => this.map.hasLayer(l.marker)).map((l) => ({ kind: l.kind, id: l.id, text: l.node.textContent }));
  }
}

/** The legend: vehicle statuses (the colours the vehicle layer paints), vehicle shapes,
 *  then places, each swatch from the table the map draws with. */
export function legendKeys() {
  const key = (cls, colour, textKey, shape = "square") => {
    // An area is drawn as its outline; everything else filled.
    const style = !colour ? "" : shape === "area" ? `border-color:${colour}` : `background:${colour}`;
    return el("span", { class: `key ${cls}`, "data-colour": colour ?? "" }, el("i", { class: `swatch ${shape}`, style }), el("span", { text: t(textKey) }));
  };
  return [
    el("div", { class: "keys statuses" }, ...STATUSES.map((s) => key(`status-${s}`, STATUS_COLOURS[s], `status.${s}`))),
    el(
      "div",
      { class: "keys shapes" },
      key("legend-truck", null, "legend.truck", "square outline"),
      key("legend-bus", null, "legend.bus", "diamond outline"),
    ),
    el(
      "div",
      { class: "keys places" },
      key("legend-hotel", PLACE_STYLE.hotel.fillColor, "legend.hotel", "dot"),
      key("legend-landmark", PLACE_STYLE.landmark.fillColor, "legend.landmark", "dot"),
      key("legend-airport", PLACE_STYLE.airport.color, "legend.airport", "area"),
      key("legend-motorway", PLACE_STYLE.motorway.color, "legend.motorway", "line"),
    ),
  ];
}

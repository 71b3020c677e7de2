// Build the pages into dashboards/static/ (committed): same inputs, same bytes.
//   build/operator.{js,css}, build/hotel.{js,css}, build/world-50m.topo.json, Leaflet's images,
//   and the two HTML pages (index.html = operator map, hotel.html).
// The pilgrim, in-bus and handheld pages (pilgrim.html, bus.html, scan.html) and their
// language catalogues (build/i18n/<lang>.json, fetched by those pages when needed) are built
// by the second half of this file.
import { copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));
const staticDir = join(here, "..", "dashboards", "static");
const out = join(staticDir, "build");

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });

await build({
  entryPoints: {
    operator: join(here, "src", "operator.js"),
    hotel: join(here, "src", "hotel.js"),
    "operator-style": join(here, "src", "operator.css"),
    "hotel-style": join(here, "src", "hotel.css"),
  },
  outdir: out,
  bundle: true,
  format: "esm",
  target: ["es2020"],
  minify: true,
  legalComments: "linked",
  charset: "utf8",
  loader: { ".png": "file", ".svg": "file" },
  assetNames: "[name]-[hash]",
  entryNames: "[name]",
  logLevel: "info",
});
// CSS entry names must differ from the JS ones for esbuild; give them the pages' names.
for (const page of ["operator", "hotel"]) {
  copyFileSync(join(out, `${page}-style.css`), join(out, `${page}.css`));
  rmSync(join(out, `${page}-style.css`));
}
// The world outline (Natural Earth via world-atlas), decoded in the page with topojson-client.
copyFileSync(join(here, "node_modules", "world-atlas", "countries-50m.json"), join(out, "world-50m.topo.json"));
copyFileSync(join(here, "node_modules", "world-atlas", "LICENSE"), join(out, "world-atlas.LICENSE.txt"));
copyFileSync(join(here, "src", "operator.html"), join(staticDir, "index.html"));
copyFileSync(join(here, "src", "hotel.html"), join(staticDir, "hotel.html"));

// ---- the pilgrim's page, the in-bus screen and the handheld counter: small bundles of their
// own (not the operator's), so that a phone on a slow connection loads little.
const PAGES = ["pilgrim", "bus", "scan", "label"];
await build({
  entryPoints: Object.fromEntries(
    PAGES.flatMap((page) => [
      [page, join(here, "src", `${page}.js`)],
      [`${page}-style`, join(here, "src", `${page}.css`)],
    ]),
  ),
  outdir: out,
  bundle: true,
  format: "esm",
  target: ["es2020"],
  minify: true,
  legalComments: "linked",
  charset: "utf8",
  entryNames: "[name]",
  logLevel: "info",
});
for (const page of PAGES) {
  copyFileSync(join(out, `${page}-style.css`), join(out, `${page}.css`));
  rmSync(join(out, `${page}-style.css`));
  copyFileSync(join(here, "src", `${page}.html`), join(staticDir, `${page}.html`));
}
// Catalogues, minified (the `_unreviewed` lists stay: they are small and say what to check).
mkdirSync(join(out, "i18n"), { recursive: true });
for (const name of readdirSync(join(here, "src", "i18n")).sort()) {
  if (!name.endsWith(".json")) continue;
  const catalogue = JSON.parse(readFileSync(join(here, "src", "i18n", name), "utf8"));
  writeFileSync(join(out, "i18n", name), JSON.stringify(catalogue));
}

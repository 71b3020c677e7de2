// Renders /openapi.json offline (no CDN, no build step): every /api/ path with its
// parameters, request body and responses. Text goes into DOM nodes with textContent only.
"use strict";

function el(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (className) node.className = className;
  return node;
}

function schemaBlock(schema) {
  const details = el("details");
  details.append(el("summary", "schema"), el("pre", JSON.stringify(schema, null, 2)));
  return details;
}

function parametersTable(parameters) {
  const table = el("table");
  const head = el("tr");
  for (const h of ["name", "in", "required", "schema", "description"]) head.append(el("th", h));
  table.append(head);
  for (const p of parameters) {
    const row = el("tr");
    row.append(
      el("td", p.name), el("td", p.in), el("td", p.required ? "yes" : "no"),
      el("td", JSON.stringify(p.schema || {})), el("td", p.description || ""),
    );
    table.append(row);
  }
  return table;
}

function operation(path, method, op) {
  const section = el("section");
  section.id = `${method}-${path}`;
  const title = el("h2");
  title.append(el("span", method.toUpperCase(), `method ${method}`), document.createTextNode(` ${path}`));
  section.append(title, el("p", op.summary || ""));
  if (op.parameters && op.parameters.length) section.append(el("h3", "Parameters"), parametersTable(op.parameters));
  if (op.requestBody) {
    section.append(el("h3", "Request body"));
    for (const [type, media] of Object.entries(op.requestBody.content || {})) {
      section.append(el("p", type), schemaBlock(media.schema || {}));
    }
  }
  section.append(el("h3", "Responses"));
  for (const [status, response] of Object.entries(op.responses || {})) {
    section.append(el("p", `${status}: ${response.description || ""}`));
    for (const [type, media] of Object.entries(response.content || {})) {
      section.append(el("p", type), schemaBlock(media.schema || {}));
    }
  }
  return section;
}

async function main() {
  const info = document.getElementById("info");
  const response = await fetch("/openapi.json");
  const doc = await response.json();
  info.textContent = `${doc.info.title} ${doc.info.version} (OpenAPI ${doc.openapi}): ${doc.info.description}`;
  const toc = document.getElementById("toc");
  const main = document.getElementById("paths");
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(item)) {
      const link = el("a", `${method.toUpperCase()} ${path}`);
      link.href = `#${method}-${path}`;
      toc.append(link);
      main.append(operation(path, method, op));
    }
  }
}

main().catch((err) => {
  document.getElementById("info").textContent = `Could not load /openapi.json: ${err}`;
});

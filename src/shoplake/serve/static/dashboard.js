// The shoplake dashboard: reads /analytics/* with the API key kept in sessionStorage and draws
// the panels. No framework and no build step; charts are Vega-Lite specs given to vegaEmbed.
// Text from the API is always set with textContent, never parsed as HTML.
"use strict";

const KEY_STORAGE = "shoplake.apiKey";
const STREAM_REFRESH_MS = 5000;
const HEALTH_REFRESH_MS = 60000;

const money = new Intl.NumberFormat("en-US", { style: "currency", currency: "USD" });
const wholeMoney = new Intl.NumberFormat("en-US", {
  style: "currency",
  currency: "USD",
  maximumFractionDigits: 0,
});
const count = new Intl.NumberFormat("en-US");
const percent = new Intl.NumberFormat("en-US", { style: "percent", maximumFractionDigits: 1 });

const $ = (selector) => document.querySelector(selector);

// API access --------------------------------------------------------------------------------

class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

function apiKey() {
  return sessionStorage.getItem(KEY_STORAGE);
}

async function api(path) {
  const key = apiKey();
  if (!key) {
    askForKey("Enter an API key to load the dashboard.");
    throw new ApiError(401, "no API key");
  }
  const response = await fetch(path, { headers: { "X-API-Key": key, Accept: "application/json" } });
  if (response.ok) {
    return response.json();
  }
  let detail = response.statusText;
  try {
    const body = await response.json();
    detail = typeof body.detail === "string" ? body.detail : JSON.stringify(body.detail);
  } catch {
    // not JSON: keep the status text
  }
  if (response.status === 401) {
    sessionStorage.removeItem(KEY_STORAGE);
    askForKey(`The key was refused (${detail}). Enter another one.`);
  } else if (response.status === 403) {
    askForKey(`This key may not read analytics (${detail}). Use an analyst or admin key.`);
  }
  throw new ApiError(response.status, `${path}: ${response.status} ${detail}`);
}

// Page chrome: key form, errors, notes -----------------------------------------------------------

function askForKey(message) {
  $("#key-message").textContent = message;
  $("#key-panel").hidden = false;
  $("#key-status").textContent = apiKey() ? "key set" : "no API key";
  $("#key-input").focus();
}

function showError(error) {
  if (error instanceof ApiError && (error.status === 401 || error.status === 403)) {
    return; // the key form says what to do
  }
  const banner = $("#error-banner");
  banner.textContent = error.message || String(error);
  banner.hidden = false;
}

function clearError() {
  $("#error-banner").hidden = true;
}

function setNote(id, note) {
  const element = document.getElementById(id);
  element.textContent = note || "";
  element.hidden = !note;
}

function setFigure(id, value, text) {
  const element = document.getElementById(id);
  element.dataset.value = value === null || value === undefined ? "" : String(value);
  element.textContent = text;
}

function cell(row, text, className) {
  const td = row.insertCell();
  td.textContent = text;
  if (className) {
    td.className = className;
  }
  return td;
}

function replaceRows(tableId, items, fill) {
  const body = document.querySelector(`#${tableId} tbody`);
  body.replaceChildren();
  for (const item of items) {
    fill(body.insertRow(), item);
  }
}

function age(seconds) {
  if (seconds === null || seconds === undefined) return "–";
  if (seconds < 90) return `${Math.round(seconds)} s`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min`;
  if (seconds < 172800) return `${Math.round(seconds / 3600)} h`;
  return `${Math.round(seconds / 86400)} d`;
}

function when(iso) {
  return iso ? new Date(iso).toLocaleString() : "–";
}

// Charts ------------------------------------------------------------------------------------

const views = new Map();

async function drawChart(id, spec) {
  const container = document.getElementById(id);
  container.dataset.rendered = "false";
  views.get(id)?.finalize();
  const result = await vegaEmbed(container, spec, { actions: false, renderer: "svg" });
  views.set(id, result);
  container.dataset.rendered = "true";
}

function monthSpec(months) {
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v5.json",
    width: "container",
    height: 260,
    data: { values: months },
    mark: { type: "line", point: true, tooltip: true },
    encoding: {
      x: { field: "month", type: "temporal", timeUnit: "yearmonth", title: "Month" },
      y: { field: "revenue", type: "quantitative", title: "Revenue (USD)", axis: { format: "~s" } },
      tooltip: [
        { field: "month", type: "temporal", timeUnit: "yearmonth", title: "Month" },
        { field: "revenue", type: "quantitative", format: "$,.2f", title: "Revenue" },
        { field: "orders", type: "quantitative", title: "Orders" },
        { field: "units", type: "quantitative", title: "Units" },
      ],
    },
  };
}

function productLineSpec(lines) {
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v5.json",
    width: "container",
    height: 260,
    data: { values: lines },
    mark: { type: "bar", tooltip: true },
    encoding: {
      y: { field: "product_line", type: "nominal", sort: "-x", title: null },
      x: { field: "revenue", type: "quantitative", title: "Revenue (USD)", axis: { format: "~s" } },
      color: { field: "product_line", type: "nominal", legend: null },
      tooltip: [
        { field: "product_line", type: "nominal", title: "Line" },
        { field: "revenue", type: "quantitative", format: "$,.2f", title: "Revenue" },
        { field: "share", type: "quantitative", format: ".1%", title: "Share" },
        { field: "orders", type: "quantitative", title: "Orders" },
      ],
    },
  };
}

// Panels ------------------------------------------------------------------------------------

async function loadKpis() {
  const kpis = await api("/analytics/kpis");
  setFigure("kpi-revenue", kpis.revenue, money.format(kpis.revenue));
  setFigure("kpi-orders", kpis.orders, count.format(kpis.orders));
  setFigure("kpi-aov", kpis.average_order_value, money.format(kpis.average_order_value));
  const period = kpis.first_order_date ? `${kpis.first_order_date} → ${kpis.last_order_date}` : "–";
  $("#kpi-period").textContent = period;
  setNote("kpi-note", kpis.note);
}

async function loadRevenueByMonth() {
  const result = await api("/analytics/revenue_by_month");
  setNote("chart-revenue-by-month-note", result.note);
  await drawChart("chart-revenue-by-month", monthSpec(result.months));
}

async function loadRevenueByProductLine() {
  const result = await api("/analytics/revenue_by_product_line");
  setNote("chart-revenue-by-product-line-note", result.note);
  await drawChart("chart-revenue-by-product-line", productLineSpec(result.lines));
}

async function loadTopProducts() {
  const result = await api("/analytics/top_products?limit=10");
  replaceRows("top-products", result.products, (row, product) => {
    row.dataset.productCode = product.product_code;
    cell(row, String(row.sectionRowIndex + 1));
    cell(row, `${product.product_name} (${product.product_code})`);
    cell(row, product.product_line);
    cell(row, count.format(product.units), "num");
    cell(row, money.format(product.revenue), "num");
  });
  setNote("top-products-note", result.note);
}

async function loadStream() {
  const status = await api("/analytics/stream");
  const badge = $("#stream-log");
  badge.textContent = `log ${status.log} · ${status.backend}`;
  badge.className = `badge ${status.log === "up" ? "ok" : "warn"}`;
  setFigure("stream-eps", status.events_per_second, count.format(status.events_per_second));
  setFigure("stream-lag", status.total_lag, status.total_lag === null ? "–" : count.format(status.total_lag));
  setFigure("stream-events", status.events, count.format(status.events));
  setFigure("stream-dead", status.dead_letters, count.format(status.dead_letters));
  $("#stream-dead").classList.toggle("bad", status.dead_letters > 0);
  $("#stream-last-commit").textContent = when(status.last_commit);
  $("#stream-refreshed").textContent = new Date().toLocaleTimeString();
  replaceRows("stream-shards", status.shards, (row, shard) => {
    cell(row, String(shard.shard));
    cell(row, count.format(shard.lag), "num");
    cell(row, shard.events_position || "–", "mono");
  });
  setNote("stream-note", status.note);
}

async function loadHealth() {
  const health = await api("/analytics/health");
  replaceRows("health-table", health.tables, (row, table) => {
    row.dataset.table = table.name;
    row.dataset.status = table.status;
    cell(row, table.name, "mono");
    cell(row, count.format(table.rows), "num");
    cell(row, String(table.snapshots), "num");
    cell(row, when(table.last_commit));
    cell(row, age(table.age_seconds), "num");
    const contracts = cell(row, "");
    const badge = document.createElement("span");
    const tone = { pass: "ok", fail: "bad", unchecked: "muted", unreadable: "bad" };
    badge.className = `badge ${tone[table.status]}`;
    badge.textContent =
      table.status === "unreadable"
        ? table.problem
        : table.status === "unchecked"
          ? "no contract"
          : `${table.checks_passed} passed, ${table.checks_failed} failed`;
    contracts.append(badge);
    for (const check of table.contracts.filter((c) => c.status !== "pass")) {
      const line = document.createElement("div");
      line.className = "failure";
      const detail = check.message ? `: ${check.message}` : "";
      line.textContent = `${check.status}: ${check.check_name} (${check.failing_rows} rows)${detail}`;
      contracts.append(line);
    }
  });
  setNote("health-note", health.note);
}

async function loadCustomers() {
  const result = await api("/analytics/customers?limit=50");
  const select = $("#customer-select");
  select.replaceChildren(new Option("top customers…", ""));
  for (const customer of result.customers) {
    const place = [customer.city, customer.country].filter(Boolean).join(", ");
    const label = `${customer.customer_number} · ${place} · ${wholeMoney.format(customer.revenue)}`;
    select.append(new Option(label, String(customer.customer_number)));
  }
}

function reasonText(item) {
  const parts = [];
  if (item.because.length) {
    const names = item.because.map((r) => `${r.product_name} (${r.similarity.toFixed(3)})`);
    parts.push(`close to what they bought: ${names.join(", ")}`);
  }
  if (item.line_share > 0) {
    parts.push(`${item.product_line} is ${percent.format(item.line_share)} of their purchases`);
  } else {
    parts.push(`a line they have not bought from (${item.product_line})`);
  }
  return parts.join("; ");
}

async function explore(customerNumber) {
  const result = await api(`/analytics/customers/${encodeURIComponent(customerNumber)}?limit=10`);
  const place = [result.city, result.country].filter(Boolean).join(", ") || "unknown place";
  $("#explorer-summary").textContent =
    `Customer ${result.customer_number} (${place}): ${count.format(result.orders)} orders, ` +
    `${money.format(result.revenue)} revenue, ${result.history.length} distinct products.`;
  $("#explorer-model").textContent = result.model_version
    ? `model ${result.model_version}, ${result.strategy}`
    : "";

  const list = $("#explorer-recommendations");
  list.replaceChildren();
  for (const item of result.recommendations) {
    const entry = document.createElement("li");
    entry.dataset.productCode = item.product_code;
    const title = document.createElement("div");
    title.className = "rec-title";
    title.textContent = `${item.product_name} (${item.product_code}, ${item.product_line})`;
    const score = document.createElement("span");
    score.className = "muted";
    score.textContent = ` score ${item.score.toFixed(3)}`;
    title.append(score);
    const why = document.createElement("div");
    why.className = "rec-why";
    why.textContent = `Why: ${reasonText(item)}`;
    entry.append(title, why);
    list.append(entry);
  }

  const shares = $("#explorer-lines");
  shares.replaceChildren();
  for (const line of result.line_shares) {
    const entry = document.createElement("li");
    const bar = document.createElement("span");
    bar.className = "bar";
    bar.style.width = `${Math.max(1, Math.round(line.share * 60))}%`; // the label takes the rest
    const label = document.createElement("span");
    label.textContent = `${line.product_line} ${percent.format(line.share)}`;
    entry.append(bar, label);
    shares.append(entry);
  }

  replaceRows("explorer-history", result.history, (row, product) => {
    row.dataset.productCode = product.product_code;
    cell(row, `${product.product_name} (${product.product_code})`);
    cell(row, product.product_line);
    cell(row, count.format(product.orders), "num");
    cell(row, count.format(product.units), "num");
    cell(row, money.format(product.revenue), "num");
    cell(row, product.last_ordered || "–", "nowrap");
  });
  setNote("explorer-note", result.note);
  $("#explorer-result").hidden = false;
  $("#explorer").dataset.customer = String(result.customer_number);
}

// Wiring ------------------------------------------------------------------------------------

async function run(loader) {
  try {
    await loader();
  } catch (error) {
    showError(error);
  }
}

async function loadAll() {
  if (!apiKey()) {
    askForKey("Enter an API key to load the dashboard.");
    return;
  }
  clearError();
  $("#key-status").textContent = "key set";
  await Promise.all(
    [
      loadKpis,
      loadRevenueByMonth,
      loadRevenueByProductLine,
      loadTopProducts,
      loadStream,
      loadHealth,
      loadCustomers,
    ].map(run),
  );
}

function onKeySubmit(event) {
  event.preventDefault();
  const key = $("#key-input").value.trim();
  if (!key) return;
  sessionStorage.setItem(KEY_STORAGE, key);
  $("#key-input").value = "";
  $("#key-panel").hidden = true;
  loadAll();
}

function onExplore(event) {
  event.preventDefault();
  const typed = $("#customer-input").value.trim();
  const chosen = typed || $("#customer-select").value;
  if (!chosen) {
    setNote("explorer-note", "Pick a customer or enter a customer number.");
    return;
  }
  run(() => explore(chosen));
}

function start() {
  $("#key-form").addEventListener("submit", onKeySubmit);
  $("#key-change").addEventListener("click", () => askForKey("Enter another API key."));
  $("#refresh-all").addEventListener("click", loadAll);
  $("#explorer-form").addEventListener("submit", onExplore);
  $("#customer-select").addEventListener("change", () => {
    $("#customer-input").value = "";
    if ($("#customer-select").value) run(() => explore($("#customer-select").value));
  });
  setInterval(() => apiKey() && !document.hidden && run(loadStream), STREAM_REFRESH_MS);
  setInterval(() => apiKey() && !document.hidden && run(loadHealth), HEALTH_REFRESH_MS);
  loadAll();
}

start();

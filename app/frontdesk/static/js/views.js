// Renderers shared by the front-desk and patient pages: eligibility, limit calculator, consents,
// medical records (timeline, checkup charts, tables) and refusals.
import { station } from "./api.js";
import { lineChart, medicationTimeline } from "./charts.js";
import { day, definitions, h, table, when, yen } from "./dom.js";
import { t } from "./i18n.js";
import { refusal, validityNextStep } from "./messages.js";

const CHARTS = [
  { key: "chart.hba1c", codes: [["3D046000001920402", "HbA1c"]], reference: 6.5 },
  { key: "chart.bmi", codes: [["9N011000000000001", "BMI"]], reference: 25 },
  {
    key: "chart.bp",
    codes: [
      ["9A751000000000001", "SBP"],
      ["9A761000000000001", "DBP"],
    ],
    reference: 140,
  },
  { key: "chart.ldl", codes: [["3F077000002327101", "LDL"]], reference: 140 },
  { key: "chart.glucose", codes: [["3D010000001927201", "FPG"]], reference: 126 },
];

export function section(title, ...content) {
  return h("section", { class: "card" }, h("h3", {}, title), ...content);
}

export function nextStepBox(title, next, detail) {
  return h(
    "div",
    { class: "refusal", role: "alert" },
    h("p", { class: "refusal-title" }, title),
    h("p", {}, h("strong", {}, `${t("refusal.next")}: `), next),
    detail ? h("p", { class: "muted" }, detail) : null,
  );
}

export function refusalBox(error) {
  const { title, next, detail } = refusal(error);
  return nextStepBox(title, next, `${t("refusal.code", { code: error.code })} — ${detail}`);
}

function copay(ratio) {
  return ratio ? t("copay.value", { n: ratio / 10, p: ratio }) : "—";
}

export function eligibilityView(e) {
  const valid = e.validity === "valid";
  const next = validityNextStep(e.validity);
  const elderly = e.elderly_certificate;
  return h(
    "div",
    { class: "eligibility" },
    h("p", { class: `badge ${valid ? "ok" : "bad"}`, id: "validity" }, t(`validity.${e.validity}`)),
    next ? nextStepBox(t(`validity.${e.validity}`), next) : null,
    e.insurer_number
      ? definitions([
          [t("field.name"), e.name ? `${e.name}（${e.name_kana}）` : "—"],
          [t("field.birth_date"), `${day(e.birth_date)}　${e.sex ? t(`sex.${e.sex}`) : ""}`],
          [t("field.insurer"), `${e.insurer_number}　${e.insurer_name}`],
          [t("field.number"), `${e.symbol || "—"} ・ ${e.number} ・ ${e.branch}`],
          [t("field.relationship"), t(`relationship.${e.relationship}`)],
          [t("field.copay"), h("span", { class: "copay", id: "copay" }, copay(e.copay_ratio))],
          [t("field.preschool"), e.preschool ? t("yes") : t("no")],
          [
            t("field.elderly"),
            elderly
              ? `${copay(elderly.copay_ratio)}（${day(elderly.valid_from)}〜${day(elderly.valid_until)}）`
              : t("no"),
          ],
          [t("field.period"), `${day(e.acquired_on)}〜${e.lost_on ? day(e.lost_on) : ""}`],
        ])
      : null,
  );
}

function calculator(bracketCode) {
  const output = h("output", { id: "limit-result", for: "limit-cost", "aria-live": "polite" });
  const form = h(
    "form",
    { class: "calculator", id: "limit-form" },
    h("label", { for: "limit-cost" }, t("limit.cost")),
    h("input", {
      id: "limit-cost",
      name: "medical_cost",
      type: "number",
      min: 0,
      step: 1,
      value: 1000000,
      required: true,
    }),
    h("label", { class: "check" }, h("input", { id: "limit-many", type: "checkbox" }), t("limit.many")),
    h("button", { type: "submit" }, t("limit.calculate")),
    output,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const query = {
      bracket: bracketCode,
      medical_cost: form.medical_cost.value || 0,
      many_times: form.querySelector("#limit-many").checked,
    };
    try {
      const answer = await station("/monthly-limit", { query });
      const outpatient = answer.outpatient_limit
        ? [`　${t("limit.outpatient", { yen: yen(answer.outpatient_limit) })}`]
        : [];
      output.replaceChildren(h("strong", {}, t("limit.result", { yen: yen(answer.monthly_limit) })), ...outpatient);
    } catch (error) {
      output.replaceChildren(refusalBox(error));
    }
  });
  return form;
}

export function limitView(e) {
  if (!("limit_certificate" in e)) return h("p", { class: "muted" }, t("limit.not_consented"));
  const limit = e.limit_certificate;
  if (!limit) return h("p", {}, t("limit.none"));
  return h(
    "div",
    {},
    h(
      "p",
      { class: "bracket", id: "bracket" },
      t("limit.bracket", { code: limit.bracket_code, label: limit.bracket_label }),
    ),
    h("p", { class: "muted" }, `${limit.classification_label}（${day(limit.valid_from)}〜${day(limit.valid_until)}）`),
    calculator(limit.bracket_code),
  );
}

export function diseasesView(e) {
  if (!e.specific_diseases?.length) return null;
  return section(
    t("diseases.title"),
    h(
      "ul",
      {},
      e.specific_diseases.map((d) =>
        h("li", {}, `${t(`disease.${d.category}`)}　${t("diseases.limit", { yen: yen(d.self_pay_limit) })}`),
      ),
    ),
  );
}

export function consentsView(consents) {
  if (!consents.length) return h("p", {}, t("consents.none"));
  return h(
    "ul",
    { class: "consents" },
    consents.map((c) =>
      h(
        "li",
        {},
        h("strong", {}, t(`category.${c.category}`)),
        `　${t("consents.until", { until: when(c.available_until) })}`,
      ),
    ),
  );
}

function medicationsView(items) {
  const rows = items
    .slice(0, 12)
    .map((m) => [
      day(m.dispensed_on),
      m.drug_name,
      m.ingredient,
      `${m.quantity}${m.unit} ${m.usage}`,
      m.days,
      m.dispenser_name,
    ]);
  return [
    medicationTimeline({
      title: t("timeline.title"),
      medications: items,
      today: new Date().toISOString().slice(0, 10),
    }),
    table(
      [t("col.date"), t("col.drug"), t("col.ingredient"), t("col.quantity"), t("col.days"), t("col.institution")],
      rows,
    ),
    items.length > rows.length
      ? h("p", { class: "muted" }, t("records.more", { n: items.length - rows.length }))
      : null,
  ];
}

function series(checkups, code, label) {
  const points = checkups.flatMap((c) =>
    c.items.filter((i) => i.code === code).map((i) => ({ date: c.examined_on, value: i.value })),
  );
  return { label, points };
}

function checkupsView(items) {
  const charts = CHARTS.map((chart) => ({
    chart,
    lines: chart.codes.map(([code, label]) => series(items, code, label)),
  }))
    .filter(({ lines }) => lines.some((line) => line.points.length))
    .map(({ chart, lines }) =>
      lineChart({
        title: t(chart.key),
        series: lines,
        reference: chart.reference,
        referenceLabel: t("chart.reference", { v: chart.reference }),
      }),
    );
  const latest = items[0];
  return [
    h("div", { class: "charts" }, charts),
    h(
      "details",
      {},
      h("summary", {}, t("checkup.latest", { date: day(latest.examined_on) })),
      table(
        [t("col.item"), t("col.value"), t("col.code")],
        latest.items.map((i) => [i.name, `${i.value} ${i.unit ?? ""}`, i.code]),
      ),
    ),
  ];
}

function proceduresView(items) {
  return table(
    [t("col.date"), t("col.procedure"), t("col.code"), t("col.institution")],
    items.map((p) => [day(p.performed_on), p.procedure_name, p.procedure_code, p.institution_name]),
  );
}

// A record page the service serves without a view of its own here: its fields as a plain table.
function plainView(items) {
  const columns = Object.keys(items[0]);
  const cell = (value) => (value !== null && typeof value === "object" ? JSON.stringify(value) : (value ?? "—"));
  return table(
    columns,
    items.map((item) => columns.map((column) => cell(item[column]))),
  );
}

const RECORD_VIEWS = {
  medication: medicationsView,
  checkup: checkupsView,
  clinical: proceduresView,
  surgery: proceduresView,
};

// outcome: {items} or {error} or {notConsented: true}
export function recordsView(category, outcome) {
  const title = `${t(`records.${category}`)}${outcome.items ? `（${t("records.count", { n: outcome.items.length })}）` : ""}`;
  let body;
  if (outcome.notConsented) body = h("p", { class: "muted" }, t("records.not_consented"));
  else if (outcome.error) body = refusalBox(outcome.error);
  else if (!outcome.items.length) body = h("p", {}, t("records.none"));
  else body = (RECORD_VIEWS[category] ?? plainView)(outcome.items);
  return h("section", { class: "card", id: `records-${category}` }, h("h3", {}, title), body);
}

export function readerChoices(readers, kinds, selected) {
  const groups = kinds
    .map(([kind, prefix, key]) => ({ key, list: readers.filter((r) => r.kind === kind && r.id.startsWith(prefix)) }))
    .filter((group) => group.list.length);
  if (!groups.length) return h("p", { class: "muted" }, t("readers.none"));
  return groups.map(({ key, list }) =>
    h(
      "fieldset",
      {},
      h("legend", {}, t(key)),
      list.map((reader) =>
        h(
          "label",
          { class: "reader" },
          h("input", { type: "radio", name: "reader", value: reader.id, checked: reader.id === selected }),
          h("span", { class: "reader-title" }, reader[`title_${document.documentElement.lang === "en" ? "en" : "ja"}`]),
          reader.pin_hint
            ? h(
                "span",
                { class: "hint" },
                t("readers.pin", { pin: reader.pin_hint }),
                reader.pin_tries_left !== null && reader.pin_tries_left < 3
                  ? `・${t("readers.tries", { n: reader.pin_tries_left })}`
                  : "",
              )
            : null,
        ),
      ),
    ),
  );
}

// The front-desk page: pick a reader → PIN or face → consent screen → result (or refusal).
import { allRecords, station } from "./api.js";
import { h } from "./dom.js";
import { duplicateCheck } from "./duplicates.js";
import { lang, setUpSwitch, t } from "./i18n.js";
import {
  consentsView,
  diseasesView,
  eligibilityView,
  limitView,
  readerChoices,
  recordsView,
  refusalBox,
  section,
} from "./views.js";

const KINDS = [
  ["virtual", "scenario:", "readers.scenario"],
  ["numbers", "scenario:", "readers.numbers"],
  ["virtual", "demo:", "readers.demo"],
  ["pcsc", "pcsc:", "readers.pcsc"],
];
const NUMBER_FIELDS = [
  ["insurer_number", "numbers.insurer"],
  ["symbol", "numbers.symbol"],
  ["number", "numbers.number"],
  ["branch", "numbers.branch"],
];
// The consent rules are the service's (GET /station → consent_rules); without an answer, none.
const NO_RULES = {
  categories: [],
  record_pages: [],
  certificate_categories: [],
  default_offered: [],
  duplicate_details_category: "",
};
const panel = document.getElementById("panel");
const state = {
  step: "pick",
  readers: [],
  notes: [],
  institution: null,
  consentRules: NO_RULES,
  reader: null,
  method: "pin",
  pin: "",
  force: false,
  lastTry: false,
};

const reader = () => state.readers.find((r) => r.id === state.reader);
const title = (r) => (r ? r[`title_${lang()}`] : "");

async function loadStation() {
  const unreachable = (error) => ({ institution: null, readers: [], notes: [error.message], consent_rules: NO_RULES });
  const answer = await station("/station").catch(unreachable);
  const consentRules = { ...NO_RULES, ...answer.consent_rules };
  Object.assign(state, { readers: answer.readers, notes: answer.notes, institution: answer.institution, consentRules });
}

function renderSidebar() {
  document.getElementById("reader-list").replaceChildren(...[readerChoices(state.readers, KINDS, state.reader)].flat());
  document.getElementById("notes").replaceChildren(...state.notes.map((note) => h("li", {}, note)));
  document.querySelector("input[name=reader]:checked")?.scrollIntoView({ block: "nearest" });
  const who = state.institution ? t("who.institution", state.institution) : t("who.none");
  document.getElementById("who").textContent = who;
}

function go(step, changes = {}) {
  Object.assign(state, { step }, changes);
  render();
  const target = panel.querySelector("[autofocus]") ?? panel.querySelector("h2");
  target?.focus();
}

function busy(form, on) {
  for (const control of form.querySelectorAll("button, input")) control.disabled = on;
  form.querySelector("[type=submit]").textContent = on ? t("busy") : form.dataset.label;
}

function hints() {
  const scenario = reader()?.scenario;
  const next = scenario?.[`next_step_${lang()}`];
  if (!scenario?.expected && !next) return null;
  const expected = Object.entries(scenario.expected ?? {}).filter(
    ([, v]) => v !== null && !(typeof v === "object" && !Object.keys(v).length),
  );
  return h(
    "details",
    { class: "trainer" },
    h("summary", {}, t("readers.expected")),
    h("p", {}, expected.map(([k, v]) => `${k}: ${typeof v === "object" ? JSON.stringify(v) : v}`).join("　")),
    next ? h("p", {}, next) : null,
  );
}

function authStep() {
  const pinMode = state.method === "pin";
  const form = h(
    "form",
    { id: "auth-form", "data-label": t("auth.submit") },
    h(
      "fieldset",
      { class: "methods" },
      h("legend", {}, t("auth.title")),
      ["pin", "face"].map((method) =>
        h(
          "label",
          { class: "choice" },
          h("input", {
            type: "radio",
            name: "method",
            value: method,
            checked: state.method === method,
            onchange: () => go("auth", { method, error: null }),
          }),
          t(`auth.${method}_mode`),
        ),
      ),
    ),
    pinMode
      ? [
          h("label", { for: "pin" }, t("auth.pin")),
          h("input", {
            id: "pin",
            name: "pin",
            type: "password",
            inputmode: "numeric",
            pattern: "[0-9]{4}",
            maxlength: 4,
            autocomplete: "off",
            required: true,
            autofocus: true,
            "aria-describedby": "pin-help",
          }),
          h("p", { id: "pin-help", class: "muted" }, t("auth.pin_help")),
          state.lastTry
            ? h("label", { class: "check warn" }, h("input", { id: "force", type: "checkbox" }), t("auth.force"))
            : null,
        ]
      : h("p", {}, t("auth.face_help")),
    state.error ? refusalBox(state.error) : null,
    h(
      "div",
      { class: "actions" },
      h("button", { type: "submit", class: "primary", autofocus: !pinMode }, t("auth.submit")),
      h("button", { type: "button", onclick: () => go("pick", { error: null }) }, t("auth.back")),
    ),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    submitAuth(form);
  });
  return [h("h2", { tabindex: -1 }, title(reader())), hints(), form];
}

async function submitAuth(form) {
  if (state.method === "face") return go("consent", { error: null });
  const pin = form.pin.value;
  const force = form.querySelector("#force")?.checked ?? false;
  busy(form, true);
  try {
    await station("/pin-checks", { body: { reader: state.reader, pin, force } });
    go("consent", { pin, force, error: null });
  } catch (error) {
    if (["WRONG_PIN", "PIN_LAST_TRY"].includes(error.code)) {
      return go("auth", { error, lastTry: error.code === "PIN_LAST_TRY" });
    }
    go("refused", { error });
  }
}

function consentStep() {
  const offered = state.institution?.offered ?? [];
  const form = h(
    "form",
    { id: "consent-form", "data-label": t("consent.submit") },
    h("p", {}, t("consent.help")),
    offered.map((category, index) =>
      h(
        "fieldset",
        { class: "consent" },
        h("legend", {}, t(`category.${category}`)),
        ["yes", "no"].map((answer) =>
          h(
            "label",
            { class: "choice" },
            h("input", {
              type: "radio",
              name: category,
              value: answer,
              checked: answer === "no",
              autofocus: index === 0 && answer === "yes",
            }),
            t(`consent.${answer}`),
          ),
        ),
      ),
    ),
    h(
      "div",
      { class: "actions" },
      h(
        "button",
        {
          type: "button",
          id: "consent-all",
          onclick: () => {
            for (const radio of form.querySelectorAll("input[value=yes]")) radio.checked = true;
          },
        },
        t("consent.all"),
      ),
      h("button", { type: "submit", class: "primary" }, t("consent.submit")),
    ),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const consents = Object.fromEntries(
      offered.map((c) => [c, form.querySelector(`input[name=${c}][value=yes]`).checked]),
    );
    runVisit(form, consents);
  });
  return [h("h2", { tabindex: -1 }, t("consent.title")), form];
}

async function runVisit(form, consents) {
  busy(form, true);
  const body = { reader: state.reader, method: state.method, consents, force: state.force };
  if (state.method === "pin") body.pin = state.pin;
  try {
    const visit = await station("/visits", { body });
    go("result", { visit, pin: "", records: await loadRecords(visit) });
  } catch (error) {
    go("refused", { error, pin: "" });
  }
}

async function loadRecords(visit) {
  const consented = new Set(visit.consents.map((c) => c.category));
  const offered = state.institution.offered;
  const wanted = state.consentRules.record_pages.filter(({ category }) => offered.includes(category));
  const outcomes = await Promise.all(
    wanted.map(async ({ category, path }) => {
      if (!consented.has(category)) return [category, { notConsented: true }];
      try {
        return [category, { items: await allRecords(`/frontdesk/api/visits/${visit.visit_id}/${path}`) }];
      } catch (error) {
        return [category, { error }];
      }
    }),
  );
  return Object.fromEntries(outcomes);
}

function numbersStep() {
  const [insurer, symbol, number, branch] = (reader()?.scenario?.insured_number ?? ":::").split(":");
  const values = { insurer_number: insurer, symbol, number, branch };
  const form = h(
    "form",
    { id: "numbers-form", class: "numbers", "data-label": t("auth.submit") },
    h("p", { class: "muted" }, t("numbers.help")),
    NUMBER_FIELDS.map(([name, key], index) => [
      h("label", { for: `n-${name}` }, t(key)),
      h("input", {
        id: `n-${name}`,
        name,
        value: values[name] ?? "",
        autofocus: index === 0,
        required: name === "insurer_number" || name === "number",
      }),
    ]),
    h("label", { for: "n-birth" }, t("field.birth_date")),
    h("input", {
      id: "n-birth",
      name: "birth_date",
      type: "date",
      required: true,
      value: reader()?.scenario?.birth_date ?? "",
    }),
    h("label", { class: "check" }, h("input", { id: "n-limit", type: "checkbox" }), t("numbers.limit_consent")),
    h(
      "div",
      { class: "actions" },
      h("button", { type: "submit", class: "primary" }, t("auth.submit")),
      h("button", { type: "button", onclick: () => go("pick") }, t("auth.back")),
    ),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = Object.fromEntries(NUMBER_FIELDS.map(([name]) => [name, form[name].value.trim()]));
    Object.assign(body, {
      branch: body.branch || null,
      birth_date: form.birth_date.value,
      limit_certificate_consent: form.querySelector("#n-limit").checked,
    });
    busy(form, true);
    try {
      const { eligibility } = await station("/eligibility-checks", { body });
      go("result", { visit: { eligibility, consents: [], method: "numbers" }, records: {} });
    } catch (error) {
      go("refused", { error });
    }
  });
  return [h("h2", { tabindex: -1 }, t("numbers.title", { title: title(reader()) })), hints(), form];
}

function resultStep() {
  const { visit } = state;
  const e = visit.eligibility;
  return [
    h(
      "div",
      { class: "result-head" },
      h("h2", { tabindex: -1 }, t("result.of", { title: title(reader()) })),
      h("span", { class: "muted" }, `${t("result.method")}: ${t(`method.${visit.method}`)}`),
      h("button", { type: "button", class: "primary", autofocus: true, onclick: restart }, t("result.next_patient")),
    ),
    h(
      "div",
      { class: "result-grid" },
      section(t("result.title"), eligibilityView(e)),
      h(
        "div",
        {},
        section(t("limit.title"), limitView(e)),
        diseasesView(e),
        section(t("consents.title"), consentsView(visit.consents)),
      ),
    ),
    visit.method === "numbers" ? h("p", { class: "muted" }, t("numbers.no_records")) : null,
    duplicateCheck(visit, state.consentRules.duplicate_details_category),
    Object.entries(state.records).map(([category, outcome]) => recordsView(category, outcome)),
  ];
}

function refusedStep() {
  return [
    h("h2", { tabindex: -1 }, t("refusal.title")),
    h("p", { class: "muted" }, title(reader())),
    refusalBox(state.error),
    h(
      "div",
      { class: "actions" },
      h(
        "button",
        {
          type: "button",
          class: "primary",
          autofocus: true,
          onclick: () => go(reader()?.kind === "numbers" ? "numbers" : "auth", { error: null, lastTry: false }),
        },
        t("refusal.retry"),
      ),
      h("button", { type: "button", onclick: restart }, t("refusal.restart")),
    ),
  ];
}

function pickStep() {
  return [h("h2", { tabindex: -1 }, t("frontdesk.title")), h("p", {}, t("readers.pick"))];
}

const STEPS = {
  pick: pickStep,
  auth: authStep,
  numbers: numbersStep,
  consent: consentStep,
  result: resultStep,
  refused: refusedStep,
};

function render() {
  renderSidebar();
  panel.replaceChildren(...[STEPS[state.step]()].flat(2).filter(Boolean));
  panel.dataset.step = state.step;
}

async function restart() {
  await loadStation();
  go("pick", { error: null, visit: null, force: false, method: "pin" });
  document.querySelector("input[name=reader]:checked, input[name=reader]")?.focus();
}

document.getElementById("reader-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const chosen = event.target.querySelector("input[name=reader]:checked");
  if (!chosen) return;
  const numbers = state.readers.find((r) => r.id === chosen.value)?.kind === "numbers";
  go(numbers ? "numbers" : "auth", { reader: chosen.value, error: null, force: false, lastTry: false, method: "pin" });
});
document.getElementById("reader-list").addEventListener("change", (event) => {
  if (event.target.name === "reader") state.reader = event.target.value;
});

setUpSwitch(render);
await loadStation();
render();

// The duplicate-medication check (重複投薬等チェック) of the result view: drugs picked from the bundled
// drug list, planned with a first day and days of use, checked against what the patient takes at any
// institution. What the check found shows in full only under the patient's medication consent here.
import { station } from "./api.js";
import { day, h, table, when } from "./dom.js";
import { t } from "./i18n.js";
import { refusalBox } from "./views.js";

const SHOWN_MATCHES = 8;
const BADGES = { duplicate: "bad", same_class: "warn", none: "ok" };
const checks = new Map(); // visit id -> {planned, answer, error, query}: kept across re-renders
let drugList = null;

const todayInJapan = () => new Date().toLocaleDateString("sv-SE", { timeZone: "Asia/Tokyo" });

async function loadDrugs() {
  drugList ??= station("/drugs").then((answer) => answer.drugs);
  return drugList;
}

function matching(drugs, query) {
  const words = query.trim().toLowerCase();
  if (!words) return [];
  return drugs
    .filter((d) => [d.drug_name, d.ingredient, d.drug_code].some((text) => text.toLowerCase().includes(words)))
    .slice(0, SHOWN_MATCHES);
}

function searchBox(check, rerender) {
  const results = h("ul", { id: "drug-matches", class: "drug-matches" });
  const showMatches = async () => {
    const found = matching(await loadDrugs(), check.query);
    results.replaceChildren(
      ...found.map((drug) =>
        h(
          "li",
          {},
          h(
            "button",
            {
              type: "button",
              class: "ghost",
              onclick: () => {
                check.planned.push({ drug, start_on: todayInJapan(), days: drug.chronic ? 28 : 7 });
                Object.assign(check, { query: "", answer: null });
                rerender();
                document.getElementById("drug-search")?.focus();
              },
            },
            `${drug.drug_name}（${drug.ingredient}）`,
          ),
        ),
      ),
    );
  };
  const input = h("input", {
    id: "drug-search",
    type: "search",
    autocomplete: "off",
    value: check.query,
    placeholder: t("dup.search_placeholder"),
    "aria-controls": "drug-matches",
    oninput: (event) => {
      check.query = event.target.value;
      showMatches();
    },
  });
  showMatches();
  return [h("label", { for: "drug-search" }, t("dup.search")), input, results];
}

function plannedTable(check, rerender) {
  if (!check.planned.length) return h("p", { class: "muted" }, t("dup.none_planned"));
  const edit = (item, name) => (event) => {
    item[name] = name === "days" ? Number(event.target.value) : event.target.value;
    check.answer = null;
    rerender(); // the old answer and its record button go: only checked drugs are recorded
  };
  return table(
    [t("col.drug"), t("dup.start_on"), t("col.days"), ""],
    check.planned.map((item, index) => [
      item.drug.drug_name,
      h("input", {
        type: "date",
        value: item.start_on,
        "aria-label": t("dup.start_on"),
        onchange: edit(item, "start_on"),
      }),
      h("input", {
        type: "number",
        min: 1,
        max: 365,
        value: item.days,
        "aria-label": t("col.days"),
        onchange: edit(item, "days"),
      }),
      h(
        "button",
        {
          type: "button",
          onclick: () => {
            check.planned.splice(index, 1);
            check.answer = null;
            rerender();
          },
        },
        t("dup.remove"),
      ),
    ]),
    t("dup.planned"),
  );
}

function matchesTable(courses) {
  return table(
    [t("dup.source"), t("col.drug"), t("col.institution"), t("dup.period"), t("dup.usage")],
    courses.map((c) => [
      t(`dup.source_${c.source}`),
      c.drug_name,
      c.institution_name,
      `${day(c.start_on)}〜${day(c.last_day)}（${t("dup.days", { n: c.days })}）`,
      c.usage,
    ]),
  );
}

function matchesView(result, kind, detailsShown, detailsCategory) {
  const courses = result[kind];
  if (!courses.length) return null;
  if (detailsShown) return [h("p", { class: "dup-kind" }, t(`dup.${kind}_found`)), matchesTable(courses)];
  const ingredients = courses.map((c) => c.ingredient).join("、");
  return [
    h("p", { class: "dup-kind" }, t(`dup.${kind}_of`, { ingredients })),
    h("p", { class: "muted" }, t("dup.details_need_consent", { category: t(`category.${detailsCategory}`) })),
  ];
}

function answerView(answer, detailsCategory) {
  return h(
    "div",
    { id: "duplicate-answer", "aria-live": "polite" },
    answer.results.map((result) =>
      h(
        "div",
        { class: "dup-result", "data-finding": result.finding },
        h(
          "p",
          {},
          h("span", { class: `badge ${BADGES[result.finding]}` }, t(`finding.${result.finding}`)),
          `　${result.drug_name ?? result.drug_code}　${day(result.start_on)}〜${day(result.last_day)}`,
        ),
        matchesView(result, "duplicates", answer.details_shown, detailsCategory),
        matchesView(result, "same_class", answer.details_shown, detailsCategory),
      ),
    ),
  );
}

async function runCheck(visit, check, button, rerender) {
  button.disabled = true;
  button.textContent = t("busy");
  const drugs = check.planned.map((p) => ({ drug_code: p.drug.drug_code, start_on: p.start_on, days: p.days }));
  try {
    check.answer = await station("/prescription-checks", { body: { visit_id: visit.visit_id, drugs } });
    Object.assign(check, { error: null, recorded: 0 });
  } catch (error) {
    Object.assign(check, { answer: null, error });
  }
  rerender();
}

// Each planned drug as a prescription (処方) of the visit, issued on its first day of use.
function prescriptionOf(visit, { drug, start_on, days }) {
  const { drug_code, drug_name, ingredient, unit, usage, daily_quantity } = drug;
  const fields = { drug_code, drug_name, ingredient, unit, usage, days, quantity: daily_quantity };
  return { visit_id: visit.visit_id, ...fields, issued_on: start_on };
}

// Records the planned drugs one by one; whatever happens, the page asks for a new check before
// recording again, and that check shows what was recorded as this clinic's prescriptions.
async function recordPlanned(visit, check, button, rerender) {
  button.disabled = true;
  button.textContent = t("busy");
  Object.assign(check, { recorded: 0, error: null });
  try {
    for (const item of check.planned) {
      await station("/prescriptions", { body: prescriptionOf(visit, item) });
      check.recorded += 1;
    }
  } catch (error) {
    check.error = error;
  }
  check.answer = null;
  rerender();
}

function recordedView(count) {
  return h(
    "p",
    { id: "prescriptions-recorded", role: "status" },
    h("span", { class: "badge ok" }, t("dup.recorded_badge")),
    `　${t("dup.recorded", { n: count })}`,
  );
}

function recordButton(visit, check, rerender) {
  const button = h("button", { type: "button", id: "record-prescriptions" }, t("dup.record"));
  button.addEventListener("click", () => recordPlanned(visit, check, button, rerender));
  return button;
}

// The check's card for a card visit (a check by numbers has no visit, so no check).
export function duplicateCheck(visit, detailsCategory) {
  if (!visit.visit_id) return null;
  const check = checks.get(visit.visit_id) ?? { planned: [], answer: null, error: null, query: "", recorded: 0 };
  checks.set(visit.visit_id, check);
  const card = h("section", { class: "card", id: "duplicate-check" });
  const render = () => {
    const button = h(
      "button",
      { type: "button", id: "run-duplicate-check", class: "primary", disabled: !check.planned.length },
      t("dup.run"),
    );
    button.addEventListener("click", () => runCheck(visit, check, button, render));
    const parts = [
      h("h3", {}, t("dup.title")),
      h("p", { class: "muted" }, t("dup.help")),
      h("div", { class: "drug-search" }, searchBox(check, render)),
      plannedTable(check, render),
      h("div", { class: "actions" }, button, check.answer ? recordButton(visit, check, render) : null),
      check.recorded ? recordedView(check.recorded) : null,
      check.error ? refusalBox(check.error) : null,
      check.answer ? answerView(check.answer, detailsCategory) : null,
    ];
    card.replaceChildren(...parts.filter(Boolean));
  };
  render();
  return card;
}

// The patient page's list of the checks institutions made on the patient (newest first).
export function checksMadeView(made) {
  const drugs = (check) => check.drugs.map((d) => `${d.drug_name ?? d.drug_code}（${t(`finding.${d.finding}`)}）`);
  return h(
    "section",
    { class: "card", id: "prescription-checks" },
    h("h3", {}, t("patient.checks")),
    made.length
      ? table(
          [t("col.at"), t("col.institution"), t("dup.planned"), t("col.outcome")],
          made.map((check) => [
            when(check.checked_at),
            check.institution_name,
            drugs(check).join("、"),
            t(`finding.${check.finding}`),
          ]),
        )
      : h("p", {}, t("patient.checks_none")),
  );
}

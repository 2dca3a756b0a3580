// The patient page (as in マイナポータル): sign in with your own card, then your eligibility, data,
// consents and who viewed what, through the portal endpoints.
import { allRecords, call, station } from "./api.js";
import { h, table, when } from "./dom.js";
import { checksMadeView } from "./duplicates.js";
import { setUpSwitch, t } from "./i18n.js";
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
  ["virtual", "demo:", "readers.demo"],
  ["pcsc", "pcsc:", "readers.pcsc"],
];
const PORTAL = "/api/v1/portal/me";
const panel = document.getElementById("panel");
const form = document.getElementById("login");
const state = { readers: [], notes: [], reader: null, error: null, view: null };

function logEntry(entry) {
  const outcome = `outcome.${entry.outcome}`;
  return [
    when(entry.at),
    entry.institution_code,
    [
      t(`action.${entry.action}`),
      entry.disaster_access ? h("span", { class: "mark disaster" }, t("patient.disaster")) : "",
    ],
    entry.category ? t(`category.${entry.category}`) : "—",
    t(outcome) === outcome ? entry.outcome : t(outcome),
  ];
}

function signedIn(view) {
  return [
    h(
      "div",
      { class: "result-head" },
      h("h2", { tabindex: -1 }, t("patient.eligibility")),
      h("button", { type: "button", onclick: signOut }, t("patient.signout")),
    ),
    h(
      "div",
      { class: "result-grid" },
      section(t("patient.eligibility"), eligibilityView(view.me.eligibility)),
      h("div", {}, section(t("limit.title"), limitView(view.me.eligibility)), diseasesView(view.me.eligibility)),
    ),
    h(
      "section",
      { class: "card", id: "access-log" },
      h("h3", {}, t("patient.log")),
      view.log.length
        ? table(
            [t("col.at"), t("col.institution"), t("col.action"), t("col.category"), t("col.outcome")],
            view.log.map(logEntry),
          )
        : h("p", {}, t("patient.log_none")),
    ),
    section(
      t("patient.consents"),
      view.me.consents.length
        ? table(
            [t("col.at"), t("col.institution"), t("col.category"), t("col.until")],
            view.me.consents.map((c) => [
              when(c.consented_at),
              c.institution_code,
              t(`category.${c.category}`),
              when(c.available_until),
            ]),
          )
        : consentsView([]),
    ),
    recordsView("medication", { items: view.medications }),
    recordsView("checkup", { items: view.checkups }),
    checksMadeView(view.checks),
  ];
}

function render() {
  const list = readerChoices(state.readers, KINDS, state.reader);
  document.getElementById("reader-list").replaceChildren(...[list].flat());
  document.getElementById("notes").replaceChildren(...state.notes.map((note) => h("li", {}, note)));
  document.querySelector("input[name=reader]:checked")?.scrollIntoView({ block: "nearest" });
  const content = state.view
    ? signedIn(state.view)
    : [h("h2", { tabindex: -1 }, t("patient.title")), h("p", {}, t("patient.pick"))];
  panel.replaceChildren(...content, state.error ? refusalBox(state.error) : "");
}

async function signIn(reader, pin) {
  const { token } = await station("/portal-sessions", { body: { reader, pin } });
  const [me, log, medications, checkups, checks] = await Promise.all([
    call("GET", PORTAL, { token }),
    call("GET", `${PORTAL}/access-log`, { token }),
    allRecords(`${PORTAL}/medications`, { token }),
    allRecords(`${PORTAL}/checkups`, { token }),
    call("GET", `${PORTAL}/prescription-checks`, { token }),
  ]);
  return { me, log: log.entries, medications, checkups, checks: checks.checks };
}

function signOut() {
  Object.assign(state, { view: null, error: null });
  render();
  form.querySelector("input[name=reader]:checked, input[name=reader]")?.focus();
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const chosen = form.querySelector("input[name=reader]:checked");
  if (!chosen) return;
  state.reader = chosen.value;
  try {
    Object.assign(state, { view: await signIn(chosen.value, form.pin.value), error: null });
  } catch (error) {
    Object.assign(state, { view: null, error });
  }
  form.pin.value = "";
  render();
  panel.querySelector("h2")?.focus();
});

setUpSwitch(render);
const answer = await station("/station").catch((error) => ({ readers: [], notes: [error.message] }));
Object.assign(state, { readers: answer.readers, notes: answer.notes.filter((note) => !note.includes("institution")) });
render();

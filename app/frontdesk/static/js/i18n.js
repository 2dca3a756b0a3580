// Japanese labels with an English switch. t(key, values) fills {name} placeholders.

const LABELS = {
  "skip": ["メインへ移動", "Skip to main"],
  "frontdesk.title": ["オンライン資格確認 受付", "Online eligibility check: front desk"],
  "patient.title": ["わたしの資格・医療情報", "My eligibility and medical information"],
  "nav.patient": ["患者さん向けページ", "Patient page"],
  "nav.frontdesk": ["受付ページ", "Front desk"],
  "nav.api": ["API", "API"],
  "readers.title": ["カードリーダー", "Card readers"],
  "readers.start": ["資格確認を開始", "Start the check"],
  "readers.scenario": ["研修シナリオ", "Training scenarios"],
  "readers.demo": ["デモカード", "Demo cards"],
  "readers.pcsc": ["接続されたカードリーダー", "Connected card readers"],
  "readers.numbers": ["保険証番号で確認するシナリオ", "Scenarios checked by numbers"],
  "readers.none": ["カードがありません", "No cards"],
  "readers.pin": ["暗証番号 {pin}", "PIN {pin}"],
  "readers.tries": ["残り{n}回", "tries left: {n}"],
  "readers.pick": [
    "左の一覧からカード（リーダー）を選び、「資格確認を開始」を押してください。",
    "Pick a card (reader) on the left and press “Start the check”.",
  ],
  "readers.expected": ["想定される結果", "Expected"],
  "who.none": ["受付端末は未設定です", "The station is not set up"],
  "who.institution": ["{name}（医療機関コード {code}）", "{name} (institution code {code})"],
  "auth.title": ["本人確認の方法を選んでください", "Choose how the patient is identified"],
  "auth.pin_mode": ["暗証番号", "PIN"],
  "auth.face_mode": ["顔認証", "Face recognition"],
  "auth.pin": ["暗証番号（数字4桁）", "PIN (4 digits)"],
  "auth.pin_help": ["患者さんご本人が入力してください。", "The patient types it themselves."],
  "auth.face_help": [
    "顔認証付きカードリーダーで本人確認します（暗証番号は不要）。",
    "The face-recognition reader identifies the patient (no PIN).",
  ],
  "auth.force": ["残り1回であることを患者さんに伝え、入力してもらいました", "The patient knows this is the last try"],
  "auth.submit": ["確認する", "Confirm"],
  "auth.back": ["戻る", "Back"],
  "consent.title": ["情報提供への同意", "Consent to share information"],
  "consent.help": [
    "当院（当薬局）で次の情報を閲覧することに同意しますか。患者さんが選んでください。",
    "Does the patient agree that this institution views the following? The patient chooses.",
  ],
  "consent.yes": ["同意する", "Agree"],
  "consent.no": ["同意しない", "Do not agree"],
  "consent.all": ["すべて同意する", "Agree to all"],
  "consent.submit": ["確定", "Confirm"],
  "category.medication": ["薬剤情報", "Medications"],
  "category.checkup": ["特定健診等情報", "Health checkups"],
  "category.clinical": ["診療情報", "Clinical records"],
  "category.surgery": ["手術情報", "Surgery records"],
  "category.limit_certificate": ["限度額適用認定証関連情報", "Limit certificate"],
  "category.specific_diseases": ["特定疾病療養受療証", "Specific-disease certificate"],
  "category.eligibility": ["資格情報", "Eligibility"],
  "result.title": ["資格確認結果", "Eligibility result"],
  "result.of": ["資格確認結果：{title}", "Eligibility result: {title}"],
  "result.next_patient": ["次の患者さん", "Next patient"],
  "result.method": ["確認方法", "Method"],
  "method.pin": ["暗証番号", "PIN"],
  "method.face": ["顔認証", "Face recognition"],
  "method.numbers": ["保険証番号", "Insurance card numbers"],
  "numbers.title": ["保険証番号で確認：{title}", "Check by insurance card numbers: {title}"],
  "numbers.help": [
    "資格確認書・保険証に記載の番号を入力してください（研修シナリオの番号を入力済み）。",
    "Type the numbers on the eligibility certificate or insurance card (filled in from the scenario).",
  ],
  "numbers.insurer": ["保険者番号", "Insurer number"],
  "numbers.symbol": ["記号", "Symbol"],
  "numbers.number": ["番号", "Number"],
  "numbers.branch": ["枝番", "Branch"],
  "numbers.limit_consent": [
    "限度額適用認定証関連情報の提供に患者さんが同意した",
    "The patient consents to show the limit certificate",
  ],
  "numbers.no_records": [
    "保険証番号による確認では、薬剤・健診・診療・手術情報は閲覧できません（マイナ保険証が必要です）。",
    "A check by numbers never shows medications, checkups, clinical or surgery records (the card is needed).",
  ],
  "validity.valid": ["有効", "Valid"],
  "validity.invalid": ["無効（資格喪失）", "Invalid (qualification lost)"],
  "validity.invalid_new_exists": ["無効（新しい資格あり）", "Invalid (a newer qualification exists)"],
  "validity.not_found": ["該当資格なし", "No qualification found"],
  "validity.multiple": ["複数該当", "Several matches"],
  "field.name": ["氏名", "Name"],
  "field.birth_date": ["生年月日", "Birth date"],
  "field.sex": ["性別", "Sex"],
  "field.insurer": ["保険者", "Insurer"],
  "field.number": ["記号・番号・枝番", "Symbol, number, branch"],
  "field.relationship": ["本人・家族", "Insured or family"],
  "field.copay": ["負担割合", "Co-pay"],
  "field.preschool": ["未就学児", "Preschool child"],
  "field.elderly": ["高齢受給者証", "Elderly certificate"],
  "field.period": ["資格期間", "Qualification period"],
  "field.classification": ["区分", "Card classification"],
  "sex.1": ["男", "Male"],
  "sex.2": ["女", "Female"],
  "sex.3": ["未設定", "Unset"],
  "relationship.self": ["本人", "Insured person"],
  "relationship.family": ["家族", "Family member"],
  "yes": ["該当", "Yes"],
  "no": ["—", "—"],
  "copay.value": ["{n}割", "{p}%"],
  "limit.title": ["限度額適用区分", "Out-of-pocket limit bracket"],
  "limit.none": ["限度額適用認定証の情報はありません。", "No limit certificate is held."],
  "limit.not_consented": [
    "限度額適用認定証関連情報は同意がないため表示されません。",
    "Not shown: the patient did not consent to the limit certificate.",
  ],
  "limit.bracket": ["区分 {code}（{label}）", "Bracket {code} ({label})"],
  "limit.cost": ["今月の医療費（10割、円）", "This month's medical cost (full, yen)"],
  "limit.many": ["多数回該当（過去12か月に3回以上）", "Many times (3+ times in 12 months)"],
  "limit.calculate": ["限度額を計算", "Calculate the limit"],
  "limit.result": ["自己負担限度額（月額）: {yen}", "Monthly out-of-pocket limit: {yen}"],
  "limit.outpatient": ["外来（個人ごと）: {yen}", "Outpatient (per person): {yen}"],
  "diseases.title": ["特定疾病", "Specific diseases"],
  "disease.1": ["人工透析を要する慢性腎不全", "Chronic renal failure on dialysis"],
  "disease.2": ["血友病", "Haemophilia"],
  "disease.3": ["血液凝固因子製剤による HIV 感染症", "HIV from blood products"],
  "diseases.limit": ["自己負担限度額 {yen}", "self-pay limit {yen}"],
  "consents.title": ["同意した情報", "Consents given"],
  "consents.until": ["{until} まで閲覧可", "viewable until {until}"],
  "consents.none": ["同意された情報はありません。", "No consent was given."],
  "records.medication": ["薬剤情報（過去3年）", "Medications (3 years)"],
  "records.checkup": ["特定健診情報（過去5年）", "Health checkups (5 years)"],
  "records.clinical": ["診療情報", "Clinical records"],
  "records.surgery": ["手術情報", "Surgery records"],
  "records.none": ["記録はありません。", "No records."],
  "records.not_consented": ["同意がないため表示できません。", "Not shown: no consent."],
  "records.count": ["{n}件", "{n} records"],
  "records.more": ["ほか{n}件", "and {n} more"],
  "col.date": ["日付", "Date"],
  "col.drug": ["薬剤名", "Drug"],
  "col.ingredient": ["成分名", "Ingredient"],
  "col.quantity": ["数量・用法", "Quantity, usage"],
  "col.days": ["日数", "Days"],
  "col.institution": ["医療機関・薬局", "Institution or pharmacy"],
  "col.procedure": ["診療行為", "Procedure"],
  "col.code": ["コード", "Code"],
  "col.item": ["項目", "Item"],
  "col.value": ["値", "Value"],
  "col.at": ["日時", "When"],
  "col.action": ["内容", "What"],
  "col.category": ["情報", "Information"],
  "col.outcome": ["結果", "Outcome"],
  "col.until": ["閲覧可能期限", "Viewable until"],
  "timeline.title": ["服薬タイムライン", "Medication timeline"],
  "chart.hba1c": ["HbA1c（%）", "HbA1c (%)"],
  "chart.bmi": ["BMI", "BMI"],
  "chart.bp": ["血圧（mmHg）", "Blood pressure (mmHg)"],
  "chart.ldl": ["LDLコレステロール（mg/dL）", "LDL cholesterol (mg/dL)"],
  "chart.glucose": ["空腹時血糖（mg/dL）", "Fasting glucose (mg/dL)"],
  "chart.reference": ["基準 {v}", "reference {v}"],
  "checkup.latest": ["最新の健診 {date}", "Latest checkup {date}"],
  "refusal.title": ["確認できませんでした", "The check did not go through"],
  "refusal.next": ["次に行うこと", "What to do next"],
  "refusal.retry": ["もう一度", "Try again"],
  "refusal.restart": ["最初に戻る", "Start over"],
  "refusal.code": ["コード {code}", "code {code}"],
  "busy": ["処理中…", "Working…"],
  "dup.title": ["重複投薬等チェック", "Duplicate-medication check"],
  "dup.help": [
    "処方予定の薬を選び、他の医療機関の処方・調剤と成分や薬効分類が重なっていないか確認します（同意がなくても実行できます）。",
    "Pick the drugs you plan to prescribe and check them against prescriptions and dispensings at every institution (no consent needed to run it).",
  ],
  "dup.search": ["薬剤を検索（薬剤名・成分名・YJコード）", "Search drugs (name, ingredient, YJ code)"],
  "dup.search_placeholder": ["例: アムロジピン", "e.g. amlodipine, アムロジピン"],
  "dup.planned": ["処方予定の薬", "Planned drugs"],
  "dup.none_planned": ["処方予定の薬はまだありません。", "No planned drugs yet."],
  "dup.start_on": ["服用開始日", "First day"],
  "dup.remove": ["削除", "Remove"],
  "dup.run": ["重複をチェック", "Check for duplicates"],
  "dup.record": ["この内容で処方を記録", "Record these prescriptions"],
  "dup.recorded_badge": ["記録済み", "Recorded"],
  "dup.recorded": [
    "{n}件の処方を記録しました。どの医療機関の重複チェックにもすぐに表示されます。",
    "Prescriptions recorded: {n}. Every institution's duplicate check sees them at once.",
  ],
  "dup.source": ["情報源", "Source"],
  "dup.source_dispensed": ["調剤（レセプト）", "Dispensed (claims)"],
  "dup.source_prescribed": ["処方（登録済み）", "Prescribed (recorded)"],
  "dup.period": ["服用期間", "Days of use"],
  "dup.usage": ["用法", "Usage"],
  "dup.days": ["{n}日分", "{n} days"],
  "dup.duplicates_found": [
    "同じ成分の薬と服用期間が重なっています。",
    "A drug of the same ingredient overlaps these days.",
  ],
  "dup.same_class_found": [
    "同じ薬効分類の薬と服用期間が重なっています。",
    "A drug of the same class overlaps these days.",
  ],
  "dup.duplicates_of": [
    "同じ成分の薬が処方・調剤されています: {ingredients}",
    "A drug of the same ingredient is prescribed or dispensed: {ingredients}",
  ],
  "dup.same_class_of": [
    "同じ薬効分類の薬が処方・調剤されています: {ingredients}",
    "A drug of the same class is prescribed or dispensed: {ingredients}",
  ],
  "dup.details_need_consent": [
    "処方元・時期・薬剤名は、当院での「{category}」の同意がある場合のみ表示されます。患者さんに確認してください。",
    "Where, when and what was prescribed show only with the patient's consent to “{category}” here. Ask the patient.",
  ],
  "finding.duplicate": ["重複あり", "Duplicate"],
  "finding.same_class": ["同じ薬効分類", "Same class"],
  "finding.none": ["重複なし", "No duplicate"],
  "patient.checks": ["重複投薬等チェックの記録", "Duplicate-medication checks made on me"],
  "patient.checks_none": ["チェックの記録はありません。", "No checks recorded."],
  "action.prescription": ["処方の登録", "Prescription recorded"],
  "action.prescription_check": ["重複投薬等チェック", "Duplicate-medication check"],
  "outcome.written": ["登録", "recorded"],
  "outcome.duplicate": ["重複あり", "duplicate"],
  "outcome.same_class": ["同じ薬効分類", "same class"],
  "outcome.no_duplicate": ["重複なし", "no duplicate"],
  "patient.card": ["あなたのカード", "Your card"],
  "patient.open": ["ログイン", "Sign in"],
  "patient.pick": [
    "カードを選び、暗証番号を入力してログインしてください。",
    "Pick your card, type its PIN and sign in.",
  ],
  "patient.eligibility": ["わたしの資格情報", "My eligibility"],
  "patient.consents": ["同意の履歴", "My consents"],
  "patient.log": ["閲覧の記録（どの医療機関が、いつ、何を見たか）", "Access log (which institution viewed what, when)"],
  "patient.log_none": ["記録はまだありません。", "Nothing recorded yet."],
  "patient.signout": ["ログアウト", "Sign out"],
  "action.card_verification": ["マイナ保険証で資格確認", "Card check"],
  "action.eligibility_check": ["保険証番号で資格確認", "Check by numbers"],
  "action.consent": ["同意", "Consent"],
  "action.view": ["閲覧", "View"],
  "action.visit_view": ["受付情報の閲覧", "Visit looked up"],
  "action.disaster_search": ["カードなしの検索", "Search without a card"],
  "action.disaster_view": ["同意なしの閲覧", "View without consent"],
  "patient.disaster": ["災害時", "Disaster"],
  "outcome.shown": ["表示", "shown"],
  "outcome.given": ["同意", "given"],
  "outcome.declined": ["同意しない", "declined"],
  "outcome.refused_expired": ["拒否（同意期限切れ）", "refused (consent expired)"],
  "outcome.refused_none": ["拒否（同意なし）", "refused (no consent)"],
  "outcome.DISASTER_ACCESS_FORBIDDEN": ["拒否（災害時の期間外）", "refused (no disaster period)"],
};

let current = localStorage.getItem("eligsim.lang") === "en" ? "en" : "ja";

export function lang() {
  return current;
}

export function t(key, values = {}) {
  const pair = LABELS[key];
  const text = pair ? pair[current === "ja" ? 0 : 1] : key;
  return text.replace(/\{(\w+)\}/g, (_, name) => String(values[name] ?? ""));
}

export function has(key) {
  return key in LABELS;
}

// Static elements carry data-i18n="key"; the switch re-labels them and calls rerender.
export function applyStatic(root = document) {
  document.documentElement.lang = current;
  for (const element of root.querySelectorAll("[data-i18n]")) {
    element.textContent = t(element.dataset.i18n);
  }
  const button = document.getElementById("lang");
  button.textContent = current === "ja" ? "English" : "日本語";
  button.lang = current === "ja" ? "en" : "ja";
}

export function setUpSwitch(rerender) {
  applyStatic();
  document.getElementById("lang").addEventListener("click", () => {
    current = current === "ja" ? "en" : "ja";
    localStorage.setItem("eligsim.lang", current);
    applyStatic();
    rerender();
  });
}

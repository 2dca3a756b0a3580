// What each refusal means and what the staff should do next, by the API's and the card reader's
// stable codes (and by eligibility validity): [Japanese, English] pairs.
import { lang } from "./i18n.js";

const AGAIN = [
  "もう一度カードを読み取ってください。繰り返す場合は資格確認書・保険証の番号で確認してください。",
  "Read the card again. If it keeps failing, check by the numbers on the eligibility certificate or insurance card.",
];
const BY_NUMBERS = [
  "今回は資格確認書・保険証の番号で確認してください。",
  "This time, check by the numbers on the eligibility certificate or insurance card.",
];
const CARD_UNREADABLE = {
  title: ["カードを確認できませんでした", "The card could not be verified"],
  next: AGAIN,
};

const REFUSALS = {
  WRONG_PIN: {
    title: ["暗証番号が違います（残り{tries_left}回）", "Wrong PIN ({tries_left} tries left)"],
    next: [
      "患者さんにもう一度入力してもらってください。分からない場合は顔認証に切り替えるか、資格確認書・保険証の番号で確認してください。",
      "Ask the patient to type it again. If they do not know it, switch to face recognition or check by the numbers on the eligibility certificate or insurance card.",
    ],
  },
  PIN_LAST_TRY: {
    title: ["暗証番号の残り回数が1回です", "One PIN try left"],
    next: [
      "次に間違えるとロックされ、市区町村窓口でしか解除できません。確実な場合だけ入力してもらうか、顔認証に切り替えてください。",
      "One more mistake locks the card, and only the municipal office can unlock it. Go on only if the patient is sure, or switch to face recognition.",
    ],
  },
  PIN_LOCKED: {
    title: ["暗証番号がロックされています", "The PIN is locked"],
    next: [
      "ロックの解除と暗証番号の再設定は、お住まいの市区町村窓口でのみできます。今回は顔認証、または資格確認書・保険証の番号で確認してください。",
      "Only the patient's municipal office can unlock the card and reset the PIN. This time, use face recognition or check by the numbers on the eligibility certificate or insurance card.",
    ],
  },
  CARD_NOT_LINKED: {
    title: ["健康保険証としての利用登録がされていません", "The card is not registered for health insurance use"],
    next: [
      "カードリーダーまたはマイナポータルで利用登録ができることを案内してください。今回は資格確認書・保険証の番号で確認してください。",
      "Tell the patient they can register at the reader or on Mynaportal. This time, check by the numbers on the eligibility certificate or insurance card.",
    ],
  },
  CERT_EXPIRED: {
    title: ["電子証明書の有効期限が切れています", "The card's certificate has expired"],
    next: [
      `お住まいの市区町村窓口で電子証明書の更新を案内してください。${BY_NUMBERS[0]}`,
      `Ask the patient to renew the certificate at their municipal office. ${BY_NUMBERS[1]}`,
    ],
  },
  CERT_REVOKED: {
    title: [
      "電子証明書が失効しています（紛失・更新済みのカードなど）",
      "The card's certificate is revoked (lost or renewed card)",
    ],
    next: [
      `新しいカードをお持ちならそのカードで確認してください。ない場合は市区町村窓口での再発行・更新を案内し、${BY_NUMBERS[0]}`,
      `If the patient has a newer card, use it. Otherwise send them to the municipal office to renew or reissue it. ${BY_NUMBERS[1]}`,
    ],
  },
  CERT_NOT_YET_VALID: CARD_UNREADABLE,
  CERT_UNTRUSTED: CARD_UNREADABLE,
  CERT_KEY_USAGE: CARD_UNREADABLE,
  SIGNATURE_INVALID: CARD_UNREADABLE,
  CARD_ERROR: CARD_UNREADABLE,
  NOT_MY_NUMBER_CARD: {
    title: ["マイナンバーカードではありません", "This is not a My Number Card"],
    next: ["マイナンバーカードを置いてもらってください。", "Ask the patient to place their My Number Card."],
  },
  NO_CARD: {
    title: ["カードが置かれていません", "No card in the reader"],
    next: ["カードをリーダーに置き直して、もう一度確認してください。", "Place the card on the reader again and retry."],
  },
  CARD_REMOVED: {
    title: ["読み取り中にカードが外されました", "The card was removed while reading"],
    next: ["カードを置いたままにして、もう一度確認してください。", "Keep the card on the reader and retry."],
  },
  NO_READER: {
    title: ["カードリーダーが見つかりません", "The card reader was not found"],
    next: [
      "リーダーの接続を確かめ、一覧を更新して選び直してください。",
      "Check the reader's connection, reload the list and pick it again.",
    ],
  },
  NO_PCSC_SERVICE: {
    title: ["カードリーダーのサービスが動いていません", "The card reader service is not running"],
    next: ["受付端末で pcscd を起動してください（pcscd -f）。", "Start pcscd on the station's machine (pcscd -f)."],
  },
  CHALLENGE_INVALID: {
    title: ["読み取りの有効時間が過ぎました", "The reading took too long"],
    next: ["もう一度カードを読み取ってください。", "Read the card again."],
  },
  REVOCATION_UNKNOWN: {
    title: ["電子証明書の失効確認ができませんでした", "The certificate's revocation could not be checked"],
    next: ["しばらくしてからもう一度読み取ってください。", "Wait a moment and read the card again."],
  },
  CONSENT_EXPIRED: {
    title: ["同意の有効期限が切れています", "The consent has expired"],
    next: [
      "カードをもう一度読み取り、同意をやり直してもらってください。",
      "Verify the card again so the patient can consent again.",
    ],
  },
  CONSENT_REQUIRED: {
    title: ["この情報の提供に同意がありません", "The patient has not consented to this"],
    next: [
      "必要なら、カードを読み取り直して同意を得てください。",
      "If needed, verify the card again and ask for consent.",
    ],
  },
  CONSENT_NOT_OFFERED: {
    title: ["この情報は当院の同意画面にありません", "This institution does not offer this consent"],
    next: ["医療機関の設定を確認してください。", "Check the institution's settings."],
  },
  STATION_NOT_READY: {
    title: ["受付端末が設定されていません", "The reader station is not set up"],
    next: [
      "サービスのマシンで scripts/run（または eligsim demo setup）を実行してください。",
      "Run scripts/run (or eligsim demo setup) on the service's machine.",
    ],
  },
  STATION_LOCAL_ONLY: {
    title: [
      "受付端末は、カードリーダーをつないだマシンからしか使えません",
      "The reader station answers only on its own machine",
    ],
    next: [
      "カードリーダーをつないだ受付端末のブラウザーで開いてください（http://127.0.0.1:8000 など）。",
      "Open the page in the browser of the station's machine, where the reader is connected (e.g. http://127.0.0.1:8000).",
    ],
  },
  STATION_FORBIDDEN_ORIGIN: {
    title: ["受付端末は、このサービス自身のページからしか使えません", "The reader station answers only its own pages"],
    next: [
      "このマシンのブラウザーで http://127.0.0.1:8000 （サービスのポート）を直接開いてください。別の名前やリンク経由では使えません。",
      "Open http://127.0.0.1:8000 (the service's port) directly in this machine's browser, not through another name or site.",
    ],
  },
  STATION_TOKEN_INVALID: {
    title: ["ページの有効期限が切れています", "This page is no longer valid"],
    next: ["ページを再読み込みしてから、もう一度操作してください。", "Reload the page and try again."],
  },
  REGISTRY_UNAVAILABLE: {
    title: ["資格情報のデータベースに接続できません", "The registry cannot be reached"],
    next: [
      `しばらくしてから再確認するか、${BY_NUMBERS[0]}`,
      "Retry later, or check by the numbers on the eligibility certificate or insurance card.",
    ],
  },
  TOO_MANY_REQUESTS: {
    title: ["混み合っています", "Too many requests"],
    next: ["少し待ってからもう一度確認してください。", "Wait a little and retry."],
  },
  NETWORK: {
    title: ["サービスに接続できません", "The service cannot be reached"],
    next: [
      "サービスが動いているか確認してください（scripts/run）。",
      "Check that the service is running (scripts/run).",
    ],
  },
};

const VALIDITY = {
  invalid: [
    "この保険の資格は失われています。新しい資格確認書・保険証の提示を求めてください。提示がなければ自費（10割）で受け付け、後日再確認してください。",
    "This qualification was lost. Ask for the new eligibility certificate or insurance card; without one, take the visit as self-pay and check again later.",
  ],
  invalid_new_exists: [
    "転職などで新しい資格があります。新しい保険者の資格確認書・保険証（資格情報のお知らせ）で確認してください。",
    "A newer qualification exists (job change). Check with the new insurer's eligibility certificate, insurance card or qualification notice.",
  ],
  not_found: [
    "該当する資格がありません。転職直後で新しい保険者の登録が済んでいない可能性があります。資格情報のお知らせ・資格確認書の提示を求めるか、自費で受け付けて後日再確認してください。",
    "No qualification found. After a job change the new insurer may not have registered it yet: ask for the qualification notice or eligibility certificate, or take the visit as self-pay and check again later.",
  ],
  multiple: [
    "複数の資格が該当します。どの保険で受診するか患者さんに確認し、保険証の番号で確認してください。",
    "Several qualifications match. Ask the patient which insurance applies and check by its numbers.",
  ],
};

const pick = (pair) => pair[lang() === "ja" ? 0 : 1];
const fill = (text, details) => text.replace(/\{(\w+)\}/g, (_, name) => String(details?.[name] ?? "?"));

// {title, next, detail} for an error {code, message, details}.
export function refusal(error) {
  const known = REFUSALS[error.code];
  if (!known) {
    return { title: error.message, next: pick(AGAIN), detail: error.code };
  }
  return { title: fill(pick(known.title), error.details), next: pick(known.next), detail: error.message };
}

// What to do when the eligibility is not valid (null when it is).
export function validityNextStep(validity) {
  return VALIDITY[validity] ? pick(VALIDITY[validity]) : null;
}

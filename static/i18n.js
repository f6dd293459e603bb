// Every string the UI shows, in English and Korean, and the language state:
// which language is in use, how it is chosen and remembered, and how the page
// is (re)translated. index.html holds no text of its own: its elements name
// their string with `data-i18n` (text), `data-i18n-placeholder`,
// `data-i18n-aria-label` or `data-i18n-title`, optionally with arguments in
// `data-i18n-args` (JSON), and `applyTranslations` fills them in. Dynamic
// text is set with `setMessage`, which records the key the same way so that
// switching the language retranslates it too.

export const messages = {
  en: {
    "app.title": "Notes",
    "app.name": "Notes",
    "language.label": "Language",

    "header.account": "Account",
    "header.settings": "Settings",
    "header.logout": "Log out",

    "setup.heading": "Welcome",
    "setup.intro": "Create the administrator account of this notes service. You can add more users later in Settings.",
    "setup.username": "Username",
    "setup.password": "Password",
    "setup.submit": "Create account",
    "setup.missingToken": "Open this page with the complete setup link from the service log, including the part after “#”.",
    "setup.forbidden": "This setup link is invalid or has expired. Restart the service to get a new one in its log.",
    "setup.done": "Your account is ready.",

    "login.heading": "Log in",
    "login.username": "Username",
    "login.password": "Password",
    "login.submit": "Log in",
    "login.wrong": "Wrong username or password.",
    "login.tooMany": {
      one: "Too many attempts. Try again in {count} second.",
      other: "Too many attempts. Try again in {count} seconds.",
    },
    "login.tooManyLater": "Too many attempts. Try again later.",
    "login.expired": "Your session has ended. Please log in again.",

    "form.usernameHint": "Lowercase letters, digits, “.”, “_” or “-”; up to 32 characters.",
    "form.passwordHint": "At least 8 characters.",
    "form.required": "Fill in every field.",
    "form.passwordShort": "The password must be at least 8 characters.",

    "notes.heading": "Your notes",
    "notes.search": "Search notes",
    "notes.searchPlaceholder": "Search notes",
    "notes.searchShortcut": "Press / to search",
    "notes.new": "New note",
    "notes.empty": "No notes yet. Write your first one with “New note”.",
    "notes.noResults": "No notes match “{query}”.",
    "notes.loadMore": "Load more",
    "notes.edit": "Edit",
    "notes.delete": "Delete",
    "notes.showMore": "Show more",
    "notes.showLess": "Show less",
    "notes.updated": "Updated",
    "notes.resultsCount": {
      one: "{count} note found.",
      other: "{count} notes found.",
    },
    "notes.moreLoaded": {
      one: "{count} more note loaded.",
      other: "{count} more notes loaded.",
    },

    "editor.newHeading": "New note",
    "editor.editHeading": "Edit note",
    "editor.title": "Title",
    "editor.body": "Text",
    "editor.bodyHint": "Markdown works here. Ctrl+Enter saves, Escape closes.",
    "editor.save": "Save",
    "editor.cancel": "Cancel",
    "editor.titleRequired": "Give the note a title.",

    "confirm.heading": "Delete this note?",
    "confirm.body": "“{title}” will be deleted for good.",
    "confirm.yes": "Delete",
    "confirm.no": "Cancel",

    "status.created": "Note created.",
    "status.saved": "Note saved.",
    "status.deleted": "Note deleted.",
    "status.loggedOut": "You have logged out.",

    "settings.heading": "Settings",
    "settings.back": "Back to notes",

    "password.heading": "Change password",
    "password.current": "Current password",
    "password.new": "New password",
    "password.hint": "At least 8 characters. Your other sessions will be logged out.",
    "password.submit": "Change password",
    "password.done": "Password changed. Your other sessions were logged out.",
    "password.wrong": "The current password is wrong.",

    "tokens.heading": "API tokens",
    "tokens.intro": "A token lets a script use the API as you, with the header “Authorization: Bearer <token>”.",
    "tokens.name": "Token name",
    "tokens.create": "Create token",
    "tokens.secretIntro": "Copy the new token now: it will not be shown again.",
    "tokens.copy": "Copy",
    "tokens.copied": "Token copied to the clipboard.",
    "tokens.copyFailed": "Copying failed: select the token and copy it yourself.",
    "tokens.none": "No tokens yet.",
    "tokens.revoke": "Revoke",
    "tokens.revoked": "Token “{name}” revoked.",
    "tokens.created": "Created",
    "tokens.lastUsed": "Last used",
    "tokens.neverUsed": "Never used",
    "tokens.nameRequired": "Give the token a name.",

    "users.heading": "Users",
    "users.intro": "Only administrators see this section.",
    "users.username": "Username",
    "users.password": "Password",
    "users.isAdmin": "Administrator",
    "users.add": "Add user",
    "users.added": "User “{name}” added.",
    "users.taken": "That username is taken.",
    "users.admin": "Administrator",
    "users.disabled": "Disabled",
    "users.you": "You",
    "users.disable": "Disable",
    "users.enable": "Enable",
    "users.nowDisabled": "“{name}” is disabled.",
    "users.nowEnabled": "“{name}” is enabled again.",

    "errors.network": "The server cannot be reached. Check the connection and try again.",
    "errors.forbidden": "You are not allowed to do that.",
    "errors.notFound": "It no longer exists.",
    "errors.tooMany": {
      one: "Too many requests. Try again in {count} second.",
      other: "Too many requests. Try again in {count} seconds.",
    },
    "errors.generic": "Something went wrong (HTTP {status}). Try again.",
  },

  ko: {
    "app.title": "메모",
    "app.name": "메모",
    "language.label": "언어",

    "header.account": "계정",
    "header.settings": "설정",
    "header.logout": "로그아웃",

    "setup.heading": "환영합니다",
    "setup.intro": "이 메모 서비스의 관리자 계정을 만드세요. 다른 사용자는 나중에 설정에서 추가할 수 있습니다.",
    "setup.username": "사용자 이름",
    "setup.password": "비밀번호",
    "setup.submit": "계정 만들기",
    "setup.missingToken": "서비스 로그에 있는 설정 링크를 ‘#’ 뒷부분까지 빠짐없이 사용해 이 페이지를 여세요.",
    "setup.forbidden": "설정 링크가 올바르지 않거나 만료되었습니다. 서비스를 다시 시작하면 로그에 새 링크가 나타납니다.",
    "setup.done": "계정이 준비되었습니다.",

    "login.heading": "로그인",
    "login.username": "사용자 이름",
    "login.password": "비밀번호",
    "login.submit": "로그인",
    "login.wrong": "사용자 이름 또는 비밀번호가 올바르지 않습니다.",
    "login.tooMany": "로그인 시도가 너무 많습니다. {count}초 후에 다시 시도하세요.",
    "login.tooManyLater": "로그인 시도가 너무 많습니다. 잠시 후에 다시 시도하세요.",
    "login.expired": "세션이 만료되었습니다. 다시 로그인하세요.",

    "form.usernameHint": "영문 소문자, 숫자, ‘.’, ‘_’, ‘-’만 쓸 수 있으며 32자까지 가능합니다.",
    "form.passwordHint": "8자 이상이어야 합니다.",
    "form.required": "모든 항목을 입력하세요.",
    "form.passwordShort": "비밀번호는 8자 이상이어야 합니다.",

    "notes.heading": "내 메모",
    "notes.search": "메모 검색",
    "notes.searchPlaceholder": "메모 검색",
    "notes.searchShortcut": "/ 키를 누르면 검색합니다",
    "notes.new": "새 메모",
    "notes.empty": "아직 메모가 없습니다. ‘새 메모’를 눌러 첫 메모를 써 보세요.",
    "notes.noResults": "‘{query}’에 대한 검색 결과가 없습니다.",
    "notes.loadMore": "더 불러오기",
    "notes.edit": "편집",
    "notes.delete": "삭제",
    "notes.showMore": "더 보기",
    "notes.showLess": "접기",
    "notes.updated": "수정한 날짜",
    "notes.resultsCount": "메모 {count}개를 찾았습니다.",
    "notes.moreLoaded": "메모 {count}개를 더 불러왔습니다.",

    "editor.newHeading": "새 메모",
    "editor.editHeading": "메모 편집",
    "editor.title": "제목",
    "editor.body": "내용",
    "editor.bodyHint": "마크다운을 쓸 수 있습니다. Ctrl+Enter로 저장하고 Esc로 닫습니다.",
    "editor.save": "저장",
    "editor.cancel": "취소",
    "editor.titleRequired": "메모 제목을 입력하세요.",

    "confirm.heading": "이 메모를 삭제할까요?",
    "confirm.body": "‘{title}’ 메모가 영구히 삭제됩니다.",
    "confirm.yes": "삭제",
    "confirm.no": "취소",

    "status.created": "메모를 만들었습니다.",
    "status.saved": "메모를 저장했습니다.",
    "status.deleted": "메모를 삭제했습니다.",
    "status.loggedOut": "로그아웃했습니다.",

    "settings.heading": "설정",
    "settings.back": "메모로 돌아가기",

    "password.heading": "비밀번호 변경",
    "password.current": "현재 비밀번호",
    "password.new": "새 비밀번호",
    "password.hint": "8자 이상이어야 합니다. 다른 기기의 세션은 모두 로그아웃됩니다.",
    "password.submit": "비밀번호 변경",
    "password.done": "비밀번호를 변경했습니다. 다른 세션은 로그아웃되었습니다.",
    "password.wrong": "현재 비밀번호가 올바르지 않습니다.",

    "tokens.heading": "API 토큰",
    "tokens.intro": "토큰이 있으면 스크립트가 내 계정으로 API를 호출할 수 있습니다. 요청에 ‘Authorization: Bearer <토큰>’ 헤더를 보내세요.",
    "tokens.name": "토큰 이름",
    "tokens.create": "토큰 만들기",
    "tokens.secretIntro": "새 토큰을 지금 복사하세요. 다시는 표시되지 않습니다.",
    "tokens.copy": "복사",
    "tokens.copied": "토큰을 클립보드에 복사했습니다.",
    "tokens.copyFailed": "복사하지 못했습니다. 토큰을 선택해 직접 복사하세요.",
    "tokens.none": "아직 토큰이 없습니다.",
    "tokens.revoke": "폐기",
    "tokens.revoked": "‘{name}’ 토큰을 폐기했습니다.",
    "tokens.created": "만든 날짜",
    "tokens.lastUsed": "마지막 사용",
    "tokens.neverUsed": "사용한 적 없음",
    "tokens.nameRequired": "토큰 이름을 입력하세요.",

    "users.heading": "사용자",
    "users.intro": "이 항목은 관리자에게만 보입니다.",
    "users.username": "사용자 이름",
    "users.password": "비밀번호",
    "users.isAdmin": "관리자",
    "users.add": "사용자 추가",
    "users.added": "‘{name}’ 사용자를 추가했습니다.",
    "users.taken": "이미 사용 중인 사용자 이름입니다.",
    "users.admin": "관리자",
    "users.disabled": "비활성",
    "users.you": "나",
    "users.disable": "비활성화",
    "users.enable": "활성화",
    "users.nowDisabled": "‘{name}’ 계정을 비활성화했습니다.",
    "users.nowEnabled": "‘{name}’ 계정을 다시 활성화했습니다.",

    "errors.network": "서버에 연결할 수 없습니다. 연결 상태를 확인한 뒤 다시 시도하세요.",
    "errors.forbidden": "이 작업을 할 권한이 없습니다.",
    "errors.notFound": "이미 삭제되었거나 존재하지 않습니다.",
    "errors.tooMany": "요청이 너무 많습니다. {count}초 후에 다시 시도하세요.",
    "errors.generic": "문제가 발생했습니다(HTTP {status}). 다시 시도하세요.",
  },
};

export const languages = Object.keys(messages);
const STORAGE_KEY = "notes.language";

let current = initialLanguage();
const listeners = new Set();

/** The saved choice, else the first of the browser's languages we have, else English. */
function initialLanguage() {
  try {
    const saved = localStorage.getItem(STORAGE_KEY);
    if (languages.includes(saved)) return saved;
  } catch {
    // Storage can be off (private modes, policies): fall through.
  }
  for (const tag of navigator.languages ?? [navigator.language]) {
    const base = String(tag).toLowerCase().split("-")[0];
    if (languages.includes(base)) return base;
  }
  return "en";
}

export function language() {
  return current;
}

/** The browser's own tag for the language when it has one (en-GB), for dates. */
function locale() {
  const own = (navigator.languages ?? []).find((tag) => tag.toLowerCase().split("-")[0] === current);
  return own ?? current;
}

/** The string `key` in the current language, with `{name}` placeholders filled.
 * A string with plural forms picks one by `args.count`. */
export function t(key, args = {}) {
  let entry = messages[current][key] ?? messages.en[key];
  if (entry === undefined) return key;
  if (typeof entry === "object") {
    const form = new Intl.PluralRules(current).select(Number(args.count ?? 0));
    entry = entry[form] ?? entry.other;
  }
  return entry.replace(/\{(\w+)\}/g, (whole, name) => (name in args ? String(args[name]) : whole));
}

const dateFormats = new Map();

/** An RFC 3339 timestamp as a short local date and time in the current language. */
export function formatDate(iso) {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return "";
  const tag = locale();
  let format = dateFormats.get(tag);
  if (!format) {
    format = new Intl.DateTimeFormat(tag, { dateStyle: "medium", timeStyle: "short" });
    dateFormats.set(tag, format);
  }
  return format.format(date);
}

/**
 * Shows a message in `element` and remembers it so that a change of language
 * retranslates it: `{key, args}` for our own strings, `{text}` for text we do
 * not translate (a server's message), `null` to clear.
 */
export function setMessage(element, message) {
  if (message?.key) {
    element.dataset.i18n = message.key;
    if (message.args) element.dataset.i18nArgs = JSON.stringify(message.args);
    else delete element.dataset.i18nArgs;
    element.textContent = t(message.key, message.args);
  } else {
    delete element.dataset.i18n;
    delete element.dataset.i18nArgs;
    element.textContent = message?.text ?? "";
  }
}

function argsOf(element) {
  try {
    return element.dataset.i18nArgs ? JSON.parse(element.dataset.i18nArgs) : {};
  } catch {
    return {};
  }
}

/** `data-*` attribute naming a string -> the attribute it fills. */
const ATTRIBUTES = [
  ["data-i18n-placeholder", "placeholder"],
  ["data-i18n-aria-label", "aria-label"],
  ["data-i18n-title", "title"],
];

/** Translates every marked element below `root`, and dates in `<time data-date>`. */
export function applyTranslations(root = document) {
  for (const element of root.querySelectorAll("[data-i18n]")) {
    element.textContent = t(element.dataset.i18n, argsOf(element));
  }
  for (const [source, attribute] of ATTRIBUTES) {
    for (const element of root.querySelectorAll(`[${source}]`)) {
      element.setAttribute(attribute, t(element.getAttribute(source)));
    }
  }
  for (const time of root.querySelectorAll("time[data-date]")) {
    time.textContent = formatDate(time.dateTime);
  }
}

/** Switches the language and retranslates the page. Only a choice the user
 * made is remembered (`remember`): until then, the browser's languages rule. */
export function setLanguage(next, { remember = true } = {}) {
  if (!languages.includes(next)) return;
  current = next;
  if (remember) {
    try {
      localStorage.setItem(STORAGE_KEY, next);
    } catch {
      // Not remembered; the choice still holds for this visit.
    }
  }
  document.documentElement.lang = next;
  applyTranslations(document);
  for (const listener of listeners) listener(next);
}

/** Calls `listener(language)` after every switch of language. */
export function onLanguageChange(listener) {
  listeners.add(listener);
}

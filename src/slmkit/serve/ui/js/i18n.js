// Korean and English strings; the language comes from the browser and can be switched.
const STRINGS = {
  en: {
    skip: "Skip to content", nav: "Pages", chat: "Chat", models: "Models", documents: "Documents",
    operations: "Operations", apps: "Apps", language: "Language", apiKey: "API key",
    newChat: "New chat", conversations: "Conversations", message: "Message", send: "Send",
    stop: "Stop", settings: "Settings", model: "Model", system: "System prompt",
    temperature: "Temperature", maxTokens: "Max tokens", jsonMode: "JSON mode",
    schema: "JSON schema (optional)", promptPh: "Ask something… (Enter sends, Shift+Enter: new line)",
    stored: "In the store", pull: "Pull", pullName: "Catalog name", catalog: "Catalog",
    upload: "Add files", collection: "Collection", files: "Files", folder: "Or a folder",
    uploadBtn: "Upload and index", ask: "Ask a collection", question: "Question", askBtn: "Ask",
    loadedModels: "Loaded models", keyHelp: "This server needs an API key. It is kept in this tab only.",
    save: "Save", cancel: "Cancel", close: "Close", rename: "Rename", delete: "Delete",
    exportMd: "Markdown", exportJson: "JSON", copy: "Copy", copied: "Copied",
    renamePrompt: "New title", confirmDelete: "Delete this conversation?",
    stopped: "stopped", tokensPerSecond: "tokens/s", ttft: "first token",
    name: "Name", size: "Size", quant: "Quant", params: "Parameters", parent: "Made from",
    loaded: "Loaded", fits: "Fits", yes: "yes", no: "no", memory: "Memory", actions: "Actions",
    confirmModelDelete: "Delete model {name} from the store?", noModels: "No models in the store yet.",
    documentsCol: "Documents", chunks: "Chunks", drop: "Drop",
    confirmDrop: "Drop collection {name}? Its index is deleted.", noCollections: "No collections yet.",
    running: "running", done: "done", failed: "failed", waiting: "waiting",
    notText: "not a text file", tooLarge: "too large for one upload",
    sources: "Sources", noPassages: "No passages found.",
    tps: "Tokens/s", queue: "Queue depth", busy: "Busy slots", ttftP50: "TTFT p50 (s)",
    ttftP95: "TTFT p95 (s)", latP95: "Request latency p95 (s)", requests: "Requests",
    routing: "Routing", guard: "Guard audit", keyNeeded: "An API key is needed: use the API key button.",
    badSchema: "The JSON schema is not valid JSON", chooseModel: "Choose a model first",
    jsonInvalid: "The answer is not valid JSON",
    noRouting: "No routed requests in the last 24 hours (start with --route to route).",
    what: "What", value: "Value", routes: "Routes", reasons: "Reasons",
    escalated: "Escalated", remoteCost: "Remote cost", savings: "Saved vs all-remote",
    overhead: "Router overhead p50 / p95", maskedValues: "Values masked before leaving",
    keptLocal: "Kept local by the guard", blocked: "Blocked by the guard",
    app: "App", payload: "Input (JSON object)", run: "Run", progress: "Progress",
    badPayload: "The input must be a JSON object", load: "Load", unload: "Unload",
    pinned: "{name} was named when the server started: it stays loaded",
    speed: "Decode speed", measure: "Measure", measuring: "Measuring…", byBench: "by slm bench",
    byMeasure: "measured here", recentSpeed: "{tps} tokens/s over the last {n} answer(s),",
    notMeasured: "not measured yet", lineage: "Lineage",
    orFiles: "or choose files", orLogFile: "or choose a log file", orCodeFile: "or choose a file", serverDefault: "the server's default",
    fieldNeeded: "Fill in: {name}", summary: "Summary", keyFacts: "Key facts and their source",
    fact: "Fact", evidence: "Evidence", line: "Line", actionItems: "Action items", task: "Task",
    owner: "Owner", due: "Due", flags: "Check these", kind: "Kind", text: "Text", note: "Note",
    fields: "Fields", field: "Field", status: "Status", found: "found", notFound: "not found",
    risks: "Risks", why: "Why", clause: "Clause", documentWithEvidence: "The document with the evidence highlighted",
    templatesSeen: "{n} template(s) in this stream so far.", events: "Events", level: "Level",
    template: "Template", eventsChecked: "{n} event(s) checked, {a} anomal(ies).", byType: "By type",
    count: "Count", anomalies: "Anomalies", score: "Score", content: "Content",
    noAnomalies: "No anomalies.", modelCalls: "{e} event(s); {n} model call(s), {c} answered from the cache.",
    explanation: "Explanation", unreadable: "Documents that could not be read", document: "Document",
    error: "Error", hint: "What to do", rawJson: "Raw JSON",
  },
  ko: {
    skip: "본문으로 건너뛰기", nav: "페이지", chat: "채팅", models: "모델", documents: "문서",
    operations: "운영", apps: "앱", language: "언어", apiKey: "API 키",
    newChat: "새 대화", conversations: "대화 목록", message: "메시지", send: "보내기",
    stop: "중지", settings: "설정", model: "모델", system: "시스템 프롬프트",
    temperature: "온도", maxTokens: "최대 토큰 수", jsonMode: "JSON 모드",
    schema: "JSON 스키마 (선택)", promptPh: "무엇이든 물어보세요… (Enter: 보내기, Shift+Enter: 줄바꿈)",
    stored: "저장된 모델", pull: "받기", pullName: "카탈로그 이름", catalog: "카탈로그",
    upload: "파일 추가", collection: "컬렉션", files: "파일", folder: "또는 폴더",
    uploadBtn: "올리고 색인하기", ask: "컬렉션에 질문", question: "질문", askBtn: "질문하기",
    loadedModels: "불러온 모델", keyHelp: "이 서버는 API 키가 필요합니다. 키는 이 탭에만 보관됩니다.",
    save: "저장", cancel: "취소", close: "닫기", rename: "이름 바꾸기", delete: "삭제",
    exportMd: "마크다운", exportJson: "JSON", copy: "복사", copied: "복사됨",
    renamePrompt: "새 제목", confirmDelete: "이 대화를 삭제할까요?",
    stopped: "중지됨", tokensPerSecond: "토큰/초", ttft: "첫 토큰",
    name: "이름", size: "크기", quant: "양자화", params: "매개변수", parent: "원본",
    loaded: "불러옴", fits: "적합", yes: "예", no: "아니요", memory: "메모리", actions: "작업",
    confirmModelDelete: "{name} 모델을 저장소에서 삭제할까요?", noModels: "저장된 모델이 없습니다.",
    documentsCol: "문서", chunks: "청크", drop: "삭제",
    confirmDrop: "{name} 컬렉션을 삭제할까요? 색인이 지워집니다.", noCollections: "컬렉션이 없습니다.",
    running: "진행 중", done: "완료", failed: "실패", waiting: "대기",
    notText: "텍스트 파일이 아닙니다", tooLarge: "한 번에 올리기에 너무 큽니다",
    sources: "출처", noPassages: "찾은 구절이 없습니다.",
    tps: "토큰/초", queue: "대기열 길이", busy: "사용 중인 슬롯", ttftP50: "첫 토큰 p50 (초)",
    ttftP95: "첫 토큰 p95 (초)", latP95: "요청 지연 p95 (초)", requests: "요청 수",
    routing: "라우팅", guard: "가드 감사", keyNeeded: "API 키가 필요합니다: API 키 버튼을 누르세요.",
    badSchema: "JSON 스키마가 올바른 JSON이 아닙니다", chooseModel: "먼저 모델을 고르세요",
    jsonInvalid: "답변이 올바른 JSON이 아닙니다",
    noRouting: "지난 24시간 동안 라우팅된 요청이 없습니다 (--route 로 시작하세요).",
    what: "항목", value: "값", routes: "경로", reasons: "이유",
    escalated: "원격 전환 비율", remoteCost: "원격 비용", savings: "전부 원격 대비 절감",
    overhead: "라우터 오버헤드 p50 / p95", maskedValues: "외부 전송 전 가린 값",
    keptLocal: "가드가 로컬에 유지", blocked: "가드가 차단",
    app: "앱", payload: "입력 (JSON 객체)", run: "실행", progress: "진행",
    badPayload: "입력은 JSON 객체여야 합니다", load: "불러오기", unload: "내리기",
    pinned: "{name} 은(는) 서버 시작 때 지정되어 계속 불러온 상태로 남습니다",
    speed: "디코딩 속도", measure: "측정", measuring: "측정 중…", byBench: "slm bench 측정",
    byMeasure: "이 서버에서 측정", recentSpeed: "최근 답변 {n}개 기준 {tps} 토큰/초,",
    notMeasured: "아직 측정하지 않음", lineage: "계보",
    orFiles: "또는 파일 선택", orLogFile: "또는 로그 파일 선택", orCodeFile: "또는 파일 선택", serverDefault: "서버 기본값",
    fieldNeeded: "입력하세요: {name}", summary: "요약", keyFacts: "핵심 사실과 근거",
    fact: "사실", evidence: "근거", line: "줄", actionItems: "할 일", task: "할 일",
    owner: "담당", due: "기한", flags: "확인 필요", kind: "종류", text: "내용", note: "메모",
    fields: "항목", field: "항목", status: "상태", found: "찾음", notFound: "못 찾음",
    risks: "위험", why: "이유", clause: "조항", documentWithEvidence: "근거가 강조된 문서",
    templatesSeen: "이 스트림의 템플릿 {n}개.", events: "이벤트", level: "수준",
    template: "템플릿", eventsChecked: "이벤트 {n}개 검사, 이상 {a}개.", byType: "종류별",
    count: "개수", anomalies: "이상", score: "점수", content: "내용",
    noAnomalies: "이상이 없습니다.", modelCalls: "이벤트 {e}개, 모델 호출 {n}번, 캐시 응답 {c}번.",
    explanation: "설명", unreadable: "읽을 수 없는 문서", document: "문서",
    error: "오류", hint: "해결 방법", rawJson: "원본 JSON",
  },
};

let lang = pick();

function pick() {
  const saved = localStorage.getItem("slm-lang");
  if (saved && STRINGS[saved]) return saved;
  return (navigator.language || "en").toLowerCase().startsWith("ko") ? "ko" : "en";
}

/** The string for key in the current language, with {name} filled from vars. */
export function t(key, vars = {}) {
  const text = STRINGS[lang][key] ?? STRINGS.en[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, k) => String(vars[k] ?? ""));
}

export function currentLang() { return lang; }

const listeners = [];
export function onLanguage(fn) { listeners.push(fn); }

/** Switch language (remembered) and re-label the static page. */
export function setLang(next) {
  lang = STRINGS[next] ? next : "en";
  localStorage.setItem("slm-lang", lang);
  applyStatic();
  listeners.forEach((fn) => fn());
}

export function applyStatic() {
  document.documentElement.lang = lang;
  for (const node of document.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
  for (const node of document.querySelectorAll("[data-i18n-ph]")) node.placeholder = t(node.dataset.i18nPh);
  for (const node of document.querySelectorAll("[data-i18n-label]")) node.setAttribute("aria-label", t(node.dataset.i18nLabel));
}

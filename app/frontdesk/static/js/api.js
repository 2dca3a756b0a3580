// JSON calls to the service; every failure is thrown as {code, message, details}.

export class ApiError extends Error {
  constructor(code, message, details = {}, status = 0) {
    super(message);
    Object.assign(this, { code, details, status });
  }
}

export async function call(method, path, { body, token, query, headers: extra } = {}) {
  const headers = { Accept: "application/json", ...extra };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (token) headers.Authorization = `Bearer ${token}`;
  const url = query ? `${path}?${new URLSearchParams(query)}` : path;
  let response;
  try {
    response = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (error) {
    throw new ApiError("NETWORK", String(error));
  }
  const document = await response.json().catch(() => null);
  if (response.ok && document) return document;
  const error = document?.error ?? { code: "BAD_RESPONSE", message: `HTTP ${response.status}` };
  throw new ApiError(error.code, error.message, error.details ?? {}, response.status);
}

// The reader station refuses a state-changing call without the token the service put in this page
// (a page of another site cannot read it); sending it on every call is simplest.
const stationToken = document.querySelector('meta[name="station-token"]')?.content ?? "";

export const station = (path, options) =>
  call(options?.body ? "POST" : "GET", `/frontdesk/api${path}`, {
    ...options,
    headers: { "X-Station-Token": stationToken },
  });

// Every record of a paged endpoint (newest first), at most `limit`.
export async function allRecords(path, options = {}, limit = 1000) {
  const items = [];
  for (let page = 1; items.length < limit; page += 1) {
    const answer = await call("GET", path, { ...options, query: { page, page_size: 200 } });
    items.push(...answer.items);
    if (items.length >= answer.total || answer.items.length === 0) break;
  }
  return items;
}

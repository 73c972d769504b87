// The serve API as the dashboard reads it: JSON routes, the timeline in one shape
// whatever the server's version, and the live connection (server-sent events) with
// what to do when the server refuses it.

const BUCKET_MS = { minute: 60_000, hour: 3_600_000, day: 86_400_000 };
export const bucketMs = (bucket) => BUCKET_MS[bucket];

export const petitionUrl = (id, rest) => `/api/petitions/${encodeURIComponent(id)}${rest}`;

export async function getJSON(url) {
  const response = await fetch(url, { headers: { Accept: "application/json" } });
  if (!response.ok) {
    const error = new Error(`${url} answered ${response.status}`);
    error.status = response.status;
    error.retryAfter = retryAfterSeconds(response.headers.get("Retry-After"));
    throw error;
  }
  return response.json();
}

export const fetchPetitions = () => getJSON("/api/petitions");
export const fetchCounts = (id) => getJSON(petitionUrl(id, "/counts"));

export async function fetchTimeline(id, zoom) {
  const query = `?minutes=${zoom.minutes}&bucket=${zoom.bucket}`;
  return normalizeTimeline(await getJSON(petitionUrl(id, `/timeline${query}`)), zoom.bucket);
}

/**
 * {bucket, points: [{at (ms), signatures, by_region}], rate: {last_minute, last_hour}}
 * from either answer of /timeline: the bucketed one ({bucket, points, rate}), or the
 * first one ({per_minute: [{minute, signatures}]}), whose minutes are summed here into
 * the bucket asked for and whose rates are counted from its minutes.
 */
export function normalizeTimeline(answer, wantedBucket) {
  if (Array.isArray(answer.points)) {
    const points = answer.points.map((p) => ({
      at: Date.parse(p.at),
      signatures: p.signatures,
      by_region: p.by_region || {},
    }));
    return {
      bucket: answer.bucket || wantedBucket,
      points,
      rate: answer.rate || ratesFromMinutes(answer.bucket === "minute" ? points : []),
    };
  }
  const minutes = (answer.per_minute || []).map((p) => ({
    at: Date.parse(p.minute),
    signatures: p.signatures,
    by_region: {},
  }));
  const size = BUCKET_MS[wantedBucket];
  const buckets = new Map();
  for (const point of minutes) {
    const at = Math.floor(point.at / size) * size;
    buckets.set(at, (buckets.get(at) || 0) + point.signatures);
  }
  const points = [...buckets].map(([at, signatures]) => ({ at, signatures, by_region: {} }));
  return { bucket: wantedBucket, points, rate: ratesFromMinutes(minutes) };
}

function ratesFromMinutes(minutes) {
  const now = Date.now();
  const since = (ms) =>
    minutes.filter((p) => p.at + 60_000 > now - ms).reduce((sum, p) => sum + p.signatures, 0);
  return { last_minute: since(60_000), last_hour: since(3_600_000) };
}

/** Seconds from a Retry-After header: a number of seconds or an HTTP date. */
export function retryAfterSeconds(header) {
  if (!header) return null;
  if (/^\d+$/.test(header.trim())) return Number(header);
  const at = Date.parse(header);
  return Number.isNaN(at) ? null : Math.max(1, Math.round((at - Date.now()) / 1000));
}

/**
 * Follows a petition live: `counts` and `timeline` events from the server.
 *
 * EventSource reconnects by itself after a dropped connection, but it gives up for
 * good on any answer other than 200 and never says which: when it has given up, the
 * same URL is asked once with fetch (and dropped at once) to learn whether it was the
 * viewer cap (503 and its Retry-After), and the connection is opened again after that
 * delay. Returns a function that stops following.
 */
export function followLive(id, { onCounts, onTimeline, onState }) {
  const url = petitionUrl(id, "/events");
  let source = null;
  let retryTimer = null;
  let stopped = false;

  function open() {
    if (stopped) return;
    source = new EventSource(url);
    source.addEventListener("open", () => onState({ state: "live" }));
    source.addEventListener("counts", (event) => onCounts(JSON.parse(event.data)));
    source.addEventListener("timeline", (event) => onTimeline(JSON.parse(event.data)));
    source.addEventListener("error", () => {
      if (source.readyState !== EventSource.CLOSED) {
        onState({ state: "reconnecting" });
        return;
      }
      source.close();
      refused();
    });
  }

  async function refused() {
    let status = null;
    let retryAfter = null;
    const abort = new AbortController();
    try {
      const response = await fetch(url, {
        headers: { Accept: "text/event-stream" },
        signal: abort.signal,
      });
      status = response.status;
      retryAfter = retryAfterSeconds(response.headers.get("Retry-After"));
    } catch {
      // the server cannot be reached at all: try again later
    } finally {
      abort.abort(); // only the status was wanted, not a second stream
    }
    if (stopped) return;
    const delay = retryAfter ?? 10;
    onState({ state: status === 503 ? "full" : "offline", status, retryIn: delay });
    retryTimer = setTimeout(open, delay * 1000);
  }

  open();
  return () => {
    stopped = true;
    clearTimeout(retryTimer);
    if (source) source.close();
  };
}

// The D1 REST API (query and raw endpoints) served in front of a real D1 binding,
// so caw-lab's D1 backend can be tested and tried locally against Cloudflare's own
// D1 implementation (workerd, via Miniflare).
const ROUTE = /^\/client\/v4\/accounts\/([^/]+)\/d1\/database\/([^/]+)\/(query|raw)$/;

function reply(body, status = 200) {
  return new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });
}

function failure(status, code, message) {
  return reply({ result: [], success: false, errors: [{ code, message }], messages: [] }, status);
}

function asRaw(result) {
  const rows = result.results ?? [];
  const columns = rows.length ? Object.keys(rows[0]) : [];
  return { columns, rows: rows.map((row) => columns.map((c) => row[c])) };
}

async function run(db, queries) {
  const statements = queries.map((q) => db.prepare(q.sql).bind(...(q.params ?? [])));
  return statements.length === 1 ? [await statements[0].all()] : await db.batch(statements);
}

export default {
  async fetch(request, env) {
    const match = new URL(request.url).pathname.match(ROUTE);
    if (!match || request.method !== "POST") return failure(404, 7000, "No route for that URI");
    if (env.TOKEN && request.headers.get("authorization") !== `Bearer ${env.TOKEN}`) {
      return failure(401, 10000, "Authentication error");
    }
    const db = env[`DB_${match[2]}`];
    if (!db) return failure(404, 7404, `Database not found: ${match[2]}`);
    let body;
    try {
      body = await request.json();
    } catch {
      return failure(400, 7400, "Request body is not JSON");
    }
    const queries = Array.isArray(body.batch) ? body.batch : [body];
    try {
      const results = await run(db, queries);
      const shaped = results.map((r) => ({
        results: match[3] === "raw" ? asRaw(r) : r.results ?? [],
        success: r.success,
        meta: r.meta,
      }));
      return reply({ result: shaped, success: true, errors: [], messages: [] });
    } catch (error) {
      const message = String(error?.cause?.message ?? error?.message ?? error);
      return failure(400, 7500, message);
    }
  },
};

// BoxyHQ's directory sync (the @boxyhq/saml-jackson npm package) behind Node's own HTTP
// server: what a SaaS app embedding it serves at its SCIM route. On its in-memory store, or,
// given a postgresql:// URL, on its `sql` engine (TypeORM over the `pg` driver, the tables
// made by TypeORM's synchronize in the URL's database and search_path).
// Prints "SCIM base URL: ..." and "Bearer token: ..." once listening, like the gateway.
//
//   NODE_PATH=.venv/peers/npm/node_modules node bench/peers/boxyhq.js PORT [POSTGRES_URL]
'use strict';

const http = require('http');
const jackson = require('@boxyhq/saml-jackson');

const port = Number(process.argv[2] || 8090);
const database = process.argv[3];
const base = `http://127.0.0.1:${port}`;
const PAGE_LIMIT = 1000;

async function main() {
  const { directorySyncController: dsync } = await jackson.controllers({
    externalUrl: base,
    samlPath: '/api/oauth/saml',
    scimPath: '/api/scim/v2.0',
    // pageLimit: its store caps every page at 50 unless told otherwise, and a page of 100
    // must hold 100, as on every other server here
    db: database ? { engine: 'sql', type: 'postgres', url: database, pageLimit: PAGE_LIMIT }
      : { engine: 'mem', pageLimit: PAGE_LIMIT },
    noAnalytics: true,
  });
  const { data: directory, error } = await dsync.directories.create({
    name: 'bench', tenant: 'bench', product: 'bench', type: 'azure-scim-v2',
  });
  if (error) throw new Error(JSON.stringify(error));
  const prefix = `/api/scim/v2.0/${directory.id}/`;

  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', async () => {
      const url = new URL(req.url, base);
      // Not SCIM: a group's member count, which BoxyHQ's GET of a group never lists, so
      // that the bench can check the members it added are there.
      const counted = url.pathname.match(/^\/bench\/groups\/([^/]+)\/members$/);
      if (counted) {
        dsync.groups.setTenantAndProduct(directory.tenant, directory.product);
        let members = 0;
        for (;;) {  // in pages: its store caps each at db.pageLimit
          const { data } = await dsync.groups.getGroupMembers({
            groupId: counted[1], pageOffset: members, pageLimit: PAGE_LIMIT });
          members += (data || []).length;
          if (!data || data.length < PAGE_LIMIT) break;
        }
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ members }));
        return;
      }
      if (!url.pathname.startsWith(prefix)) {
        res.writeHead(404).end();
        return;
      }
      const [resourceType, resourceId] = url.pathname.slice(prefix.length).split('/');
      const auth = req.headers.authorization || '';
      const query = {};
      for (const key of ['count', 'startIndex']) {
        if (url.searchParams.has(key)) query[key] = Number(url.searchParams.get(key));
      }
      if (url.searchParams.has('filter')) query.filter = url.searchParams.get('filter');
      let body;
      try {
        body = chunks.length ? JSON.parse(Buffer.concat(chunks).toString()) : undefined;
      } catch (e) {
        res.writeHead(400).end();
        return;
      }
      try {
        const { status, data } = await dsync.requests.handle({
          method: req.method, body, directoryId: directory.id, resourceType,
          resourceId: resourceId || undefined,
          apiSecret: auth.startsWith('Bearer ') ? auth.slice(7) : null, query,
        });
        const out = Buffer.from(JSON.stringify(data));
        res.writeHead(status, { 'content-type': 'application/scim+json',
                                'content-length': out.length });
        res.end(out);
      } catch (e) {
        res.writeHead(500).end(String(e));
      }
    });
  });
  server.keepAliveTimeout = 60000;
  server.listen(port, '127.0.0.1', () => {
    console.log(`SCIM base URL: ${base}${prefix.slice(0, -1)}`);
    console.log(`Bearer token: ${directory.scim.secret}`);
  });
  const stop = () => server.close(() => process.exit(0));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
